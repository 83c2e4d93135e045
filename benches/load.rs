//! Load benchmark: wharf as its users load it, with figures printed.
//!
//! `cargo bench --bench load` builds wharf in release mode, starts the real
//! binary on a fresh data directory, signs in, fills it with 10,000 secrets
//! and 2,000 images over HTTP as administrators do (`POST /admin/secrets`
//! and `/admin/images`, 32 at a time, no restart after; the create rate is
//! printed), and drives each endpoint with 32 concurrent connections for a
//! few seconds. Throughput is also given as a ratio of `/healthz` in the
//! same run, so the figures compare across machines. `WHARF_BENCH_SECS`
//! sets the seconds per endpoint (default 4); `WHARF_BENCH_EXTRA=/path,/path`
//! measures more GETs. `WHARF_BENCH_FILL=store` fills the database through
//! the store functions before the server starts instead (quicker).
//! `WHARF_BENCH_KEEP=1` keeps the data directory (its path is printed), for
//! profiling a server on it afterwards (`bench` / `bench-password-123`).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Server, cpu_secs, vm_hwm_kib};
use wharf::images::store as images;
use wharf::secrets::store as secrets;

const SECRETS: usize = 10_000;
const IMAGES: usize = 2_000;
const GROUPS: usize = 20;
const USERS: usize = 200;
/// The catalogue's viewer: in groups 0, 1 and 2.
const VIEWER: &str = "user-000";
const USER_PASSWORD: &str = "user-password-123";
const CONNECTIONS: usize = 32;

/// Targets from the benchmark issue, checked and printed at the end.
const LIST_RATIO: f64 = 0.40;
const SEARCH_RATIO: f64 = 0.25;
const LIST_P99_MS: f64 = 20.0;
const SEARCH_P99_MS: f64 = 40.0;
const CREATES_PER_S: f64 = 500.0;
const PEAK_MIB: f64 = 64.0;
const STARTUP_MS: f64 = 300.0;
/// Delivery (issue 20): delivered secrets, and the credential lookup.
const DELIVERED: usize = 1_000;
const CREDENTIALS_RATIO: f64 = 0.40;
const CREDENTIALS_P99_MS: f64 = 10.0;

