//! The life of a credential: expiry dates, their badges and filters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

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
            (),
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
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, None);
}

/// A webhook receiver on loopback: answers with `statuses` in turn (then
/// 200) and keeps every body it got.
fn receiver(statuses: Vec<u16>) -> (u16, Arc<Mutex<Vec<serde_json::Value>>>) {
    use actix_web::{App, HttpResponse, web};
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen = got.clone();
    let port = crate::loopback_server!({
        let (seen, statuses) = (seen.clone(), statuses.clone());
        App::new().route(
            "/hook",
            web::post().to(move |body: web::Bytes| {
                let (seen, statuses) = (seen.clone(), statuses.clone());
                async move {
                    let mut seen = seen.lock().unwrap();
                    seen.push(serde_json::from_slice(&body).unwrap_or_default());
                    let status = statuses.get(seen.len() - 1).copied().unwrap_or(200);
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                }
            }),
        )
    });
    (port, got)
}

fn events(got: &Arc<Mutex<Vec<serde_json::Value>>>, event: &str) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|b| b["event"] == event)
        .count()
}

async fn eventually(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what} did not happen within {secs} s");
}

#[tokio::test]
async fn scheduled_checks_notice_a_broken_login_and_its_recovery_once() {
    let registry = start_registry("alice", "s3cret-pass-1").await;
    let port = registry.port;
    let (hook, got) = receiver(Vec::new());
    let hook_url = format!("http://127.0.0.1:{hook}/hook");
    let dir = tempfile::tempdir().unwrap();
    add_user(&sqlite(dir.path()), "ops", "ops-long-password", true);
    let token = wharf::cli::token_create(&sqlite(dir.path()), "ops", "ci", "write", 3600).unwrap();
    let flags = [
        "--check-every",
        "2s",
        "--notify-url",
        hook_url.as_str(),
        "--public-url",
        "https://wharf.example.com",
    ];
    let (first, base) = start_wharf(dir.path(), &flags).await;
    let (_, created) = api_json_at(
        &base,
        Method::POST,
        "/api/v1/secrets",
        Some(&token),
        Some(
            json!({"name": "team-registry", "display_name": "Team registry",
            "type": "image_pull", "registry_host": format!("http://127.0.0.1:{port}"),
            "username": "alice", "password": "s3cret-pass-1"}),
        ),
    )
    .await;
    assert_eq!(created["name"], "team-registry");

    // The schedule logs in by itself.
    let mut ok = false;
    for _ in 0..100 {
        let (_, s) = api_json_at(
            &base,
            Method::GET,
            "/api/v1/secrets/team-registry",
            Some(&token),
            None,
        )
        .await;
        if s["last_test"]["ok"] == true {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "the first scheduled check logged in");

    // The registry's password changes: the next check fails, a hook says so.
    drop(registry);
    let registry = start_registry_on(port, "alice", "changed-pass-2").await;
    eventually("a login_failing notification", 30, || {
        events(&got, "login_failing") == 1
    })
    .await;
    let body = got
        .lock()
        .unwrap()
        .iter()
        .find(|b| b["event"] == "login_failing")
        .cloned()
        .unwrap();
    assert_eq!(body["secret"], "team-registry");
    assert_eq!(body["display_name"], "Team registry");
    assert_eq!(
        body["url"],
        "https://wharf.example.com/admin/secrets/team-registry"
    );
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("Registry login for secret Team registry")
    );
    assert!(
        !body.to_string().contains("s3cret-pass-1") && !body.to_string().contains("changed-pass-2")
    );

    // A restart neither re-sends it nor re-checks what is fresh.
    drop(first);
    let (_second, base) = start_wharf(dir.path(), &flags).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(events(&got, "login_failing"), 1, "nothing is sent twice");

    // The list's failing filter shows it.
    let browser = Browser::with_client(&base, client());
    browser.login("ops", "ops-long-password").await;
    let failing = browser.get_html("/admin/secrets?filter=failing").await;
    assert!(
        failing.contains("team-registry") && failing.contains("1 failing"),
        "{failing}"
    );

    // The password is back: recovered, once.
    drop(registry);
    let _registry = start_registry_on(port, "alice", "s3cret-pass-1").await;
    eventually("a login_recovered notification", 30, || {
        events(&got, "login_recovered") == 1
    })
    .await;
    assert_eq!(events(&got, "login_failing"), 1);
    let (_, audit) = api_json_at(
        &base,
        Method::GET,
        "/api/v1/audit?actor=wharf",
        Some(&token),
        None,
    )
    .await;
    let actions: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    // The failure's entry says why, as the secret's page does.
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("secret login started failing (") && a.len() > 32),
        "{actions:?}"
    );
    assert!(actions.contains(&"secret login recovered".into()));
    assert!(actions.iter().any(|a| a == "notification delivered"));
}

