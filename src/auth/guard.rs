//! The guards: every signed-in page takes a [`Ctx`] (or [`AdminCtx`]) as an
//! extractor, which checks the session against the database first.

use std::ops::Deref;

use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::known::Known;
use super::proof::{Admin, Member};
use super::store::{self, User};
use crate::changes::{Miss, Read, Stamp};
use crate::db;
use crate::domain::UserId;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Ctx, CurrentUser, SessionUser, TypedSession};

/// The session's claims if it is within the idle and absolute limits; a
/// session past them is purged.
fn in_time(state: &AppState, session: &TypedSession) -> Option<SessionUser> {
    let su = session.user()?;
    let now = db::now();
    let s = &state.settings;
    if now - su.seen > s.session_idle || now - su.started > s.session_max {
        session.purge();
        return None;
    }
    Some(su)
}

/// Whether `user` (as read now) is the one the session was made for, with
/// the account's current session version (so not signed out, disabled,
/// deleted or replaced since).
fn still_valid(user: Option<User>, su: &SessionUser) -> Option<User> {
    user.filter(|u| u.active && u.session_version == su.version)
}

/// Touches a live session for the idle timeout (at most once a minute).
fn keep_alive(session: &TypedSession, su: &SessionUser) -> Result<(), AppError> {
    let now = db::now();
    if now - su.seen >= 60 {
        session.touch(now)?;
    }
    Ok(())
}

/// The user row of `id`: as known at the stamp now, or read (and then
/// known at the stamp seen before reading).
async fn user_row(state: &AppState, known: &Known, id: UserId) -> Result<Option<User>, AppError> {
    let stamp = state.changes.stamp();
    if let Some(u) = stamp.and_then(|s| known.users.get(&id, s)) {
        return Ok(Some(u));
    }
    let user = db::run(&state.pool, move |c| Ok(store::find_by_id(c, id)?)).await?;
    keep_user(state, known, stamp, user.clone());
    Ok(user)
}

/// Keeps a user row read after `seen` was the stamp, unless something was
/// committed since (a row read at an older stamp would only push current
/// ones out of a full memo).
fn keep_user(state: &AppState, known: &Known, seen: Option<Stamp>, row: Option<User>) {
    if let (Some(s), Some(u)) = (seen, row)
        && state.changes.stamp() == Some(s)
    {
        known.users.put(u.id, s, u);
    }
}

/// The user of a session that is still live: within the idle and absolute
/// limits, and made with the account's current session version. A session
/// that is not live is purged. Touches the session for the idle timeout.
pub async fn live_user(
    state: &AppState,
    known: &Known,
    session: &TypedSession,
) -> Result<Option<User>, AppError> {
    let Some(su) = in_time(state, session) else {
        return Ok(None);
    };
    let user = user_row(state, known, su.user_id).await?;
    match still_valid(user, &su) {
        Some(u) => {
            keep_alive(session, &su)?;
            Ok(Some(u))
        }
        None => {
            session.purge();
            Ok(None)
        }
    }
}

/// The page's context for a live user.
fn context(
    req: &HttpRequest,
    state: &AppState,
    session: TypedSession,
    user: User,
) -> Result<Ctx, AppError> {
    let flash = if req.method() == Method::GET {
        session.take_flash()
    } else {
        None
    };
    Ok(Ctx {
        user: CurrentUser {
            id: user.id,
            username: user.username,
            is_admin: user.is_admin,
        },
        csrf: session.csrf_token()?,
        flash,
        source: state.client_addr(req),
        path: req.path().to_owned(),
        session,
    })
}

/// The application state, for extractors.
pub(super) fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal("application state missing"))
        .cloned()
}

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let gate = Gate::from_request(req, payload);
        Box::pin(async move {
            let Gate {
                req,
                state,
                known,
                session,
            } = gate.await?;
            let Some(user) = live_user(&state, &known, &session).await? else {
                return Err(AppError::LoginRequired);
            };
            context(&req, &state, session, user)
        })
    }
}

