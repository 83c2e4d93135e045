//! What the benchmarks share: the real release binary on a free port, the
//! process's memory and CPU from /proc, and a signed-in session cookie.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;

/// The wharf process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// From spawn to the first good `/healthz`.
    pub startup: Duration,
    /// Where its standard error goes.
    log: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `wharf serve` on `dir` with extra flags and waits until it answers.
    pub async fn start(dir: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        // No scheduled login checks: the benchmark's secrets name real
        // registries, which must never be contacted.
        let mut args = vec![
            "--data-dir",
            dir.to_str().expect("utf-8 path"),
            "serve",
            "--listen",
            &listen,
            "--check-every",
            "0",
        ];
        args.extend_from_slice(extra);
        let log = tempfile::NamedTempFile::new().expect("log file");
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log file"))
            .spawn()
            .expect("wharf binary");
        let base = format!("http://{listen}");
        let probe = reqwest::Client::new();
        let startup = loop {
            if probe
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "wharf did not start"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        Self {
            child,
            base,
            startup,
            log,
        }
    }

    /// The lines it logged at ERROR level so far.
    pub fn error_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.log.path())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("ERROR"))
            .map(str::to_owned)
            .collect()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs in; returns the session cookie and the CSRF token of the
    /// signed-in session.
    pub async fn sign_in(
        &self,
        client: &reqwest::Client,
        user: &str,
        pw: &str,
    ) -> (String, String) {
        let login = client.get(self.url("/login")).send().await.unwrap();
        let cookie = cookie_of(&login);
        let token = csrf_in(&login.text().await.unwrap());
        let signed_in = client
            .post(self.url("/login"))
            .header("cookie", &cookie)
            .form(&[("username", user), ("password", pw), ("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), 303, "sign-in");
        let cookie = cookie_of(&signed_in);
        let page = client
            .get(self.url("/admin/secrets"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (cookie, csrf_in(&page))
    }
}

/// A client that does not follow redirects and keeps `conns` idle connections.
pub fn client(conns: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .pool_max_idle_per_host(conns)
        .build()
        .unwrap()
}

/// The cookie an answer sets (its first `Set-Cookie`, name and value).
pub fn cookie_of(r: &reqwest::Response) -> String {
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Peak resident memory of a process (VmHWM), in KiB.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time the process has used, in seconds (utime + stime).
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

pub fn csrf_in(html: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).expect("csrf") + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

/// The p-th percentile of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
