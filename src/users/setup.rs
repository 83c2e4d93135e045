//! `/setup`: the one-time link that makes the first administrator, while
//! no user exists.

use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::ops;
use crate::audit::Actor;
use crate::db;
use crate::error::AppError;
use crate::ops::Failure;
use crate::state::AppState;
use crate::web::{FieldErrors, TypedSession, see_other, unprocessable};

#[derive(Template, WebTemplate)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    csrf: String,
    token: String,
    username: String,
    errors: FieldErrors,
}

/// `?token=` of the setup link.
#[derive(Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

/// The token must be the live one: compared in constant time.
fn check_setup_token(state: &AppState, given: &str) -> Result<(), AppError> {
    let gone = || AppError::NotFound("This setup link is no longer valid.".into());
    let guard = state.setup_token.lock().map_err(|_| gone())?;
    match guard.as_deref() {
        Some(t) if bool::from(t.as_bytes().ct_eq(given.as_bytes())) => Ok(()),
        _ => Err(gone()),
    }
}

/// `GET /setup?token=`: the form for the first administrator.
pub async fn setup_form(
    query: web::Query<SetupQuery>,
    session: TypedSession,
    state: web::Data<AppState>,
) -> Result<impl Responder, AppError> {
    check_setup_token(&state, &query.token)?;
    // `wharf user add` may have made a user while the server runs.
    if db::run(&state.pool, |c| Ok(crate::auth::store::count(c)?)).await? > 0 {
        if let Ok(mut t) = state.setup_token.lock() {
            *t = None;
        }
        return Err(AppError::NotFound(
            "This setup link is no longer valid.".into(),
        ));
    }
    Ok(SetupPage {
        csrf: session.csrf_token()?,
        token: query.into_inner().token,
        username: String::new(),
        errors: FieldErrors::default(),
    })
}

/// The first administrator's form.
#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
}

/// The setup form again, with its messages (422).
fn rejected(
    session: &TypedSession,
    form: &SetupForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    unprocessable(&SetupPage {
        csrf: session.csrf_token()?,
        token: form.token.clone(),
        username: form.username.clone(),
        errors,
    })
}

/// `POST /setup`: creates the first administrator and signs them in.
pub async fn setup_submit(
    req: HttpRequest,
    form: web::Form<SetupForm>,
    session: TypedSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    check_setup_token(&state, &form.token)?;
    let input = ops::NewAccount {
        username: &form.username,
        password: &form.password,
        is_admin: true,
        active: true,
    };
    // The form's own rule beside the account's: both passwords alike.
    let mut errors = match ops::parse_new(&input) {
        Ok(_) => FieldErrors::default(),
        Err(errors) => errors,
    };
    if form.password != form.confirm_password {
        errors.add("confirm_password", "The passwords do not match.");
    }
    if !errors.is_empty() {
        return rejected(&session, &form, errors);
    }
    // The new administrator is the author of their own account.
    let actor = Actor {
        name: form.username.trim().to_owned(),
        source: state.client_addr(&req),
    };
    let user = match ops::create(&state, actor, &input, true).await {
        Ok(user) => user,
        Err(Failure::Invalid(errors)) => return rejected(&session, &form, errors),
        Err(Failure::Refused(ops::SetupDone)) => {
            return Err(AppError::NotFound(ops::SetupDone.to_string()));
        }
        Err(other) => return Err(other.into()),
    };
    let username = user.username.clone();
    if let Ok(mut t) = state.setup_token.lock() {
        *t = None;
    }
    tracing::info!(username = %username, "first administrator created; the setup link is now void");
    session.sign_in(user.id, user.session_version, db::now())?;
    session.flash(format!(
        "Welcome, {username}. You are the first administrator."
    ))?;
    Ok(see_other("/admin/secrets"))
}
