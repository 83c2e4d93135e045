//! The guard of the JSON API: `Authorization: Bearer wharf_…` and nothing
//! else (no cookie, so no CSRF). A personal token acts as its user with the
//! user's role at request time; a cluster's token only fetches delivered
//! credentials ([`Caller`]), every other route answers it 403. Failed
//! attempts are counted per address and throttled (apart from sign-ins), a
//! valid token never is.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::known::Known;
use super::proof::{Admin, AdminRead};
use super::store::User;
use super::throttle;
use super::tokens::{self, Scope};
use crate::audit::Actor;
use crate::changes::Stamp;
use crate::db;
use crate::db::Conn;
use crate::error::AppError;
use crate::web::Problem;

/// Who calls the API, through which token. Made only by `auth`, from a
/// token it checked: its proofs ([`ApiCaller::admin`],
/// [`ApiCaller::admin_write`]) are worth what the check was.
pub struct ApiCaller {
    user: User,
    token_name: String,
    scope: Scope,
    source: String,
}

impl ApiCaller {
    /// The token's user, as they are now.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The author of a change: `alice (token ci-rotate)`.
    pub fn actor(&self) -> Actor {
        Actor {
            name: format!("{} (token {})", self.user.username, self.token_name),
            source: self.source.clone(),
        }
    }

    /// 403 unless the token may write.
    pub fn may_write(&self) -> Result<(), Problem> {
        match self.scope {
            Scope::Write => Ok(()),
            Scope::Read => Err(Problem::forbidden(
                "This token is read only; a write needs a token with the scope write.",
            )),
        }
    }

    /// 403 unless the user is an administrator now; else the right to
    /// read what is stored.
    pub fn admin(&self) -> Result<AdminRead, Problem> {
        if self.user.is_admin {
            Ok(AdminRead::new(self.actor()))
        } else {
            Err(Problem::forbidden(
                "You have to be admin to use this endpoint.",
            ))
        }
    }

    /// 403 unless an administrator's token may write; else the right to
    /// change things.
    pub fn admin_write(&self) -> Result<Admin, Problem> {
        self.admin()?;
        self.may_write()?;
        Ok(Admin::new(self.actor(), self.user.id))
    }
}

/// The token of an `Authorization: Bearer` header, if there is one.
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// A cluster calling with its token: proof that the cluster asks, made
/// only by `auth` from a token it checked.
#[derive(Clone, Debug)]
pub struct ClusterCaller {
    id: i64,
    name: String,
    source: String,
}

impl ClusterCaller {
    /// The cluster's row id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client's address.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The author of an audit entry: `cluster prod-eu`.
    pub fn actor(&self) -> Actor {
        Actor {
            name: cluster_actor(&self.name),
            source: self.source.clone(),
        }
    }
}

/// Whoever holds a valid token: a person (through a personal token) or a
/// cluster. The routes that serve delivered credentials take this; every
/// other route takes [`ApiCaller`].
pub enum Caller {
    /// A personal access token.
    Person(ApiCaller),
    /// A cluster's token.
    Cluster(ClusterCaller),
}

enum Found {
    Person(Arc<tokens::Holder>),
    Cluster(Arc<tokens::ClusterHolder>),
}

/// What a request presents: its bearer token (if any) and its client
/// address. Read without the database, so that a handler can check it in
/// the same hop as its own work ([`identify`]), or from memory
/// ([`Presented::recall`]). Also the commit stamp seen when the request
/// came, under which what the hop reads of the token is kept.
#[derive(Clone)]
pub struct Presented {
    token: Option<String>,
    source: String,
    seen: Option<Stamp>,
    known: Option<web::Data<Known>>,
}

impl Presented {
    /// 401 at once when no token was sent (no database needed).
    pub fn some_token(&self) -> Result<(), Problem> {
        match self.token {
            Some(_) => Ok(()),
            None => identify_none().map(|_| ()),
        }
    }

    fn of(req: &HttpRequest) -> Result<Self, Problem> {
        let state = super::guard::app_state(req).map_err(Problem::from)?;
        Ok(Self {
            token: bearer(req),
            source: state.client_addr(req),
            seen: state.changes.stamp(),
            known: req.app_data::<web::Data<Known>>().cloned(),
        })
    }

    /// The client's address.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The commit stamp seen when the request came.
    pub fn seen(&self) -> Option<Stamp> {
        self.seen
    }

    /// The caller, from memory: if the token was read at the stamp seen
    /// (so it is neither revoked nor changed since, nor is its user), is
    /// not past its expiry, and its use needs no noting now.
    pub fn recall(&self) -> Option<Caller> {
        let (token, seen, known) = (self.token.as_deref()?, self.seen?, self.known.as_deref()?);
        if !tokens::well_formed(token) {
            return None;
        }
        let hash = tokens::digest(token);
        let now = db::now();
        let source = self.source.clone();
        if let Some(h) = known.tokens.get(&hash, seen) {
            return (h.expires_at > now && noted(&h.last_used, now)).then(|| {
                Caller::Person(ApiCaller {
                    user: h.user.clone(),
                    token_name: h.token_name.clone(),
                    scope: h.scope,
                    source,
                })
            });
        }
        let h = known.clusters.get(&hash, seen)?;
        noted(&h.last_seen, now).then(|| {
            Caller::Cluster(ClusterCaller {
                id: h.id,
                name: h.name.clone(),
                source,
            })
        })
    }

