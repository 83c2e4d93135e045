//! The findings of the security review (issue 13), one test each: every
//! one of these failed before its fix.

use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::CookieStore;
use reqwest::{Method, StatusCode};
use wharf::options::KeyBytes;
use wharf::startup::{Application, ServerConfig};

use crate::helpers::*;

/// A client whose cookie jar the test can read.
fn client_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, jar)
}

/// `name` signed in with a browser whose cookie jar the test can read.
async fn signed_in_with_jar(
    app: &TestApp,
    name: &str,
    password: &str,
) -> (Browser, Arc<reqwest::cookie::Jar>) {
    let (client, jar) = client_with_jar();
    let browser = Browser::with_client(&app.address, client);
    let r = browser.login(name, password).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name} signs in");
    (browser, jar)
}

#[tokio::test]
async fn a_deleted_users_cookie_never_signs_in_as_the_next_user() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.add_user("bob", "bobs-long-password", false);
    let bob = app.another_browser();
    assert_redirect_to(&bob.login("bob", "bobs-long-password").await, "/");
    assert_eq!(bob.get("/").await.status(), StatusCode::OK);
    let bob_id: i64 = app
        .db()
        .query_row("SELECT id FROM users WHERE username = 'bob'", (), |r| {
            r.get(0)
        })
        .unwrap();

    assert_redirect_to(
        &app.post("/admin/users/bob/delete", &[]).await,
        "/admin/users",
    );
    let r = app
        .post(
            "/admin/users",
            &[
                ("username", "carol"),
                ("password", "carols-long-password"),
                ("is_admin", "on"),
                ("active", "on"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/users");
    let carol_id: i64 = app
        .db()
        .query_row("SELECT id FROM users WHERE username = 'carol'", (), |r| {
            r.get(0)
        })
        .unwrap();
    assert_ne!(carol_id, bob_id, "ids are never reused");

    // Bob's cookie is over, and it certainly is not carol's.
    assert_redirect_to(&bob.get("/admin/secrets").await, "/login");
    assert_redirect_to(&bob.get("/").await, "/login");
}

#[tokio::test]
async fn a_cookie_reused_after_the_same_id_and_version_still_fails() {
    // Even if a row came back with bob's id (a restore, a hand edit), a new
    // account's session version is random, so bob's cookie does not fit.
    let app = spawn_app().await;
    app.login_admin().await;
    app.add_user("bob", "bobs-long-password", false);
    app.add_user("carol", "carols-long-password", false);
    let versions: Vec<i64> = app
        .db()
        .query_map("SELECT session_version FROM users ORDER BY id", (), |r| {
            r.get(0)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(versions.len(), 3);
    assert!(
        versions.windows(2).all(|w| w[0] != w[1]) && versions.iter().all(|v| *v > 1000),
        "random session versions: {versions:?}"
    );
}

#[tokio::test]
async fn a_revoked_cookie_cannot_sign_the_account_out_everywhere() {
    let app = spawn_app().await;
    app.add_user("ops", "ops-long-password", true);
    let (old, jar) = signed_in_with_jar(&app, "ops", "ops-long-password").await;
    let base: reqwest::Url = app.address.parse().unwrap();
    let stolen = jar.cookies(&base).unwrap();
    let token = csrf_in(&old.get_html("/admin/secrets").await);
    // Signing out ends that session (and every other one then live).
    let r = old
        .post_raw("/logout", &[("csrf_token", token.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The user signs in again elsewhere.
    let fresh = app.another_browser();
    fresh.login("ops", "ops-long-password").await;
    assert_eq!(fresh.get("/admin/secrets").await.status(), StatusCode::OK);

    // Someone replays the old cookie against /logout.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = replay
        .post(app.url("/logout"))
        .header("cookie", stolen.to_str().unwrap())
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        fresh.get("/admin/secrets").await.status(),
        StatusCode::OK,
        "the live session survives a replayed sign-out"
    );
    let sign_outs: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'sign-out'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sign_outs, 1);
}

#[tokio::test]
async fn an_idle_expired_cookie_cannot_sign_out_either() {
    let mut args = serve_args();
    args.session_idle = wharf::options::Seconds(1);
    let app = spawn_app_with(None, args).await;
    app.add_user("ops", "ops-long-password", true);
    let (old, jar) = signed_in_with_jar(&app, "ops", "ops-long-password").await;
    let base: reqwest::Url = app.address.parse().unwrap();
    let token = csrf_in(&old.get_html("/admin/secrets").await);
    let stale = jar.cookies(&base).unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let versions_before: i64 = app
        .db()
        .query_row("SELECT session_version FROM users", (), |r| r.get(0))
        .unwrap();
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    replay
        .post(app.url("/logout"))
        .header("cookie", stale.to_str().unwrap())
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let versions_after: i64 = app
        .db()
        .query_row("SELECT session_version FROM users", (), |r| r.get(0))
        .unwrap();
    assert_eq!(versions_before, versions_after, "no session was ended");
}

fn key(byte: u8) -> KeyBytes {
    KeyBytes(vec![byte; 32])
}

fn build_err(dir: &std::path::Path, master: Option<KeyBytes>) -> String {
    let mut serve = serve_args();
    serve.master_key = master;
    match Application::build(ServerConfig {
        data_dir: dir.to_path_buf(),
        serve,
    }) {
        Ok(_) => panic!("wharf started"),
        Err(e) => e.to_string(),
    }
}

fn build_ok(dir: &std::path::Path, master: Option<KeyBytes>) {
    let mut serve = serve_args();
    serve.master_key = master;
    if let Err(e) = Application::build(ServerConfig {
        data_dir: dir.to_path_buf(),
        serve,
    }) {
        panic!("wharf did not start: {e}");
    }
}

#[tokio::test]
async fn a_missing_master_key_is_not_made_anew_over_sealed_secrets() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "", "registry.gitlab.com", "deployer", "glpat-x")
        .await;
    let key_file = app.dir.path().join("master.key");
    std::fs::remove_file(&key_file).unwrap();
    let err = build_err(app.dir.path(), None);
    assert!(err.contains("master.key is missing"), "{err}");
    assert!(err.contains("Restore master.key"), "{err}");
    assert!(!key_file.exists(), "no new key was made");
}

#[tokio::test]
async fn a_different_master_key_is_refused_at_start() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "", "registry.gitlab.com", "deployer", "glpat-x")
        .await;
    // The variable and a different file: which one sealed the secrets?
    let err = build_err(app.dir.path(), Some(key(9)));
    assert!(err.contains("differs from"), "{err}");
    // A file that holds another key.
    use base64::Engine;
    let key_file = app.dir.path().join("master.key");
    let good = std::fs::read_to_string(&key_file).unwrap();
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
    )
    .unwrap();
    let err = build_err(app.dir.path(), None);
    assert!(err.contains("does not open"), "{err}");
    // The right key starts, and so does the same key from the variable.
    std::fs::write(&key_file, &good).unwrap();
    build_ok(app.dir.path(), None);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(good.trim())
        .unwrap();
    build_ok(app.dir.path(), Some(KeyBytes(bytes)));
}

