//! No acknowledged change is lost: a real `wharf serve` process under a
//! concurrent create load is killed with SIGKILL, restarted, and every
//! create that got its 303 must be there, readable, in a sound database.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::helpers::{Browser, KillOnDrop, add_user, client, csrf_in, free_port, sqlite};

async fn start(dir: &Path) -> (KillOnDrop, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args([
            "--data-dir",
            dir.to_str().unwrap(),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let process = KillOnDrop(child);
    let base = format!("http://127.0.0.1:{port}");
    let probe = reqwest::Client::new();
    for _ in 0..200 {
        if probe.get(format!("{base}/healthz")).send().await.is_ok() {
            return (process, base);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("wharf did not start");
}

/// `ops` signed in on the server at `base`, and the CSRF token of that
/// session.
async fn sign_in(base: &str) -> (Browser, String) {
    let ops = Browser::with_client(base, client());
    assert_eq!(ops.login("ops", "long-enough-pw").await.status(), 303);
    let token = csrf_in(&ops.get_html("/admin/secrets").await);
    (ops, token)
}

#[tokio::test]
async fn every_acknowledged_create_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    add_user(&sqlite(dir.path()), "ops", "long-enough-pw", true);
    let (mut process, base) = start(dir.path()).await;
    let (ops, token) = sign_in(&base).await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (client, token, base, acked) = (
            ops.client.clone(),
            token.clone(),
            base.clone(),
            acked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w{worker}-{i:05}");
                let password = format!("token-{name}");
                let form = [
                    ("csrf_token", token.as_str()),
                    ("name", name.as_str()),
                    ("type", "image_pull"),
                    ("registry_host", "registry.gitlab.com"),
                    ("username", "deployer"),
                    ("password", password.as_str()),
                ];
                match client
                    .post(format!("{base}/admin/secrets"))
                    .form(&form)
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 303 => acked.lock().unwrap().push(name),
                    Ok(r) => panic!("unexpected {}", r.status()),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    // Let the load run, then pull the plug mid-flight.
    let started = Instant::now();
    while acked.lock().unwrap().len() < 150 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    process.0.kill().unwrap(); // SIGKILL
    process.0.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 150,
        "only {} creates were acknowledged",
        acked.len()
    );

    // Restart on the same data and look at every acknowledged secret.
    let (_process, base) = start(dir.path()).await;
    let (ops, _) = sign_in(&base).await;
    let conn = rusqlite::Connection::open(dir.path().join("wharf.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", (), |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .unwrap();
    let key = wharf::crypto::MasterKey::from_bytes(&key).unwrap();
    let mut stmt = conn
        .prepare("SELECT sealed FROM secrets WHERE name = ?1")
        .unwrap();
    for name in &acked {
        let sealed: Vec<u8> = stmt
            .query_row([name], |r| r.get(0))
            .unwrap_or_else(|_| panic!("acknowledged secret {name} is missing"));
        let plain = key.open(name.as_bytes(), &sealed).expect("decrypts");
        assert_eq!(plain, format!("token-{name}").as_bytes());
    }
    for name in acked.iter().step_by(25) {
        let r = ops
            .get(&format!("/admin/secrets/{name}/dockerconfig.json"))
            .await;
        assert_eq!(r.status(), 200, "{name}");
        assert!(r.text().await.unwrap().contains(&format!("token-{name}")));
    }
}
