use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::helpers::*;

const PW: &str = "long-enough-pw";

#[tokio::test]
async fn administrators_manage_users() {
    let app = spawn_app().await;
    app.login_admin().await;
    let form = app.get_html("/admin/users/new").await;
    assert!(
        form.contains(r#"name="active" type="checkbox" value="on" checked"#),
        "Active is ticked by default"
    );
    assert!(form.contains("Administrator") && form.contains("Active"));

    let r = app
        .post(
            "/admin/users",
            &[("username", "dev"), ("password", PW), ("active", "on")],
        )
        .await;
    assert_redirect_to(&r, "/admin/users");
    let list = app.get_html("/admin/users").await;
    assert!(
        list.contains("User dev created.") && list.contains(">dev</a>") && list.contains("never")
    );

    let before = app.digest();
    for (fields, message) in [
        (
            vec![("username", "dev"), ("password", PW)],
            "A user named dev already exists.",
        ),
        (
            vec![("username", "Bad Name"), ("password", PW)],
            "Username must be",
        ),
        (
            vec![("username", "ok"), ("password", "short")],
            "at least 12 characters",
        ),
    ] {
        let r = app.post("/admin/users", &fields).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains(message), "{message}");
    }
    assert_eq!(app.digest(), before);

    // Promote, then delete.
    let r = app
        .post(
            "/admin/users/dev",
            &[("is_admin", "on"), ("active", "on"), ("version", "1")],
        )
        .await;
    assert_redirect_to(&r, "/admin/users");
    assert!(app.get_html("/admin/users").await.contains("Administrator"));
    assert!(
        app.get_html("/admin/users/dev/delete")
            .await
            .contains("Are you sure to delete dev user?")
    );
    assert_redirect_to(
        &app.post("/admin/users/dev/delete", &[]).await,
        "/admin/users",
    );
    assert!(
        app.get_html("/admin/users")
            .await
            .contains("User dev deleted.")
    );
    assert_eq!(
        app.get("/admin/users/dev").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_user_cannot_reach_the_users_area_or_forge_a_role() {
    let app = spawn_app().await;
    app.add_user(ADMIN, ADMIN_PASSWORD, true);
    app.add_user("dev", PW, false);
    app.login("dev", PW).await;
    assert_eq!(
        app.get("/admin/users").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/admin/audit").await.status(),
        StatusCode::FORBIDDEN
    );
    for (path, fields) in [
        (
            "/admin/users/dev",
            vec![("is_admin", "on"), ("active", "on"), ("version", "1")],
        ),
        (
            "/admin/users",
            vec![("username", "evil"), ("password", PW), ("is_admin", "on")],
        ),
        ("/admin/users/admin/delete", vec![]),
        (
            "/account/password",
            vec![
                ("current_password", PW),
                ("new_password", PW),
                ("confirm_password", PW),
                ("is_admin", "on"),
            ],
        ),
    ] {
        let r = app.post(path, &fields).await;
        assert!(
            r.status() == StatusCode::FORBIDDEN || r.status() == StatusCode::SEE_OTHER,
            "{path}"
        );
    }
    let is_admin: bool = app
        .db()
        .query_row(
            "SELECT is_admin FROM users WHERE username = 'dev'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert!(!is_admin);
    let n: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM users", (), |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn the_last_active_administrator_is_guarded() {
    let app = spawn_app().await;
    app.login_admin().await;
    let before = app.digest();
    for fields in [
        vec![("active", "on"), ("version", "1")],
        vec![("is_admin", "on"), ("version", "1")],
    ] {
        let r = app.post("/admin/users/admin", &fields).await;
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("last active administrator") || body.contains("cannot disable your own"),
            "{body}"
        );
    }
    for r in [
        app.get("/admin/users/admin/delete").await,
        app.post("/admin/users/admin/delete", &[]).await,
    ] {
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let body = r.text().await.unwrap();
        assert!(body.contains("cannot delete your own account") && !body.contains(">Yes<"));
    }
    assert_eq!(app.digest(), before);

    // With a second administrator, the first can be demoted, but then the
    // second is the last one and cannot be.
    app.add_user("ops", PW, true);
    assert_redirect_to(
        &app.post("/admin/users/ops", &[("active", "on"), ("version", "1")])
            .await,
        "/admin/users",
    );
    let other = app.another_browser();
    app.add_user("root2", PW, true);
    other.login("root2", PW).await;
    assert_redirect_to(
        &other
            .post(
                "/admin/users/admin",
                &[("active", "on"), ("is_admin", "on"), ("version", "1")],
            )
            .await,
        "/admin/users",
    );
    // Disable root2 from admin's session; admin is then the last one.
    assert_redirect_to(
        &app.post(
            "/admin/users/root2",
            &[("is_admin", "on"), ("version", "1")],
        )
        .await,
        "/admin/users",
    );
    let r = app
        .post("/admin/users/admin", &[("active", "on"), ("version", "2")])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("admin is the last active administrator")
    );
}

#[tokio::test]
async fn password_resets_disabling_and_deleting_end_sessions_at_once() {
    let app = spawn_app().await;
    app.login_admin().await;
    for (name, fields) in [
        (
            "reset",
            vec![
                ("active", "on"),
                ("password", "a-brand-new-password"),
                ("version", "1"),
            ],
        ),
        ("disabled", vec![("version", "1")]),
        ("deleted", vec![]),
    ] {
        app.add_user(name, PW, false);
        let user = app.another_browser();
        assert_redirect_to(&user.login(name, PW).await, "/");
        assert_eq!(user.get("/").await.status(), StatusCode::OK);
        let path = if name == "deleted" {
            format!("/admin/users/{name}/delete")
        } else {
            format!("/admin/users/{name}")
        };
        assert_redirect_to(&app.post(&path, &fields).await, "/admin/users");
        assert_redirect_to(&user.get("/").await, "/login");
    }
    // A disabled user cannot sign in again.
    let user = app.another_browser();
    assert_eq!(
        user.login("disabled", PW).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn changing_your_password_ends_your_other_sessions() {
    let app = spawn_app().await;
    app.add_user("dev", PW, false);
    app.login("dev", PW).await;
    let laptop = app.another_browser();
    laptop.login("dev", PW).await;

    let before = app.digest();
    for (fields, message) in [
        (
            vec![
                ("current_password", "wrong-password"),
                ("new_password", "a-brand-new-password"),
                ("confirm_password", "a-brand-new-password"),
            ],
            "The current password is not right.",
        ),
        (
            vec![
                ("current_password", PW),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
            "at least 12 characters",
        ),
        (
            vec![
                ("current_password", PW),
                ("new_password", "a-brand-new-password"),
                ("confirm_password", "different-password"),
            ],
            "The passwords do not match.",
        ),
    ] {
        let r = app.post("/account/password", &fields).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = r.text().await.unwrap();
        assert!(body.contains(message), "{message}");
        assert!(!body.contains("a-brand-new-password"));
    }
    assert_eq!(app.digest(), before);

    let r = app
        .post(
            "/account/password",
            &[
                ("current_password", PW),
                ("new_password", "a-brand-new-password"),
                ("confirm_password", "a-brand-new-password"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/");
    assert!(
        app.get_html("/")
            .await
            .contains("Your password was changed."),
        "this session goes on"
    );
    assert_redirect_to(&laptop.get("/").await, "/login");
    assert_eq!(
        laptop.login("dev", PW).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_redirect_to(&laptop.login("dev", "a-brand-new-password").await, "/");
}

#[tokio::test]
async fn idle_and_old_sessions_expire() {
    let mut args = serve_args();
    args.session_idle = wharf::options::Seconds(1);
    let app = spawn_app_with(None, args).await;
    app.add_user("dev", PW, false);
    app.login("dev", PW).await;
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_redirect_to(&app.get("/").await, "/login");

    let mut args = serve_args();
    args.session_max = wharf::options::Seconds(1);
    let app = spawn_app_with(None, args).await;
    app.add_user("dev", PW, false);
    app.login("dev", PW).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_redirect_to(&app.get("/").await, "/login");
}

#[tokio::test]
async fn a_tampered_cookie_is_no_session() {
    let app = spawn_app().await;
    app.add_user("dev", PW, false);
    let r = app.login("dev", PW).await;
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (name, value) = cookie.split_once('=').unwrap();
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let forged = format!("{name}={}", String::from_utf8(bytes).unwrap());
    let r = client()
        .get(app.url("/"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_redirect_to(&r, "/login");
    let r = client()
        .get(app.url("/"))
        .header("cookie", "wharf_session=garbage")
        .send()
        .await
        .unwrap();
    assert_redirect_to(&r, "/login");
}

#[tokio::test]
async fn resetting_your_own_password_keeps_you_signed_in() {
    let app = spawn_app().await;
    app.login_admin().await;
    let r = app
        .post(
            "/admin/users/admin",
            &[
                ("is_admin", "on"),
                ("active", "on"),
                ("password", "a-brand-new-password"),
                ("version", "1"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/users");
    assert!(
        app.get_html("/admin/users")
            .await
            .contains("User admin updated.")
    );
}

#[tokio::test]
async fn giving_up_your_own_admin_role_leads_to_the_catalogue() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.add_user("ops", PW, true);
    let r = app
        .post("/admin/users/admin", &[("active", "on"), ("version", "1")])
        .await;
    assert_redirect_to(&r, "/");
    assert_eq!(
        app.get("/admin/secrets").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
}

/// The secrets list checks the session in the same database hop as its
/// query; revocation, demotion, and idle and absolute expiry still take
/// effect on the very next request, whoever wrote the change.
#[tokio::test]
async fn the_secrets_list_checks_the_session_on_every_request() {
    let mut args = serve_args();
    args.session_idle = wharf::options::Seconds(2);
    let app = spawn_app_with(None, args).await;
    app.login_admin().await;
    for name in ["ops", "sre", "dba"] {
        app.add_user(name, PW, true);
    }
    let lists = ["/admin/secrets", "/admin/secrets?q=abc&page=2"];

    // Revoked by another process writing the file (as `wharf` would).
    let ops = app.another_browser();
    ops.login("ops", PW).await;
    for path in lists {
        assert_eq!(ops.get(path).await.status(), StatusCode::OK, "{path}");
    }
    app.db()
        .execute(
            "UPDATE users SET session_version = session_version + 1 WHERE username = 'ops'",
            (),
        )
        .unwrap();
    assert_redirect_to(&ops.get(lists[0]).await, "/login");

    // Demoted by an administrator: 403, and the session goes on.
    let sre = app.another_browser();
    sre.login("sre", PW).await;
    assert_eq!(sre.get(lists[1]).await.status(), StatusCode::OK);
    app.db()
        .execute("UPDATE users SET is_admin = 0 WHERE username = 'sre'", ())
        .unwrap();
    for path in lists {
        assert_eq!(
            sre.get(path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(sre.get("/").await.status(), StatusCode::OK);

    // Disabled through the Users page.
    let dba = app.another_browser();
    dba.login("dba", PW).await;
    assert_eq!(dba.get(lists[0]).await.status(), StatusCode::OK);
    let r = app
        .post("/admin/users/dba", &[("admin", "on"), ("version", "1")])
        .await;
    assert_redirect_to(&r, "/admin/users");
    assert_redirect_to(&dba.get(lists[0]).await, "/login");

    // Idle for longer than the limit.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_redirect_to(&app.get(lists[1]).await, "/login");
}

#[tokio::test]
async fn the_secrets_list_ends_at_the_absolute_limit() {
    let mut args = serve_args();
    args.session_max = wharf::options::Seconds(1);
    let app = spawn_app_with(None, args).await;
    app.login_admin().await;
    assert_eq!(app.get("/admin/secrets").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_redirect_to(&app.get("/admin/secrets").await, "/login");
}

/// Whether `token` still opens the API.
async fn token_works(app: &TestApp, token: &str) -> bool {
    let r = app
        .api(Method::GET, "/api/v1/catalogue", Some(token), None)
        .await;
    match r.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("{other}"),
    }
}

fn token_for(app: &TestApp, user: &str, name: &str) -> String {
    wharf::cli::token_create(&app.db, user, name, "read", 3600).unwrap()
}

#[tokio::test]
async fn a_reset_or_disable_revokes_the_users_tokens_and_re_enabling_brings_none_back() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.add_user("bob", PW, false);
    let stolen = token_for(&app, "bob", "laptop");
    let other = token_for(&app, "bob", "ci");
    assert!(token_works(&app, &stolen).await);
    let page = app.get_html("/admin/users/bob").await;
    assert!(
        page.contains("2 live") && page.contains("Revoke all tokens"),
        "{page}"
    );

    // An administrator resets the compromised account's password.
    let r = app
        .post(
            "/admin/users/bob",
            &[
                ("active", "on"),
                ("password", "a-brand-new-password"),
                ("version", "1"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/users");
    assert!(
        app.get_html("/admin/users")
            .await
            .contains("User bob updated; 2 API tokens revoked."),
    );
    assert!(!token_works(&app, &stolen).await && !token_works(&app, &other).await);
    assert!(
        app.get_html("/admin/audit")
            .await
            .contains("2 API tokens revoked")
    );

    // Disabled, then enabled again: no token made before comes back.
    let later = token_for(&app, "bob", "later");
    assert_redirect_to(
        &app.post("/admin/users/bob", &[("version", "2")]).await,
        "/admin/users",
    );
    assert!(!token_works(&app, &later).await);
    // Nor can the shell make one for a disabled account.
    let refused = wharf::cli::token_create(&app.db, "bob", "sneaky", "read", 3600);
    assert!(refused.unwrap_err().contains("disabled"));
    assert_redirect_to(
        &app.post("/admin/users/bob", &[("active", "on"), ("version", "3")])
            .await,
        "/admin/users",
    );
    assert!(!token_works(&app, &later).await);
    assert!(!token_works(&app, &stolen).await);

    // "Revoke all tokens" on the user's page.
    let fresh = token_for(&app, "bob", "fresh");
    assert!(token_works(&app, &fresh).await);
    let r = app.post("/admin/users/bob/tokens/revoke", &[]).await;
    assert_redirect_to(&r, "/admin/users/bob");
    assert!(!token_works(&app, &fresh).await);
    let page = app.get_html("/admin/users/bob").await;
    assert!(
        page.contains("1 API token of bob revoked.") && page.contains("none live"),
        "{page}"
    );
    // Without the CSRF token nothing is revoked.
    let kept = token_for(&app, "bob", "kept");
    let r = app.post_raw("/admin/users/bob/tokens/revoke", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(token_works(&app, &kept).await);
}

#[tokio::test]
async fn changing_your_own_password_keeps_your_tokens() {
    let app = spawn_app().await;
    app.add_user("dev", PW, false);
    let token = token_for(&app, "dev", "laptop");
    let me = app.another_browser();
    assert_redirect_to(&me.login("dev", PW).await, "/");
    let form = me.get_html("/account/password").await;
    assert!(form.contains("your API tokens keep working"), "{form}");
    let r = me
        .post(
            "/account/password",
            &[
                ("current_password", PW),
                ("new_password", "another-long-password"),
                ("confirm_password", "another-long-password"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(token_works(&app, &token).await);
}
