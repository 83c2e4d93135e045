//! Pages and API lists answered from memory: only while nothing has been
//! committed since what they need was read. Every write here is made on a
//! connection of its own to the database file, as another `wharf` process
//! (or an operator's `sqlite3`) would make it: nothing in the server hears
//! of it, and the very next request must still show it.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

/// `wharf_list_reads_total{from=…}` now.
async fn reads(app: &TestApp, token: &str) -> (i64, i64) {
    let text = app
        .api(Method::GET, "/metrics", Some(token), None)
        .await
        .text()
        .await
        .unwrap();
    let count = |from: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("wharf_list_reads_total{{from=\"{from}\"}} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(-1, |v| v as i64)
    };
    (count("memory"), count("database"))
}

/// The shared world ([`vision_world`]) with a secret, an admin's token,
/// and dana signed in and with a token of her own.
async fn signed_in_world() -> (TestApp, Browser, String, String) {
    let app = vision_world().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "bot", "pw-123")
        .await;
    let admin_token = wharf::cli::token_create(&app.db, ADMIN, "ops", "read", 3600).unwrap();
    let dana_token = wharf::cli::token_create(&app.db, "dana", "laptop", "read", 3600).unwrap();
    let dana = app.another_browser();
    assert_redirect_to(&dana.login("dana", "danas-long-password").await, "/");
    (app, dana, admin_token, dana_token)
}

