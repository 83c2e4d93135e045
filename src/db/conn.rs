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

use postgres::types::{IsNull, Type};
use rusqlite::ffi;
use rusqlite::types::{FromSql, FromSqlError, ToSql, ToSqlOutput, Value, ValueRef};

/// The stores' result.
pub type Result<T, E = rusqlite::Error> = std::result::Result<T, E>;

/// A statement's parameters, in any of the shapes the stores write them:
/// `params![…]`, an array of one type (`[id]`, `[]`), a tuple, or a
/// vector (`params_from_iter`'s). Each is handed to either engine as a
/// list of values.
pub trait Params {
    /// The parameters, in order.
    fn list(&self) -> Vec<&dyn ToSql>;
}

impl Params for &[&dyn ToSql] {
    fn list(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl<const N: usize> Params for &[&dyn ToSql; N] {
    fn list(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl<T: ToSql, const N: usize> Params for [T; N] {
    fn list(&self) -> Vec<&dyn ToSql> {
        self.iter().map(|v| v as &dyn ToSql).collect()
    }
}

impl<T: ToSql> Params for Vec<T> {
    fn list(&self) -> Vec<&dyn ToSql> {
        self.iter().map(|v| v as &dyn ToSql).collect()
    }
}

impl<T: ToSql> Params for &Vec<T> {
    fn list(&self) -> Vec<&dyn ToSql> {
        self.iter().map(|v| v as &dyn ToSql).collect()
    }
}

impl Params for () {
    fn list(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

macro_rules! tuple_params {
    ($($t:ident $i:tt),+) => {
        impl<$($t: ToSql),+> Params for ($($t,)+) {
            fn list(&self) -> Vec<&dyn ToSql> {
                vec![$(&self.$i as &dyn ToSql),+]
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
    client: RefCell<postgres::Client>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
    /// Inside `BEGIN` … `COMMIT`/`ROLLBACK`.
    in_transaction: std::cell::Cell<bool>,
}

impl PgConn {
    /// Wraps a connected client.
    pub fn new(client: postgres::Client) -> Self {
        Self {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            in_transaction: std::cell::Cell::new(false),
        }
    }

    /// Asks the server whether the connection still works.
    pub fn ping(&mut self) -> Result<(), postgres::Error> {
        self.client
            .get_mut()
            .is_valid(std::time::Duration::from_secs(5))
    }

    /// Whether the server closed the connection (a pool drops it).
    pub fn is_closed(&self) -> bool {
        self.client.borrow().is_closed()
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .borrow_mut()
            .prepare(&placeholders(sql))
            .map_err(pg_error)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn query(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Vec<Value>>> {
        let statement = self.statement(sql)?;
        let values = params_of(params)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let rows = self
            .client
            .borrow_mut()
            .query(&statement, &refs)
            .map_err(pg_error)?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| column(r, i)).collect())
            .collect()
    }

    fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> Result<usize> {
        let statement = self.statement(sql)?;
        let values = params_of(params)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let n = self
            .client
            .borrow_mut()
            .execute(&statement, &refs)
            .map_err(pg_error)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.client
            .borrow_mut()
            .batch_execute(sql)
            .map_err(pg_error)
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
        let params = params.list();
        match self {
            Self::Sqlite(c) => c.prepare_cached(sql)?.execute(params.as_slice()),
            Self::Postgres(c) => c.execute(sql, &params),
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
        let params = params.list();
        match self {
            Self::Sqlite(c) => c
                .prepare_cached(sql)?
                .query_row(params.as_slice(), |r| f(&Row::Sqlite(r))),
            Self::Postgres(c) => {
                let rows = c.query(sql, &params)?;
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
        let params = params.list();
        let rows: Vec<Result<T>> = match self {
            Self::Sqlite(c) => c
                .prepare_cached(sql)?
                .query_map(params.as_slice(), |r| f(&Row::Sqlite(r)))?
                .collect(),
            Self::Postgres(c) => c
                .query(sql, &params)?
                .iter()
                .map(|r| f(&Row::Postgres(r)))
                .collect(),
        };
        Ok(rows.into_iter())
    }

    /// Whether the query gives a row.
    pub fn exists(self, sql: &str, params: impl Params) -> Result<bool> {
        let params = params.list();
        match self {
            Self::Sqlite(c) => c.prepare_cached(sql)?.exists(params.as_slice()),
            Self::Postgres(c) => Ok(!c.query(sql, &params)?.is_empty()),
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
                c.execute("SELECT pg_advisory_xact_lock(?1)", &[&WRITE_LOCK])
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
struct PgParam(Value);

impl postgres::types::ToSql for PgParam {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::ToSql as Pg;
        match &self.0 {
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

fn params_of(params: &[&dyn ToSql]) -> Result<Vec<PgParam>> {
    params
        .iter()
        .map(|p| {
            Ok(PgParam(match p.to_sql()? {
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
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(e.to_string()))
}
