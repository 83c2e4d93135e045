//! Accounts' writes, one operation each: check the fields, hash a new
//! password, store and audit in one transaction. The Users pages, the
//! first administrator's `/setup` and `wharf user add` make accounts here.

use crate::db::Conn;

use super::store::{self, AccountChange, Refusal};
use crate::audit::{self, Outcome, action, audited};
use crate::auth::store::{self as accounts, CreateError, User};
use crate::auth::tokens;
use crate::auth::{Admin, Member};
use crate::db;
use crate::domain::{Password, Username};
use crate::ops::{Failure, OpResult};
use crate::state::AppState;
use crate::web::FieldErrors;

/// A new account's fields as typed.
pub struct NewAccount<'a> {
    /// "Username".
    pub username: &'a str,
    /// "Password".
    pub password: &'a str,
    /// "Administrator".
    pub is_admin: bool,
    /// "Active".
    pub active: bool,
}

/// `/setup` was used already: there is a user.
#[derive(Debug, thiserror::Error)]
#[error("This setup link is no longer valid.")]
pub struct SetupDone;

/// Checks a new account's username and password.
pub fn parse_new(input: &NewAccount<'_>) -> Result<(Username, Password), FieldErrors> {
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(input.username));
    let password = errors.check("password", Password::parse(input.password));
    match (username, password, errors.is_empty()) {
        (Some(u), Some(p), true) => Ok((u, p)),
        _ => Err(errors),
    }
}

/// Stores a checked account with its argon2 hash and audits it, inside
/// `conn`'s transaction; with `first_only`, only while there is no user
/// at all (two setup forms sent at once make one administrator).
pub fn create_in(
    conn: &Conn<'_>,
    by: &Admin,
    username: &Username,
    hash: &str,
    (is_admin, active): (bool, bool),
    first_only: bool,
) -> OpResult<User, SetupDone> {
    if first_only && accounts::count(conn)? > 0 {
        return Err(Failure::Refused(SetupDone));
    }
    let user = match accounts::create(conn, username.as_str(), hash, is_admin, active) {
        Ok(user) => user,
        Err(e @ CreateError::Duplicate(_)) => {
            return Err(Failure::Duplicate {
                field: "username",
                message: e.to_string(),
            });
        }
        Err(CreateError::Db(e)) => return Err(e.into()),
    };
    let target = format!("user/{username}");
    let actor = by.actor();
    audit::record(
        conn,
        &actor.name,
        action::USER_CREATED,
        &target,
        &actor.source,
    )?;
    Ok(user)
}

/// Adds an account from its fields (the password hashed within the bound
/// on argon2 work); with `first_only`, the first administrator's.
pub async fn create(
    state: &AppState,
    by: &Admin,
    input: &NewAccount<'_>,
    first_only: bool,
) -> OpResult<User, SetupDone> {
    let (username, password) = parse_new(input).map_err(Failure::Invalid)?;
    let hash = state.hashing.hash(password).await?;
    let flags = (input.is_admin, input.active);
    let by = by.clone();
    db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let made = create_in(&tx, &by, &username, &hash, flags, first_only);
        if made.is_ok() {
            tx.commit()?;
        }
        Ok(made)
    })
    .await?
}

/// What an administrator changes on an account, as typed.
pub struct AccountInput<'a> {
    /// "Administrator".
    pub is_admin: bool,
    /// "Active".
    pub active: bool,
    /// "Password": blank keeps it.
    pub password: &'a str,
}

/// What an update did besides the change itself.
pub struct Updated {
    /// API tokens revoked by a reset or a disable.
    pub tokens_revoked: usize,
}

fn refusal(r: Refusal) -> Failure<Refusal> {
    match r {
        Refusal::Stale => Failure::Stale {
            kind: "user",
            message: r.to_string(),
        },
        Refusal::Missing(n) => Failure::missing("user", &n),
        other => Failure::Refused(other),
    }
}

