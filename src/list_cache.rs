//! What a list keeps between requests: the order of all its rows for each
//! sort, and a substring index of names and display names.
//!
//! Both are exact, not "fresh enough": they are keyed by the table's change
//! counter, which triggers bump in every writer's own transaction
//! (migration 009). A reader that sees the same number sees the same rows,
//! so a write by this process or by another (`wharf` on the same file) is
//! seen by the very next request. The counter and the page must be read in
//! one transaction; [`ListCache::view`] takes care of that.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use memchr::memmem;
use rusqlite::Connection;

/// The cache of one table (`secrets`).
pub struct ListCache {
    table: &'static str,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The counter value what follows was read at.
    generation: i64,
    /// Every row id, by sort key and direction.
    orders: HashMap<(&'static str, bool), Arc<[i64]>>,
    search: Option<Arc<SearchIndex>>,
}

impl ListCache {
    /// An empty cache of `table`, which must have a row in
    /// `change_counters` and an `id`, a `name` and a `display_name`.
    pub fn new(table: &'static str) -> Self {
        Self {
            table,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; if something did, the data is
        // still a consistent cache (each write replaces a whole entry).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cache as of `conn`'s snapshot, which must be a transaction
    /// (see [`read_snapshot`]) so that the rows read next are the ones the
    /// counter counted.
    pub fn view<'a>(&'a self, conn: &'a Connection) -> rusqlite::Result<View<'a>> {
        debug_assert!(!conn.is_autocommit(), "a view needs a transaction");
        let generation = conn
            .prepare_cached("SELECT n FROM change_counters WHERE tbl = ?1")?
            .query_row([self.table], |r| r.get::<_, i64>(0))?;
        Ok(View {
            cache: self,
            conn,
            generation,
        })
    }
}

/// Runs `f` in a read transaction of its own, unless `conn` is already in
/// one: every statement of `f` then sees one snapshot.
pub fn read_snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    if !conn.is_autocommit() {
        return f(conn);
    }
    let tx = conn.unchecked_transaction()?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// A [`ListCache`] at one snapshot of its table.
pub struct View<'a> {
    cache: &'a ListCache,
    conn: &'a Connection,
    generation: i64,
}

impl View<'_> {
    /// Every row id in the order `sort` and `desc` name; `order_by` makes
    /// the `ORDER BY` clause of that order, when it is not cached yet.
    pub fn order(
        &self,
        sort: &'static str,
        desc: bool,
        order_by: impl FnOnce() -> String,
    ) -> rusqlite::Result<Arc<[i64]>> {
        if let Some(ids) = self.cached(|i| i.orders.get(&(sort, desc)).cloned()) {
            return Ok(ids);
        }
        let ids: Arc<[i64]> = self
            .conn
            .prepare(&format!(
                "SELECT id FROM {} {}",
                self.cache.table,
                order_by()
            ))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?
            .into();
        self.keep(|i| {
            i.orders.insert((sort, desc), ids.clone());
        });
        Ok(ids)
    }

    /// The ids of the rows whose name or display name contains `q`,
    /// ignoring case, in id order.
    pub fn search(&self, q: &str) -> rusqlite::Result<Vec<i64>> {
        let index = match self.cached(|i| i.search.clone()) {
            Some(index) => index,
            None => {
                let index = Arc::new(SearchIndex::build(self.conn, self.cache.table)?);
                self.keep(|i| i.search = Some(index.clone()));
                index
            }
        };
        Ok(index.find(q))
    }

    fn cached<T>(&self, get: impl FnOnce(&Inner) -> Option<T>) -> Option<T> {
        let inner = self.cache.lock();
        (inner.generation == self.generation)
            .then(|| get(&inner))
            .flatten()
    }

