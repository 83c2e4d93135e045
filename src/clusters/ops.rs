//! The Clusters area's operations, which the pages and the API both call:
//! add a cluster (its token shown once), replace its token, remove it (a
//! cluster's token is made here and only its SHA-256 kept), and kubelet's
//! credential lookup.

use actix_web::http::StatusCode;
use actix_web::web;
use serde::Deserialize;

use super::credentials::{Accept, Answer, DeliveryIndex, lookup};
use super::serving::ServingLog;
use super::store::{self, WriteError};
use crate::audit::{self, Outcome, action, audited};
use crate::auth::tokens::NewToken;
use crate::auth::{Admin, Caller, Presented, identify};
use crate::changes::Read;
use crate::db;
use crate::domain::{ClusterName, DisplayName, ImageRef};
use crate::ops::{Failure, OpResult};
use crate::state::AppState;
use crate::web::{FieldErrors, Problem};

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
pub async fn create(state: &AppState, by: &Admin, input: &ClusterForm) -> OpResult<Issued> {
    let actor = by.actor();
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
pub async fn rotate_token(state: &AppState, by: &Admin, name: &str) -> OpResult<Issued> {
    let actor = by.actor();
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
pub async fn delete(state: &AppState, by: &Admin, name: &str) -> OpResult<()> {
    let actor = by.actor();
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

/// kubelet's answer for `image` (as `?image=` gave it) to whoever
/// `presented` a token: a cluster (whose request the caller notes and
/// counts), or an administrator, whose dry run hands out the passwords
/// and is audited as their export. The one operation behind a node's
/// lookup, whichever way it comes in.
///
/// The token and the lookup take one hop to the database: this runs at
/// every image pull of every node, and a cluster's request takes none
/// while nothing was committed since its token and the delivery index were
/// read. An ECR secret whose token is past half its life is minted anew
/// first (delivered ones are refreshed ahead, so this is rare), then
/// looked up again; if ECR cannot mint, a token still valid is given, else
/// the answer is 502 (the plugin then gives its kept answer).
pub async fn credentials(
    state: &web::Data<AppState>,
    index: &web::Data<DeliveryIndex>,
    serving: &web::Data<ServingLog>,
    presented: &Presented,
    raw: &str,
) -> Result<(Caller, Answer), Problem> {
    if let (Some(Caller::Cluster(cluster)), Some(seen), Ok(image)) =
        (presented.recall(), presented.seen(), ImageRef::parse(raw))
    {
        let now = state.tokens.clock.now();
        if let Ok(kept) = index.read(Read::Memory(seen)) {
            let found = lookup(&kept, &state.master, &image, now, Accept::Fresh)?;
            if found.pending.is_empty() {
                return Ok((Caller::Cluster(cluster), found));
            }
        }
    }
    let mut accept = Accept::Fresh;
    loop {
        let (st, presented, raw, index, serving) = (
            state.clone(),
            presented.clone(),
            raw.to_owned(),
            index.clone(),
            serving.clone(),
        );
        let now = state.tokens.clock.now();
        let (caller, found) = db::run(&state.pool, move |c| {
            let seen = presented.seen();
            let caller = match identify(c, &presented) {
                Ok(caller) => caller,
                Err(p) => {
                    // A node with a wrong or revoked token: counted per
                    // hour, as what is served is.
                    if p.status == StatusCode::UNAUTHORIZED.as_u16() {
                        serving.refused(None, presented.source());
                    }
                    return Ok(Err(p));
                }
            };
            if let Caller::Person(p) = &caller
                && let Err(refused) = p.admin()
            {
                return Ok(Err(refused));
            }
            let image = match ImageRef::parse(&raw) {
                Ok(image) => image,
                Err(m) => return Ok(Err(Problem::invalid_field("image", m))),
            };
            let found = db::read_tx(c, |c| {
                let index = index.read(Read::Db(c, seen))?;
                lookup(&index, &st.master, &image, now, accept)
            })?;
            if let Caller::Person(p) = &caller
                && !found.served.is_empty()
                && found.pending.is_empty()
            {
                let (actor, tx) = (p.actor(), db::write_tx(c)?);
                for s in &found.served {
                    audit::record(
                        &tx,
                        &actor.name,
                        action::SECRET_EXPORTED,
                        &format!("secret/{}", s.secret),
                        &actor.source,
                    )?;
                }
                tx.commit()?;
            }
            Ok(Ok((caller, found)))
        })
        .await??;
        if found.pending.is_empty() {
            return Ok((caller, found));
        }
        if accept == Accept::Valid {
            return Err(Problem::new(
                StatusCode::BAD_GATEWAY,
                "No registry token could be minted for an Amazon ECR secret that matches this image; try again later.",
            ));
        }
        let mut names: Vec<&str> = found.pending.iter().map(|(_, s)| s.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            // A failure is the second lookup's to judge (a kept token that
            // is still valid is given).
            if let Err(e) = crate::ecr::current_token(&state.minting(), name).await {
                tracing::warn!(secret = %name, error = %e, "no registry token for a credential lookup");
            }
        }
        accept = Accept::Valid;
    }
}
