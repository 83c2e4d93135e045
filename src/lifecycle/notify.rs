//! Notifications: decided once per secret and state (kept in the
//! `notifications` table), delivered to `--notify-url` with retries.

use std::time::Duration;

use crate::db::Conn;
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use super::LifecycleSettings;
use crate::audit;
use crate::db;
use crate::domain::{ExpiryDate, SecretId, truncate};
use crate::error::AppError;
use crate::state::AppState;

/// Tries before a delivery is given up.
pub const MAX_TRIES: i64 = 12;

/// How long a receiver may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Seconds a sender holds a delivery it claimed: well past [`TIMEOUT`], so
/// the claim covers the send however slowly the receiver answers.
const LEASE: i64 = 60;

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
    // The message is the registry's words: inert before it reaches chat.
    let message = about.message.map(chat_safe);
    let text = match event {
        Event::LoginFailing => format!(
            "Registry login for {place} is failing: {}",
            message.as_deref().unwrap_or("the registry refused it.")
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
        "message": message,
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
    conn: &Conn<'_>,
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
    Ok(conn.execute(
        "INSERT INTO notifications (secret_id, key, event, payload, created_at, next_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING",
        params![
            about.id,
            key,
            event.name(),
            payload(about, event, days_left, s),
            now
        ],
    )? == 1)
}

/// Keeps the expiry notifications due on `today`: for each secret with a
/// date, the nearest of 30, 7 and 1 days before it that has been reached,
/// or `expired` once it has passed. Each is kept once per secret and date,
/// whatever day this runs on. Returns how many are new.
pub fn plan_expiry_events(
    conn: &Conn<'_>,
    s: &LifecycleSettings,
    today: time::Date,
) -> rusqlite::Result<usize> {
    if s.notify_url.is_none() {
        return Ok(0);
    }
    let rows: Vec<(SecretId, String, String, Option<String>, String)> = conn
        .query_map(
            "SELECT id, name, display_name, registry_host, expires_on FROM secrets
             WHERE expires_on IS NOT NULL AND expires_on <= ?1",
            [super::expiring_until(today)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?
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
            let Some(t) = super::WARN_DAYS.into_iter().find(|t| left <= *t) else {
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
    /// The claim's token: only its holder records the outcome.
    claim: String,
}

/// Claims the oldest due delivery for [`LEASE`] seconds, if any is due.
fn claim_next(conn: &Conn<'_>) -> rusqlite::Result<Option<Due>> {
    let tx = db::write_tx(conn)?;
    let now = db::now();
    let claim = format!("{:016x}", rand::random::<u64>());
    let due = tx
        .query_row(
            "UPDATE notifications SET claimed_until = ?2, claimed_by = ?3
             WHERE id = (SELECT id FROM notifications
                         WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= ?1
                           AND (claimed_until IS NULL OR claimed_until < ?1)
                         ORDER BY next_at, id LIMIT 1)
             RETURNING id, payload, attempts",
            params![now, now + LEASE, claim],
            |r| {
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
                    claim: claim.clone(),
                })
            },
        )
        .optional()?;
    tx.commit()?;
    Ok(due)
}

/// Seconds to wait after the `attempts`-th failed try: 5 s, doubling, at
/// most an hour, so twelve tries span about two and a half hours.
pub fn backoff(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (5i64 << doublings).min(3600)
}

/// Records how a try of `d` went, if `d`'s claim still holds.
fn finish(conn: &Conn<'_>, d: &Due, outcome: &Result<(), String>) -> rusqlite::Result<()> {
    let tx = db::write_tx(conn)?;
    let now = db::now();
    let attempts = d.attempts + 1;
    let (delivered, failed, next, error) = match outcome {
        Ok(()) => (Some(now), None, None, None),
        Err(why) if attempts >= MAX_TRIES => (None, Some(now), None, Some(why.as_str())),
        Err(why) => (
            None,
            None,
            Some(now + backoff(attempts)),
            Some(why.as_str()),
        ),
    };
    let held = tx.execute(
        "UPDATE notifications SET attempts = ?3, delivered_at = ?4, failed_at = ?5,
                 next_at = COALESCE(?6, next_at), last_error = COALESCE(?7, last_error),
                 claimed_until = NULL, claimed_by = NULL
             WHERE id = ?1 AND claimed_by = ?2",
        params![d.id, d.claim, attempts, delivered, failed, next, error],
    )? == 1;
    if !held {
        // The lease ran out and another sender has the row now; whatever it
        // does is what is recorded.
        tracing::warn!(
            notification = d.id,
            "a notification's claim ran out before its outcome was recorded"
        );
        return Ok(());
    }
    let action = match outcome {
        Ok(()) => crate::audit::action::NOTIFICATION_DELIVERED.to_owned(),
        Err(why) if attempts >= MAX_TRIES => {
            format!("notification failed, gave up after {attempts} tries ({why})")
        }
        Err(why) => format!("notification failed, try {attempts} of {MAX_TRIES} ({why})"),
    };
    audit::record(&tx, "wharf", &action, &format!("secret/{}", d.secret), "")?;
    tx.commit()
}

/// Sends what is due, one at a time, each under a claim that outlasts its
/// send ([`LEASE`] against a [`TIMEOUT`]), so another `wharf serve` on the
/// same database never sends it too; each outcome goes to the audit log as
/// `wharf`'s. Failures are tried again after [`backoff`]; the
/// [`MAX_TRIES`]th gives up.
pub async fn deliver_due(state: &AppState) -> Result<(), AppError> {
    let Some(url) = state.lifecycle.notify_url.clone() else {
        return Ok(());
    };
    while let Some(d) = db::run(&state.pool, |c| Ok(claim_next(c)?)).await? {
        let outcome = post(&url, d.payload.clone()).await;
        state.metrics.notification(outcome.is_ok());
        db::run(&state.pool, move |c| Ok(finish(c, &d, &outcome)?)).await?;
    }
    Ok(())
}

/// The client for receivers: no redirects (a 3xx would turn the POST into
/// a body-less GET elsewhere, and the final 200 would read as delivered),
/// no `Referer` (a Slack-style hook's URL is itself a secret).
fn webhook_client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: std::sync::OnceLock<Result<reqwest::Client, String>> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
                .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// POSTs one notification; `Err` says why it did not arrive.
async fn post(url: &str, body: String) -> Result<(), String> {
    let client = webhook_client()?;
    match client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) if r.status().is_redirection() => Err(format!(
            "HTTP {}, a redirect to {}, not followed",
            r.status().as_u16(),
            redirect_target(url, &r)
        )),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("no answer within 10 s".into()),
        Err(_) => Err("could not connect".into()),
    }
}