fn notifying_app_args(hook: u16) -> wharf::cli::args::ServeArgs {
    let mut args = serve_args();
    args.check_every = wharf::options::Every(Some(1));
    args.notify_url = Some(format!("http://127.0.0.1:{hook}/hook"));
    args
}

async fn expired_git_sync(app: &TestApp) {
    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", "old-key"),
                ("type", "git_sync"),
                ("secret", SSH_KEY),
                ("expires_on", &day(-1)),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_arrives_once() {
    let (hook, got) = receiver(vec![500, 500]);
    let app = spawn_app_with(None, notifying_app_args(hook)).await;
    app.login_admin().await;
    expired_git_sync(&app).await;
    eventually("the third try", 30, || got.lock().unwrap().len() >= 3).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        got.lock().unwrap().len(),
        3,
        "delivered once, after two failures"
    );
    assert!(got.lock().unwrap().iter().all(|b| b["event"] == "expired"));
    let log = app.get_html("/admin/audit").await;
    assert!(
        log.contains("notification failed, try 1 of 12 (HTTP 500)"),
        "{log}"
    );
    assert!(log.contains("notification failed, try 2 of 12 (HTTP 500)"));
    assert!(log.contains("notification delivered"));
}

#[tokio::test]
async fn a_receiver_that_never_answers_holds_nothing_up() {
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = silent.local_addr().unwrap().port();
    let app = spawn_app_with(None, notifying_app_args(hook)).await;
    app.login_admin().await;
    expired_git_sync(&app).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        assert_eq!(app.get("/admin/secrets").await.status(), StatusCode::OK);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
    }
    drop(silent);
}

#[tokio::test]
async fn the_send_test_notification_button_reports_what_happened() {
    let (hook, got) = receiver(Vec::new());
    let app = spawn_app_with(None, notifying_app_args(hook)).await;
    app.login_admin().await;
    let audit = app.get_html("/admin/audit").await;
    assert!(
        audit.contains("Send test notification") && audit.contains(&format!("127.0.0.1:{hook}"))
    );
    let r = app.post("/admin/notifications/test", &[]).await;
    assert_redirect_to(&r, "/admin/audit");
    let page = app.get_html("/admin/audit").await;
    assert!(
        page.contains("Test notification delivered.")
            && page.contains("test notification delivered")
    );
    assert_eq!(got.lock().unwrap()[0]["event"], "test");
}

