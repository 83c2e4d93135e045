//! The seed's flow clicked in a real headless Chromium through chromedriver,
//! by the texts people see.

use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::helpers::*;

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    _process: KillOnDrop,
    port: u16,
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (the README's test command installs chromium-driver)");
    let driver = Driver {
        _process: KillOnDrop(child),
        port,
    };
    wait_for_port(port, "chromedriver").await;
    driver
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    browser_as(driver, profile, None).await
}

/// A browser whose page is 390 × 844 CSS pixels, as a phone's: a headless
/// window cannot be made narrower than 500, so the page is emulated.
async fn phone(driver: &Driver, profile: &std::path::Path) -> Client {
    browser_as(driver, profile, Some((390, 844))).await
}

async fn browser_as(
    driver: &Driver,
    profile: &std::path::Path,
    emulate: Option<(u32, u32)>,
) -> Client {
    let mut options = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-dev-shm-usage", "--window-size=1366,900",
            format!("--user-data-dir={}", profile.display()),
        ]
    });
    if let Some((width, height)) = emulate {
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0}
        });
    }
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": options
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session")
}

/// Finds the input, select or textarea whose `<label>` reads `text`.
async fn field(c: &Client, text: &str) -> fantoccini::elements::Element {
    let label = c
        .find(Locator::XPath(&format!(
            "//label[normalize-space()='{text}']"
        )))
        .await
        .unwrap_or_else(|_| panic!("a label {text:?}"));
    let id = label.attr("for").await.unwrap().expect("label has for=");
    c.find(Locator::Id(&id)).await.unwrap()
}

async fn type_into(c: &Client, label: &str, value: &str) {
    field(c, label).await.send_keys(value).await.unwrap();
}

/// Ticks (or unticks) the checkbox inside the `<label>` that reads `text`.
async fn tick(c: &Client, text: &str) {
    c.find(Locator::XPath(&format!(
        "//label[normalize-space()='{text}']/input[@type='checkbox']"
    )))
    .await
    .unwrap_or_else(|_| panic!("a checkbox labelled {text:?}"))
    .click()
    .await
    .unwrap();
}

/// Signs out, then in as `user`.
async fn sign_in_as(c: &Client, user: &str, password: &str) {
    click_to(c, "Sign out", "/login").await;
    type_into(c, "Username", user).await;
    type_into(c, "Password", password).await;
    click(c, "Sign in").await;
    wait_for(c, "Sign out").await;
}

