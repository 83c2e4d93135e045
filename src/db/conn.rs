//! One connection to either engine, and the calls the stores make on it.
//!
//! SQLite is the embedded default; PostgreSQL serves teams that run wharf
//! on the database they already have. The stores write one SQL for both
//! wherever the engines agree (SQLite's `?N` placeholders are PostgreSQL's
//! `$N`, translated once per statement), and read rows through
//! [`Row::get`] with rusqlite's `FromSql`, so a value is read the same way
//! whichever engine gave it. Errors are rusqlite's: a PostgreSQL refusal
//! is given the SQLite code of the same meaning (a unique or foreign key
//! violation, a busy database, one that cannot be reached), so each rule
//! that looks at an error is written once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use postgres::types::{IsNull, Type};
use rusqlite::ffi;
use rusqlite::types::{FromSql, FromSqlError, ToSql, ToSqlOutput, Value, ValueRef};

/// The stores' result.
pub type Result<T, E = rusqlite::Error> = std::result::Result<T, E>;

/// A list of values bound as one parameter: an id list, `rarray(?N)` on
/// SQLite (its carray table), an array on PostgreSQL (`= ANY($N)`).
#[derive(Clone, Debug)]
pub struct List(Rc<Vec<Value>>);

impl List {
    /// Integers (ids).
    pub fn ints(values: impl IntoIterator<Item = i64>) -> Self {
        Self(Rc::new(values.into_iter().map(Value::Integer).collect()))
    }

    /// Texts (names).
    pub fn texts(values: impl IntoIterator<Item = String>) -> Self {
        Self(Rc::new(values.into_iter().map(Value::Text).collect()))
    }
}

impl List {
    /// Its values.
    pub fn values(&self) -> &[Value] {
        &self.0
    }
}

impl From<Vec<Value>> for List {
    fn from(values: Vec<Value>) -> Self {
        Self(Rc::new(values))
    }
}

/// One parameter as either engine takes it.
pub enum Arg<'a> {
    /// A value.
    Value(&'a dyn ToSql),
    /// A list bound as one.
    List(&'a List),
}

/// Anything bound as one parameter: a value rusqlite can write, or a
/// [`List`].
pub trait Param {
    /// The parameter.
    fn arg(&self) -> Arg<'_>;
}

impl<T: ToSql> Param for T {
    fn arg(&self) -> Arg<'_> {
        Arg::Value(self)
    }
}

impl Param for List {
    fn arg(&self) -> Arg<'_> {
        Arg::List(self)
    }
}

impl Param for &List {
    fn arg(&self) -> Arg<'_> {
        Arg::List(self)
    }
}

impl Param for dyn ToSql {
    fn arg(&self) -> Arg<'_> {
        Arg::Value(self)
    }
}

/// A statement's parameters, in any of the shapes the stores write them:
/// `params![…]`, an array of one type (`[id]`, `[]`), a tuple, or a
/// vector. Each is handed to either engine as a list of arguments.
pub trait Params {
    /// The parameters, in order.
    fn list(&self) -> Vec<Arg<'_>>;
}

impl Params for &[&dyn ToSql] {
    fn list(&self) -> Vec<Arg<'_>> {
        self.iter().map(|v| Arg::Value(*v)).collect()
    }
}

impl<const N: usize> Params for &[&dyn ToSql; N] {
    fn list(&self) -> Vec<Arg<'_>> {
        self.iter().map(|v| Arg::Value(*v)).collect()
    }
}

impl<T: Param, const N: usize> Params for [T; N] {
    fn list(&self) -> Vec<Arg<'_>> {
        self.iter().map(Param::arg).collect()
    }
}

impl<T: Param + ?Sized> Params for Vec<Box<T>> {
    fn list(&self) -> Vec<Arg<'_>> {
        self.iter().map(|v| v.arg()).collect()
    }
}

impl<T: Param + ?Sized> Params for &Vec<Box<T>> {
    fn list(&self) -> Vec<Arg<'_>> {
        self.iter().map(|v| v.arg()).collect()
    }
}

impl Params for () {
    fn list(&self) -> Vec<Arg<'_>> {
        Vec::new()
    }
}

