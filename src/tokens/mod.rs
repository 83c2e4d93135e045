//! The token pages: `/account/tokens`, where anyone signed in makes and
//! revokes their own API tokens, and `/admin/tokens`, everyone's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::audit::{Outcome, audited};
use crate::auth::AdminCtx;
use crate::auth::tokens::{
    self, CreateError, DEFAULT_EXPIRY_DAYS, EXPIRY_DAYS, NewToken, Scope, TokenRow,
};
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Ctx, FieldErrors, render, unprocessable};

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

/// `GET /account/tokens`
pub async fn own(ctx: Ctx, state: web::Data<AppState>) -> Result<impl Responder, AppError> {
    let tokens = own_tokens(&state, &ctx).await?;
    Ok(OwnPage {
        ctx,
        tokens,
        now: db::now(),
        created: None,
        form: TokenForm::default(),
        errors: FieldErrors::default(),
        days: EXPIRY_DAYS,
    })
}

/// `POST /account/tokens`: makes a token and shows it once.
pub async fn create(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let name = errors.check("name", tokens::parse_name(&form.name));
    let scope = Scope::parse(&form.scope);
    if scope.is_none() {
        errors.add("scope", "Choose Read only or Read and write.");
    }
    let days = form
        .expires_in_days
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|d| EXPIRY_DAYS.contains(d));
    if days.is_none() {
        errors.add("expires_in_days", "Choose 7, 30, 90 or 365 days.");
    }
    let (Some(name), Some(scope), Some(days), true) = (name, scope, days, errors.is_empty()) else {
        return page_with(
            ctx,
            &state,
            form,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let token = NewToken::generate();
    let (user, hash) = (ctx.user.id, token.hash);
    let version = ctx.session.user().map(|u| u.version);
    let target = format!("token/{}/{name}", ctx.user.username);
    let n = name.clone();
    let made = audited(
        &state.pool,
        ctx.actor(),
        "token created",
        target,
        move |c| {
            let token = NewToken {
                text: String::new(),
                hash,
            };
            Ok(tokens::create(c, user, version, &n, scope, days * 86_400, &token).into())
        },
    )
    .await?;
    match made {
        Outcome::Done(_) => {
            page_with(
                ctx,
                &state,
                TokenForm::default(),
                errors,
                Some(token.text),
                StatusCode::OK,
            )
            .await
        }
        Outcome::Refused(e @ CreateError::Duplicate(_)) => {
            errors.add("name", e.to_string());
            page_with(
                ctx,
                &state,
                form,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Outcome::Refused(CreateError::Inactive) => Err(AppError::LoginRequired),
        Outcome::Refused(CreateError::Db(e)) => Err(e.into()),
    }
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
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let owner = Some(ctx.user.id);
    revoke(&ctx, &state, &path, owner, "/account/tokens").await
}

/// `POST /admin/tokens/{id}/revoke`: anyone's.
pub async fn revoke_any(
    ctx: AdminCtx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    revoke(&ctx, &state, &path, None, "/admin/tokens").await
}

async fn revoke(
    ctx: &Ctx,
    state: &AppState,
    id: &str,
    owner: Option<crate::domain::UserId>,
    back: &str,
) -> Result<HttpResponse, AppError> {
    let missing = || AppError::NotFound("There is no such live token.".into());
    let id: i64 = id.parse().map_err(|_| missing())?;
    let actor = ctx.actor();
    let revoked = db::run(&state.pool, move |c| {
        let tx = db::write_tx(c)?;
        let row = tokens::revoke(&tx, id, owner)?;
        if let Some(t) = &row {
            let target = format!("token/{}/{}", t.owner, t.name);
            crate::audit::record(&tx, &actor.name, "token revoked", &target, &actor.source)?;
        }
        tx.commit()?;
        Ok(row)
    })
    .await?
    .ok_or_else(missing)?;
    ctx.done(format!("Token {} revoked.", revoked.name), back)
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