/// A signed-in page's request whose session is not checked yet. The page
/// is read from memory when the database has not changed since what it
/// needs was read (the user row, and the page's own: see
/// [`crate::changes`]); otherwise the check runs in the same blocking hop
/// as the page's own query, so a list costs at most one hop, and a
/// revoked, idle or expired session still fails on the very next request.
/// Taking a `Gate` checks nothing by itself: a handler must go through
/// [`Gate::admin`] or [`Gate::user`].
#[must_use = "a Gate checks the session only in Gate::admin or Gate::user"]
pub struct Gate {
    req: HttpRequest,
    state: web::Data<AppState>,
    known: web::Data<Known>,
    session: TypedSession,
}

impl FromRequest for Gate {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let known = req
                .app_data::<web::Data<Known>>()
                .cloned()
                .ok_or_else(|| AppError::internal("the known callers are missing"))?;
            let session = TypedSession::extract(&req)
                .await
                .map_err(AppError::internal)?;
            Ok(Gate {
                req,
                state,
                known,
                session,
            })
        })
    }
}

/// What the gate's hop found.
enum Passage<T> {
    Through(User, T),
    NotLive,
    NotAdmin,
}

impl Gate {
    /// Checks that the session is live and its user an administrator, and
    /// only then reads the page with `read`: from memory at the stamp now
    /// when the session's row and all the page needs are kept there, else
    /// in one trip, in the same read transaction as the check (so the page
    /// is read as of the moment the session was checked, and kept under the
    /// stamp seen before the trip). Anyone else gets what [`AdminCtx`] gives
    /// them (the sign-in page, or 403), and `read` never runs for them.
    pub async fn admin<T, F>(self, read: F) -> Result<(AdminCtx, T), AppError>
    where
        T: Send + 'static,
        F: Fn(Read<'_>) -> Result<T, Miss> + Send + 'static,
    {
        let (ctx, out) = self.pass(true, move |_, r| read(r)).await?;
        Ok((AdminCtx::of(ctx)?, out))
    }

    /// [`Gate::admin`] for any live user: `read` is given who they are.
    pub async fn user<T, F>(self, read: F) -> Result<(Ctx, T), AppError>
    where
        T: Send + 'static,
        F: Fn(&User, Read<'_>) -> Result<T, Miss> + Send + 'static,
    {
        self.pass(false, read).await
    }

    async fn pass<T, F>(self, admin: bool, read: F) -> Result<(Ctx, T), AppError>
    where
        T: Send + 'static,
        F: Fn(&User, Read<'_>) -> Result<T, Miss> + Send + 'static,
    {
        let Self {
            req,
            state,
            known,
            session,
        } = self;
        let Some(su) = in_time(&state, &session) else {
            return Err(AppError::LoginRequired);
        };
        let stamp = state.changes.stamp();
        let judge = move |user: Option<User>| match still_valid(user, &su) {
            None => Err(Passage::NotLive),
            Some(u) if admin && !u.is_admin => Err(Passage::NotAdmin),
            Some(u) => Ok(u),
        };
        // From memory when the user row and the page are both known at
        // the stamp now; a verdict on the session needs only the row.
        let remembered = stamp.and_then(|s| {
            let user = known.users.get(&su.user_id, s)?;
            Some(match judge(Some(user)) {
                Err(refused) => refused,
                // Anything memory lacks (or a failure, which it cannot
                // have) is read in the one trip below.
                Ok(u) => {
                    let out = read(&u, Read::Memory(s)).ok()?;
                    Passage::Through(u, out)
                }
            })
        });
        let from_memory = remembered.is_some();
        let passage = match remembered {
            Some(p) => p,
            None => {
                let (row, passage) = db::run(&state.pool, move |c| {
                    db::read_tx(c, |c| {
                        let row = store::find_by_id(c, su.user_id)?;
                        let passage = match judge(row.clone()) {
                            Err(refused) => refused,
                            Ok(u) => {
                                let out = read(&u, Read::Db(c, stamp))?;
                                Passage::Through(u, out)
                            }
                        };
                        Ok((row, passage))
                    })
                })
                .await?;
                keep_user(&state, &known, stamp, row);
                passage
            }
        };
        match passage {
            Passage::Through(user, out) => {
                state.metrics.list_read(from_memory);
                keep_alive(&session, &su)?;
                Ok((context(&req, &state, session, user)?, out))
            }
            Passage::NotLive => {
                session.purge();
                Err(AppError::LoginRequired)
            }
            Passage::NotAdmin => {
                // Live: kept alive as any other page would.
                keep_alive(&session, &su)?;
                Err(AppError::Forbidden(NOT_ADMIN))
            }
        }
    }
}

/// What a non-administrator is told on an administrator's page.
const NOT_ADMIN: &str = "You have to be admin to view this page";

/// A [`Ctx`] whose user is an administrator, with the proof of it that the
/// areas' writes take; anyone else gets 403.
pub struct AdminCtx(pub Ctx, Admin);

impl AdminCtx {
    fn of(ctx: Ctx) -> Result<Self, AppError> {
        if ctx.user.is_admin {
            let admin = Admin::new(ctx.actor(), ctx.user.id);
            Ok(Self(ctx, admin))
        } else {
            Err(AppError::Forbidden(NOT_ADMIN))
        }
    }

    /// The proof that an administrator acts.
    pub fn admin(&self) -> &Admin {
        &self.1
    }
}

impl Deref for AdminCtx {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.0
    }
}

impl FromRequest for AdminCtx {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ctx = Ctx::from_request(req, payload);
        Box::pin(async move { AdminCtx::of(ctx.await?) })
    }
}

/// A [`Ctx`] of any signed-in person, with the proof that they act on
/// what is their own.
pub struct UserCtx(pub Ctx, Member);

impl UserCtx {
    /// The proof that this person acts.
    pub fn member(&self) -> &Member {
        &self.1
    }
}

impl Deref for UserCtx {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.0
    }
}