#[tokio::test]
async fn a_page_read_from_memory_still_shows_a_write_made_outside_the_server_at_once() {
    let (app, dana, admin_token, dana_token) = signed_in_world().await;
    // The token's first use is noted (a commit), before the pages are read.
    reads(&app, &admin_token).await;
    // Warm: the first reads go to the database, the same ones again do
    // not (nothing was committed in between).
    for path in ["/", "/?q=vision", "/admin/images", "/admin/secrets"] {
        let b: &Browser = if path.starts_with("/admin") {
            &app
        } else {
            &dana
        };
        assert_eq!(b.get(path).await.status(), StatusCode::OK, "{path}");
    }
    let before = reads(&app, &admin_token).await;
    assert!(dana.get_html("/").await.contains("vision-gpu"));
    assert!(dana.get_html("/?q=vision").await.contains("vision-gpu"));
    assert!(app.get_html("/admin/images").await.contains("vision-gpu"));
    assert!(app.get_html("/admin/secrets").await.contains("gitlab"));
    let after = reads(&app, &admin_token).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (4, 0),
        "four pages from memory, none from the database: {before:?} → {after:?}"
    );

    // A membership taken away outside: the next catalogue has no
    // vision-gpu, for the page, its search and the API.
    let db = app.db();
    db.execute(
        "DELETE FROM group_members WHERE user_id = (SELECT id FROM users WHERE username = 'dana')",
        (),
    )
    .unwrap();
    assert!(!dana.get_html("/").await.contains("vision-gpu"));
    assert!(!dana.get_html("/?q=vision").await.contains("vision-gpu"));
    let (status, body) = dana
        .api_json(Method::GET, "/api/v1/catalogue", Some(&dana_token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1, "{body}");

    // An image and a secret renamed for display outside: the lists show it.
    db.execute(
        "UPDATE images SET display_name = 'Renamed outside' WHERE name = 'shared-nb'",
        (),
    )
    .unwrap();
    db.execute(
        "UPDATE secrets SET display_name = 'Renamed too' WHERE name = 'gitlab'",
        (),
    )
    .unwrap();
    assert!(
        app.get_html("/admin/images")
            .await
            .contains("Renamed outside")
    );
    assert!(dana.get_html("/").await.contains("Renamed outside"));
    assert!(app.get_html("/admin/secrets").await.contains("Renamed too"));
    let (_, body) = app
        .api_json(Method::GET, "/api/v1/secrets", Some(&admin_token), None)
        .await;
    assert_eq!(body["items"][0]["display_name"], "Renamed too", "{body}");

    // dana's account disabled outside: her session and her token stop.
    for _ in 0..2 {
        assert_eq!(dana.get("/").await.status(), StatusCode::OK);
        let r = dana
            .api(Method::GET, "/api/v1/catalogue", Some(&dana_token), None)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    db.execute("UPDATE users SET active = 0 WHERE username = 'dana'", ())
        .unwrap();
    let r = dana.get("/").await;
    assert_redirect_to(&r, "/login");
    let r = dana
        .api(Method::GET, "/api/v1/catalogue", Some(&dana_token), None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The administrator demoted outside: 403 on the next admin page.
    for _ in 0..2 {
        assert_eq!(app.get("/admin/images").await.status(), StatusCode::OK);
    }
    db.execute(
        &format!("UPDATE users SET is_admin = 0 WHERE username = '{ADMIN}'"),
        (),
    )
    .unwrap();
    assert_eq!(
        app.get("/admin/images").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/admin/secrets").await.status(),
        StatusCode::FORBIDDEN
    );
    let r = app
        .api(Method::GET, "/api/v1/secrets", Some(&admin_token), None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    db.execute(
        &format!("UPDATE users SET is_admin = 1 WHERE username = '{ADMIN}'"),
        (),
    )
    .unwrap();

    // The token revoked outside: 401 at once.
    for _ in 0..2 {
        let r = app
            .api(Method::GET, "/api/v1/secrets", Some(&admin_token), None)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    db.execute(
        "UPDATE api_tokens SET revoked_at = strftime('%s','now') WHERE name = 'ops'",
        (),
    )
    .unwrap();
    let r = app
        .api(Method::GET, "/api/v1/secrets", Some(&admin_token), None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_kept_in_memory_still_expires_on_time() {
    let (app, _dana, admin_token, _) = signed_in_world().await;
    let short = wharf::cli::token_create(&app.db, "dana", "short", "read", 3).unwrap();
    // The admin token's first use is noted now, not in between.
    let (memory_before, _) = reads(&app, &admin_token).await;
    // The first use is noted (a commit); the third is from memory.
    for _ in 0..3 {
        let r = app
            .api(Method::GET, "/api/v1/catalogue", Some(&short), None)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Nothing is committed while it runs out: the token is still kept
    // at the stamp now, and its expiry is what refuses it.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let r = app
        .api(Method::GET, "/api/v1/catalogue", Some(&short), None)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (memory_after, _) = reads(&app, &admin_token).await;
    assert_eq!(
        memory_after - memory_before,
        1,
        "the third request was from memory"
    );
}

/// A token's and a cluster's use is noted once a minute whatever the
/// address: a cluster's nodes (or a CI pool) call from many, and a write
/// per change of address would send every reader back to the database.
#[tokio::test]
async fn a_use_from_another_address_within_the_minute_is_not_written() {
    let mut args = serve_args();
    args.trust_proxy = true;
    let app = spawn_app_with(None, args).await;
    app.login_admin().await;
    let admin = wharf::cli::token_create(&app.db, ADMIN, "ops", "write", 3600).unwrap();
    let (_, c) = app
        .api_json(
            Method::POST,
            "/api/v1/clusters",
            Some(&admin),
            Some(serde_json::json!({"name": "edge"})),
        )
        .await;
    let cluster = c["token"].as_str().unwrap().to_owned();
    let from = |token: &str, path: &str, address: &str| {
        reqwest::Client::new()
            .get(app.url(path))
            .bearer_auth(token)
            .header("x-forwarded-for", address)
            .send()
    };
    for address in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        let r = from(&cluster, "/api/v1/credentials?image=ghcr.io/a/b", address)
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = from(&admin, "/api/v1/secrets", address).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let db = app.db();
    let cluster_from: String = db
        .query_row(
            "SELECT last_seen_from FROM clusters WHERE name = 'edge'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    let token_from: String = db
        .query_row(
            "SELECT last_used_from FROM api_tokens WHERE name = 'ops'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cluster_from, "10.0.0.1");
    // The admin token's first use was the cluster's creation, from loopback.
    assert_eq!(token_from, "127.0.0.1");
}
