//! The audit trail: who did what to which object, from where. Entries never
//! hold a password, key or token: callers pass names, not values.

use crate::db::Conn;
use rusqlite::params;

use crate::db::{self, Pool};
use crate::error::AppError;

/// The audit log's actions, named once: every writer uses these, so a
/// filter or a reader of the log can rely on them.
pub mod action {
    pub const SECRET_CREATED: &str = "secret created";
    pub const SECRET_UPDATED: &str = "secret updated";
    pub const SECRET_DELETED: &str = "secret deleted";
    pub const SECRET_EXPORTED: &str = "secret exported";
    /// Delivered credentials given to a cluster (with a count per hour).
    pub const CREDENTIALS_SERVED: &str = "credentials served";
    pub const CREDENTIALS_REFUSED: &str = "credential lookups refused";
    /// A cluster added, its token replaced, a cluster removed.
    pub const CLUSTER_CREATED: &str = "cluster created";
    pub const CLUSTER_TOKEN_ROTATED: &str = "cluster token rotated";
    pub const CLUSTER_DELETED: &str = "cluster deleted";
    pub const SECRETS_EXPORTED: &str = "secrets exported";
    pub const TEST_LOGIN_SUCCEEDED: &str = "secret test-login succeeded";
    pub const TEST_LOGIN_FAILED: &str = "secret test-login failed";
    pub const TEST_LOGIN_DISCARDED: &str =
        "secret test-login discarded (the secret changed meanwhile)";
    pub const LOGIN_FAILING: &str = "secret login started failing";
    pub const LOGIN_RECOVERED: &str = "secret login recovered";
    pub const IMAGE_CREATED: &str = "image created";
    pub const IMAGE_UPDATED: &str = "image updated";
    pub const IMAGE_DELETED: &str = "image deleted";
    pub const GROUP_CREATED: &str = "group created";
    pub const GROUP_UPDATED: &str = "group updated";
    pub const GROUP_DELETED: &str = "group deleted";
    pub const USER_CREATED: &str = "user created";
    pub const USER_UPDATED: &str = "user updated";
    pub const USER_PASSWORD_RESET: &str = "user updated (password reset)";
    pub const USER_DELETED: &str = "user deleted";
    pub const PASSWORD_CHANGED: &str = "password changed";
    pub const PASSWORD_CHANGE_REFUSED: &str = "password change refused";
    pub const SIGN_IN: &str = "sign-in";
    pub const SIGN_IN_FAILED: &str = "sign-in failed";
    pub const SIGN_OUT: &str = "sign-out";
    pub const SIGN_IN_SSO: &str = "signed in (SSO)";
    pub const SIGN_IN_PASSWORD_OFF: &str =
        "sign-in failed (password sign-in is off for accounts with single sign-on)";
    pub const SIGN_IN_SSO_REFUSED: &str = "SSO sign-in refused";
    pub const USER_CREATED_SSO: &str = "account created from SSO";
    pub const SSO_IDENTITY_LINKED: &str = "SSO identity linked";
    pub const SSO_IDENTITY_UNLINKED: &str = "SSO identity unlinked";
    pub const SSO_SIGN_IN_DISMISSED: &str = "refused SSO sign-in dismissed";
    pub const TOKEN_CREATED: &str = "token created";
    pub const TOKEN_REVOKED: &str = "token revoked";
    pub const NOTIFICATION_DELIVERED: &str = "notification delivered";
    pub const NOTIFICATION_RETRY: &str = "notification retry requested";
    pub const TEST_NOTIFICATION_DELIVERED: &str = "test notification delivered";

    /// "1 API token", "2 API tokens".
    pub fn api_tokens(n: usize) -> String {
        crate::domain::count(n, "API token")
    }

    /// "2 API tokens revoked", after a reset, a disable or "Revoke all".
    pub fn tokens_revoked(n: usize) -> String {
        format!("{} revoked", api_tokens(n))
    }
}

/// Appends one entry; its id.
pub fn record(
    conn: &Conn<'_>,
    actor: &str,
    action: &str,
    target: &str,
    source: &str,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO audit_log (at, actor, action, target, source) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        params![db::now(), actor, action, target, source],
        |r| r.get(0),
    )
}

/// Who acts, and from where: the fixed part of an audit entry.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The signed-in user's name.
    pub name: String,
    /// The client's address.
    pub source: String,
}

/// Records one entry on its own (for what changes nothing: an export, a
/// refused password change).
pub async fn record_alone(
    pool: &Pool,
    actor: Actor,
    action: impl Into<String>,
    target: String,
) -> Result<(), AppError> {
    let action = action.into();
    db::run(pool, move |c| {
        record(c, &actor.name, &action, &target, &actor.source)?;
        Ok(())
    })
    .await
}

