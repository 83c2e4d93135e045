//! The database: SQLite under `--data-dir` (the default) or PostgreSQL
//! (`--database-url`); the pool, SQLite's pragmas and versioned
//! migrations, and the helper that runs database work on the blocking pool.

use std::path::Path;

use actix_web::web;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::error::AppError;

pub mod conn;
pub mod pg;
pub use conn::{Conn, Engine, List, Param, PgConn, Row, Tx};

/// Where the data lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// `wharf.db` in the data directory.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<pg::Target>),
}

impl Location {
    /// From `--data-dir` and `--database-url` (with its password file).
    pub fn of(
        data_dir: &Path,
        url: Option<&str>,
        password_file: Option<&Path>,
    ) -> Result<Self, String> {
        match url {
            Some(url) => pg::Target::parse(url, password_file).map(|t| Self::Postgres(Box::new(t))),
            None => Ok(Self::Sqlite(data_dir.to_path_buf())),
        }
    }

    /// Opens it, bringing the schema up to date. A SQLite data directory
    /// is made (owner-only) when `create`, else it must exist.
    pub fn open(&self, create: bool) -> Result<Pool, String> {
        match self {
            Self::Sqlite(dir) => {
                let path = dir.join("wharf.db");
                if create {
                    create_private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                } else if !path.exists() {
                    return Err(format!("{} does not exist", path.display()));
                }
                open(&path).map_err(|e| e.to_string())
            }
            Self::Postgres(target) => off_runtime(|| pg::open(target))?.map(Pool::Postgres),
        }
    }
}

/// Creates `dir` (and its parents) owner-only (0700) if it does not exist:
/// the data directory, and the keys' folder.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Runs blocking database work on a thread of its own: a caller may be
/// inside an async runtime (actix's, a test's), where PostgreSQL's
/// blocking client cannot wait.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| s.spawn(f).join()).map_err(|_| "the database work failed".to_owned())
}

/// A pool of connections to the one SQLite file.
pub type SqlitePool = r2d2::Pool<SqliteConnectionManager>;

/// A pool of connections to either engine.
#[derive(Clone)]
pub enum Pool {
    /// The SQLite file under `--data-dir`.
    Sqlite(SqlitePool),
    /// The PostgreSQL database of `--database-url`.
    Postgres(pg::Pool),
}

/// A connection taken from a [`Pool`], given back when dropped.
/// PostgreSQL's holds its client and statement cache inline (a few hundred
/// bytes); a `Pooled` lives on one blocking thread's stack for one piece
/// of work, so it is not boxed.
#[allow(clippy::large_enum_variant)]
pub enum Pooled {
    /// SQLite's.
    Sqlite(r2d2::PooledConnection<SqliteConnectionManager>),
    /// PostgreSQL's.
    Postgres(r2d2::PooledConnection<pg::Manager>),
}

