//! A throwaway PostgreSQL for the tests: one cluster per test process on
//! 127.0.0.1 (a free port, a temporary directory, as `nobody` when the
//! tests run as root, since PostgreSQL refuses root), a fresh database per
//! test. It stops and its directory goes when the test process ends,
//! however it ends: a watcher shell waits for the end of its standard
//! input, which only this process holds.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::helpers::free_port;

/// The running cluster.
pub struct Cluster {
    port: u16,
    bin: std::path::PathBuf,
    /// The watcher, never waited for: it ends with this process.
    _watcher: std::process::Child,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

/// The newest PostgreSQL of Debian's `postgresql` package.
fn bin_dir() -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (the README's test command installs postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect("an initdb under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `program args…` as the cluster's owner.
fn as_owner(program: &std::path::Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A new cluster's directory (its data in `data`), owned by whoever runs
/// the server: loopback connections are trusted, nothing else listens.
fn init(bin: &std::path::Path, prefix: &str) -> std::path::PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap()
        .keep();
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "nobody"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let out = as_owner(&bin.join("initdb"))
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
        .arg("-D")
        .arg(dir.join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn start() -> Cluster {
    let bin = bin_dir();
    let dir = init(&bin, "wharf-pg-");
    let data = dir.join("data");
    let port = free_port();
    // The watcher: runs the server, and at the end of its stdin (this
    // process gone) stops it and removes the directory.
    let script = format!(
        "'{postgres}' -D '{data}' -h 127.0.0.1 -p {port} -k '{dir}' -c fsync=off >'{dir}/log' 2>&1 & pid=$!; \
         cat >/dev/null; kill -INT $pid; wait $pid; rm -rf '{dir}'",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut watcher = as_owner(std::path::Path::new("/bin/sh"))
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Held open until this process exits.
    let stdin = watcher.stdin.take().unwrap();
    std::mem::forget(stdin);
    let cluster = Cluster {
        port,
        bin,
        _watcher: watcher,
    };
    for _ in 0..200 {
        if cluster.psql("postgres", "SELECT 1").is_ok() {
            return cluster;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "PostgreSQL did not start: {}",
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    );
}

impl Cluster {
    /// Runs `sql` in `database` with psql; its output or its error.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-X", "-q", "-A", "-t"])
            .args(["-p", &self.port.to_string(), "-d", database])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new, empty database; its URL (no TLS on loopback).
    pub fn database(&self) -> String {
        let name = format!(
            "wharf_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .unwrap();
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        )
    }
}

/// A file holding `text`, mode 0600.
pub fn secret_file(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A PostgreSQL of one test's own, to stop and start again (the shared
/// one serves every other test). Stopped and removed when dropped.
pub struct Own {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
}

impl Own {
    /// Made and started.
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir = init(&bin, "wharf-pg-own-");
        let own = Self {
            bin,
            dir,
            port: free_port(),
        };
        own.up();
        own
    }

    /// `pg_ctl -D <data>` as the cluster's owner.
    fn pg_ctl(&self) -> Command {
        let mut c = as_owner(&self.bin.join("pg_ctl"));
        c.arg("-D").arg(self.dir.join("data"));
        c
    }

    /// Starts the server (again), waiting until it answers.
    pub fn up(&self) {
        let out = self
            .pg_ctl()
            .arg("-l")
            .arg(self.dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-h 127.0.0.1 -p {} -k {} -c fsync=off",
                self.port,
                self.dir.display()
            ))
            .args(["-w", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server at once, as a crash or a failover would.
    pub fn down(&self) {
        let out = self
            .pg_ctl()
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new database in it; its URL.
    pub fn database(&self) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-X", "-q"])
            .args(["-p", &self.port.to_string(), "-d", "postgres"])
            .args(["-c", "CREATE DATABASE wharf"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "postgres://postgres@127.0.0.1:{}/wharf?sslmode=disable",
            self.port
        )
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        let _ = self
            .pg_ctl()
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
