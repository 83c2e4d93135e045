//! A bad-input corpus: every POST form field and every query parameter fed
//! with hostile values, plus wrong methods and odd paths. Nothing may answer
//! 5xx, and a rejected request must leave the data exactly as it was.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

fn corpus() -> Vec<String> {
    vec![
        String::new(),
        " ".into(),
        "\0".into(),
        "a\0b".into(),
        "<script>alert(1)</script>".into(),
        "\"><img src=x onerror=alert(1)>".into(),
        "' OR 1=1 --".into(),
        "'; DROP TABLE secrets; --".into(),
        "../../etc/passwd".into(),
        "..%2f..%2fetc%2fpasswd".into(),
        "%00".into(),
        "\r\n\r\nSet-Cookie: x=y".into(),
        "\u{202e}rtl".into(),
        "😀".repeat(70),
        "x".repeat(10_000),
        "y".repeat(100_000),
        "-1".into(),
        "99999999999999999999999".into(),
        "NaN".into(),
        "on".into(),
    ]
}

/// (path, valid fields) of every POST route whose fields we mutate. Delete
/// routes take no fields and are covered by the path checks.
fn routes() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        (
            "/admin/secrets",
            vec![
                ("name", "fresh"),
                ("display_name", "Fresh"),
                ("type", "image_pull"),
                ("registry_host", "ghcr.io"),
                ("username", "u"),
                ("password", "p"),
                ("secret", SSH_KEY),
            ],
        ),
        (
            "/admin/secrets/gitlab",
            vec![
                ("display_name", "GitLab"),
                ("registry_host", "registry.gitlab.com"),
                ("username", "u"),
                ("password", ""),
                ("version", "1"),
            ],
        ),
        (
            "/admin/secrets/repo",
            vec![("display_name", "Repo"), ("secret", ""), ("version", "1")],
        ),
        (
            "/admin/images",
            vec![
                ("name", "fresh"),
                ("display_name", "Fresh"),
                ("description", "d"),
                ("image_type", "both"),
                ("url", "ubuntu:24.04"),
                ("url_for_gpu", ""),
                ("use_pull_secret", "on"),
                ("pull_secret", "gitlab"),
            ],
        ),
        (
            "/admin/images/nb",
            vec![
                ("display_name", "NB"),
                ("description", ""),
                ("image_type", "cpu"),
                ("url", "ubuntu"),
                ("version", "1"),
            ],
        ),
        (
            "/admin/users",
            vec![
                ("username", "fresh"),
                ("password", "long-enough-pw"),
                ("is_admin", "on"),
                ("active", "on"),
            ],
        ),
        (
            "/admin/users/dev",
            vec![("password", ""), ("active", "on"), ("version", "1")],
        ),
        (
            "/account/password",
            vec![
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "another-long-pw"),
                ("confirm_password", "another-long-pw"),
            ],
        ),
        ("/admin/secrets/gitlab/test", vec![]),
    ]
}

async fn seed(app: &TestApp) {
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "p")
        .await;
    app.create_git_sync("repo", SSH_KEY).await;
    assert_redirect_to(
        &app.post(
            "/admin/images",
            &[("name", "nb"), ("url", "registry.gitlab.com/a/b")],
        )
        .await,
        "/admin/images",
    );
    app.add_user("dev", "long-enough-pw", false);
}

