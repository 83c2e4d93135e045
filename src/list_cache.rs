//! What a list keeps between requests, as one typed snapshot of its table:
//! the order of all its rows for each sort, a substring index of names and
//! display names, the rows pages have read (`R`: for the secrets list a
//! [`Listed`] row with the HTML a page made of it), and one value the area
//! computes from the table once a day (`D`: the secrets list's attention
//! counts). Each earns its place in the load benchmark (`docs/benchmarks.md`).
//!
//! All are exact, not "fresh enough": they are keyed by the table's change
//! counter, which triggers bump in every writer's own transaction
//! (migration 009). A reader that sees the same number sees the same rows,
//! so a write by this process or by another (`wharf` on the same file) is
//! seen by the very next request. The counter and the page must be read in
//! one transaction; [`ListCache::view`] takes care of that.
//!
//! A request can also skip the database: once a hop has confirmed, under
//! the commit stamp it saw before it began ([`crate::changes`]), that the
//! cache holds the table's current counter, a request that sees the same
//! stamp gets a [`ListCache::kept`] view, which answers from memory and
//! says [`Miss::NotKept`] where it would need the database.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::db::Conn;
use memchr::memmem;

use crate::changes::{Read, Stamp};

/// Rows kept at most; past that the rows start over. A table this large
/// still gets its orders and search from memory.
const MAX_ROWS: usize = 20_000;

/// The cache of one table, whose rows are `R`, with a daily value `D`.
pub struct ListCache<R = (), D = ()> {
    table: &'static str,
    inner: Mutex<Snapshot<R, D>>,
    /// Held while an order or the search index is built, so that requests
    /// arriving together after a change wait for one build instead of
    /// each making its own.
    building: Mutex<()>,
}

