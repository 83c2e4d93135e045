//! `/account/password`: anyone signed in changes their own password.

use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::audit;
use crate::auth::{self, Claimant, store};
use crate::db;
use crate::domain::Password;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Ctx, FieldErrors, unprocessable};

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

/// `POST /account/password`: checks the current password like a sign-in
/// (so a stolen session cannot be used to guess it), stores the new one and
/// ends every other session; this one goes on.
pub async fn password_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (id, name, source) = (ctx.user.id, ctx.user.username.clone(), ctx.source.clone());
    let claimant = Claimant::SignedIn(id);
    let checked = auth::check_password(&state, claimant, name, source, form.current_password);
    let current_ok = checked.await?.user.is_some();
    let mut errors = FieldErrors::default();
    if !current_ok {
        let target = format!("user/{}", ctx.user.username);
        audit::record_alone(
            &state.pool,
            ctx.actor(),
            crate::audit::action::PASSWORD_CHANGE_REFUSED,
            target,
        )
        .await?;
        errors.add("current_password", "The current password is not right.");
    }
    let new = errors.check("new_password", Password::parse(&form.new_password));
    if form.new_password != form.confirm_password {
        errors.add("confirm_password", "The passwords do not match.");
    }
    let (Some(new), true) = (new, errors.is_empty()) else {
        return unprocessable(&PasswordPage { ctx, errors });
    };
    let hash = state.hashing.hash(new).await?;
    let actor = ctx.actor();
    let version = db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let v = store::change_password(&tx, id, &hash)?;
        let target = format!("user/{}", actor.name);
        audit::record(
            &tx,
            &actor.name,
            crate::audit::action::PASSWORD_CHANGED,
            &target,
            &actor.source,
        )?;
        tx.commit()?;
        Ok(v)
    })
    .await?;
    ctx.session.continue_as(version)?;
    let home = if ctx.user.is_admin {
        "/admin/secrets"
    } else {
        "/"
    };
    ctx.done(
        "Your password was changed. Other sessions were signed out.",
        home,
    )
}