#[tokio::test]
async fn the_key_is_checked_even_before_any_secret_exists() {
    let dir = tempfile::tempdir().unwrap();
    build_ok(dir.path(), Some(key(1)));
    assert!(!dir.path().join("master.key").exists());
    let err = build_err(dir.path(), Some(key(2)));
    assert!(err.contains("does not open"), "{err}");
    // No key at all: the database was sealed for one, so none is made.
    let err = build_err(dir.path(), None);
    assert!(err.contains("master.key is missing"), "{err}");
    build_ok(dir.path(), Some(key(1)));
}

#[tokio::test]
async fn a_failed_sign_in_for_no_account_does_not_record_the_typed_name() {
    let app = spawn_app().await;
    app.login_admin().await;
    // A password typed into the username box that fits the name pattern.
    let browser = app.another_browser();
    browser.login("hunter2-summer-2026", "x").await;
    browser.login(ADMIN, "wrong-password").await;
    let log = app.get_html("/admin/audit").await;
    assert!(!log.contains("hunter2-summer-2026"), "{log}");
    assert!(log.contains("(unknown user)"), "{log}");
    // A real account's failures still name it.
    let actors: Vec<String> = app
        .db()
        .query_map(
            "SELECT actor FROM audit_log WHERE action = 'sign-in failed' ORDER BY id",
            (),
            |r| r.get(0),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(actors, ["(unknown user)", ADMIN]);
}

#[test]
fn key_files_readable_by_others_are_noticed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("master.key");
    std::fs::write(&f, "x").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(wharf::keys::readable_by_others(&f));
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(!wharf::keys::readable_by_others(&f));
}