#[test]
fn expiry_events_come_once_each_as_the_days_pass() {
    let dir = tempfile::tempdir().unwrap();
    let pool = wharf::db::open(&dir.path().join("wharf.db")).unwrap();
    let pooled = pool.get().unwrap();
    let conn = pooled.conn();
    let expires = time::Date::from_calendar_date(2027, time::Month::March, 31).unwrap();
    wharf::secrets::store::insert(
        &conn,
        wharf::secrets::store::Write {
            name: "deploy-token",
            display_name: "Deploy token",
            kind: wharf::secrets::store::Kind::ImagePull,
            registry_host: Some("registry.gitlab.com"),
            username: Some("deployer"),
            endpoint: None,
            sealed: Some(vec![0; 40]),
            expires_on: Some(expires.to_string()),
            deliver: false,
            node_patterns: String::new(),
            delivered: Vec::new(),
        },
    )
    .unwrap();
    let settings = wharf::lifecycle::LifecycleSettings {
        check_every: None,
        notify_url: Some("http://127.0.0.1:9/hook".into()),
        public_url: None,
    };
    // The clock runs from 45 days before to 3 days after, twice over.
    for _ in 0..2 {
        for offset in (-3..=45).rev() {
            let today = expires - time::Duration::days(offset);
            wharf::lifecycle::plan_expiry_events(&conn, &settings, today).unwrap();
        }
    }
    let keys: Vec<String> = conn
        .query_map("SELECT key FROM notifications ORDER BY id", (), |r| {
            r.get(0)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        keys,
        [
            "expiring:30:2027-03-31",
            "expiring:7:2027-03-31",
            "expiring:1:2027-03-31",
            "expired:2027-03-31"
        ]
    );
    let texts: Vec<String> = conn
        .query_map("SELECT payload FROM notifications ORDER BY id", (), |r| {
            r.get::<usize, String>(0)
        })
        .unwrap()
        .map(|p| {
            serde_json::from_str::<serde_json::Value>(&p.unwrap()).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        texts[0],
        "The credential of secret Deploy token (registry.gitlab.com) expires in 30 days (on 2027-03-31)."
    );
    assert_eq!(
        texts[3],
        "The credential of secret Deploy token (registry.gitlab.com) expired on 2027-03-31."
    );
}

#[tokio::test]
async fn metrics_are_for_admin_tokens_and_promtool_accepts_them() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("very-secret-name", "", "registry.gitlab.com", "u", "p")
        .await;
    app.add_user("dev", "devs-long-password", false);
    let admin = wharf::cli::token_create(&app.db, ADMIN, "prom", "read", 3600).unwrap();
    let dev = wharf::cli::token_create(&app.db, "dev", "prom", "read", 3600).unwrap();
    assert_eq!(
        app.api(Method::GET, "/metrics", Some(&dev), None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.api(Method::GET, "/metrics", None, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.get("/admin/secrets/very-secret-name").await;
    let text = app
        .api(Method::GET, "/metrics", Some(&admin), None)
        .await
        .text()
        .await
        .unwrap();
    for name in [
        "wharf_secrets{type=\"image_pull\"} 1",
        "wharf_secrets_expiring 0",
        "wharf_secrets_expired 0",
        "wharf_secrets_login_failing 0",
        "wharf_login_checks_total{result=\"ok\"} 0",
        "wharf_notifications_total{result=\"failed\"} 0",
        "route=\"/admin/secrets/{name}\"",
        "wharf_http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    assert!(
        !text.contains("very-secret-name"),
        "no secret's name is a label"
    );
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; the README's test command installs it)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_summary_line_reads_indexes_not_every_secret() {
    // The list shows the counts on every page: a scan of 10,000 secrets
    // made it five times slower.
    let dir = tempfile::tempdir().unwrap();
    let pool = wharf::db::open(&dir.path().join("wharf.db")).unwrap();
    let pooled = pool.get().unwrap();
    let conn = pooled.conn();
    for q in [
        "SELECT COUNT(*) FROM secrets WHERE expires_on > '2026-11-29' AND expires_on <= date('2026-11-29', '+30 days')",
        "SELECT COUNT(*) FROM secrets WHERE expires_on <= '2026-11-29'",
        "SELECT COUNT(*) FROM secrets WHERE last_test_ok = 0",
    ] {
        let plan: String = conn
            .sqlite()
            .unwrap()
            .prepare(&format!("EXPLAIN QUERY PLAN {q}"))
            .unwrap()
            .query_map([], |r| r.get::<usize, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ");
        assert!(plan.contains("INDEX"), "{q}: {plan}");
    }
}

/// A receiver that answers 200 after `delay`, keeping every body.
fn slow_receiver(delay: Duration) -> (u16, Arc<Mutex<Vec<serde_json::Value>>>) {
    use actix_web::{App, HttpResponse, web};
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen = got.clone();
    let port = crate::loopback_server!({
        let seen = seen.clone();
        App::new().route(
            "/hook",
            web::post().to(move |body: web::Bytes| {
                let seen = seen.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    seen.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap_or_default());
                    HttpResponse::Ok().finish()
                }
            }),
        )
    });
    (port, got)
}

#[tokio::test]
async fn two_servers_and_a_slow_receiver_deliver_each_notification_once() {
    // Ten notifications at 7 s each outlast a 60 s claim of all ten at once:
    // the claim must cover each send.
    let (hook, got) = slow_receiver(Duration::from_secs(7));
    let hook_url = format!("http://127.0.0.1:{hook}/hook");
    let dir = tempfile::tempdir().unwrap();
    add_user(&sqlite(dir.path()), "ops", "ops-long-password", true);
    let token = wharf::cli::token_create(&sqlite(dir.path()), "ops", "ci", "write", 3600).unwrap();
    let flags = ["--check-every", "1s", "--notify-url", hook_url.as_str()];
    let (_a, base) = start_wharf(dir.path(), &flags).await;
    let (_b, _) = start_wharf(dir.path(), &flags).await;
    let expired = day(-1);
    for i in 0..10 {
        let (_, created) = api_json_at(
            &base,
            Method::POST,
            "/api/v1/secrets",
            Some(&token),
            Some(
                json!({"name": format!("key-{i}"), "type": "git_sync", "secret": SSH_KEY,
                "expires_on": expired}),
            ),
        )
        .await;
        assert_eq!(created["name"], format!("key-{i}"));
    }
    eventually("ten deliveries", 90, || got.lock().unwrap().len() >= 10).await;
    // Long enough for a second sender whose claim had run out to send again.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let mut secrets: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["secret"].as_str().unwrap().to_owned())
        .collect();
    secrets.sort();
    let want: Vec<String> = (0..10).map(|i| format!("key-{i}")).collect();
    assert_eq!(secrets, want, "each secret's notification exactly once");
    let delivered: i64 = wharf::db::open(&dir.path().join("wharf.db"))
        .unwrap()
        .get()
        .unwrap()
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'notification delivered'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(delivered, 10);
}

/// Counts requests of any kind, keeping their `Referer` headers.
fn counting_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    use actix_web::{App, HttpRequest, HttpResponse, web};
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = got.clone();
    let port = crate::loopback_server!({
        let seen = seen.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let seen = seen.clone();
            async move {
                let referer = req
                    .headers()
                    .get("referer")
                    .map(|v| v.to_str().unwrap_or("?").to_owned())
                    .unwrap_or_default();
                seen.lock()
                    .unwrap()
                    .push(format!("{} {referer}", req.method()));
                HttpResponse::Ok().finish()
            }
        }))
    });
    (port, got)
}

