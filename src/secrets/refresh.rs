//! Keeps the tokens of delivered ECR secrets fresh ahead of need, so that
//! a node's image pull never waits for a mint: each is replaced when half
//! its life is gone. A failed mint is tried again a minute later, then
//! less often (at most every 15 minutes), and shows on the secret as a
//! failing login check with AWS's reason.

use std::collections::HashMap;

use actix_web::web;
use tokio::task::JoinHandle;

use crate::db;
use crate::domain::{SecretId, TokenLife};
use crate::ecr::{TokenError, obtain};
use crate::state::AppState;

/// The longest sleep between passes: a secret delivered meanwhile is
/// looked at within this (its first lookup mints anyway).
const MAX_SLEEP: i64 = 300;

/// Starts the task.
pub fn spawn(state: web::Data<AppState>) -> JoinHandle<()> {
    tokio::spawn(run(state))
}

/// A delivered ECR secret and its token's life.
struct Due {
    id: SecretId,
    name: String,
    refresh_at: Option<i64>,
}

async fn run(state: web::Data<AppState>) {
    // Per secret: failures in a row, and when to try again.
    let mut backoff: HashMap<SecretId, (u32, i64)> = HashMap::new();
    loop {
        let clock = state.tokens.clock.clone();
        let now = clock.now();
        let next = match delivered(&state).await {
            Ok(all) => {
                backoff.retain(|id, _| all.iter().any(|d| d.id == *id));
                let mut next = now + MAX_SLEEP;
                for d in all {
                    let retry_at = backoff.get(&d.id).map(|(_, at)| *at);
                    let due_at = d
                        .refresh_at
                        .unwrap_or(now)
                        .max(retry_at.unwrap_or(i64::MIN));
                    if due_at > now {
                        next = next.min(due_at);
                        continue;
                    }
                    match refresh_one(&state, &d.name).await {
                        Ok(refresh_at) => {
                            backoff.remove(&d.id);
                            next = next.min(refresh_at);
                        }
                        Err(()) => {
                            let failures = backoff.get(&d.id).map_or(0, |(n, _)| *n) + 1;
                            let wait = (60_i64 << (failures - 1).min(4)).min(900);
                            let at = clock.now() + wait;
                            backoff.insert(d.id, (failures, at));
                            next = next.min(at);
                        }
                    }
                }
                next
            }
            Err(e) => {
                tracing::warn!(error = %e, "finding ECR tokens to refresh failed");
                now + 60
            }
        };
        clock.sleep_until(next.max(now + 1)).await;
    }
}

/// Every delivered ECR secret, with when its token is due (half its life).
async fn delivered(state: &AppState) -> Result<Vec<Due>, crate::error::AppError> {
    db::run(&state.pool, |c| {
        Ok(c.query_map("SELECT id, name, token_minted_at, token_expires_at
                   FROM secrets WHERE kind = 'ecr' AND deliver = 1 ORDER BY token_expires_at NULLS FIRST", (), |r| {
            Ok(Due {
                id: r.get(0)?,
                name: r.get(1)?,
                refresh_at: TokenLife::of(r.get(2)?, r.get(3)?).map(|l| l.refresh_at()),
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
    })
    .await
}

/// Refreshes one secret's token; when the new one is due in turn. A
/// failure is kept on the secret as a failing check (a change of state is
/// audited and notified like any other).
async fn refresh_one(state: &web::Data<AppState>, name: &str) -> Result<i64, ()> {
    match obtain(&state.minting(), name).await {
        Ok((token, None)) => {
            let life = token.life;
            super::export::record_mint(state, name, Ok(life)).await;
            Ok(life.refresh_at())
        }
        // ECR refused; the old token is still valid and given meanwhile.
        Ok((_, Some(e))) | Err(TokenError::Mint(e)) => {
            super::export::record_mint(state, name, Err(e.to_string())).await;
            Err(())
        }
        Err(e) => {
            tracing::warn!(secret = %name, error = %e, "refreshing an ECR token failed");
            Err(())
        }
    }
}
