//! Spawning the real app on a free port with a fresh data directory, a
//! cookie-keeping client that does not follow redirects, and JSON API calls
//! as scripts make them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::{Method, Response, StatusCode, redirect::Policy};
use serde_json::{Value, json};
use tempfile::TempDir;
use wharf::cli::args::ServeArgs;
use wharf::options::Seconds;
use wharf::startup::{Application, ServerConfig};

pub const ADMIN: &str = "admin";
/// A syntactically valid SSH private key for Git Sync secrets.
pub const SSH_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// The tables [`TestApp::digest`] reads, each with its query: every row in
/// full, in key order, unless a comment says what is left out and why.
const DIGESTED: &[(&str, &str)] = &[
    ("users", "SELECT * FROM users ORDER BY id"),
    ("secrets", "SELECT * FROM secrets ORDER BY id"),
    ("images", "SELECT * FROM images ORDER BY id"),
    ("groups", "SELECT * FROM groups ORDER BY id"),
    (
        "group_members",
        "SELECT * FROM group_members ORDER BY group_id, user_id",
    ),
    (
        "image_groups",
        "SELECT * FROM image_groups ORDER BY image_id, group_id",
    ),
    // Without last_used_at and last_used_from: every request a token
    // authenticates notes its use there, reads and refused writes too.
    (
        "api_tokens",
        "SELECT id, user_id, name, scope, hash, created_at, expires_at, revoked_at
         FROM api_tokens ORDER BY id",
    ),
    // Without the entries that record something which changes no data, by
    // design (`?1`..`?4`, bound by `digest`): a failed sign-in, a refused
    // password change (the form is refused, yet the attempt is recorded),
    // a download of a manifest, docker config or the export.
    (
        "audit_log",
        "SELECT * FROM audit_log WHERE action NOT IN (?1, ?2, ?3, ?4) ORDER BY id",
    ),
    ("notifications", "SELECT * FROM notifications ORDER BY id"),
    (
        "sso_link_offers",
        "SELECT * FROM sso_link_offers ORDER BY user_id",
    ),
    (
        "change_counters",
        "SELECT * FROM change_counters ORDER BY tbl",
    ),
    ("key_check", "SELECT * FROM key_check ORDER BY id"),
    (
        "delivered_patterns",
        "SELECT * FROM delivered_patterns ORDER BY pattern",
    ),
    // Without last_seen_at and last_seen_from: every request a cluster
    // token authenticates notes it there, refused ones too.
    (
        "clusters",
        "SELECT id, name, display_name, token_hash, token_created_at, created_at
         FROM clusters ORDER BY id",
    ),
    // The AUTOINCREMENT tables' last ids: a row made and removed again
    // leaves its trace here.
    (
        "sqlite_sequence",
        "SELECT * FROM sqlite_sequence ORDER BY name",
    ),
];

/// The tables [`TestApp::digest`] leaves out, each for a reason.
const LEFT_OUT: &[&str] = &[
    // Failed sign-ins and password checks, kept to throttle guessing: a
    // refused attempt is meant to add a row (and a success to clear them)
    // while it changes no data.
    "login_failures",
    // Requests per cluster and hour: counts of reads, which change no data.
    "cluster_requests",
    // What clusters were served and refused per hour: the same.
    "serving_hours",
];

/// The app under test, with a data directory of its own and its first
/// browser: `app.get(...)`, `app.post(...)` and `app.client` are that
/// browser's (through `Deref`); `another_browser()` opens more.
pub struct TestApp {
    pub browser: Browser,
    pub setup_url: Option<String>,
    pub dir: TempDir,
    /// Where its data lives (SQLite in `dir`, or PostgreSQL).
    pub db: wharf::db::Location,
}

