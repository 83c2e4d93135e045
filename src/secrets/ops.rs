//! The Secrets area's writes, one operation each: parse the fields into
//! domain values, seal the password or key, store and audit in one
//! transaction. The pages and the API both call these.

use std::fmt;

use super::fields::SecretInput;
use super::store::{self, Deleted, ImageUse, Secret, WriteError};
use crate::audit::{Outcome, action, audited};
use crate::auth::Admin;
use crate::db::Named;
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

/// How far back a cluster's fetch makes deleting a secret need
/// confirming (`?force=true`, or the name typed on the page).
pub const FETCHED_WITHIN: i64 = 24 * 3600;

/// Why a secret was not deleted.
#[derive(Debug)]
pub enum Kept {
    /// Images use it.
    Images(InUse),
    /// Clusters fetched it within [`FETCHED_WITHIN`]; the delete was not
    /// confirmed.
    Fetched {
        /// The secret's Display Name, or its name.
        label: String,
        /// Who, how often, when last.
        clusters: Vec<crate::clusters::serving::Fetched>,
    },
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Images(in_use) => in_use.fmt(f),
            Self::Fetched { label, clusters } => {
                let named: Vec<String> = clusters.iter().map(|c| c.describe()).collect();
                write!(
                    f,
                    "Secret {label} was fetched by clusters in the last 24 hours: {}. Deleting it \
                     breaks their pulls when their caches run out; confirm to delete it anyway \
                     (in the API: ?force=true).",
                    named.join(", ")
                )
            }
        }
    }
}

/// Whether a delete was confirmed by whoever asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// Not confirmed: a secret clusters fetched lately is kept.
    No,
    /// The name typed on the page, or `?force=true`.
    Yes,
}

fn failure<R>(e: WriteError) -> Failure<R> {
    match e {
        WriteError::Duplicate(_) => Failure::taken("name", &e),
        WriteError::Stale => Failure::stale("secret", &e),
        WriteError::Missing(n) => Failure::missing("secret", &n),
        // Held by another secret: a conflict, as a taken name is.
        WriteError::PatternTaken { .. } => Failure::taken("node_patterns", &e),
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
    // The entry names what changed, never a value. It is true only of
    // the version it was worked out from, so any other is stale here.
    let changed = changed(stored, &valid.write(None), sealed.is_some());
    let what = format!(
        "{} ({})",
        action::SECRET_UPDATED,
        if changed.is_empty() {
            "nothing changed".to_owned()
        } else {
            changed.join(", ")
        }
    );
    let read_at = stored.version;
    let outcome = audited(
        &state.pool,
        actor,
        what,
        format!("secret/{}", stored.name),
        move |c| {
            if read_at != expected {
                return Ok(Outcome::Refused(WriteError::Stale));
            }
            Ok(store::update(c, valid.write(sealed), expected).into())
        },
    )
    .await?;
    outcome.into_result().map_err(failure)
}

/// The fields `write` changes in `stored`, by the labels the form shows
/// them with; a password, key or secret access key counts as changed
/// whenever a new one was given (`new_value`: its value is never compared
/// or named).
fn changed(stored: &Secret, write: &store::Write<'_>, new_value: bool) -> Vec<&'static str> {
    use super::store::Kind;
    let ecr = stored.kind == Kind::Ecr;
    [
        (stored.display_name != write.display_name, "Display Name"),
        (stored.expires_on != write.expires_on, "Expires"),
        (
            stored.registry_host.as_deref() != write.registry_host,
            "Registry Host",
        ),
        (
            stored.username.as_deref() != write.username,
            if ecr { "Access Key ID" } else { "Username" },
        ),
        (
            new_value,
            match stored.kind {
                Kind::ImagePull => "Password",
                Kind::GitSync => "Secret",
                Kind::Ecr => "Secret Access Key",
            },
        ),
        (
            stored.endpoint.as_deref() != write.endpoint,
            "ECR API endpoint",
        ),
        (stored.deliver != write.deliver, "Deliver to clusters"),
        (
            stored.node_patterns != write.node_patterns,
            "Node image patterns",
        ),
    ]
    .into_iter()
    .filter_map(|(differs, label)| differs.then_some(label))
    .collect()
}

/// Deletes a secret that no image uses; one that a cluster fetched within
/// [`FETCHED_WITHIN`] only when `confirmed` (its nodes and ESO lose it when
/// their caches run out).
pub async fn delete(
    state: &AppState,
    by: &Admin,
    name: &str,
    confirmed: Confirmed,
) -> OpResult<(), Kept> {
    let actor = by.actor();
    let n = name.to_owned();
    let since = crate::db::now() - FETCHED_WITHIN;
    let outcome = audited(
        &state.pool,
        actor,
        action::SECRET_DELETED,
        format!("secret/{name}"),
        move |c| {
            if confirmed == Confirmed::No {
                let clusters = crate::clusters::serving::fetched_by(c, &n, since)?;
                if !clusters.is_empty()
                    && let Some(secret) = store::find(c, &n)?
                {
                    return Ok(Outcome::Refused(Some(Kept::Fetched {
                        label: secret.label().to_owned(),
                        clusters,
                    })));
                }
            }
            // `None`: there is no such secret.
            Ok(match store::delete(c, &n)? {
                Deleted::Yes => Outcome::Done(()),
                Deleted::InUse { label, images } => {
                    Outcome::Refused(Some(Kept::Images(InUse { label, images })))
                }
                Deleted::Missing => Outcome::Refused(None),
            })
        },
    )
    .await?;
    match outcome {
        Outcome::Done(()) => Ok(()),
        Outcome::Refused(Some(kept)) => Err(Failure::Refused(kept)),
        Outcome::Refused(None) => Err(Failure::missing("secret", name)),
    }
}