/// What was read of the table at one value of its change counter.
struct Snapshot<R, D> {
    /// The counter value what follows was read at.
    generation: i64,
    /// Every row in order, by sort key and direction.
    orders: HashMap<(&'static str, bool), Arc<Order>>,
    /// Names and display names, for search.
    search: Option<Arc<SearchIndex>>,
    /// Rows by id, as pages read them.
    rows: HashMap<i64, Arc<R>>,
    /// The area's value of the day, with its day.
    daily: Option<(time::Date, D)>,
    /// A commit stamp at which `generation` was the table's counter.
    confirmed: Option<Stamp>,
}

impl<R, D> Snapshot<R, D> {
    fn at(generation: i64) -> Self {
        Self {
            generation,
            orders: HashMap::new(),
            search: None,
            rows: HashMap::new(),
            daily: None,
            confirmed: None,
        }
    }
}

impl<R, D: Clone> ListCache<R, D> {
    /// An empty cache of `table`, which must have a row in
    /// `change_counters` and an `id`, a `name` and a `display_name`.
    pub fn new(table: &'static str) -> Self {
        Self {
            table,
            inner: Mutex::new(Snapshot::at(0)),
            building: Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Snapshot<R, D>> {
        // Nothing panics while holding it; if something did, the data is
        // still a consistent cache (each write replaces a whole entry).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cache as of `conn`'s snapshot. That must be a read transaction
    /// (see [`crate::db::read_tx`]), so that the rows read next are the ones
    /// the counter counted, and never one that has written: its counter
    /// could still be rolled back and then reached again by other rows.
    pub fn view<'a>(&'a self, conn: &'a Conn<'a>) -> rusqlite::Result<View<'a, R, D>> {
        debug_assert!(conn.in_transaction(), "a view needs a transaction");
        let generation = conn.query_row(
            "SELECT n FROM change_counters WHERE tbl = ?1",
            [self.table],
            |r| r.get::<usize, i64>(0),
        )?;
        Ok(View {
            cache: self,
            conn: Some(conn),
            seen: None,
            generation,
        })
    }

    /// The cache as `read` finds it: from memory at its stamp
    /// ([`ListCache::kept`], else [`Miss::NotKept`]), or on the trip's
    /// connection ([`ListCache::view`]), to be confirmed under the stamp
    /// the trip began after ([`View::confirm`]).
    pub fn at<'a>(&'a self, read: Read<'a>) -> Result<View<'a, R, D>, Miss> {
        match read {
            Read::Memory(now) => self.kept(now).ok_or(Miss::NotKept),
            Read::Db(conn, seen) => Ok(View {
                seen,
                ..self.view(conn)?
            }),
        }
    }

    /// The cache as of the stamp `now`, from memory: only if a hop has
    /// confirmed it at that stamp ([`View::confirm`]). What it has not kept
    /// is [`Miss::NotKept`].
    pub fn kept(&self, now: Stamp) -> Option<View<'_, R, D>> {
        let inner = self.lock();
        (inner.confirmed == Some(now)).then(|| View {
            cache: self,
            conn: None,
            seen: None,
            generation: inner.generation,
        })
    }
}

pub use crate::changes::Miss;

/// A view of a hop always has its connection, so it never misses: what it
/// says is the database's failure (or a bug, said as such).
impl From<Miss> for crate::error::AppError {
    fn from(m: Miss) -> Self {
        match m {
            Miss::Db(e) => e.into(),
            Miss::NotKept => crate::error::AppError::internal(
                "a list view read in a transaction had no connection",
            ),
        }
    }
}

/// A row as the cache keeps it: the data, and the HTML a page made of it
/// (once, for the day it was made on: a row can say "expires in 3 days").
/// A list page then copies 50 pieces of HTML instead of escaping and
/// formatting every field of every row again.
pub struct Listed<R> {
    row: R,
    html: OnceLock<(time::Date, String)>,
    /// The API's item for the row (nothing in it depends on the day).
    json: OnceLock<String>,
}

impl<R> Listed<R> {
    /// A row with no HTML yet.
    pub fn new(row: R) -> Self {
        Self {
            row,
            html: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    /// The row's HTML as `render` makes it on `today`: made the first time
    /// and kept. `render` must escape what it writes (an askama template).
    pub fn html<E>(
        &self,
        today: time::Date,
        render: impl FnOnce(&R) -> Result<String, E>,
    ) -> Result<Cow<'_, str>, E> {
        if let Some((day, html)) = self.html.get() {
            if *day == today {
                return Ok(Cow::Borrowed(html));
            }
            return render(&self.row).map(Cow::Owned);
        }
        let html = render(&self.row)?;
        Ok(match self.html.set((today, html)) {
            Ok(()) => self
                .html
                .get()
                .map_or(Cow::Borrowed(""), |(_, h)| Cow::Borrowed(h.as_str())),
            Err((_, html)) => Cow::Owned(html),
        })
    }
}

impl<R> Listed<R> {
    /// The row's JSON as `render` makes it: made the first time and kept.
    /// `render` must make a whole JSON value (serde).
    pub fn json<E>(&self, render: impl FnOnce(&R) -> Result<String, E>) -> Result<&str, E> {
        if let Some(json) = self.json.get() {
            return Ok(json);
        }
        let json = render(&self.row)?;
        Ok(self.json.get_or_init(|| json))
    }
}

impl<R> std::ops::Deref for Listed<R> {
    type Target = R;
    fn deref(&self) -> &R {
        &self.row
    }
}

/// Every row id of a table in one order, and each one's place in it.
pub struct Order {
    ids: Vec<i64>,
    place: HashMap<i64, usize>,
}

impl Order {
    /// Every id, in order.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Sorts `ids` (some of the table's) into this order.
    pub fn sort(&self, ids: &mut [i64]) {
        ids.sort_by_key(|id| self.place.get(id).copied().unwrap_or(usize::MAX));
    }
}

/// A [`ListCache`] at one snapshot of its table.
pub struct View<'a, R, D> {
    cache: &'a ListCache<R, D>,
    /// `None` for a view from memory.
    conn: Option<&'a Conn<'a>>,
    /// The stamp a trip's transaction began after, if known.
    seen: Option<Stamp>,
    generation: i64,
}

impl<'a, R, D: Clone> View<'a, R, D> {
    /// The connection of a view in a read transaction; [`Miss::NotKept`]
    /// for one from memory.
    pub fn conn(&self) -> Result<&'a Conn<'a>, Miss> {
        self.conn.ok_or(Miss::NotKept)
    }

    /// Notes that the cache holds the table as it is at the stamp read
    /// before this view's transaction began (so a commit in between makes
    /// the stamp differ, and nothing is taken from memory at it).
    pub fn confirm(&self) {
        let (Some(seen), Some(_)) = (self.seen, self.conn) else {
            return;
        };
        let mut inner = self.cache.lock();
        if inner.generation == self.generation {
            inner.confirmed = Some(seen);
        }
    }

