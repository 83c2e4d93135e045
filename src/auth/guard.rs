use std::ops::Deref;

use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::session::TypedSession;
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use crate::users::store as users;

/// The signed-in user, checked against the database on every request.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    /// Row id.
    pub id: i64,
    /// Account name.
    pub username: String,
    /// Whether the Admin Portal is open to them.
    pub is_admin: bool,
}

/// Everything a signed-in page needs: the user, the CSRF token for its
/// forms, the flash message left for it, the session and the client address.
pub struct Ctx {
    /// Who is signed in.
    pub user: CurrentUser,
    /// Goes into every form as `csrf_token`.
    pub csrf: String,
    /// A message from the previous action ("Secret x created.").
    pub flash: Option<String>,
    /// The session, to leave the next flash message.
    pub session: TypedSession,
    /// The client's address, for the audit log.
    pub source: String,
    /// The request path, to mark the sidebar's current section.
    pub path: String,
}

impl Ctx {
    /// The signed-in user as the author of a change.
    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor {
            name: self.user.username.clone(),
            source: self.source.clone(),
        }
    }

    /// The Admin Portal section the page belongs to (`secrets`, `images`, ...).
    pub fn section(&self) -> &str {
        self.path
            .strip_prefix("/admin/")
            .and_then(|p| p.split('/').next())
            .unwrap_or("")
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

/// The user of a session that is still live: within the idle and absolute
/// limits, and made with the account's current session version (so not
/// signed out, disabled, deleted or replaced since). A session that is not
/// live is purged. Touches the session for the idle timeout.
pub async fn live_user(
    state: &AppState,
    session: &TypedSession,
) -> Result<Option<users::User>, AppError> {
    let Some(su) = session.user() else {
        return Ok(None);
    };
    let now = db::now();
    let s = &state.settings;
    if now - su.seen > s.session_idle || now - su.started > s.session_max {
        session.purge();
        return Ok(None);
    }
    let user = db::run(&state.pool, move |c| Ok(users::find_by_id(c, su.user_id)?)).await?;
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
