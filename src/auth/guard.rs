//! The guards: every signed-in page takes a [`Ctx`] (or [`AdminCtx`]) as an
//! extractor, which checks the session against the database first.

use std::ops::Deref;

use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use rusqlite::Connection;

use super::store::{self, User};
use crate::db;
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

/// The user of a session that is still live: within the idle and absolute
/// limits, and made with the account's current session version. A session
/// that is not live is purged. Touches the session for the idle timeout.
pub async fn live_user(state: &AppState, session: &TypedSession) -> Result<Option<User>, AppError> {
    let Some(su) = in_time(state, session) else {
        return Ok(None);
    };
    let id = su.user_id;
    let user = db::run(&state.pool, move |c| Ok(store::find_by_id(c, id)?)).await?;
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
                session,
            } = gate.await?;
            let Some(user) = live_user(&state, &session).await? else {
                return Err(AppError::LoginRequired);
            };
            context(&req, &state, session, user)
        })
    }
}

/// A signed-in page's request whose session is not checked yet: the check
/// runs in the same blocking hop as the page's own query
/// ([`Gate::admin`]), so a list costs one hop, and a revoked, idle or
/// expired session still fails on the very next request. Taking a `Gate`
/// checks nothing by itself: a handler must go through [`Gate::admin`].
#[must_use = "a Gate checks the session only in Gate::admin"]
pub struct Gate {
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
}

impl FromRequest for Gate {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let session = TypedSession::extract(&req)
                .await
                .map_err(AppError::internal)?;
            Ok(Gate {
                req,
                state,
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
    /// only then runs `f`, in the same hop and the same read transaction
    /// (so the page is read as of the moment the session was checked).
    /// Anyone else gets what [`AdminCtx`] gives them (the sign-in page, or
    /// 403), and `f` never runs for them.
    pub async fn admin<T, F>(self, f: F) -> Result<(AdminCtx, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
    {
        let (ctx, out) = self.pass(true, move |c, _| f(c)).await?;
        Ok((AdminCtx(ctx), out))
    }

    /// [`Gate::admin`] for any live user: `f` is given who they are.
    pub async fn user<T, F>(self, f: F) -> Result<(Ctx, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &User) -> Result<T, AppError> + Send + 'static,
    {
        self.pass(false, f).await
    }

    async fn pass<T, F>(self, admin: bool, f: F) -> Result<(Ctx, T), AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &User) -> Result<T, AppError> + Send + 'static,
    {
        let Self {
            req,
            state,
            session,
        } = self;
        let Some(su) = in_time(&state, &session) else {
            return Err(AppError::LoginRequired);
        };
        let passage = db::run(&state.pool, move |c| {
            db::read_tx(c, |c| {
                match still_valid(store::find_by_id(c, su.user_id)?, &su) {
                    None => Ok(Passage::NotLive),
                    Some(u) if admin && !u.is_admin => Ok(Passage::NotAdmin),
                    Some(u) => {
                        let out = f(c, &u)?;
                        Ok(Passage::Through(u, out))
                    }
                }
            })
        })
        .await?;
        match passage {
            Passage::Through(user, out) => {
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

/// A [`Ctx`] whose user is an administrator; anyone else gets 403.
pub struct AdminCtx(pub Ctx);

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
        Box::pin(async move {
            let ctx = ctx.await?;
            if ctx.user.is_admin {
                Ok(AdminCtx(ctx))
            } else {
                Err(AppError::Forbidden(NOT_ADMIN))
            }
        })
    }
}
