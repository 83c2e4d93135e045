//! What clusters were given, counted without a write per request: each
//! cluster's requests per hour (written once a minute, for "Requests in
//! the last 24 h"), and one audit entry per cluster, secret and hour, with
//! the count, written when the hour is over (or when wharf stops).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::web;
use tokio::task::JoinHandle;

use super::store;
use crate::audit;
use crate::auth::ClusterCaller;
use crate::db;
use crate::state::AppState;

#[derive(Default)]
struct Inner {
    /// (cluster id, cluster name, secret, hour) → (requests, last address).
    served: HashMap<(i64, String, String, i64), (u64, String)>,
    /// cluster id → hour → requests not written yet.
    requests: HashMap<(i64, i64), u64>,
}

/// The counts, as app data.
#[derive(Default)]
pub struct ServingLog(Mutex<Inner>);

/// One audit entry to write.
struct Entry {
    cluster: String,
    secret: String,
    hour: i64,
    count: u64,
    source: String,
}

fn hour_now() -> i64 {
    db::now() / 3600
}

impl ServingLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes one request of `cluster`, which was given `secrets`.
    pub fn note(&self, cluster: &ClusterCaller, secrets: &[&str]) {
        let hour = hour_now();
        let mut inner = self.lock();
        *inner.requests.entry((cluster.id, hour)).or_default() += 1;
        for s in secrets {
            let key = (cluster.id, cluster.name.clone(), (*s).to_owned(), hour);
            let slot = inner.served.entry(key).or_default();
            slot.0 += 1;
            slot.1.clone_from(&cluster.source);
        }
    }

    /// Takes the counts to write: every request count, and the served
    /// entries of hours that are over (all of them when `all`).
    fn take(&self, all: bool) -> (Vec<(i64, i64, u64)>, Vec<Entry>) {
        let now = hour_now();
        let mut inner = self.lock();
        let requests = inner
            .requests
            .drain()
            .map(|((cluster, hour), n)| (cluster, hour, n))
            .collect();
        let due: Vec<_> = inner
            .served
            .iter()
            .filter(|(k, _)| all || k.3 < now)
            .map(|(k, _)| k.clone())
            .collect();
        let entries = due
            .into_iter()
            .filter_map(|k| {
                let (count, source) = inner.served.remove(&k)?;
                Some(Entry {
                    cluster: k.1,
                    secret: k.2,
                    hour: k.3,
                    count,
                    source,
                })
            })
            .collect();
        (requests, entries)
    }
}

/// "credentials served (3 requests in the hour from 14:00 UTC)".
fn action(count: u64, hour: i64) -> String {
    let from = db::format_time_exact(hour * 3600);
    let requests = if count == 1 {
        "1 request".to_owned()
    } else {
        format!("{count} requests")
    };
    format!(
        "{} ({requests} in the hour from {from})",
        audit::action::CREDENTIALS_SERVED
    )
}

/// Writes what is due (everything when `all`: wharf is stopping).
pub async fn flush(
    state: &AppState,
    log: &ServingLog,
    all: bool,
) -> Result<(), crate::error::AppError> {
    let (requests, entries) = log.take(all);
    if requests.is_empty() && entries.is_empty() {
        return Ok(());
    }
    db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        for (cluster, hour, n) in requests {
            store::add_requests(&tx, cluster, hour, n)?;
        }
        for e in entries {
            audit::record(
                &tx,
                &format!("cluster {}", e.cluster),
                &action(e.count, e.hour),
                &format!("secret/{}", e.secret),
                &e.source,
            )?;
        }
        tx.commit()?;
        Ok(())
    })
    .await
}

/// Flushes once a minute until aborted.
pub fn spawn(state: web::Data<AppState>, log: web::Data<ServingLog>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = flush(&state, &log, false).await {
                tracing::warn!(error = %e, "writing cluster request counts failed");
            }
        }
    })
}
