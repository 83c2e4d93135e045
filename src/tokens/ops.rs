//! API tokens' writes, one operation each: check the name, scope and
//! lifetime, store the token's digest and audit it in one transaction.
//! The token page and `wharf token create` both make tokens here.

use crate::db::Conn;

use crate::audit::{self, Actor, action};
use crate::auth::tokens::{self, CreateError, EXPIRY_DAYS, NewToken, Scope, TokenRow};
use crate::auth::{Admin, Member};
use crate::db;
use crate::domain::UserId;
use crate::ops::{Failure, OpResult};
use crate::state::AppState;
use crate::web::FieldErrors;

/// Whose token it is.
pub struct Holder {
    /// The account.
    pub id: UserId,
    /// Its name, for the audit target.
    pub username: String,
    /// The session's version, when a signed-in person asks: the token is
    /// made only while the account is still at it.
    pub session_version: Option<i64>,
}

/// How long a new token lives.
pub enum Lifetime {
    /// The page's choice, as posted: 7, 30, 90 or 365 days.
    Days(String),
    /// The shell's `--expires-in`, in seconds (already a duration).
    Seconds(i64),
}

/// A new token's fields as given.
pub struct TokenInput {
    /// "Token name".
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// How long it lives.
    pub lifetime: Lifetime,
}

/// The account was disabled or its password reset meanwhile.
#[derive(Debug, thiserror::Error)]
#[error("This account was disabled or its password reset; sign in again.")]
pub struct Inactive;

/// A token just made: its text is shown this once.
pub struct Made {
    /// `wharf_…`.
    pub text: String,
    /// Its name.
    pub name: String,
}

/// Checks the fields: the name, the scope and the lifetime in seconds.
pub fn parse(input: &TokenInput) -> Result<(String, Scope, i64), FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", tokens::parse_name(&input.name));
    let scope = Scope::parse(&input.scope);
    if scope.is_none() {
        errors.add("scope", "Choose Read only or Read and write.");
    }
    let lifetime = match &input.lifetime {
        Lifetime::Days(raw) => raw
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|d| EXPIRY_DAYS.contains(d))
            .map(|d| d * 86_400),
        Lifetime::Seconds(s) => Some(*s).filter(|s| *s > 0),
    };
    if lifetime.is_none() {
        errors.add("expires_in_days", "Choose 7, 30, 90 or 365 days.");
    }
    match (name, scope, lifetime, errors.is_empty()) {
        (Some(n), Some(s), Some(l), true) => Ok((n, s, l)),
        _ => Err(errors),
    }
}

/// Makes a token for `holder` inside `conn`'s transaction and audits it,
/// as an administrator (at the shell: `wharf token create`).
pub fn create_in(
    conn: &Conn<'_>,
    by: &Admin,
    holder: &Holder,
    input: &TokenInput,
) -> OpResult<Made, Inactive> {
    make(conn, &by.actor(), holder, input)
}

fn make(
    conn: &Conn<'_>,
    actor: &Actor,
    holder: &Holder,
    input: &TokenInput,
) -> OpResult<Made, Inactive> {
    let (name, scope, lifetime) = parse(input).map_err(Failure::Invalid)?;
    let token = NewToken::generate();
    match tokens::create(
        conn,
        holder.id,
        holder.session_version,
        &name,
        scope,
        lifetime,
        &token,
    ) {
        Ok(_) => {}
        Err(e @ CreateError::Duplicate(_)) => {
            return Err(Failure::Duplicate {
                field: "name",
                message: e.to_string(),
            });
        }
        Err(CreateError::Inactive) => return Err(Failure::Refused(Inactive)),
        Err(CreateError::Db(e)) => return Err(e.into()),
    }
    let target = format!("token/{}/{name}", holder.username);
    audit::record(
        conn,
        &actor.name,
        action::TOKEN_CREATED,
        &target,
        &actor.source,
    )?;
    Ok(Made {
        text: token.text,
        name,
    })
}

/// A signed-in person's own new token, made while their session is still
/// at `session_version`.
pub async fn create(
    state: &AppState,
    by: &Member,
    session_version: Option<i64>,
    input: TokenInput,
) -> OpResult<Made, Inactive> {
    let (actor, holder) = (
        by.actor(),
        Holder {
            id: by.id(),
            username: by.username().to_owned(),
            session_version,
        },
    );
    db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let made = make(&tx, &actor, &holder, &input);
        if made.is_ok() {
            tx.commit()?;
        }
        Ok(made)
    })
    .await?
}

/// Revokes one of the signed-in person's own live tokens.
pub async fn revoke_own(state: &AppState, by: &Member, id: &str) -> OpResult<TokenRow> {
    revoke(state, by.actor(), id, Some(by.id())).await
}

/// Revokes anyone's live token, as an administrator.
pub async fn revoke_any(state: &AppState, by: &Admin, id: &str) -> OpResult<TokenRow> {
    revoke(state, by.actor(), id, None).await
}

/// Revokes the live token with the id in the path (only `owner`'s when
/// given), audited on it.
async fn revoke(
    state: &AppState,
    actor: Actor,
    id: &str,
    owner: Option<UserId>,
) -> OpResult<TokenRow> {
    let missing = || Failure::Missing("There is no such live token.".into());
    let id: i64 = id.parse().map_err(|_| missing())?;
    db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let Some(row) = tokens::revoke(&tx, id, owner)? else {
            return Ok(None);
        };
        let target = format!("token/{}/{}", row.owner, row.name);
        audit::record(
            &tx,
            &actor.name,
            action::TOKEN_REVOKED,
            &target,
            &actor.source,
        )?;
        tx.commit()?;
        Ok(Some(row))
    })
    .await?
    .ok_or_else(missing)
}