impl Pooled {
    /// The connection, for the stores.
    pub fn conn(&self) -> Conn<'_> {
        match self {
            Self::Sqlite(c) => Conn::Sqlite(c),
            Self::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl Pool {
    /// A connection, waiting up to the pool's timeout for one.
    pub fn get(&self) -> Result<Pooled, r2d2::Error> {
        Ok(match self {
            Self::Sqlite(p) => Pooled::Sqlite(p.get()?),
            Self::Postgres(p) => Pooled::Postgres(p.get()?),
        })
    }

    /// Its engine.
    pub fn engine(&self) -> Engine {
        match self {
            Self::Sqlite(_) => Engine::Sqlite,
            Self::Postgres(_) => Engine::Postgres,
        }
    }
}

/// Schema versions in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/001_initial.sql"),
    include_str!("../../migrations/002_search.sql"),
    include_str!("../../migrations/003_used_by.sql"),
    include_str!("../../migrations/004_users_never_reuse_ids.sql"),
    include_str!("../../migrations/005_api_tokens.sql"),
    include_str!("../../migrations/006_groups.sql"),
    include_str!("../../migrations/007_secret_expiry.sql"),
    include_str!("../../migrations/008_notifications.sql"),
    include_str!("../../migrations/009_change_counters.sql"),
    include_str!("../../migrations/010_outbox_claims.sql"),
    include_str!("../../migrations/011_images_change_counter.sql"),
    include_str!("../../migrations/012_delivery.sql"),
    include_str!("../../migrations/013_ecr.sql"),
    include_str!("../../migrations/014_sso.sql"),
    include_str!("../../migrations/015_image_links_counter.sql"),
    include_str!("../../migrations/016_serving_hours.sql"),
];

/// Opens (creating if needed, mode 0600) the database and brings its schema
/// up to date.
pub fn open(path: &Path) -> Result<Pool, AppError> {
    create_private(path).map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
    let manager = SqliteConnectionManager::file(path).with_init(|c| {
        // `rarray(?)`: a list of ids bound as one parameter.
        rusqlite::vtab::array::load_module(c)?;
        // The busy timeout first: on a new file every connection of the
        // pool switches it to WAL, and those that lose the race must wait.
        c.execute_batch(
            "PRAGMA busy_timeout = 5000;
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;",
        )
    });
    // Connections are checked by use; a test query on every checkout would
    // cost a round trip per request for nothing.
    let pool = r2d2::Pool::builder()
        .max_size(8)
        .test_on_check_out(false)
        .build(manager)?;
    migrate(&mut *pool.get()?)?;
    Ok(Pool::Sqlite(pool))
}

/// Creates the file with owner-only permissions before SQLite does, so the
/// database (and its -wal and -shm, which copy the mode) is never readable
/// by others.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path).map(drop)
}

/// The first line of a migration that rebuilds a table (SQLite's way to
/// change a constraint): it runs with foreign keys off, as SQLite's
/// documented procedure requires (dropping the old table must not cascade
/// or refuse), and must leave every foreign key intact to commit.
const REBUILDS: &str = "-- wharf: rebuilds tables";

/// Runs every migration the database has not seen, each in a transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in (1i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(done).unwrap_or(0))
    {
        let rebuilds = sql.starts_with(REBUILDS);
        // Outside the transaction: SQLite ignores it inside one.
        if rebuilds {
            conn.pragma_update(None, "foreign_keys", false)?;
        }
        let applied = apply(conn, i, sql, rebuilds);
        if rebuilds {
            conn.pragma_update(None, "foreign_keys", true)?;
        }
        applied?;
    }
    Ok(())
}

fn apply(conn: &mut Connection, version: i64, sql: &str, rebuilds: bool) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(sql)?;
    if rebuilds {
        let broken: i64 =
            tx.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken > 0 {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!(
                    "migration {version} would leave {broken} broken foreign keys"
                )),
            ));
        }
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()
}

/// Runs `f` with a pooled connection on actix's blocking thread pool, so
/// that database work never stalls the async workers.
pub async fn run<T, F>(pool: &Pool, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&Conn<'_>) -> Result<T, AppError> + Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let conn = pool.get()?;
        f(&conn.conn())
    })
    .await?
}

/// Runs `f` in a read transaction, unless `conn` is already in one: every
/// statement of `f` sees one snapshot. `BEGIN` and `COMMIT` are cached
/// statements (a list page runs this on every request; parsing them anew
/// was 3% of its time). If `f` fails or panics, the transaction is rolled
/// back.
pub fn read_tx<T, E: From<rusqlite::Error>>(
    conn: &Conn<'_>,
    f: impl FnOnce(&Conn<'_>) -> Result<T, E>,
) -> Result<T, E> {
    if conn.in_transaction() {
        return f(conn);
    }
    let tx = conn.begin_read()?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Starts a write transaction that takes the write lock at once. A
/// deferred one that reads first can find, at its first write, that another
/// connection wrote in between (SQLITE_BUSY_SNAPSHOT), which no busy
/// timeout can wait out.
pub fn write_tx<'a>(conn: &Conn<'a>) -> rusqlite::Result<Tx<'a>> {
    conn.begin_write()
}

