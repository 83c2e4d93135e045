//! The background task of the credential lifecycle: every few seconds it
//! keeps the expiry
//! notifications that have come due, starts the login checks that have
//! (at most two at a time, spread out, never two of one secret), and
//! delivers what waits. Checks and deliveries run as tasks of their own,
//! so a slow registry or a receiver that never answers holds nothing up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::web;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::db;
use crate::domain::SecretId;
use crate::lifecycle::{CheckMode, notify};
use crate::state::AppState;

/// Login checks running at once, at most.
const PARALLEL_CHECKS: usize = 2;

/// Starts the task, if there is anything for it to do.
pub fn spawn(state: web::Data<AppState>) -> Option<JoinHandle<()>> {
    let s = &state.lifecycle;
    if s.check_every.is_none() && s.notify_url.is_none() {
        return None;
    }
    Some(tokio::spawn(run(state)))
}

async fn run(state: web::Data<AppState>) {
    let checks = Arc::new(Semaphore::new(PARALLEL_CHECKS));
    let delivering = Arc::new(AtomicBool::new(false));
    // A tenth of the period, between 1 and 30 seconds.
    let tick = state
        .lifecycle
        .check_every
        .map_or(30, |p| (p / 10).clamp(1, 30));
    loop {
        let today = db::today();
        let st = state.clone();
        if let Err(e) = db::run(&state.pool, move |c| {
            Ok(notify::plan_expiry_events(c, &st.lifecycle, today)?)
        })
        .await
        {
            tracing::warn!(error = %e, "planning expiry notifications failed");
        }
        if let Some(period) = state.lifecycle.check_every {
            start_due_checks(&state, &checks, period, tick).await;
        }
        if !delivering.swap(true, Ordering::AcqRel) {
            let (st, flag) = (state.clone(), delivering.clone());
            tokio::spawn(async move {
                if let Err(e) = notify::deliver_due(&st).await {
                    tracing::warn!(error = %e, "delivering notifications failed");
                }
                flag.store(false, Ordering::Release);
            });
        }
        tokio::time::sleep(Duration::from_secs(tick.unsigned_abs())).await;
    }
}

/// Starts a check of each registry secret (Image Pull, and Amazon ECR,
/// whose check mints its token first) whose last one is older than
/// `period` (or that was never checked) and is not being checked now,
/// each after a random pause within the tick, so they spread out.
async fn start_due_checks(
    state: &web::Data<AppState>,
    checks: &Arc<Semaphore>,
    period: i64,
    tick: i64,
) {
    let due = db::run(&state.pool, move |c| {
        let cutoff = db::now() - period;
        Ok(c.query_map(
            "SELECT id, name FROM secrets
             WHERE kind IN ('image_pull', 'ecr') AND (last_test_at IS NULL OR last_test_at <= ?1)
             ORDER BY last_test_at IS NOT NULL, last_test_at LIMIT 50",
            [cutoff],
            |r| Ok((r.get::<_, SecretId>(0)?, r.get::<_, String>(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?)
    })
    .await;
    let due = match due {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "finding due login checks failed");
            return;
        }
    };
    for (id, name) in due {
        if !state.begin_check(id) {
            continue;
        }
        let (st, checks) = (state.clone(), checks.clone());
        let pause = rand::random_range(0..(tick * 1000).max(1)).unsigned_abs();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            if let Ok(_permit) = checks.acquire().await {
                let wharf = crate::auth::Admin::background();
                if let Err(e) =
                    super::export::run_test_login(&st, &wharf, name.clone(), CheckMode::Scheduled)
                        .await
                {
                    tracing::warn!(secret = %name, error = %e, "scheduled login check failed to run");
                }
            }
            st.end_check(id);
        });
    }
}