macro_rules! tuple_params {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Param),+> Params for ($($t,)+) {
            fn list(&self) -> Vec<Arg<'_>> {
                vec![$(self.$i.arg()),+]
            }
        }
    };
}
tuple_params!(A 0);
tuple_params!(A 0, B 1);
tuple_params!(A 0, B 1, C 2);
tuple_params!(A 0, B 1, C 2, D 3);
tuple_params!(A 0, B 1, C 2, D 3, E 4);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// The arguments as rusqlite binds them (a list as its carray value).
fn sqlite_args<'p>(args: &'p [Arg<'p>]) -> Vec<&'p dyn ToSql> {
    args.iter()
        .map(|a| match a {
            Arg::Value(v) => *v,
            Arg::List(l) => &l.0 as &dyn ToSql,
        })
        .collect()
}

/// Which engine a connection is to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The embedded file under `--data-dir`.
    Sqlite,
    /// A server named by `--database-url`.
    Postgres,
}

/// A PostgreSQL connection, with its statements prepared once each, kept
/// by the SQL text the store wrote.
pub struct PgConn {
    /// Always `Some` until dropped.
    client: RefCell<Option<postgres::Client>>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
    /// Inside `BEGIN` … `COMMIT`/`ROLLBACK`.
    in_transaction: std::cell::Cell<bool>,
}

impl PgConn {
    /// Wraps a connected client.
    pub fn new(client: postgres::Client) -> Self {
        Self {
            client: RefCell::new(Some(client)),
            statements: RefCell::new(HashMap::new()),
            in_transaction: std::cell::Cell::new(false),
        }
    }

    /// Asks the server whether the connection still works.
    pub fn ping(&mut self) -> Result<(), postgres::Error> {
        match self.client.get_mut() {
            Some(c) => c.is_valid(std::time::Duration::from_secs(5)),
            None => Ok(()),
        }
    }

    /// Whether the server closed the connection (a pool drops it).
    pub fn is_closed(&self) -> bool {
        self.client
            .borrow()
            .as_ref()
            .is_none_or(postgres::Client::is_closed)
    }

