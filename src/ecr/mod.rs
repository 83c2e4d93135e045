//! Amazon ECR secrets: an IAM access key kept sealed, and the 12-hour
//! registry token it mints, kept sealed beside it with its life. Every
//! consumer (downloads, kubelet's lookups, External Secrets Operator, Test
//! login, the scheduled checks) asks [`current_token`]: a token is reused
//! while more than half its life is left, minted at most once at a time
//! per secret (whoever asks meanwhile waits for that mint), and delivered
//! secrets are refreshed ahead of need (`secrets::refresh`).

pub mod mint;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::db::Conn;
use rusqlite::{OptionalExtension, params};

use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::db;
use crate::db::Pool;
use crate::domain::{EcrHost, SecretId, SecretValue, TokenLife};
use crate::error::AppError;
use crate::metrics::Metrics;
use mint::{AccessKey, MintError};

/// The associated data a secret's token is sealed with: not the name alone,
/// so that a token can never be opened as the access key or the reverse.
pub fn token_aad(name: &str) -> Vec<u8> {
    format!("ecr-token/{name}").into_bytes()
}

/// The registry username of every ECR token.
pub const USERNAME: &str = "AWS";

/// The registry login a token gives.
pub struct Token {
    /// The registry username (`AWS`).
    pub username: String,
    /// The registry password.
    pub password: SecretValue,
    /// When it was minted and when it expires.
    pub life: TokenLife,
}

/// Why no token could be given.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// ECR did not mint one, and no token still valid is kept.
    #[error(transparent)]
    Mint(#[from] MintError),
    /// The secret is gone, or is not an ECR secret.
    #[error("There is no Amazon ECR secret named {0}.")]
    Missing(String),
    /// Storage failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<TokenError> for AppError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Missing(name) => AppError::no_such("secret", &name),
            TokenError::App(e) => e,
            TokenError::Mint(e) => {
                AppError::Upstream(format!("No registry token could be minted. {e}"))
            }
        }
    }
}

/// How long a failed mint is remembered: meanwhile every asker gets that
/// failure at once (a lookup answers 502 and the node's plugin gives its
/// kept answer) instead of calling an endpoint that just refused or hung.
pub const BACK_OFF: i64 = 45;

/// A mint that failed at `at`, for the secret as it was then: its version
/// and its sealed access key (sealed anew for every secret, so a secret
/// deleted and made again under the same row id is not taken for it).
#[derive(Clone)]
struct Failed {
    version: i64,
    sealed_key: Vec<u8>,
    at: i64,
    error: MintError,
}

/// The minting side of the state: the clock, the HTTP client, one lock
/// per secret so that concurrent askers share a mint, and the last failed
/// mint per secret, shared for [`BACK_OFF`] seconds.
pub struct Tokens {
    /// What token lives are measured with.
    pub clock: Clock,
    client: Result<reqwest::Client, String>,
    flights: Mutex<HashMap<SecretId, Arc<tokio::sync::Mutex<()>>>>,
    failed: Mutex<HashMap<SecretId, Failed>>,
}

impl Tokens {
    /// Token minting on `clock`.
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            client: mint::client(),
            flights: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
        }
    }

    fn flight(&self, id: SecretId) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.entry(id).or_default().clone()
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<SecretId, Failed>> {
        self.failed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The failure of the last mint for this secret as it is stored now,
    /// if it failed less than [`BACK_OFF`] seconds before `now`: said with
    /// when the next try may be (never longer than any reason).
    fn failed_lately(&self, stored: &Stored, now: i64) -> Option<MintError> {
        let failed = self.failures().get(&stored.id).cloned()?;
        let wait = failed.at + BACK_OFF - now;
        let same = failed.version == stored.version && failed.sealed_key == stored.sealed_key;
        let said = |why: &str| {
            let note = format!(" (the last try; the next is in {wait} s)");
            let room = mint::MAX_MESSAGE.saturating_sub(note.chars().count());
            format!("{}{note}", crate::domain::truncate(why, room))
        };
        (same && wait > 0).then(|| match failed.error {
            MintError::Refused {
                status,
                code,
                message,
            } => MintError::Refused {
                status,
                code,
                message: said(&message),
            },
            MintError::Unreachable(why) => MintError::Unreachable(said(&why)),
            MintError::Unreadable(why) => MintError::Unreadable(said(&why)),
        })
    }

    fn remember(&self, id: SecretId, outcome: Option<Failed>) {
        let mut failures = self.failures();
        match outcome {
            Some(failed) => failures.insert(id, failed),
            None => failures.remove(&id),
        };
    }
}

