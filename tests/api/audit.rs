//! The audit log: what is recorded, and its pages.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn the_audit_log_traces_a_secret_lifecycle_without_its_value() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.login(ADMIN, "wrong-password").await;
    app.login(ADMIN, ADMIN_PASSWORD).await;
    const SECRET: &str = "glpat-very-secret-token";
    app.create_secret(
        "gitlab",
        "GitLab",
        "registry.gitlab.com",
        "deployer",
        SECRET,
    )
    .await;
    app.post(
        "/admin/secrets/gitlab",
        &[
            ("registry_host", "registry.gitlab.com"),
            ("username", "deployer"),
            ("password", "glpat-rotated-token"),
            ("version", "1"),
        ],
    )
    .await;
    app.get("/admin/secrets/gitlab/manifest.yaml").await;
    app.post(
        "/admin/images",
        &[("name", "nb"), ("url", "registry.gitlab.com/a/b")],
    )
    .await;
    app.post("/admin/images/nb/delete", &[]).await;
    app.post("/admin/secrets/gitlab/delete", &[]).await;

    let page = app.get_html("/admin/audit?target=secret/gitlab").await;
    let order: Vec<usize> = [
        "secret deleted",
        "secret exported",
        "secret updated",
        "secret created",
    ]
    .iter()
    .map(|a| page.find(a).unwrap_or_else(|| panic!("{a} in the log")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "newest first");
    assert!(!page.contains("image created"), "filtered by target");
    let by_actor = app.get_html("/admin/audit?actor=admin").await;
    assert!(
        by_actor.contains("sign-in failed")
            && by_actor.contains("image created")
            && by_actor.contains("127.0.0.1")
    );
    assert!(
        app.get_html("/admin/audit?actor=nobody")
            .await
            .contains("No entries match")
    );

    let mut all = String::new();
    let c = app.db();
    let rows = c
        .query_map(
            "SELECT at, actor, action, target, source, '' FROM audit_log",
            (),
            |r| {
                Ok(format!(
                    "{:?}{}{}{}{}{}",
                    r.get::<usize, i64>(0)?,
                    r.get::<usize, String>(1)?,
                    r.get::<usize, String>(2)?,
                    r.get::<usize, String>(3)?,
                    r.get::<usize, String>(4)?,
                    r.get::<usize, String>(5)?
                ))
            },
        )
        .unwrap();
    for row in rows {
        all.push_str(&row.unwrap());
    }
    for needle in [
        SECRET,
        "glpat-rotated-token",
        ADMIN_PASSWORD,
        "wrong-password",
    ] {
        assert!(!all.contains(needle), "{needle} in the audit log");
    }
}

#[tokio::test]
async fn audit_pages_go_back_in_time() {
    let app = spawn_app().await;
    app.login_admin().await;
    {
        let c = app.db();
        for i in 0..120 {
            c.execute(
                "INSERT INTO audit_log (at, actor, action, target, source)
                 VALUES (?1, 'bot', 'secret updated', ?2, 'test')",
                (wharf::db::now(), format!("secret/s{i:03}")),
            )
            .unwrap();
        }
    }
    let first = app.get_html("/admin/audit?actor=bot").await;
    assert!(
        first.contains("secret/s119") && !first.contains("secret/s069") && first.contains("Older")
    );
    let third = app.get_html("/admin/audit?actor=bot&page=3").await;
    assert!(third.contains("secret/s000") && !third.contains("Older ›"));
    assert_eq!(
        app.get("/admin/audit?page=banana").await.status(),
        StatusCode::OK
    );
}

/// Issue 35, item 9: an update's entry names the fields it changed by
/// their labels (never a value), and a failed Test login's entry says why,
/// as the secret's page does.
#[tokio::test]
async fn an_update_names_what_changed_and_a_failed_test_says_why() {
    let app = spawn_app().await;
    app.login_admin().await;
    // Nothing listens there: Test login fails without leaving loopback.
    let host = format!("127.0.0.1:{}", free_port());
    let registry = format!("http://{host}");
    app.create_secret("team", "Team", &registry, "deployer", "first-pass")
        .await;
    let edit = |version: &'static str, fields: &[(&'static str, &str)]| {
        let mut form: Vec<(&str, String)> = vec![
            ("registry_host", registry.clone()),
            ("username", "deployer".into()),
            ("version", version.into()),
        ];
        form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        form
    };
    for form in [
        edit(
            "1",
            &[
                ("display_name", "Team registry"),
                ("password", "second-pass"),
            ],
        ),
        edit("2", &[("display_name", "Team registry")]),
        edit(
            "3",
            &[
                ("display_name", "Team registry"),
                ("deliver", "on"),
                ("node_patterns", &host),
            ],
        ),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.post("/admin/secrets/team", &form).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let r = app.post("/admin/secrets/team/test", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let log = app.get_html("/admin/audit?target=secret/team").await;
    for entry in [
        "secret updated (Display Name, Password)",
        "secret updated (nothing changed)",
        "secret updated (Deliver to clusters, Node image patterns)",
    ] {
        assert!(log.contains(entry), "{entry}: {log}");
    }
    let failed = log
        .split("secret test-login failed (")
        .nth(1)
        .and_then(|rest| rest.split(")<").next())
        .unwrap_or_else(|| panic!("a failed test with its reason: {log}"));
    assert!(!failed.trim().is_empty(), "{log}");
    let secret = app.get_html("/admin/secrets/team").await;
    assert!(
        secret.contains(failed.split(" (").next().unwrap()),
        "the page's reason: {failed} / {secret}"
    );
    assert!(!log.contains("first-pass") && !log.contains("second-pass"));
}