/// Today's date in UTC, as `YYYY-MM-DD` (how expiry dates are kept).
pub fn today() -> time::Date {
    time::OffsetDateTime::from_unix_timestamp(now())
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN)
}

/// Seconds since the Unix epoch: every timestamp in the database.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A stored timestamp as administrators read it, to the minute
/// (`2026-11-29 09:30 UTC`).
pub fn format_time(unix: i64) -> String {
    Time(unix).to_string()
}

/// A stored timestamp to the second, for the audit log.
pub fn format_time_exact(unix: i64) -> String {
    let mut buf = [0; 23];
    write_time(unix, true, &mut buf).to_owned()
}

/// A stored timestamp shown to the minute, written where it goes without
/// a `String` of its own: a list shows one per row, and `time`'s format
/// descriptions or `format!` cost several times as much.
#[derive(Clone, Copy, Debug)]
pub struct Time(pub i64);

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0; 23];
        f.write_str(write_time(self.0, false, &mut buf))
    }
}

/// Writes `2026-11-29 09:30 UTC` (with `:SS` when `seconds`) into `buf`;
/// "" for a time out of range.
fn write_time(unix: i64, seconds: bool, buf: &mut [u8; 23]) -> &str {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return "";
    };
    let Ok(year) = u16::try_from(t.year()) else {
        return "";
    };
    let mut at = 0;
    let mut put = |n: u16, digits: u32, then: u8| {
        for d in (0..digits).rev() {
            buf[at] = b'0' + (n / 10u16.pow(d) % 10) as u8;
            at += 1;
        }
        buf[at] = then;
        at += 1;
    };
    put(year, 4, b'-');
    put(u8::from(t.month()).into(), 2, b'-');
    put(t.day().into(), 2, b' ');
    put(t.hour().into(), 2, b':');
    if seconds {
        put(t.minute().into(), 2, b':');
        put(t.second().into(), 2, b' ');
    } else {
        put(t.minute().into(), 2, b' ');
    }
    buf[at..at + 3].copy_from_slice(b"UTC");
    std::str::from_utf8(&buf[..at + 3]).unwrap_or_default()
}

/// Whether an error is SQLite refusing a duplicate in a UNIQUE column.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Whether an error is SQLite refusing a reference to a missing row.
pub fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A closed set of values kept and posted as text, each with the label
/// people read: `parse`, `as_str`, `label` and reading from a column.
/// An enum written as text (in forms, queries, JSON and the database):
/// what [`text_enum!`] makes.
pub trait TextEnum: Copy + 'static {
    /// Every value, the default first.
    fn all() -> &'static [Self];
    /// Its text.
    fn as_str(self) -> &'static str;
    /// The value with that text.
    fn parse(s: &str) -> Option<Self>;
}

macro_rules! text_enum {
    (
        $(#[$doc:meta])*
        pub enum $name:ident {
            $($(#[$vdoc:meta])* $variant:ident = $value:tt ($label:literal),)+
        }
    ) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $value)] $variant,)+
        }

        impl $name {
            /// Every value, in the order written.
            pub const ALL: &[Self] = &[$(Self::$variant,)+];

            /// Parses the form and database value.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($value => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// The form and database value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)+
                }
            }

            /// What people read (not every enum is shown to people).
            #[allow(dead_code)]
            pub fn label(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }
        }

        impl $crate::db::TextEnum for $name {
            fn all() -> &'static [Self] {
                Self::ALL
            }
            fn as_str(self) -> &'static str {
                Self::as_str(self)
            }
            fn parse(s: &str) -> Option<Self> {
                Self::parse(s)
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                v: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                Self::parse(v.as_str()?).ok_or(rusqlite::types::FromSqlError::InvalidType)
            }
        }
    };
}
pub(crate) use text_enum;

