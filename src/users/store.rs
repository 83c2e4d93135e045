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

/// Inserts a user with an already computed argon2 hash. The account gets
/// an id never used before and a random session version, so no cookie made
/// for an earlier account can ever match it.
pub fn create(
    conn: &Connection,
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

/// A user as the Users area shows it.
#[derive(Clone, Debug)]
pub struct Account {
    /// The user.
    pub user: User,
    /// Optimistic-locking version.
    pub version: i64,
    /// Last successful sign-in (Unix seconds).
    pub last_login_at: Option<i64>,
    /// Created (Unix seconds).
    pub created_at: i64,
}

impl Account {
    /// "Administrator" or "User".
    pub fn role(&self) -> &'static str {
        if self.user.is_admin {
            "Administrator"
        } else {
            "User"
        }
    }

    /// The Last sign-in column.
    pub fn last_login(&self) -> String {
        self.last_login_at
            .map(db::format_time)
            .unwrap_or_else(|| "never".into())
    }
}

const ACCOUNT_COLUMNS: &str =
    "id, username, is_admin, active, session_version, version, last_login_at, created_at";

fn account_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        user: from_row(r)?,
        version: r.get(5)?,
        last_login_at: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// Sort keys of the Users list, the default first.
pub const SORTS: &[&str] = &["name", "role", "active", "last_login"];

/// One page of the Users list, filtered on the username.
pub fn list(
    conn: &Connection,
    listing: crate::listing::Listing,
) -> rusqlite::Result<crate::listing::Page<Account>> {
    let order = match listing.sort {
        "role" => "is_admin",
        "active" => "active",
        "last_login" => "COALESCE(last_login_at, 0)",
        _ => "username",
    };
    let dir = listing.sql_dir();
    let filter = r#"(?1 = '' OR username LIKE ?2 ESCAPE '\')"#;
    let pattern = db::like_pattern(&listing.q);
    let total = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM users WHERE {filter}"))?
        .query_row(params![listing.q, pattern], |r| r.get(0))?;
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM users WHERE {filter} ORDER BY {order} {dir}, username {dir} LIMIT ?3 OFFSET ?4"
        ))?
        .query_map(
            params![listing.q, pattern, crate::listing::PER_PAGE, listing.offset()],
            account_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(crate::listing::Page {
        rows,
        total,
        listing,
    })
}

/// The account with that name.
pub fn find_account(conn: &Connection, username: &str) -> rusqlite::Result<Option<Account>> {
    conn.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users WHERE username = ?1"
    ))?
    .query_row([username], account_from_row)
    .optional()
}

/// Active administrators other than `except`.
pub fn other_active_admins(conn: &Connection, except: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM users WHERE is_admin = 1 AND active = 1 AND id != ?1",
        [except],
        |r| r.get(0),
    )
}

/// Why a change to an account was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Would leave no active administrator.
    #[error(
        "{0} is the last active administrator: make another user an active administrator first."
    )]
    LastAdmin(String),
    /// Locking yourself out.
    #[error("You cannot disable your own account.")]
    DisableSelf,
    /// Deleting yourself.
    #[error("You cannot delete your own account; another administrator can.")]
    DeleteSelf,
    /// Someone else saved first.
    #[error("This user was changed by someone else since you opened it.")]
    Stale,
    /// No such user.
    #[error("There is no user named {0}.")]
    Missing(String),
}

/// The fields an administrator changes on an account.
pub struct AccountChange<'a> {
    /// The account.
    pub username: &'a str,
    /// Administrator?
    pub is_admin: bool,
    /// May sign in?
    pub active: bool,
    /// A new argon2 hash, or keep.
    pub password_hash: Option<String>,
    /// The version the form was opened at.
    pub version: i64,
}

/// Applies a change unless it breaks a guard. A new password or disabling
/// ends the user's sessions. Run inside an immediate transaction.
pub fn update_account(
    conn: &Connection,
    actor_id: i64,
    c: &AccountChange<'_>,
) -> rusqlite::Result<Result<(), Refusal>> {
    let Some(current) = find_account(conn, c.username)? else {
        return Ok(Err(Refusal::Missing(c.username.into())));
    };
    if current.version != c.version {
        return Ok(Err(Refusal::Stale));
    }
    if current.user.id == actor_id && !c.active {
        return Ok(Err(Refusal::DisableSelf));
    }
    let was_active_admin = current.user.is_admin && current.user.active;
    if was_active_admin
        && !(c.is_admin && c.active)
        && other_active_admins(conn, current.user.id)? == 0
    {
        return Ok(Err(Refusal::LastAdmin(c.username.into())));
    }
    let end_sessions = c.password_hash.is_some() || (current.user.active && !c.active);
    conn.execute(
        r#"UPDATE users SET is_admin = ?2, active = ?3, password_hash = COALESCE(?4, password_hash),
             session_version = session_version + ?5, version = version + 1, updated_at = ?6
           WHERE id = ?1"#,
        params![
            current.user.id,
            c.is_admin,
            c.active,
            c.password_hash,
            i64::from(end_sessions),
            db::now()
        ],
    )?;
    Ok(Ok(()))
}

/// Deletes an account unless it is the actor's or the last active admin's.
pub fn delete_account(
    conn: &Connection,
    actor_id: i64,
    username: &str,
) -> rusqlite::Result<Result<(), Refusal>> {
    let Some(current) = find_account(conn, username)? else {
        return Ok(Err(Refusal::Missing(username.into())));
    };
    if current.user.id == actor_id {
        return Ok(Err(Refusal::DeleteSelf));
    }
    if current.user.is_admin
        && current.user.active
        && other_active_admins(conn, current.user.id)? == 0
    {
        return Ok(Err(Refusal::LastAdmin(username.into())));
    }
    conn.execute("DELETE FROM users WHERE id = ?1", [current.user.id])?;
    Ok(Ok(()))
}

/// Sets a user's own new password and ends their other sessions; returns
/// the new session version for the session that made the change.
pub fn change_password(conn: &Connection, id: i64, password_hash: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        r#"UPDATE users SET password_hash = ?2, session_version = session_version + 1,
             version = version + 1, updated_at = ?3
           WHERE id = ?1 RETURNING session_version"#,
        params![id, password_hash, db::now()],
        |r| r.get(0),
    )
}

/// The stored hash of a user, for checking a current password.
pub fn password_hash(conn: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT password_hash FROM users WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()
}