    /// Every row id in the order `sort` and `desc` name; `order_by` makes
    /// the `ORDER BY` clause of that order, when it is not cached yet.
    pub fn order(
        &self,
        sort: &'static str,
        desc: bool,
        order_by: impl FnOnce() -> String,
    ) -> Result<Arc<Order>, Miss> {
        let get = |i: &Snapshot<R, D>| i.orders.get(&(sort, desc)).cloned();
        if let Some(order) = self.cached(get) {
            return Ok(order);
        }
        // From memory, never wait for a build (an async thread runs it).
        self.conn()?;
        let _one = self
            .cache
            .building
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(order) = self.cached(get) {
            return Ok(order);
        }
        let ids = self
            .conn()?
            .query_map(
                &format!("SELECT id FROM {} {}", self.cache.table, order_by()),
                (),
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        let place = ids.iter().enumerate().map(|(at, id)| (*id, at)).collect();
        let order = Arc::new(Order { ids, place });
        self.keep(|i| {
            i.orders.insert((sort, desc), order.clone());
        });
        Ok(order)
    }

    /// The ids of the rows whose name or display name contains `q`,
    /// ignoring case, in id order.
    pub fn search(&self, q: &str) -> Result<Vec<i64>, Miss> {
        let get = |i: &Snapshot<R, D>| i.search.clone();
        if let Some(index) = self.cached(get) {
            return Ok(index.find(q));
        }
        self.conn()?;
        let _one = self
            .cache
            .building
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let index = match self.cached(get) {
            Some(index) => index,
            None => {
                let index = Arc::new(SearchIndex::build(self.conn()?, self.cache.table)?);
                self.keep(|i| i.search = Some(index.clone()));
                index
            }
        };
        Ok(index.find(q))
    }

    /// The rows with these ids, in this order: from the cache, and those
    /// it lacks by `fetch` (in any order; `id` gives a row's id).
    pub fn rows(
        &self,
        ids: &[i64],
        id: fn(&R) -> i64,
        fetch: impl FnOnce(&[i64]) -> Result<Vec<R>, Miss>,
    ) -> Result<Vec<Arc<R>>, Miss> {
        let mut found: Vec<Option<Arc<R>>> = {
            let inner = self.cache.lock();
            let current = inner.generation == self.generation;
            ids.iter()
                .map(|i| current.then(|| inner.rows.get(i).cloned()).flatten())
                .collect()
        };
        let missing: Vec<i64> = ids
            .iter()
            .zip(&found)
            .filter(|(_, row)| row.is_none())
            .map(|(i, _)| *i)
            .collect();
        if missing.is_empty() {
            return Ok(found.into_iter().flatten().collect());
        }
        let fetched: Vec<Arc<R>> = fetch(&missing)?.into_iter().map(Arc::new).collect();
        for row in &fetched {
            if let Some(at) = ids.iter().position(|i| *i == id(row)) {
                found[at] = Some(row.clone());
            }
        }
        self.keep(|i| {
            if i.rows.len() + fetched.len() > MAX_ROWS {
                i.rows.clear();
            }
            i.rows
                .extend(fetched.into_iter().map(|row| (id(&row), row)));
        });
        Ok(found.into_iter().flatten().collect())
    }

    /// The area's value of `today` at this snapshot: `compute`d once a
    /// day and change.
    pub fn daily(
        &self,
        today: time::Date,
        compute: impl FnOnce() -> Result<D, Miss>,
    ) -> Result<D, Miss> {
        let get = |i: &Snapshot<R, D>| {
            i.daily
                .as_ref()
                .filter(|(day, _)| *day == today)
                .map(|(_, d)| d.clone())
        };
        if let Some(d) = self.cached(get) {
            return Ok(d);
        }
        let d = compute()?;
        let kept = d.clone();
        self.keep(|i| i.daily = Some((today, kept)));
        Ok(d)
    }

    fn cached<T>(&self, get: impl FnOnce(&Snapshot<R, D>) -> Option<T>) -> Option<T> {
        let inner = self.cache.lock();
        (inner.generation == self.generation)
            .then(|| get(&inner))
            .flatten()
    }

    /// Keeps what was read at this snapshot, unless the cache already holds
    /// a newer one (then it was used once and is dropped).
    fn keep(&self, put: impl FnOnce(&mut Snapshot<R, D>)) {
        let mut inner = self.cache.lock();
        if self.generation > inner.generation {
            *inner = Snapshot::at(self.generation);
        }
        if self.generation == inner.generation {
            put(&mut inner);
        }
    }
}

/// Text as the search index compares it: each character lower-cased on its
/// own (as FTS5 did; `str::to_lowercase` would make a word-final Σ a ς),
/// and the final sigma folded into σ.
fn fold(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
}

/// Every row's name and display name, lower-cased, in one string, and
/// where each row's part starts. A search of three bytes or more checks
/// the rows that have its rarest three (`grams`); a shorter one is one
/// SIMD substring scan of the text (about 400 KB for 10,000 secrets, a
/// few tens of microseconds).
struct SearchIndex {
    text: String,
    starts: Vec<usize>,
    ids: Vec<i64>,
    /// Every three bytes of the text, and the rows (ascending, each once)
    /// whose text has them: a search of three bytes or more checks only
    /// the rows of its rarest three, not every row.
    grams: HashMap<[u8; 3], Vec<u32>>,
}

impl SearchIndex {
    fn build(conn: &Conn<'_>, table: &str) -> rusqlite::Result<Self> {
        let mut index = Self {
            text: String::new(),
            starts: Vec::new(),
            ids: Vec::new(),
            grams: HashMap::new(),
        };
        let rows = conn.query_map(
            &format!("SELECT id, name, display_name FROM {table}"),
            (),
            |r| {
                // The row's text folded as it is read, without a copy of
                // each name.
                let mut text = String::new();
                for part in [r.get_ref(1)?.as_str()?, r.get_ref(2)?.as_str()?] {
                    text.extend(fold(part));
                    text.push('\n');
                }
                Ok((r.get(0)?, text))
            },
        )?;
        for row in rows {
            let (id, text) = row?;
            index.starts.push(index.text.len());
            index.ids.push(id);
            // A search has no control characters (see `Listing::read`),
            // so no match runs across the newlines; `find` checks anyway.
            index.text.push_str(&text);
        }
        let mut grams: HashMap<[u8; 3], Vec<u32>> = HashMap::new();
        for (row, part) in (0u32..).zip(index.rows()) {
            for gram in part.windows(3) {
                let rows = grams.entry([gram[0], gram[1], gram[2]]).or_default();
                if rows.last() != Some(&row) {
                    rows.push(row);
                }
            }
        }
        index.grams = grams;
        Ok(index)
    }

