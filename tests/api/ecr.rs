//! Amazon ECR secrets against a real ECR API on loopback: moto in server
//! mode (installed by the test command), which checks SigV4 signatures and
//! IAM permissions. moto answers `GetAuthorizationToken` with a fixed
//! `expiresAt` in 2015 and the same token every time, so a small proxy in
//! front of it gives each token a name (`ecr-token-N`) and a 12-hour life
//! on the test's clock, and counts the mints. wharf's rules are not bent
//! to moto's clock: the proxy is what a live ECR would answer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wharf::clock::Clock;
use wharf::options::Seconds;
use wharf::startup::{Application, ServerConfig};

use crate::helpers::*;

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const LIFE: i64 = 12 * 3600;

/// moto's ECR and IAM on a free loopback port, and an IAM user's access
/// key that may call `ecr:GetAuthorizationToken`.
struct Moto {
    _process: KillOnDrop,
    url: String,
    key_id: String,
    secret: String,
}

fn moto_venv() -> PathBuf {
    std::env::var_os("WHARF_TEST_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv"))
}

async fn start_moto() -> Moto {
    let venv = moto_venv();
    let port = free_port();
    let child = Command::new(venv.join("bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        // The three IAM calls below are unauthenticated; every later
        // request must be signed by a key moto knows, with the permission.
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (run scripts/test, which installs it into target/moto-venv)");
    let process = KillOnDrop(child);
    wait_for_port(port, "moto").await;
    let url = format!("http://127.0.0.1:{port}");
    let out = Command::new(venv.join("bin/python"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ecr/moto_iam.py"))
        .arg(&url)
        .output()
        .expect("python of the moto venv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    Moto {
        _process: process,
        url,
        key_id: key["id"].as_str().unwrap().to_owned(),
        secret: key["secret"].as_str().unwrap().to_owned(),
    }
}

/// What the proxy saw: mints, and each token's expiry.
#[derive(Default)]
struct Minted {
    count: AtomicUsize,
    expiries: Mutex<HashMap<String, i64>>,
    /// While set, the proxy answers as ECR does to a user whose policy
    /// was taken away, without asking moto.
    refusing: std::sync::atomic::AtomicBool,
}

impl Minted {
    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
    fn expiry(&self, token: &str) -> i64 {
        self.expiries.lock().unwrap()[token]
    }
}

struct ProxyState {
    moto: String,
    clock: Clock,
    minted: Arc<Minted>,
}

/// Forwards to moto as it was asked (the signed Host header included) and
/// gives a successful answer its token name and life.
async fn forward(req: HttpRequest, body: web::Bytes, st: web::Data<ProxyState>) -> HttpResponse {
    if st.minted.refusing.load(Ordering::SeqCst) {
        return HttpResponse::BadRequest()
            .content_type("application/x-amz-json-1.1")
            .body(r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/wharf-puller is not authorized to perform: ecr:GetAuthorizationToken"}"#);
    }
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
    let mut out = reqwest::Client::new().request(method, format!("{}{}", st.moto, req.uri()));
    for (k, v) in req.headers() {
        if !["content-length", "connection", "transfer-encoding"].contains(&k.as_str()) {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    let resp = out.body(body.to_vec()).send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut bytes = resp.bytes().await.unwrap().to_vec();
    if status == 200 {
        let n = st.minted.count.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("ecr-token-{n}");
        let expires = st.clock.now() + LIFE;
        st.minted
            .expiries
            .lock()
            .unwrap()
            .insert(token.clone(), expires);
        let mut v: Value = serde_json::from_slice(&bytes).unwrap();
        let data = &mut v["authorizationData"][0];
        assert!(data["authorizationToken"].is_string(), "moto's answer: {v}");
        data["authorizationToken"] =
            json!(base64::engine::general_purpose::STANDARD.encode(format!("AWS:{token}")));
        data["expiresAt"] = json!(expires);
        bytes = v.to_string().into_bytes();
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type(content_type)
        .body(bytes)
}

fn start_proxy(moto: &Moto, clock: Clock) -> (String, Arc<Minted>) {
    let minted = Arc::new(Minted::default());
    let state = web::Data::new(ProxyState {
        moto: moto.url.clone(),
        clock,
        minted: minted.clone(),
    });
    let port = crate::loopback_server!(
        actix_web::App::new()
            .app_data(state.clone())
            .default_service(web::to(forward))
    );
    (format!("http://127.0.0.1:{port}"), minted)
}

/// wharf in this process on `clock`, with an admin token.
async fn wharf_on(clock: Clock, node_cache: i64) -> (TestApp, String) {
    let dir = tempfile::tempdir().unwrap();
    add_user(
        &wharf::db::Location::Sqlite(dir.path().to_path_buf()),
        ADMIN,
        ADMIN_PASSWORD,
        true,
    );
    let admin = wharf::cli::token_create(
        &wharf::db::Location::Sqlite(dir.path().to_path_buf()),
        ADMIN,
        "setup",
        "write",
        30 * 86400,
    )
    .unwrap();
    let mut serve = serve_args();
    serve.node_cache = Seconds(node_cache);
    let app = Application::build_with_clock(
        ServerConfig {
            data_dir: dir.path().to_path_buf(),
            serve,
        },
        clock,
    )
    .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        browser: Browser::with_client(&address, client()),
        setup_url: None,
        db: sqlite(dir.path()),
        dir,
    };
    (app, admin)
}

/// moto, the proxy on `clock`, wharf in this process on it, a delivered
/// ECR secret `ecr-prod` for the whole registry, and a cluster's token.
struct Fixture {
    clock: Clock,
    moto: Moto,
    endpoint: String,
    minted: Arc<Minted>,
    app: TestApp,
    admin: String,
    cluster: String,
}

async fn fixture(node_cache: i64) -> Fixture {
    let clock = Clock::manual(wharf::db::now());
    let moto = start_moto().await;
    let (endpoint, minted) = start_proxy(&moto, clock.clone());
    let (app, admin) = wharf_on(clock.clone(), node_cache).await;
    create_ecr(
        &app,
        &admin,
        "ecr-prod",
        &moto,
        &endpoint,
        json!({"deliver": true}),
    )
    .await;
    let cluster = cluster_token(&app, &admin).await;
    Fixture {
        clock,
        moto,
        endpoint,
        minted,
        app,
        admin,
        cluster,
    }
}

/// `/metrics` as an administrator reads it.
async fn metrics_text(app: &Browser, admin: &str) -> String {
    app.api(Method::GET, "/metrics", Some(admin), None)
        .await
        .text()
        .await
        .unwrap()
}

async fn create_ecr(
    app: &Browser,
    admin: &str,
    name: &str,
    moto: &Moto,
    endpoint: &str,
    extra: Value,
) {
    let mut body = json!({"name": name, "type": "ecr", "registry_host": HOST,
        "access_key_id": moto.key_id, "secret_access_key": moto.secret, "endpoint": endpoint});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, b) = app
        .api_json(Method::POST, "/api/v1/secrets", Some(admin), Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

async fn cluster_token(app: &Browser, admin: &str) -> String {
    let (s, b) = app
        .api_json(
            Method::POST,
            "/api/v1/clusters",
            Some(admin),
            Some(json!({"name": "prod"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["token"].as_str().unwrap().to_owned()
}

/// kubelet's lookup: the answer's `auth` for the registry, and the whole answer.
async fn lookup(app: &Browser, token: &str, image: &str) -> Value {
    let (s, b) = app
        .api_json(
            Method::GET,
            &format!("/api/v1/credentials?image={image}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

fn password_for(answer: &Value, key: &str) -> String {
    assert_eq!(answer["auth"][key]["username"], "AWS", "{answer}");
    answer["auth"][key]["password"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_consumer_gets_the_current_token_minted_once_per_half_life() {
    let Fixture {
        clock,
        moto,
        endpoint,
        minted,
        app,
        admin,
        cluster,
    } = fixture(24 * 3600).await;
    assert_eq!(minted.count(), 0, "nothing is minted before it is needed");

    // Two downloads: the docker config holds AWS and the token.
    for _ in 0..2 {
        let (s, config) = app
            .api_json(
                Method::GET,
                "/api/v1/secrets/ecr-prod/dockerconfig",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{config}");
        let auth = &config["auths"][HOST];
        assert_eq!(auth["username"], "AWS");
        assert_eq!(auth["password"], "ecr-token-1");
        let want = base64::engine::general_purpose::STANDARD.encode("AWS:ecr-token-1");
        assert_eq!(auth["auth"], want.as_str());
    }
    // The manifest holds the same docker config, as kubectl writes it.
    let manifest = app
        .api(
            Method::GET,
            "/api/v1/secrets/ecr-prod/manifest?format=json",
            Some(&admin),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    let manifest: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["type"], "kubernetes.io/dockerconfigjson");
    let inner = base64::engine::general_purpose::STANDARD
        .decode(manifest["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    let inner: Value = serde_json::from_slice(&inner).unwrap();
    assert_eq!(inner["auths"][HOST]["password"], "ecr-token-1");

    // Ten of kubelet's lookups and External Secrets Operator's fetch.
    let image = format!("{HOST}/team/notebook");
    for _ in 0..10 {
        let answer = lookup(&app, &cluster, &image).await;
        assert_eq!(password_for(&answer, HOST), "ecr-token-1");
        // At most half the token's remaining life (the node cache is 24 h).
        assert_eq!(answer["cacheDuration"], "6h0m0s");
        assert_eq!(answer["cacheKeyType"], "Registry");
    }
    let (s, eso) = app
        .api_json(
            Method::GET,
            "/api/v1/secrets/ecr-prod/dockerconfig",
            Some(&cluster),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(eso["auths"][HOST]["password"], "ecr-token-1");
    assert_eq!(
        minted.count(),
        1,
        "one mint served two downloads, a manifest, ten lookups and ESO"
    );

    // The API tells the token's expiry.
    let (_, secret) = app
        .api_json(Method::GET, "/api/v1/secrets/ecr-prod", Some(&admin), None)
        .await;
    let expires = minted.expiry("ecr-token-1");
    assert_eq!(
        secret["token_expires_at"],
        rfc3339(expires).as_str(),
        "{secret}"
    );
    assert_eq!(secret["access_key_id"], moto.key_id.as_str());
    assert!(secret.get("secret_access_key").is_none());

    // Within the first half of its life the token is reused; the remaining
    // life halves the cache time.
    clock.advance(LIFE / 2 - 60);
    let answer = lookup(&app, &cluster, &image).await;
    assert_eq!(password_for(&answer, HOST), "ecr-token-1");
    assert_eq!(answer["cacheDuration"], "3h0m30s");
    assert_eq!(minted.count(), 1);
    // Past half its life it is replaced.
    clock.advance(120);
    let answer = lookup(&app, &cluster, &image).await;
    assert_eq!(password_for(&answer, HOST), "ecr-token-2");
    assert_eq!(minted.count(), 2);

    // Twenty concurrent lookups of a secret that has no token yet: one mint.
    create_ecr(
        &app,
        &admin,
        "ecr-cold",
        &moto,
        &endpoint,
        json!({"deliver": true, "node_patterns": [format!("{HOST}/cold")]}),
    )
    .await;
    let cold = format!("{HOST}/cold/model");
    let lookups: Vec<_> = (0..20)
        .map(|_| {
            let (app, cluster, cold) = (app.another_browser(), cluster.clone(), cold.clone());
            tokio::spawn(async move { lookup(&app, &cluster, &cold).await })
        })
        .collect();
    let mut tokens = std::collections::BTreeSet::new();
    for l in lookups {
        let answer = l.await.unwrap();
        tokens.insert(password_for(&answer, &format!("{HOST}/cold")));
        assert_eq!(answer["cacheKeyType"], "Image", "a path key: per image");
    }
    assert_eq!(
        tokens.len(),
        1,
        "every lookup got the same token: {tokens:?}"
    );
    assert_eq!(minted.count(), 3, "twenty concurrent lookups made one mint");
    println!(
        "mints: {} for 2 downloads, 1 manifest, 31 lookups, 1 ESO fetch and 20 concurrent cold lookups",
        minted.count()
    );
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn a_refused_or_unreachable_mint_is_a_clear_failing_state_and_nothing_leaks() {
    let moto = start_moto().await;
    let (endpoint, minted) = start_proxy(&moto, Clock::system());
    let hooks = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = hooks.clone();
    let receiver = crate::loopback_server!({
        let seen = seen.clone();
        actix_web::App::new().default_service(web::to(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                HttpResponse::Ok().finish()
            }
        }))
    });
    let dir = tempfile::tempdir().unwrap();
    add_user(
        &wharf::db::Location::Sqlite(dir.path().to_path_buf()),
        ADMIN,
        ADMIN_PASSWORD,
        true,
    );
    let admin =
        wharf::cli::token_create(&sqlite(dir.path()), ADMIN, "setup", "write", 3600).unwrap();
    let notify = format!("http://127.0.0.1:{receiver}/hook");
    let (_server, base, log) =
        start_wharf_logged(dir.path(), &["--check-every", "0", "--notify-url", &notify]).await;
    let app = Browser::with_client(&base, client());

    create_ecr(
        &app,
        &admin,
        "good",
        &moto,
        &endpoint,
        json!({"deliver": true}),
    )
    .await;
    let wrong_secret = "WrongWrongWrongWrongWrongWrongWrongWrong";
    let (s, b) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets",
            Some(&admin),
            Some(
                json!({"name": "wrong-key", "type": "ecr", "registry_host": HOST,
                "access_key_id": moto.key_id, "secret_access_key": wrong_secret,
                "endpoint": endpoint, "deliver": true,
                "node_patterns": [format!("{HOST}/wrong")]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let closed = format!("http://127.0.0.1:{}", free_port());
    create_ecr(&app, &admin, "unreachable", &moto, &closed, json!({})).await;

    // The good one mints.
    let (s, config) = app
        .api_json(
            Method::GET,
            "/api/v1/secrets/good/dockerconfig",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{config}");
    let token = config["auths"][HOST]["password"]
        .as_str()
        .unwrap()
        .to_owned();

    // A wrong secret key: AWS's own words, as the check's verdict.
    let (s, test) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets/wrong-key/test",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{test}");
    assert_eq!(test["ok"], false);
    let message = test["message"].as_str().unwrap();
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");
    println!("wrong secret key: {message}");
    let (_, shown) = app
        .api_json(Method::GET, "/api/v1/secrets/wrong-key", Some(&admin), None)
        .await;
    assert_eq!(shown["last_test"]["ok"], false);
    assert_eq!(shown["token_expires_at"], Value::Null);
    let (s, b) = app
        .api_json(
            Method::GET,
            "/api/v1/secrets/wrong-key/dockerconfig",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{b}");
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .contains("SignatureDoesNotMatch"),
        "{b}"
    );
    // A node asking for an image only it serves: 502 (the plugin then
    // gives its kept answer), never a 500.
    let cluster = cluster_token(&app, &admin).await;
    let (s, b) = app
        .api_json(
            Method::GET,
            &format!("/api/v1/credentials?image={HOST}/wrong/x"),
            Some(&cluster),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{b}");

    // An endpoint nobody listens on.
    let (_, test) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets/unreachable/test",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(test["ok"], false);
    let message = test["message"].as_str().unwrap();
    assert!(message.contains("could not be reached"), "{message}");
    println!("closed endpoint: {message}");
    let page = app
        .api(
            Method::GET,
            "/api/v1/secrets/unreachable/manifest",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(page.status(), StatusCode::BAD_GATEWAY);

    // Metrics count the mints.
    let metrics = metrics_text(&app, &admin).await;
    assert!(
        metrics.contains("wharf_token_mints_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wharf_token_mints_total{result=\"failed\"} "),
        "{metrics}"
    );
    assert!(
        metrics.contains("wharf_ecr_tokens{state=\"fresh\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wharf_secrets{type=\"ecr\"} 3"),
        "{metrics}"
    );
    assert_eq!(minted.count(), 1);

    // The failing checks were told to the receiver (without scheduled
    // checks, which would contact the real registry host, notifications go
    // out every 30 s).
    for _ in 0..400 {
        if hooks.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hooks = hooks.lock().unwrap().join("\n");
    assert!(hooks.contains("login_failing"), "{hooks}");

    // Neither AWS secret key nor the token anywhere in plain text: the
    // data directory's files, the log, the API's reads, the audit log,
    // the metrics, the webhooks.
    let (_, list) = app
        .api_json(Method::GET, "/api/v1/secrets", Some(&admin), None)
        .await;
    let (_, audit) = app
        .api_json(Method::GET, "/api/v1/audit", Some(&admin), None)
        .await;
    let (_, one) = app
        .api_json(Method::GET, "/api/v1/secrets/good", Some(&admin), None)
        .await;
    let mut texts = vec![
        ("API list", list.to_string()),
        ("API secret", one.to_string()),
        ("audit", audit.to_string()),
        ("metrics", metrics),
        ("webhooks", hooks),
    ];
    texts.push(("log", std::fs::read_to_string(&log).unwrap()));
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        texts.push(("data file", String::from_utf8_lossy(&bytes).into_owned()));
    }
    for (what, text) in &texts {
        for secret in [moto.secret.as_str(), wrong_secret, token.as_str()] {
            assert!(
                !text.contains(secret),
                "{what} holds a secret in plain text"
            );
        }
    }
    assert!(!texts.is_empty());
}

#[tokio::test]
async fn a_simulated_day_keeps_every_pull_supplied_without_anyone_touching_it() {
    let Fixture {
        clock,
        minted,
        app,
        admin,
        cluster,
        // Kept: moto stops when its handle is dropped.
        moto: _moto,
        ..
    } = fixture(3600).await;
    let start = clock.now();
    let r = app.login(ADMIN, ADMIN_PASSWORD).await;
    assert_redirect_to(&r, "/admin/secrets");
    let image = format!("{HOST}/team/notebook");
    println!(
        "{:>6} | {:>5} | {:<12} | {:<22} | {:<33} | metrics",
        "t", "mints", "served", "token expires (API)", "secrets list says"
    );
    let mut minted_by_lookups = 0;
    for step in 0..=52 {
        if step > 0 {
            clock.advance(1800);
        }
        let now = clock.now();
        // The refresher replaces a token past half its life by itself:
        // wait (real time) for it before anyone asks.
        let (_, secret) = app
            .api_json(Method::GET, "/api/v1/secrets/ecr-prod", Some(&admin), None)
            .await;
        if step > 0 {
            let due = secret["token_expires_at"]
                .as_str()
                .map(|t| {
                    let exp = time::OffsetDateTime::parse(
                        t,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap()
                    .unix_timestamp();
                    now >= exp - LIFE / 2
                })
                .unwrap_or(true);
            if due {
                let before = minted.count();
                for _ in 0..100 {
                    if minted.count() > before {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                assert!(
                    minted.count() > before,
                    "the refresher minted ahead at t+{}m",
                    (now - start) / 60
                );
            }
        }
        let before = minted.count();
        let answer = lookup(&app, &cluster, &image).await;
        if minted.count() > before {
            minted_by_lookups += 1;
        }
        let token = password_for(&answer, HOST);
        let expires = minted.expiry(&token);
        assert!(
            expires - now > LIFE / 2 - 1800,
            "a pull got a token with {}s left",
            expires - now
        );
        let (_, secret) = app
            .api_json(Method::GET, "/api/v1/secrets/ecr-prod", Some(&admin), None)
            .await;
        let list = app.get_html("/admin/secrets").await;
        let shown = list
            .split("token until ")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or("")
            .to_owned();
        let metrics = metrics_text(&app, &admin).await;
        let mints_line = metrics
            .lines()
            .find(|l| l.starts_with("wharf_token_mints_total{result=\"ok\"}"))
            .unwrap_or("")
            .to_owned();
        let fresh = metrics
            .lines()
            .find(|l| l.starts_with("wharf_ecr_tokens{state=\"fresh\"}"))
            .unwrap_or("")
            .to_owned();
        if step % 4 == 0 || minted.count() > before {
            println!(
                "{:>3}h{:02} | {:>5} | {:<12} | {:<22} | token until {:<21} | {mints_line}, {fresh}",
                (now - start) / 3600,
                (now - start) % 3600 / 60,
                minted.count(),
                token,
                secret["token_expires_at"].as_str().unwrap_or("-"),
                shown,
            );
        }
        assert!(!shown.is_empty(), "the list shows the token's expiry");
    }
    // 26 hours: the first token at t+0 (the first pull), then one every
    // six hours by the refresher.
    println!(
        "mints over 26 h: {} ({} by a pull, the rest by the refresher)",
        minted.count(),
        minted_by_lookups
    );
    assert_eq!(minted.count(), 5);
    assert_eq!(minted_by_lookups, 1);
}

/// Waits (real time, 5 s at most) until `done` holds for the secret as the
/// API shows it; returns what it showed.
async fn secret_when(app: &Browser, admin: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let (_, secret) = app
            .api_json(Method::GET, "/api/v1/secrets/ecr-prod", Some(admin), None)
            .await;
        if done(&secret) {
            return secret;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the secret never got there");
}

#[tokio::test]
async fn when_ecr_refuses_the_refresher_says_so_serves_the_valid_token_and_recovers() {
    let Fixture {
        clock,
        minted,
        app,
        admin,
        cluster,
        // Kept: moto stops when its handle is dropped.
        moto: _moto,
        ..
    } = fixture(3600).await;
    let image = format!("{HOST}/team/notebook");
    let first = password_for(&lookup(&app, &cluster, &image).await, HOST);
    assert_eq!(first, "ecr-token-1");

    // The IAM policy is taken away; half the token's life goes by.
    minted.refusing.store(true, Ordering::SeqCst);
    clock.advance(LIFE / 2 + 60);
    let failing = secret_when(&app, &admin, |s| s["last_test"]["ok"] == false).await;
    let reason = failing["last_test"]["message"].as_str().unwrap();
    assert!(reason.contains("AccessDeniedException"), "{reason}");
    println!("refresher, ECR refusing: {reason}");
    // Pulls still get the old token while it is valid (and a lookup's
    // own mint fails the same way), for at most half its remaining life.
    let answer = lookup(&app, &cluster, &image).await;
    assert_eq!(password_for(&answer, HOST), "ecr-token-1");
    assert_eq!(answer["cacheDuration"], "1h0m0s");
    let metrics = metrics_text(&app, &admin).await;
    assert!(
        metrics.contains("wharf_ecr_tokens{state=\"aging\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wharf_secrets_login_failing 1"),
        "{metrics}"
    );

    // ECR takes the key again: the refresher's next try (a minute later)
    // mints, and the secret says it works again.
    minted.refusing.store(false, Ordering::SeqCst);
    clock.advance(61);
    let recovered = secret_when(&app, &admin, |s| s["last_test"]["ok"] == true).await;
    let message = recovered["last_test"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("A new registry token was minted"),
        "{message}"
    );
    assert_eq!(minted.count(), 2);
    let answer = lookup(&app, &cluster, &image).await;
    assert_eq!(password_for(&answer, HOST), "ecr-token-2");

    // Once the old token has expired and ECR refuses, a pull is told so
    // (502: the node's plugin then gives its kept answer), never a 500.
    minted.refusing.store(true, Ordering::SeqCst);
    clock.advance(LIFE + 60);
    let (s, b) = app
        .api_json(
            Method::GET,
            &format!("/api/v1/credentials?image={image}"),
            Some(&cluster),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{b}");
    let metrics = metrics_text(&app, &admin).await;
    assert!(
        metrics.contains("wharf_ecr_tokens{state=\"expired\"} 1"),
        "{metrics}"
    );
}

/// An ECR endpoint on loopback that counts its calls, waits `delay`, and
/// refuses every one with `body` (HTTP 400).
fn counting_endpoint(delay: Duration, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let port = crate::loopback_server!({
        let seen = seen.clone();
        actix_web::App::new().default_service(web::to(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                HttpResponse::BadRequest()
                    .content_type("application/x-amz-json-1.1")
                    .body(body)
            }
        }))
    });
    (format!("http://127.0.0.1:{port}"), calls)
}

/// A delivered ECR secret minted at `endpoint`, and a cluster's token.
async fn ecr_at(app: &TestApp, admin: &str, endpoint: &str) -> String {
    let (s, b) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets",
            Some(admin),
            Some(
                json!({"name": "ecr-prod", "type": "ecr", "registry_host": HOST,
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "endpoint": endpoint, "deliver": true}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    cluster_token(app, admin).await
}

/// Review 4, finding 3: a failed mint is shared with everyone waiting for
/// it and remembered for `BACK_OFF` seconds. Four lookups during a slow
/// refusal make one call and all end with it; a hundred more meanwhile
/// make none and answer 502 at once; once the back-off has passed, the
/// next lookup tries again.
#[tokio::test]
async fn a_failed_mint_is_shared_and_backed_off() {
    let (endpoint, calls) = counting_endpoint(
        Duration::from_millis(1500),
        r#"{"__type":"AccessDeniedException","message":"not authorized to perform: ecr:GetAuthorizationToken"}"#,
    );
    let clock = Clock::manual(wharf::db::now());
    let (app, admin) = wharf_on(clock.clone(), 3600).await;
    let cluster = ecr_at(&app, &admin, &endpoint).await;
    let image = format!("/api/v1/credentials?image={HOST}/team/app");
    let ask = || {
        let (address, image, cluster) = (app.address.clone(), image.clone(), cluster.clone());
        tokio::spawn(async move {
            api_json_at(&address, Method::GET, &image, Some(&cluster), None).await
        })
    };
    let started = std::time::Instant::now();
    let four: Vec<_> = (0..4).map(|_| ask()).collect();
    for l in four {
        let (s, b) = l.await.unwrap();
        assert_eq!(s, StatusCode::BAD_GATEWAY, "{b}");
    }
    let took = started.elapsed();
    println!(
        "4 lookups during a slow refusal: {took:?}, {} calls",
        calls.load(Ordering::SeqCst)
    );
    assert!(took < Duration::from_millis(2900), "{took:?}");
    let after_four = calls.load(Ordering::SeqCst);
    // The refresher of delivered secrets may have been the one that asked.
    assert_eq!(after_four, 1);

    let started = std::time::Instant::now();
    let hundred: Vec<_> = (0..100).map(|_| ask()).collect();
    for l in hundred {
        assert_eq!(l.await.unwrap().0, StatusCode::BAD_GATEWAY);
    }
    let took = started.elapsed();
    println!(
        "100 lookups in the back-off: {took:?}, {} calls",
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no call in the back-off");
    // None waited for the endpoint (1.5 s a call): a hundred requests of a
    // debug build, beside the other tests.
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Test login says the last failure and when the next try is.
    let (s, b) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets/ecr-prod/test",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let message = b["message"].as_str().unwrap();
    assert!(
        message.contains("AccessDeniedException") && message.contains("the next is in"),
        "{message}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    clock.advance(wharf::ecr::BACK_OFF + 1);
    let (s, _) = ask().await.unwrap();
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "tried again after the back-off"
    );

    // A changed secret is tried at once: the failure was its old
    // credentials'.
    let (s, b) = app
        .api_json(
            Method::PATCH,
            "/api/v1/secrets/ecr-prod",
            Some(&admin),
            Some(json!({"secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE2"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = ask().await.unwrap();
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "a changed secret is not backed off"
    );
}

/// Review 4, finding 8: what an endpoint that is not AWS's own says is
/// shown only as its code and the first line of its message, without
/// control characters, on the secret's page, in Test login and in the API.
#[tokio::test]
async fn a_foreign_endpoints_error_text_is_cut_short() {
    let (endpoint, _) = counting_endpoint(
        Duration::ZERO,
        "{\"__type\":\"Phish\",\"message\":\"Your key expired: re-enter it at evil.example\\u001b[0m\\nSECOND LINE that goes on and on\"}",
    );
    let (app, admin) = wharf_on(Clock::system(), 3600).await;
    ecr_at(&app, &admin, &endpoint).await;
    let (_, b) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets/ecr-prod/test",
            Some(&admin),
            None,
        )
        .await;
    let message = b["message"].as_str().unwrap();
    assert!(
        message.contains("Phish: Your key expired: re-enter it at evil.example[0m"),
        "{message}"
    );
    assert!(
        !message.contains("SECOND LINE") && !message.contains('\u{1b}'),
        "{message}"
    );
    assert!(message.chars().count() <= 300, "{message}");
    app.login(ADMIN, ADMIN_PASSWORD).await;
    let page = app.get_html("/admin/secrets/ecr-prod").await;
    assert!(
        page.contains("Phish") && !page.contains("SECOND LINE"),
        "{page}"
    );
}

/// Export all with an ECR secret whose token cannot be minted now: every
/// other secret is in the file, the one left out is named with why in its
/// header, and the next page says so too (it was one bare 502 for all).
#[tokio::test]
async fn export_all_leaves_out_an_ecr_secret_it_cannot_mint_and_names_it() {
    let (endpoint, _calls) = counting_endpoint(
        Duration::from_millis(10),
        r#"{"__type":"AccessDeniedException","message":"not authorized to perform: ecr:GetAuthorizationToken"}"#,
    );
    let clock = Clock::manual(wharf::db::now());
    let (app, admin) = wharf_on(clock, 3600).await;
    ecr_at(&app, &admin, &endpoint).await;
    let (s, b) = app
        .api_json(
            Method::POST,
            "/api/v1/secrets",
            Some(&admin),
            Some(json!({"name": "gitlab", "type": "image_pull",
                "registry_host": "registry.gitlab.com", "username": "u", "password": "pw-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let browser = app.another_browser();
    assert_redirect_to(
        &browser.login(ADMIN, ADMIN_PASSWORD).await,
        "/admin/secrets",
    );
    let r = browser.get("/admin/secrets/export.yaml").await;
    assert_eq!(r.status(), StatusCode::OK);
    let file = r.text().await.unwrap();
    assert!(
        file.starts_with("# wharf: 1 secret exported; left out, because no registry token could be minted now:\n#   ecr-prod: No registry token could be minted."),
        "{file}"
    );
    assert!(
        file.contains("name: gitlab") && !file.contains("name: ecr-prod"),
        "{file}"
    );
    let list = browser.get_html("/admin/secrets").await;
    assert!(
        list.contains("Export all left out what could not be exported now: ecr-prod"),
        "{list}"
    );
}