/// Changes `username`'s role and active flag, and resets its password when
/// one is given, if it is still at `expected`. The guards hold: never the
/// last active administrator, never yourself disabled. A reset or a
/// disable by another administrator revokes the user's API tokens (audited
/// with the count).
pub async fn update(
    state: &AppState,
    by: &Admin,
    username: &str,
    input: &AccountInput<'_>,
    expected: i64,
) -> OpResult<Updated, Refusal> {
    let (actor, actor_id) = (by.actor(), by.user_id());
    let reset = match input.password {
        "" => None,
        raw => Some(Password::parse(raw).map_err(|m| Failure::field("password", m))?),
    };
    let password_hash = match reset {
        Some(p) => Some(state.hashing.hash(p).await?),
        None => None,
    };
    let action = match password_hash {
        Some(_) => action::USER_PASSWORD_RESET,
        None => action::USER_UPDATED,
    };
    let change = AccountChange {
        username: username.to_owned(),
        is_admin: input.is_admin,
        active: input.active,
        password_hash,
        version: expected,
    };
    let target = format!("user/{username}");
    let (by, t) = (actor.clone(), target.clone());
    let outcome = audited(&state.pool, actor, action, target, move |c| {
        let outcome = store::update_account(c, actor_id, &change)?;
        if let Outcome::Done(n @ 1..) = outcome {
            let action = action::tokens_revoked(n);
            audit::record(c, &by.name, &action, &t, &by.source)?;
        }
        Ok(outcome)
    })
    .await?;
    match outcome {
        Outcome::Done(tokens_revoked) => Ok(Updated { tokens_revoked }),
        Outcome::Refused(r) => Err(refusal(r)),
    }
}

/// Deletes an account unless a guard says no (not yourself, not the last
/// active administrator).
pub async fn delete(state: &AppState, by: &Admin, username: &str) -> OpResult<(), Refusal> {
    let (actor, actor_id) = (by.actor(), by.user_id());
    let n = username.to_owned();
    let outcome = audited(
        &state.pool,
        actor,
        action::USER_DELETED,
        format!("user/{username}"),
        move |c| Ok(store::delete_account(c, actor_id, &n)?),
    )
    .await?;
    match outcome {
        Outcome::Done(()) => Ok(()),
        Outcome::Refused(r) => Err(refusal(r)),
    }
}

/// "Revoke all tokens" of `username`; returns how many were live.
pub async fn revoke_tokens(state: &AppState, by: &Admin, username: &str) -> OpResult<usize> {
    let actor = by.actor();
    let name = username.to_owned();
    db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let Some(account) = store::find_account(&tx, &name)? else {
            return Ok(Err(Failure::missing("user", &name)));
        };
        let n = tokens::revoke_all(&tx, account.user.id)?;
        let target = format!("user/{name}");
        audit::record(
            &tx,
            &actor.name,
            &action::tokens_revoked(n),
            &target,
            &actor.source,
        )?;
        tx.commit()?;
        Ok(Ok(n))
    })
    .await?
}

/// A change of one's own password, as typed.
pub struct PasswordChange {
    /// "Current password".
    pub current: String,
    /// "New password".
    pub new: String,
    /// "Confirm new password".
    pub confirm: String,
}

