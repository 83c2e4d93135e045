//! The Secrets area's writes, one operation each: parse the fields into
//! domain values, seal the password or key, store and audit in one
//! transaction. The pages and the API both call these.

use std::fmt;

use super::fields::SecretInput;
use super::store::{self, Deleted, ImageUse, Secret, WriteError};
use crate::audit::{Outcome, action, audited};
use crate::auth::Admin;
use crate::ops::{Failure, OpResult};
use crate::state::AppState;

/// A secret that images use cannot be deleted.
#[derive(Debug)]
pub struct InUse {
    /// The secret's Display Name, or its name.
    pub label: String,
    /// The images that use it.
    pub images: Vec<ImageUse>,
}

impl fmt::Display for InUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.images.iter().map(|i| i.name.as_str()).collect();
        write!(
            f,
            "Secret {} cannot be deleted: images use it: {}.",
            self.label,
            names.join(", ")
        )
    }
}

fn failure<R>(e: WriteError) -> Failure<R> {
    match e {
        WriteError::Duplicate(_) => Failure::taken("name", &e),
        WriteError::Stale => Failure::stale("secret", &e),
        WriteError::Missing(n) => Failure::missing("secret", &n),
        WriteError::PatternTaken { .. } => Failure::field("node_patterns", e.to_string()),
        WriteError::Db(e) => e.into(),
    }
}

/// Adds a secret from its fields; returns its name.
pub async fn create(state: &AppState, by: &Admin, input: &SecretInput) -> OpResult<String> {
    let actor = by.actor();
    let valid = input.parse_new().map_err(Failure::Invalid)?;
    let sealed = valid.seal(&state.master);
    let name = valid.name.to_string();
    let outcome = audited(
        &state.pool,
        actor,
        action::SECRET_CREATED,
        format!("secret/{name}"),
        move |c| Ok(store::insert(c, valid.write(sealed)).into()),
    )
    .await?;
    outcome.into_result().map(|_| name).map_err(failure)
}

/// Changes `stored` to `input`'s fields (its name and type stay; a blank
/// password or key keeps the stored one), if it is still at `expected`.
pub async fn update(
    state: &AppState,
    by: &Admin,
    stored: &Secret,
    input: &SecretInput,
    expected: i64,
) -> OpResult<()> {
    let actor = by.actor();
    let valid = input
        .parse_edit(&stored.name, stored.kind)
        .map_err(Failure::Invalid)?;
    let sealed = valid.seal(&state.master);
    let outcome = audited(
        &state.pool,
        actor,
        action::SECRET_UPDATED,
        format!("secret/{}", stored.name),
        move |c| Ok(store::update(c, valid.write(sealed), expected).into()),
    )
    .await?;
    outcome.into_result().map_err(failure)
}

/// Deletes a secret, unless images use it.
pub async fn delete(state: &AppState, by: &Admin, name: &str) -> OpResult<(), InUse> {
    let actor = by.actor();
    let n = name.to_owned();
    let outcome = audited(
        &state.pool,
        actor,
        action::SECRET_DELETED,
        format!("secret/{name}"),
        move |c| {
            Ok(match store::delete(c, &n)? {
                Deleted::Yes => Outcome::Done(()),
                refused => Outcome::Refused(refused),
            })
        },
    )
    .await?;
    match outcome {
        Outcome::Done(()) => Ok(()),
        Outcome::Refused(Deleted::InUse { label, images }) => {
            Err(Failure::Refused(InUse { label, images }))
        }
        Outcome::Refused(_) => Err(Failure::missing("secret", name)),
    }
}
