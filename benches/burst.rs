//! Sign-in burst: does a flood of password guesses hold up everyone else?
//!
//! `cargo bench --bench burst` starts the release binary behind a pretend
//! proxy (`--trust-proxy`, so each guess can come from its own address and
//! no throttle stops it), then fires `WHARF_BURST` (default 200) parallel
//! sign-ins with wrong passwords while two probes keep asking for
//! `/healthz` and a signed-in page. It prints the probes' latency during
//! the burst, how the guesses were answered, and the server's peak memory.
//! argon2 runs at most once per core at a time, so the probes should stay
//! fast and memory bounded however large the burst.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Server, client, percentile_ms, vm_hwm_kib};

/// Sends GETs one after another until `stop`; returns each latency.
async fn probe(
    client: reqwest::Client,
    url: String,
    cookie: Option<String>,
    stop: Arc<AtomicBool>,
) -> (Vec<Duration>, u64) {
    let mut lat = Vec::new();
    let mut bad = 0;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let mut req = client.get(&url);
        if let Some(c) = &cookie {
            req = req.header("cookie", c);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
            }
            _ => bad += 1,
        }
        lat.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lat.sort();
    (lat, bad)
}

#[tokio::main]
async fn main() {
    let burst: usize = std::env::var("WHARF_BURST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    wharf::cli::user_add(
        &wharf::db::Location::Sqlite(dir.path().to_path_buf()),
        "bench",
        true,
        std::io::Cursor::new("bench-password-123\n"),
    )
    .expect("user");
    let server = Server::start(dir.path(), &["--trust-proxy"]).await;
    let pid = server.pid();
    let c = client(burst + 4);
    let (cookie, _) = server.sign_in(&c, "bench", "bench-password-123").await;
    let idle_mib = vm_hwm_kib(pid) as f64 / 1024.0;

    // Quiet figures first, for comparison.
    let quiet_stop = Arc::new(AtomicBool::new(false));
    let quiet = tokio::spawn(probe(
        client(2),
        server.url("/admin/secrets/new"),
        Some(cookie.clone()),
        quiet_stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    quiet_stop.store(true, Ordering::Relaxed);
    let (quiet_lat, _) = quiet.await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let health = tokio::spawn(probe(client(2), server.url("/healthz"), None, stop.clone()));
    let page = tokio::spawn(probe(
        client(2),
        server.url("/admin/secrets/new"),
        Some(cookie.clone()),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Each guess: its own session (for the CSRF token), its own address,
    // its own username, so neither throttle applies.
    let started = Instant::now();
    let guesses: Vec<_> = (0..burst)
        .map(|i| {
            let (c, login) = (c.clone(), server.url("/login"));
            tokio::spawn(async move {
                let page = c.get(&login).send().await.unwrap();
                let jar = page.headers()["set-cookie"]
                    .to_str()
                    .unwrap()
                    .split(';')
                    .next()
                    .unwrap()
                    .to_owned();
                let token = common::csrf_in(&page.text().await.unwrap());
                let t = Instant::now();
                let r = c
                    .post(&login)
                    .header("cookie", jar)
                    .header(
                        "x-forwarded-for",
                        format!("198.18.{}.{}", i / 250, i % 250 + 1),
                    )
                    .form(&[
                        ("username", format!("guess{i}").as_str()),
                        ("password", "wrong-password"),
                        ("csrf_token", token.as_str()),
                    ])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (r, t.elapsed())
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    let mut guess_lat = Vec::new();
    for g in guesses {
        let (status, lat) = g.await.unwrap();
        *statuses.entry(status).or_insert(0) += 1;
        guess_lat.push(lat);
    }
    let burst_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (health_lat, health_bad) = health.await.unwrap();
    let (page_lat, page_bad) = page.await.unwrap();
    guess_lat.sort();
    let peak_mib = vm_hwm_kib(pid) as f64 / 1024.0;
    let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Threads:"))
        .map(|l| l.trim_start_matches("Threads:").trim().to_owned())
        .unwrap_or_default();

    println!(
        "\nwharf sign-in burst: {burst} parallel wrong passwords from {burst} addresses, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("burst took {burst_secs:.2} s; answers: {statuses:?}");
    println!(
        "{:<40} {:>7} {:>8} {:>8} {:>8} {:>6}",
        "during the burst", "samples", "p50 ms", "p99 ms", "max ms", "errors"
    );
    let row = |name: &str, lat: &[Duration], bad: u64| {
        println!(
            "{name:<40} {:>7} {:>8.2} {:>8.2} {:>8.2} {bad:>6}",
            lat.len(),
            percentile_ms(lat, 0.50),
            percentile_ms(lat, 0.99),
            percentile_ms(lat, 1.0),
        );
    };
    row("GET /admin/secrets/new (quiet, before)", &quiet_lat, 0);
    row("GET /healthz", &health_lat, health_bad);
    row("GET /admin/secrets/new (signed in)", &page_lat, page_bad);
    row("POST /login (the guesses)", &guess_lat, 0);
    println!(
        "peak memory (VmHWM): {idle_mib:.1} MiB before, {peak_mib:.1} MiB after; {threads} threads"
    );
    let p99 = percentile_ms(&health_lat, 0.99).max(percentile_ms(&page_lat, 0.99));
    println!(
        "\ntarget: probes' p99 below 1000 ms: [{}] {p99:.1} ms",
        if p99 < 1000.0 { "ok" } else { "MISSED" }
    );
}