impl std::ops::Deref for TestApp {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

/// One cookie jar on the app: a person at a browser.
pub struct Browser {
    pub address: String,
    pub client: reqwest::Client,
}

pub fn serve_args() -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".into(),
        secure_cookies: false,
        trust_proxy: false,
        check_every: wharf::options::Every(None),
        notify_url: None,
        public_url: None,
        trusted_proxies: wharf::options::ProxyList::loopback(),
        session_idle: Seconds(3600),
        session_max: Seconds(12 * 3600),
        node_cache: Seconds(3600),
        serving_flush_every: Seconds(60),
        oidc_issuer: None,
        oidc_client_id: None,
        oidc_client_secret_file: None,
        oidc_client_secret: None,
        oidc_scopes: "openid profile email groups".into(),
        oidc_groups_claim: "groups".into(),
        oidc_admin_group: None,
        oidc_required_group: None,
        oidc_name: "SSO".into(),
        oidc_check_every: Seconds(30),
        password_login: "on".into(),
        master_key_file: None,
        session_key_file: None,
        master_key: None,
        session_key: None,
        db: Default::default(),
    }
}

/// Starts wharf on `dir` (a fresh one when `None`).
pub async fn spawn_app_in(dir: Option<TempDir>) -> TestApp {
    spawn_app_with(dir, serve_args()).await
}

/// Starts wharf with these server options.
pub async fn spawn_app_with(dir: Option<TempDir>, mut serve: ServeArgs) -> TestApp {
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().expect("temp dir"));
    // WHARF_TEST_ENGINE=postgres: the same test on a database of its own
    // in the throwaway PostgreSQL, with the keys in files beside it.
    if std::env::var("WHARF_TEST_ENGINE").as_deref() == Ok("postgres")
        && serve.db.database_url.is_none()
    {
        serve.db.database_url = Some(crate::pg::cluster().database());
        if serve.master_key_file.is_none() && serve.master_key.is_none() {
            let [master, session] = wharf::keys::generate(&dir.path().join("keys")).expect("keys");
            serve.master_key_file = Some(master);
            serve.session_key_file = Some(session);
        }
    }
    let db = serve.db.location(dir.path()).expect("a database location");
    let app = Application::build(ServerConfig {
        data_dir: dir.path().to_path_buf(),
        serve,
    })
    .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let setup_url = app.setup_url().map(str::to_owned);
    tokio::spawn(app.run_until_stopped());
    TestApp {
        browser: Browser::with_client(&address, client()),
        setup_url,
        dir,
        db,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_in(None).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The value of the first `csrf_token` field in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).expect("page has a csrf_token") + marker.len();
    html[start..][..html[start..].find('"').expect("closing quote")].to_owned()
}

/// The row version an edit form was opened at.
pub fn version_in(html: &str) -> String {
    let marker = r#"name="version" value=""#;
    let start = html.find(marker).expect("page has a version") + marker.len();
    html[start..][..html[start..].find('"').expect("closing quote")].to_owned()
}

pub fn assert_redirect_to(response: &Response, location: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "expected a 303");
    assert_eq!(response.headers()["location"], location);
}

