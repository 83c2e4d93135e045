//! Personal access tokens: `wharf_` and 43 base64url characters (32
//! random bytes). Only their SHA-256 is stored; a token acts as its user.

use crate::db::Conn;
use base64::Engine;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::store::{COLUMNS, User, from_row};
use crate::db;
use crate::domain::UserId;

/// What every token starts with, so that scanners and people know it.
pub const PREFIX: &str = "wharf_";

/// The days a token may live ("Expires in").
pub const EXPIRY_DAYS: &[i64] = &[7, 30, 90, 365];

/// What "Expires in" offers first.
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;

crate::db::text_enum! {
    /// What a token may do.
    pub enum Scope {
        /// GETs only.
        Read = "read" ("Read only"),
        /// Everything its user may do.
        Write = "write" ("Read and write"),
    }
}

/// A new token: the text (shown once) and what is stored.
pub struct NewToken {
    /// `wharf_…`, for the user to copy.
    pub text: String,
    /// Its SHA-256.
    pub hash: [u8; 32],
}

impl NewToken {
    /// 32 random bytes.
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        let text = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let hash = digest(&text);
        Self { text, hash }
    }
}

/// The SHA-256 of a token's text.
pub fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Whether `text` has a token's shape (checked before any lookup).
pub fn well_formed(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// A token as the token pages list it (never its text or hash).
#[derive(Clone, Debug)]
pub struct TokenRow {
    /// Row id (in the revoke form's address).
    pub id: i64,
    /// Its owner's username.
    pub owner: String,
    /// Its name, unique per user.
    pub name: String,
    /// Read only, or read and write.
    pub scope: Scope,
    /// Made (Unix seconds).
    pub created_at: i64,
    /// Stops working (Unix seconds).
    pub expires_at: i64,
    /// Last request (Unix seconds) and from where.
    pub last_used: Option<(i64, String)>,
    /// Revoked (Unix seconds).
    pub revoked_at: Option<i64>,
}

impl TokenRow {
    /// "active", "expired" or "revoked", at `now`.
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "active"
        }
    }

    /// The Created column.
    pub fn created(&self) -> String {
        db::format_time(self.created_at)
    }

    /// The Expires column.
    pub fn expires(&self) -> String {
        db::format_time(self.expires_at)
    }

    /// The Last used column: when, and the address.
    pub fn last_used_text(&self) -> String {
        match &self.last_used {
            Some((at, from)) => format!("{} from {from}", db::format_time(*at)),
            None => "never".into(),
        }
    }
}

const ROW: &str = "t.id, u.username, t.name, t.scope, t.created_at, t.expires_at,
                   t.last_used_at, t.last_used_from, t.revoked_at";

fn token_row(r: &crate::db::Row<'_>) -> rusqlite::Result<TokenRow> {
    let at: Option<i64> = r.get(6)?;
    let from: Option<String> = r.get(7)?;
    Ok(TokenRow {
        id: r.get(0)?,
        owner: r.get(1)?,
        name: r.get(2)?,
        scope: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        last_used: at.map(|at| (at, from.unwrap_or_default())),
        revoked_at: r.get(8)?,
    })
}

/// Parses a token name: required, at most 64 characters, no control
/// characters; surrounding spaces are dropped.
pub fn parse_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Token name is required.".into());
    }
    if name.chars().count() > 64 {
        return Err("Token name must be at most 64 characters.".into());
    }
    if name.chars().any(char::is_control) {
        return Err("Token name must not contain control characters.".into());
    }
    Ok(name.to_owned())
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The user has a token of that name.
    #[error("You already have a token named {0}.")]
    Duplicate(String),
    /// The account was disabled, or its password reset, meanwhile (or, from
    /// the shell, it is disabled): a token now would outlive that.
    #[error("This account was disabled or its password reset; sign in again.")]
    Inactive,
    /// Anything else.
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

/// Stores a token for `user` that expires `lifetime` seconds from now,
/// only while the account is active and, when `session_version` is given,
/// still at that version: a token asked for just before an administrator
/// reset the password or disabled the account is not made after it.
pub fn create(
    conn: &Conn<'_>,
    user: UserId,
    session_version: Option<i64>,
    name: &str,
    scope: Scope,
    lifetime: i64,
    token: &NewToken,
) -> Result<i64, CreateError> {
    let now = db::now();
    let live: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1 AND active = 1
                              AND (session_version = ?2 OR ?2 IS NULL))",
        params![user, session_version],
        |r| r.get(0),
    )?;
    if !live {
        return Err(CreateError::Inactive);
    }
    // An expired token of that name gives the name back.
    conn.execute(
        "UPDATE api_tokens SET revoked_at = ?3
         WHERE user_id = ?1 AND name = ?2 AND revoked_at IS NULL AND expires_at <= ?3",
        params![user, name, now],
    )?;
    let id: i64 = conn
        .query_row(
            "INSERT INTO api_tokens (user_id, name, scope, hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            params![
                user,
                name,
                scope.as_str(),
                &token.hash[..],
                now,
                now.saturating_add(lifetime)
            ],
            |r| r.get(0),
        )
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                CreateError::Duplicate(name.to_owned())
            } else {
                CreateError::Db(e)
            }
        })?;
    Ok(id)
}

