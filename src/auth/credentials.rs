//! Checking a password, the one way sign-in and "change your password" both
//! do it: the throttle first (429 before any hashing), the try counted as a
//! failure before argon2 runs (so parallel guesses cannot slip under the
//! limit), argon2 within its process-wide bound, and the count cleared on
//! success.

use super::store::{self, User};
use super::throttle;
use crate::db;
use crate::domain::{UserId, Username};
use crate::error::AppError;
use crate::state::AppState;

/// The audit log's actor for a failed sign-in that matched no account.
pub const UNKNOWN_USER: &str = "(unknown user)";

/// Whose password is being checked.
pub enum Claimant {
    /// Someone signing in, by the name they typed (already lowercased).
    Named(String),
    /// A signed-in user confirming their current password.
    SignedIn(UserId),
}

/// What the check found.
pub struct Checked {
    /// The account, when the password was right and the account active.
    pub user: Option<User>,
    /// Whether the claimant named an existing account at all.
    pub matched: bool,
}

/// Checks `password` for `claimant`. Failures are counted under
/// `throttle_name` and the client address `source`.
pub async fn check(
    state: &AppState,
    claimant: Claimant,
    throttle_name: String,
    source: String,
    password: String,
) -> Result<Checked, AppError> {
    let name = throttle_name.clone();
    let found = db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        if let Some(wait) = throttle::retry_after(&tx, &name, &source)? {
            return Err(AppError::TooManyRequests(wait));
        }
        throttle::record_failure(&tx, &name, &source)?;
        let found = match &claimant {
            // What cannot be a username is not looked up.
            Claimant::Named(typed) => match Username::parse(typed) {
                Ok(_) => store::credentials_by_name(&tx, typed)?,
                Err(_) => None,
            },
            Claimant::SignedIn(id) => store::credentials_by_id(&tx, *id)?,
        };
        tx.commit()?;
        Ok(found)
    })
    .await?;
    let matched = found.is_some();
    // An account without a password is checked against the dummy hash, so
    // its sign-in takes as long as any other and fails.
    let hash = found
        .as_ref()
        .map(|f| f.password_hash.clone())
        .filter(|h| h != store::NO_PASSWORD);
    let right = state.hashing.verify(hash, password).await?;
    let user = found.filter(|f| right && f.user.active).map(|f| f.user);
    if user.is_some() {
        db::run(&state.pool, move |c| {
            Ok(throttle::clear(c, &throttle_name)?)
        })
        .await?;
    }
    Ok(Checked { user, matched })
}