#[tokio::test]
async fn the_username_new_is_reserved() {
    let app = spawn_app().await;
    app.login_admin().await;
    let before = app.digest();
    let r = app
        .post(
            "/admin/users",
            &[
                ("username", "new"),
                ("password", "long-enough-password"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("is reserved"));
    assert_eq!(app.digest(), before);
    let shell = wharf::cli::user_add(
        &sqlite(app.dir.path()),
        "new",
        false,
        std::io::Cursor::new("long-enough-password\n"),
    );
    assert!(shell.unwrap_err().contains("reserved"));
}

#[test]
fn password_hashing_runs_within_its_permits() {
    let hashing = Arc::new(wharf::crypto::PasswordHashing::with_permits(2));
    let peak = actix_web::rt::System::new().block_on({
        let hashing = hashing.clone();
        async move {
            let tasks: Vec<_> = (0..12)
                .map(|i| {
                    let h = hashing.clone();
                    actix_web::rt::spawn(async move {
                        h.verify(None, format!("guess-{i}")).await.unwrap()
                    })
                })
                .collect();
            for t in tasks {
                assert!(!t.await.unwrap());
            }
            hashing.peak_in_flight()
        }
    });
    assert!(
        (1..=2).contains(&peak),
        "at most 2 hashes at once, saw {peak}"
    );
}

/// A registry that takes `delay` to answer an anonymous `/v2/` with a
/// Basic challenge, and lets in any request that brings credentials.
async fn slow_registry(delay: Duration) -> u16 {
    use actix_web::{App, HttpRequest, HttpResponse, web};
    crate::loopback_server!({
        App::new().route(
            "/v2/",
            web::get().to(move |req: HttpRequest| async move {
                if req.headers().contains_key("authorization") {
                    return HttpResponse::Ok()
                        .insert_header(("Docker-Distribution-API-Version", "registry/2.0"))
                        .finish();
                }
                tokio::time::sleep(delay).await;
                HttpResponse::Unauthorized()
                    .insert_header(("WWW-Authenticate", r#"Basic realm="slow""#))
                    .finish()
            }),
        )
    })
}

#[tokio::test]
async fn a_test_login_verdict_is_not_kept_for_credentials_changed_meanwhile() {
    let port = slow_registry(Duration::from_millis(1500)).await;
    let app = spawn_app().await;
    app.login_admin().await;
    let host = format!("http://127.0.0.1:{port}");
    app.create_secret("slow", "", &host, "deployer", "old-password")
        .await;
    let page = app.get_html("/admin/secrets/slow").await;
    let version = version_in(&page);

    let test = {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/admin/secrets/slow/test"),
            app.csrf().await,
        );
        tokio::spawn(async move {
            client
                .post(url)
                .form(&[("csrf_token", token)])
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = app
        .post(
            "/admin/secrets/slow",
            &[
                ("display_name", ""),
                ("registry_host", &host),
                ("username", "deployer"),
                ("password", "new-password"),
                ("version", &version),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
    let r = test.await.unwrap();
    assert_redirect_to(&r, "/admin/secrets/slow");

    let tested: Option<i64> = app
        .db()
        .query_row(
            "SELECT last_test_at FROM secrets WHERE name = 'slow'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        tested, None,
        "the old verdict did not land on new credentials"
    );
    let page = app.get_html("/admin/secrets/slow").await;
    assert!(
        page.contains("changed while its login was being tested"),
        "{page}"
    );
    assert!(
        app.get_html("/admin/audit")
            .await
            .contains("secret test-login discarded")
    );

    // Unchanged, the same test is kept.
    let r = app.post("/admin/secrets/slow/test", &[]).await;
    assert_redirect_to(&r, "/admin/secrets/slow");
    assert!(
        app.get_html("/admin/secrets/slow")
            .await
            .contains("Login succeeded")
    );
}

/// A registry that sends every anonymous `/v2/` to `localhost` (another
/// host name for the same loopback server), where anyone is let in.
async fn host_hopping_registry() -> u16 {
    use actix_web::{App, HttpRequest, HttpResponse, web};
    crate::loopback_server!(|port| {
        App::new().route(
            "/v2/",
            web::get().to(move |req: HttpRequest| async move {
                let host = req.connection_info().host().to_owned();
                if host.starts_with("127.0.0.1") {
                    return HttpResponse::Found()
                        .insert_header(("Location", format!("http://localhost:{port}/v2/")))
                        .finish();
                }
                HttpResponse::Ok()
                    .insert_header(("Docker-Distribution-API-Version", "registry/2.0"))
                    .finish()
            }),
        )
    })
}

#[tokio::test]
async fn test_login_does_not_follow_a_redirect_to_another_host() {
    let port = host_hopping_registry().await;
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret(
        "hop",
        "",
        &format!("http://127.0.0.1:{port}"),
        "deployer",
        "pw",
    )
    .await;
    app.post("/admin/secrets/hop/test", &[]).await;
    let page = app.get_html("/admin/secrets/hop").await;
    assert!(
        page.contains("Redirect refused: the registry sent the login to another host (localhost)"),
        "{page}"
    );
    assert!(!page.contains("Login succeeded"));
}

/// A loopback server that answers every request with a Basic challenge
/// and counts what reached it.
fn challenging_server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use actix_web::{App, HttpResponse, web};
    let reached: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    let seen = reached.clone();
    let port = crate::loopback_server!({
        let seen = seen.clone();
        App::new().default_service(web::to(move || {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async {
                HttpResponse::Unauthorized()
                    .insert_header(("www-authenticate", "Basic realm=x"))
                    .finish()
            }
        }))
    });
    (port, reached)
}

#[tokio::test]
async fn test_login_does_not_go_through_a_proxy_from_the_environment() {
    use std::sync::atomic::Ordering::SeqCst;
    // A "proxy" and a "registry", both on loopback: through the proxy the
    // proxy would resolve the registry's name, and wharf's check of the
    // address would never run.
    let (proxy, via_proxy) = challenging_server();
    let (registry, direct) = challenging_server();
    let proxy_url = format!("http://127.0.0.1:{proxy}");
    let dir = tempfile::tempdir().unwrap();
    add_user(&sqlite(dir.path()), "ops", "ops-long-password", true);
    let token = wharf::cli::token_create(&sqlite(dir.path()), "ops", "ci", "write", 3600).unwrap();
    let env = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("https_proxy", proxy_url.as_str()),
    ];
    let (_wharf, base) = start_wharf_env(dir.path(), &["--check-every", "0"], &env).await;
    let created = api_at(
        &base,
        Method::POST,
        "/api/v1/secrets",
        Some(&token),
        Some(serde_json::json!({"name": "direct", "type": "image_pull",
            "registry_host": format!("http://127.0.0.1:{registry}"), "username": "u",
            "password": "p-12345678"})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let (_, tested) = api_json_at(
        &base,
        Method::POST,
        "/api/v1/secrets/direct/test",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(tested["ok"], false, "{tested}");
    assert_eq!(
        via_proxy.load(SeqCst),
        0,
        "nothing went through the proxy: {tested}"
    );
    assert!(
        direct.load(SeqCst) >= 1,
        "the registry was asked directly: {tested}"
    );
}
