//! Search, sort and pages for the admin lists. Bad values fall back to the
//! defaults; a page past the end is simply empty.

use std::rc::Rc;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rusqlite::Connection;
use rusqlite::types::{ToSql, Value};

/// Rows on one page.
pub const PER_PAGE: i64 = 50;

/// A query string as ordered pairs: a repeated key is not an error, the
/// first value counts.
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// The first value of `key`, if the query has the key at all.
    pub fn get_opt(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, or "".
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl actix_web::FromRequest for QueryPairs {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| Self(q.into_inner()))
            .map_err(|e| {
                crate::error::AppError::BadRequest(format!(
                    "The query string could not be read: {e}"
                ))
                .into()
            });
        std::future::ready(pairs)
    }
}

/// One page of a list, as `?q=&sort=&dir=&page=` asks for it: `list` is the
/// area's query (on the blocking pool), `base` the page's path, `sorts` its
/// sort keys (the default first).
pub async fn load<T: Send + 'static>(
    pool: &crate::db::Pool,
    query: &QueryPairs,
    base: &'static str,
    sorts: &'static [&'static str],
    list: fn(&Connection, Listing) -> rusqlite::Result<Page<T>>,
) -> Result<Page<T>, crate::error::AppError> {
    let listing = Listing::parse(&ListQuery::from(query), base, sorts);
    crate::db::run(pool, move |c| Ok(list(c, listing)?)).await
}

/// Parses `?page=`: from 1; anything else is page 1.
pub fn parse_page(raw: &str) -> i64 {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1)
}

/// The raw query string of a list page. Strings, so that nothing a user
/// types into the address bar is an error.
#[derive(Debug, Default)]
pub struct ListQuery {
    q: String,
    sort: String,
    dir: String,
    page: String,
}

impl ListQuery {
    /// A query from its four values.
    pub fn new(q: &str, sort: &str, dir: &str, page: &str) -> Self {
        Self {
            q: q.into(),
            sort: sort.into(),
            dir: dir.into(),
            page: page.into(),
        }
    }
}

impl From<&QueryPairs> for ListQuery {
    fn from(p: &QueryPairs) -> Self {
        Self {
            q: p.get("q").to_owned(),
            sort: p.get("sort").to_owned(),
            dir: p.get("dir").to_owned(),
            page: p.get("page").to_owned(),
        }
    }
}

/// A parsed list request.
#[derive(Clone, Debug)]
pub struct Listing {
    /// The search text, trimmed (empty: everything).
    pub q: String,
    /// The sort key, one of the list's own.
    pub sort: &'static str,
    /// Descending?
    pub desc: bool,
    /// From 1.
    pub page: i64,
    /// Rows a page ([`PER_PAGE`] for pages; the API's `per_page`).
    pub per_page: i64,
    /// One more parameter the page's links keep (the catalogue's `group`).
    pub keep: Option<(&'static str, String)>,
    base: &'static str,
}

impl Listing {
    /// Parses `query` for the list at `base` whose sort keys are `sorts`
    /// (the first is the default).
    pub fn parse(query: &ListQuery, base: &'static str, sorts: &[&'static str]) -> Self {
        let sort = sorts
            .iter()
            .find(|s| **s == query.sort)
            .or(sorts.first())
            .copied()
            .unwrap_or("name");
        let page = parse_page(&query.page);
        Self {
            // Control characters cannot be typed into a search box; a NUL
            // would also end the FTS5 query string early.
            q: query
                .q
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect(),
            sort,
            desc: query.dir == "desc",
            page,
            per_page: PER_PAGE,
            keep: None,
            base,
        }
    }

