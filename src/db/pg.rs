//! PostgreSQL: where `--database-url` points, the pool of connections to
//! it, and its schema.
//!
//! The schema is `migrations/postgres/`, the twin of SQLite's (checked by
//! `scripts/pg-schema-check`), versioned by the same numbers: its one row
//! in `schema_version` says which SQLite migration it matches. Only one
//! process migrates at a time (a session advisory lock); a database whose
//! schema is newer than this binary is refused.

use std::path::Path;
use std::time::Duration;

use postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conn::PgConn;

/// The schema as of each version this binary knows, newest last; the
/// first is the whole schema of SQLite's migrations 001 to 016.
const MIGRATIONS: &[(i64, &str)] =
    &[(16, include_str!("../../migrations/postgres/016_schema.sql"))];

/// The newest schema version this binary knows.
pub const VERSION: i64 = 16;

/// The advisory lock every wharf process takes to migrate, so that only
/// one does ("wharf" in ASCII).
const MIGRATION_LOCK: i64 = 0x0077_6861_7266;

/// A PostgreSQL server and database, from `--database-url`.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    /// TLS by rustls against the system's roots, unless `sslmode=disable`.
    tls: Option<MakeRustlsConnect>,
    /// How it is reached, for messages: `host:port/database`, never the
    /// password.
    shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Target {
    /// Reads a `postgres://user:pass@host:port/db?sslmode=…` URL; the
    /// password may come from `password_file` instead (its first line).
    pub fn parse(url: &str, password_file: Option<&Path>) -> Result<Self, String> {
        let scheme = url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            return Err(
                "--database-url must be a postgres:// URL (postgres://user@host:5432/wharf?sslmode=require); leave it out to use SQLite under --data-dir"
                    .into(),
            );
        }
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| format!("--database-url is not a PostgreSQL URL that can be read: {e}"))?;
        if let Some(file) = password_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                format!(
                    "cannot read --database-password-file {}: {e}",
                    file.display()
                )
            })?;
            let password = text.lines().next().unwrap_or_default();
            if password.is_empty() {
                return Err(format!(
                    "--database-password-file {} is empty",
                    file.display()
                ));
            }
            config.password(password);
        }
        if config.get_dbname().is_none() {
            return Err(
                "--database-url names no database (postgres://user@host:5432/wharf)".into(),
            );
        }
        config.connect_timeout(Duration::from_secs(5));
        config.application_name("wharf");
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let shown = format!("{host}:{port}/{}", config.get_dbname().unwrap_or_default());
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => None,
            // `prefer` and `require`: the server's certificate is checked
            // against the system's roots.
            _ => Some(
                MakeRustlsConnect::with_native_certs()
                    .map(|(tls, _)| tls)
                    .map_err(|_| {
                        "no system root certificates could be loaded to check the PostgreSQL server's (install ca-certificates, or set sslmode=disable on a trusted network)"
                    })?,
            ),
        };
        Ok(Self { config, tls, shown })
    }

    /// `host:port/database`, for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(postgres::NoTls),
        }
    }
}

/// Makes and checks the pool's connections.
pub struct Manager(Target);

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        self.0.connect().map(PgConn::new)
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.ping()
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.is_closed()
    }
}

/// A pool of connections to one PostgreSQL database.
pub type Pool = r2d2::Pool<Manager>;

/// Connects (one clear sentence when the server cannot be reached or
/// refuses), brings the schema up to date, and gives the pool.
pub fn open(target: &Target) -> Result<Pool, String> {
    let unreachable = |e: &dyn std::fmt::Display| {
        format!(
            "cannot use the PostgreSQL database at {}: {e}",
            target.shown()
        )
    };
    let mut first = target.connect().map_err(|e| unreachable(&e))?;
    migrate(&mut first).map_err(|e| unreachable(&e))?;
    drop(first);
    r2d2::Pool::builder()
        .max_size(8)
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(5))
        .build(Manager(target.clone()))
        .map_err(|e| unreachable(&e))
}

/// Brings the schema up to date under the migration lock: an empty
/// database gets the whole schema; one at an older version gets the
/// versions after it; one newer than this binary is refused.
pub fn migrate(client: &mut postgres::Client) -> Result<(), String> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| e.to_string())?;
    let result = migrate_locked(client);
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| e.to_string());
    result.and(unlocked.map(drop))
}

fn migrate_locked(client: &mut postgres::Client) -> Result<(), String> {
    let has_table: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .map_err(|e| e.to_string())?
        .get(0);
    let found = if has_table {
        client
            .query_one("SELECT max(version) FROM schema_version", &[])
            .map_err(|e| e.to_string())?
            .get::<_, Option<i64>>(0)
            .ok_or("its schema_version table holds no version (a copy or a migration that did not finish?): give wharf an empty database")?
    } else {
        0
    };
    if found > VERSION {
        return Err(format!(
            "its schema is version {found}, newer than this wharf's ({VERSION}): run the newer wharf, or restore a backup made before it migrated"
        ));
    }
    if found == 0 {
        // A database without wharf's tables must be empty of any others'
        // rows that could be mistaken for them: refuse a name taken.
        let taken: i64 = client
            .query_one(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = ANY($1)",
                &[&vec!["users", "secrets", "images"]],
            )
            .map_err(|e| e.to_string())?
            .get(0);
        if taken > 0 {
            return Err(
                "its schema has tables named like wharf's but no schema_version: give wharf a database of its own"
                    .into(),
            );
        }
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        let mut tx = client.transaction().map_err(|e| e.to_string())?;
        tx.batch_execute(sql)
            .map_err(|e| format!("schema version {version}: {e}"))?;
        if found > 0 {
            tx.execute("UPDATE schema_version SET version = $1", &[version])
                .map_err(|e| e.to_string())?;
        }
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}