#[tokio::test]
async fn hostile_form_values_never_5xx_and_rejections_change_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    let mut checked = 0;
    for (path, valid) in routes() {
        for (field, _) in &valid {
            for value in corpus() {
                let fields: Vec<(&str, &str)> = valid
                    .iter()
                    .map(|(k, v)| {
                        if k == field {
                            (*k, value.as_str())
                        } else {
                            (*k, *v)
                        }
                    })
                    .collect();
                let before = app.digest();
                let r = app.post(path, &fields).await;
                let status = r.status();
                assert!(
                    !status.is_server_error(),
                    "{path} {field}={value:.40?}: {status}"
                );
                if status != StatusCode::SEE_OTHER {
                    assert_eq!(
                        app.digest(),
                        before,
                        "{path} {field}={value:.40?} was refused ({status}) but changed data"
                    );
                }
                if status == StatusCode::SEE_OTHER && path == "/account/password" {
                    // It worked: put the password back for the next case.
                    let back = app
                        .post(
                            path,
                            &[
                                ("current_password", &value),
                                ("new_password", ADMIN_PASSWORD),
                                ("confirm_password", ADMIN_PASSWORD),
                            ],
                        )
                        .await;
                    assert_eq!(back.status(), StatusCode::SEE_OTHER);
                }
                if status == StatusCode::SEE_OTHER
                    && (path == "/admin/secrets"
                        || path == "/admin/images"
                        || path == "/admin/users")
                {
                    // A create that was fine: remove it so the next one is a create too.
                    let created: String = fields
                        .iter()
                        .find(|(k, _)| *k == "name" || *k == "username")
                        .unwrap()
                        .1
                        .trim()
                        .to_owned();
                    let del = app.post(&format!("{path}/{created}/delete"), &[]).await;
                    assert_eq!(
                        del.status(),
                        StatusCode::SEE_OTHER,
                        "{path}/{created}/delete"
                    );
                }
                checked += 1;
            }
        }
        // Extra fields, duplicated fields and a raw non-form body.
        let token = app.csrf().await;
        for body in [
            format!("csrf_token={token}&name=a&name=b&type=image_pull"),
            format!("csrf_token={token}&%ZZ=1"),
            format!("csrf_token={token}&name=%FF%FE"),
            format!("csrf_token={token}&unknown=1&is_admin=on&id=1"),
            format!("csrf_token={token}&{}", "a=b&".repeat(5000)),
        ] {
            let before = app.digest();
            let r = app
                .client
                .post(app.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert!(
                !r.status().is_server_error(),
                "{path} {body:.60}: {}",
                r.status()
            );
            if r.status() != StatusCode::SEE_OTHER {
                assert_eq!(app.digest(), before, "{path} {body:.60}");
            }
        }
    }
    assert!(checked > 500, "{checked} cases");
}

#[tokio::test]
async fn hostile_query_values_never_5xx() {
    let app = spawn_app().await;
    seed(&app).await;
    let pages = [
        "/admin/secrets?q={v}&sort={v}&dir={v}&page={v}",
        "/admin/images?q={v}&sort={v}&dir={v}&page={v}",
        "/admin/users?q={v}&sort={v}&dir={v}&page={v}",
        "/admin/audit?actor={v}&target={v}&page={v}",
        "/admin/secrets/new?type={v}",
        "/admin/secrets/gitlab/manifest.yaml?namespace={v}",
        "/admin/secrets/gitlab/manifest.json?namespace={v}",
        "/admin/secrets/export.yaml?namespace={v}",
        "/setup?token={v}",
    ];
    let before = app.digest();
    for page in pages {
        for value in corpus().iter().take(15) {
            let encoded: String =
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            let path = page.replace("{v}", &encoded);
            let r = app.get(&path).await;
            assert!(!r.status().is_server_error(), "{path:.80}: {}", r.status());
        }
        let raw = page.replace("{v}", "%FF%00%");
        let r = app.get(&raw).await;
        assert!(!r.status().is_server_error(), "{raw}: {}", r.status());
    }
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn odd_paths_and_wrong_methods_never_5xx() {
    let app = spawn_app().await;
    seed(&app).await;
    let before = app.digest();
    for name in [
        "%FF",
        "a%00b",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        &"n".repeat(5000),
        "%3Cscript%3E",
        "new%2F",
    ] {
        for suffix in [
            "",
            "/delete",
            "/manifest.yaml",
            "/manifest.json",
            "/dockerconfig.json",
        ] {
            for area in ["secrets", "images", "users"] {
                let path = format!("/admin/{area}/{name}{suffix}");
                let r = app.get(&path).await;
                assert!(
                    !r.status().is_server_error(),
                    "GET {path:.80}: {}",
                    r.status()
                );
                let r = app.post(&path, &[]).await;
                assert!(
                    !r.status().is_server_error(),
                    "POST {path:.80}: {}",
                    r.status()
                );
            }
        }
    }
    for method in [
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::HEAD,
    ] {
        for path in [
            "/admin/secrets",
            "/admin/secrets/gitlab",
            "/admin/secrets/gitlab/delete",
            "/login",
            "/healthz",
            "/admin/users/dev",
        ] {
            let r = app
                .client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .unwrap();
            assert!(
                !r.status().is_server_error(),
                "{method} {path}: {}",
                r.status()
            );
        }
    }
    assert_eq!(app.digest(), before);
}