/// A row people know by a name and a Display Name, with an Updated time:
/// secrets, images and groups.
pub trait Named {
    /// The Kubernetes name.
    fn name(&self) -> &str;
    /// The Display Name, maybe empty.
    fn display_name(&self) -> &str;
    /// Last changed (Unix seconds).
    fn updated_at(&self) -> i64;

    /// Display Name, or the name when there is none.
    fn label(&self) -> &str {
        match self.display_name() {
            "" => self.name(),
            d => d,
        }
    }

    /// The Updated column.
    fn updated(&self) -> Time {
        Time(self.updated_at())
    }
}

#[cfg(test)]
mod tests {
    /// Migration 13 rebuilds the secrets table: on a version-12 database
    /// with a secret in use, delivered and notified, every row and link
    /// survives, and the constraints and triggers still hold.
    #[test]
    fn the_ecr_rebuild_keeps_every_row_and_link() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        for (i, sql) in (1i64..).zip(&super::MIGRATIONS[..12]) {
            let tx = conn.transaction().unwrap();
            tx.execute_batch(sql).unwrap();
            tx.pragma_update(None, "user_version", i).unwrap();
            tx.commit().unwrap();
        }
        conn.execute_batch(
            "INSERT INTO secrets (id, name, kind, registry_host, registry_username, sealed, created_at, updated_at, deliver)
               VALUES (7, 'gitlab', 'image_pull', 'registry.gitlab.com', 'u', x'00', 1, 1, 1);
             INSERT INTO secrets (id, name, kind, sealed, created_at, updated_at)
               VALUES (8, 'key', 'git_sync', x'00', 1, 1);
             INSERT INTO images (name, image_type, url, pull_secret_id, created_at, updated_at)
               VALUES ('nb', 'cpu', 'registry.gitlab.com/a/b', 7, 1, 1);
             INSERT INTO delivered_patterns (pattern, secret_id) VALUES ('registry.gitlab.com', 7);
             INSERT INTO notifications (secret_id, key, event, payload, created_at, next_at)
               VALUES (7, 'k', 'expired', '{}', 1, 1);",
        )
        .unwrap();
        super::migrate(&mut conn).unwrap();
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are on again");
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT used_by FROM secrets WHERE id = 7"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM delivered_patterns"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM notifications"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
        // The links still act: a used secret cannot go, the triggers count.
        assert!(
            conn.execute("DELETE FROM secrets WHERE id = 7", [])
                .is_err()
        );
        conn.execute("DELETE FROM images", []).unwrap();
        assert_eq!(count("SELECT used_by FROM secrets WHERE id = 7"), 0);
        let before = count("SELECT n FROM change_counters WHERE tbl = 'secrets'");
        conn.execute("DELETE FROM secrets WHERE id = 7", [])
            .unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM notifications"), 0, "cascades");
        assert_eq!(
            count("SELECT COUNT(*) FROM delivered_patterns"),
            0,
            "cascades"
        );
        assert!(count("SELECT n FROM change_counters WHERE tbl = 'secrets'") > before);
        // The new type, and its rules.
        conn.execute(
            "INSERT INTO secrets (name, kind, registry_host, registry_username, sealed, created_at, updated_at)
               VALUES ('ecr', 'ecr', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', 'AKIA', x'00', 1, 1)",
            [],
        )
        .unwrap();
        assert!(
            conn.execute(
                "UPDATE secrets SET token_sealed = x'00' WHERE name = 'ecr'",
                []
            )
            .is_err(),
            "a token has its life"
        );
        assert!(
            conn.execute(
                "UPDATE secrets SET ecr_endpoint = 'https://x' WHERE name = 'key'",
                []
            )
            .is_err(),
            "only ECR secrets have an endpoint"
        );
    }

    #[test]
    fn times_read_as_administrators_write_them() {
        assert_eq!(super::format_time(1_795_985_301), "2026-11-29 20:48 UTC");
        assert_eq!(super::format_time_exact(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::format_time(i64::MAX), "");
        assert_eq!(super::format_time(-62_135_596_800), "0001-01-01 00:00 UTC");
    }
}