/// Where a receiver redirected to, as far as it is safe to keep: the
/// origin, and whether the path is the hook's own (a Slack-style hook's
/// path is its secret, so no path is ever kept).
fn redirect_target(hook: &str, r: &reqwest::Response) -> String {
    let Some(location) = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return "nowhere (no Location)".into();
    };
    let Ok(to) = r.url().join(location) else {
        return "an address that is not a URL".into();
    };
    let same_path = reqwest::Url::parse(hook).is_ok_and(|h| h.path() == to.path());
    let origin: String = to
        .origin()
        .ascii_serialization()
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let origin = truncate(&origin, 200);
    if same_path {
        format!("{origin} (the same path)")
    } else {
        format!("{origin} (another path)")
    }
}

/// Text that came from a registry, made inert for chat: Slack reads
/// `<!channel>` as a mention and `<url|label>` as a link, Mattermost and
/// Discord `@channel`, `@here`, `@all`, `@everyone` as mentions and
/// `[label](url)` or `![](url)` as links and images. So `<`, `>`, `&`, `|`,
/// `[`, `]` and control characters go, and an `@` is followed by a
/// zero-width space, which breaks every mention.
pub fn chat_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' | '>' | '&' | '|' | '[' | ']' => {}
            c if c.is_control() => {}
            '@' => out.push_str("@\u{200b}"),
            c => out.push(c),
        }
    }
    out
}

