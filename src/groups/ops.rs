//! The Groups area's writes, one operation each: check the fields, store
//! the group and its members, and audit, in one transaction. The pages and
//! the API both call these.

use super::form::GroupForm;
use super::store::{self, Group, WriteError};
use crate::audit::{self, Actor, Outcome, action, audited};
use crate::auth::Admin;
use crate::ops::{Failure, OpResult};
use crate::state::AppState;

fn failure(e: WriteError) -> Failure {
    match e {
        WriteError::Duplicate(_) => Failure::taken("name", &e),
        WriteError::Stale => Failure::stale("group", &e),
        WriteError::Missing(n) => Failure::missing("group", &n),
        WriteError::Db(e) => e.into(),
    }
}

/// Stores a checked group: new (`expected` None) or at that version.
async fn write(
    state: &AppState,
    actor: Actor,
    name: &str,
    input: &GroupForm,
    expected: Option<i64>,
) -> OpResult<String> {
    let (name, display, description) = input.parse(name).map_err(Failure::Invalid)?;
    let n = name.as_str().to_owned();
    let members = input.members.clone();
    let action = match expected {
        None => action::GROUP_CREATED,
        Some(_) => action::GROUP_UPDATED,
    };
    let outcome = audited(&state.pool, actor, action, format!("group/{n}"), move |c| {
        let w = store::Write {
            name: name.as_str(),
            display_name: display.as_str(),
            description: &description,
            members: &members,
        };
        Ok(match expected {
            None => store::insert(c, &w).map(|_| ()).into(),
            Some(v) => store::update(c, &w, v).into(),
        })
    })
    .await?;
    match outcome {
        Outcome::Done(()) => Ok(n),
        Outcome::Refused(e) => Err(failure(e)),
    }
}

/// Adds a group with its members; returns its name.
pub async fn create(state: &AppState, by: &Admin, input: &GroupForm) -> OpResult<String> {
    let actor = by.actor();
    write(state, actor, &input.name, input, None).await
}

/// Changes `stored` to `input`'s fields and members (the name stays), if
/// it is still at `expected`.
pub async fn update(
    state: &AppState,
    by: &Admin,
    stored: &Group,
    input: &GroupForm,
    expected: i64,
) -> OpResult<()> {
    let actor = by.actor();
    write(state, actor, &stored.name, input, Some(expected))
        .await
        .map(drop)
}

/// Deletes a group; its images lose it (they are not deleted).
pub async fn delete(state: &AppState, by: &Admin, name: &str) -> OpResult<()> {
    let actor = by.actor();
    audit::delete_named(
        &state.pool,
        actor,
        ("group", action::GROUP_DELETED),
        name,
        store::delete,
    )
    .await?;
    Ok(())
}
