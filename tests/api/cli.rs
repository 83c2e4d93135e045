//! The shell commands: `wharf user add` and `wharf backup`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn user_add_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &["user", "add", "ops", "--admin", "--password-stdin"],
        "long-enough-pw\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["user", "add", "ops", "--password-stdin"],
        "long-enough-pw\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = run(&["user", "add", "dev", "--password-stdin"], "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12"));

    let app = spawn_app_in(Some(dir)).await;
    assert_redirect_to(&app.login("ops", "long-enough-pw").await, "/admin/secrets");
}

#[tokio::test]
async fn backup_copies_the_live_database() {
    let app = spawn_app().await;
    app.login_admin().await;
    app.create_secret("gitlab", "GitLab", "registry.gitlab.com", "u", "token-1")
        .await;
    let copy = app.dir.path().join("copy.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args([
            "--data-dir",
            app.dir.path().to_str().unwrap(),
            "backup",
            copy.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = rusqlite::Connection::open(&copy).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM secrets WHERE name = 'gitlab'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    // Never over an existing file.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args([
            "--data-dir",
            app.dir.path().to_str().unwrap(),
            "backup",
            copy.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[tokio::test]
async fn the_setup_link_dies_when_a_user_is_added_from_the_shell() {
    let app = spawn_app().await;
    let path = app
        .setup_url
        .clone()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_owned();
    app.add_user("ops", "long-enough-pw", true);
    assert_eq!(app.get(&path).await.status(), StatusCode::NOT_FOUND);
}

#[test]
fn backup_finishes_under_constant_writes() {
    let dir = tempfile::tempdir().unwrap();
    let pool = wharf::db::open(&dir.path().join("wharf.db")).unwrap();
    {
        // About 4 MiB, so the copy takes many steps.
        let pooled = pool.get().unwrap();
        let conn = pooled.conn();
        let tx = conn.begin_write().unwrap();
        let pad = "x".repeat(1000);
        for i in 0..4000 {
            wharf::audit::record(&tx, "bench", "filler", &format!("t/{i}"), &pad).unwrap();
        }
        tx.commit().unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, pool) = (stop.clone(), pool.clone());
        std::thread::spawn(move || {
            let pooled = pool.get().unwrap();
            let conn = pooled.conn();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                wharf::audit::record(&conn, "writer", "write", &n.to_string(), "").unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            n
        })
    };
    let out = dir.path().join("copy.db");
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let (data, out) = (dir.path().to_path_buf(), out.clone());
        std::thread::spawn(move || {
            let _ = tx.send(wharf::cli::backup(&data, &out));
        });
    }
    let started = Instant::now();
    let result = rx.recv_timeout(Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    let writes = writer.join().unwrap();
    let result = result.expect("the backup finished while the writes went on");
    result.unwrap();
    assert!(writes > 10, "the writer really wrote ({writes})");
    let copy = rusqlite::Connection::open(&out).unwrap();
    let fillers: i64 = copy
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'filler'",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fillers, 4000);
    eprintln!(
        "backup under writes took {:.2} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn user_add_makes_an_owner_only_data_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh").join("wharf-data");
    add_user(&sqlite(&data), "ops", "ops-long-password", true);
    for d in [&data, &data.parent().unwrap().to_path_buf()] {
        let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
    }
    let db = std::fs::metadata(data.join("wharf.db")).unwrap();
    assert_eq!(db.permissions().mode() & 0o077, 0);
}

#[test]
fn token_create_names_a_bad_flag_before_opening_anything() {
    let dir = tempfile::tempdir().unwrap();
    // No database at all: the flag is what is wrong, and is said first.
    let err =
        wharf::cli::token_create(&sqlite(dir.path()), "ops", "ci", "admin", 3600).unwrap_err();
    assert_eq!(err, "--scope must be read or write");
    assert!(!dir.path().join("wharf.db").exists());
}

/// `wharf` with these arguments, which must end by itself within 20 s
/// (a server that starts when it should have refused fails the test).
fn run_to_the_end(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wharf {args:?} did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Key files kept apart from the database they protect: `wharf keys
/// generate` writes both owner-only and never over a key; `serve` takes
/// them by flag or by environment variable, makes no key of its own in the
/// data directory, and refuses a missing file or a wrong key with a
/// sentence and status 1.
#[tokio::test]
async fn key_files_are_made_apart_and_checked_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let keys = tempfile::tempdir().unwrap();
    let out = keys.path().join("wharf-keys");
    let generated = run_to_the_end(&["keys", "generate", "--out", out.to_str().unwrap()], &[]);
    assert!(generated.status.success(), "{generated:?}");
    let said = String::from_utf8_lossy(&generated.stdout);
    assert!(said.contains("--master-key-file"), "{said}");
    let (master, session) = (out.join("master.key"), out.join("session.key"));
    for file in [&master, &session] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let kept = std::fs::read(&master).unwrap();
    let again = run_to_the_end(&["keys", "generate", "--out", out.to_str().unwrap()], &[]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists already"),
        "{again:?}"
    );
    assert_eq!(
        std::fs::read(&master).unwrap(),
        kept,
        "a key was overwritten"
    );

    // Served with them: a secret is sealed under that master key, and the
    // data directory holds no key.
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let (m, s) = (master.to_str().unwrap(), session.to_str().unwrap());
    let flags = ["--master-key-file", m, "--session-key-file", s];
    let (server, base) = start_wharf(data.path(), &flags).await;
    assert!(!data.path().join("master.key").exists());
    assert!(!data.path().join("session.key").exists());
    let token = {
        let add = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args([
                "--data-dir",
                dir,
                "user",
                "add",
                "ops",
                "--admin",
                "--password-stdin",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(b"ops-long-password\n")?;
                c.wait()
            })
            .unwrap();
        assert!(add.success());
        wharf::cli::token_create(&sqlite(data.path()), "ops", "ci", "write", 3600).unwrap()
    };
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/api/v1/secrets"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"name": "gitlab", "type": "image_pull",
                "registry_host": "registry.gitlab.com", "username": "u", "password": "pw-1"})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    drop(server);

    // Named by the environment instead, the same keys open it.
    let (server, base) = start_wharf_env(
        data.path(),
        &[],
        &[("WHARF_MASTER_KEY_FILE", m), ("WHARF_SESSION_KEY_FILE", s)],
    )
    .await;
    let config = client
        .get(format!("{base}/api/v1/secrets/gitlab/dockerconfig"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(config.status(), StatusCode::OK);
    assert!(config.text().await.unwrap().contains("registry.gitlab.com"));
    drop(server);

    // A named file that is missing, or a key that is not the one: status 1
    // and a sentence, nothing served.
    let missing = keys.path().join("nowhere/master.key");
    let other = keys.path().join("other");
    assert!(
        run_to_the_end(&["keys", "generate", "--out", other.to_str().unwrap()], &[])
            .status
            .success()
    );
    let wrong = other.join("master.key");
    for (file, words) in [
        (missing.to_str().unwrap(), "does not exist"),
        (wrong.to_str().unwrap(), "does not open the credentials"),
    ] {
        let refused = run_to_the_end(
            &[
                "--data-dir",
                dir,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--master-key-file",
                file,
                "--session-key-file",
                s,
            ],
            &[],
        );
        assert_eq!(refused.status.code(), Some(1), "{refused:?}");
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains(words), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `wharf backup` on PostgreSQL says how PostgreSQL is backed up instead.
#[test]
fn backup_on_postgresql_points_to_pg_dump() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["backup", "/nonexistent/wharf.dump"])
        .args([
            "--database-url",
            "postgres://wharf@db.internal:5432/wharf?sslmode=disable",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("back up the PostgreSQL database at db.internal:5432/wharf with pg_dump"),
        "{said}"
    );
}