    /// Keeps what was read at this snapshot, unless the cache already holds
    /// a newer one (then it was used once and is dropped).
    fn keep(&self, put: impl FnOnce(&mut Inner)) {
        let mut inner = self.cache.lock();
        if self.generation > inner.generation {
            *inner = Inner {
                generation: self.generation,
                ..Inner::default()
            };
        }
        if self.generation == inner.generation {
            put(&mut inner);
        }
    }
}

/// Every row's name and display name, lower-cased, in one string, and
/// where each row's part starts. A search is one SIMD substring scan of
/// it: about 400 KB for 10,000 secrets, a few tens of microseconds.
struct SearchIndex {
    text: String,
    starts: Vec<usize>,
    ids: Vec<i64>,
}

impl SearchIndex {
    fn build(conn: &Connection, table: &str) -> rusqlite::Result<Self> {
        let mut index = Self {
            text: String::new(),
            starts: Vec::new(),
            ids: Vec::new(),
        };
        let mut stmt = conn.prepare(&format!("SELECT id, name, display_name FROM {table}"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            index.starts.push(index.text.len());
            index.ids.push(r.get(0)?);
            // A search has no control characters (see `Listing::parse`),
            // so no match runs across the newlines; `find` checks anyway.
            for part in [r.get_ref(1)?.as_str()?, r.get_ref(2)?.as_str()?] {
                index.text.extend(part.chars().flat_map(char::to_lowercase));
                index.text.push('\n');
            }
        }
        Ok(index)
    }

    fn find(&self, q: &str) -> Vec<i64> {
        let needle = q.to_lowercase();
        if needle.is_empty() {
            return self.ids.clone();
        }
        let mut hits = Vec::new();
        // The start of the row after the last hit: one hit per row.
        let mut next_row = 0;
        for at in memmem::find_iter(self.text.as_bytes(), needle.as_bytes()) {
            if at < next_row {
                continue;
            }
            let row = self.starts.partition_point(|&s| s <= at).saturating_sub(1);
            next_row = self.starts.get(row + 1).copied().unwrap_or(usize::MAX);
            // Within the row: two rows' text is not one haystack.
            if let Some(&id) = self.ids.get(row).filter(|_| at + needle.len() <= next_row) {
                hits.push(id);
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("db");
        c.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, display_name TEXT);
             CREATE TABLE change_counters (tbl TEXT PRIMARY KEY, n INTEGER NOT NULL);
             INSERT INTO change_counters VALUES ('t', 0);
             CREATE TRIGGER t_i AFTER INSERT ON t BEGIN
                 UPDATE change_counters SET n = n + 1 WHERE tbl = 't'; END;
             CREATE TRIGGER t_d AFTER DELETE ON t BEGIN
                 UPDATE change_counters SET n = n + 1 WHERE tbl = 't'; END;
             INSERT INTO t VALUES (1, 'gitlab', 'Team ÄLPHA registry'),
                                  (2, 'ghcr', 'team beta'),
                                  (3, 'team-team', '');",
        )
        .expect("schema");
        c
    }

    fn search(cache: &ListCache, c: &Connection, q: &str) -> Vec<i64> {
        read_snapshot(c, |c| cache.view(c)?.search(q)).expect("search")
    }

    #[test]
    fn search_is_a_case_blind_substring_match_with_one_hit_per_row() {
        let (c, cache) = (db(), ListCache::new("t"));
        assert_eq!(search(&cache, &c, "TEAM"), [1, 2, 3]);
        assert_eq!(search(&cache, &c, "älpha"), [1]);
        assert_eq!(search(&cache, &c, "m b"), [2]);
        assert_eq!(search(&cache, &c, "b\ngit"), Vec::<i64>::new());
        assert_eq!(search(&cache, &c, "registry\nghcr"), Vec::<i64>::new());
        assert_eq!(search(&cache, &c, "x"), Vec::<i64>::new());
    }

    #[test]
    fn a_write_is_seen_by_the_next_read_and_an_old_snapshot_does_not_win() {
        let (c, cache) = (db(), ListCache::new("t"));
        let order = |c: &Connection| {
            read_snapshot(c, |c| {
                cache
                    .view(c)?
                    .order("name", false, || "ORDER BY name".into())
            })
            .expect("order")
            .to_vec()
        };
        assert_eq!(order(&c), [2, 1, 3]);
        assert_eq!(search(&cache, &c, "gh"), [2]);
        c.execute("DELETE FROM t WHERE id = 2", []).expect("delete");
        assert_eq!(order(&c), [1, 3]);
        assert_eq!(search(&cache, &c, "gh"), Vec::<i64>::new());

        // A reader still at an older snapshot reads what it sees, and the
        // cache keeps the newer generation.
        let old = View {
            cache: &cache,
            conn: &c,
            generation: 0,
        };
        old.keep(|i| i.search = None);
        assert_eq!(cache.lock().generation, 4);
        assert!(cache.lock().orders.contains_key(&("name", false)));
    }
}