impl FromRequest for UserCtx {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ctx = Ctx::from_request(req, payload);
        Box::pin(async move {
            let ctx = ctx.await?;
            let member = Member::new(
                ctx.actor(),
                ctx.user.id,
                ctx.user.username.clone(),
                ctx.user.is_admin,
            );
            Ok(UserCtx(ctx, member))
        })
    }
}

/// An error page drawn inside the signed-in layout.
#[derive(askama::Template)]
#[template(path = "error_signed_in.html")]
struct SignedInError {
    ctx: Ctx,
    shown: crate::error::ErrorShown,
    /// Where "back" goes: the catalogue or the Admin Portal.
    home: &'static str,
}

/// Error pages keep the navigation of whoever is signed in: a 403, 404 or
/// 502 page a live session gets is drawn again with its top bar and
/// sidebar (others get the plain page). The API answers problems, not
/// pages, and is passed over.
pub async fn keep_navigation_on_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    let res = next.call(req).await?;
    let shown = res
        .response()
        .extensions()
        .get::<crate::error::ErrorShown>()
        .cloned();
    let Some(shown) = shown.filter(|_| !res.request().path().starts_with("/api/")) else {
        return Ok(res.map_into_left_body());
    };
    let req = res.request().clone();
    let Some(ctx) = signed_in_context(&req).await else {
        return Ok(res.map_into_left_body());
    };
    let status = res.status();
    let retry_after = res
        .headers()
        .get(actix_web::http::header::RETRY_AFTER)
        .cloned();
    let home = crate::web::home(ctx.user.is_admin);
    let Ok(body) = askama::Template::render(&SignedInError { ctx, shown, home }) else {
        return Ok(res.map_into_left_body());
    };
    let mut page = actix_web::HttpResponse::build(status);
    page.content_type("text/html; charset=utf-8");
    if let Some(wait) = retry_after {
        page.insert_header((actix_web::http::header::RETRY_AFTER, wait));
    }
    Ok(res.into_response(page.body(body)).map_into_right_body())
}

/// The page context of the request's session, if it is live.
async fn signed_in_context(req: &HttpRequest) -> Option<Ctx> {
    let state = app_state(req).ok()?;
    let known = req.app_data::<web::Data<Known>>()?.clone();
    let session = TypedSession::extract(req).await.ok()?;
    let user = live_user(&state, &known, &session).await.ok()??;
    context(req, &state, session, user).ok()
}