    /// The client, for one call (there is one until the connection is
    /// dropped).
    fn client(&self) -> Result<std::cell::RefMut<'_, postgres::Client>> {
        std::cell::RefMut::filter_map(self.client.borrow_mut(), Option::as_mut).map_err(|_| {
            rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_CANTOPEN),
                Some("the connection is closed".into()),
            )
        })
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client()?
            .prepare(&to_postgres(sql))
            .map_err(pg_error)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Runs one statement as SQLite would: a write outside a transaction
    /// takes the write lock for itself (writers take turns, as on
    /// SQLite), and a write that fails inside one is undone alone, leaving
    /// the transaction open (PostgreSQL would otherwise end it at the
    /// first refusal, where SQLite only refuses the statement).
    fn run<T>(&self, sql: &str, f: impl FnOnce(&mut postgres::Client) -> Result<T>) -> Result<T> {
        if !is_write(sql) {
            return f(&mut *self.client()?);
        }
        if self.in_transaction.get() {
            self.batch("SAVEPOINT wharf_statement")?;
            let out = f(&mut *self.client()?);
            self.batch(if out.is_ok() {
                "RELEASE SAVEPOINT wharf_statement"
            } else {
                "ROLLBACK TO SAVEPOINT wharf_statement; RELEASE SAVEPOINT wharf_statement"
            })?;
            return out;
        }
        self.batch("BEGIN")?;
        self.in_transaction.set(true);
        let out = self
            .execute_in(
                "SELECT pg_advisory_xact_lock(?1)",
                &[Arg::Value(&WRITE_LOCK)],
            )
            .and_then(|_| f(&mut *self.client()?));
        self.in_transaction.set(false);
        self.batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
        out
    }

    fn query(&self, sql: &str, params: &[Arg<'_>]) -> Result<Vec<Vec<Value>>> {
        let statement = self.statement(sql)?;
        let values = params_of(params)?;
        // PostgreSQL keeps no text with a NUL character (SQLite does), so
        // a read that looks one up finds nothing, as it would on SQLite,
        // instead of failing.
        if !is_write(sql) && values.iter().any(PgParam::has_nul) {
            return Ok(Vec::new());
        }
        let refs = bound(&values);
        let rows = self.run(sql, |c| c.query(&statement, &refs).map_err(pg_error))?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| column(r, i)).collect())
            .collect()
    }

    fn execute(&self, sql: &str, params: &[Arg<'_>]) -> Result<usize> {
        let statement = self.statement(sql)?;
        let values = params_of(params)?;
        let refs = bound(&values);
        let n = self.run(sql, |c| c.execute(&statement, &refs).map_err(pg_error))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// A statement run as it is (no turn taken, no savepoint).
    fn execute_in(&self, sql: &str, params: &[Arg<'_>]) -> Result<u64> {
        let statement = self.statement(sql)?;
        let values = params_of(params)?;
        let refs = bound(&values);
        self.client()?.execute(&statement, &refs).map_err(pg_error)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.client()?.batch_execute(sql).map_err(pg_error)
    }
}

/// A connection to either engine, as the stores take it.
#[derive(Clone, Copy)]
pub enum Conn<'a> {
    /// SQLite.
    Sqlite(&'a rusqlite::Connection),
    /// PostgreSQL.
    Postgres(&'a PgConn),
}

impl<'a> From<&'a rusqlite::Connection> for Conn<'a> {
    fn from(c: &'a rusqlite::Connection) -> Self {
        Self::Sqlite(c)
    }
}

impl Drop for PgConn {
    /// The client says goodbye to the server by waiting on its own
    /// runtime, which cannot happen on a thread that runs async tasks (a
    /// pool dropped at a server's or a test's end): there it goes on a
    /// thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl<'a> From<&'a PgConn> for Conn<'a> {
    fn from(c: &'a PgConn) -> Self {
        Self::Postgres(c)
    }
}

impl<'a> Conn<'a> {
    /// Its engine.
    pub fn engine(self) -> Engine {
        match self {
            Self::Sqlite(_) => Engine::Sqlite,
            Self::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs one statement; how many rows it changed.
    pub fn execute(self, sql: &str, params: impl Params) -> Result<usize> {
        let args = params.list();
        match self {
            Self::Sqlite(c) => c
                .prepare_cached(sql)?
                .execute(sqlite_args(&args).as_slice()),
            Self::Postgres(c) => c.execute(sql, &args),
        }
    }

    /// Runs statements without parameters (schema, transaction control).
    pub fn execute_batch(self, sql: &str) -> Result<()> {
        match self {
            Self::Sqlite(c) => c.execute_batch(sql),
            Self::Postgres(c) => c.batch(sql),
        }
    }

    /// The first row, read by `f`; `QueryReturnedNoRows` when there is none.
    pub fn query_row<T>(
        self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let args = params.list();
        match self {
            Self::Sqlite(c) => c
                .prepare_cached(sql)?
                .query_row(sqlite_args(&args).as_slice(), |r| f(&Row::Sqlite(r))),
            Self::Postgres(c) => {
                let rows = c.query(sql, &args)?;
                let first = rows.first().ok_or(rusqlite::Error::QueryReturnedNoRows)?;
                f(&Row::Postgres(first))
            }
        }
    }

    /// Every row, each read by `f` (all read before the first is given).
    pub fn query_map<T>(
        self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let args = params.list();
        let rows: Vec<Result<T>> = match self {
            Self::Sqlite(c) => c
                .prepare_cached(sql)?
                .query_map(sqlite_args(&args).as_slice(), |r| f(&Row::Sqlite(r)))?
                .collect(),
            Self::Postgres(c) => c
                .query(sql, &args)?
                .iter()
                .map(|r| f(&Row::Postgres(r)))
                .collect(),
        };
        Ok(rows.into_iter())
    }

    /// Whether the query gives a row.
    pub fn exists(self, sql: &str, params: impl Params) -> Result<bool> {
        let args = params.list();
        match self {
            Self::Sqlite(c) => c.prepare_cached(sql)?.exists(sqlite_args(&args).as_slice()),
            Self::Postgres(c) => Ok(!c.query(sql, &args)?.is_empty()),
        }
    }

    /// The SQLite connection, for what only SQLite has (its pragmas, its
    /// backup); `None` on PostgreSQL.
    pub fn sqlite(self) -> Option<&'a rusqlite::Connection> {
        match self {
            Self::Sqlite(c) => Some(c),
            Self::Postgres(_) => None,
        }
    }
}

/// The advisory lock a PostgreSQL write transaction takes first, so that
/// writes run one at a time as SQLite's do (`BEGIN IMMEDIATE`): a rule
/// that reads, then writes (the last administrator, the first account, a
/// throttle's count) holds on both engines alike.
const WRITE_LOCK: i64 = 0x0077_6861_7277;

impl<'a> Conn<'a> {
    /// Whether a transaction is open.
    pub fn in_transaction(self) -> bool {
        match self {
            Self::Sqlite(c) => !c.is_autocommit(),
            Self::Postgres(c) => c.in_transaction.get(),
        }
    }

    /// Starts a write transaction that holds the write lock from the start
    /// (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `BEGIN` and the
    /// transaction's advisory lock). It is rolled back when dropped
    /// uncommitted.
    pub fn begin_write(self) -> Result<Tx<'a>> {
        match self {
            Self::Sqlite(c) => c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?,
            Self::Postgres(c) => {
                c.batch("BEGIN")?;
                c.in_transaction.set(true);
                c.execute(
                    "SELECT pg_advisory_xact_lock(?1)",
                    &[Arg::Value(&WRITE_LOCK)],
                )
                .inspect_err(|_| {
                    let _ = c.batch("ROLLBACK");
                    c.in_transaction.set(false);
                })?
            }
        };
        Ok(Tx {
            conn: self,
            open: true,
        })
    }

    /// Starts a read transaction: every statement in it sees one snapshot
    /// (PostgreSQL: `REPEATABLE READ`, as SQLite's read transactions
    /// are). Rolled back when dropped.
    pub fn begin_read(self) -> Result<Tx<'a>> {
        match self {
            Self::Sqlite(c) => c.prepare_cached("BEGIN")?.execute([])?,
            Self::Postgres(c) => {
                c.batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
                c.in_transaction.set(true);
                0
            }
        };
        Ok(Tx {
            conn: self,
            open: true,
        })
    }
}

/// An open transaction; rolled back when dropped without [`Tx::commit`].
pub struct Tx<'a> {
    conn: Conn<'a>,
    open: bool,
}

