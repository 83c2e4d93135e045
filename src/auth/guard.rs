//! The guards: every signed-in page takes a [`Ctx`] (or [`AdminCtx`]) as an
//! extractor, which checks the session against the database first.

use std::ops::Deref;

use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::store::{self, User};
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Ctx, CurrentUser, TypedSession};

/// The user of a session that is still live: within the idle and absolute
/// limits, and made with the account's current session version (so not
/// signed out, disabled, deleted or replaced since). A session that is not
/// live is purged. Touches the session for the idle timeout.
pub async fn live_user(state: &AppState, session: &TypedSession) -> Result<Option<User>, AppError> {
    let Some(su) = session.user() else {
        return Ok(None);
    };
    let now = db::now();
    let s = &state.settings;
    if now - su.seen > s.session_idle || now - su.started > s.session_max {
        session.purge();
        return Ok(None);
    }
    let user = db::run(&state.pool, move |c| Ok(store::find_by_id(c, su.user_id)?)).await?;
    match user {
        Some(u) if u.active && u.session_version == su.version => {
            if now - su.seen >= 60 {
                session.touch(now)?;
            }
            Ok(Some(u))
        }
        _ => {
            session.purge();
            Ok(None)
        }
    }
}

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::internal("application state missing"))?
                .clone();
            let session = TypedSession::extract(&req)
                .await
                .map_err(AppError::internal)?;
            let Some(user) = live_user(&state, &session).await? else {
                return Err(AppError::LoginRequired);
            };
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
                source: state.client_addr(&req),
                path: req.path().to_owned(),
                session,
            })
        })
    }
}

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
                Err(AppError::Forbidden(
                    "You have to be admin to view this page",
                ))
            }
        })
    }
}