    /// Each row's text, in order.
    fn rows(&self) -> impl Iterator<Item = &[u8]> {
        let text = self.text.as_bytes();
        let ends = self.starts.iter().skip(1).copied().chain([text.len()]);
        self.starts
            .iter()
            .zip(ends)
            .map(move |(&start, end)| text.get(start..end).unwrap_or_default())
    }

    fn find(&self, q: &str) -> Vec<i64> {
        let needle: String = fold(q).collect();
        let needle = needle.as_bytes();
        if needle.is_empty() {
            return self.ids.clone();
        }
        if needle.len() >= 3 {
            // The rows that have the needle's rarest three bytes; none if
            // any three are in no row.
            let rarest = needle
                .windows(3)
                .map(|g| {
                    self.grams
                        .get(&[g[0], g[1], g[2]])
                        .map_or(&[][..], Vec::as_slice)
                })
                .min_by_key(|rows| rows.len())
                .unwrap_or_default();
            let finder = memmem::Finder::new(needle);
            return rarest
                .iter()
                .filter_map(|&row| {
                    let row = row as usize;
                    let start = *self.starts.get(row)?;
                    let end = self.starts.get(row + 1).copied().unwrap_or(self.text.len());
                    let part = self.text.as_bytes().get(start..end)?;
                    finder.find(part).and(self.ids.get(row).copied())
                })
                .collect();
        }
        let mut hits = Vec::new();
        // The start of the row after the last hit: one hit per row.
        let mut next_row = 0;
        for at in memmem::find_iter(self.text.as_bytes(), needle) {
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
    use rusqlite::Connection;

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
                                  (3, 'team-team', ''),
                                  (4, 'odos', 'ΟΔΟΣ');",
        )
        .expect("schema");
        c
    }

    fn search(cache: &ListCache, c: &Conn<'_>, q: &str) -> Vec<i64> {
        crate::db::read_tx(c, |c| cache.view(c)?.search(q)).expect("search")
    }