#[tokio::test]
async fn a_redirecting_receiver_is_a_failed_try_and_an_admin_can_retry_it() {
    let (elsewhere, visits) = counting_server();
    let target = format!("http://127.0.0.1:{elsewhere}/elsewhere");
    let (hook, got) = {
        use actix_web::{App, HttpRequest, HttpResponse, web};
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = got.clone();
        let to = target.clone();
        let port = crate::loopback_server!({
            let (seen, to) = (seen.clone(), to.clone());
            App::new().route(
                "/hook",
                web::post().to(move |req: HttpRequest| {
                    let (seen, to) = (seen.clone(), to.clone());
                    async move {
                        let referer = req.headers().contains_key("referer");
                        seen.lock().unwrap().push(format!("referer={referer}"));
                        HttpResponse::MovedPermanently()
                            .insert_header(("location", to))
                            .finish()
                    }
                }),
            )
        });
        (port, got)
    };
    let app = spawn_app_with(None, notifying_app_args(hook)).await;
    app.login_admin().await;
    expired_git_sync(&app).await;
    eventually("a try", 20, || !got.lock().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(got.lock().unwrap()[0], "referer=false");
    assert!(
        visits.lock().unwrap().is_empty(),
        "the redirect is not followed"
    );
    let log = app.get_html("/admin/audit").await;
    // The Location's origin only: a hook's path may be its secret.
    let want = format!(
        "notification failed, try 1 of 12 (HTTP 301, a redirect to http://127.0.0.1:{elsewhere} (another path), not followed)"
    );
    assert!(!target.is_empty());
    assert!(log.contains(&want), "{log}");
    assert!(!log.contains(">notification delivered<"));
    // The panel lists it with its error and a Retry button.
    assert!(log.contains("Undelivered notifications") && log.contains("old-key"));
    assert!(log.contains("Retry"), "{log}");
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM notifications", (), |r| r.get(0))
        .unwrap();
    let tries = got.lock().unwrap().len();
    let r = app
        .post(&format!("/admin/notifications/{id}/retry"), &[])
        .await;
    assert_redirect_to(&r, "/admin/audit");
    let page = app.get_html("/admin/audit").await;
    assert!(page.contains("The notification about old-key will be sent again now."));
    assert!(page.contains("notification retry requested"));
    eventually("the retry", 10, || got.lock().unwrap().len() > tries).await;
    // Not a number: 404; without CSRF: 403.
    assert_eq!(
        app.post("/admin/notifications/x/retry", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post_raw(&format!("/admin/notifications/{id}/retry"), &[])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[test]
fn retries_back_off_over_hours_at_most_an_hour_apart() {
    use wharf::lifecycle::notify::{MAX_TRIES, backoff};
    let waits: Vec<i64> = (1..MAX_TRIES).map(backoff).collect();
    assert_eq!(waits[..4], [5, 10, 20, 40]);
    assert!(waits.iter().all(|w| *w <= 3600));
    let total: i64 = waits.iter().sum();
    assert!(total >= 2 * 3600, "{total} s");
}

#[tokio::test]
async fn registry_words_reach_chat_inert() {
    use actix_web::{App, HttpResponse, web};
    let registry = crate::loopback_server!(App::new().default_service(web::to(|| async {
        HttpResponse::Unauthorized()
            .insert_header((
                "www-authenticate",
                "<!channel>|<https://evil.example|click&here> realm=x",
            ))
            .finish()
    })));
    let (hook, got) = receiver(Vec::new());
    let app = spawn_app_with(None, notifying_app_args(hook)).await;
    app.login_admin().await;
    app.create_secret(
        "odd",
        "Odd registry",
        &format!("http://127.0.0.1:{registry}"),
        "u",
        "p-123456",
    )
    .await;
    eventually("a login_failing notification", 30, || {
        events(&got, "login_failing") == 1
    })
    .await;
    let body = got
        .lock()
        .unwrap()
        .iter()
        .find(|b| b["event"] == "login_failing")
        .cloned()
        .unwrap();
    for field in ["text", "message"] {
        let text = body[field].as_str().unwrap();
        assert!(text.contains("!channel"), "{text}");
        assert!(
            !text.contains(['<', '>', '|', '&']),
            "{field} is inert in chat: {text}"
        );
    }
}