    /// `ASC` or `DESC`, for SQL.
    pub fn sql_dir(&self) -> &'static str {
        if self.desc { "DESC" } else { "ASC" }
    }

    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }

    fn href(&self, sort: &str, desc: bool, page: i64) -> String {
        use std::fmt::Write;
        // One string per link: a list page makes about ten of them.
        let mut h = String::with_capacity(64 + self.q.len() * 3);
        h.push_str(self.base);
        h.push('?');
        if !self.q.is_empty() {
            h.push_str("q=");
            h.extend(utf8_percent_encode(&self.q, NON_ALPHANUMERIC));
            h.push('&');
        }
        h.push_str("sort=");
        h.push_str(sort);
        h.push_str(if desc { "&dir=desc" } else { "&dir=asc" });
        if let Some((key, value)) = &self.keep {
            h.push('&');
            h.push_str(key);
            h.push('=');
            h.extend(utf8_percent_encode(value, NON_ALPHANUMERIC));
        }
        if page > 1 {
            let _ = write!(h, "&page={page}");
        }
        h
    }

    /// The link of a column header: sorts by it, flipping the direction
    /// when it is already the sort.
    pub fn sort_href(&self, column: &str) -> String {
        let desc = self.sort == column && !self.desc;
        self.href(column, desc, 1)
    }

    /// `▲`/`▼` beside the column the list is sorted by.
    pub fn sort_mark(&self, column: &str) -> &'static str {
        match (self.sort == column, self.desc) {
            (false, _) => "",
            (true, false) => "▲",
            (true, true) => "▼",
        }
    }

    /// `aria-sort` of a column header.
    pub fn aria_sort(&self, column: &str) -> &'static str {
        match (self.sort == column, self.desc) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        }
    }
}

/// One page of a list, with what the pager needs.
#[derive(Debug)]
pub struct Page<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// Rows in all that match.
    pub total: i64,
    /// The request.
    pub listing: Listing,
}

impl<T> Page<T> {
    /// Pages in all (at least 1).
    pub fn pages(&self) -> i64 {
        let n = self.listing.per_page;
        ((self.total + n - 1) / n).max(1)
    }

    /// "Showing 51–100 of 230".
    pub fn summary(&self) -> String {
        if self.rows.is_empty() {
            return format!("{} in all", self.total);
        }
        let first = self.listing.offset() + 1;
        let last = self.listing.offset() + self.rows.len() as i64;
        format!("Showing {first}–{last} of {}", self.total)
    }

    /// The previous page's link, if there is one.
    pub fn prev_href(&self) -> Option<String> {
        let l = &self.listing;
        (l.page > 1).then(|| l.href(l.sort, l.desc, (l.page - 1).min(self.pages())))
    }

    /// The next page's link, if there is one.
    pub fn next_href(&self) -> Option<String> {
        let l = &self.listing;
        (l.page < self.pages()).then(|| l.href(l.sort, l.desc, l.page + 1))
    }
}

/// How a list is filtered by its search text: a boolean SQL expression with
/// `?` placeholders, their values, and how to count the matches.
pub struct Filter {
    /// What to select from: the table, or the index's hits joined to it.
    pub from: String,
    /// A condition over the table's alias.
    pub sql: String,
    args: Vec<Box<dyn ToSql>>,
    count: Count,
}

enum Count {
    /// Already known (the index query returned the ids).
    Known(i64),
    /// Run this with the filter's values.
    Query(String),
}