/// Delivers the first `DELIVERED` secrets over the API, each with a node
/// pattern of its own, and adds a cluster; returns the cluster's token.
async fn deliver(client: &reqwest::Client, base: &str, token: &str) -> String {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in (0..DELIVERED)
        .collect::<Vec<_>>()
        .chunks(DELIVERED / CONNECTIONS + 1)
    {
        let (client, base, token, chunk) = (
            client.clone(),
            base.to_owned(),
            token.to_owned(),
            chunk.to_vec(),
        );
        tasks.spawn(async move {
            for i in chunk {
                let r = client
                    .patch(format!("{base}/api/v1/secrets/secret-{i:05}"))
                    .bearer_auth(&token)
                    .header("content-type", "application/merge-patch+json")
                    // A node pattern stays on its secret's registry: the
                    // secrets images use (GitLab's) get a path of their
                    // registry, the others a fleet host of their own.
                    .body(if i % 3 == 0 {
                        format!(
                            r#"{{"deliver":true,"node_patterns":["registry.gitlab.com/fleet-{i}"]}}"#
                        )
                    } else {
                        format!(
                            r#"{{"deliver":true,"registry_host":"fleet-{i}.registry.example"}}"#
                        )
                    })
                    .send()
                    .await
                    .expect("patch");
                assert!(
                    r.status().is_success(),
                    "deliver secret-{i:05}: {}",
                    r.status()
                );
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let r = client
        .post(format!("{base}/api/v1/clusters"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"{"name":"fleet"}"#)
        .send()
        .await
        .expect("cluster");
    let body: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    println!(
        "delivered {DELIVERED} secrets over the API in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    body["token"]
        .as_str()
        .expect("the cluster's token")
        .to_owned()
}

/// Audit entries in the data directory's database now.
fn audit_entries(dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("wharf.db")).expect("db");
    conn.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
        .expect("count")
}

fn populate(dir: &Path) {
    let pool = wharf::db::open(&dir.join("wharf.db")).expect("db");
    let pooled = pool.get().expect("conn");
    let conn = pooled.conn();
    let master = wharf::keys::master_key(wharf::keys::KeyFile::InDataDir(dir), None, &conn)
        .expect("master key");
    let tx = conn.begin_write().expect("tx");
    for i in 0..SECRETS {
        let name = format!("secret-{i:05}");
        let sealed = master.seal(
            name.as_bytes(),
            format!("token-{i}-xxxxxxxxxxxxxxxxxxxx").as_bytes(),
        );
        secrets::insert(
            &tx,
            secrets::Write {
                name: &name,
                display_name: &format!("Team {} registry", i % 97),
                kind: secrets::Kind::ImagePull,
                registry_host: Some(if i % 3 == 0 {
                    "registry.gitlab.com"
                } else {
                    "ghcr.io"
                }),
                username: Some("deployer"),
                endpoint: None,
                sealed: Some(sealed),
                expires_on: None,
                deliver: false,
                node_patterns: String::new(),
                delivered: Vec::new(),
            },
        )
        .expect("insert secret");
    }
    for i in 0..IMAGES {
        let name = format!("image-{i:05}");
        let url = format!("registry.gitlab.com/team-{}/notebook:v{i}", i % 50);
        images::insert(
            &tx,
            &images::Write {
                name: &name,
                display_name: &format!("Notebook {i}"),
                description: "Jupyter with PyTorch",
                image_type: images::ImageType::Both,
                url: &url,
                url_for_gpu: None,
                pull_secret_id: Some(wharf::domain::SecretId((i * 3 % SECRETS) as i64 + 1)),
                global: true,
                groups: &[],
            },
        )
        .expect("insert image");
    }
    tx.commit().expect("commit");
    drop(pooled);
    add_bench_user(dir);
}

fn add_bench_user(dir: &Path) {
    wharf::cli::user_add(
        &wharf::db::Location::Sqlite(dir.to_path_buf()),
        "bench",
        true,
        std::io::Cursor::new("bench-password-123\n"),
    )
    .expect("user");
}

/// POSTs `n` forms made by `form(i)` to `path`, `CONNECTIONS` at a time;
/// returns the seconds it took.
async fn post_many<F>(client: &reqwest::Client, url: String, cookie: &str, n: usize, form: F) -> f64
where
    F: Fn(usize) -> Vec<(String, String)> + Send + Sync + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let form = Arc::new(form);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url, cookie, next, form) = (
                client.clone(),
                url.clone(),
                cookie.to_owned(),
                next.clone(),
                form.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= n {
                        break;
                    }
                    let r = client
                        .post(&url)
                        .header("cookie", &cookie)
                        .form(&form(i))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 303 => {}
                        Ok(r) => panic!(
                            "create {i}: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ),
                        Err(e) => panic!("create {i}: {e}"),
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// The same secrets and images as `populate`, through the forms.
/// Returns the secrets' create rate.
async fn fill_over_http(client: &reqwest::Client, base: &str, cookie: &str, token: &str) -> f64 {
    let tok = token.to_owned();
    let secs = post_many(
        client,
        format!("{base}/admin/secrets"),
        cookie,
        SECRETS,
        move |i| {
            let host = if i % 3 == 0 {
                "registry.gitlab.com"
            } else {
                "ghcr.io"
            };
            [
                ("csrf_token", tok.clone()),
                ("name", format!("secret-{i:05}")),
                ("display_name", format!("Team {} registry", i % 97)),
                ("type", "image_pull".into()),
                ("registry_host", host.into()),
                ("username", "deployer".into()),
                ("password", format!("token-{i}-xxxxxxxxxxxxxxxxxxxx")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        },
    )
    .await;
    println!(
        "filled {SECRETS} secrets over HTTP in {secs:.1} s ({:.0} creates/s)",
        SECRETS as f64 / secs
    );
    let secs_secrets = secs;
    let tok = token.to_owned();
    let secs = post_many(
        client,
        format!("{base}/admin/users"),
        cookie,
        USERS,
        move |i| {
            [
                ("csrf_token", tok.clone()),
                ("username", format!("user-{i:03}")),
                ("password", USER_PASSWORD.into()),
                ("active", "on".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        },
    )
    .await;
    let tok = token.to_owned();
    let secs_groups = post_many(
        client,
        format!("{base}/admin/groups"),
        cookie,
        GROUPS,
        move |g| {
            let mut form = vec![
                ("csrf_token".to_owned(), tok.clone()),
                ("name".to_owned(), format!("group-{g:02}")),
                ("display_name".to_owned(), format!("Team {g}")),
            ];
            // Every user in one group; the viewer in three.
            for u in (0..USERS).filter(|u| u % GROUPS == g || (*u == 0 && g < 3)) {
                form.push(("members".to_owned(), format!("user-{u:03}")));
            }
            form
        },
    )
    .await;
    println!(
        "filled {USERS} users and {GROUPS} groups over HTTP in {:.1} s",
        secs + secs_groups
    );
    let tok = token.to_owned();
    let secs = post_many(
        client,
        format!("{base}/admin/images"),
        cookie,
        IMAGES,
        move |i| {
            [
                ("csrf_token", tok.clone()),
                ("name", format!("image-{i:05}")),
                ("display_name", format!("Notebook {i}")),
                ("description", "Jupyter with PyTorch".into()),
                (
                    "url",
                    format!("registry.gitlab.com/team-{}/notebook:v{i}", i % 50),
                ),
                ("use_pull_secret", "on".into()),
                ("pull_secret", format!("secret-{:05}", i * 3 % SECRETS)),
                // One in ten for everyone, the others for one group each.
                if i % 10 == 0 {
                    ("global", "on".into())
                } else {
                    ("groups", format!("group-{:02}", i % GROUPS))
                },
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
        },
    )
    .await;
    println!("filled {IMAGES} images in {GROUPS} groups over HTTP in {secs:.1} s");
    SECRETS as f64 / secs_secrets
}

struct Figures {
    name: &'static str,
    /// Server CPU per request, in microseconds.
    cpu_us: f64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// Sends requests from `CONNECTIONS` tasks for `secs` seconds.
async fn measure<F, Fut>(name: &'static str, pid: u32, secs: u64, make: F) -> Figures
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (make, counter, errors) = (make.clone(), counter.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if !make(n).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let started = Instant::now();
    let cpu_before = cpu_secs(pid);
    let mut all: Vec<Duration> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_secs(pid) - cpu_before;
    all.sort();
    let pct = |p: f64| common::percentile_ms(&all, p);
    Figures {
        name,
        cpu_us: cpu / all.len().max(1) as f64 * 1e6,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("WHARF_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let dir = tempfile::tempdir().unwrap();
    let over_http = std::env::var("WHARF_BENCH_FILL").map_or(true, |v| v != "store");
    let t = Instant::now();
    if over_http {
        add_bench_user(dir.path());
    } else {
        populate(dir.path());
        println!(
            "populated {SECRETS} secrets and {IMAGES} images through the store in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let api_token = wharf::cli::token_create(
        &wharf::db::Location::Sqlite(dir.path().to_path_buf()),
        "bench",
        "bench",
        "read",
        86_400,
    )
    .expect("token");
    let admin_token = api_token.clone();
    let write_token = wharf::cli::token_create(
        &wharf::db::Location::Sqlite(dir.path().to_path_buf()),
        "bench",
        "bench-write",
        "write",
        86_400,
    )
    .expect("token");

    let server = Server::start(dir.path(), &[]).await;
    let (pid, startup, base) = (server.pid(), server.startup, server.base.clone());

    // Sign in once; every connection then uses the one session cookie.
    let client = common::client(CONNECTIONS);
    let (cookie, token) = server.sign_in(&client, "bench", "bench-password-123").await;
    let create_rate = if over_http {
        Some(fill_over_http(&client, &base, &cookie, &token).await)
    } else {
        None
    };

    let get = |path: String| {
        let (client, cookie) = (client.clone(), cookie.clone());
        let url = format!("{base}{path}");
        move |_n: u64| {
            let (client, cookie, url) = (client.clone(), cookie.clone(), url.clone());
            async move {
                match client.get(&url).header("cookie", &cookie).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };
    let mut results = Vec::new();
    results.push(measure("GET /healthz", pid, secs, get("/healthz".into())).await);
    results.push(
        measure(
            "GET /admin/secrets/new (session only)",
            pid,
            secs,
            get("/admin/secrets/new".into()),
        )
        .await,
    );
    results.push(
        measure(
            "GET /admin/secrets?page=100",
            pid,
            secs,
            get("/admin/secrets?page=100".into()),
        )
        .await,
    );
    results.push(
        measure(
            "GET /admin/secrets?q=team+42 (103 hits)",
            pid,
            secs,
            get("/admin/secrets?q=team+42".into()),
        )
        .await,
    );
    results.push(
        measure(
            "GET /admin/secrets?q=secret-0424 (10 hits)",
            pid,
            secs,
            get("/admin/secrets?q=secret-0424".into()),
        )
        .await,
    );
    results.push(
        measure(
            "GET / (catalogue, page 1 of 2,000 images)",
            pid,
            secs,
            get("/".into()),
        )
        .await,
    );
    results.push(
        measure(
            "GET /admin/secrets/secret-04242",
            pid,
            secs,
            get("/admin/secrets/secret-04242".into()),
        )
        .await,
    );
    let api = {
        let client = client.clone();
        let url = format!("{base}/api/v1/secrets?page=100");
        move |_n: u64| {
            let (client, url, token) = (client.clone(), url.clone(), api_token.clone());
            async move {
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };
    results.push(measure("GET /api/v1/secrets?page=100", pid, secs, api).await);
    // A fleet asking for credentials: half the images by a node pattern,
    // half by the catalogue's pull secret for the repository.
    let cluster_token = deliver(&client, &base, &write_token).await;
    let fleet_token = cluster_token.clone();
    let audit_before = audit_entries(dir.path());
    let credentials = {
        let client = client.clone();
        let base = base.clone();
        move |n: u64| {
            let (client, token) = (client.clone(), cluster_token.clone());
            let image = if n.is_multiple_of(2) {
                // A fleet host: the secrets that are not GitLab's.
                format!(
                    "fleet-{}.registry.example/app",
                    3 * (n % (DELIVERED as u64 / 3)) + 1
                )
            } else {
                format!("registry.gitlab.com/team-{}/notebook", n % 50)
            };
            let url = format!("{base}/api/v1/credentials?image={image}");
            async move {
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        }
    };
    results.push(measure("GET /api/v1/credentials (cluster)", pid, secs, credentials).await);
    let audit_growth = audit_entries(dir.path()) - audit_before;
    // More GET paths to measure, for exploring: WHARF_BENCH_EXTRA=/a,/b
    for path in std::env::var("WHARF_BENCH_EXTRA")
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let name: &'static str = Box::leak(format!("GET {path}").into_boxed_str());
        results.push(measure(name, pid, secs, get(path.to_owned())).await);
    }
    // `/healthz` again: the ratios use the faster of the two runs, so a slow
    // start (the machine still busy after the fill) cannot flatter them.
    results.push(measure("GET /healthz (again)", pid, secs, get("/healthz".into())).await);
    // The read paths people and clusters load most, driven by wrk as the
    // issue measured them, each against `/healthz` of the same run.
    let reads = if over_http && wrk_installed() {
        Some(
            read_paths(
                &server,
                &client,
                &cookie,
                &admin_token,
                &fleet_token,
                dir.path(),
                secs,
            )
            .await,
        )
    } else {
        println!("(the read paths need wrk and the fill over HTTP; skipped)");
        None
    };
    let create = {
        let (client, cookie, token) = (client.clone(), cookie.clone(), token.clone());
        let url = format!("{base}/admin/secrets");
        move |n: u64| {
            let (client, cookie, token, url) =
                (client.clone(), cookie.clone(), token.clone(), url.clone());
            async move {
                let name = format!("bench-new-{n:07}");
                let form = [
                    ("csrf_token", token.as_str()),
                    ("name", name.as_str()),
                    ("type", "image_pull"),
                    ("registry_host", "registry.gitlab.com"),
                    ("username", "deployer"),
                    ("password", "glpat-bench-token"),
                ];
                match client
                    .post(&url)
                    .header("cookie", &cookie)
                    .form(&form)
                    .send()
                    .await
                {
                    Ok(r) => r.status() == 303,
                    Err(_) => false,
                }
            }
        }
    };
    results.push(measure("POST /admin/secrets (create)", pid, secs, create).await);

    let peak_mib = vm_hwm_kib(pid) as f64 / 1024.0;
    let mut errors_logged = server.error_lines();
    drop(server);
    // The filled database, started again.
    let restarted = Server::start(dir.path(), &[]).await;
    let restart = restarted.startup;
    errors_logged.extend(restarted.error_lines());
    drop(restarted);
    if std::env::var("WHARF_BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!("kept the data directory {}", dir.keep().display());
    }

    let healthz = results
        .iter()
        .filter(|r| r.name.starts_with("GET /healthz"))
        .map(|r| r.rps)
        .fold(0.0, f64::max);
    println!(
        "\nwharf load benchmark: {SECRETS} secrets, {IMAGES} images, {CONNECTIONS} connections, {secs} s each, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<42} {:>8} {:>8} {:>8} {:>6} {:>12} {:>6}",
        "endpoint", "req/s", "p50 ms", "p99 ms", "ratio", "server µs/req", "errors"
    );
    for f in &results {
        println!(
            "{:<42} {:>8.0} {:>8.2} {:>8.2} {:>6.2} {:>12.0} {:>6}",
            f.name,
            f.rps,
            f.p50_ms,
            f.p99_ms,
            f.rps / healthz,
            f.cpu_us,
            f.errors
        );
    }
    println!("peak memory (VmHWM): {peak_mib:.1} MiB");
    let first = if over_http {
        "an empty data directory"
    } else {
        "the filled database"
    };
    println!(
        "first start on {first}: {:.0} ms; start again on the {SECRETS}-secret database: {:.0} ms",
        startup.as_secs_f64() * 1000.0,
        restart.as_secs_f64() * 1000.0
    );
    for line in &errors_logged {
        println!("logged: {line}");
    }

    let list = &results[2];
    let search = &results[3];
    let creds = results
        .iter()
        .find(|r| r.name.starts_with("GET /api/v1/credentials"))
        .expect("measured");
    println!(
        "audit entries added while clusters fetched credentials: {audit_growth} (one per cluster, secret and hour, written when the hour ends)"
    );
    let checks = [
        (
            format!(
                "credentials ratio {:.2} >= {CREDENTIALS_RATIO}",
                creds.rps / healthz
            ),
            creds.rps / healthz >= CREDENTIALS_RATIO,
        ),
        (
            format!(
                "credentials p99 {:.2} ms <= {CREDENTIALS_P99_MS} ms",
                creds.p99_ms
            ),
            creds.p99_ms <= CREDENTIALS_P99_MS,
        ),
        (
            format!(
                "audit entries under the fleet's load: {audit_growth} (at most one per cluster, secret and hour)"
            ),
            audit_growth == 0,
        ),
        (
            format!("list ratio {:.2} >= {LIST_RATIO}", list.rps / healthz),
            list.rps / healthz >= LIST_RATIO,
        ),
        (
            format!("search ratio {:.2} >= {SEARCH_RATIO}", search.rps / healthz),
            search.rps / healthz >= SEARCH_RATIO,
        ),
        (
            format!("list p99 {:.2} ms <= {LIST_P99_MS} ms", list.p99_ms),
            list.p99_ms <= LIST_P99_MS,
        ),
        (
            format!("search p99 {:.2} ms <= {SEARCH_P99_MS} ms", search.p99_ms),
            search.p99_ms <= SEARCH_P99_MS,
        ),
        (
            format!(
                "creates over HTTP {}/s >= {CREATES_PER_S}/s",
                create_rate.map_or(
                    "(not measured: WHARF_BENCH_FILL=store)".into(),
                    |r| format!("{r:.0}")
                )
            ),
            create_rate.is_none_or(|r| r >= CREATES_PER_S),
        ),
        (
            format!("peak memory {peak_mib:.1} MiB <= {PEAK_MIB} MiB"),
            peak_mib <= PEAK_MIB,
        ),
        (
            format!(
                "start-up {:.0} ms and {:.0} ms <= {STARTUP_MS} ms",
                startup.as_secs_f64() * 1000.0,
                restart.as_secs_f64() * 1000.0
            ),
            startup.max(restart).as_secs_f64() * 1000.0 <= STARTUP_MS,
        ),
        (
            format!("no ERROR logged ({})", errors_logged.len()),
            errors_logged.is_empty(),
        ),
        (
            format!(
                "no errors ({})",
                results.iter().map(|r| r.errors).sum::<u64>()
            ),
            results.iter().all(|r| r.errors == 0),
        ),
    ];
    println!("\ntargets:");
    for (what, ok) in &checks {
        println!("  [{}] {what}", if *ok { "ok" } else { "MISSED" });
    }
    if let Some(reads) = reads {
        reads.print(peak_mib);
    }
}

fn wrk_installed() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// One path as wrk measured it.
struct Read {
    name: &'static str,
    target: Option<(f64, f64)>,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    bytes: u64,
    cpu_us: f64,
    errors: u64,
}

/// wrk's latency figure ("850.00us", "1.23ms", "1.02s") in milliseconds.
fn wrk_ms(v: &str) -> f64 {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

/// Drives `url` with `wrk -t1 -c32 --latency` for `secs` seconds.
fn wrk(
    name: &'static str,
    target: Option<(f64, f64)>,
    url: &str,
    header: &str,
    pid: u32,
    secs: u64,
) -> Read {
    let cpu_before = cpu_secs(pid);
    let out = std::process::Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{secs}s"),
            "--latency",
        ])
        .args(["-H", header, url])
        .output()
        .expect("wrk");
    let cpu = cpu_secs(pid) - cpu_before;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l[prefix.len()..].split_whitespace().next())
    };
    let requests: f64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    let read: f64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split(',').nth(1))
        .map(|b| b.trim().trim_end_matches(" read"))
        .map(|b| {
            let (n, unit) =
                b.split_at(b.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(b.len()));
            let n: f64 = n.parse().unwrap_or(0.0);
            n * match unit {
                "KB" => 1024.0,
                "MB" => 1024.0 * 1024.0,
                "GB" => 1024.0 * 1024.0 * 1024.0,
                _ => 1.0,
            }
        })
        .unwrap_or(0.0);
    let non_2xx: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let socket: u64 = text
        .lines()
        .find(|l| l.trim().starts_with("Socket errors:"))
        .map(|l| {
            l.split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Read {
        name,
        target,
        rps: field("Requests/sec:")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0),
        p50_ms: field("50%").map_or(f64::NAN, wrk_ms),
        p99_ms: field("99%").map_or(f64::NAN, wrk_ms),
        bytes: (read / requests.max(1.0)) as u64,
        cpu_us: cpu / requests.max(1.0) * 1e6,
        errors: non_2xx + socket,
    }
}

/// What the read paths came to.
struct Reads {
    rows: Vec<Read>,
    healthz: f64,
    ceiling: f64,
    membership: String,
}

impl Reads {
    fn print(&self, peak_mib: f64) {
        println!(
            "\nread paths, wrk -t1 -c{CONNECTIONS} (a user in 3 of {GROUPS} groups; {USERS} users)"
        );
        println!(
            "{:<44} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>6}",
            "path", "req/s", "p50 ms", "p99 ms", "bytes", "ratio", "static", "server µs", "errors"
        );
        for r in &self.rows {
            println!(
                "{:<44} {:>8.0} {:>7.2} {:>7.2} {:>7} {:>7.2} {:>7.2} {:>9.0} {:>6}",
                r.name,
                r.rps,
                r.p50_ms,
                r.p99_ms,
                r.bytes,
                r.rps / self.healthz,
                r.rps / self.ceiling,
                r.cpu_us,
                r.errors
            );
        }
        println!("{}", self.membership);
        println!("targets (ratio to /healthz, p99 <= 15 ms; credentials p99 <= 10 ms):");
        for r in self.rows.iter().filter(|r| r.target.is_some()) {
            let Some((ratio, p99)) = r.target else {
                continue;
            };
            let got = r.rps / self.healthz;
            let ok = got >= ratio && r.p99_ms <= p99 && r.errors == 0;
            println!(
                "  [{}] {:<44} {got:.2} >= {ratio:.2}, p99 {:.2} ms <= {p99} ms",
                if ok { "ok" } else { "MISSED" },
                r.name,
                r.p99_ms
            );
        }
        println!(
            "  [{}] peak memory {peak_mib:.1} MiB <= {PEAK_MIB} MiB",
            if peak_mib <= PEAK_MIB { "ok" } else { "MISSED" }
        );
    }
}

/// Signs `user` in over the form; the session cookie.
async fn session_of(client: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let cookie_of = common::cookie_of;
    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let cookie = cookie_of(&login);
    let token = common::csrf_in(&login.text().await.unwrap());
    let r = client
        .post(format!("{base}/login"))
        .header("cookie", &cookie)
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in of {user}");
    cookie_of(&r)
}

/// The catalogue's "Showing a–b of N": N.
async fn catalogue_total(client: &reqwest::Client, url: &str, cookie: &str) -> String {
    let html = client
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    html.split(" of ")
        .nth(1)
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or("?")
        .to_owned()
}

async fn read_paths(
    server: &Server,
    client: &reqwest::Client,
    admin_cookie: &str,
    admin_token: &str,
    fleet_token: &str,
    dir: &Path,
    secs: u64,
) -> Reads {
    let (pid, base) = (server.pid(), server.base.clone());
    let viewer_cookie = session_of(client, &base, VIEWER, USER_PASSWORD).await;
    let viewer_token = wharf::cli::token_create(
        &wharf::db::Location::Sqlite(dir.to_path_buf()),
        VIEWER,
        "bench",
        "read",
        86_400,
    )
    .expect("token");
    let admin = format!("Cookie: {admin_cookie}");
    let viewer = format!("Cookie: {viewer_cookie}");
    let admin_api = format!("Authorization: Bearer {admin_token}");
    let viewer_api = format!("Authorization: Bearer {viewer_token}");
    let fleet = format!("Authorization: Bearer {fleet_token}");
    /// Name, target (ratio, p99 ms), path, header.
    type Path<'a> = (&'static str, Option<(f64, f64)>, &'a str, &'a String);
    let paths: [Path<'_>; 14] = [
        ("GET /healthz", None, "/healthz", &admin),
        (
            "GET /static/app.css (10 KB, static)",
            None,
            "/static/app.css",
            &admin,
        ),
        // The floor of any signed-in page: the session checked against the
        // database (one hop to the blocking pool), a small form rendered.
        (
            "GET /admin/secrets/new (session only)",
            None,
            "/admin/secrets/new",
            &admin,
        ),
        (
            "GET / (catalogue, user in 3 groups)",
            Some((0.40, 15.0)),
            "/",
            &viewer,
        ),
        (
            "GET /?q=notebook+4 (catalogue search)",
            Some((0.40, 15.0)),
            "/?q=notebook+4",
            &viewer,
        ),
        (
            "GET /admin/images?page=20",
            Some((0.40, 15.0)),
            "/admin/images?page=20",
            &admin,
        ),
        (
            "GET /admin/images?q=notebook+4",
            Some((0.30, 15.0)),
            "/admin/images?q=notebook+4",
            &admin,
        ),
        (
            "GET /admin/secrets?page=100",
            Some((0.40, 15.0)),
            "/admin/secrets?page=100",
            &admin,
        ),
        (
            "GET /admin/secrets?q=team+42",
            Some((0.30, 15.0)),
            "/admin/secrets?q=team+42",
            &admin,
        ),
        (
            "GET /api/v1/secrets?page=100",
            Some((0.45, 15.0)),
            "/api/v1/secrets?page=100",
            &admin_api,
        ),
        (
            "GET /api/v1/catalogue (user in 3 groups)",
            Some((0.45, 15.0)),
            "/api/v1/catalogue",
            &viewer_api,
        ),
        (
            "GET /api/v1/credentials (cluster)",
            Some((0.50, 10.0)),
            "/api/v1/credentials?image=fleet-7.registry.example/app",
            &fleet,
        ),
        ("GET /healthz (again)", None, "/healthz", &admin),
        (
            "GET /static/app.css (again)",
            None,
            "/static/app.css",
            &admin,
        ),
    ];
    let rows: Vec<Read> = paths
        .iter()
        .map(|(name, target, path, header)| {
            wrk(name, *target, &format!("{base}{path}"), header, pid, secs)
        })
        .collect();
    let best = |prefix: &str| {
        rows.iter()
            .filter(|r| r.name.starts_with(prefix))
            .map(|r| r.rps)
            .fold(0.0, f64::max)
    };
    let (healthz, ceiling) = (best("GET /healthz"), best("GET /static/app.css"));
    // A membership taken away shows on the very next request (group-01:
    // group-00's images are all global, i % 20 == 0 being i % 10 == 0).
    let before = catalogue_total(client, &format!("{base}/"), &viewer_cookie).await;
    let form = client
        .get(format!("{base}/admin/groups/group-01"))
        .header("cookie", admin_cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let version = form
        .split(r#"name="version" value=""#)
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap_or("")
        .to_owned();
    let csrf = common::csrf_in(&form);
    let r = client
        .post(format!("{base}/admin/groups/group-01"))
        .header("cookie", admin_cookie)
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("display_name", "Team 1"),
            ("description", ""),
            ("version", version.as_str()),
            ("members", "user-001"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the group form");
    let after = catalogue_total(client, &format!("{base}/"), &viewer_cookie).await;
    Reads {
        rows,
        healthz,
        ceiling,
        membership: format!(
            "the viewer's catalogue: {before} images; taken out of group-01, the very next request: {after}"
        ),
    }
}
