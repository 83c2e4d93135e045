//! `/account/password`: anyone signed in changes their own password.

use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::store;
use crate::audit;
use crate::auth::throttle;
use crate::auth::{Ctx, see_other};
use crate::db;
use crate::domain::Password;
use crate::error::AppError;
use crate::forms::{FieldErrors, unprocessable};
use crate::state::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "users/password.html")]
struct PasswordPage {
    ctx: Ctx,
    errors: FieldErrors,
}

/// `GET /account/password`
pub async fn password_form(ctx: Ctx) -> impl Responder {
    PasswordPage {
        ctx,
        errors: FieldErrors::default(),
    }
}

/// The change-password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `POST /account/password`: checks the current password (argon2 on the
/// blocking pool), stores the new one and ends every other session.
pub async fn password_submit(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let id = ctx.user.id;
    // Guesses at the current password count like failed sign-ins, so a
    // stolen session cannot be used to find the password.
    let (name, source) = (ctx.user.username.clone(), ctx.source.clone());
    let stored = db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        if let Some(wait) = throttle::retry_after(&tx, &name, &source)? {
            return Err(AppError::TooManyRequests(wait));
        }
        throttle::record_failure(&tx, &name, &source)?;
        let stored = store::password_hash(&tx, id)?;
        tx.commit()?;
        Ok(stored)
    })
    .await?;
    let current = form.current_password;
    let current_ok = state.hashing.verify(stored, current).await?;
    let (name, source) = (ctx.user.username.clone(), ctx.source.clone());
    db::run(&state.pool, move |c| {
        if current_ok {
            throttle::clear(c, &name)?;
        } else {
            audit::record(
                c,
                &name,
                "password change refused",
                &format!("user/{name}"),
                &source,
            )?;
        }
        Ok(())
    })
    .await?;
    let mut errors = FieldErrors::default();
    if !current_ok {
        errors.add("current_password", "The current password is not right.");
    }
    let new = errors.check("new_password", Password::parse(&form.new_password));
    if form.new_password != form.confirm_password {
        errors.add("confirm_password", "The passwords do not match.");
    }
    let (Some(new), true) = (new, errors.is_empty()) else {
        return Ok(unprocessable(PasswordPage { ctx, errors }, &req));
    };
    let hash = state.hashing.hash(new).await?;
    let (actor, source) = (ctx.user.username.clone(), ctx.source.clone());
    let version = db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let v = store::change_password(&tx, id, &hash)?;
        audit::record(
            &tx,
            &actor,
            "password changed",
            &format!("user/{actor}"),
            &source,
        )?;
        tx.commit()?;
        Ok(v)
    })
    .await?;
    // Other sessions carry the old version and end; this one goes on.
    ctx.session.continue_as(version)?;
    ctx.session
        .flash("Your password was changed. Other sessions were signed out.")?;
    Ok(see_other(if ctx.user.is_admin {
        "/admin/secrets"
    } else {
        "/"
    }))
}
