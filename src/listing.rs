//! Search, sort and pages for the admin lists. Bad values fall back to the
//! defaults; a page past the end is simply empty.

use crate::db::{Conn, Param};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::db::TextEnum;
use crate::web::FieldErrors;

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

/// Loads one page of an admin list with the area's query: the request
/// read leniently, as a person's address bar is.
pub async fn load<S: TextEnum, T: Send + 'static>(
    pool: &crate::db::Pool,
    query: &QueryPairs,
    base: &'static str,
    list: fn(&Conn<'_>, Listing) -> rusqlite::Result<Page<T>>,
) -> Result<Page<T>, crate::error::AppError> {
    let listing = Listing::lenient::<S>(query, base);
    crate::db::run(pool, move |c| Ok(list(c, listing)?)).await
}

/// A page number: from 1 to a million; anything else is 1.
pub fn parse_page(raw: &str) -> i64 {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=MAX_PAGE).contains(p))
        .unwrap_or(1)
}

/// The highest page number asked for.
pub const MAX_PAGE: i64 = 1_000_000;

/// The most rows a page may have (`per_page`).
pub const MAX_PER_PAGE: i64 = 200;

/// The longest search text.
pub const MAX_QUERY: usize = 200;

/// A list request: search text, sort, direction and page.
#[derive(Clone, Debug)]
pub struct Listing {
    /// Search text, trimmed, without control characters, at most 200
    /// characters.
    pub q: String,
    /// The sort key's text (one of the area's sort enum).
    pub sort: &'static str,
    /// Descending?
    pub desc: bool,
    /// From 1.
    pub page: i64,
    /// Rows a page.
    pub per_page: i64,
    /// Another query value the list's links carry (a filter).
    pub keep: Option<(&'static str, String)>,
    base: &'static str,
}

impl Listing {
    /// Reads a list request for the list at `base` sorted by `S`: values
    /// that break a rule fall back to the defaults (pages, which also keep
    /// to 50 rows: their links carry no `per_page`).
    pub fn lenient<S: TextEnum>(query: &QueryPairs, base: &'static str) -> Self {
        let mut listing = Self::read::<S>(query, base).0;
        listing.per_page = PER_PAGE;
        listing
    }

    /// The same, but a value that breaks a rule is an error beside its
    /// name (the API: a program should learn of its mistake).
    pub fn strict<S: TextEnum>(
        query: &QueryPairs,
        base: &'static str,
    ) -> Result<Self, FieldErrors> {
        match Self::read::<S>(query, base) {
            (listing, errors) if errors.is_empty() => Ok(listing),
            (_, errors) => Err(errors),
        }
    }