impl<'a> Tx<'a> {
    /// The connection, for the statements of the transaction.
    pub fn conn(&self) -> Conn<'a> {
        self.conn
    }

    /// Commits.
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        match self.conn {
            Conn::Sqlite(c) => c.prepare_cached("COMMIT")?.execute([]).map(drop),
            Conn::Postgres(c) => {
                c.in_transaction.set(false);
                c.batch("COMMIT")
            }
        }
    }
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Conn<'a>;
    fn deref(&self) -> &Conn<'a> {
        &self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        // Nothing to do if this fails: the connection says so at its next
        // use (and a broken PostgreSQL connection leaves the pool).
        match self.conn {
            Conn::Sqlite(c) => {
                if !c.is_autocommit() {
                    let _ = c.execute_batch("ROLLBACK");
                }
            }
            Conn::Postgres(c) => {
                c.in_transaction.set(false);
                let _ = c.batch("ROLLBACK");
            }
        }
    }
}

/// A column's place in a row (from 0), as rusqlite's `get` takes it.
pub trait ColumnIndex {
    /// The place.
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// A row of either engine.
pub enum Row<'r> {
    /// SQLite's, read in place.
    Sqlite(&'r rusqlite::Row<'r>),
    /// PostgreSQL's, as SQLite's values.
    Postgres(&'r [Value]),
}

impl Row<'_> {
    /// How many columns it has.
    pub fn column_count(&self) -> usize {
        match self {
            Self::Sqlite(r) => r.as_ref().column_count(),
            Self::Postgres(values) => values.len(),
        }
    }

