//! The token pages: `/account/tokens`, where anyone signed in makes and
//! revokes their own API tokens, and `/admin/tokens`, everyone's.

pub mod ops;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::auth::tokens::{self, DEFAULT_EXPIRY_DAYS, EXPIRY_DAYS, Scope, TokenRow};
use crate::auth::{AdminCtx, UserCtx};
use crate::db;
use crate::error::AppError;
use crate::ops::Failure;
use crate::state::AppState;
use crate::web::{Ctx, FieldErrors, render, see_other, unprocessable};

/// The routes outside `/admin`.
pub fn configure_account(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/tokens", web::get().to(own))
        .route("/account/tokens", web::post().to(create))
        .route("/account/tokens/{id}/revoke", web::post().to(revoke_own));
}

/// The routes under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tokens", web::get().to(all))
        .route("/tokens/{id}/revoke", web::post().to(revoke_any));
}

/// The create form as posted.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    name: String,
    scope: String,
    expires_in_days: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tokens/own.html")]
struct OwnPage {
    ctx: Ctx,
    tokens: Vec<TokenRow>,
    now: i64,
    /// The new token, shown once.
    created: Option<String>,
    form: TokenForm,
    errors: FieldErrors,
    days: &'static [i64],
}

impl OwnPage {
    fn selected_days(&self) -> i64 {
        self.form
            .expires_in_days
            .parse()
            .unwrap_or(DEFAULT_EXPIRY_DAYS)
    }

    fn write_scope(&self) -> bool {
        self.form.scope == Scope::Write.as_str()
    }
}

async fn own_tokens(state: &AppState, ctx: &Ctx) -> Result<Vec<TokenRow>, AppError> {
    let id = ctx.user.id;
    db::run(&state.pool, move |c| Ok(tokens::list_for(c, id)?)).await
}

/// `GET /account/tokens`: with a token just made, once.
pub async fn own(ctx: Ctx, state: web::Data<AppState>) -> Result<impl Responder, AppError> {
    let tokens = own_tokens(&state, &ctx).await?;
    let created = ctx.session.take_token(OWN);
    Ok(OwnPage {
        ctx,
        tokens,
        now: db::now(),
        created,
        form: TokenForm::default(),
        errors: FieldErrors::default(),
        days: EXPIRY_DAYS,
    })
}

/// The page of one's own tokens.
const OWN: &str = "/account/tokens";

/// `POST /account/tokens`: makes a token, and back to the page, which shows
/// it once (held in the sealed session: a refresh shows it no more).
pub async fn create(
    ctx: UserCtx,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let session_version = ctx.session.user().map(|u| u.version);
    let input = ops::TokenInput {
        name: form.name.clone(),
        scope: form.scope.clone(),
        lifetime: ops::Lifetime::Days(form.expires_in_days.clone()),
    };
    let errors = match ops::create(&state, ctx.member(), session_version, input).await {
        Ok(made) => {
            ctx.session.hold_token(OWN, &made.text)?;
            return Ok(see_other(OWN));
        }
        Err(Failure::Refused(ops::Inactive)) => return Err(AppError::LoginRequired),
        Err(failure) => failure.form_errors()?,
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    page_with(ctx.0, &state, form, errors, None, status).await
}

/// The own-tokens page with a form's state, or a new token to show.
async fn page_with(
    ctx: Ctx,
    state: &AppState,
    form: TokenForm,
    errors: FieldErrors,
    created: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let tokens = own_tokens(state, &ctx).await?;
    let page = OwnPage {
        ctx,
        tokens,
        now: db::now(),
        created,
        form,
        errors,
        days: EXPIRY_DAYS,
    };
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        unprocessable(&page)
    } else {
        render(status, &page)
    }
}

/// `POST /account/tokens/{id}/revoke`: one of your own.
pub async fn revoke_own(
    ctx: UserCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let revoked = ops::revoke_own(&state, ctx.member(), &path).await?;
    ctx.done(
        format!("Token {} revoked.", revoked.name),
        "/account/tokens",
    )
}

/// `POST /admin/tokens/{id}/revoke`: anyone's.
pub async fn revoke_any(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let revoked = ops::revoke_any(&state, ctx.admin(), &path).await?;
    ctx.done(format!("Token {} revoked.", revoked.name), "/admin/tokens")
}

#[derive(Template, WebTemplate)]
#[template(path = "tokens/all.html")]
struct AllPage {
    ctx: Ctx,
    tokens: Vec<TokenRow>,
    now: i64,
}

/// `GET /admin/tokens`
pub async fn all(ctx: AdminCtx, state: web::Data<AppState>) -> Result<impl Responder, AppError> {
    let tokens = db::run(&state.pool, |c| Ok(tokens::list_all(c)?)).await?;
    Ok(AllPage {
        ctx: ctx.0,
        tokens,
        now: db::now(),
    })
}