    /// The one reading of a list request: the listing with the defaults
    /// for what broke a rule, and what did.
    fn read<S: TextEnum>(query: &QueryPairs, base: &'static str) -> (Self, FieldErrors) {
        let mut errors = FieldErrors::default();
        let mut int = |key: &'static str, max: i64, default: i64| match query.get_opt(key) {
            None => default,
            Some(raw) => match raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
            {
                Some(n) => n,
                None => {
                    errors.add(
                        key,
                        format!("{key} must be a whole number from 1 to {max}."),
                    );
                    default
                }
            },
        };
        let page = int("page", MAX_PAGE, 1);
        let per_page = int("per_page", MAX_PER_PAGE, PER_PAGE);
        let sorts = S::all();
        let sort = match query.get_opt("sort") {
            None => None,
            Some(raw) => {
                let found = S::parse(raw);
                if found.is_none() {
                    let names: Vec<&str> = sorts.iter().map(|s| s.as_str()).collect();
                    errors.add("sort", format!("sort must be one of {}.", names.join(", ")));
                }
                found
            }
        };
        let sort = sort
            .or_else(|| sorts.first().copied())
            .map_or("name", TextEnum::as_str);
        let desc = match query.get_opt("dir") {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                errors.add("dir", "dir must be asc or desc.");
                false
            }
        };
        let raw_q = query.get("q");
        if raw_q.chars().count() > MAX_QUERY {
            errors.add("q", format!("q must be at most {MAX_QUERY} characters."));
        }
        // Control characters cannot be typed into a search box.
        let q = raw_q
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_QUERY)
            .collect();
        let listing = Self {
            q,
            sort,
            desc,
            page,
            per_page,
            keep: None,
            base,
        };
        (listing, errors)
    }

    /// The sort key, as the area's enum (`None` only for a listing read
    /// for another enum).
    pub fn sort_key<S: TextEnum>(&self) -> Option<S> {
        S::parse(self.sort)
    }

    /// A list's filter (`?filter=`), one of `F` or none: leniently, what
    /// is none of them is no filter; strictly, an error beside `filter`.
    pub fn filter<F: TextEnum>(query: &QueryPairs, strict: bool) -> Result<Option<F>, FieldErrors> {
        match query.get_opt("filter").map(str::trim) {
            None => Ok(None),
            // A page's empty filter is none; for a program it is not one of
            // the values the document names.
            Some("") if !strict => Ok(None),
            Some(raw) => match F::parse(raw) {
                Some(f) => Ok(Some(f)),
                None if !strict => Ok(None),
                None => {
                    let names: Vec<&str> = F::all().iter().map(|f| f.as_str()).collect();
                    let mut errors = FieldErrors::default();
                    errors.add(
                        "filter",
                        format!("filter must be one of {}.", names.join(", ")),
                    );
                    Err(errors)
                }
            },
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
    args: Vec<Box<dyn Param>>,
    count: Count,
}

enum Count {
    /// Already known (the index query returned the ids).
    Known(i64),
    /// Run this with the filter's values.
    Query(String),
}

impl Filter {
    /// Every row of `table` (aliased `alias`).
    pub fn all(table: &str, alias: &str) -> Self {
        Self {
            from: format!("{table} {alias}"),
            sql: "TRUE".into(),
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
            sql: "TRUE".into(),
            count: Count::Known(ids.len() as i64),
            args: vec![Box::new(crate::db::List::ints(ids))],
        }
    }

    /// Narrows the filter by one more condition over the table's alias,
    /// with its `?` values.
    pub fn and(mut self, sql: &str, args: Vec<Box<dyn Param>>) -> Self {
        self.sql = format!("({}) AND ({sql})", self.sql);
        self.args.extend(args);
        self.count = Count::Query(format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            self.from, self.sql
        ));
        self
    }

    /// How many rows match.
    pub fn total(&self, conn: &Conn<'_>) -> rusqlite::Result<i64> {
        match &self.count {
            Count::Known(n) => Ok(*n),
            Count::Query(sql) => conn.query_row(sql, &self.args, |r| r.get(0)),
        }
    }

    /// The filter's values followed by a page's `LIMIT` and `OFFSET`.
    pub fn page_args(self, listing: &Listing) -> impl Iterator<Item = Box<dyn Param>> {
        let page: [Box<dyn Param>; 2] = [Box::new(listing.per_page), Box::new(listing.offset())];
        self.args.into_iter().chain(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::db::text_enum! {
        /// Two keys, for the tests.
        pub enum Sort {
            Name = "name" ("Name"),
            Type = "type" ("Type"),
        }
    }

    fn q(pairs: &[(&str, &str)]) -> QueryPairs {
        QueryPairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn bad_values_fall_back_for_people_and_are_errors_for_programs() {
        let bad = q(&[("sort", "'; DROP"), ("dir", "sideways"), ("page", "-3")]);
        let l = Listing::lenient::<Sort>(&bad, "/x");
        assert_eq!((l.sort, l.desc, l.page), ("name", false, 1));
        let errors = Listing::strict::<Sort>(&bad, "/x").unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["page", "sort", "dir"]);
        let good = q(&[("sort", "type"), ("dir", "desc"), ("page", "2")]);
        let l = Listing::strict::<Sort>(&good, "/x").unwrap();
        assert_eq!((l.sort, l.desc, l.page, l.offset()), ("type", true, 2, 50));
        // A page keeps to 50 rows (its links carry no per_page); the API
        // takes what it is asked for.
        let big = q(&[("per_page", "200")]);
        assert_eq!(Listing::lenient::<Sort>(&big, "/x").per_page, 50);
        assert_eq!(Listing::strict::<Sort>(&big, "/x").unwrap().per_page, 200);
        assert_eq!(l.sort_key::<Sort>(), Some(Sort::Type));
    }

    #[test]
    fn links_keep_the_search() {
        let l =
            Listing::lenient::<Sort>(&q(&[("q", "git lab&"), ("sort", "name")]), "/admin/secrets");
        assert_eq!(
            l.sort_href("name"),
            "/admin/secrets?q=git%20lab%26&sort=name&dir=desc"
        );
    }
}
