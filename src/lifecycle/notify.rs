//! Notifications: decided once per secret and state (kept in the
//! `notifications` table), delivered to `--notify-url` with retries.

use std::time::Duration;

use rusqlite::{Connection, params};
use serde_json::json;

use super::LifecycleSettings;
use crate::audit;
use crate::db;
use crate::domain::{ExpiryDate, SecretId};
use crate::error::AppError;
use crate::state::AppState;

/// Tries before a delivery is given up.
pub const MAX_TRIES: i64 = 5;

/// How long a receiver may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What happened to a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Its login check started failing.
    LoginFailing,
    /// Its login check works again.
    LoginRecovered,
    /// It expires within this many days (30, 7 or 1).
    Expiring(i64),
    /// It has expired.
    Expired,
}

impl Event {
    /// The `event` field.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginFailing => "login_failing",
            Self::LoginRecovered => "login_recovered",
            Self::Expiring(_) => "expiring",
            Self::Expired => "expired",
        }
    }
}

/// What a notification says about its secret.
pub struct About<'a> {
    pub id: SecretId,
    pub name: &'a str,
    pub display_name: &'a str,
    pub registry_host: Option<&'a str>,
    pub expires_on: Option<&'a str>,
    /// The last login check's message.
    pub message: Option<&'a str>,
}

impl About<'_> {
    fn label(&self) -> &str {
        if self.display_name.is_empty() {
            self.name
        } else {
            self.display_name
        }
    }

    fn place(&self) -> String {
        match self.registry_host {
            Some(h) => format!("secret {} ({h})", self.label()),
            None => format!("secret {}", self.label()),
        }
    }
}

/// The JSON body: `text` is one sentence for chat webhooks.
fn payload(
    about: &About<'_>,
    event: Event,
    days_left: Option<i64>,
    s: &LifecycleSettings,
) -> String {
    let place = about.place();
    let text = match event {
        Event::LoginFailing => format!(
            "Registry login for {place} is failing: {}",
            about.message.unwrap_or("the registry refused it.")
        ),
        Event::LoginRecovered => format!("Registry login for {place} works again."),
        Event::Expiring(_) => {
            let n = days_left.unwrap_or(0);
            format!(
                "The credential of {place} expires in {n} day{} (on {}).",
                if n == 1 { "" } else { "s" },
                about.expires_on.unwrap_or("?")
            )
        }
        Event::Expired => format!(
            "The credential of {place} expired on {}.",
            about.expires_on.unwrap_or("?")
        ),
    };
    let mut body = json!({
        "text": text,
        "event": event.name(),
        "secret": about.name,
        "display_name": about.display_name,
        "registry_host": about.registry_host,
        "expires_on": about.expires_on,
        "message": about.message,
    });
    if let Some(base) = &s.public_url {
        body["url"] = json!(format!(
            "{}/admin/secrets/{}",
            base.trim_end_matches('/'),
            about.name
        ));
    }
    if let Event::Expiring(threshold) = event {
        body["days"] = json!(threshold);
    }
    body.to_string()
}

/// Keeps a notification to send, once per `key` and secret; nothing when
/// no notify URL is set. Returns whether it is new.
pub fn enqueue(
    conn: &Connection,
    s: &LifecycleSettings,
    about: &About<'_>,
    event: Event,
    key: &str,
    days_left: Option<i64>,
) -> rusqlite::Result<bool> {
    if s.notify_url.is_none() {
        return Ok(false);
    }
    let now = db::now();
    Ok(conn
        .prepare_cached(
            "INSERT OR IGNORE INTO notifications (secret_id, key, event, payload, created_at, next_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![
            about.id,
            key,
            event.name(),
            payload(about, event, days_left, s),
            now
        ])?
        == 1)
}

