//! What clusters were given, and refused, counted without a write per
//! request: each cluster's requests per hour (for "Requests in the last
//! 24 h"), and one audit entry per cluster, secret and hour with the
//! running count ("credentials served (3 requests in the hour from 14:00
//! UTC)"), and one per cluster (or unknown token) and hour for refused
//! lookups. Written once a minute, so a crash loses at most a minute; each
//! write adds to the hour's count and rewrites its entry (one upsert per
//! cluster, secret and hour, not a row per request).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::db::Conn;
use actix_web::web;
use rusqlite::params;
use tokio::task::JoinHandle;

use super::store;
use crate::audit;
use crate::auth::ClusterCaller;
use crate::db;
use crate::state::AppState;

/// Who a refused lookup is counted for when its token is no cluster's.
pub const UNKNOWN_TOKEN: &str = "unknown token";

/// How many hours of running counts are kept beside the audit entries.
const KEEP_HOURS: i64 = 48;

/// An hour's count of one kind: (actor, target, served or refused, hour).
type Key = (String, String, Outcome, i64);

/// What a counted request got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Outcome {
    Served,
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Served => "served",
            Self::Refused => "refused",
        }
    }
}

#[derive(Clone, Default)]
struct Inner {
    /// Counts not written yet → (requests, last address).
    counts: HashMap<Key, (u64, String)>,
    /// cluster id → hour → requests not written yet.
    requests: HashMap<(i64, i64), u64>,
}

/// The counts, as app data.
#[derive(Default)]
pub struct ServingLog(Mutex<Inner>);

fn hour_now() -> i64 {
    db::now() / 3600
}

impl ServingLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(inner: &mut Inner, key: Key, source: &str) {
        let slot = inner.counts.entry(key).or_default();
        slot.0 += 1;
        source.clone_into(&mut slot.1);
    }

    /// Notes one request of `cluster`, which was given `secrets`.
    pub fn note(&self, cluster: &ClusterCaller, secrets: &[&str]) {
        let hour = hour_now();
        let mut inner = self.lock();
        *inner.requests.entry((cluster.id(), hour)).or_default() += 1;
        let actor = cluster.actor().name;
        for s in secrets {
            let key = (actor.clone(), format!("secret/{s}"), Outcome::Served, hour);
            Self::count(&mut inner, key, cluster.source());
        }
    }

    /// Notes one refused lookup: of `cluster` (a route it may not use, a
    /// secret that is not delivered), or of a token that is no cluster's
    /// (`None`), from `source`.
    pub fn refused(&self, cluster: Option<&ClusterCaller>, source: &str) {
        let hour = hour_now();
        let mut inner = self.lock();
        let actor = cluster.map_or_else(|| UNKNOWN_TOKEN.to_owned(), |c| c.actor().name);
        if let Some(c) = cluster {
            *inner.requests.entry((c.id(), hour)).or_default() += 1;
        }
        Self::count(
            &mut inner,
            (actor, String::new(), Outcome::Refused, hour),
            source,
        );
    }

    /// Takes every count not written yet.
    fn take(&self) -> Inner {
        std::mem::take(&mut *self.lock())
    }

    /// Puts back counts whose write failed, so the next flush has them.
    fn restore(&self, failed: Inner) {
        let mut inner = self.lock();
        for (k, (n, source)) in failed.counts {
            let slot = inner.counts.entry(k).or_default();
            slot.0 += n;
            if slot.1.is_empty() {
                slot.1 = source;
            }
        }
        for (k, n) in failed.requests {
            *inner.requests.entry(k).or_default() += n;
        }
    }
}

/// "credentials served (3 requests in the hour from 14:00 UTC)", or
/// "credential lookups refused (…)".
fn action(outcome: Outcome, count: i64, hour: i64) -> String {
    let from = db::format_time_exact(hour * 3600);
    let requests = crate::domain::count(count, "request");
    let what = match outcome {
        Outcome::Served => audit::action::CREDENTIALS_SERVED,
        Outcome::Refused => audit::action::CREDENTIALS_REFUSED,
    };
    format!("{what} ({requests} in the hour from {from})")
}

