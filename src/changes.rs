//! Whether the database has changed, known without asking it.
//!
//! Every commit to a SQLite database in WAL mode, by any connection of any
//! process, rewrites the wal-index header at the start of the `-shm` file
//! (<https://www.sqlite.org/walformat.html>, "The WAL-Index Header"): two
//! copies of a 48-byte record holding a commit counter, the WAL's size,
//! salts and a checksum. SQLite's own readers compare it at the start of
//! every read transaction to learn whether they must look again; that file
//! format is shared by every SQLite version that opens the file at once, so
//! it does not change.
//!
//! wharf reads the same bytes (one `pread` of page-cache memory, no lock, no
//! query) and calls them a [`Stamp`]. What a hop to the database read after
//! seeing stamp `s` is what the database holds for as long as the stamp is
//! still `s`: a [`Memo`] keeps it under `s`, and a request that sees the
//! same stamp uses it without a hop. A write by this process or another
//! (`wharf token create`, a second connection) changes the stamp before its
//! commit returns, so the very next request looks again.
//!
//! If anything is unusual (no `-shm` file, the two copies differ because a
//! commit is being written, a header not yet initialised) there is no stamp,
//! and every request goes to the database as it would without this.

use std::collections::HashMap;
use std::fs::File;
use std::hash::Hash;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::db::Conn;

/// The size of one copy of the wal-index header.
const HEADER: usize = 48;
/// `iVersion`, the first field of the header: the wal-index format.
const WAL_INDEX_VERSION: u32 = 3_007_000;
/// The offset of `isInit` (set once the header is valid).
const IS_INIT: usize = 12;

/// The database's commit state: equal stamps, same data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stamp([u8; HEADER]);

/// Reads the stamp of one database file.
#[derive(Clone)]
pub struct Changes {
    inner: Option<Arc<Watch>>,
}

struct Watch {
    shm: File,
    /// A connection held open for as long as wharf runs: SQLite removes or
    /// truncates the `-shm` file only when its last connection closes (or
    /// when a first one finds none open), and while this one is open
    /// neither can happen, so the file read is the one in use.
    _keep: Mutex<rusqlite::Connection>,
}

impl Changes {
    /// Watches the database at `path`, which must already be in WAL mode
    /// (as [`crate::db::open`] leaves it). If it cannot be watched, the
    /// reason is logged and [`Changes::stamp`] is always `None`.
    pub fn watch(path: &Path) -> Self {
        match Watch::open(path) {
            Ok(w) => Self {
                inner: Some(Arc::new(w)),
            },
            Err(e) => {
                tracing::warn!(
                    "the database's changes cannot be watched ({e}): every request reads it"
                );
                Self::off()
            }
        }
    }

    /// No watch: every request goes to the database.
    pub fn off() -> Self {
        Self { inner: None }
    }

    /// The stamp now, if it can be read whole.
    pub fn stamp(&self) -> Option<Stamp> {
        let w = self.inner.as_ref()?;
        let mut buf = [0u8; 2 * HEADER];
        read_at(&w.shm, &mut buf)?;
        let (a, b) = buf.split_at(HEADER);
        let version = u32::from_ne_bytes([a[0], a[1], a[2], a[3]]);
        // A commit writes the second copy, then the first: copies that
        // differ are a commit under way.
        (a == b && a[IS_INIT] == 1 && version == WAL_INDEX_VERSION).then(|| {
            let mut s = [0u8; HEADER];
            s.copy_from_slice(a);
            Stamp(s)
        })
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8]) -> Option<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, 0).ok()
}

/// Elsewhere the file is not read: no stamp, every request reads the
/// database.
#[cfg(not(unix))]
fn read_at(_: &File, _: &mut [u8]) -> Option<()> {
    None
}