impl Filter {
    /// Filters `table` (aliased `alias`) by `q` on `name` and
    /// `display_name`. With three or more characters (what a trigram needs)
    /// the trigram index `fts` finds the ids once, and the page and the
    /// count both use them; shorter text falls back to a `LIKE` scan; an
    /// empty `q` matches everything.
    pub fn search(
        conn: &Connection,
        q: &str,
        table: &str,
        alias: &str,
        fts: &str,
    ) -> rusqlite::Result<Self> {
        if q.is_empty() {
            return Ok(Self::all(table, alias));
        }
        if q.chars().count() >= 3 {
            // A quoted FTS5 phrase: trigram phrases match substrings, and
            // nothing in `q` is query syntax.
            let phrase = format!("\"{}\"", q.replace('"', "\"\""));
            let ids = conn
                .prepare_cached(&format!("SELECT rowid FROM {fts} WHERE {fts} MATCH ?1"))?
                .query_map([phrase], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<_>>()?;
            return Ok(Self::ids(table, alias, ids));
        }
        let like =
            format!(r"({alias}.name LIKE ? ESCAPE '\' OR {alias}.display_name LIKE ? ESCAPE '\')");
        let pattern = crate::db::like_pattern(q);
        Ok(Self {
            from: format!("{table} {alias}"),
            count: Count::Query(format!("SELECT COUNT(*) FROM {table} {alias} WHERE {like}")),
            sql: like,
            args: vec![Box::new(pattern.clone()), Box::new(pattern)],
        })
    }

    /// Every row of `table` (aliased `alias`).
    pub fn all(table: &str, alias: &str) -> Self {
        Self {
            from: format!("{table} {alias}"),
            sql: "1".into(),
            args: Vec::new(),
            count: Count::Query(format!("SELECT COUNT(*) FROM {table}")),
        }
    }

    /// The rows of `table` (aliased `alias`) with these ids, a search's
    /// hits. The page is driven from the hits (CROSS JOIN fixes the
    /// order), so a few hits are sorted rather than every row scanned in
    /// order.
    pub fn ids(table: &str, alias: &str, ids: Vec<i64>) -> Self {
        Self {
            from: format!("rarray(?) AS hit CROSS JOIN {table} {alias} ON {alias}.id = hit.value"),
            sql: "1".into(),
            count: Count::Known(ids.len() as i64),
            args: vec![Box::new(Rc::new(
                ids.into_iter().map(Value::Integer).collect::<Vec<_>>(),
            ))],
        }
    }

    /// Narrows the filter by one more condition over the table's alias,
    /// with its `?` values.
    pub fn and(mut self, sql: &str, args: Vec<Box<dyn ToSql>>) -> Self {
        self.sql = format!("({}) AND ({sql})", self.sql);
        self.args.extend(args);
        self.count = Count::Query(format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            self.from, self.sql
        ));
        self
    }

    /// How many rows match.
    pub fn total(&self, conn: &Connection) -> rusqlite::Result<i64> {
        match &self.count {
            Count::Known(n) => Ok(*n),
            Count::Query(sql) => conn
                .prepare_cached(sql)?
                .query_row(rusqlite::params_from_iter(&self.args), |r| r.get(0)),
        }
    }

    /// The filter's values followed by a page's `LIMIT` and `OFFSET`.
    pub fn page_args(self, listing: &Listing) -> impl Iterator<Item = Box<dyn ToSql>> {
        let page: [Box<dyn ToSql>; 2] = [Box::new(listing.per_page), Box::new(listing.offset())];
        self.args.into_iter().chain(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(q: &str, sort: &str, dir: &str, page: &str) -> ListQuery {
        ListQuery {
            q: q.into(),
            sort: sort.into(),
            dir: dir.into(),
            page: page.into(),
        }
    }

    #[test]
    fn bad_values_fall_back() {
        let l = Listing::parse(&q("", "'; DROP", "sideways", "-3"), "/x", &["name", "type"]);
        assert_eq!((l.sort, l.desc, l.page), ("name", false, 1));
        let l = Listing::parse(&q("", "type", "desc", "2"), "/x", &["name", "type"]);
        assert_eq!((l.sort, l.desc, l.page, l.offset()), ("type", true, 2, 50));
    }

    #[test]
    fn links_keep_the_search() {
        let l = Listing::parse(
            &q("git lab&", "name", "asc", "1"),
            "/admin/secrets",
            &["name"],
        );
        assert_eq!(
            l.sort_href("name"),
            "/admin/secrets?q=git%20lab%26&sort=name&dir=desc"
        );
    }
}
