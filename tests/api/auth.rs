use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_ok_without_a_session() {
    let app = spawn_app().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn pages_need_a_session() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/admin/secrets",
        "/admin/secrets/new",
        "/admin/images",
        "/admin/secrets/x",
    ] {
        let r = app.get(path).await;
        assert_redirect_to(&r, "/login");
    }
}

#[tokio::test]
async fn setup_link_creates_the_first_admin_once() {
    let app = spawn_app().await;
    let url = app.setup_url.clone().expect("a setup link on first start");
    let path = url.trim_start_matches(&app.address).to_owned();
    let token = path.split("token=").nth(1).unwrap().to_owned();

    assert_eq!(
        app.get("/setup?token=wrong").await.status(),
        StatusCode::NOT_FOUND
    );
    let page = app.get_html(&path).await;
    assert!(page.contains("Create the first administrator"));

    // Mismatched confirmation: 422, nothing created.
    let r = app
        .post(
            "/setup",
            &[
                ("token", &token),
                ("username", "root"),
                ("password", "long-enough-pw"),
                ("confirm_password", "other-password"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("The passwords do not match.")
    );
    let r = app
        .post(
            "/setup",
            &[
                ("token", &token),
                ("username", "root"),
                ("password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("at least 12 characters"));

    let r = app
        .post(
            "/setup",
            &[
                ("token", &token),
                ("username", "root"),
                ("password", "long-enough-pw"),
                ("confirm_password", "long-enough-pw"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
    assert!(app.get_html("/admin/secrets").await.contains("root"));

    // The token is dead, and /setup is gone for good.
    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
    let again = client();
    let r = again.get(app.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_setup_link_once_a_user_exists() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    let dir = app.dir;
    let restarted = spawn_app_in(Some(dir)).await;
    assert!(restarted.setup_url.is_none());
}

#[tokio::test]
async fn sign_in_failures_say_the_same_thing() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    for (user, pw) in [
        ("ops", "wrong-password"),
        ("nobody", "long-enough-pw"),
        ("", ""),
    ] {
        let r = app.login(user, pw).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body = r.text().await.unwrap();
        assert!(body.contains("Invalid username or password."), "{user}");
        assert!(!body.contains("long-enough-pw"));
    }
    assert_redirect_to(&app.get("/admin/secrets").await, "/login");
}

#[tokio::test]
async fn admins_land_on_secrets_and_users_on_the_catalogue() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    app.add_user("dev", "long-enough-pw", false);
    assert_redirect_to(&app.login("ops", "long-enough-pw").await, "/admin/secrets");
    let other = app.another_browser();
    assert_redirect_to(&other.login("dev", "long-enough-pw").await, "/");
    assert_eq!(other.get("/").await.status(), StatusCode::OK);
    for path in ["/admin/secrets", "/admin/secrets/new", "/admin/images"] {
        let r = other.get(path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("You have to be admin to view this page")
        );
    }
    let before = app.digest();
    let r = other
        .post(
            "/admin/secrets",
            &[("name", "x"), ("type", "git_sync"), ("secret", "k")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn the_csrf_token_is_replaced_at_sign_in() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    let before = app.csrf().await;
    app.login("ops", "long-enough-pw").await;
    let after = csrf_in(&app.get_html("/admin/secrets").await);
    assert_ne!(before, after);
    assert_eq!(
        app.csrf().await,
        after,
        "/login stays reachable and shows the live token"
    );
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "p")
        .await;
    let before = app.digest();
    let fields = [
        ("name", "other"),
        ("type", "image_pull"),
        ("registry_host", "ghcr.io"),
        ("username", "u"),
        ("password", "p"),
    ];
    let r = app.post_raw("/admin/secrets", &fields).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut forged = fields.to_vec();
    forged.push(("csrf_token", "forged"));
    assert_eq!(
        app.post_raw("/admin/secrets", &forged).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_raw("/admin/secrets/gitlab/delete", &[])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_raw("/logout", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    // A token from another session is no good either.
    let stranger = client();
    let page = stranger
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    forged.pop();
    let theirs = csrf_in(&page);
    forged.push(("csrf_token", &theirs));
    assert_eq!(
        app.post_raw("/admin/secrets", &forged).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn session_cookie_and_headers_are_strict() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    let r = app.login("ops", "long-enough-pw").await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let r = app.get("/admin/secrets").await;
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.contains_key("referrer-policy"));
}

#[tokio::test]
async fn sign_out_ends_every_session_of_the_user() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    app.login("ops", "long-enough-pw").await;
    let laptop = app.another_browser();
    laptop.login("ops", "long-enough-pw").await;
    assert_eq!(app.get("/admin/secrets").await.status(), StatusCode::OK);
    assert_eq!(laptop.get("/admin/secrets").await.status(), StatusCode::OK);
    // Sign out on the laptop: both sessions end.
    assert_redirect_to(&laptop.post("/logout", &[]).await, "/login");
    assert_redirect_to(&laptop.get("/admin/secrets").await, "/login");
    assert_redirect_to(&app.get("/admin/secrets").await, "/login");
    let n: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'sign-out' AND actor = 'ops'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn the_sixth_failure_is_throttled_even_with_the_right_password() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    for _ in 0..5 {
        assert_eq!(
            app.login("ops", "nope-nope-nope").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.login("ops", "long-enough-pw").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    // Another username is not locked by it.
    app.add_user("dev", "long-enough-pw", false);
    assert_redirect_to(&app.login("dev", "long-enough-pw").await, "/");
}

#[tokio::test]
async fn a_success_clears_the_failure_count() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    for _ in 0..4 {
        app.login("ops", "nope-nope-nope").await;
    }
    assert_redirect_to(&app.login("ops", "long-enough-pw").await, "/admin/secrets");
    for _ in 0..4 {
        assert_eq!(
            app.login("ops", "nope-nope-nope").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn oversized_and_malformed_bodies() {
    let app = spawn_app().await;
    app.login_admin().await;
    let before = app.digest();
    let token = app.csrf().await;
    let huge = "a".repeat(300 * 1024);
    let r = app
        .client
        .post(app.url("/admin/secrets"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf_token={token}&name=big&type=git_sync&secret={huge}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = app
        .client
        .post(app.url("/admin/secrets"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={token}&name=%FF%FE&type=image_pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn unknown_pages_are_404_pages() {
    let app = spawn_app().await;
    assert_redirect_to(&app.get("/nope").await, "/login");
    assert_eq!(
        app.get("/static/nope.css").await.status(),
        StatusCode::NOT_FOUND
    );
    app.add_user("dev", "long-enough-pw", false);
    app.login("dev", "long-enough-pw").await;
    let r = app.get("/nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("There is no such page."));
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_under_the_limit() {
    let app = spawn_app().await;
    app.add_user("ops", "long-enough-pw", true);
    let token = app.csrf().await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let req = app.client.post(app.url("/login")).form(&[
            ("username", "ops"),
            ("password", "a-wrong-guess"),
            ("csrf_token", token.as_str()),
        ]);
        tasks.push(tokio::spawn(
            async move { req.send().await.unwrap().status() },
        ));
    }
    let mut refused = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        refused += usize::from(status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(
        refused >= 7,
        "only {refused} of 12 parallel guesses were throttled"
    );
}

#[tokio::test]
async fn refusals_from_the_csrf_check_carry_the_security_headers() {
    let app = spawn_app().await;
    let r = app
        .post_raw("/login", &[("username", "x"), ("password", "y")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_mistyped_password_in_the_username_box_is_not_recorded() {
    let app = spawn_app().await;
    app.login("My Secret Passw0rd!", "x").await;
    let (actor, username): (String, String) = app
        .db()
        .query_row(
            "SELECT a.actor, f.username FROM audit_log a, login_failures f",
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (actor.as_str(), username.as_str()),
        ("(unknown user)", "(invalid)")
    );
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled() {
    let app = spawn_app().await;
    app.add_user("dev", "long-enough-pw", false);
    app.login("dev", "long-enough-pw").await;
    let wrong = [
        ("current_password", "wrong-guess-1"),
        ("new_password", "another-long-pw"),
        ("confirm_password", "another-long-pw"),
    ];
    for _ in 0..5 {
        assert_eq!(
            app.post("/account/password", &wrong).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        app.post("/account/password", &wrong).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Every route under `/admin`, read from the router's own definition: the
/// areas that `startup::routes` configures inside the `/admin` scope, and
/// each one's `.route(path, web::method())` in its `configure`. A route
/// added there is covered here without anyone listing it.
fn admin_routes() -> Vec<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let read = |p: &str| std::fs::read_to_string(src.join(p)).unwrap();
    let startup = read("startup.rs");
    let scope = &startup[startup
        .find("web::scope(\"/admin\")")
        .expect("the /admin scope")..];
    let scope = &scope[..scope.find(";").unwrap()];
    let route = regex_lite::Regex::new(
        r#"\.route\(\s*"([^"]*)",\s*web::(get|post|put|patch|delete|head)\(\)"#,
    )
    .unwrap();
    let configure = regex_lite::Regex::new(r"\.configure\(((?:crate::)?(\w+))::(\w+)\)").unwrap();
    let mut out = Vec::new();
    for c in configure.captures_iter(scope) {
        let (area, function) = (&c[2], &c[3]);
        let text = read(&format!("{area}/mod.rs"));
        let from = text
            .find(&format!("pub fn {function}("))
            .unwrap_or_else(|| panic!("{area}::{function}"));
        let body = &text[from..];
        let body = &body[..body.find("\n}\n").unwrap()];
        for r in route.captures_iter(body) {
            out.push((r[2].to_uppercase(), format!("/admin{}", &r[1])));
        }
    }
    out
}

#[tokio::test]
async fn every_admin_route_refuses_a_user() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret(
        "gitlab",
        "GitLab",
        "registry.gitlab.com",
        "u",
        "pw-never-shown-7",
    )
    .await;
    app.post("/admin/images", &[("name", "nb"), ("url", "ubuntu")])
        .await;
    app.add_user("dev", "long-enough-pw", false);
    let user = app.another_browser();
    user.login("dev", "long-enough-pw").await;
    let routes = admin_routes();
    // Every area's pages are there (secrets, images, users, groups,
    // clusters, tokens, the audit log).
    for area in [
        "secrets", "images", "users", "groups", "clusters", "tokens", "audit",
    ] {
        assert!(
            routes
                .iter()
                .any(|(_, p)| p.starts_with(&format!("/admin/{area}"))),
            "{area}: {routes:?}"
        );
    }
    assert!(routes.len() >= 45, "{routes:?}");
    let before = app.digest();
    for (method, path) in &routes {
        let path = path
            .replace("/secrets/{name}", "/secrets/gitlab")
            .replace("/images/{name}", "/images/nb")
            .replace("{username}", "admin")
            .replace("{name}", "x")
            .replace("{id}", "1");
        assert!(!path.contains('{'), "{path}");
        let r = match method.as_str() {
            "GET" => user.get(&path).await,
            "POST" => {
                user.post(
                    &path,
                    &[
                        ("name", "x"),
                        ("username", "x"),
                        ("is_admin", "on"),
                        ("version", "1"),
                    ],
                )
                .await
            }
            other => panic!("{other} {path}: a page route is GET or POST"),
        };
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path}");
        // The refusal (with the member's own navigation) shows no value.
        assert!(
            !r.text().await.unwrap().contains("pw-never-shown-7"),
            "{method} {path}"
        );
    }
    assert_eq!(app.digest(), before);
}

#[tokio::test]
async fn repeated_query_keys_take_the_first_value() {
    let app = spawn_app().await;
    app.login_admin().await;
    for path in [
        "/admin/secrets?sort=name&sort=type&page=1&page=2",
        "/admin/images?q=a&q=b",
        "/admin/audit?page=1&page=x&actor=a&actor=b",
    ] {
        assert_eq!(app.get(path).await.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn behind_tls_the_cookie_is_host_bound_and_hsts_is_sent() {
    let mut args = serve_args();
    args.secure_cookies = true;
    let app = spawn_app_with(None, args).await;
    let r = app.get("/login").await;
    assert!(
        r.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-wharf_session=")
            && cookie.contains("Secure")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    let plain = spawn_app().await;
    assert!(
        !plain
            .get("/login")
            .await
            .headers()
            .contains_key("strict-transport-security")
    );
}

/// A page view leaves the session as it was, so the cookie is not sealed
/// and sent again on every page; taking a flash message does change it.
#[tokio::test]
async fn pages_send_the_session_cookie_only_when_the_session_changes() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.get("/admin/secrets").await;
    for path in ["/admin/secrets", "/admin/secrets/new", "/"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(r.headers().get("set-cookie").is_none(), "{path}");
    }
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "p")
        .await;
    let r = app.get("/admin/secrets").await;
    assert!(
        r.headers().get("set-cookie").is_some(),
        "the flash was taken"
    );
    assert!(r.text().await.unwrap().contains("gitlab"));
    let r = app.get("/admin/secrets").await;
    assert!(r.headers().get("set-cookie").is_none());
}

/// An error page keeps the navigation of whoever is signed in: an
/// administrator's 404 has the sidebar and the top bar, a member's 403 has
/// their top bar (and no Admin Portal); nobody signed in gets the plain
/// page.
#[tokio::test]
async fn error_pages_keep_a_signed_in_persons_navigation() {
    let app = spawn_app().await;
    app.login_admin().await;
    let r = app.get("/admin/secrets/nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = r.text().await.unwrap();
    for part in [
        "There is no secret named nope.",
        "Sign out",
        "href=\"/admin/clusters\"",
        "Back to your home page",
    ] {
        assert!(page.contains(part), "{part}:\n{page}");
    }
    app.add_user("dev", "long-enough-pw", false);
    let dev = app.another_browser();
    dev.login("dev", "long-enough-pw").await;
    let r = dev.get("/admin/secrets").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign out") && page.contains("dev"), "{page}");
    assert!(!page.contains("href=\"/admin/clusters\""), "{page}");
    let anonymous = app.another_browser();
    let r = anonymous.get("/static/nope.css").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = r.text().await.unwrap();
    assert!(!page.contains("Sign out"), "{page}");
}
