//! `/account/password`: anyone signed in changes their own password.

use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::ops;
use crate::auth::UserCtx;
use crate::error::AppError;
use crate::ops::Failure;
use crate::state::AppState;
use crate::web::{Ctx, FieldErrors, unprocessable};

#[derive(Template, WebTemplate)]
#[template(path = "users/password.html")]
struct PasswordPage {
    ctx: Ctx,
    errors: FieldErrors,
    /// The account has no wharf password: it signs in with this provider.
    sso_only: Option<String>,
}

/// `GET /account/password`; an account made by single sign-on has no
/// password to change, and is told where it signs in instead.
pub async fn password_form(
    ctx: Ctx,
    state: web::Data<AppState>,
) -> Result<impl Responder, AppError> {
    let id = ctx.user.id;
    let has_password = crate::db::run(&state.pool, move |c| {
        Ok(crate::auth::store::has_password(c, id)?)
    })
    .await?;
    let provider = state
        .sso
        .as_ref()
        .map_or("single sign-on", |s| s.config.name.as_str());
    Ok(PasswordPage {
        ctx,
        errors: FieldErrors::default(),
        sso_only: (!has_password).then(|| provider.to_owned()),
    })
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

/// `POST /account/password`: checks the current password like a sign-in
/// (so a stolen session cannot be used to guess it), stores the new one and
/// ends every other session; this one goes on.
pub async fn password_submit(
    ctx: UserCtx,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let change = ops::PasswordChange {
        current: form.current_password,
        new: form.new_password,
        confirm: form.confirm_password,
    };
    let version = match ops::change_password(&state, ctx.member(), change).await {
        Ok(version) => version,
        Err(Failure::Invalid(errors)) => {
            return unprocessable(&PasswordPage {
                ctx: ctx.0,
                errors,
                sso_only: None,
            });
        }
        Err(other) => return Err(other.into()),
    };
    ctx.session.continue_as(version)?;
    let home = crate::web::home(ctx.user.is_admin);
    ctx.done(
        "Your password was changed. Other sessions were signed out.",
        home,
    )
}