/// Changes the signed-in user's own password: the current one is checked
/// like a sign-in (throttled, so a stolen session cannot guess it; a wrong
/// one is audited), the new one stored and audited, every session of the
/// account ended. Returns the account's new session version, with which
/// the caller's own session goes on.
pub async fn change_password(
    state: &AppState,
    by: &Member,
    input: PasswordChange,
) -> OpResult<i64> {
    let (actor, id) = (by.actor(), by.id());
    let claimant = crate::auth::Claimant::SignedIn(id);
    let checked = crate::auth::check_password(
        state,
        claimant,
        actor.name.clone(),
        actor.source.clone(),
        input.current,
    );
    let mut errors = FieldErrors::default();
    if checked.await?.user.is_none() {
        let target = format!("user/{}", actor.name);
        audit::record_alone(
            &state.pool,
            actor.clone(),
            action::PASSWORD_CHANGE_REFUSED,
            target,
        )
        .await?;
        errors.add("current_password", "The current password is not right.");
    }
    let new = errors.check("new_password", Password::parse(&input.new));
    if input.new != input.confirm {
        errors.add("confirm_password", "The passwords do not match.");
    }
    let (Some(new), true) = (new, errors.is_empty()) else {
        return Err(Failure::Invalid(errors));
    };
    let hash = state.hashing.hash(new).await?;
    let target = format!("user/{}", actor.name);
    let outcome = audited(
        &state.pool,
        actor,
        action::PASSWORD_CHANGED,
        target,
        move |c| {
            Ok(Outcome::<i64, ()>::Done(accounts::change_password(
                c, id, &hash,
            )?))
        },
    )
    .await?;
    outcome
        .into_result()
        .map_err(|()| Failure::missing("user", "you"))
}

/// What an administrator does with an account's single sign-on.
pub enum SsoChange {
    /// "Link SSO identity": bind the refused sign-in's identity (this
    /// issuer and subject, as the page showed them).
    Link {
        /// The provider.
        issuer: String,
        /// The person there.
        subject: String,
    },
    /// "Unlink SSO identity".
    Unlink,
    /// "Dismiss": forget a refused sign-in without linking it.
    Dismiss,
}

/// Links, unlinks or dismisses an account's single sign-on, audited. A
/// link binds the identity whose single sign-on was refused (its username
/// is this password account's) to the account, so it signs in with it
/// from then on; only the identity the administrator was shown is linked.
///
/// An unlink, and a link that replaces an identity, take away a way in:
/// as a password reset does, they end the account's sessions and revoke
/// its API tokens in the same transaction (what the identity signed in to
/// or made must not outlive it). Returns how many tokens were revoked
/// then, `None` when nothing was ended.
pub async fn change_sso(
    state: &AppState,
    by: &Admin,
    username: &str,
    change: SsoChange,
) -> OpResult<Option<usize>, super::sso::LinkRefusal> {
    let actor = by.actor();
    use super::sso::{self as sso, LinkRefusal};
    let name = username.to_owned();
    db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let Some(account) = store::find_account(&tx, &name)? else {
            return Ok(Err(Failure::missing("user", &name)));
        };
        let id = account.user.id;
        let ends = match &change {
            SsoChange::Unlink => true,
            SsoChange::Link { .. } => sso::of_account(&tx, id)?.identity.is_some(),
            SsoChange::Dismiss => false,
        };
        let (done, what) = match &change {
            SsoChange::Link { issuer, subject } => (
                sso::link(&tx, id, &name, (issuer, subject))?,
                action::SSO_IDENTITY_LINKED,
            ),
            SsoChange::Unlink => (sso::unlink(&tx, id, &name)?, action::SSO_IDENTITY_UNLINKED),
            SsoChange::Dismiss => (
                if sso::dismiss(&tx, id)? {
                    Ok(())
                } else {
                    Err(LinkRefusal::NoOffer(name.clone()))
                },
                action::SSO_SIGN_IN_DISMISSED,
            ),
        };
        if let Err(refusal) = done {
            return Ok(Err(Failure::Refused(refusal)));
        }
        let target = format!("user/{name}");
        audit::record(&tx, &actor.name, what, &target, &actor.source)?;
        let revoked = if ends {
            crate::auth::store::end_sessions(&tx, id)?;
            let n = tokens::revoke_all(&tx, id)?;
            let ended = format!("sessions ended; {}", action::tokens_revoked(n));
            audit::record(&tx, &actor.name, &ended, &target, &actor.source)?;
            Some(n)
        } else {
            None
        };
        tx.commit()?;
        Ok(Ok(revoked))
    })
    .await?
}