/// Deletes the `kind` named `name` with `delete` (true: there was one) and
/// records `action` on `{kind}/{name}`; 404 when there was none.
pub async fn delete_named(
    pool: &Pool,
    actor: Actor,
    (kind, action): (&'static str, &'static str),
    name: &str,
    delete: fn(&Conn<'_>, &str) -> rusqlite::Result<bool>,
) -> Result<(), AppError> {
    // No name holds a control character: nothing to ask the database
    // (PostgreSQL would refuse the NUL in one instead of finding nothing).
    if name.chars().any(char::is_control) {
        return Err(AppError::no_such(kind, name));
    }
    let n = name.to_owned();
    let outcome = audited(pool, actor, action, format!("{kind}/{name}"), move |c| {
        Ok(match delete(c, &n)? {
            true => Outcome::Done(()),
            false => Outcome::Refused(()),
        })
    })
    .await?;
    match outcome {
        Outcome::Done(()) => Ok(()),
        Outcome::Refused(()) => Err(AppError::no_such(kind, name)),
    }
}

/// What a change came to: done, or refused by a rule (a duplicate name,
/// a stale version, a guard), which writes nothing.
#[derive(Debug)]
pub enum Outcome<T, R> {
    /// Applied and recorded.
    Done(T),
    /// Not applied, for this reason.
    Refused(R),
}

impl<T, R> Outcome<T, R> {
    /// Done as `Ok`, refused as `Err`.
    pub fn into_result(self) -> Result<T, R> {
        match self {
            Self::Done(t) => Ok(t),
            Self::Refused(r) => Err(r),
        }
    }
}

impl<T, R> From<Result<T, R>> for Outcome<T, R> {
    fn from(r: Result<T, R>) -> Self {
        match r {
            Ok(t) => Self::Done(t),
            Err(e) => Self::Refused(e),
        }
    }
}

/// Runs `change` in a write transaction; when it is [`Outcome::Done`],
/// records `action` on `target` in the same transaction and commits, so a
/// change and its audit entry are never apart. A refusal writes nothing.
pub async fn audited<T, R, F>(
    pool: &Pool,
    actor: Actor,
    action: impl Into<std::borrow::Cow<'static, str>>,
    target: String,
    change: F,
) -> Result<Outcome<T, R>, AppError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: FnOnce(&Conn<'_>) -> Result<Outcome<T, R>, AppError> + Send + 'static,
{
    let action = action.into();
    db::run(pool, move |c| {
        let tx = db::write_tx(c)?;
        let outcome = change(&tx)?;
        if let Outcome::Done(_) = outcome {
            record(&tx, &actor.name, &action, &target, &actor.source)?;
            tx.commit()?;
        }
        Ok(outcome)
    })
    .await
}

/// One audit entry as the log page shows it.
#[derive(Debug)]
pub struct Entry {
    /// When (Unix seconds).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what (`secret/name`, `image/name`, `user/name`).
    pub target: String,
    /// From which address.
    pub source: String,
}

impl Entry {
    /// The Time column.
    pub fn time(&self) -> String {
        db::format_time_exact(self.at)
    }
}

/// Entries on one page.
pub const PER_PAGE: i64 = 50;

/// How many entries match `actor` (exactly) and `target` (as a prefix).
pub fn count(conn: &Conn<'_>, actor: &str, target: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        r#"SELECT COUNT(*) FROM audit_log
           WHERE (?1 = '' OR actor = ?1) AND (?2 = '' OR substr(target, 1, length(?2)) = ?2)"#,
        params![actor, target],
        |r| r.get(0),
    )
}

/// Newest first; `actor` matches exactly, `target` as a prefix (so
/// `secret/` is every secret). One more row than a page is read to know
/// whether there is a next page without counting the whole log.
pub fn list(
    conn: &Conn<'_>,
    actor: &str,
    target: &str,
    page: i64,
) -> rusqlite::Result<(Vec<Entry>, bool)> {
    let mut rows = entries(conn, actor, target, PER_PAGE + 1, (page - 1) * PER_PAGE)?;
    let more = rows.len() as i64 > PER_PAGE;
    rows.truncate(PER_PAGE as usize);
    Ok((rows, more))
}

/// `limit` entries from `offset`, newest first.
pub fn entries(
    conn: &Conn<'_>,
    actor: &str,
    target: &str,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<Vec<Entry>> {
    conn.query_map(
        r#"SELECT at, actor, action, target, source FROM audit_log
               WHERE (?1 = '' OR actor = ?1) AND (?2 = '' OR substr(target, 1, length(?2)) = ?2)
               ORDER BY id DESC LIMIT ?3 OFFSET ?4"#,
        params![actor, target, limit, offset],
        |r| {
            Ok(Entry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                source: r.get(4)?,
            })
        },
    )?
    .collect()
}