/// Keeps the expiry notifications due on `today`: for each secret with a
/// date, the nearest of 30, 7 and 1 days before it that has been reached,
/// or `expired` once it has passed. Each is kept once per secret and date,
/// whatever day this runs on. Returns how many are new.
pub fn plan_expiry_events(
    conn: &Connection,
    s: &LifecycleSettings,
    today: time::Date,
) -> rusqlite::Result<usize> {
    if s.notify_url.is_none() {
        return Ok(0);
    }
    let rows: Vec<(SecretId, String, String, Option<String>, String)> = conn
        .prepare_cached(
            "SELECT id, name, display_name, registry_host, expires_on FROM secrets
             WHERE expires_on IS NOT NULL AND expires_on <= date(?1, '+30 days')",
        )?
        .query_map([today.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut new = 0;
    for (id, name, display_name, host, date) in rows {
        let Ok(Some(expiry)) = ExpiryDate::parse(&date) else {
            continue;
        };
        let left = (expiry.0 - today).whole_days();
        let (event, key) = if left <= 0 {
            (Event::Expired, format!("expired:{date}"))
        } else {
            let Some(t) = [1, 7, 30].into_iter().find(|t| left <= *t) else {
                continue;
            };
            (Event::Expiring(t), format!("expiring:{t}:{date}"))
        };
        let about = About {
            id,
            name: &name,
            display_name: &display_name,
            registry_host: host.as_deref(),
            expires_on: Some(&date),
            message: None,
        };
        if enqueue(conn, s, &about, event, &key, Some(left))? {
            new += 1;
        }
    }
    Ok(new)
}

/// A claimed delivery.
struct Due {
    id: i64,
    payload: String,
    attempts: i64,
    secret: String,
}

/// Sends what is due, a few at a time; each outcome goes to the audit log
/// as `wharf`'s. Failures wait 2, 4, 8, 16 s; the fifth gives up.
pub async fn deliver_due(state: &AppState) -> Result<(), AppError> {
    let Some(url) = state.lifecycle.notify_url.clone() else {
        return Ok(());
    };
    let due: Vec<Due> = db::run(&state.pool, |c| {
        let tx = db::write_tx(c)?;
        let now = db::now();
        let due: Vec<Due> = tx
            .prepare_cached(
                "SELECT id, payload, attempts FROM notifications
                 WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= ?1
                   AND (claimed_until IS NULL OR claimed_until < ?1)
                 ORDER BY id LIMIT 10",
            )?
            .query_map([now], |r| {
                let payload: String = r.get(1)?;
                let secret = serde_json::from_str::<serde_json::Value>(&payload)
                    .ok()
                    .and_then(|v| v["secret"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                Ok(Due {
                    id: r.get(0)?,
                    payload,
                    attempts: r.get(2)?,
                    secret,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        for d in &due {
            tx.execute(
                "UPDATE notifications SET claimed_until = ?2 WHERE id = ?1",
                params![d.id, now + 60],
            )?;
        }
        tx.commit()?;
        Ok(due)
    })
    .await?;
    for d in due {
        let outcome = post(&url, d.payload).await;
        state.metrics.notification(outcome.is_ok());
        let attempts = d.attempts + 1;
        db::run(&state.pool, move |c| {
            let tx = db::write_tx(c)?;
            let now = db::now();
            let target = format!("secret/{}", d.secret);
            let action = match &outcome {
                Ok(()) => {
                    tx.execute(
                        "UPDATE notifications SET delivered_at = ?2, attempts = ?3, claimed_until = NULL
                         WHERE id = ?1",
                        params![d.id, now, attempts],
                    )?;
                    "notification delivered".to_owned()
                }
                Err(why) if attempts >= MAX_TRIES => {
                    tx.execute(
                        "UPDATE notifications SET failed_at = ?2, attempts = ?3, last_error = ?4,
                             claimed_until = NULL WHERE id = ?1",
                        params![d.id, now, attempts, why],
                    )?;
                    format!("notification failed, gave up after {attempts} tries ({why})")
                }
                Err(why) => {
                    let wait = 1i64 << attempts.clamp(1, 4);
                    tx.execute(
                        "UPDATE notifications SET attempts = ?3, last_error = ?4, next_at = ?2,
                             claimed_until = NULL WHERE id = ?1",
                        params![d.id, now + wait, attempts, why],
                    )?;
                    format!("notification failed, try {attempts} of {MAX_TRIES} ({why})")
                }
            };
            audit::record(&tx, "wharf", &action, &target, "")?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// POSTs one notification; `Err` says why it did not arrive.
async fn post(url: &str, body: String) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    match client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("no answer within 10 s".into()),
        Err(_) => Err("could not connect".into()),
    }
}

/// "Send test notification": one at once, its outcome audited.
pub async fn send_test(
    state: &AppState,
    actor: audit::Actor,
) -> Result<Result<(), String>, AppError> {
    let Some(url) = state.lifecycle.notify_url.clone() else {
        return Ok(Err("No notify URL is set (--notify-url).".into()));
    };
    let body = json!({
        "text": "This is a test notification from wharf: notifications reach you.",
        "event": "test",
    })
    .to_string();
    let outcome = post(&url, body).await;
    let action = match &outcome {
        Ok(()) => "test notification delivered".to_owned(),
        Err(why) => format!("test notification failed ({why})"),
    };
    audit::record_alone(&state.pool, actor, action, String::new()).await?;
    Ok(outcome)
}
