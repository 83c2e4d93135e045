use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::credentials::{self, Claimant};
use super::store as users;
use crate::audit::{self, Outcome};
use crate::db;
use crate::domain::{Password, Username};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{FieldErrors, TypedSession, render, see_other, unprocessable};

/// The one message for every kind of failed sign-in: it must not tell
/// whether the user exists.
const INVALID: &str = "Invalid username or password.";

/// The audit log's actor for a failed sign-in that matched no account.
pub const UNKNOWN_USER: &str = "(unknown user)";

#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
struct LoginPage {
    csrf: String,
    username: String,
    error: Option<&'static str>,
    flash: Option<String>,
}

/// `GET /login`
pub async fn login_form(session: TypedSession) -> Result<impl Responder, AppError> {
    Ok(LoginPage {
        csrf: session.csrf_token()?,
        username: String::new(),
        error: None,
        flash: session.take_flash(),
    })
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`: the password check (throttle, argon2), then a fresh
/// session.
pub async fn login_submit(
    req: HttpRequest,
    form: web::Form<LoginForm>,
    session: TypedSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let LoginForm { username, password } = form.into_inner();
    let typed = username.trim().to_lowercase();
    // What is not a possible username (often a password typed into the
    // wrong box) is neither looked up nor written down.
    let key = throttle_key(&typed);
    let source = state.client_addr(&req);
    let claimant = Claimant::Named(key.clone());
    let checked =
        credentials::check(&state, claimant, key.clone(), source.clone(), password).await?;
    let Some(user) = checked.user else {
        // A name that matched no account is not recorded either: every
        // administrator reads the log.
        let actor = if checked.matched {
            key
        } else {
            UNKNOWN_USER.to_owned()
        };
        db::run(&state.pool, move |c| {
            Ok(audit::record(
                c,
                &actor,
                crate::audit::action::SIGN_IN_FAILED,
                "",
                &source,
            )?)
        })
        .await?;
        let page = LoginPage {
            csrf: session.csrf_token()?,
            username: username.chars().take(64).collect(),
            error: Some(INVALID),
            flash: None,
        };
        return render(StatusCode::UNAUTHORIZED, &page);
    };
    let (id, name) = (user.id, user.username.clone());
    db::run(&state.pool, move |c| {
        users::record_login(c, id)?;
        audit::record(c, &name, crate::audit::action::SIGN_IN, "", &source)?;
        Ok(())
    })
    .await?;
    session.sign_in(user.id, user.session_version, db::now())?;
    let to = if user.is_admin { "/admin/secrets" } else { "/" };
    Ok(see_other(to))
}

/// The name failures are counted under: the typed username if it could be
/// one, else a shared bucket.
pub fn throttle_key(typed: &str) -> String {
    match Username::parse(typed) {
        Ok(u) => u.as_str().to_owned(),
        Err(_) => "(invalid)".to_owned(),
    }
}

/// `POST /logout`: ends this session and every other one of the user.
pub async fn logout(
    req: HttpRequest,
    session: TypedSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    // Only a live session ends the others: an expired, revoked or replayed
    // cookie must not sign the account out everywhere.
    if let Some(user) = super::live_user(&state, &session).await? {
        let source = state.client_addr(&req);
        db::run(&state.pool, move |c| {
            let tx = db::write_tx(c)?;
            users::end_sessions(&tx, user.id)?;
            audit::record(
                &tx,
                &user.username,
                crate::audit::action::SIGN_OUT,
                "",
                &source,
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    }
    session.purge();
    Ok(see_other("/login"))
}

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
    if db::run(&state.pool, |c| Ok(users::count(c)?)).await? > 0 {
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

/// `POST /setup`: creates the first administrator and signs them in.
pub async fn setup_submit(
    req: HttpRequest,
    form: web::Form<SetupForm>,
    session: TypedSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    check_setup_token(&state, &form.token)?;
    let mut errors = FieldErrors::default();
    let username = errors.check("username", Username::parse(&form.username));
    let password = errors.check("password", Password::parse(&form.password));
    if form.password != form.confirm_password {
        errors.add("confirm_password", "The passwords do not match.");
    }
    let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
        let page = SetupPage {
            csrf: session.csrf_token()?,
            token: form.token,
            username: form.username,
            errors,
        };
        return unprocessable(&page);
    };
    let hash = state.hashing.hash(password).await?;
    let name = username.as_str().to_owned();
    let actor = audit::Actor {
        name: name.clone(),
        source: state.client_addr(&req),
    };
    let created = audit::audited(
        &state.pool,
        actor,
        "user created",
        format!("user/{name}"),
        move |c| {
            // Two setup forms sent at once: only the first makes a user.
            if users::count(c)? > 0 {
                return Ok(Outcome::Refused(()));
            }
            Ok(Outcome::Done(
                users::create(c, &name, &hash, true, true).map_err(AppError::internal)?,
            ))
        },
    )
    .await?;
    let Outcome::Done(user) = created else {
        return Err(AppError::NotFound(
            "This setup link is no longer valid.".into(),
        ));
    };
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