    /// Column `i` as it is, without a copy.
    pub fn get_ref<I: ColumnIndex>(&self, i: I) -> Result<ValueRef<'_>> {
        let i = i.index();
        match self {
            Self::Sqlite(r) => r.get_ref(i),
            Self::Postgres(values) => values
                .get(i)
                .map(ValueRef::from)
                .ok_or(rusqlite::Error::InvalidColumnIndex(i)),
        }
    }

    /// Column `i` as `T`, read as from SQLite whichever engine gave it.
    pub fn get<I: ColumnIndex, T: FromSql>(&self, i: I) -> Result<T> {
        let i = i.index();
        match self {
            Self::Sqlite(r) => r.get(i),
            Self::Postgres(values) => {
                let v = values
                    .get(i)
                    .ok_or(rusqlite::Error::InvalidColumnIndex(i))?;
                T::column_result(ValueRef::from(v)).map_err(|e| match e {
                    FromSqlError::InvalidType => {
                        rusqlite::Error::InvalidColumnType(i, String::new(), v.data_type())
                    }
                    FromSqlError::OutOfRange(n) => rusqlite::Error::IntegralValueOutOfRange(i, n),
                    other => {
                        rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(other))
                    }
                })
            }
        }
    }
}

/// Whether a statement writes (its first word).
fn is_write(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    ["INSERT", "UPDATE", "DELETE", "REPLACE"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w))
}

