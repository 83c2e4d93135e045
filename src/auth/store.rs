//! The `users` table as sign-in, sessions and the shell see it: accounts,
//! their password hashes and session versions. The Users admin area builds
//! on this (`users::store`); nothing here knows about pages.

use crate::db::Conn;
use rusqlite::{OptionalExtension, params};

use crate::db;
use crate::domain::UserId;

/// The password hash of an account without a password (made by single
/// sign-on): not a PHC string, so no password matches it.
pub const NO_PASSWORD: &str = "!";

/// A user row without the password hash.
#[derive(Clone, Debug)]
pub struct User {
    /// Row id.
    pub id: UserId,
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

macro_rules! user_columns {
    () => {
        "id, username, is_admin, active, session_version"
    };
}
pub(crate) const COLUMNS: &str = user_columns!();

pub(crate) fn from_row(r: &crate::db::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        is_admin: r.get(2)?,
        active: r.get(3)?,
        session_version: r.get(4)?,
    })
}

/// The user with that id.
pub fn find_by_id(conn: &Conn<'_>, id: UserId) -> rusqlite::Result<Option<User>> {
    // A literal: every signed-in request runs this.
    conn.query_row(
        concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

/// The user with that name, with the password hash.
pub fn credentials_by_name(
    conn: &Conn<'_>,
    username: &str,
) -> rusqlite::Result<Option<Credentials>> {
    credentials(conn, "username = ?1", &username)
}

/// The user with that id, with the password hash.
pub fn credentials_by_id(conn: &Conn<'_>, id: UserId) -> rusqlite::Result<Option<Credentials>> {
    credentials(conn, "id = ?1", &id)
}

fn credentials(
    conn: &Conn<'_>,
    filter: &str,
    key: &dyn rusqlite::ToSql,
) -> rusqlite::Result<Option<Credentials>> {
    conn.query_row(
        &format!("SELECT {COLUMNS}, password_hash FROM users WHERE {filter}"),
        [key],
        |r| {
            Ok(Credentials {
                user: from_row(r)?,
                password_hash: r.get(5)?,
            })
        },
    )
    .optional()
}

/// Whether the account has a password (one made by single sign-on has
/// none).
pub fn has_password(conn: &Conn<'_>, id: UserId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT password_hash != ?2 FROM users WHERE id = ?1",
        rusqlite::params![id, NO_PASSWORD],
        |r| r.get(0),
    )
    .optional()
    .map(|v| v.unwrap_or(false))
}

/// Whether a single sign-on identity is bound to the account.
pub fn has_sso_identity(conn: &Conn<'_>, id: UserId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT oidc_issuer IS NOT NULL FROM users WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()
    .map(|v| v.unwrap_or(false))
}

/// Active administrators other than `except` (the guard that keeps one).
pub fn other_active_admins(conn: &Conn<'_>, except: UserId) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM users WHERE is_admin = 1 AND active = 1 AND id != ?1",
        [except],
        |r| r.get(0),
    )
}

/// How many users exist.
pub fn count(conn: &Conn<'_>) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM users", (), |r| r.get(0))
}

/// Inserts a user with an already computed argon2 hash. The account gets
/// an id never used before and a random session version, so no cookie made
/// for an earlier account can ever match it.
pub fn create(
    conn: &Conn<'_>,
    username: &str,
    password_hash: &str,
    is_admin: bool,
    active: bool,
) -> Result<User, CreateError> {
    let now = db::now();
    // 62 random bits: positive, with room for every later increment.
    let session_version = i64::try_from(rand::random::<u64>() >> 2).unwrap_or(0);
    let id = conn
        .query_row(
            r#"INSERT INTO users (username, password_hash, is_admin, active, session_version,
                                  created_at, updated_at)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) RETURNING id"#,
            params![
                username,
                password_hash,
                is_admin,
                active,
                session_version,
                now
            ],
            |r| r.get(0),
        )
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                CreateError::Duplicate(username.to_owned())
            } else {
                CreateError::Db(e)
            }
        })?;
    Ok(User {
        id,
        username: username.to_owned(),
        is_admin,
        active,
        session_version,
    })
}

/// Notes a successful sign-in.
pub fn record_login(conn: &Conn<'_>, id: UserId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
        params![id, db::now()],
    )?;
    Ok(())
}

/// Ends every session of the user (they carry the old version).
pub fn end_sessions(conn: &Conn<'_>, id: UserId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET session_version = session_version + 1 WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// Sets a user's own new password and ends their other sessions; returns
/// the new session version for the session that made the change.
pub fn change_password(conn: &Conn<'_>, id: UserId, password_hash: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        r#"UPDATE users SET password_hash = ?2, session_version = session_version + 1,
             version = version + 1, updated_at = ?3
           WHERE id = ?1 RETURNING session_version"#,
        params![id, password_hash, db::now()],
        |r| r.get(0),
    )
}