/// What minting needs of the app (the state lends it, `AppState::minting`):
/// the pool, the master key, the metrics and the minting state itself.
#[derive(Clone, Copy)]
pub struct Minting<'a> {
    /// The database.
    pub pool: &'a Pool,
    /// Seals and opens the access key and the tokens.
    pub master: &'a MasterKey,
    /// Mints counted.
    pub metrics: &'a Metrics,
    /// The clock, the HTTP client, the flights and the failures.
    pub tokens: &'a Tokens,
}

/// An ECR secret as minting needs it, sealed.
struct Stored {
    id: SecretId,
    name: String,
    version: i64,
    host: String,
    key_id: String,
    endpoint: Option<String>,
    sealed_key: Vec<u8>,
    token: Option<(TokenLife, Vec<u8>)>,
}

fn find(conn: &Conn<'_>, name: &str) -> rusqlite::Result<Option<Stored>> {
    conn.query_row(
        "SELECT id, name, version, registry_host, registry_username, ecr_endpoint, sealed,
                token_minted_at, token_expires_at, token_sealed
           FROM secrets WHERE name = ?1 AND kind = 'ecr'",
        [name],
        |r| {
            let life = TokenLife::of(r.get(7)?, r.get(8)?);
            let token = life.zip(r.get::<usize, Option<Vec<u8>>>(9)?);
            Ok(Stored {
                id: r.get(0)?,
                name: r.get(1)?,
                version: r.get(2)?,
                host: r.get::<usize, Option<String>>(3)?.unwrap_or_default(),
                key_id: r.get::<usize, Option<String>>(4)?.unwrap_or_default(),
                endpoint: r.get(5)?,
                sealed_key: r.get(6)?,
                token,
            })
        },
    )
    .optional()
}

/// Opens a sealed token of secret `name`.
pub fn open_token(
    m: &Minting<'_>,
    name: &str,
    life: TokenLife,
    sealed: &[u8],
) -> Result<Token, AppError> {
    let password = m.master.open_text(&token_aad(name), sealed, name)?;
    Ok(Token {
        username: USERNAME.into(),
        password: SecretValue::new(password),
        life,
    })
}

impl Stored {
    /// What is given when no token was minted: a kept token that is still
    /// valid (with why no new one), else the failure.
    fn instead(
        &self,
        m: &Minting<'_>,
        now: i64,
        failure: MintError,
    ) -> Result<(Token, Option<MintError>), TokenError> {
        match self.kept(m, |l| l.valid(now))? {
            Some(still_valid) => Ok((still_valid, Some(failure))),
            None => Err(failure.into()),
        }
    }

