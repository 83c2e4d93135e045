//! The Images area's writes, one operation each: check the fields against
//! the rules and against the secrets and groups there are now, store and
//! audit in one transaction. The pages and the API both call these.

use super::form::{Choices, ImageInput, Valid};
use super::store::{self, Image, WriteError};
use crate::audit::{self, action, audited};
use crate::auth::Admin;
use crate::db;
use crate::ops::{Failure, OpResult};
use crate::state::AppState;

/// Which field a refused write belongs beside, and its message.
fn failure(e: WriteError) -> Failure {
    match e {
        WriteError::Duplicate(_) => Failure::taken("name", &e),
        WriteError::Stale => Failure::stale("image", &e),
        WriteError::SecretGone => Failure::field("pull_secret", e.to_string()),
        WriteError::GroupGone => Failure::field("groups", e.to_string()),
        WriteError::Missing(n) => Failure::missing("image", &n),
        WriteError::Db(e) => e.into(),
    }
}

/// The form checked against the rules and the chosen secret and groups.
async fn parse(state: &AppState, name: &str, input: &ImageInput) -> OpResult<Valid> {
    let wanted = input.pull_secret.clone();
    let check = db::run(&state.pool, move |c| Ok(Choices::for_save(c, &wanted)?)).await?;
    input.parse(name, &check).map_err(Failure::Invalid)
}

/// Adds an image from its fields; returns its name.
pub async fn create(state: &AppState, by: &Admin, input: &ImageInput) -> OpResult<String> {
    let actor = by.actor();
    let valid = parse(state, &input.name, input).await?;
    let name = valid.name.to_string();
    let outcome = audited(
        &state.pool,
        actor,
        action::IMAGE_CREATED,
        format!("image/{name}"),
        move |c| Ok(store::insert(c, &valid.write()).into()),
    )
    .await?;
    outcome.into_result().map(|_| name).map_err(failure)
}

/// Changes `stored` to `input`'s fields (the name stays), if it is still
/// at `expected`.
pub async fn update(
    state: &AppState,
    by: &Admin,
    stored: &Image,
    input: &ImageInput,
    expected: i64,
) -> OpResult<()> {
    let actor = by.actor();
    let valid = parse(state, &stored.name, input).await?;
    let outcome = audited(
        &state.pool,
        actor,
        action::IMAGE_UPDATED,
        format!("image/{}", stored.name),
        move |c| Ok(store::update(c, &valid.write(), expected).into()),
    )
    .await?;
    outcome.into_result().map_err(failure)
}

/// Deletes an image (what it used stays).
pub async fn delete(state: &AppState, by: &Admin, name: &str) -> OpResult<()> {
    let actor = by.actor();
    audit::delete_named(
        &state.pool,
        actor,
        ("image", action::IMAGE_DELETED),
        name,
        store::delete,
    )
    .await?;
    Ok(())
}