/// Clicks the link or button that reads `text`, the first one shown (an
/// area's link is also in the small screens' menu, hidden on a wide one).
async fn click(c: &Client, text: &str) {
    let found = c
        .find_all(Locator::XPath(&format!(
            "//a[normalize-space()='{text}'] | //button[normalize-space()='{text}']"
        )))
        .await
        .unwrap_or_default();
    for e in found {
        if e.is_displayed().await.unwrap_or(false) {
            e.click().await.unwrap();
            return;
        }
    }
    panic!("something shown to click reading {text:?}");
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Clicks `text` and waits until the browser is at `path`.
async fn click_to(c: &Client, text: &str, path: &str) {
    click(c, text).await;
    for _ in 0..200 {
        if c.current_url().await.is_ok_and(|u| u.path() == path) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("clicking {text:?} did not lead to {path}");
}

/// Waits (up to 10 s) for the page to show `text`, and returns the page's text.
async fn wait_for(c: &Client, text: &str) -> String {
    for _ in 0..200 {
        if let Ok(body) = c.find(Locator::Css("body")).await
            && let Ok(t) = body.text().await
            && t.contains(text)
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(c, "failure.png").await;
    panic!(
        "the page never showed {text:?}; it shows:\n{}",
        body_text(c).await
    );
}

async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    // The pictures the README and the guides show are these same ones,
    // written anew on request (`tests/api/docs.rs` checks each exists).
    if DOCS_SCREENSHOTS.contains(&name) && std::env::var_os("WHARF_DOCS_SCREENSHOTS").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::write(docs.join(name), &png).unwrap();
    }
    std::fs::write(dir.join(name), png).unwrap();
}

/// The screenshots `docs/` and the README show.
const DOCS_SCREENSHOTS: [&str; 2] = ["screenshot.png", "sso-sign-in.png"];

#[tokio::test]
async fn an_administrator_clicks_through_the_seed_guide() {
    let app = spawn_app().await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // First start: /login says where the first account comes from, and
    // /setup without its token says so too.
    c.goto(&app.url("/login")).await.unwrap();
    wait_for(
        &c,
        "No administrator yet: open the setup link that wharf printed in its log",
    )
    .await;
    c.goto(&app.url("/setup")).await.unwrap();
    wait_for(&c, "one-time setup link that wharf printed in its log").await;
    // The setup link from the log makes the first administrator.
    c.goto(app.setup_url.as_deref().unwrap()).await.unwrap();
    type_into(&c, "Username", "admin").await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    type_into(&c, "Confirm Password", ADMIN_PASSWORD).await;
    click(&c, "Create administrator").await;
    wait_for(&c, "You are the first administrator.").await;

    // An error page keeps the navigation of whoever is signed in.
    c.goto(&app.url("/admin/secrets/nope")).await.unwrap();
    let text = wait_for(&c, "There is no secret named nope.").await;
    assert!(
        text.contains("Sign out") && text.contains("Clusters"),
        "{text}"
    );

    // Sign out and in again, as on any other day (no first-start hint now).
    click_to(&c, "Sign out", "/login").await;
    assert!(!body_text(&c).await.contains("No administrator yet"));
    type_into(&c, "Username", "admin").await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    click(&c, "Sign in").await;
    wait_for(&c, "Sign out").await;

    // 2. Enter Secrets and click "+ Add".
    click_to(&c, "Secrets", "/admin/secrets").await;
    click_to(&c, "+ Add", "/admin/secrets/new").await;
    // 3. Name, Display Name, Type "Image Pull".
    type_into(&c, "Name", "gitlab-registry").await;
    type_into(&c, "Display Name", "GitLab registry").await;
    field(&c, "Type")
        .await
        .select_by_label("Image Pull")
        .await
        .unwrap();
    // With JS on, the Git Sync key field is hidden for an Image Pull secret.
    assert!(!field(&c, "Secret").await.is_displayed().await.unwrap());
    // 4. Registry Host; 5. Username and Password (the deploy token).
    type_into(&c, "Registry Host", "registry.gitlab.com").await;
    type_into(&c, "Username", "gitlab+deploy-token-78108").await;
    type_into(&c, "Password", "glpat-browser-token").await;
    screenshot(&c, "secret-form.png").await;
    // 6. Confirm.
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Secret gitlab-registry created.").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/admin/secrets");
    assert!(
        text.contains("GitLab registry")
            && text.contains("registry.gitlab.com")
            && text.contains("Image Pull")
    );
    assert!(!c.source().await.unwrap().contains("glpat-browser-token"));

    // A rejected form comes back with the message beside the field.
    click_to(&c, "+ Add", "/admin/secrets/new").await;
    type_into(&c, "Name", "Not Valid").await;
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Registry Host is required.").await;
    assert!(text.contains("lowercase letters"));
    assert_eq!(
        field(&c, "Name")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("Not Valid")
    );
    click_to(&c, "Cancel", "/admin/secrets").await;

    // The seed's last step: an image on the private registry uses the secret.
    click_to(&c, "Images", "/admin/images").await;
    click_to(&c, "+ Add", "/admin/images/new").await;
    type_into(&c, "Name", "team-notebook").await;
    type_into(&c, "Display Name", "Team Notebook").await;
    type_into(
        &c,
        "Container Image URL",
        "registry.gitlab.com/team/notebook:v1",
    )
    .await;
    let select = field(&c, "Image Pull Secret").await;
    assert!(
        !select.is_enabled().await.unwrap(),
        "the select waits for the box"
    );
    field(&c, "Use Image Pull Secret")
        .await
        .click()
        .await
        .unwrap();
    assert!(select.is_enabled().await.unwrap());
    select.select_by_label("GitLab registry").await.unwrap();
    screenshot(&c, "image-form.png").await;
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Image team-notebook created.").await;
    assert!(text.contains("Team Notebook") && text.contains("GitLab registry"));
    screenshot(&c, "images-list.png").await;
    // The README's picture: the Secrets list with its secret in use.
    click_to(&c, "Secrets", "/admin/secrets").await;
    wait_for(&c, "GitLab registry").await;
    screenshot(&c, "screenshot.png").await;

    // Another person gets an account and sees the catalogue, not the portal.
    click_to(&c, "Users", "/admin/users").await;
    click_to(&c, "+ Add", "/admin/users/new").await;
    type_into(&c, "Username", "dana").await;
    type_into(&c, "Password", "dana-long-password").await;
    assert!(field(&c, "Active").await.is_selected().await.unwrap());
    click(&c, "Confirm").await;
    wait_for(&c, "User dana created.").await;
    click_to(&c, "Sign out", "/login").await;
    type_into(&c, "Username", "dana").await;
    type_into(&c, "Password", "dana-long-password").await;
    click(&c, "Sign in").await;
    let text = wait_for(&c, "The container images you can use").await;
    assert!(
        text.contains("Team Notebook") && text.contains("registry.gitlab.com/team/notebook:v1")
    );
    assert!(!text.contains("Admin Portal") && !text.contains("gitlab+deploy-token"));
    screenshot(&c, "catalogue.png").await;
    c.goto(&app.url("/admin/secrets")).await.unwrap();
    wait_for(&c, "You have to be admin to view this page").await;
    c.goto(&app.url("/")).await.unwrap();
    click_to(&c, "Sign out", "/login").await;
    type_into(&c, "Username", "admin").await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    click(&c, "Sign in").await;
    wait_for(&c, "Sign out").await;

    // Groups, as in PrimeHub: "vision" with dana in it gets its own image;
    // dana sees it, eve (in no group) does not.
    click_to(&c, "Users", "/admin/users").await;
    click_to(&c, "+ Add", "/admin/users/new").await;
    type_into(&c, "Username", "eve").await;
    type_into(&c, "Password", "eves-long-password").await;
    click(&c, "Confirm").await;
    wait_for(&c, "User eve created.").await;
    click_to(&c, "Groups", "/admin/groups").await;
    click_to(&c, "+ Add", "/admin/groups/new").await;
    type_into(&c, "Name", "vision").await;
    type_into(&c, "Display Name", "Vision team").await;
    type_into(&c, "Description", "Computer vision research").await;
    tick(&c, "dana").await;
    screenshot(&c, "group-form.png").await;
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Group vision created.").await;
    assert!(text.contains("Vision team"));
    screenshot(&c, "groups-list.png").await;
    click_to(&c, "Images", "/admin/images").await;
    click_to(&c, "+ Add", "/admin/images/new").await;
    type_into(&c, "Name", "vision-gpu").await;
    type_into(&c, "Display Name", "Vision GPU notebook").await;
    type_into(
        &c,
        "Container Image URL",
        "registry.gitlab.com/vision/notebook:cuda12",
    )
    .await;
    assert!(
        field(&c, "Global").await.is_selected().await.unwrap(),
        "new images start Global"
    );
    field(&c, "Global").await.click().await.unwrap();
    tick(&c, "Vision team").await;
    screenshot(&c, "image-form-groups.png").await;
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Image vision-gpu created.").await;
    assert!(text.contains("Vision team") && text.contains("Global"));
    sign_in_as(&c, "dana", "dana-long-password").await;
    let text = wait_for(&c, "The container images you can use").await;
    assert!(
        text.contains("Vision GPU notebook") && text.contains("Team Notebook"),
        "{text}"
    );
    screenshot(&c, "catalogue-member.png").await;
    sign_in_as(&c, "eve", "eves-long-password").await;
    let text = wait_for(&c, "The container images you can use").await;
    assert!(
        text.contains("Team Notebook") && !text.contains("Vision GPU notebook"),
        "{text}"
    );
    screenshot(&c, "catalogue-non-member.png").await;
    sign_in_as(&c, "admin", ADMIN_PASSWORD).await;
    click_to(&c, "Images", "/admin/images").await;
    click(&c, "Delete").await;
    wait_for(&c, "Are you sure to delete").await;
    c.goto(&app.url("/admin/images/vision-gpu/delete"))
        .await
        .unwrap();
    click(&c, "Yes").await;
    wait_for(&c, "Image vision-gpu deleted.").await;

    // The secret is now in use: the list counts it, its page names the
    // image, and delete is refused.
    click_to(&c, "Secrets", "/admin/secrets").await;
    screenshot(&c, "secrets-list.png").await;
    click_to(&c, "gitlab-registry", "/admin/secrets/gitlab-registry").await;
    let text = wait_for(&c, "Used by").await;
    assert!(
        text.contains("Team Notebook")
            && text.contains("Download manifest")
            && text.contains("Test login")
    );
    c.set_window_size(1366, 1900).await.unwrap();
    screenshot(&c, "secret-edit.png").await;
    c.set_window_size(1366, 900).await.unwrap();
    click_to(&c, "Cancel", "/admin/secrets").await;
    click(&c, "Delete").await;
    let text = wait_for(&c, "cannot be deleted").await;
    assert!(text.contains("Team Notebook"), "{text}");

    // Delete the image, then the secret, answering "Yes".
    click_to(&c, "Images", "/admin/images").await;
    click(&c, "Delete").await;
    wait_for(&c, "Are you sure to delete Team Notebook image?").await;
    click(&c, "Yes").await;
    wait_for(&c, "Image team-notebook deleted.").await;
    click_to(&c, "Secrets", "/admin/secrets").await;
    click(&c, "Delete").await;
    wait_for(&c, "Are you sure to delete GitLab registry secret?").await;
    click(&c, "Yes").await;
    wait_for(&c, "Secret gitlab-registry deleted.").await;

    // Every step above is in the audit log.
    click_to(&c, "Audit", "/admin/audit").await;
    let text = wait_for(&c, "Audit log").await;
    for action in ["secret deleted", "image created", "user created", "sign-in"] {
        assert!(text.contains(action), "{action}");
    }
    screenshot(&c, "audit.png").await;
    click_to(&c, "Users", "/admin/users").await;
    screenshot(&c, "users.png").await;

    // An API token for a CI job: made on its page, shown once, then revoked.
    click_to(&c, "API tokens", "/account/tokens").await;
    type_into(&c, "Token name", "ci-rotate").await;
    field(&c, "Scope")
        .await
        .select_by_label("Read and write")
        .await
        .unwrap();
    click(&c, "Create token").await;
    let text = wait_for(&c, "Copy this token now; it will not be shown again.").await;
    assert!(text.contains("wharf_") && text.contains("Read and write"));
    screenshot(&c, "tokens.png").await;
    // Reached by a redirect: a refresh posts nothing again and shows the
    // page without the token, and without an error.
    assert_eq!(c.current_url().await.unwrap().path(), "/account/tokens");
    c.refresh().await.unwrap();
    let text = wait_for(&c, "ci-rotate").await;
    assert!(
        !text.contains("Copy this token now") && !text.contains("already have a token"),
        "{text}"
    );
    click(&c, "Revoke").await;
    wait_for(&c, "Token ci-rotate revoked.").await;
    click_to(&c, "Tokens", "/admin/tokens").await;
    wait_for(&c, "revoked").await;

    // A user's tokens, all revoked from their page (a suspected takeover).
    app.add_user("carol", "carols-long-password", false);
    let carols = wharf::cli::token_create(&app.db, "carol", "laptop", "read", 3600).unwrap();
    c.goto(&app.url("/admin/users/carol")).await.unwrap();
    wait_for(&c, "API tokens: 1 live").await;
    screenshot(&c, "user-tokens.png").await;
    click(&c, "Revoke all tokens").await;
    let text = wait_for(&c, "1 API token of carol revoked.").await;
    assert!(text.contains("none live"), "{text}");
    let r = app
        .api(
            reqwest::Method::GET,
            "/api/v1/catalogue",
            Some(&carols),
            None,
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);

    // On a narrow window the areas are in the menu and the table scrolls
    // inside its box (a_phone_reaches_every_area_and_nothing_scrolls_sideways
    // holds every page to it).
    c.set_window_size(390, 844).await.unwrap();
    open_menu(&c).await;
    click_to(&c, "Secrets", "/admin/secrets").await;
    screenshot(&c, "phone-secrets.png").await;
    click_to(&c, "+ Add", "/admin/secrets/new").await;
    screenshot(&c, "phone-secret-form.png").await;

    c.close().await.unwrap();
}