/// A statement the stores wrote for SQLite in PostgreSQL's words: the
/// placeholders, and the few idioms the engines spell differently, all
/// outside quoted text:
/// - `?`, `?N` are `$N`;
/// - `IN rarray(?N)` (an id list bound as one array) is `= ANY($N)`, and
///   `NOT IN rarray(?N)` is `<> ALL($N)`;
/// - `IS ?N` (SQLite's null-safe equality) is `IS NOT DISTINCT FROM $N`;
/// - `rarray(?N) AS t` (a list of ids read as a table) is
///   `unnest(CAST($N AS BIGINT[])) AS t(value)`, and `CROSS JOIN` is `JOIN`;
/// - `LIKE` is `ILIKE` (SQLite's LIKE ignores ASCII case; PostgreSQL's
///   ILIKE does the same under the schema's "C" collation);
/// - `char(` is `chr(`.
pub fn to_postgres(sql: &str) -> String {
    let sql = placeholders(sql);
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql.as_str();
    while !rest.is_empty() {
        // Quoted text is copied as it is.
        if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            let end = rest[1..].find(q).map_or(rest.len(), |i| i + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let word_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if word_end == 0 {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let word = &rest[..word_end];
        let after = &rest[word_end..];
        let upper = word.to_ascii_uppercase();
        let at_word_start = !out.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let mut replaced = None;
        if at_word_start {
            if upper == "NOT"
                && let Some(r) = after.trim_start().strip_prefix("IN rarray(")
                && let Some(close) = r.find(')')
            {
                replaced = Some((format!("<> ALL({})", &r[..close]), &r[close + 1..]));
            } else if upper == "IN"
                && let Some(r) = after.trim_start().strip_prefix("rarray(")
                && let Some(close) = r.find(')')
            {
                replaced = Some((format!("= ANY({})", &r[..close]), &r[close + 1..]));
            } else if upper == "IS"
                && let Some(r) = after.strip_prefix(' ')
                && r.starts_with('$')
            {
                replaced = Some(("IS NOT DISTINCT FROM ".to_owned(), r));
            } else if upper == "RARRAY"
                && let Some(r) = after.strip_prefix('(')
                && let Some(close) = r.find(')')
            {
                // A list read as a table: `rarray(?N) AS t` gives rows of
                // `t.value`, ids (the one use: a page's rows by id).
                let param = &r[..close];
                let tail = &r[close + 1..];
                let alias = tail.trim_start().strip_prefix("AS ").map(|a| {
                    let end = a
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(a.len());
                    (&a[..end], &a[end..])
                });
                replaced = Some(match alias {
                    Some((name, next)) => (
                        format!("unnest(CAST({param} AS BIGINT[])) AS {name}(value)"),
                        next,
                    ),
                    // Unnamed, its column is still `value`, as on SQLite.
                    None => (
                        format!("unnest(CAST({param} AS BIGINT[])) AS rarray(value)"),
                        tail,
                    ),
                });
            } else if upper == "CROSS" && after.starts_with(" JOIN") {
                // PostgreSQL's CROSS JOIN takes no ON; SQLite's fixes the
                // join order, which PostgreSQL's planner picks itself.
                replaced = Some((String::new(), &after[1..]));
            } else if upper == "LIKE" {
                replaced = Some(("ILIKE".to_owned(), after));
            } else if upper == "CHAR" && after.starts_with('(') {
                replaced = Some(("chr".to_owned(), after));
            }
        }
        match replaced {
            Some((text, next)) => {
                out.push_str(&text);
                rest = next;
            }
            None => {
                out.push_str(word);
                rest = after;
            }
        }
    }
    out
}

/// SQLite's placeholders (`?`, `?N`) in PostgreSQL's spelling (`$N`),
/// outside quoted text.
pub fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut quote = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            out.push(c);
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                out.push('$');
                let mut numbered = false;
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    out.push(d);
                    numbered = true;
                }
                if !numbered {
                    out.push_str(&next.to_string());
                    next += 1;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// A parameter as PostgreSQL takes it: SQLite's value, written as the type
/// the server asks for (an integer as a BIGINT, INTEGER or BOOLEAN, text as
/// TEXT, bytes as BYTEA), NULL as any.
#[derive(Debug)]
enum PgParam {
    /// One value.
    One(Value),
    /// An id list (`rarray(?)` on SQLite): an array of integers or texts.
    Many(Vec<Value>),
}

impl PgParam {
    /// A text with a NUL character in it.
    fn has_nul(&self) -> bool {
        match self {
            Self::One(Value::Text(t)) => t.contains('\0'),
            Self::Many(values) => values
                .iter()
                .any(|v| matches!(v, Value::Text(t) if t.contains('\0'))),
            Self::One(_) => false,
        }
    }
}

impl postgres::types::ToSql for PgParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::ToSql as Pg;
        let one = match self {
            Self::One(v) => v,
            Self::Many(values) if *ty == Type::INT8_ARRAY => {
                let ints: Vec<i64> = values
                    .iter()
                    .map(|v| match v {
                        Value::Integer(i) => Ok(*i),
                        other => Err(format!("a {} in an id list", other.data_type())),
                    })
                    .collect::<std::result::Result<_, _>>()?;
                return Pg::to_sql(&ints, ty, out);
            }
            Self::Many(values) if *ty == Type::TEXT_ARRAY => {
                let texts: Vec<&str> = values
                    .iter()
                    .map(|v| match v {
                        Value::Text(t) => Ok(t.as_str()),
                        other => Err(format!("a {} in a text list", other.data_type())),
                    })
                    .collect::<std::result::Result<_, _>>()?;
                return Pg::to_sql(&texts, ty, out);
            }
            Self::Many(_) => return Err(format!("a list cannot be passed as {ty}").into()),
        };
        match one {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) if *ty == Type::INT8 => Pg::to_sql(i, ty, out),
            Value::Integer(i) if *ty == Type::INT4 => Pg::to_sql(&i32::try_from(*i)?, ty, out),
            Value::Integer(i) if *ty == Type::INT2 => Pg::to_sql(&i16::try_from(*i)?, ty, out),
            Value::Integer(i) if *ty == Type::BOOL => Pg::to_sql(&(*i != 0), ty, out),
            Value::Integer(i) if *ty == Type::TEXT => Pg::to_sql(&i.to_string(), ty, out),
            Value::Real(f) if *ty == Type::FLOAT8 => Pg::to_sql(f, ty, out),
            Value::Text(s) if *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::UNKNOWN => {
                Pg::to_sql(s, ty, out)
            }
            Value::Text(s) if *ty == Type::INT8 => Pg::to_sql(&s.parse::<i64>()?, ty, out),
            Value::Blob(b) if *ty == Type::BYTEA => Pg::to_sql(b, ty, out),
            v => Err(format!("a {} parameter cannot be passed as {ty}", v.data_type()).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// The parameters as the client binds them.
fn bound(values: &[PgParam]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn params_of(params: &[Arg<'_>]) -> Result<Vec<PgParam>> {
    params
        .iter()
        .map(|p| {
            let v = match p {
                Arg::List(l) => return Ok(PgParam::Many(l.0.to_vec())),
                Arg::Value(v) => v,
            };
            Ok(PgParam::One(match v.to_sql()? {
                ToSqlOutput::Borrowed(v) => match v {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Integer(i),
                    ValueRef::Real(f) => Value::Real(f),
                    ValueRef::Text(t) => Value::Text(
                        String::from_utf8(t.to_vec())
                            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?,
                    ),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                },
                ToSqlOutput::Owned(v) => v,
                _ => {
                    return Err(rusqlite::Error::ToSqlConversionFailure(
                        "a parameter PostgreSQL cannot take".into(),
                    ));
                }
            }))
        })
        .collect()
}

/// Column `i` of a PostgreSQL row as SQLite's value: integers (of any
/// width) and booleans as integers, floats as reals, text, bytes.
fn column(row: &postgres::Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_();
    let got =
        |e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Null, Box::new(e));
    Ok(if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)
            .map_err(got)?
            .map_or(Value::Null, Value::Integer)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)
            .map_err(got)?
            .map_or(Value::Null, |n| Value::Integer(n.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)
            .map_err(got)?
            .map_or(Value::Null, |n| Value::Integer(n.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)
            .map_err(got)?
            .map_or(Value::Null, |b| Value::Integer(b.into()))
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)
            .map_err(got)?
            .map_or(Value::Null, Value::Real)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)
            .map_err(got)?
            .map_or(Value::Null, Value::Blob)
    } else {
        row.try_get::<_, Option<String>>(i)
            .map_err(got)?
            .map_or(Value::Null, Value::Text)
    })
}

/// A PostgreSQL error as SQLite's of the same meaning.
fn pg_error(e: postgres::Error) -> rusqlite::Error {
    use postgres::error::SqlState;
    let code = match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => ffi::SQLITE_CONSTRAINT_UNIQUE,
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
        Some(c) if *c == SqlState::CHECK_VIOLATION => ffi::SQLITE_CONSTRAINT_CHECK,
        Some(c) if *c == SqlState::NOT_NULL_VIOLATION => ffi::SQLITE_CONSTRAINT_NOTNULL,
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            ffi::SQLITE_BUSY
        }
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57P") => {
            ffi::SQLITE_CANTOPEN
        }
        Some(_) => ffi::SQLITE_ERROR,
        // No answer from the server: the connection is gone.
        None => ffi::SQLITE_CANTOPEN,
    };
    // The server's own words when it answered (`db error` alone says
    // nothing), else the client's.
    let said = match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(said))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statements_read_as_postgres_ones() {
        for (sqlite, postgres) in [
            (
                "SELECT a FROM t WHERE id = ?1 AND b = ?2",
                "SELECT a FROM t WHERE id = $1 AND b = $2",
            ),
            (
                "INSERT INTO t VALUES (?, ?)",
                "INSERT INTO t VALUES ($1, $2)",
            ),
            (
                "SELECT '?1', \"?\" FROM t WHERE x = ?3",
                "SELECT '?1', \"?\" FROM t WHERE x = $3",
            ),
            (
                "WHERE g.id IN rarray(?1) ORDER BY n",
                "WHERE g.id = ANY($1) ORDER BY n",
            ),
            ("WHERE g.name NOT IN rarray(?2)", "WHERE g.name <> ALL($2)"),
            (
                "FROM rarray(?1) AS p CROSS JOIN secrets s ON s.id = p.value",
                "FROM unnest(CAST($1 AS BIGINT[])) AS p(value) JOIN secrets s ON s.id = p.value",
            ),
            (
                "SELECT value, ?1, 1 FROM rarray(?2)",
                "SELECT value, $1, 1 FROM unnest(CAST($2 AS BIGINT[])) AS rarray(value)",
            ),
            (
                "registry_host IS ?3 AND x IS NULL",
                "registry_host IS NOT DISTINCT FROM $3 AND x IS NULL",
            ),
            ("name LIKE ?2 ESCAPE '\\'", "name ILIKE $2 ESCAPE '\\'"),
            ("a || char(10) || b", "a || chr(10) || b"),
            (
                "SELECT likes, crossed FROM t",
                "SELECT likes, crossed FROM t",
            ),
        ] {
            assert_eq!(to_postgres(sqlite), postgres, "{sqlite}");
        }
    }
}