impl Watch {
    fn open(path: &Path) -> Result<Self, String> {
        // SQLite names the -shm after the file, its links resolved.
        let path = &std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let keep = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
        keep.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let mode: String = keep
            .query_row("PRAGMA journal_mode", (), |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("the journal mode is {mode}, not wal"));
        }
        // A read maps the wal-index, so that this connection holds it.
        keep.query_row("SELECT COUNT(*) FROM sqlite_master", (), |r| {
            r.get::<usize, i64>(0)
        })
        .map_err(|e| e.to_string())?;
        let mut shm = path.as_os_str().to_owned();
        shm.push("-shm");
        let shm = File::open(&shm).map_err(|e| format!("{}: {e}", Path::new(&shm).display()))?;
        let watch = Self {
            shm,
            _keep: Mutex::new(keep),
        };
        watch.proven()?;
        Ok(watch)
    }

    /// Checks, with a commit that changes no data (the schema version set
    /// to what it is), that a commit changes what is read here.
    fn proven(&self) -> Result<(), String> {
        let header = || {
            let mut buf = [0u8; 2 * HEADER];
            read_at(&self.shm, &mut buf).map(|()| buf)
        };
        let before = header();
        let keep = self
            ._keep
            .lock()
            .map_err(|_| "the kept connection is poisoned".to_owned())?;
        let tx =
            rusqlite::Transaction::new_unchecked(&keep, rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| e.to_string())?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| e.to_string())?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        match (before, header()) {
            (Some(b), Some(a)) if a != b => Ok(()),
            _ => Err("a commit did not change the wal-index header".into()),
        }
    }
}

/// One value read from the database (a whole snapshot), kept under the
/// stamp seen before it was read; given back only while the stamp is the
/// same.
pub struct Slot<V> {
    slot: Mutex<Option<(Stamp, V)>>,
}

impl<V> Default for Slot<V> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }
}

