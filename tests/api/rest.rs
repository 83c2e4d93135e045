//! The JSON API under `/api/v1`: tokens, every status SPEC names, and that
//! no answer but the two downloads ever carries a stored password or key.

use std::time::Duration;

use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn without_a_usable_token_it_is_401_with_a_bearer_challenge() {
    let (app, _) = app_with_token().await;
    let unknown = format!("wharf_{}", "A".repeat(43));
    for t in [None, Some("not-a-token"), Some(unknown.as_str())] {
        let r = app.api(Method::GET, "/api/v1/secrets", t, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{t:?}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p = json_of(r).await;
        assert_eq!(p["status"], 401);
        assert!(p["title"].is_string() && p["detail"].is_string() && p["type"].is_string());
    }
    // A session cookie is no way in.
    let r = app.get("/api/v1/secrets").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_and_revoked_tokens_stop_working() {
    let (app, good) = app_with_token().await;
    let short = token(&app, "alice", "short", "read", 3);
    assert_eq!(
        app.api(Method::GET, "/api/v1/secrets", Some(&short), None)
            .await
            .status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert_eq!(
        app.api(Method::GET, "/api/v1/secrets", Some(&short), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Alice revokes her token on her tokens page.
    let alice = app.another_browser();
    alice.login("alice", "alices-long-password").await;
    let page = alice.get_html("/account/tokens").await;
    assert!(page.contains("ci-rotate") && page.contains("Read and write"));
    let id: i64 = app
        .db()
        .query_row(
            "SELECT id FROM api_tokens WHERE name = 'ci-rotate'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    let r = alice
        .post(&format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_redirect_to(&r, "/account/tokens");
    assert_eq!(
        app.api(Method::GET, "/api/v1/secrets", Some(&good), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(app.get_html("/admin/audit").await.contains("token revoked"));
}

#[tokio::test]
async fn a_token_acts_with_its_users_role_at_request_time() {
    let (app, t) = app_with_token().await;
    // Demoted: admin endpoints are closed, the catalogue is not.
    let version = version_in(&app.get_html("/admin/users/alice").await);
    let r = app
        .post(
            "/admin/users/alice",
            &[("active", "on"), ("version", &version)],
        )
        .await;
    assert_redirect_to(&r, "/admin/users");
    let r = app
        .api(Method::GET, "/api/v1/secrets", Some(&t), None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.api(Method::GET, "/api/v1/catalogue", Some(&t), None)
            .await
            .status(),
        StatusCode::OK
    );
    // Disabled: nothing.
    let version = version_in(&app.get_html("/admin/users/alice").await);
    app.post("/admin/users/alice", &[("version", &version)])
        .await;
    assert_eq!(
        app.api(Method::GET, "/api/v1/catalogue", Some(&t), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Deleted: its tokens go with it.
    app.post("/admin/users/alice/delete", &[]).await;
    let left: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM api_tokens", (), |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn read_tokens_and_users_who_are_not_admins_get_403() {
    let (app, _) = app_with_token().await;
    let read = token(&app, "alice", "dashboard", "read", 3600);
    assert_eq!(
        app.api(Method::GET, "/api/v1/secrets/gitlab", Some(&read), None)
            .await
            .status(),
        StatusCode::OK
    );
    let before = app.digest();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/secrets",
            Some(json!({"name": "x", "type": "git_sync", "secret": SSH_KEY})),
        ),
        (
            Method::PATCH,
            "/api/v1/secrets/gitlab",
            Some(json!({"display_name": "X"})),
        ),
        (Method::DELETE, "/api/v1/secrets/gitlab", None),
        (
            Method::POST,
            "/api/v1/images",
            Some(json!({"name": "x", "url": "x/y:1"})),
        ),
    ] {
        let r = app.api(method.clone(), path, Some(&read), body).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert_eq!(app.digest(), before);
    app.add_user("dev", "devs-long-password", false);
    let dev = token(&app, "dev", "laptop", "write", 3600);
    for path in [
        "/api/v1/secrets",
        "/api/v1/images",
        "/api/v1/audit",
        "/api/v1/secrets/gitlab/manifest",
    ] {
        let r = app.api(Method::GET, path, Some(&dev), None).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        app.api(Method::GET, "/api/v1/catalogue", Some(&dev), None)
            .await
            .status(),
        StatusCode::OK
    );
}

/// Every API resource and method, read from the router's own definition
/// (`api::configure`'s `resource(path, allowed methods)`), so a new route is
/// covered without anyone listing it.
fn api_routes() -> Vec<(Method, String)> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api/mod.rs"),
    )
    .unwrap();
    let resource = regex_lite::Regex::new(r#"resource\("([^"]+)",\s*"([^"]+)"\)"#).unwrap();
    let mut out = Vec::new();
    for r in resource.captures_iter(&text) {
        for m in r[2].split(',') {
            out.push((
                Method::from_bytes(m.trim().as_bytes()).unwrap(),
                format!("/api/v1{}", &r[1]),
            ));
        }
    }
    out
}

/// A person who is no administrator gets 403 on every API route but the
/// public document and their own catalogue, whatever their token may do;
/// an administrator's read-only token gets 403 on every write. Nothing
/// changes.
#[tokio::test]
async fn every_api_route_proves_who_may_use_it() {
    let (app, _) = app_with_token().await;
    app.add_user("dev", "devs-long-password", false);
    let dev = token(&app, "dev", "laptop", "write", 3600);
    let read = token(&app, "alice", "dashboard", "read", 3600);
    let routes = api_routes();
    assert!(routes.len() >= 25, "{routes:?}");
    let before = app.digest();
    for (method, path) in &routes {
        if path.ends_with("/openapi.json") || path.ends_with("/catalogue") {
            continue;
        }
        let path = path.replace("{name}", "gitlab");
        let body = (*method != Method::GET && *method != Method::DELETE).then(|| json!({}));
        let r = app
            .api(method.clone(), &path, Some(&dev), body.clone())
            .await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "a member: {method} {path}"
        );
        if *method != Method::GET {
            let r = app.api(method.clone(), &path, Some(&read), body).await;
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "read only: {method} {path}"
            );
        }
    }
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn failed_token_guesses_are_throttled_per_address_but_valid_tokens_never() {
    let (app, good) = app_with_token().await;
    let mut last = StatusCode::OK;
    for i in 0..31 {
        let guess = format!("wharf_{:0>43}", i);
        last = app
            .api(Method::GET, "/api/v1/catalogue", Some(&guess), None)
            .await
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    let r = app
        .api(
            Method::GET,
            "/api/v1/catalogue",
            Some("wharf_".to_owned() + &"z".repeat(43)).as_deref(),
            None,
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "guesses stay refused"
    );
    assert!(r.headers().contains_key("retry-after"));
    // A valid token from the same address works: 256 random bits are not
    // guessed, and a NAT'd office's bad scripts must not lock it out.
    let r = app
        .api(Method::GET, "/api/v1/catalogue", Some(&good), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Nor do token guesses lock the address's people out of signing in.
    let b = app.another_browser();
    assert_redirect_to(
        &b.login("alice", "alices-long-password").await,
        "/admin/secrets",
    );
}

#[tokio::test]
async fn lists_pages_and_the_audit_log_name_the_token() {
    let (app, t) = app_with_token().await;
    let list = json_of(
        app.api(Method::GET, "/api/v1/secrets?per_page=1", Some(&t), None)
            .await,
    )
    .await;
    assert_eq!(list["page"], 1);
    assert_eq!(list["per_page"], 1);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["name"], "gitlab");
    assert!(
        list["items"][0]["updated_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let audit = json_of(
        app.api(Method::GET, "/api/v1/audit?target=secret/", Some(&t), None)
            .await,
    )
    .await;
    assert_eq!(audit["items"][0]["actor"], "alice (token ci-rotate)");
    assert_eq!(audit["items"][0]["action"], "secret created");
    let tokens = app.get_html("/admin/tokens").await;
    assert!(
        tokens.contains("ci-rotate") && tokens.contains("from 127.0.0.1"),
        "{tokens}"
    );
}

#[tokio::test]
async fn the_token_page_shows_a_new_token_once() {
    let app = spawn_app().await;
    app.login_admin().await;
    let r = app
        .post(
            "/account/tokens",
            &[
                ("name", "ci"),
                ("scope", "write"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    // Post, redirect, get: the token is on the page the answer leads to,
    // never in its address.
    assert_redirect_to(&r, "/account/tokens");
    let page = app.get_html("/account/tokens").await;
    assert!(page.contains("Copy this token now; it will not be shown again."));
    let start = page.find("wharf_").unwrap();
    let text = &page[start..start + 49];
    assert!(wharf::auth::tokens::well_formed(text), "{text}");
    // Only its hash is kept, and the page (refreshed) never shows it again,
    // nor an error.
    let again = app.get_html("/account/tokens").await;
    assert!(!again.contains(text) && !again.contains("Copy this token now"));
    assert!(!again.contains("already have a token"));
    let stored: Vec<u8> = app
        .db()
        .query_row("SELECT hash FROM api_tokens", (), |r| r.get(0))
        .unwrap();
    assert_eq!(stored, wharf::auth::tokens::digest(text));
    let r = app
        .api(Method::GET, "/api/v1/secrets", Some(text), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A second token of that name, or a bad choice, is refused.
    let r = app
        .post(
            "/account/tokens",
            &[("name", "ci"), ("scope", "read"), ("expires_in_days", "90")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("You already have a token named ci.")
    );
    let r = app
        .post(
            "/account/tokens",
            &[
                ("name", "other"),
                ("scope", "root"),
                ("expires_in_days", "9"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let doc = json_of(app.get("/api/v1/openapi.json").await).await;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/secrets",
        "/api/v1/secrets/{name}",
        "/api/v1/secrets/{name}/manifest",
        "/api/v1/secrets/{name}/dockerconfig",
        "/api/v1/secrets/{name}/test",
        "/api/v1/images",
        "/api/v1/images/{name}",
        "/api/v1/catalogue",
        "/api/v1/audit",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    let problem = &doc["paths"]["/api/v1/secrets"]["post"]["responses"]["422"]["content"];
    assert!(problem["application/problem+json"].is_object());
}

/// Secrets whose values the fuzzed requests must never see: this password
/// and [`key_line`].
const PASSWORD: &str = "glpat-never-leak-91827";

/// The line of [`SSH_KEY`] between its BEGIN and END lines.
fn key_line() -> &'static str {
    SSH_KEY.lines().nth(1).expect("a key body line")
}

fn request_strategy() -> impl Strategy<Value = (u8, String, String)> {
    let names = prop_oneof![
        Just("gitlab".to_owned()),
        Just("repo-key".to_owned()),
        Just("notebook".to_owned()),
        "[a-z0-9.-]{1,12}",
    ];
    let bodies = prop_oneof![
        Just("{}".to_owned()),
        Just(r#"{"display_name":null}"#.to_owned()),
        Just(r#"{"username":"x:y"}"#.to_owned()),
        "\\PC{0,40}",
    ];
    (0u8..12, names, bodies)
}

#[test]
fn no_api_answer_carries_a_password_or_key_but_the_downloads() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, t) = rt.block_on(async {
        let app = spawn_app().await;
        app.login_admin().await;
        app.add_user("alice", "alices-long-password", true);
        let t = token(&app, "alice", "fuzz", "write", 3600);
        app.create_secret(
            "gitlab",
            "GitLab",
            "registry.gitlab.com",
            "deployer",
            PASSWORD,
        )
        .await;
        app.create_git_sync("repo-key", SSH_KEY).await;
        (app, t)
    });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(&request_strategy(), |(op, name, body)| {
            let (method, path) = match op {
                0 => (Method::GET, "/api/v1/secrets".to_owned()),
                1 => (Method::GET, format!("/api/v1/secrets/{name}")),
                2 => (Method::PATCH, format!("/api/v1/secrets/{name}")),
                3 => (Method::POST, "/api/v1/secrets".to_owned()),
                4 => (Method::DELETE, format!("/api/v1/secrets/{name}-gone")),
                5 => (Method::GET, "/api/v1/images".to_owned()),
                6 => (Method::POST, "/api/v1/images".to_owned()),
                7 => (Method::GET, "/api/v1/catalogue?q=git".to_owned()),
                8 => (Method::GET, "/api/v1/audit".to_owned()),
                9 => (Method::GET, format!("/api/v1/secrets?q={name}")),
                10 => (Method::PATCH, format!("/api/v1/images/{name}")),
                _ => (Method::GET, "/api/v1/openapi.json".to_owned()),
            };
            let text = rt.block_on(async {
                let r = reqwest::Client::new()
                    .request(method, app.url(&path))
                    .bearer_auth(&t)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(!r.status().is_server_error(), "{path} {body}");
                r.text().await.unwrap()
            });
            prop_assert!(!text.contains(PASSWORD), "{} {}", path, text);
            prop_assert!(!text.contains(key_line()), "{} {}", path, text);
            Ok(())
        })
        .unwrap();
    // The downloads do carry them: that is what they are for.
    rt.block_on(async {
        let dc = app
            .api(
                Method::GET,
                "/api/v1/secrets/gitlab/dockerconfig",
                Some(&t),
                None,
            )
            .await;
        if dc.status() == StatusCode::OK {
            assert!(dc.text().await.unwrap().contains(PASSWORD));
        }
    });
}

#[tokio::test]
async fn a_revoked_tokens_name_can_be_used_again() {
    let app = spawn_app().await;
    app.login_admin().await;
    let make = || {
        app.post(
            "/account/tokens",
            &[("name", "ci"), ("scope", "read"), ("expires_in_days", "7")],
        )
    };
    assert_eq!(make().await.status(), StatusCode::SEE_OTHER);
    assert_eq!(make().await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM api_tokens WHERE name = 'ci'", (), |r| {
            r.get(0)
        })
        .unwrap();
    assert_redirect_to(
        &app.post(&format!("/account/tokens/{id}/revoke"), &[]).await,
        "/account/tokens",
    );
    assert_eq!(
        make().await.status(),
        StatusCode::SEE_OTHER,
        "rotated under the same name"
    );
}
