//! `/setup`: the one-time link that makes the first administrator, while
//! no user exists.

use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::ops;
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

/// `GET /setup?token=`: the form for the first administrator.
pub async fn setup_form(
    query: web::Query<SetupQuery>,
    session: TypedSession,
    state: web::Data<AppState>,
) -> Result<impl Responder, AppError> {
    crate::auth::check_setup_link(&state, &query.token)?;
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
    // The link is checked, and the first administrator is the author of
    // their own account.
    let by = crate::auth::Admin::setup_link(
        &state,
        &form.token,
        &form.username,
        state.client_addr(&req),
    )?;
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
    let user = match ops::create(&state, &by, &input, true).await {
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
