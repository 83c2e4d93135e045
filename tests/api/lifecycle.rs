//! The life of a credential: expiry dates, their badges and filters.

use reqwest::StatusCode;

use crate::helpers::*;

fn day(offset: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(offset)).to_string()
}

async fn secret_expiring(app: &TestApp, name: &str, expires_on: &str) {
    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", name),
                ("type", "image_pull"),
                ("registry_host", "registry.gitlab.com"),
                ("username", "deployer"),
                ("password", "glpat-x"),
                ("expires_on", expires_on),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
}

/// Names of the secrets on a list page, in order.
fn names(page: &str) -> Vec<String> {
    page.match_indices(r#"<td><a href="/admin/secrets/"#)
        .map(|(i, m)| {
            let rest = &page[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn expiry_dates_get_badges_a_summary_and_filters() {
    let app = spawn_app().await;
    app.login_admin().await;
    secret_expiring(&app, "gone", &day(-3)).await;
    secret_expiring(&app, "today", &day(0)).await;
    secret_expiring(&app, "soon", &day(7)).await;
    secret_expiring(&app, "tomorrow", &day(1)).await;
    secret_expiring(&app, "later", &day(40)).await;
    secret_expiring(&app, "never", "").await;
    app.db()
        .execute(
            "UPDATE secrets SET last_test_at = 1, last_test_ok = 0, last_test_message = 'no' WHERE name = 'later'",
            [],
        )
        .unwrap();

    let list = app.get_html("/admin/secrets").await;
    assert!(
        list.contains("2 expiring") && list.contains("2 expired") && list.contains("1 failing"),
        "{list}"
    );
    assert!(list.contains("in 7 days") && list.contains("in 1 day<") && list.contains(">expired<"));
    assert!(list.contains(&day(40)));
    assert_eq!(
        names(&app.get_html("/admin/secrets?filter=expiring").await),
        ["soon", "tomorrow"]
    );
    assert_eq!(
        names(&app.get_html("/admin/secrets?filter=expired").await),
        ["gone", "today"]
    );
    assert_eq!(
        names(&app.get_html("/admin/secrets?filter=failing").await),
        ["later"]
    );
    assert_eq!(
        names(&app.get_html("/admin/secrets?filter=nonsense").await).len(),
        6
    );
    let by_expiry = names(&app.get_html("/admin/secrets?sort=expires").await);
    assert_eq!(
        by_expiry,
        ["gone", "today", "tomorrow", "soon", "later", "never"]
    );
}

#[tokio::test]
async fn an_expiry_date_is_checked_and_blank_clears_it() {
    let app = spawn_app().await;
    app.login_admin().await;
    let before = app.digest();
    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", "bad-date"),
                ("type", "git_sync"),
                ("secret", SSH_KEY),
                ("expires_on", "31/12/2026"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("Expires must be a date like 2026-12-31."));
    assert!(page.contains(r#"value="31/12/2026""#), "the value is kept");
    assert_eq!(app.digest(), before);

    secret_expiring(&app, "gitlab", "2030-01-31").await;
    let form = app.get_html("/admin/secrets/gitlab").await;
    assert!(form.contains(r#"type="date" value="2030-01-31""#));
    let r = app
        .post(
            "/admin/secrets/gitlab",
            &[
                ("registry_host", "registry.gitlab.com"),
                ("username", "deployer"),
                ("expires_on", ""),
                ("version", &version_in(&form)),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
    let stored: Option<String> = app
        .db()
        .query_row(
            "SELECT expires_on FROM secrets WHERE name = 'gitlab'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, None);
}

#[tokio::test]
async fn the_api_reads_and_writes_expiry_dates() {
    let app = spawn_app().await;
    app.login_admin().await;
    let t = wharf::cli::token_create(app.dir.path(), ADMIN, "ci", "write", 3600).unwrap();
    let send = |method: reqwest::Method, path: &str, body: &str| {
        let (url, t, body) = (app.url(path), t.clone(), body.to_owned());
        async move {
            let r = reqwest::Client::new()
                .request(method, url)
                .bearer_auth(t)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            (status, v)
        }
    };
    let (s, v) = send(
        reqwest::Method::POST,
        "/api/v1/secrets",
        r#"{"name":"k","type":"git_sync","secret":"-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n","expires_on":"2031-05-01"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["expires_on"], "2031-05-01");
    let (s, v) = send(
        reqwest::Method::PATCH,
        "/api/v1/secrets/k",
        r#"{"expires_on":"soon"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["errors"]["expires_on"][0],
        "Expires must be a date like 2026-12-31."
    );
    let (s, v) = send(
        reqwest::Method::PATCH,
        "/api/v1/secrets/k",
        r#"{"expires_on":null}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["expires_on"], serde_json::Value::Null);
}