    /// Keeps what a hop read of the token under the stamp seen before it.
    fn keep(&self, hash: [u8; 32], found: &Found) {
        let (Some(seen), Some(known)) = (self.seen, self.known.as_deref()) else {
            return;
        };
        match found {
            Found::Person(h) => known.tokens.put(hash, seen, h.clone()),
            Found::Cluster(h) => known.clusters.put(hash, seen, h.clone()),
        }
    }
}

/// Whether a token's last use, as read, is recent enough (under a minute)
/// that this one need not be noted. Whatever the address: a cluster's
/// nodes, or a CI pool, call from many, and noting each change of address
/// would be a write per request (and each write sends every reader back
/// to the database). The address kept is that of the use noted.
fn noted(last: &Option<(i64, String)>, now: i64) -> bool {
    matches!(last, Some((at, _)) if now - at < 60)
}

impl FromRequest for Presented {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::of(req))
    }
}

/// The holder of `token` (with its SHA-256), noting its use (at most once
/// a minute); a failure is counted and throttled per address.
fn holder(c: &Conn<'_>, token: &str, src: &str) -> Result<Option<([u8; 32], Found)>, AppError> {
    // What has no token's shape cannot be a guess at one: it is
    // refused without counting (or a database lookup).
    if !tokens::well_formed(token) {
        return Ok(None);
    }
    let now = db::now();
    let hash = tokens::digest(token);
    // A valid token is never throttled: others' failures from its
    // address (an office, a CI pool, a cluster's NAT) must not lock it
    // out. The lookup runs before the lockout check, so the lockout
    // bounds the failures recorded, not the guesses; with 256 random
    // bits no guess succeeds anyway. The last use is kept to the
    // minute, with its address.
    if let Some(h) = tokens::holder(c, &hash, now)? {
        if !noted(&h.last_used, now) {
            tokens::touch(c, h.token_id, now, src)?;
        }
        return Ok(Some((hash, Found::Person(Arc::new(h)))));
    }
    if let Some(h) = tokens::cluster_holder(c, &hash)? {
        if !noted(&h.last_seen, now) {
            tokens::touch_cluster(c, h.id, now, src)?;
        }
        return Ok(Some((hash, Found::Cluster(Arc::new(h)))));
    }
    if let Some(wait) = throttle::retry_after_in(c, throttle::Bucket::Token, src)? {
        return Err(AppError::TooManyRequests(wait));
    }
    throttle::record_failure(c, throttle::Bucket::Token.name(), src)?;
    Ok(None)
}

/// Who holds the presented token, checked on `c` (a write when a use is
/// noted, at most once a minute; a failure is counted and throttled).
pub fn identify(c: &Conn<'_>, p: &Presented) -> Result<Caller, Problem> {
    let Some(token) = &p.token else {
        return identify_none();
    };
    let src = &p.source;
    let found = holder(c, token, src).map_err(Problem::from)?;
    if let Some((hash, found)) = &found {
        p.keep(*hash, found);
    }
    let source = src.clone();
    match found.map(|(_, f)| f) {
        Some(Found::Person(h)) => Ok(Caller::Person(ApiCaller {
            user: h.user.clone(),
            token_name: h.token_name.clone(),
            scope: h.scope,
            source,
        })),
        Some(Found::Cluster(h)) => Ok(Caller::Cluster(ClusterCaller {
            id: h.id,
            name: h.name.clone(),
            source,
        })),
        None => Err(Problem::unauthorized(
            "The token is unknown, expired or revoked, or its user is disabled.",
        )),
    }
}

/// Checks the bearer token of `req`.
async fn authenticate(req: HttpRequest) -> Result<Caller, Problem> {
    let presented = Presented::of(&req)?;
    if presented.token.is_none() {
        return identify_none();
    }
    if let Some(caller) = presented.recall() {
        return Ok(caller);
    }
    let state = super::guard::app_state(&req).map_err(Problem::from)?;
    db::run(&state.pool, move |c| Ok(identify(c, &presented)))
        .await
        .map_err(Problem::from)?
}

/// The answer to a request without a token (no database needed).
fn identify_none() -> Result<Caller, Problem> {
    Err(Problem::unauthorized(
        "Send a token as Authorization: Bearer wharf_….",
    ))
}

impl FromRequest for Caller {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

/// The person behind `caller`; a cluster's token gets 403 here (and is
/// counted as a refused credential request).
pub fn person(
    caller: Result<Caller, Problem>,
    metrics: &crate::metrics::Metrics,
) -> Result<ApiCaller, Problem> {
    match caller? {
        Caller::Person(p) => Ok(p),
        Caller::Cluster(_) => {
            metrics.credential_request(crate::metrics::CredentialResult::Denied);
            Err(Problem::forbidden(
                "A cluster token only fetches delivered credentials: \
                 /api/v1/credentials and the downloads of delivered secrets.",
            ))
        }
    }
}

impl FromRequest for ApiCaller {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(req.clone()).await;
            let state = super::guard::app_state(&req).map_err(Problem::from)?;
            person(caller, &state.metrics)
        })
    }
}

/// How a cluster is named as an actor (in the audit log and the serving
/// counts): "cluster NAME".
pub fn cluster_actor(name: &str) -> String {
    format!("cluster {name}")
}
