//! SQL for the Users admin area: the list, one account with its details,
//! and the changes administrators make, with their guards. Accounts
//! themselves (sign-in, sessions) are `auth::store`.

use crate::db::Conn;
use rusqlite::{OptionalExtension, params};

use crate::audit::Outcome;
use crate::auth::store::{User, from_row};
use crate::db;
use crate::domain::UserId;

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

    /// When the account was made, as administrators read it.
    pub fn created(&self) -> String {
        db::format_time(self.created_at)
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

fn account_from_row(r: &crate::db::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        user: from_row(r)?,
        version: r.get(5)?,
        last_login_at: r.get(6)?,
        created_at: r.get(7)?,
    })
}

crate::db::text_enum! {
    /// What the users list sorts by, the default first.
    pub enum UserSort {
        Name = "name" ("Username"),
        Role = "role" ("Role"),
        Active = "active" ("Active"),
        LastLogin = "last_login" ("Last sign-in"),
    }
}

/// One page of the Users list, filtered on the username.
pub fn list(
    conn: &Conn<'_>,
    listing: crate::listing::Listing,
) -> rusqlite::Result<crate::listing::Page<Account>> {
    let order = match listing.sort_key::<UserSort>() {
        Some(UserSort::Role) => "is_admin",
        Some(UserSort::Active) => "active",
        Some(UserSort::LastLogin) => "COALESCE(last_login_at, 0)",
        Some(UserSort::Name) | None => "username",
    };
    let dir = listing.sql_dir();
    let filter = r#"(?1 = '' OR username LIKE ?2 ESCAPE '\')"#;
    let pattern = db::like_pattern(&listing.q);
    let total = conn.query_row(
        &format!("SELECT COUNT(*) FROM users WHERE {filter}"),
        params![listing.q, pattern],
        |r| r.get(0),
    )?;
    let rows = conn
        .query_map(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM users WHERE {filter} ORDER BY {order} {dir}, username {dir} LIMIT ?3 OFFSET ?4"
        ),
            params![listing.q, pattern, listing.per_page, listing.offset()],
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
pub fn find_account(conn: &Conn<'_>, username: &str) -> rusqlite::Result<Option<Account>> {
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE username = ?1"),
        [username],
        account_from_row,
    )
    .optional()
}

pub use crate::auth::store::other_active_admins;

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

impl Refusal {
    /// The form field the refusal belongs beside, if any (`is_admin` when
    /// the form took the role away, else `active`).
    pub fn field(&self, form_is_admin: bool) -> Option<&'static str> {
        match self {
            Self::DisableSelf => Some("active"),
            Self::LastAdmin(_) if !form_is_admin => Some("is_admin"),
            Self::LastAdmin(_) => Some("active"),
            _ => None,
        }
    }
}

/// The fields an administrator changes on an account.
pub struct AccountChange {
    /// The account.
    pub username: String,
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
/// ends the user's sessions and, when an administrator does it to someone
/// else, revokes their API tokens (someone who had the account's password
/// may have made one; re-enabling must not bring it back). Returns how many tokens were revoked. Run inside an immediate
/// transaction.
pub fn update_account(
    conn: &Conn<'_>,
    actor_id: Option<UserId>,
    c: &AccountChange,
) -> rusqlite::Result<Outcome<usize, Refusal>> {
    let Some(current) = find_account(conn, &c.username)? else {
        return Ok(Outcome::Refused(Refusal::Missing(c.username.clone())));
    };
    if current.version != c.version {
        return Ok(Outcome::Refused(Refusal::Stale));
    }
    if Some(current.user.id) == actor_id && !c.active {
        return Ok(Outcome::Refused(Refusal::DisableSelf));
    }
    let was_active_admin = current.user.is_admin && current.user.active;
    if was_active_admin
        && !(c.is_admin && c.active)
        && other_active_admins(conn, current.user.id)? == 0
    {
        return Ok(Outcome::Refused(Refusal::LastAdmin(c.username.clone())));
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
    // Your own new password keeps your tokens, as on your password page.
    let revoked = if end_sessions && Some(current.user.id) != actor_id {
        crate::auth::tokens::revoke_all(conn, current.user.id)?
    } else {
        0
    };
    Ok(Outcome::Done(revoked))
}

/// Why `actor_id` may not delete `account`, if they may not: not
/// themselves, and not the last active administrator. The confirmation
/// page and the delete itself ask the same question.
pub fn delete_refusal(
    conn: &Conn<'_>,
    actor_id: Option<UserId>,
    account: &Account,
) -> rusqlite::Result<Option<Refusal>> {
    let user = &account.user;
    if Some(user.id) == actor_id {
        return Ok(Some(Refusal::DeleteSelf));
    }
    if user.is_admin && user.active && other_active_admins(conn, user.id)? == 0 {
        return Ok(Some(Refusal::LastAdmin(user.username.clone())));
    }
    Ok(None)
}

/// Deletes an account unless [`delete_refusal`] says no.
pub fn delete_account(
    conn: &Conn<'_>,
    actor_id: Option<UserId>,
    username: &str,
) -> rusqlite::Result<Outcome<(), Refusal>> {
    let Some(current) = find_account(conn, username)? else {
        return Ok(Outcome::Refused(Refusal::Missing(username.into())));
    };
    if let Some(refusal) = delete_refusal(conn, actor_id, &current)? {
        return Ok(Outcome::Refused(refusal));
    }
    conn.execute("DELETE FROM users WHERE id = ?1", [current.user.id])?;
    Ok(Outcome::Done(()))
}