    /// The kept token, if `keep` says it may still be given.
    fn kept(
        &self,
        m: &Minting<'_>,
        keep: impl Fn(&TokenLife) -> bool,
    ) -> Result<Option<Token>, AppError> {
        match &self.token {
            Some((life, sealed)) if keep(life) => {
                open_token(m, &self.name, *life, sealed).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// The current registry token of ECR secret `name`: the kept one while
/// more than half its life is left, else a new one (one mint at a time per
/// secret; whoever asks meanwhile gets the same, a failure included, and
/// for [`BACK_OFF`] seconds after a failure no one calls again). When ECR
/// refuses or cannot be reached, a kept token that is still valid is given
/// rather than nothing.
pub async fn current_token(m: &Minting<'_>, name: &str) -> Result<Token, TokenError> {
    obtain(m, name).await.map(|(token, _)| token)
}

/// [`current_token`], and the mint's failure when a kept token that is
/// still valid was given instead of a new one.
pub async fn obtain(m: &Minting<'_>, name: &str) -> Result<(Token, Option<MintError>), TokenError> {
    let tokens = m.tokens;
    let now = tokens.clock.now();
    let stored = load(m, name).await?;
    if let Some(token) = stored.kept(m, |l| l.fresh(now))? {
        return Ok((token, None));
    }
    if let Some(e) = tokens.failed_lately(&stored, now) {
        return stored.instead(m, now, e);
    }
    let flight = tokens.flight(stored.id);
    let _mine = flight.lock().await;
    // Whoever held the lock before may have minted it, or failed to.
    let stored = load(m, name).await?;
    let now = tokens.clock.now();
    if let Some(token) = stored.kept(m, |l| l.fresh(now))? {
        return Ok((token, None));
    }
    if let Some(e) = tokens.failed_lately(&stored, now) {
        return stored.instead(m, now, e);
    }
    match mint_for(m, &stored).await {
        Ok(token) => {
            m.metrics.token_mint(true);
            tokens.remember(stored.id, None);
            keep(m, &stored, &token).await?;
            Ok((token, None))
        }
        Err(e) => {
            m.metrics.token_mint(false);
            tracing::warn!(secret = %stored.name, error = %e, "minting an ECR registry token failed");
            let at = tokens.clock.now();
            tokens.remember(
                stored.id,
                Some(Failed {
                    version: stored.version,
                    sealed_key: stored.sealed_key.clone(),
                    at,
                    error: e.clone(),
                }),
            );
            stored.instead(m, at, e)
        }
    }
}

async fn load(m: &Minting<'_>, name: &str) -> Result<Stored, TokenError> {
    let n = name.to_owned();
    db::run(m.pool, move |c| Ok(find(c, &n)?))
        .await?
        .ok_or_else(|| TokenError::Missing(name.to_owned()))
}

async fn mint_for(m: &Minting<'_>, stored: &Stored) -> Result<Token, MintError> {
    let host = EcrHost::parse(&stored.host).map_err(|e| {
        MintError::Unreachable(format!("the stored registry host is not ECR's: {e}"))
    })?;
    let endpoint = stored
        .endpoint
        .clone()
        .unwrap_or_else(|| host.default_endpoint());
    let secret = m
        .master
        .open_text(
            crate::crypto::secret_aad(&stored.name),
            &stored.sealed_key,
            &stored.name,
        )
        .ok()
        .map(SecretValue::new)
        .ok_or_else(|| {
            MintError::Unreachable("the stored secret access key could not be opened.".into())
        })?;
    let client = m
        .tokens
        .client
        .as_ref()
        .map_err(|e| MintError::Unreachable(e.clone()))?;
    let minted = mint::get_authorization_token(
        client,
        &endpoint,
        host.region(),
        AccessKey {
            id: &stored.key_id,
            secret: &secret,
        },
    )
    .await?;
    let minted_at = m.tokens.clock.now();
    if minted.expires_at <= minted_at {
        return Err(MintError::Unreadable(format!(
            "the token ECR gave expired at {}, before it was minted; is this machine's clock right?",
            db::format_time(minted.expires_at)
        )));
    }
    Ok(Token {
        username: minted.username,
        password: minted.password,
        life: TokenLife {
            minted_at,
            expires_at: minted.expires_at,
        },
    })
}

/// Keeps a new token, sealed, unless the secret changed while it was
/// minted (its credentials may be others now).
async fn keep(m: &Minting<'_>, stored: &Stored, token: &Token) -> Result<(), AppError> {
    let sealed = m
        .master
        .seal(&token_aad(&stored.name), token.password.expose().as_bytes());
    let (id, version, life) = (stored.id, stored.version, token.life);
    db::run(m.pool, move |c| {
        c.execute(
            "UPDATE secrets SET token_sealed = ?3, token_minted_at = ?4, token_expires_at = ?5
              WHERE id = ?1 AND version = ?2",
            params![id, version, sealed, life.minted_at, life.expires_at],
        )?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use crate::domain::TokenLife;

    #[test]
    fn a_token_is_reused_for_half_its_life() {
        let life = TokenLife {
            minted_at: 0,
            expires_at: 12 * 3600,
        };
        assert!(life.fresh(6 * 3600 - 1));
        assert!(!life.fresh(6 * 3600));
        assert!(life.valid(12 * 3600 - 1));
        assert!(!life.valid(12 * 3600));
    }
}