impl<V: Clone> Slot<V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Stamp, V)>> {
        // Replaced whole: a panic elsewhere leaves it usable.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value if it was read at `now`.
    pub fn get(&self, now: Stamp) -> Option<V> {
        self.lock()
            .as_ref()
            .filter(|(s, _)| *s == now)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value`, read in a transaction that began after `seen` was
    /// the stamp.
    pub fn put(&self, seen: Stamp, value: V) {
        *self.lock() = Some((seen, value));
    }
}

/// Where a read is answered from: the one freshness rule as a value that
/// every kept read takes (`docs/architecture.md`, "How a read decides it is fresh").
///
/// A request first tries [`Read::Memory`] at the stamp it sees now; what
/// was not confirmed at that very stamp is [`Miss::NotKept`], and the
/// request makes one trip, [`Read::Db`], in which whatever it reads is
/// confirmed under the stamp it saw before the trip began.
#[derive(Clone, Copy)]
pub enum Read<'a> {
    /// From memory as of the commit stamp `now`: only values confirmed at
    /// it.
    Memory(Stamp),
    /// From the database, on a connection in a read transaction that began
    /// after the commit stamp was the one given (none: nothing is kept).
    Db(&'a Conn<'a>, Option<Stamp>),
}

impl<'a> Read<'a> {
    /// The connection of a trip; [`Miss::NotKept`] from memory.
    pub fn conn(self) -> Result<&'a Conn<'a>, Miss> {
        match self {
            Self::Memory(_) => Err(Miss::NotKept),
            Self::Db(conn, _) => Ok(conn),
        }
    }

    /// The stamp a trip began after, under which what it reads is kept.
    pub fn seen(self) -> Option<Stamp> {
        match self {
            Self::Memory(_) => None,
            Self::Db(_, seen) => seen,
        }
    }
}

/// Why a read gave no answer: memory lacks what it would need the
/// database for (the caller makes its one trip instead), or the database
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum Miss {
    /// Not in memory: read it from the database.
    #[error("not kept in memory")]
    NotKept,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

/// A value derived from tables (a snapshot, an index), kept while they are
/// unchanged: the one freshness rule, in one place.
///
/// - Through the database: the value for `key` (the tables' change
///   counters, read in the caller's transaction) is the one held, or is
///   built by one request while the others wait for it. The counters only
///   grow: a reader whose transaction began before the last write builds
///   its own without holding anyone up, and keeps nothing.
/// - From memory: once a hop has confirmed the value under the commit stamp
///   it saw before it began, a request that sees the same stamp gets it
///   with no hop at all ([`Derived::kept`]).
pub struct Derived<K, V> {
    current: Mutex<Option<(K, Arc<V>)>>,
    building: Mutex<()>,
    confirmed: Slot<Arc<V>>,
}

impl<K, V> Default for Derived<K, V> {
    fn default() -> Self {
        Self {
            current: Mutex::new(None),
            building: Mutex::new(()),
            confirmed: Slot::default(),
        }
    }
}

impl<K: Ord + Copy, V> Derived<K, V> {
    fn held(&self, key: K) -> Option<Arc<V>> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    /// The value for `key`: the one held, else `build`'s (see the type).
    pub fn at<E>(&self, key: K, build: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E> {
        if let Some(v) = self.held(key) {
            return Ok(v);
        }
        let newer = {
            let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            current.as_ref().is_some_and(|(k, _)| *k > key)
        };
        if newer {
            return Ok(Arc::new(build()?));
        }
        let _one = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = self.held(key) {
            return Ok(v);
        }
        let built = Arc::new(build()?);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_none_or(|(k, _)| *k <= key) {
            *current = Some((key, built.clone()));
        }
        Ok(built)
    }

    /// Keeps `value`, read in a transaction that began after `seen` was the
    /// commit stamp (none: no stamp, nothing kept), for [`Derived::kept`].
    pub fn confirm(&self, seen: Option<Stamp>, value: &Arc<V>) {
        if let Some(seen) = seen {
            self.confirmed.put(seen, value.clone());
        }
    }

    /// The value from memory, if one was confirmed at the stamp `now`.
    pub fn kept(&self, now: Stamp) -> Option<Arc<V>> {
        self.confirmed.get(now)
    }
    /// The value as `read` finds it: from memory if confirmed at its
    /// stamp, else `current` on the trip's connection (its value for the
    /// counters there, [`Derived::at`]), confirmed under the trip's stamp.
    pub fn read<E: From<Miss>>(
        &self,
        read: Read<'_>,
        current: impl FnOnce(&Conn<'_>) -> Result<Arc<V>, E>,
    ) -> Result<Arc<V>, E> {
        match read {
            Read::Memory(now) => self.kept(now).ok_or_else(|| Miss::NotKept.into()),
            Read::Db(conn, seen) => {
                let value = current(conn)?;
                self.confirm(seen, &value);
                Ok(value)
            }
        }
    }
}

/// Values read from the database, each kept under the stamp seen before
/// it was read; one is given back only while the stamp is the same.
pub struct Memo<K, V> {
    map: Mutex<HashMap<K, (Stamp, V)>>,
    cap: usize,
}

impl<K: Hash + Eq, V: Clone> Memo<K, V> {
    /// A memo of at most `cap` values.
    pub fn new(cap: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            cap,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Stamp, V)>> {
        // Each entry is replaced whole: a panic elsewhere leaves it usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key` if it was read at `now`.
    pub fn get(&self, key: &K, now: Stamp) -> Option<V> {
        self.lock()
            .get(key)
            .filter(|(s, _)| *s == now)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value`, read from the database after `seen` was the stamp.
    /// When full, what was read at other stamps goes first, then all.
    pub fn put(&self, key: K, seen: Stamp, value: V) {
        let mut map = self.lock();
        if map.len() >= self.cap && !map.contains_key(&key) {
            map.retain(|_, (s, _)| *s == seen);
            if map.len() >= self.cap {
                map.clear();
            }
        }
        map.insert(key, (seen, value));
    }
    /// `key`'s value as `read` finds it: from memory if read at its stamp,
    /// else `load`ed on the trip's connection and kept under its stamp.
    pub fn read<E: From<Miss>>(
        &self,
        key: K,
        read: Read<'_>,
        load: impl FnOnce(&Conn<'_>) -> Result<V, E>,
    ) -> Result<V, E> {
        match read {
            Read::Memory(now) => self.get(&key, now).ok_or_else(|| Miss::NotKept.into()),
            Read::Db(conn, seen) => {
                let value = load(conn)?;
                if let Some(seen) = seen {
                    self.put(key, seen, value.clone());
                }
                Ok(value)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn db() -> (tempfile::TempDir, std::path::PathBuf, crate::db::Pool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wharf.db");
        let pool = crate::db::open(&path).unwrap();
        (dir, path, pool)
    }

    #[test]
    fn the_stamp_changes_with_every_commit_and_only_then() {
        let (_dir, path, pool) = db();
        let changes = Changes::watch(&path);
        let first = changes.stamp().expect("a stamp");
        // Reads change nothing.
        let pooled = pool.get().unwrap();
        let conn = pooled.conn();
        let _: i64 = conn
            .query_row("SELECT COUNT(*) FROM users", (), |r| r.get(0))
            .unwrap();
        assert_eq!(changes.stamp(), Some(first));
        // A commit on another connection of the pool.
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let second = changes.stamp().expect("a stamp");
        assert_ne!(second, first);
        // A rolled-back transaction is no change.
        conn.execute_batch("BEGIN; INSERT INTO t VALUES (2); ROLLBACK;")
            .unwrap();
        assert_eq!(changes.stamp(), Some(second));
        // A connection of its own, as another process would open.
        let other = Connection::open(&path).unwrap();
        other.execute("INSERT INTO t VALUES (3)", ()).unwrap();
        let third = changes.stamp().expect("a stamp");
        assert_ne!(third, second);
        // A checkpoint, then a write that starts the WAL over.
        other
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", (), |_| Ok(()))
            .unwrap();
        other.execute("INSERT INTO t VALUES (4)", ()).unwrap();
        let fourth = changes.stamp().expect("a stamp");
        assert!(![first, second, third].contains(&fourth));
    }

    #[test]
    fn the_stamp_survives_the_pool_closing_every_connection() {
        let (_dir, path, pool) = db();
        let changes = Changes::watch(&path);
        drop(pool);
        let before = changes.stamp().expect("a stamp");
        let other = Connection::open(&path).unwrap();
        other.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(other);
        assert_ne!(changes.stamp(), Some(before));
    }

    #[test]
    fn a_database_behind_a_symbolic_link_is_watched_where_sqlite_keeps_it() {
        let (dir, path, pool) = db();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        // A stale -shm beside the link, as an old layout could leave.
        std::fs::write(dir.path().join("link.db-shm"), [0u8; 4096]).unwrap();
        let changes = Changes::watch(&link);
        let before = changes.stamp().expect("a stamp");
        pool.get()
            .unwrap()
            .conn()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert_ne!(changes.stamp(), Some(before));
    }

    #[test]
    fn without_wal_there_is_no_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert_eq!(Changes::watch(&path).stamp(), None);
    }

    #[test]
    fn a_memo_gives_a_value_only_at_its_stamp() {
        let (_dir, path, pool) = db();
        let changes = Changes::watch(&path);
        let memo: Memo<u8, &str> = Memo::new(2);
        let s1 = changes.stamp().unwrap();
        memo.put(1, s1, "one");
        assert_eq!(memo.get(&1, s1), Some("one"));
        pool.get()
            .unwrap()
            .conn()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let s2 = changes.stamp().unwrap();
        assert_eq!(memo.get(&1, s2), None);
        // Full: what was read at another stamp goes first.
        memo.put(2, s2, "two");
        memo.put(3, s2, "three");
        assert_eq!(memo.get(&1, s1), None);
        assert_eq!(memo.get(&2, s2), Some("two"));
        assert_eq!(memo.get(&3, s2), Some("three"));
    }
}
