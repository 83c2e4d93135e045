//! Single sign-on against a real OpenID provider: npm `oidc-provider`
//! (`tests/oidc/provider.mjs`, installed by the README's test command with
//! `npm ci`) on 127.0.0.1, addressed as `localhost` as a browser would see
//! another site. These tests walk the flow over HTTP as a browser does
//! (the provider's own sign-in form included); `browser.rs` clicks it.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

pub const CLIENT_ID: &str = "wharf-portal";
const CLIENT_SECRET: &str = "the-client-secret-0123456789";
pub const ADMIN_GROUP: &str = "wharf-admins";

/// The provider, killed on drop, with the accounts file it reads at every
/// sign-in.
pub struct Idp {
    _process: KillOnDrop,
    pub port: u16,
    accounts: PathBuf,
    _dir: tempfile::TempDir,
}

impl Idp {
    /// Starts the provider for a wharf that will listen on `wharf_port`,
    /// with ada (in the admin group), vic (in `/vision`, as Keycloak writes
    /// group paths) and nia (no group).
    pub async fn start(wharf_port: u16) -> Idp {
        Self::start_on(free_port(), wharf_port).await
    }

    /// [`Idp::start`] on a given port.
    pub async fn start_on(idp_port: u16, wharf_port: u16) -> Idp {
        let dir = tempfile::tempdir().unwrap();
        let accounts = dir.path().join("accounts.json");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        assert!(
            root.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci` in tests/oidc (the README's test command does)"
        );
        let idp = Idp {
            _process: KillOnDrop(
                Command::new("node")
                    .arg(root.join("provider.mjs"))
                    .env("PORT", idp_port.to_string())
                    .env("CLIENT_ID", CLIENT_ID)
                    .env("CLIENT_SECRET", CLIENT_SECRET)
                    .env(
                        "REDIRECT_URI",
                        format!("http://127.0.0.1:{wharf_port}/auth/oidc/callback"),
                    )
                    .env(
                        "POST_LOGOUT_REDIRECT_URI",
                        format!("http://127.0.0.1:{wharf_port}/login"),
                    )
                    .env("ACCOUNTS_FILE", &accounts)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("node (Node.js 20) is installed"),
            ),
            port: idp_port,
            accounts,
            _dir: dir,
        };
        idp.set_accounts(json!({
            "u-ada": {"preferred_username": "ada", "email": "ada@example.com", "groups": [ADMIN_GROUP]},
            "u-vic": {"preferred_username": "vic", "email": "vic@example.com", "groups": ["/vision"]},
            "u-nia": {"email": "Nia.Okafor@example.com", "groups": []},
        }));
        wait_for_port(idp_port, "oidc-provider").await;
        idp
    }

    pub fn issuer(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// Replaces every account (claims as the provider gives them).
    pub fn set_accounts(&self, accounts: Value) {
        std::fs::write(&self.accounts, accounts.to_string()).unwrap();
    }

    /// Changes one account's claims.
    pub fn set_account(&self, sub: &str, claims: Value) {
        let mut all: Value =
            serde_json::from_str(&std::fs::read_to_string(&self.accounts).unwrap()).unwrap();
        all[sub] = claims;
        self.set_accounts(all);
    }

    /// Makes the token endpoint hand out doctored ID tokens (`off` stops).
    pub async fn tamper(&self, mode: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/test/tamper?mode={mode}", self.issuer()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// A wharf with single sign-on at a fresh provider, an administrator with
/// a password (`ADMIN`, signed in on `app`), and SSO discovered.
pub async fn sso_world() -> (TestApp, Idp) {
    sso_world_with(|_| {}).await
}

/// [`sso_world`] with server options changed by `change`.
pub async fn sso_world_with(
    change: impl FnOnce(&mut wharf::cli::args::ServeArgs),
) -> (TestApp, Idp) {
    let port = free_port();
    let idp = Idp::start(port).await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = serve_args();
    args.listen = format!("127.0.0.1:{port}");
    args.public_url = Some(format!("http://127.0.0.1:{port}"));
    args.oidc_issuer = Some(idp.issuer());
    args.oidc_client_id = Some(CLIENT_ID.into());
    args.oidc_client_secret = Some(CLIENT_SECRET.into());
    args.oidc_admin_group = Some(ADMIN_GROUP.into());
    args.oidc_name = "Keycloak".into();
    change(&mut args);
    let app = spawn_app_with(Some(dir), args).await;
    wait_until_sso_ready(&app.another_browser()).await;
    app.login_admin().await;
    (app, idp)
}

/// Waits (10 s at most) until `/login` offers the SSO button.
pub async fn wait_until_sso_ready(b: &Browser) {
    for _ in 0..200 {
        if b.get_html("/login")
            .await
            .contains("Sign in with Keycloak</a>")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("single sign-on never became ready");
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// "Sign in with Keycloak" in `b`, through the provider's own form as
/// `sub` (when the provider does not know the browser yet), up to the
/// provider's redirect back: returns the callback URL, not yet followed.
pub async fn to_callback(b: &Browser, sub: &str) -> String {
    let r = b.get("/auth/oidc/login").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut at = location(&r);
    for _ in 0..6 {
        if at.starts_with(&b.address) {
            return at;
        }
        let r = b.client.get(&at).send().await.unwrap();
        if r.status() == StatusCode::SEE_OTHER || r.status() == StatusCode::FOUND {
            // The provider's own redirects are relative.
            at = reqwest::Url::parse(&at)
                .unwrap()
                .join(&location(&r))
                .unwrap()
                .to_string();
            continue;
        }
        // The provider's sign-in form.
        let html = r.text().await.unwrap();
        let action = reqwest::Url::parse(&at)
            .unwrap()
            .join(between(&html, "action=\"", "\""))
            .unwrap();
        let r = b
            .client
            .post(action.clone())
            .form(&[("login", sub), ("password", "idp-password")])
            .send()
            .await
            .unwrap();
        at = action.join(&location(&r)).unwrap().to_string();
    }
    panic!("the provider never sent the browser back: at {at}");
}

/// Signs `sub` in with SSO in a fresh browser on `app`; returns it and the
/// callback's answer.
pub async fn sso_sign_in(app: &TestApp, sub: &str) -> (Browser, reqwest::Response) {
    let b = app.another_browser();
    let callback = to_callback(&b, sub).await;
    let r = b.client.get(&callback).send().await.unwrap();
    (b, r)
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in {text}"))
        + start.len();
    &text[from..][..text[from..].find(end).unwrap()]
}

/// Where the page a callback answered sends the browser on to.
fn continues_to(html: &str) -> &str {
    between(html, "content=\"0; url=", "\"")
}

/// The audit log's (actor, action, target), oldest first.
fn audit(app: &TestApp) -> Vec<(String, String, String)> {
    app.db()
        .query_map(
            "SELECT actor, action, target FROM audit_log ORDER BY id",
            (),
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn has_entry(app: &TestApp, actor: &str, action: &str) -> bool {
    audit(app)
        .iter()
        .any(|(a, x, _)| a == actor && x.contains(action))
}

async fn make_group(app: &TestApp, name: &str, members: &[&str]) {
    let mut form = vec![("name", name)];
    for m in members {
        form.push(("members", m));
    }
    assert_redirect_to(&app.post("/admin/groups", &form).await, "/admin/groups");
}

async fn make_image(app: &TestApp, name: &str, group: &str) {
    let form = [
        ("name", name),
        ("url", "registry.example.com/team/nb:1"),
        ("image_type", "gpu"),
        ("groups", group),
    ];
    assert_redirect_to(&app.post("/admin/images", &form).await, "/admin/images");
}

fn groups_of(app: &TestApp, user: &str) -> Vec<(String, bool)> {
    app.db()
        .query_map(
            "SELECT g.name, m.from_sso FROM group_members m JOIN groups g ON g.id = m.group_id
             JOIN users u ON u.id = m.user_id WHERE u.username = ?1 ORDER BY g.name",
            [user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// [`sso_world`] with groups vision and nlp, and an image for each.
pub async fn sso_catalogue() -> (TestApp, Idp) {
    let (app, idp) = sso_world().await;
    make_group(&app, "vision", &[]).await;
    make_group(&app, "nlp", &[]).await;
    make_image(&app, "vision-gpu", "vision").await;
    make_image(&app, "nlp-gpu", "nlp").await;
    (app, idp)
}

#[tokio::test]
async fn the_provider_decides_who_is_an_admin_and_who_is_in_which_group() {
    let (app, idp) = sso_catalogue().await;

    // ada: first sign-in makes the account, an administrator by the claim.
    let (ada, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert_eq!(continues_to(&page), "/admin/secrets");
    assert!(page.contains("Your wharf account was created from Keycloak"));
    assert_eq!(ada.get("/admin/secrets").await.status(), StatusCode::OK);
    for action in [
        "account created from SSO",
        "administrator role given by SSO (group wharf-admins)",
        "signed in (SSO)",
    ] {
        assert!(
            has_entry(&app, "ada", action),
            "{action}: {:?}",
            audit(&app)
        );
    }
    // No password: nothing signs in to it with one.
    let r = app.another_browser().login("ada", "!").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // vic: a member of vision by the claim (`/vision`), lands on the
    // catalogue and sees vision's image, not nlp's.
    let (vic, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(continues_to(&r.text().await.unwrap()), "/");
    let home = vic.get_html("/").await;
    assert!(
        home.contains("vision-gpu") && !home.contains("nlp-gpu"),
        "{home}"
    );
    assert_eq!(
        vic.get("/admin/secrets").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(groups_of(&app, "vic"), [("vision".to_owned(), true)]);
    assert!(
        vic.get_html("/account/password")
            .await
            .contains("Your account has no wharf password: you sign in with Keycloak")
    );
    assert!(has_entry(&app, "vic", "added to group vision by SSO"));

    // An administrator adds vic to nlp by hand: that one stays.
    let form = app.get_html("/admin/groups/nlp").await;
    let r = app
        .post(
            "/admin/groups/nlp",
            &[
                ("display_name", ""),
                ("description", ""),
                ("members", "vic"),
                ("version", &version_in(&form)),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/groups");

    // The provider drops vision and renames vic: the next sign-in is the
    // same account (issuer and sub), out of vision, still in nlp.
    idp.set_account(
        "u-vic",
        json!({"preferred_username": "victoria", "email": "vic@example.com", "groups": []}),
    );
    let (vic, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Welcome, vic."));
    assert_eq!(groups_of(&app, "vic"), [("nlp".to_owned(), false)]);
    let home = vic.get_html("/").await;
    assert!(!home.contains("vision-gpu") && home.contains("nlp-gpu"));
    assert!(has_entry(&app, "vic", "removed from group vision by SSO"));
    let accounts: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM users WHERE username LIKE 'vic%'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(accounts, 1);

    // ada leaves the admin group: no longer an administrator, and her
    // other session sees it at once.
    idp.set_account(
        "u-ada",
        json!({"preferred_username": "ada", "groups": ["vision"]}),
    );
    let (_, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(continues_to(&r.text().await.unwrap()), "/");
    assert_eq!(
        ada.get("/admin/secrets").await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(has_entry(&app, "ada", "administrator role removed by SSO"));

    // nia has no preferred_username: named after her e-mail.
    let (_, r) = sso_sign_in(&app, "u-nia").await;
    assert!(r.text().await.unwrap().contains("Welcome, nia.okafor."));

    // The ID token is kept sealed, never in the clear.
    let raw: Vec<u8> = app
        .db()
        .query_row(
            "SELECT oidc_id_token FROM users WHERE username = 'vic'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("eyJ"));
}

#[tokio::test]
async fn sign_out_ends_the_provider_session_too() {
    let (app, idp) = sso_world().await;
    let (ada, _) = sso_sign_in(&app, "u-ada").await;
    let token = csrf_in(&ada.get_html("/admin/secrets").await);
    let r = ada.post_raw("/logout", &[("csrf_token", &token)]).await;
    // A page that moves on to the provider by itself: a form's redirect
    // to another site would be held to the page's form-action 'self'.
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Now signing you out of Keycloak too."));
    // The attribute's HTML escapes undone, as the browser does.
    let to = between(&page, "content=\"0; url=", "\"").replace("&#38;", "&");
    let end = url_parts(&to);
    assert!(
        to.starts_with(&format!("{}/session/end?", idp.issuer())),
        "{to}"
    );
    assert_eq!(end["client_id"], CLIENT_ID);
    assert_eq!(end["post_logout_redirect_uri"], app.url("/login"));
    assert!(end["id_token_hint"].starts_with("eyJ"));
    // Forgotten with the sessions it belonged to.
    let forgotten: bool = app
        .db()
        .query_row(
            "SELECT oidc_id_token IS NULL FROM users WHERE username = 'ada'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert!(forgotten);
    assert_redirect_to(&ada.get("/admin/secrets").await, "/login");
    // The provider takes the hint: its confirmation page, not an error.
    let page = ada.client.get(&to).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("logout"));

    // A password session signs out at wharf only.
    let token = csrf_in(&app.get_html("/admin/secrets").await);
    assert_redirect_to(
        &app.post_raw("/logout", &[("csrf_token", &token)]).await,
        "/login",
    );
}

fn url_parts(url: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The audited refusal reasons of the callbacks in a test, newest last.
fn refusals(app: &TestApp) -> Vec<String> {
    audit(app)
        .into_iter()
        .filter(|(_, a, _)| a.starts_with("SSO sign-in refused"))
        .map(|(_, a, _)| a)
        .collect()
}

/// A callback that must not sign anyone in: to `/login?sso=<code>`, no
/// session, and one more audited refusal that says `reason`.
async fn refused(app: &TestApp, b: &Browser, r: reqwest::Response, code: &str, reason: &str) {
    assert_redirect_to(&r, &format!("/login?sso={code}"));
    assert_redirect_to(&b.get("/").await, "/login");
    let last = refusals(app).pop().unwrap_or_default();
    assert!(last.contains(reason), "{last:?} should say {reason:?}");
    // The sentence on the sign-in page.
    let page = b.get_html(&format!("/login?sso={code}")).await;
    assert!(page.contains("role=\"alert\""), "{page}");
}

#[tokio::test]
async fn forged_replayed_and_doctored_answers_are_refused_and_audited() {
    let (app, idp) = sso_world().await;

    // A forged state: the browser's flow is genuine, the answer is not
    // its own.
    let b = app.another_browser();
    let callback = to_callback(&b, "u-vic").await;
    let forged = callback.replace("state=", "state=forged");
    let r = b.client.get(&forged).send().await.unwrap();
    refused(&app, &b, r, "state", "the state does not match").await;

    // The same answer without the flow cookie (another browser, or the
    // cookie spent): refused as expired.
    let other = app.another_browser();
    let r = other.client.get(&callback).send().await.unwrap();
    refused(
        &app,
        &other,
        r,
        "expired",
        "no sign-in was started in this browser",
    )
    .await;

    // A replayed code: someone who has the answer and the flow cookie
    // both sends them again after the sign-in: the provider refuses the
    // code.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let b = Browser::with_client(
        &app.address,
        reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    );
    let callback = to_callback(&b, "u-vic").await;
    let flow_cookie = {
        use reqwest::cookie::CookieStore;
        jar.cookies(&callback.parse().unwrap())
            .expect("the flow cookie")
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert!(flow_cookie.contains("wharf_sso_flow="));
    let r = b.client.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the genuine sign-in");
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = replay
        .get(&callback)
        .header("cookie", &flow_cookie)
        .send()
        .await
        .unwrap();
    assert_redirect_to(&r, "/login?sso=failed");
    let last = refusals(&app).pop().unwrap();
    assert!(
        last.contains("the provider did not accept the code: invalid_grant"),
        "{last}"
    );

    // The provider (or someone in the middle) hands out a doctored ID
    // token: each check refuses it.
    for (mode, reason) in [
        ("nonce", "the ID token was refused: Invalid nonce"),
        ("audience", "the ID token was refused: Invalid audiences"),
        ("issuer", "the ID token was refused: Invalid issuer"),
        (
            "expired",
            "the ID token was refused: Expired: ID token expired at",
        ),
        ("none", "the ID token was refused: "),
        ("foreign-key", "the ID token was refused: "),
    ] {
        idp.tamper(mode).await;
        let b = app.another_browser();
        let callback = to_callback(&b, "u-ada").await;
        let r = b.client.get(&callback).send().await.unwrap();
        refused(&app, &b, r, "failed", reason).await;
    }
    idp.tamper("off").await;
    let last = refusals(&app);
    for reason in &last {
        println!("audited: {reason}");
    }
    let unsigned = &last[last.len() - 2];
    let foreign = &last[last.len() - 1];
    assert!(unsigned.to_lowercase().contains("sign"), "{unsigned}");
    assert!(foreign.to_lowercase().contains("signature"), "{foreign}");

    // The person says no at the provider.
    let b = app.another_browser();
    let mut at = location(&b.get("/auth/oidc/login").await);
    at = next_hop(&b, &at).await; // the provider's sign-in page
    at = next_hop(&b, &format!("{at}/abort")).await;
    let callback = next_hop(&b, &at).await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let r = b.client.get(&callback).send().await.unwrap();
    refused(&app, &b, r, "denied", "the provider answered access_denied").await;
    assert!(
        b.get_html("/login?sso=denied")
            .await
            .contains("Keycloak did not sign you in: access was denied.")
    );

    // An answer that names another issuer (RFC 9207 mix-up).
    let b = app.another_browser();
    let callback = to_callback(&b, "u-vic").await;
    let mixed = callback.replace(
        &format!("iss={}", urlencode(&idp.issuer())),
        "iss=https%3A%2F%2Fevil.example",
    );
    assert_ne!(mixed, callback);
    let r = b.client.get(&mixed).send().await.unwrap();
    refused(
        &app,
        &b,
        r,
        "failed",
        "does not name this provider as its issuer",
    )
    .await;
    // This provider promises `iss` (RFC 9207): an answer without it is
    // refused too.
    let b = app.another_browser();
    let callback = to_callback(&b, "u-vic").await;
    let bare = callback.replace(&format!("&iss={}", urlencode(&idp.issuer())), "");
    assert_ne!(bare, callback);
    let r = b.client.get(&bare).send().await.unwrap();
    refused(
        &app,
        &b,
        r,
        "failed",
        "does not name this provider as its issuer",
    )
    .await;

    // Nothing was signed in by any of it: only ada's and vic's genuine
    // sign-ins made accounts (vic's, the replay's first half).
    let names: Vec<String> = app
        .db()
        .query_map("SELECT username FROM users ORDER BY username", (), |r| {
            r.get(0)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(names, [ADMIN, "vic"]);
    // Prometheus sees them, and that the provider is up.
    let token = wharf::cli::token_create(&app.db, ADMIN, "scrape", "read", 3600).unwrap();
    let metrics = app
        .api(reqwest::Method::GET, "/metrics", Some(&token), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("wharf_sso_sign_ins_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    let refused = format!(
        "wharf_sso_sign_ins_total{{result=\"refused\"}} {}",
        refusals(&app).len()
    );
    assert!(metrics.contains(&refused), "{refused}: {metrics}");
    assert!(metrics.contains("wharf_sso_provider_up 1"), "{metrics}");
    // An unknown code on /login shows nothing; an HTML one is not echoed.
    let page = app.another_browser().get_html("/login?sso=<b>x</b>").await;
    assert!(!page.contains("<b>x") && !page.contains("role=\"alert\""));
}

/// Where a GET of `url` redirects to, as an absolute URL.
async fn next_hop(b: &Browser, url: &str) -> String {
    let r = b.client.get(url).send().await.unwrap();
    reqwest::Url::parse(url)
        .unwrap()
        .join(&location(&r))
        .unwrap()
        .to_string()
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}

/// Review 4, "who may sign in": with `--oidc-required-group`, only its
/// members sign in; anyone else is refused with a sentence and audited,
/// and no account is made for them.
#[tokio::test]
async fn only_members_of_the_required_group_sign_in() {
    let (app, _idp) = sso_world_with(|a| a.oidc_required_group = Some("/vision".into())).await;
    let (b, r) = sso_sign_in(&app, "u-ada").await;
    refused(&app, &b, r, "notmember", "not in the group vision").await;
    // Under no account's name: the one the provider claims could be
    // anyone's here.
    assert!(has_entry(
        &app,
        "(unknown user)",
        "SSO sign-in refused (subject u-ada is not in the group vision, which --oidc-required-group names)"
    ));
    assert!(
        b.get_html("/login?sso=notmember")
            .await
            .contains("Your Keycloak account is not in the group that may use wharf.")
    );
    let (_, r) = sso_sign_in(&app, "u-nia").await;
    assert_redirect_to(&r, "/login?sso=notmember");
    let accounts: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM users WHERE oidc_subject IS NOT NULL",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(accounts, 0, "no account for those left out");
    let (_, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Welcome, vic."));
}

/// Review 4, finding 4: unlinking an identity ends what it signed in to:
/// the account's sessions end and its API tokens are revoked in the same
/// transaction, audited with the count, as a password reset does.
#[tokio::test]
async fn unlinking_an_identity_ends_its_sessions_and_tokens() {
    let (app, idp) = sso_world().await;
    app.add_user("vic", "vics-own-long-password", false);
    let (b, r) = sso_sign_in(&app, "u-vic").await;
    refused(
        &app,
        &b,
        r,
        "taken",
        "belongs to an account with a password",
    )
    .await;
    let r = app
        .post(
            "/admin/users/vic/sso",
            &[
                ("action", "link"),
                ("issuer", &idp.issuer()),
                ("subject", "u-vic"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    let (vic, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = wharf::cli::token_create(&app.db, "vic", "ci", "read", 3600).unwrap();
    let (s, _) = app
        .api_json(Method::GET, "/api/v1/catalogue", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(vic.get("/").await.status(), StatusCode::OK);

    let r = app
        .post("/admin/users/vic/sso", &[("action", "unlink")])
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    let page = app.get_html("/admin/users/vic").await;
    assert!(
        page.contains("Their sessions are ended; 1 API token revoked."),
        "{page}"
    );
    assert_redirect_to(&vic.get("/").await, "/login");
    let (s, _) = app
        .api_json(Method::GET, "/api/v1/catalogue", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(has_entry(&app, ADMIN, "SSO identity unlinked"));
    assert!(has_entry(
        &app,
        ADMIN,
        "sessions ended; 1 API token revoked"
    ));
    // The administrator's own session goes on.
    assert_eq!(app.get("/admin/users").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_password_account_is_never_taken_over_until_an_administrator_links_it() {
    let (app, idp) = sso_world().await;
    app.add_user("vic", "vics-own-long-password", false);

    let (b, r) = sso_sign_in(&app, "u-vic").await;
    refused(
        &app,
        &b,
        r,
        "taken",
        "the username vic belongs to an account with a password",
    )
    .await;
    assert!(
        b.get_html("/login?sso=taken")
            .await
            .contains("Ask an administrator to link your Keycloak identity")
    );
    assert!(has_entry(&app, "vic", "SSO sign-in refused"));

    // The account's page offers the link, with what the provider said of
    // the person; the administrator takes it.
    let page = app.get_html("/admin/users/vic").await;
    assert!(page.contains("Link SSO identity"), "{page}");
    assert!(page.contains("username <code>vic</code>, e-mail <code>vic@example.com</code>, subject <code>u-vic</code>"), "{page}");
    // A link names the identity the page showed: another one (a newer
    // refused sign-in replaced it meanwhile) is refused.
    let issuer = idp.issuer();
    let r = app
        .post(
            "/admin/users/vic/sso",
            &[
                ("action", "link"),
                ("issuer", &issuer),
                ("subject", "u-mallory"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    assert!(
        app.get_html("/admin/users/vic")
            .await
            .contains("is no longer the one waiting for vic")
    );
    // A link that names no identity links nothing, and dismisses nothing.
    let r = app
        .post(
            "/admin/users/vic/sso",
            &[("action", "link"), ("issuer", ""), ("subject", "")],
        )
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    let page = app.get_html("/admin/users/vic").await;
    assert!(
        page.contains("is no longer the one waiting for vic"),
        "{page}"
    );
    assert!(page.contains("Link SSO identity"), "the offer stays");
    assert!(!has_entry(&app, ADMIN, "refused SSO sign-in dismissed"));
    let r = app
        .post(
            "/admin/users/vic/sso",
            &[
                ("action", "link"),
                ("issuer", &issuer),
                ("subject", "u-vic"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    assert!(has_entry(&app, ADMIN, "SSO identity linked"));
    let page = app.get_html("/admin/users/vic").await;
    assert!(!page.contains("Link SSO identity"));
    assert!(page.contains("Single sign-on: <code>u-vic</code>"));

    // Now vic signs in with SSO to that same account; the password still
    // works too.
    let id_before: i64 = app
        .db()
        .query_row("SELECT id FROM users WHERE username = 'vic'", (), |r| {
            r.get(0)
        })
        .unwrap();
    let (_, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Welcome, vic."));
    let id_after: i64 = app
        .db()
        .query_row(
            "SELECT id FROM users WHERE oidc_subject = 'u-vic'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(id_before, id_after);
    assert_redirect_to(
        &app.another_browser()
            .login("vic", "vics-own-long-password")
            .await,
        "/",
    );
    // Nothing left to link: a second link is refused with a sentence.
    let r = app
        .post(
            "/admin/users/vic/sso",
            &[
                ("action", "link"),
                ("issuer", &issuer),
                ("subject", "u-vic"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    assert!(
        app.get_html("/admin/users/vic")
            .await
            .contains("is no longer the one waiting for vic")
    );

    // Unlinked, vic is a password account again: SSO is refused anew, and
    // that refusal can be dismissed.
    let r = app
        .post("/admin/users/vic/sso", &[("action", "unlink")])
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    assert!(has_entry(&app, ADMIN, "SSO identity unlinked"));
    let (b, r) = sso_sign_in(&app, "u-vic").await;
    refused(
        &app,
        &b,
        r,
        "taken",
        "belongs to an account with a password",
    )
    .await;
    let r = app
        .post("/admin/users/vic/sso", &[("action", "dismiss")])
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    assert!(has_entry(&app, ADMIN, "refused SSO sign-in dismissed"));
    assert!(
        !app.get_html("/admin/users/vic")
            .await
            .contains("Link SSO identity")
    );
    let r = app
        .post("/admin/users/vic/sso", &[("action", "explode")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_namesake_gets_a_number_and_no_offer_lands_on_a_numbered_account() {
    let (app, idp) = sso_world().await;
    let (_, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(r.status(), StatusCode::OK);
    app.add_user("vic-2", "vic-twos-long-password", false);
    // Another person called vic at the provider: vic is another identity's,
    // vic-2 a password account that is not theirs by name.
    idp.set_account(
        "u-vic-other",
        json!({"preferred_username": "vic", "groups": []}),
    );
    let (_, r) = sso_sign_in(&app, "u-vic-other").await;
    assert!(r.text().await.unwrap().contains("Welcome, vic-3."));
    let offers: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM sso_link_offers", (), |r| r.get(0))
        .unwrap();
    assert_eq!(offers, 0);
}

#[tokio::test]
async fn with_password_sign_in_off_a_linked_account_uses_sso_only() {
    let (app, idp) = sso_world_with(|args| args.password_login = "off".into()).await;
    app.add_user("vic", "vics-own-long-password", false);
    let (_, r) = sso_sign_in(&app, "u-vic").await;
    assert_redirect_to(&r, "/login?sso=taken");
    let issuer = idp.issuer();
    let r = app
        .post(
            "/admin/users/vic/sso",
            &[
                ("action", "link"),
                ("issuer", &issuer),
                ("subject", "u-vic"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/users/vic");
    // Its wharf password no longer signs it in, even at /login?local.
    let b = app.another_browser();
    let token = csrf_in(&b.get_html("/login?local").await);
    let r = b
        .post_raw(
            "/login?local",
            &[
                ("username", "vic"),
                ("password", "vics-own-long-password"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(has_entry(
        &app,
        "vic",
        "sign-in failed (password sign-in is off for accounts with single sign-on)"
    ));
    // SSO does; the break-glass administrator's password does too.
    let (_, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = csrf_in(&b.get_html("/login?local").await);
    let r = b
        .post_raw(
            "/login?local",
            &[
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
}

#[tokio::test]
async fn a_disabled_sso_account_cannot_sign_in() {
    let (app, _idp) = sso_world().await;
    let (_, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(r.status(), StatusCode::OK);
    let form = app.get_html("/admin/users/vic").await;
    let r = app
        .post(
            "/admin/users/vic",
            &[("password", ""), ("version", &version_in(&form))],
        )
        .await;
    assert_redirect_to(&r, "/admin/users");
    let (b, r) = sso_sign_in(&app, "u-vic").await;
    refused(&app, &b, r, "disabled", "the account vic is disabled").await;
}

#[tokio::test]
async fn wharf_starts_while_the_provider_is_down_and_password_sign_in_stays() {
    let port = free_port();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), CLIENT_SECRET).unwrap();
    // Nothing listens at the issuer yet.
    let idp_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut args = serve_args();
    args.listen = format!("127.0.0.1:{port}");
    args.public_url = Some(format!("http://127.0.0.1:{port}"));
    args.oidc_issuer = Some(format!("http://localhost:{idp_port}"));
    args.oidc_client_id = Some(CLIENT_ID.into());
    args.oidc_client_secret_file = Some(secret.path().to_path_buf());
    args.oidc_name = "Keycloak".into();
    args.password_login = "off".into();
    let app = spawn_app_with(Some(dir), args).await;
    let page = app.get_html("/login").await;
    assert!(
        page.contains("Single sign-on with Keycloak is unavailable right now"),
        "{page}"
    );
    // With --password-login off the form is hidden, but break-glass
    // sign-in is at /login?local.
    assert!(!page.contains("name=\"password\""));
    assert!(page.contains("href=\"/login?local\""));
    assert_redirect_to(&app.get("/auth/oidc/login").await, "/login?sso=unavailable");
    let local = app.get_html("/login?local").await;
    assert!(local.contains("action=\"/login?local\"") && local.contains("name=\"password\""));
    app.add_user(ADMIN, ADMIN_PASSWORD, true);
    let token = csrf_in(&local);
    let r = app
        .post_raw(
            "/login?local",
            &[
                ("username", ADMIN),
                ("password", "wrong"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let again = r.text().await.unwrap();
    assert!(again.contains("action=\"/login?local\""), "the form stays");
    let r = app
        .post_raw(
            "/login?local",
            &[
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");

    // The provider comes up: discovery is retried and the button appears.
    let _idp = Idp::start_on(idp_port, port).await;
    for _ in 0..300 {
        if app
            .another_browser()
            .get_html("/login")
            .await
            .contains("Sign in with Keycloak</a>")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("discovery was not retried");
}

#[tokio::test]
async fn a_configuration_that_can_never_work_stops_wharf_with_a_clear_message() {
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), CLIENT_SECRET).unwrap();
    let s = secret.path().to_str().unwrap();
    let base = [
        "--check-every",
        "0",
        "--public-url",
        "https://wharf.example.com",
        "--oidc-client-id",
        "wharf",
    ];
    for (extra, says) in [
        (
            vec![
                "--oidc-issuer",
                "http://keycloak.example.com/realms/x",
                "--oidc-client-secret-file",
                s,
            ],
            "the issuer must be an https URL",
        ),
        (
            vec!["--oidc-issuer", "https://keycloak.example.com/realms/x"],
            "--oidc-issuer needs the client secret",
        ),
        (
            vec![
                "--oidc-issuer",
                "https://kc.example.com",
                "--oidc-client-secret-file",
                "/nonexistent/secret",
            ],
            "--oidc-client-secret-file /nonexistent/secret",
        ),
        (
            vec!["--password-login", "off"],
            "--password-login off needs single sign-on",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args([
                "--data-dir",
                dir.path().to_str().unwrap(),
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(base)
            .args(&extra)
            .env_remove("WHARF_OIDC_CLIENT_SECRET")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{extra:?}: {err}");
    }
}

#[tokio::test]
async fn one_address_cannot_fill_the_audit_log_with_refused_answers() {
    let (app, _idp) = sso_world().await;
    let b = app.another_browser();
    let mut answers = Vec::new();
    for i in 0..40 {
        let r = b
            .get(&format!("/auth/oidc/callback?code=x{i}&state=forged{i}"))
            .await;
        answers.push(r.status().as_u16());
    }
    // Every answer is refused alike, but only 30 in 15 minutes are
    // audited from one address: it cannot fill the log.
    assert!(answers.iter().all(|s| *s == 303), "{answers:?}");
    assert_eq!(refusals(&app).len(), 30);
    // A sign-in that works is never held back, from that address too; nor
    // is a password sign-in.
    let (ada, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(ada.get("/admin/secrets").await.status(), StatusCode::OK);
    assert_redirect_to(
        &app.another_browser().login(ADMIN, ADMIN_PASSWORD).await,
        "/admin/secrets",
    );
}

#[tokio::test]
async fn a_token_without_the_groups_claim_changes_no_role_and_no_group() {
    let (app, idp) = sso_world().await;
    make_group(&app, "vision", &[]).await;
    idp.set_account(
        "u-ada",
        json!({"preferred_username": "ada", "groups": [ADMIN_GROUP, "vision"]}),
    );
    let (_, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(r.status(), StatusCode::OK);
    // The provider's groups mapper goes missing: no claim at all.
    idp.set_account("u-ada", json!({"preferred_username": "ada"}));
    let (ada, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(continues_to(&r.text().await.unwrap()), "/admin/secrets");
    assert_eq!(ada.get("/admin/secrets").await.status(), StatusCode::OK);
    assert_eq!(groups_of(&app, "ada"), [("vision".to_owned(), true)]);
    assert!(has_entry(
        &app,
        "ada",
        "the ID token has no groups claim: role and groups left as they were"
    ));
    // An empty claim is a claim: out of vision, and no longer an
    // administrator, unless that would leave none.
    app.db()
        .execute("UPDATE users SET is_admin = 0 WHERE username = ?1", [ADMIN])
        .unwrap();
    idp.set_account("u-ada", json!({"preferred_username": "ada", "groups": []}));
    let (ada, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(groups_of(&app, "ada").is_empty());
    assert_eq!(ada.get("/admin/secrets").await.status(), StatusCode::OK);
    assert!(has_entry(
        &app,
        "ada",
        "administrator role kept: the last active administrator"
    ));
}

#[tokio::test]
async fn a_signing_key_the_provider_rotated_in_is_fetched_when_first_seen() {
    let (app, idp) = sso_world().await;
    let (_, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(r.status(), StatusCode::OK);
    // The provider restarts with a new key (and key ID); wharf still holds
    // the old key set.
    let wharf_port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let port = idp.port;
    drop(idp);
    let _idp = Idp::start_on(port, wharf_port).await;
    tokio::time::sleep(wharf::sso::REDISCOVER_AFTER).await;
    let (ada, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", refusals(&app));
    assert_eq!(ada.get("/admin/secrets").await.status(), StatusCode::OK);
}

/// `wharf_sso_provider_up` now, read with an administrator's token.
async fn provider_up(app: &TestApp) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let name = format!(
        "metrics-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let token = wharf::cli::token_create(&app.db, ADMIN, &name, "read", 3600).unwrap();
    let text = app
        .api(Method::GET, "/metrics", Some(&token), None)
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("wharf_sso_provider_up "))
        .unwrap_or("absent")
        .trim()
        .to_owned()
}

/// Waits (up to `secs`) until a fresh browser's `/login` contains `text`;
/// how long that took.
async fn login_page_says(app: &TestApp, text: &str, secs: u64) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        let page = app.another_browser().get_html("/login").await;
        if page.contains(text) {
            return started.elapsed();
        }
        assert!(
            started.elapsed().as_secs() < secs,
            "/login never said {text:?} in {secs} s:\n{page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

const UNAVAILABLE: &str =
    "Single sign-on with Keycloak is unavailable right now: Keycloak cannot be reached.";
const BUTTON: &str = "Sign in with Keycloak</a>";

/// A provider that stops while wharf runs is noticed within the check
/// interval (1 s here; 30 s by default): `/login` says single sign-on is
/// unavailable and keeps the password form, the gauge reads 0, no sign-in
/// is sent there; and all of it recovers by itself when the provider
/// returns.
#[tokio::test]
async fn a_provider_that_stops_is_noticed_and_so_is_its_return() {
    let (app, idp) = sso_world_with(|a| a.oidc_check_every = wharf::options::Seconds(1)).await;
    assert_eq!(provider_up(&app).await, "1");
    let (_, r) = sso_sign_in(&app, "u-ada").await;
    assert_eq!(r.status(), StatusCode::OK);

    let idp_port = idp.port;
    drop(idp);
    let noticed = login_page_says(&app, UNAVAILABLE, 15).await;
    assert!(noticed.as_secs() < 5, "noticed after {noticed:?}");
    let page = app.another_browser().get_html("/login").await;
    assert!(
        page.contains("name=\"password\"") && !page.contains(BUTTON),
        "{page}"
    );
    assert!(!page.contains("or with your wharf password"), "{page}");
    assert_eq!(provider_up(&app).await, "0");
    assert_redirect_to(
        &app.another_browser().get("/auth/oidc/login").await,
        "/login?sso=unavailable",
    );

    let wharf_port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let _idp = Idp::start_on(idp_port, wharf_port).await;
    let back = login_page_says(&app, BUTTON, 15).await;
    assert!(back.as_secs() < 5, "back after {back:?}");
    assert_eq!(provider_up(&app).await, "1");
    let (_, r) = sso_sign_in(&app, "u-vic").await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// The provider gone between the browser's visit and its return: the
/// sentence says its token endpoint could not be reached (not that the
/// answer could not be verified), and wharf marks it down at once, well
/// before its next check (30 s).
#[tokio::test]
async fn a_provider_that_dies_mid_sign_in_is_named_as_the_cause() {
    let (app, idp) = sso_world().await;
    let b = app.another_browser();
    let callback = to_callback(&b, "u-vic").await;
    drop(idp);
    let r = b.client.get(&callback).send().await.unwrap();
    refused(
        &app,
        &b,
        r,
        "unreachable",
        "token endpoint could not be reached",
    )
    .await;
    let page = b.get_html("/login?sso=unreachable").await;
    assert!(
        page.contains("Keycloak could not be reached at its token endpoint"),
        "{page}"
    );
    assert!(!page.contains("could not be verified"), "{page}");
    // At once: no check has run since (one every 30 s).
    let now = app.another_browser().get_html("/login").await;
    assert!(now.contains(UNAVAILABLE), "{now}");
    assert_eq!(provider_up(&app).await, "0");
}

/// Someone signed in who opens `/login`, or a callback again, goes home.
#[tokio::test]
async fn a_signed_in_person_goes_home_from_login_and_a_spent_callback() {
    let (app, _idp) = sso_world().await;
    // The administrator with a password.
    assert_redirect_to(&app.get("/login").await, "/admin/secrets");
    assert_redirect_to(&app.get("/login?local").await, "/admin/secrets");
    // vic by single sign-on, opening the callback again.
    let b = app.another_browser();
    let callback = to_callback(&b, "u-vic").await;
    let r = b.client.get(&callback).send().await.unwrap();
    assert_eq!(continues_to(&r.text().await.unwrap()), "/");
    assert_redirect_to(&b.client.get(&callback).send().await.unwrap(), "/");
    assert_redirect_to(&b.get("/login").await, "/");
    assert!(b.get_html("/").await.contains("Sign out"));
}

/// Two tabs: a sign-in started in each, either finishes (each once); the
/// one finished first leaves the other under way.
#[tokio::test]
async fn two_sign_ins_under_way_in_one_browser_each_finish_once() {
    let (app, _idp) = sso_world().await;
    let b = app.another_browser();
    let first = to_callback(&b, "u-vic").await;
    let second = to_callback(&b, "u-vic").await;
    // The first tab finishes first.
    let r = b.client.get(&first).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.headers());
    assert!(b.get_html("/").await.contains("vic"));
    let token = csrf_in(&b.get_html("/").await);
    let r = b.post_raw("/logout", &[("csrf_token", &token)]).await;
    assert!(r.status().is_redirection() || r.status().is_success());
    assert_redirect_to(&b.get("/").await, "/login");
    // The second still can.
    let r = b.client.get(&second).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.headers());
    assert!(b.get_html("/").await.contains("Sign out"));
    // Each only once: signed out again, neither answer signs in.
    let token = csrf_in(&b.get_html("/").await);
    b.post_raw("/logout", &[("csrf_token", &token)]).await;
    for spent in [&first, &second] {
        let r = b.client.get(spent.as_str()).send().await.unwrap();
        let to = location(&r);
        assert!(to.starts_with("/login?sso="), "{to}");
        assert_redirect_to(&b.get("/").await, "/login");
    }
}

/// With `--oidc-name` left at "SSO", the notice names "the provider"
/// (not "SSO cannot be reached"), and no "or with your wharf password"
/// stands alone above the form.
#[tokio::test]
async fn the_default_name_reads_as_a_sentence() {
    let port = free_port();
    let mut args = serve_args();
    args.listen = format!("127.0.0.1:{port}");
    args.public_url = Some(format!("http://127.0.0.1:{port}"));
    args.oidc_issuer = Some(format!("http://localhost:{}", free_port()));
    args.oidc_client_id = Some(CLIENT_ID.into());
    args.oidc_client_secret = Some(CLIENT_SECRET.into());
    let app = spawn_app_with(None, args).await;
    let page = app.get_html("/login").await;
    assert!(
        page.contains("Single sign-on is unavailable right now: the provider cannot be reached."),
        "{page}"
    );
    assert!(
        !page.contains("SSO cannot be reached") && !page.contains("or with your wharf password")
    );
    let r = app.get_html("/login?sso=unavailable").await;
    assert!(r.contains("the provider cannot be reached"), "{r}");
}
