//! SQL for the `users` table. Plain functions over a connection; callers
//! run them on the blocking pool.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db;

/// A user row without the password hash.
#[derive(Clone, Debug)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Account name.
    pub username: String,
    /// Administrator?
    pub is_admin: bool,
    /// May sign in?
    pub active: bool,
    /// Sessions made with another version are over.
    pub session_version: i64,
}

/// What sign-in needs: the user and the hash to verify against.
pub struct Credentials {
    /// The user.
    pub user: User,
    /// PHC string.
    pub password_hash: String,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The name is taken.
    #[error("A user named {0} already exists.")]
    Duplicate(String),
    /// Anything else.
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

const COLUMNS: &str = "id, username, is_admin, active, session_version";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        is_admin: r.get(2)?,
        active: r.get(3)?,
        session_version: r.get(4)?,
    })
}

/// The user with that id.
pub fn find_by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// The user with that name, with the password hash.
pub fn find_credentials(
    conn: &Connection,
    username: &str,
) -> rusqlite::Result<Option<Credentials>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, password_hash FROM users WHERE username = ?1"
    ))?
    .query_row([username], |r| {
        Ok(Credentials {
            user: from_row(r)?,
            password_hash: r.get(5)?,
        })
    })
    .optional()
}

/// How many users exist.
pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
}

/// Inserts a user with an already computed argon2 hash.
pub fn create(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    is_admin: bool,
) -> Result<i64, CreateError> {
    let now = db::now();
    conn.execute(
        r#"INSERT INTO users (username, password_hash, is_admin, active, created_at, updated_at)
           VALUES (?1, ?2, ?3, 1, ?4, ?4)"#,
        params![username, password_hash, is_admin, now],
    )
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            CreateError::Duplicate(username.to_owned())
        } else {
            CreateError::Db(e)
        }
    })?;
    Ok(conn.last_insert_rowid())
}

/// Notes a successful sign-in.
pub fn record_login(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
        params![id, db::now()],
    )?;
    Ok(())
}

/// Ends every session of the user (they carry the old version).
pub fn end_sessions(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET session_version = session_version + 1 WHERE id = ?1",
        [id],
    )?;
    Ok(())
}