/// A notification that has not arrived (yet), for the Audit page.
#[derive(Debug)]
pub struct Undelivered {
    /// Row id, for "Retry".
    pub id: i64,
    /// The secret's name.
    pub secret: String,
    /// The `event` field.
    pub event: String,
    /// Tries so far.
    pub attempts: i64,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// The next try (Unix seconds), or `None` once given up.
    pub next_at: Option<i64>,
}

impl Undelivered {
    /// "in 4 min", "given up", for the Next try column.
    pub fn next_try(&self) -> String {
        match self.next_at {
            None => "given up".into(),
            Some(at) => {
                let wait = at - db::now();
                match wait {
                    ..=0 => "now".into(),
                    1..=119 => format!("in {wait} s"),
                    120..=7199 => format!("in {} min", wait / 60),
                    _ => format!("in {} h", wait / 3600),
                }
            }
        }
    }
}

/// The newest `limit` notifications that failed at least once and have
/// not arrived: those still being retried and those given up on.
pub fn undelivered(conn: &Conn<'_>, limit: i64) -> rusqlite::Result<Vec<Undelivered>> {
    conn.query_map(
        "SELECT n.id, s.name, n.event, n.attempts, n.last_error,
                CASE WHEN n.failed_at IS NULL THEN n.next_at END
         FROM notifications n JOIN secrets s ON s.id = n.secret_id
         WHERE n.delivered_at IS NULL AND n.attempts > 0
         ORDER BY n.id DESC LIMIT ?1",
        [limit],
        |r| {
            Ok(Undelivered {
                id: r.get(0)?,
                secret: r.get(1)?,
                event: r.get(2)?,
                attempts: r.get(3)?,
                last_error: r.get(4)?,
                next_at: r.get(5)?,
            })
        },
    )?
    .collect()
}

/// "Retry" on an undelivered notification: due now, with its tries
/// counted afresh, audited on its secret. Returns the secret's name, or
/// `None` when no such notification waits (it arrived, went with its
/// secret, or is being sent right now).
pub async fn retry(
    pool: &db::Pool,
    by: &crate::auth::Admin,
    id: i64,
) -> Result<Option<String>, AppError> {
    let actor = by.actor();
    db::run(pool, move |c| {
        let tx = db::write_tx(c)?;
        let secret: Option<String> = tx
            .query_row(
                "UPDATE notifications SET failed_at = NULL, attempts = 0, next_at = ?2
                 WHERE id = ?1 AND delivered_at IS NULL
                   AND (claimed_until IS NULL OR claimed_until < ?2)
                 RETURNING (SELECT name FROM secrets WHERE id = notifications.secret_id)",
                params![id, db::now()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(name) = &secret {
            audit::record(
                &tx,
                &actor.name,
                crate::audit::action::NOTIFICATION_RETRY,
                &format!("secret/{name}"),
                &actor.source,
            )?;
            tx.commit()?;
        }
        Ok(secret)
    })
    .await
}

/// "Send test notification": one at once, its outcome audited.
pub async fn send_test(
    state: &AppState,
    by: &crate::auth::Admin,
) -> Result<Result<(), String>, AppError> {
    let actor = by.actor();
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
        Ok(()) => crate::audit::action::TEST_NOTIFICATION_DELIVERED.to_owned(),
        Err(why) => format!("test notification failed ({why})"),
    };
    audit::record_alone(&state.pool, actor, action, String::new()).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::chat_safe;

    #[test]
    fn registry_words_cannot_mention_or_link() {
        let said = chat_safe(
            "<!channel> @here @everyone [x](https://evil.example) ![](https://e.example/p.png) a|b & c\u{7}",
        );
        assert!(
            !said.contains(['<', '>', '|', '&', '[', ']', '\u{7}']),
            "{said}"
        );
        for mention in ["@here", "@everyone", "@channel"] {
            assert!(!said.contains(mention), "{said}");
        }
        assert_eq!(
            chat_safe("unauthorized: bad token"),
            "unauthorized: bad token"
        );
    }
}