#[tokio::test]
async fn an_administrator_retries_an_undelivered_notification() {
    // Notifications go to a port where nothing listens.
    let mut args = serve_args();
    args.check_every = wharf::options::Every(Some(1));
    args.notify_url = Some(format!("http://127.0.0.1:{}/hook", free_port()));
    let app = spawn_app_with(None, args).await;
    app.login_admin().await;
    let yesterday = (time::OffsetDateTime::now_utc().date() - time::Duration::days(1)).to_string();
    let r = app
        .post(
            "/admin/secrets",
            &[
                ("name", "old-key"),
                ("type", "git_sync"),
                ("secret", SSH_KEY),
                ("expires_on", &yesterday),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/secrets");
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    c.goto(&app.url("/login")).await.unwrap();
    type_into(&c, "Username", ADMIN).await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    click(&c, "Sign in").await;
    wait_for(&c, "Sign out").await;
    // The first try fails within a tick or two.
    let mut text = String::new();
    for _ in 0..20 {
        c.goto(&app.url("/admin/audit")).await.unwrap();
        text = body_text(&c).await;
        if text.contains("Undelivered notifications") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        text.contains("could not connect") && text.contains("old-key"),
        "{text}"
    );
    screenshot(&c, "audit-undelivered.png").await;
    click(&c, "Retry").await;
    wait_for(&c, "The notification about old-key will be sent again now.").await;
    c.close().await.unwrap();
}

/// Issue 20 by clicking: a secret delivered to clusters, a cluster added
/// (its token shown once), its setup page, and the dry run of "which secret
/// serves this image?".
#[tokio::test]
async fn an_administrator_delivers_a_secret_to_a_cluster() {
    let mut args = serve_args();
    args.serving_flush_every = wharf::options::Seconds(1);
    let app = spawn_app_with(None, args).await;
    app.add_user(ADMIN, ADMIN_PASSWORD, true);
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    c.goto(&app.url("/login")).await.unwrap();
    type_into(&c, "Username", ADMIN).await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    click(&c, "Sign in").await;
    wait_for(&c, "Sign out").await;

    click_to(&c, "Secrets", "/admin/secrets").await;
    click_to(&c, "+ Add", "/admin/secrets/new").await;
    type_into(&c, "Name", "gitlab-registry").await;
    type_into(&c, "Registry Host", "registry.gitlab.com").await;
    type_into(&c, "Username", "gitlab+deploy-token-1").await;
    type_into(&c, "Password", "glpat-delivered").await;
    field(&c, "Deliver to clusters")
        .await
        .click()
        .await
        .unwrap();
    type_into(&c, "Node image patterns", "registry.gitlab.com/team").await;
    screenshot(&c, "secret-deliver.png").await;
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Secret gitlab-registry created.").await;
    assert!(text.contains("delivered"), "the list's badge: {text}");

    click_to(&c, "Clusters", "/admin/clusters").await;
    wait_for(&c, "No clusters yet.").await;
    click_to(&c, "+ Add", "/admin/clusters/new").await;
    type_into(&c, "Name", "prod-eu").await;
    type_into(&c, "Display Name", "Production (EU)").await;
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Copy this token now; it will not be shown again.").await;
    assert_eq!(
        c.current_url().await.unwrap().path(),
        "/admin/clusters/prod-eu"
    );
    let token = c
        .find(Locator::Css("code.token"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(token.starts_with("wharf_") && token.len() == 49, "{token}");
    for step in [
        "Nodes: kubelet's credential provider",
        "--image-credential-provider-config=/etc/kubernetes/wharf-credential-provider.yaml",
        "--image-credential-provider-bin-dir=/usr/local/lib/kubelet-credential-providers",
        "/usr/local/lib/kubelet-credential-providers/wharf-credential-provider",
        "Namespaces: External Secrets Operator",
        "kubectl -n external-secrets create secret generic wharf-cluster-token",
        "registry.gitlab.com/team",
    ] {
        assert!(text.contains(step), "{step}: {text}");
    }
    screenshot(&c, "cluster-setup.png").await;
    // F5 on the setup page: the page again, without the token or an error.
    c.refresh().await.unwrap();
    let again = wait_for(&c, "Nodes: kubelet's credential provider").await;
    assert!(
        !again.contains(&token) && !again.contains("already exists"),
        "{again}"
    );

    // Both files are links on the page.
    for link in ["Download kubelet config", "Download ESO manifests"] {
        c.find(Locator::LinkText(link)).await.unwrap();
    }

    // The dry run.
    type_into(&c, "Image", "registry.gitlab.com/team/notebook:v1").await;
    click(&c, "Look up").await;
    let text = wait_for(&c, "kubelet asks about registry.gitlab.com/team/notebook").await;
    assert!(
        text.contains("gitlab-registry") && text.contains("gitlab+deploy-token-1"),
        "{text}"
    );
    field(&c, "Image").await.clear().await.unwrap();
    type_into(&c, "Image", "ghcr.io/other/app").await;
    click(&c, "Look up").await;
    wait_for(&c, "No delivered secret serves it").await;

    // The list shows the cluster; the token is not on the page any more.
    click_to(&c, "Clusters", "/admin/clusters").await;
    let text = wait_for(&c, "prod-eu").await;
    assert!(text.contains("Production (EU)") && text.contains("never"));
    click_to(&c, "Set up", "/admin/clusters/prod-eu").await;
    assert!(!c.source().await.unwrap().contains(&token));

    // A node pulls with it; then deleting the secret, or the cluster, names
    // what breaks and wants the name typed.
    let r = reqwest::Client::new()
        .get(app.url("/api/v1/credentials?image=registry.gitlab.com/team/notebook"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let started = std::time::Instant::now();
    while app
        .db()
        .query_row("SELECT COUNT(*) FROM serving_hours", (), |r| {
            r.get::<usize, i64>(0)
        })
        .unwrap()
        == 0
    {
        assert!(started.elapsed().as_secs() < 10, "never counted");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    click_to(&c, "Secrets", "/admin/secrets").await;
    click_to(&c, "Delete", "/admin/secrets/gitlab-registry/delete").await;
    let text = wait_for(&c, "Cluster prod-eu (1 request, last in the hour from").await;
    assert!(
        text.contains("images matching registry.gitlab.com/team"),
        "{text}"
    );
    screenshot(&c, "secret-delete-in-use.png").await;
    type_into(&c, "Type gitlab-registry to delete it", "gitlab").await;
    click(&c, "Yes").await;
    wait_for(&c, "Type gitlab-registry exactly to delete it.").await;
    type_into(&c, "Type gitlab-registry to delete it", "gitlab-registry").await;
    click(&c, "Yes").await;
    wait_for(&c, "Secret gitlab-registry deleted.").await;
    click_to(&c, "Clusters", "/admin/clusters").await;
    c.goto(&app.url("/admin/clusters/prod-eu/delete"))
        .await
        .unwrap();
    let text = wait_for(&c, "It was last seen").await;
    assert!(text.contains("Type prod-eu to delete it"), "{text}");
    type_into(&c, "Type prod-eu to delete it", "prod-eu").await;
    click(&c, "Yes").await;
    wait_for(&c, "Cluster prod-eu deleted").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_administrator_adds_an_amazon_ecr_secret() {
    let app = spawn_app().await;
    app.add_user(ADMIN, ADMIN_PASSWORD, true);
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    c.goto(&app.url("/login")).await.unwrap();
    type_into(&c, "Username", ADMIN).await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    click(&c, "Sign in").await;
    wait_for(&c, "Sign out").await;

    click_to(&c, "+ Add", "/admin/secrets/new").await;
    field(&c, "Type")
        .await
        .select_by_value("ecr")
        .await
        .unwrap();
    // The type's own fields, and not the others'.
    assert!(
        field(&c, "Access Key ID")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    assert!(!field(&c, "Username").await.is_displayed().await.unwrap());
    assert!(!field(&c, "Secret").await.is_displayed().await.unwrap());
    // An ECR token renews itself: no Expires date to keep.
    assert!(!field(&c, "Expires").await.is_displayed().await.unwrap());
    type_into(&c, "Name", "ecr-prod").await;
    type_into(&c, "Registry Host", "ghcr.io").await;
    type_into(&c, "Access Key ID", "AKIAIOSFODNN7EXAMPLE").await;
    type_into(
        &c,
        "Secret Access Key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    .await;
    // An endpoint nobody listens on, on loopback: nothing leaves the machine.
    let closed = format!("http://127.0.0.1:{}", free_port());
    type_into(&c, "ECR API endpoint", &closed).await;
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Registry Host must be an Amazon ECR registry: <12-digit account>.dkr.ecr.<region>.amazonaws.com").await;
    // The secret key was not kept, and the page says so beside it.
    assert!(
        text.contains("Paste it again: wharf never sends a password or key back"),
        "{text}"
    );
    // The form kept the type and the values, never the secret key.
    assert_eq!(
        field(&c, "Access Key ID")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("AKIAIOSFODNN7EXAMPLE")
    );
    assert_eq!(
        field(&c, "Secret Access Key")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("")
    );
    let host = field(&c, "Registry Host").await;
    host.clear().await.unwrap();
    host.send_keys("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        .await
        .unwrap();
    type_into(
        &c,
        "Secret Access Key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    .await;
    screenshot(&c, "secret-ecr-form.png").await;
    click(&c, "Confirm").await;
    let text = wait_for(&c, "Secret ecr-prod created.").await;
    assert!(
        text.contains("Amazon ECR") && text.contains("no token yet"),
        "{text}"
    );

    click_to(&c, "ecr-prod", "/admin/secrets/ecr-prod").await;
    let text = wait_for(&c, "No registry token yet: a download mints one").await;
    assert!(text.contains("Deliver to clusters"), "{text}");
    // Test login mints first: the endpoint refuses, and the page says so.
    click(&c, "Test login").await;
    let text = wait_for(&c, "The ECR API could not be reached").await;
    assert!(!text.contains("wJalrXUtnFEMI"), "{text}");
    screenshot(&c, "secret-ecr-page.png").await;
}

/// Waits (10 s at most) until the browser is at `path` on `host`.
async fn wait_at(c: &Client, host: &str, path: &str) {
    for _ in 0..200 {
        if c.current_url()
            .await
            .is_ok_and(|u| u.host_str() == Some(host) && u.path() == path)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(c, "failure.png").await;
    panic!(
        "the browser never reached {host}{path}; it is at {:?}",
        c.current_url().await.map(|u| u.to_string())
    );
}

/// "Sign in with Keycloak", the provider's own form (on `localhost`, another
/// site), and back in wharf.
async fn sign_in_with_sso(c: &Client, sub: &str, shots: Option<(&str, &str)>) {
    wait_for(c, "Sign in with Keycloak").await;
    if let Some((button, _)) = shots {
        screenshot(c, button).await;
    }
    click(c, "Sign in with Keycloak").await;
    wait_for(c, "Test identity provider").await;
    assert_eq!(
        c.current_url().await.unwrap().host_str(),
        Some("localhost"),
        "the provider is another site"
    );
    type_into(c, "Username", sub).await;
    type_into(c, "Password", "idp-password").await;
    if let Some((_, form)) = shots {
        screenshot(c, form).await;
    }
    click(c, "Sign in").await;
}

/// "Sign out" in wharf, "Yes, sign me out" at the provider, back at
/// wharf's sign-in page.
async fn sign_out_everywhere(c: &Client, shot: Option<&str>) {
    click(c, "Sign out").await;
    wait_for(c, "Yes, sign me out").await;
    if let Some(name) = shot {
        screenshot(c, name).await;
    }
    click(c, "Yes, sign me out").await;
    wait_at(c, "127.0.0.1", "/login").await;
}

#[tokio::test]
async fn people_sign_in_with_the_platforms_identity_provider() {
    let (app, idp) = crate::sso::sso_catalogue().await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // ada, in the provider's admin group, lands in the Admin Portal, signed
    // in on the first page she sees: the session cookie is SameSite=Strict
    // and still there after the provider's cross-site redirect back.
    c.goto(&app.url("/login")).await.unwrap();
    sign_in_with_sso(
        &c,
        "u-ada",
        Some(("sso-sign-in.png", "sso-provider-form.png")),
    )
    .await;
    wait_at(&c, "127.0.0.1", "/admin/secrets").await;
    let text = wait_for(&c, "Sign out").await;
    assert!(text.contains("ada") && text.contains("Secrets"), "{text}");
    screenshot(&c, "sso-landed.png").await;
    // Signing out ends the provider's session too (it asks first).
    sign_out_everywhere(&c, Some("sso-provider-sign-out.png")).await;
    c.goto(&app.url("/admin/secrets")).await.unwrap();
    wait_at(&c, "127.0.0.1", "/login").await;

    // vic, in `/vision` at the provider, lands on the catalogue with
    // vision's image and not nlp's.
    sign_in_with_sso(&c, "u-vic", None).await;
    wait_at(&c, "127.0.0.1", "/").await;
    let text = wait_for(&c, "vision-gpu").await;
    assert!(!text.contains("nlp-gpu"), "{text}");
    screenshot(&c, "sso-catalogue.png").await;

    // The provider drops vision: the next sign-in takes the membership away.
    idp.set_account(
        "u-vic",
        serde_json::json!({"preferred_username": "vic", "groups": []}),
    );
    sign_out_everywhere(&c, None).await;
    sign_in_with_sso(&c, "u-vic", None).await;
    wait_at(&c, "127.0.0.1", "/").await;
    let text = wait_for(&c, "Sign out").await;
    assert!(!text.contains("vision-gpu"), "{text}");
    sign_out_everywhere(&c, None).await;

    // nia's name at wharf belongs to a password account: refused, with a
    // sentence, until an administrator links her.
    app.add_user("nia.okafor", "nias-own-long-password", false);
    sign_in_with_sso(&c, "u-nia", None).await;
    wait_at(&c, "127.0.0.1", "/login").await;
    wait_for(&c, "Ask an administrator to link your Keycloak identity").await;
    screenshot(&c, "sso-refused-namesake.png").await;

    // The administrator with a password links her, and reads what happened.
    type_into(&c, "Username", ADMIN).await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    click(&c, "Sign in").await;
    wait_for(&c, "Sign out").await;
    c.goto(&app.url("/admin/users/nia.okafor")).await.unwrap();
    wait_for(&c, "e-mail Nia.Okafor@example.com").await;
    c.execute(
        "document.querySelector('.sso-offer').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    screenshot(&c, "sso-link-offer.png").await;
    click(&c, "Link SSO identity").await;
    wait_for(&c, "The single sign-on identity is linked to nia.okafor").await;
    c.goto(&app.url("/admin/audit")).await.unwrap();
    let text = wait_for(&c, "Audit log").await;
    for action in [
        "account created from SSO",
        "administrator role given by SSO (group wharf-admins)",
        "added to group vision by SSO",
        "removed from group vision by SSO",
        "signed in (SSO)",
        "SSO sign-in refused (the username nia.okafor belongs to an account with a password)",
        "SSO identity linked",
    ] {
        assert!(text.contains(action), "{action}: {text}");
    }
    screenshot(&c, "sso-audit.png").await;
    c.close().await.unwrap();
}

/// Single sign-on across the two sites when it gets harder: a sign-in
/// started in each of two tabs (the first finishes), a callback reopened by
/// someone signed in (home, not an error), and a provider that stops
/// (`/login` says so within seconds, with the password form) and returns
/// (the button is back by itself). `--oidc-check-every 1s` here.
#[tokio::test]
async fn single_sign_on_with_two_tabs_a_reopened_callback_and_a_provider_that_stops() {
    let (app, idp) =
        crate::sso::sso_world_with(|a| a.oidc_check_every = wharf::options::Seconds(1)).await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // Tab A starts a sign-in, tab B another; tab A finishes.
    c.goto(&app.url("/login")).await.unwrap();
    click(&c, "Sign in with Keycloak").await;
    wait_for(&c, "Test identity provider").await;
    let tab_a = c.window().await.unwrap();
    let tab_b = c.new_window(true).await.unwrap();
    c.switch_to_window(tab_b.handle).await.unwrap();
    c.goto(&app.url("/auth/oidc/login")).await.unwrap();
    wait_for(&c, "Test identity provider").await;
    c.switch_to_window(tab_a).await.unwrap();
    type_into(&c, "Username", "u-vic").await;
    type_into(&c, "Password", "idp-password").await;
    click(&c, "Sign in").await;
    wait_at(&c, "127.0.0.1", "/").await;
    let text = wait_for(&c, "Sign out").await;
    assert!(text.contains("vic"), "{text}");
    screenshot(&c, "sso-two-tabs.png").await;

    // A callback reopened while signed in, and /login: home.
    c.goto(&app.url("/auth/oidc/callback?code=spent&state=spent"))
        .await
        .unwrap();
    wait_at(&c, "127.0.0.1", "/").await;
    let text = wait_for(&c, "Sign out").await;
    assert!(!text.contains("Start again"), "{text}");
    c.goto(&app.url("/login")).await.unwrap();
    wait_at(&c, "127.0.0.1", "/").await;

    // The provider stops.
    sign_out_everywhere(&c, None).await;
    let (idp_port, started) = (idp.port, std::time::Instant::now());
    drop(idp);
    loop {
        c.goto(&app.url("/login")).await.unwrap();
        let text = body_text(&c).await;
        if text.contains("Single sign-on with Keycloak is unavailable right now") {
            assert!(!text.contains("Sign in with Keycloak"), "{text}");
            break;
        }
        assert!(started.elapsed().as_secs() < 15, "never noticed:\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(field(&c, "Password").await.is_displayed().await.unwrap());
    screenshot(&c, "sso-provider-down.png").await;

    // It returns: the button is back, and it works.
    let wharf_port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let _idp = crate::sso::Idp::start_on(idp_port, wharf_port).await;
    let started = std::time::Instant::now();
    loop {
        c.goto(&app.url("/login")).await.unwrap();
        if body_text(&c).await.contains("Sign in with Keycloak") {
            break;
        }
        assert!(started.elapsed().as_secs() < 15, "never back");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    sign_in_with_sso(&c, "u-vic", None).await;
    wait_at(&c, "127.0.0.1", "/").await;
    wait_for(&c, "Sign out").await;
}

/// Opens the small screens' "Menu".
async fn open_menu(c: &Client) {
    c.find(Locator::Css(".nav-menu > summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The page's width and the window's, in CSS pixels.
async fn widths(c: &Client) -> (u64, u64) {
    let v = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .unwrap();
    (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
}

/// Clicks the first Copy button `css` finds and waits for it to say so.
async fn copy_with(c: &Client, css: &str) {
    let button = c.find(Locator::Css(css)).await.unwrap();
    button.click().await.unwrap();
    for _ in 0..100 {
        if button.text().await.unwrap() == "Copied" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} never said Copied: {}", button.text().await.unwrap());
}

/// Issue 35, items 5 and 9. On a 390 px phone no page scrolls sideways as
/// a whole (tables and commands scroll inside their own boxes), every area
/// is in the "Menu", and each command has a Copy button. At 1366 px the
/// commands stay inside their panels and "Change password" is in the
/// account menu. A member gets back to the catalogue from their tokens
/// page, and the catalogue wraps an image's address between its parts and
/// copies it whole.
#[tokio::test]
async fn a_phone_reaches_every_area_and_nothing_scrolls_sideways() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.add_user("dana", "danas-long-password", false);
    let admin = token(&app, ADMIN, "setup", "write", 3600);
    let long = "registry.gitlab.com/infuseai/ml-images/tensorflow-notebook-with-a-very-long-name:2.15.0-cuda12.2-cudnn8-runtime-ubuntu22.04";
    for (path, body) in [
        (
            "/api/v1/secrets",
            serde_json::json!({"name": "gitlab", "display_name": "GitLab registry",
                "type": "image_pull", "registry_host": "registry.gitlab.com",
                "username": "gitlab+deploy-token-1", "password": "glpat-phone", "deliver": true,
                "node_patterns": ["registry.gitlab.com/infuseai/ml-images/tensorflow-notebook-with-a-very-long-name"]}),
        ),
        (
            "/api/v1/images",
            serde_json::json!({"name": "tf-gpu", "display_name": "TensorFlow 2.15 GPU",
                "type": "gpu", "url": long, "pull_secret": "gitlab", "global": true}),
        ),
        ("/api/v1/clusters", serde_json::json!({"name": "prod-eu"})),
    ] {
        let (status, v) = app
            .api_json(reqwest::Method::POST, path, Some(&admin), Some(body))
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{path}: {v}");
    }
    let driver = start_driver().await;

    let profile = tempfile::tempdir().unwrap();
    let c = phone(&driver, profile.path()).await;
    c.goto(&app.url("/login")).await.unwrap();
    type_into(&c, "Username", ADMIN).await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    click(&c, "Sign in").await;
    wait_for(&c, "Menu").await;
    for path in [
        "/admin/secrets",
        "/admin/secrets/new",
        "/admin/secrets/gitlab",
        "/admin/images",
        "/admin/images/new",
        "/admin/images/tf-gpu",
        "/admin/clusters",
        "/admin/clusters/prod-eu",
        "/admin/users",
        "/admin/users/dana",
        "/admin/groups",
        "/admin/tokens",
        "/admin/audit",
        "/",
        "/account/tokens",
        "/account/password",
        "/admin/secrets/gitlab/delete",
    ] {
        c.goto(&app.url(path)).await.unwrap();
        wait_for(&c, "Menu").await;
        let (page, window) = widths(&c).await;
        assert_eq!(window, 390, "{path}");
        assert!(
            page <= window,
            "{path} is {page} px wide on a {window} px phone"
        );
    }
    // Every area from the menu: the sidebar is not shown.
    c.goto(&app.url("/admin/secrets")).await.unwrap();
    assert!(
        !c.find(Locator::Css(".sidebar"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    open_menu(&c).await;
    screenshot(&c, "phone-menu.png").await;
    let mut shown = Vec::new();
    for a in c
        .find_all(Locator::Css(
            ".nav-menu .menu-panel a, .nav-menu .menu-panel button",
        ))
        .await
        .unwrap()
    {
        assert!(a.is_displayed().await.unwrap());
        shown.push(a.text().await.unwrap());
    }
    assert_eq!(
        shown,
        [
            "Secrets",
            "Images",
            "Clusters",
            "Users",
            "Groups",
            "Tokens",
            "Audit",
            "User view (catalogue)",
            "API tokens",
            "Change password",
            "Sign out"
        ]
    );
    click_to(&c, "Groups", "/admin/groups").await;
    // The setup page's commands scroll inside their boxes and copy.
    c.goto(&app.url("/admin/clusters/prod-eu")).await.unwrap();
    wait_for(&c, "Nodes: kubelet's credential provider").await;
    let copies = c.find_all(Locator::Css(".copyable .copy")).await.unwrap();
    assert_eq!(copies.len(), 6, "a Copy button for each command");
    copy_with(&c, ".copyable .copy").await;
    screenshot(&c, "phone-cluster-setup.png").await;
    c.close().await.unwrap();

    // At 1366 px: commands inside their panels, the account menu.
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    c.goto(&app.url("/login")).await.unwrap();
    type_into(&c, "Username", ADMIN).await;
    type_into(&c, "Password", ADMIN_PASSWORD).await;
    click(&c, "Sign in").await;
    wait_for(&c, "Sign out").await;
    c.goto(&app.url("/admin/clusters/prod-eu")).await.unwrap();
    wait_for(&c, "Nodes: kubelet's credential provider").await;
    let outside = c
        .execute(
            "return Array.from(document.querySelectorAll('pre')).filter(p => \
               p.getBoundingClientRect().right > p.closest('.panel').getBoundingClientRect().right).length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(outside, 0, "command blocks stay inside their panels");
    let (page, window) = widths(&c).await;
    assert!(page <= window, "{page} > {window}");
    c.find(Locator::Css(".account-menu > summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    screenshot(&c, "account-menu.png").await;
    click_to(&c, "Change password", "/account/password").await;
    // Counted words, and an audit entry that names what changed.
    c.goto(&app.url("/admin/secrets/gitlab/delete"))
        .await
        .unwrap();
    wait_for(
        &c,
        "Secret GitLab registry cannot be deleted: 1 image uses it as its Image Pull Secret.",
    )
    .await;
    c.goto(&app.url("/admin/secrets/gitlab")).await.unwrap();
    field(&c, "Display Name").await.clear().await.unwrap();
    type_into(&c, "Display Name", "GitLab (team)").await;
    type_into(&c, "Password", "glpat-rotated").await;
    click(&c, "Confirm").await;
    wait_for(&c, "Secret gitlab updated.").await;
    click_to(&c, "Audit", "/admin/audit").await;
    let log = wait_for(&c, "secret updated (Display Name, Password)").await;
    assert!(!log.contains("glpat"), "{log}");

    // A member: from their tokens page back to the catalogue, where an
    // image's address wraps between its parts and copies whole.
    sign_in_as(&c, "dana", "danas-long-password").await;
    c.goto(&app.url("/account/tokens")).await.unwrap();
    click_to(&c, "Catalogue", "/").await;
    let code = c.find(Locator::Css("code.url")).await.unwrap();
    assert_eq!(code.text().await.unwrap(), long);
    // It wraps where a line may break (after a '/' or a '-'), not at
    // the card's edge in the middle of a word.
    let lines = c
        .execute(
            "const r = document.createRange(); r.selectNodeContents(document.querySelector('code.url')); \
             return Array.from(r.getClientRects()).length",
            vec![],
        )
        .await
        .unwrap();
    assert!(lines.as_u64().unwrap() >= 2, "{lines}");
    copy_with(&c, "code.url + .copy").await;
    c.close().await.unwrap();
}
