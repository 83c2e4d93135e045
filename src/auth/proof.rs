//! Proof of who may run an operation. Every write of an area takes one as
//! its first argument, and only this module makes them: from a session the
//! page guard verified ([`super::AdminCtx`], [`super::UserCtx`]), from a
//! token ([`super::ApiCaller::admin_write`]), or for the shell. A way in
//! that forgets to check who is asking has no proof to pass, and does not
//! compile.

use subtle::ConstantTimeEq;

use crate::audit::Actor;
use crate::domain::UserId;
use crate::error::AppError;
use crate::state::AppState;

/// Checks `given` against wharf's one-time setup link (printed in its log
/// while no user exists), in constant time.
pub fn check_setup_link(state: &AppState, given: &str) -> Result<(), AppError> {
    if given.is_empty() {
        return Err(AppError::NotFound(
            "This page needs the one-time setup link that wharf printed in its log while no user exists (/setup?token=…). Without it, run wharf user add NAME --admin --password-stdin on its machine.".into(),
        ));
    }
    let gone = || AppError::NotFound("This setup link is no longer valid.".into());
    let guard = state.setup_token.lock().map_err(|_| gone())?;
    match guard.as_deref() {
        Some(t) if bool::from(t.as_bytes().ct_eq(given.as_bytes())) => Ok(()),
        _ => Err(gone()),
    }
}

/// An active administrator who may change things: signed in, or holding
/// a token of theirs that may write.
#[derive(Clone, Debug)]
pub struct Admin {
    actor: Actor,
    id: Option<UserId>,
}

/// An administrator who may read what is stored, secrets' values included
/// (a token that may only read is enough); every [`Admin`] is one.
#[derive(Clone, Debug)]
pub struct AdminRead {
    actor: Actor,
}

/// A signed-in person, administrator or not, acting on what is their own
/// (their password, their tokens).
#[derive(Clone, Debug)]
pub struct Member {
    actor: Actor,
    id: UserId,
    username: String,
    is_admin: bool,
}

impl Admin {
    pub(super) fn new(actor: Actor, id: UserId) -> Self {
        Self {
            actor,
            id: Some(id),
        }
    }

    /// Whoever runs wharf's command line on the data directory: they hold
    /// its keys, and so every right (`wharf user add`, `wharf token
    /// create`). Audited as `cli`, from `shell`.
    pub fn shell() -> Self {
        Self {
            actor: Actor {
                name: "cli".into(),
                source: "shell".into(),
            },
            id: None,
        }
    }

    /// The holder of the one-time setup link, who makes the first
    /// administrator (`name`, the author of their own account).
    pub fn setup_link(
        state: &AppState,
        given: &str,
        name: &str,
        source: String,
    ) -> Result<Self, AppError> {
        check_setup_link(state, given)?;
        Ok(Self {
            actor: Actor {
                name: name.trim().to_owned(),
                source,
            },
            id: None,
        })
    }

    /// wharf itself, for the work it schedules (login checks, registry
    /// token refreshes). Audited as `wharf`.
    pub fn background() -> Self {
        Self {
            actor: Actor {
                name: "wharf".into(),
                source: String::new(),
            },
            id: None,
        }
    }

    /// Who acts, for the audit log.
    pub fn actor(&self) -> Actor {
        self.actor.clone()
    }

    /// Their account (`None` at the shell or for wharf's own work, which
    /// are no account).
    pub fn user_id(&self) -> Option<UserId> {
        self.id
    }

    /// The right to read that comes with the right to change.
    pub fn reader(&self) -> AdminRead {
        AdminRead {
            actor: self.actor.clone(),
        }
    }
}

impl AdminRead {
    pub(super) fn new(actor: Actor) -> Self {
        Self { actor }
    }

    /// Who reads, for the audit log.
    pub fn actor(&self) -> Actor {
        self.actor.clone()
    }
}

impl Member {
    pub(super) fn new(actor: Actor, id: UserId, username: String, is_admin: bool) -> Self {
        Self {
            actor,
            id,
            username,
            is_admin,
        }
    }

    /// Their username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Who acts, for the audit log.
    pub fn actor(&self) -> Actor {
        self.actor.clone()
    }

    /// Their account.
    pub fn id(&self) -> UserId {
        self.id
    }

    /// Whether they are an administrator too.
    pub fn is_admin(&self) -> bool {
        self.is_admin
    }
}