/// A JSON API request to the server at `base` (`http://127.0.0.1:port`),
/// sent as a script sends it: by a fresh client that keeps no cookies (so
/// no session rides along) and follows redirects (reqwest's default, unlike
/// [`client`]), with `token` as the bearer token when given and `body` as
/// `application/json` when given.
pub async fn api_at(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Response {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    req.send().await.expect("API request")
}

/// [`api_at`], read: the status and the body as JSON (`Value::Null` when
/// the body is not JSON).
pub async fn api_json_at(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = api_at(base, method, path, token, body).await;
    let status = r.status();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl Browser {
    /// A browser on the app at `address` that uses `client`: one whose
    /// cookie jar a test can read, or [`client`] for a server started with
    /// [`start_wharf`].
    pub fn with_client(address: &str, client: reqwest::Client) -> Browser {
        Browser {
            address: address.to_owned(),
            client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_html(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// A CSRF token of this browser's session: from the sign-in page, or,
    /// signed in (which `/login` sends home), from the home page.
    pub async fn csrf(&self) -> String {
        let r = self.get("/login?local").await;
        let home = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let page = match home {
            Some(home) => self.get_html(&home).await,
            None => r.text().await.expect("body"),
        };
        csrf_in(&page)
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.post_raw(path, &form).await
    }

    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    pub async fn login(&self, name: &str, password: &str) -> Response {
        self.post("/login", &[("username", name), ("password", password)])
            .await
    }

    /// A JSON API request to this app ([`api_at`]): not this browser's
    /// client, so its session cookie does not go along.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        api_at(&self.address, method, path, token, body).await
    }

    /// [`Browser::api`], read: the status and the body as JSON
    /// (`Value::Null` when the body is not JSON).
    pub async fn api_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        api_json_at(&self.address, method, path, token, body).await
    }
}

impl TestApp {
    pub fn add_user(&self, name: &str, password: &str, admin: bool) {
        add_user(&self.db, name, password, admin);
    }

    pub fn another_browser(&self) -> Browser {
        Browser::with_client(&self.address, client())
    }

    pub async fn login_admin(&self) {
        self.add_user(ADMIN, ADMIN_PASSWORD, true);
        let r = self.login(ADMIN, ADMIN_PASSWORD).await;
        assert_redirect_to(&r, "/admin/secrets");
    }

    pub async fn create_secret(
        &self,
        name: &str,
        display: &str,
        host: &str,
        user: &str,
        password: &str,
    ) {
        let r = self
            .post(
                "/admin/secrets",
                &[
                    ("name", name),
                    ("display_name", display),
                    ("type", "image_pull"),
                    ("registry_host", host),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        assert_redirect_to(&r, "/admin/secrets");
    }

    pub async fn create_git_sync(&self, name: &str, key: &str) {
        let r = self
            .post(
                "/admin/secrets",
                &[("name", name), ("type", "git_sync"), ("secret", key)],
            )
            .await;
        assert_redirect_to(&r, "/admin/secrets");
    }

    /// A connection to the app's database, whichever engine it is on.
    pub fn db(&self) -> TestDb {
        TestDb::open(&self.db)
    }

    /// Every row the app keeps, as text, table by table: the same digest
    /// before and after a request means the request changed nothing. It
    /// reads each table of [`DIGESTED`] and panics on a table that is in
    /// neither it nor [`LEFT_OUT`], so a new table cannot be missed.
    pub fn digest(&self) -> String {
        let c = self.db();
        let catalog = match self.db {
            wharf::db::Location::Sqlite(_) => {
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            }
            wharf::db::Location::Postgres(_) => {
                "SELECT table_name FROM information_schema.tables
                  WHERE table_schema = current_schema() ORDER BY table_name"
            }
        };
        let tables: Vec<String> = c
            .query_map(catalog, (), |r| r.get(0))
            .expect("tables")
            .map(|t| t.expect("table"))
            .collect();
        for t in &tables {
            let known = DIGESTED.iter().any(|(name, _)| *name == t.as_str())
                || LEFT_OUT.contains(&t.as_str())
                // SQLite's statistics, if it ever keeps any; PostgreSQL's
                // record of the schema's version.
                || t.starts_with("sqlite_stat")
                || t == "schema_version";
            assert!(
                known,
                "table {t} is neither read by TestApp::digest nor left out on purpose"
            );
        }
        // Audit entries that record something which, by design, changes
        // no data: a refused sign-in or password change, a download.
        let no_change = [
            wharf::audit::action::SIGN_IN_FAILED,
            wharf::audit::action::PASSWORD_CHANGE_REFUSED,
            wharf::audit::action::SECRET_EXPORTED,
            wharf::audit::action::SECRETS_EXPORTED,
        ];
        let mut out = String::new();
        let postgres = matches!(self.db, wharf::db::Location::Postgres(_));
        for (table, sql) in DIGESTED {
            // SQLite's AUTOINCREMENT counters. PostgreSQL's sequences are
            // no data: a refused insert moves one on (it is outside any
            // transaction), and an identity never hands an id out twice
            // anyway.
            let sql = if postgres && *table == "sqlite_sequence" {
                &"SELECT 1 WHERE FALSE"
            } else {
                sql
            };
            let params: &[&str] = if *table == "audit_log" {
                &no_change
            } else {
                &[]
            };
            let args: Vec<Box<dyn wharf::db::Param>> = params
                .iter()
                .map(|p| Box::new(p.to_string()) as Box<dyn wharf::db::Param>)
                .collect();
            let rows = c
                .query_map(sql, &args, |r| {
                    let mut row = Vec::new();
                    for i in 0..r.column_count() {
                        row.push(format!("{:?}", r.get_ref(i)?));
                    }
                    Ok(row.join("|"))
                })
                .expect("rows");
            out.push_str(table);
            out.push_str(":\n");
            for row in rows {
                out.push_str(&row.expect("row"));
                out.push('\n');
            }
        }
        out
    }

    pub fn open_secret(&self, name: &str) -> String {
        // The data directory's key, or the one kept apart (PostgreSQL).
        let apart = self.dir.path().join("keys/master.key");
        let key_file = if apart.exists() {
            apart
        } else {
            self.dir.path().join("master.key")
        };
        let key_b64 = std::fs::read_to_string(key_file).expect("key");
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD
            .decode(key_b64.trim())
            .expect("b64");
        let key = wharf::crypto::MasterKey::from_bytes(&key).expect("key");
        let sealed: Vec<u8> = self
            .db()
            .query_row("SELECT sealed FROM secrets WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .expect("sealed");
        String::from_utf8(key.open(name.as_bytes(), &sealed).expect("opens")).expect("utf8")
    }
}

/// The SQLite data of a wharf started on `dir` (as its own process).
pub fn sqlite(dir: &Path) -> wharf::db::Location {
    wharf::db::Location::Sqlite(dir.to_path_buf())
}

pub fn add_user(db: &wharf::db::Location, name: &str, password: &str, admin: bool) {
    wharf::cli::user_add(
        db,
        name,
        admin,
        std::io::Cursor::new(format!("{password}\n")),
    )
    .expect("user add");
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed and reaped when the test lets go of it.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on 127.0.0.1:`port` (10 s at most).
pub async fn wait_for_port(port: u16, what: &str) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{what} did not start on port {port}");
}

/// Serves an actix `App` (a stand-in registry or webhook receiver) on a
/// free loopback port with one worker; evaluates to the port. The
/// `|port| app` form lets the app know its own port.
#[macro_export]
macro_rules! loopback_server {
    (|$port:ident| $app:expr) => {{
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let $port = listener.local_addr().unwrap().port();
        let server = actix_web::HttpServer::new(move || $app)
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
        tokio::spawn(server);
        $port
    }};
    ($app:expr) => {
        $crate::loopback_server!(|_port| $app)
    };
}

/// A real `docker-registry` with bcrypt htpasswd auth on a free port.
pub struct Registry {
    _process: KillOnDrop,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

pub async fn start_registry(user: &str, password: &str) -> Registry {
    start_registry_on(free_port(), user, password).await
}

/// The same on a given port (a registry restarted with another password).
pub async fn start_registry_on(port: u16, user: &str, password: &str) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .expect("htpasswd (apache2-utils)");
    std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
    let config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: wharf-test\n    path: {d}/htpasswd\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry is installed");
    let registry = Registry {
        _process: KillOnDrop(child),
        port,
        dir,
    };
    wait_for_port(port, "docker-registry").await;
    registry
}

/// The real `wharf serve` binary on `dir` with extra flags, on a free
/// loopback port; killed when dropped. Returns it and its base URL.
pub async fn start_wharf(dir: &Path, extra: &[&str]) -> (KillOnDrop, String) {
    start_wharf_env(dir, extra, &[]).await
}

/// [`start_wharf`] with these environment variables.
pub async fn start_wharf_env(
    dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (KillOnDrop, String) {
    start_wharf_to(dir, extra, env, None).await
}

/// [`start_wharf`] at log level debug, its log (stdout, where wharf's log
/// goes, and stderr) written to `dir/server.log` (returned), for tests that
/// read what it logged.
pub async fn start_wharf_logged(dir: &Path, extra: &[&str]) -> (KillOnDrop, String, PathBuf) {
    let log = dir.join("server.log");
    let file = std::fs::File::create(&log).unwrap();
    let (process, base) = start_wharf_to(dir, extra, &[("RUST_LOG", "debug")], Some(file)).await;
    (process, base, log)
}

async fn start_wharf_to(
    dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
    log: Option<std::fs::File>,
) -> (KillOnDrop, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--data-dir",
        dir.to_str().unwrap(),
        "serve",
        "--listen",
        &listen,
    ];
    args.extend_from_slice(extra);
    let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(&args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(match &log {
            Some(f) => f.try_clone().unwrap().into(),
            None => Stdio::null(),
        })
        .stderr(match log {
            Some(f) => f.into(),
            None => Stdio::null(),
        })
        .spawn()
        .unwrap();
    let process = KillOnDrop(child);
    wait_for_port(port, "wharf").await;
    (process, format!("http://{listen}"))
}

/// The world the groups and memory tests share: an admin signed in, users
/// dana (a member of vision) and eve (in no group), the group vision, a
/// global image `shared-nb` and `vision-gpu` for vision only.
pub async fn vision_world() -> TestApp {
    let app = spawn_app().await;
    app.login_admin().await;
    app.add_user("dana", "danas-long-password", false);
    app.add_user("eve", "eves-long-password", false);
    let r = app
        .post(
            "/admin/groups",
            &[
                ("name", "vision"),
                ("display_name", "Vision team"),
                ("description", "Computer vision"),
                ("members", "dana"),
            ],
        )
        .await;
    assert_redirect_to(&r, "/admin/groups");
    for (name, group) in [("shared-nb", None), ("vision-gpu", Some("vision"))] {
        let mut form = vec![
            ("name", name),
            ("url", "registry.example.com/team/nb:1"),
            ("image_type", "gpu"),
        ];
        match group {
            Some(g) => form.push(("groups", g)),
            None => form.push(("global", "on")),
        }
        assert_redirect_to(&app.post("/admin/images", &form).await, "/admin/images");
    }
    app
}

/// A token for `user` made as scripts make them.
pub fn token(app: &TestApp, user: &str, name: &str, scope: &str, lifetime: i64) -> String {
    wharf::cli::token_create(&app.db, user, name, scope, lifetime).expect("token")
}

pub async fn json_of(r: reqwest::Response) -> Value {
    serde_json::from_str(&r.text().await.expect("body")).expect("json")
}

/// An app with an admin `alice`, her write token, and a secret `gitlab`.
pub async fn app_with_token() -> (TestApp, String) {
    let app = spawn_app().await;
    app.login_admin().await;
    app.add_user("alice", "alices-long-password", true);
    let t = token(&app, "alice", "ci-rotate", "write", 3600);
    let r = app.api(
        Method::POST,
        "/api/v1/secrets",
        Some(&t),
        Some(
            json!({"name": "gitlab", "type": "image_pull", "registry_host": "registry.gitlab.com",
                    "username": "deployer", "password": "glpat-first-1234"}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (app, t)
}

pub fn day(offset: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(offset)).to_string()
}

pub async fn secret_expiring(app: &TestApp, name: &str, expires_on: &str) {
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
pub fn names(page: &str) -> Vec<String> {
    page.match_indices(r#"<td><a href="/admin/secrets/"#)
        .map(|(i, m)| {
            let rest = &page[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// A test's own connection to an app's database, on either engine. The
/// statements run on a thread of their own (PostgreSQL's blocking client
/// cannot wait on a test's async thread); values go there and rows come
/// back as SQLite's values, read with rusqlite's `FromSql` as the stores
/// read them.
pub struct TestDb {
    jobs: std::sync::mpsc::Sender<Job>,
}

type Rows = rusqlite::Result<Vec<Vec<rusqlite::types::Value>>>;
type Job = (String, Vec<Owned>, std::sync::mpsc::Sender<(Rows, usize)>);

/// A parameter sent to the database thread.
enum Owned {
    One(rusqlite::types::Value),
    List(Vec<rusqlite::types::Value>),
}

impl TestDb {
    fn open(location: &wharf::db::Location) -> Self {
        let pool = location.open(false).expect("the app's database");
        let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
        std::thread::spawn(move || {
            let Ok(pooled) = pool.get() else { return };
            let conn = pooled.conn();
            for (sql, params, reply) in inbox {
                let lists: Vec<wharf::db::List> = params
                    .iter()
                    .filter_map(|p| match p {
                        Owned::List(v) => Some(wharf::db::List::from(v.clone())),
                        Owned::One(_) => None,
                    })
                    .collect();
                let mut next_list = lists.iter();
                let args: Vec<Box<dyn wharf::db::Param + '_>> = params
                    .iter()
                    .map(|p| -> Box<dyn wharf::db::Param + '_> {
                        match p {
                            Owned::One(v) => Box::new(v),
                            Owned::List(_) => Box::new(next_list.next().expect("a list")),
                        }
                    })
                    .collect();
                let answer =
                    if starts_writing(&sql) && !sql.to_ascii_uppercase().contains("RETURNING") {
                        match conn.execute(&sql, &args) {
                            Ok(n) => (Ok(Vec::new()), n),
                            Err(e) => (Err(e), 0),
                        }
                    } else {
                        let rows = conn.query_map(&sql, &args, |r| {
                            (0..r.column_count())
                                .map(|i| r.get::<usize, rusqlite::types::Value>(i))
                                .collect::<rusqlite::Result<Vec<_>>>()
                        });
                        (rows.and_then(|rows| rows.collect()), 0)
                    };
                let _ = reply.send(answer);
            }
        });
        Self { jobs }
    }

    fn ask(&self, sql: &str, params: impl wharf::db::conn::Params) -> (Rows, usize) {
        let params = params
            .list()
            .into_iter()
            .map(|a| match a {
                wharf::db::conn::Arg::Value(v) => {
                    Owned::One(match v.to_sql().expect("a parameter") {
                        rusqlite::types::ToSqlOutput::Borrowed(r) => owned(r),
                        rusqlite::types::ToSqlOutput::Owned(v) => v,
                        _ => panic!("a parameter a test cannot send"),
                    })
                }
                wharf::db::conn::Arg::List(l) => Owned::List(l.values().to_vec()),
            })
            .collect();
        let (reply, answer) = std::sync::mpsc::channel();
        self.jobs
            .send((sql.to_owned(), params, reply))
            .expect("the database thread");
        answer.recv().expect("an answer")
    }

    /// Runs one statement; how many rows it changed.
    pub fn execute(
        &self,
        sql: &str,
        params: impl wharf::db::conn::Params,
    ) -> rusqlite::Result<usize> {
        let (rows, n) = self.ask(sql, params);
        rows.map(|_| n)
    }

    /// The first row, read by `f`.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl wharf::db::conn::Params,
        f: impl FnOnce(&wharf::db::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let rows = self.ask(sql, params).0?;
        let first = rows.first().ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        f(&wharf::db::Row::Postgres(first))
    }

    /// Every row, each read by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl wharf::db::conn::Params,
        mut f: impl FnMut(&wharf::db::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<std::vec::IntoIter<rusqlite::Result<T>>> {
        let rows = self.ask(sql, params).0?;
        Ok(rows
            .iter()
            .map(|r| f(&wharf::db::Row::Postgres(r)))
            .collect::<Vec<_>>()
            .into_iter())
    }
}

fn starts_writing(sql: &str) -> bool {
    let first = sql.split_whitespace().next().unwrap_or("");
    ["INSERT", "UPDATE", "DELETE", "REPLACE"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w))
}

fn owned(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::Value {
    use rusqlite::types::{Value, ValueRef};
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}