/// Adds `n` requests to the hour's running count and writes its audit
/// entry anew (the first time, a new entry).
fn upsert(conn: &Conn<'_>, key: &Key, n: u64, source: &str) -> rusqlite::Result<()> {
    let (actor, target, outcome, hour) = key;
    let (total, audit_id): (i64, Option<i64>) = conn.query_row(
        "INSERT INTO serving_hours (actor, target, outcome, hour, requests)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (actor, target, outcome, hour)
               DO UPDATE SET requests = serving_hours.requests + excluded.requests
             RETURNING requests, audit_id",
        params![
            actor,
            target,
            outcome.as_str(),
            hour,
            i64::try_from(n).unwrap_or(i64::MAX)
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let words = action(*outcome, total, *hour);
    let rewritten = match audit_id {
        Some(id) => {
            conn.execute(
                "UPDATE audit_log SET action = ?2, source = ?3 WHERE id = ?1",
                params![id, words, source],
            )? > 0
        }
        None => false,
    };
    if !rewritten {
        let entry = audit::record(conn, actor, &words, target, source)?;
        conn.execute(
            "UPDATE serving_hours SET audit_id = ?5
              WHERE actor = ?1 AND target = ?2 AND outcome = ?3 AND hour = ?4",
            params![actor, target, outcome.as_str(), hour, entry],
        )?;
    }
    Ok(())
}

/// Writes every count not written yet, in one transaction; if it is not
/// written (the database refused, or could not be reached), the counts
/// are kept for the next try.
pub async fn flush(state: &AppState, log: &ServingLog) -> Result<(), crate::error::AppError> {
    let taken = log.take();
    if taken.counts.is_empty() && taken.requests.is_empty() {
        return Ok(());
    }
    let kept = taken.clone();
    let written = db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        for (&(cluster, hour), &n) in &taken.requests {
            store::add_requests(&tx, cluster, hour, n)?;
        }
        for (key, (n, source)) in &taken.counts {
            upsert(&tx, key, *n, source)?;
        }
        tx.execute(
            "DELETE FROM serving_hours WHERE hour < ?1",
            [hour_now() - KEEP_HOURS],
        )?;
        tx.commit()?;
        Ok(())
    })
    .await;
    if written.is_err() {
        log.restore(kept);
    }
    written
}

/// Flushes every `every` (`--serving-flush-every`) until aborted.
pub fn spawn(
    state: web::Data<AppState>,
    log: web::Data<ServingLog>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = flush(&state, &log).await {
                tracing::warn!(error = %e, "writing what clusters were served failed");
            }
        }
    })
}

/// A cluster that was given a secret: how many times, and the last hour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The cluster's name.
    pub cluster: String,
    /// Requests it was served the secret in.
    pub requests: i64,
    /// The last hour it was (Unix seconds of its start).
    pub last: i64,
}

impl Fetched {
    /// "cluster prod-eu (120 requests, last in the hour from 2026-12-07 20:00 UTC)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, last in the hour from {})",
            self.cluster,
            crate::domain::count(self.requests, "request"),
            crate::db::format_time(self.last)
        )
    }
}

/// The clusters that were given `secret` since `since` (Unix seconds), the
/// most recent first, as the counts are written (once a minute,
/// `--serving-flush-every`).
pub fn fetched_by(conn: &Conn<'_>, secret: &str, since: i64) -> rusqlite::Result<Vec<Fetched>> {
    let prefix = crate::auth::cluster_actor("");
    conn.query_map(
        "SELECT substr(actor, length(CAST(?3 AS TEXT)) + 1), CAST(SUM(requests) AS BIGINT), MAX(hour) FROM serving_hours
          WHERE target = ?1 AND outcome = 'served' AND hour >= ?2 AND actor LIKE ?3 || '%'
          GROUP BY actor ORDER BY MAX(hour) DESC, actor",
        rusqlite::params![format!("secret/{secret}"), since.div_euclid(3600), prefix],
        |r| {
            Ok(Fetched {
                cluster: r.get(0)?,
                requests: r.get(1)?,
                last: r.get::<usize, i64>(2)? * 3600,
            })
        },
    )?
    .collect()
}