    #[test]
    fn search_is_a_case_blind_substring_match_with_one_hit_per_row() {
        let (c, cache) = (db(), ListCache::new("t"));
        let c = Conn::from(&c);
        assert_eq!(search(&cache, &c, "TEAM"), [1, 2, 3]);
        assert_eq!(search(&cache, &c, "älpha"), [1]);
        assert_eq!(search(&cache, &c, "ΟΔΟΣ"), [4], "as stored");
        assert_eq!(search(&cache, &c, "οδος"), [4], "final sigma");
        assert_eq!(search(&cache, &c, "m b"), [2]);
        assert_eq!(search(&cache, &c, "b\ngit"), Vec::<i64>::new());
        assert_eq!(search(&cache, &c, "registry\nghcr"), Vec::<i64>::new());
        assert_eq!(search(&cache, &c, "x"), Vec::<i64>::new());
    }

    #[test]
    fn a_search_by_the_rarest_three_bytes_finds_what_a_scan_finds() {
        let c = db();
        for i in 0..600 {
            c.execute(
                "INSERT INTO t (name, display_name) VALUES (?1, ?2)",
                [
                    format!("secret-{i:05}"),
                    format!("Team {} régistry Σ{}", i % 97, i % 7),
                ],
            )
            .expect("row");
        }
        let rows: Vec<(i64, String)> = c
            .prepare("SELECT id, name || char(10) || display_name || char(10) FROM t")
            .expect("rows")
            .query_map((), |r| Ok((r.get(0)?, r.get::<usize, String>(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        let c = Conn::from(&c);
        let cache = ListCache::new("t");
        for q in [
            "team 42",
            "TEAM 4",
            "secret-0004",
            "00042",
            "m 9",
            "égi",
            "RÉGISTRY σ3",
            "σ6",
            "y σ",
            "ta\nte",
            "-00",
            "42 r",
            "team 42 régistry σ0",
            "zzz",
            "tea",
            "ΟΔΟ",
            "secret-00599\nteam",
            "t",
            "9",
        ] {
            let folded: String = fold(q).collect();
            let want: Vec<i64> = rows
                .iter()
                .filter(|(_, text)| fold(text).collect::<String>().contains(&folded))
                .map(|(id, _)| *id)
                .collect();
            assert_eq!(search(&cache, &c, q), want, "{q:?}");
        }
    }

    #[test]
    fn a_write_is_seen_by_the_next_read_and_an_old_snapshot_does_not_win() {
        let (c, cache) = (db(), ListCache::new("t"));
        let c = Conn::from(&c);
        let order = |c: &Conn<'_>| {
            crate::db::read_tx(c, |c| {
                cache
                    .view(c)?
                    .order("name", false, || "ORDER BY name".into())
            })
            .expect("order")
            .ids()
            .to_vec()
        };
        assert_eq!(order(&c), [2, 1, 4, 3]);
        assert_eq!(search(&cache, &c, "gh"), [2]);
        c.execute("DELETE FROM t WHERE id = 2", ()).expect("delete");
        assert_eq!(order(&c), [1, 4, 3]);
        assert_eq!(search(&cache, &c, "gh"), Vec::<i64>::new());

        // A reader still at an older snapshot reads what it sees, and the
        // cache keeps the newer generation.
        let old = View {
            cache: &cache,
            conn: Some(&c),
            seen: None,
            generation: 0,
        };
        old.keep(|i| i.search = None);
        assert_eq!(cache.lock().generation, 5);
        assert!(cache.lock().orders.contains_key(&("name", false)));
    }

    #[test]
    fn a_rows_html_is_made_once_a_day() {
        let row = Listed::new("a<b");
        let made = std::cell::Cell::new(0);
        let render = |r: &&str| -> Result<String, ()> {
            made.set(made.get() + 1);
            Ok(format!("<td>{}</td>", r.replace('<', "&lt;")))
        };
        let day = time::macros::date!(2026 - 11 - 29);
        assert_eq!(row.html(day, render).unwrap(), "<td>a&lt;b</td>");
        assert_eq!(row.html(day, render).unwrap(), "<td>a&lt;b</td>");
        assert_eq!(made.get(), 1);
        let next = time::macros::date!(2026 - 11 - 30);
        assert_eq!(row.html(next, render).unwrap(), "<td>a&lt;b</td>");
        assert_eq!(made.get(), 2, "another day, made again");
        assert_eq!(*row, "a<b");
    }
}
