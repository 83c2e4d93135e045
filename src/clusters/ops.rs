//! The Clusters area's writes, one operation each, which the pages and the
//! API both call: add a cluster (its token shown once), replace its token,
//! remove it. A cluster's token is made here and only its SHA-256 kept.

use serde::Deserialize;

use super::store::{self, WriteError};
use crate::audit::{Actor, Outcome, action, audited};
use crate::auth::tokens::NewToken;
use crate::domain::{ClusterName, DisplayName};
use crate::ops::{Failure, OpResult};
use crate::state::AppState;
use crate::web::FieldErrors;

fn failure(e: WriteError) -> Failure {
    match e {
        WriteError::Duplicate(_) => Failure::taken("name", &e),
        WriteError::Missing(n) => Failure::missing("cluster", &n),
        WriteError::Db(e) => e.into(),
    }
}

/// The add form's fields, as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClusterForm {
    /// "Name".
    pub name: String,
    /// "Display Name".
    pub display_name: String,
}

impl ClusterForm {
    fn parse(&self) -> Result<(ClusterName, DisplayName), FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", ClusterName::parse(&self.name));
        let display = errors.check("display_name", DisplayName::parse(&self.display_name));
        match (name, display) {
            (Some(n), Some(d)) if errors.is_empty() => Ok((n, d)),
            _ => Err(errors),
        }
    }
}

/// A cluster just made or given a new token: its name and the token's
/// text, which is shown this once.
pub struct Issued {
    /// The cluster's name.
    pub name: String,
    /// `wharf_…`.
    pub token: String,
}

/// Adds a cluster with a new token.
pub async fn create(state: &AppState, actor: Actor, input: &ClusterForm) -> OpResult<Issued> {
    let (name, display) = input.parse().map_err(Failure::Invalid)?;
    let token = NewToken::generate();
    let n = name.as_str().to_owned();
    let hash = token.hash;
    let outcome = audited(
        &state.pool,
        actor,
        action::CLUSTER_CREATED,
        format!("cluster/{n}"),
        move |c| Ok(store::insert(c, name.as_str(), display.as_str(), &hash).into()),
    )
    .await?;
    outcome.into_result().map_err(failure)?;
    Ok(Issued {
        name: n,
        token: token.text,
    })
}

/// Gives a cluster a new token; the old one stops at once.
pub async fn rotate_token(state: &AppState, actor: Actor, name: &str) -> OpResult<Issued> {
    let token = NewToken::generate();
    let (n, hash) = (name.to_owned(), token.hash);
    let outcome = audited(
        &state.pool,
        actor,
        action::CLUSTER_TOKEN_ROTATED,
        format!("cluster/{name}"),
        move |c| Ok(store::set_token(c, &n, &hash).into()),
    )
    .await?;
    outcome.into_result().map_err(failure)?;
    Ok(Issued {
        name: name.to_owned(),
        token: token.text,
    })
}

/// Removes a cluster; its token stops at once.
pub async fn delete(state: &AppState, actor: Actor, name: &str) -> OpResult<()> {
    let n = name.to_owned();
    let outcome = audited(
        &state.pool,
        actor,
        action::CLUSTER_DELETED,
        format!("cluster/{name}"),
        move |c| {
            Ok(if store::delete(c, &n)? {
                Outcome::Done(())
            } else {
                Outcome::Refused(())
            })
        },
    )
    .await?;
    outcome
        .into_result()
        .map_err(|()| Failure::missing("cluster", name))
}