/// A user's tokens, newest first.
pub fn list_for(conn: &Conn<'_>, user: UserId) -> rusqlite::Result<Vec<TokenRow>> {
    conn.query_map(
        &format!(
            "SELECT {ROW} FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.user_id = ?1 ORDER BY t.id DESC"
        ),
        [user],
        token_row,
    )?
    .collect()
}

/// Everyone's tokens, newest first: every live one, and the newest 500 of
/// the rest.
pub fn list_all(conn: &Conn<'_>) -> rusqlite::Result<Vec<TokenRow>> {
    conn.query_map(
        &format!(
            "SELECT {ROW} FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE (t.revoked_at IS NULL AND t.expires_at > ?1)
            OR t.id IN (SELECT id FROM api_tokens ORDER BY id DESC LIMIT 500)
         ORDER BY t.id DESC"
        ),
        [db::now()],
        token_row,
    )?
    .collect()
}

/// Revokes a token (only `owner`'s when given); returns its row if it
/// was live and is revoked now.
pub fn revoke(
    conn: &Conn<'_>,
    id: i64,
    owner: Option<UserId>,
) -> rusqlite::Result<Option<TokenRow>> {
    let n = conn.execute(
        "UPDATE api_tokens SET revoked_at = ?3
             WHERE id = ?1 AND revoked_at IS NULL AND (user_id = ?2 OR ?2 IS NULL)",
        params![id, owner, db::now()],
    )?;
    if n == 0 {
        return Ok(None);
    }
    conn.query_row(
        &format!("SELECT {ROW} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?1"),
        [id],
        token_row,
    )
    .optional()
}

/// Revokes every live token of `user`; returns how many.
pub fn revoke_all(conn: &Conn<'_>, user: UserId) -> rusqlite::Result<usize> {
    let now = db::now();
    conn.execute(
        "UPDATE api_tokens SET revoked_at = ?2
         WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![user, now],
    )
}

/// Live tokens of `user`.
pub fn live_count(conn: &Conn<'_>, user: UserId) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM api_tokens WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2", params![user, db::now()], |r| r.get(0))
}

/// A live token's caller: its user as they are now, and the token.
pub struct Holder {
    /// The token's user (active; the role at this moment).
    pub user: User,
    /// Row id.
    pub token_id: i64,
    /// Its name, for the audit log.
    pub token_name: String,
    /// What it may do.
    pub scope: Scope,
    /// Its last use, to refresh at most once a minute.
    pub last_used: Option<(i64, String)>,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
}

/// The live token with this hash: not revoked, not expired, and its user
/// active.
pub fn holder(conn: &Conn<'_>, hash: &[u8; 32], now: i64) -> rusqlite::Result<Option<Holder>> {
    let user_columns = COLUMNS
        .split(',')
        .map(|c| format!("u.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    conn.query_row(
        &format!(
            "SELECT {user_columns}, t.id, t.name, t.scope, t.last_used_at, t.last_used_from,
                t.expires_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.hash = ?1 AND t.revoked_at IS NULL AND t.expires_at > ?2 AND u.active = 1"
        ),
        params![&hash[..], now],
        |r| {
            let at: Option<i64> = r.get(8)?;
            let from: Option<String> = r.get(9)?;
            Ok(Holder {
                user: from_row(r)?,
                token_id: r.get(5)?,
                token_name: r.get(6)?,
                scope: r.get(7)?,
                last_used: at.map(|at| (at, from.unwrap_or_default())),
                expires_at: r.get(10)?,
            })
        },
    )
    .optional()
}

/// Notes a token's use.
pub fn touch(conn: &Conn<'_>, id: i64, now: i64, from: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE api_tokens SET last_used_at = ?2, last_used_from = ?3 WHERE id = ?1",
        params![id, now, from],
    )?;
    Ok(())
}

/// A cluster, by its token: what a cluster token stands for.
pub struct ClusterHolder {
    /// The cluster's row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its last request, to refresh at most once a minute.
    pub last_seen: Option<(i64, String)>,
}

/// The cluster whose token has this hash.
pub fn cluster_holder(conn: &Conn<'_>, hash: &[u8; 32]) -> rusqlite::Result<Option<ClusterHolder>> {
    conn.query_row(
        "SELECT id, name, last_seen_at, last_seen_from FROM clusters WHERE token_hash = ?1",
        [&hash[..]],
        |r| {
            let at: Option<i64> = r.get(2)?;
            let from: Option<String> = r.get(3)?;
            Ok(ClusterHolder {
                id: r.get(0)?,
                name: r.get(1)?,
                last_seen: at.map(|at| (at, from.unwrap_or_default())),
            })
        },
    )
    .optional()
}

/// Notes a cluster's request.
pub fn touch_cluster(conn: &Conn<'_>, id: i64, now: i64, from: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE clusters SET last_seen_at = ?2, last_seen_from = ?3 WHERE id = ?1",
        params![id, now, from],
    )?;
    Ok(())
}
