use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::audit;
use crate::auth::store as users;
use crate::auth::{self, Claimant, UNKNOWN_USER, throttle_key};
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{TypedSession, render, see_other};

/// The one message for every kind of failed sign-in: it must not tell
/// whether the user exists.
const INVALID: &str = "Invalid username or password.";

#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
struct LoginPage {
    csrf: String,
    username: String,
    error: Option<String>,
    flash: Option<String>,
    /// Single sign-on's button, when it is configured.
    sso: Option<SsoButton>,
    /// The password form is shown (`--password-login on`, or `?local`).
    password_form: bool,
    /// Reached as `/login?local`: the form posts back there.
    local: bool,
    /// No account exists yet: say where the first one comes from.
    first_start: bool,
}

/// "Sign in with <name>", or why it cannot be used now.
struct SsoButton {
    name: String,
    /// The provider as the notice names it ("the provider" for the
    /// default name).
    phrase: String,
    unavailable: bool,
}

/// What `/login` is asked for.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    /// Present: the password form whatever `--password-login` says
    /// (break-glass).
    local: Option<String>,
    /// Why an SSO sign-in came back without signing anyone in.
    sso: Option<String>,
}

impl LoginPage {
    fn new(state: &AppState, session: &TypedSession, query: &LoginQuery) -> Result<Self, AppError> {
        let local = query.local.is_some();
        let sso = state.sso.as_ref().map(|s| SsoButton {
            name: s.config.name.clone(),
            phrase: s.config.provider_phrase().to_owned(),
            unavailable: s.unavailable().is_some(),
        });
        let error = match (&state.sso, query.sso.as_deref()) {
            (Some(s), Some(code)) => super::sso::message(code, &s.config),
            _ => None,
        };
        Ok(Self {
            csrf: session.csrf_token()?,
            username: String::new(),
            error,
            flash: None,
            password_form: local || state.settings.password_login || sso.is_none(),
            sso,
            local,
            first_start: false,
        })
    }
}

/// `GET /login`: the SSO button above the password form (or alone, with
/// `--password-login off`; `?local` shows the form anyway). Someone signed
/// in already goes to their home page.
pub async fn login_form(
    session: TypedSession,
    state: web::Data<AppState>,
    known: web::Data<auth::Known>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(user) = auth::live_user(&state, &known, &session).await? {
        return Ok(see_other(crate::web::home(user.is_admin)));
    }
    let mut page = LoginPage::new(&state, &session, &query)?;
    page.flash = session.take_flash();
    page.first_start = db::run(&state.pool, |c| Ok(users::count(c)?)).await? == 0;
    render(StatusCode::OK, &page)
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
    query: web::Query<LoginQuery>,
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
        auth::check_password(&state, claimant, key.clone(), source.clone(), password).await?;
    // With --password-login off, an account bound to a single sign-on
    // identity signs in there (with the provider's second factor), not
    // with a wharf password; break-glass is for the others.
    let mut action = crate::audit::action::SIGN_IN_FAILED;
    let user = match checked.user {
        Some(u) if !state.settings.password_login && sso_bound(&state, u.id).await? => {
            action = crate::audit::action::SIGN_IN_PASSWORD_OFF;
            None
        }
        other => other,
    };
    let Some(user) = user else {
        // A name that matched no account is not recorded either: every
        // administrator reads the log.
        let actor = if checked.matched {
            key
        } else {
            UNKNOWN_USER.to_owned()
        };
        db::run(&state.pool, move |c| {
            Ok(audit::record(c, &actor, action, "", &source)?)
        })
        .await?;
        let mut page = LoginPage::new(&state, &session, &query)?;
        page.username = username.chars().take(64).collect();
        page.error = Some(INVALID.into());
        page.password_form = true;
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
    Ok(see_other(crate::web::home(user.is_admin)))
}

/// Signed out of wharf; on to the provider's end-session endpoint.
#[derive(Template)]
#[template(path = "auth/signed_out.html")]
struct SignedOut<'a> {
    provider: &'a str,
    to: &'a str,
}

async fn sso_bound(state: &AppState, id: crate::domain::UserId) -> Result<bool, AppError> {
    db::run(&state.pool, move |c| Ok(users::has_sso_identity(c, id)?)).await
}

/// `POST /logout`: ends this session and every other one of the user; a
/// session begun by single sign-on goes on to the provider's end-session
/// endpoint, which ends the provider's session and sends the browser back
/// to `/login`.
pub async fn logout(
    req: HttpRequest,
    session: TypedSession,
    state: web::Data<AppState>,
    known: web::Data<auth::Known>,
) -> Result<HttpResponse, AppError> {
    let mut provider_logout = None;
    // Only a live session ends the others: an expired, revoked or replayed
    // cookie must not sign the account out everywhere.
    if let Some(user) = auth::live_user(&state, &known, &session).await? {
        let by_sso = session.by_sso();
        let source = state.client_addr(&req);
        // The kept ID token is read and forgotten in the same transaction:
        // the provider's session ends with this sign-out.
        let kept = db::run(&state.pool, move |c| {
            let tx = db::write_tx(c)?;
            users::end_sessions(&tx, user.id)?;
            let kept = match by_sso {
                true => crate::users::sso::take_id_token(&tx, user.id)?,
                false => None,
            };
            audit::record(
                &tx,
                &user.username,
                crate::audit::action::SIGN_OUT,
                "",
                &source,
            )?;
            tx.commit()?;
            Ok(kept)
        })
        .await?;
        if by_sso {
            provider_logout = super::sso::end_session_url(&state, kept);
        }
    }
    session.purge();
    Ok(match provider_logout {
        // A page that moves on by itself, not a redirect: the form that
        // posted here may only lead to wharf (CSP form-action 'self').
        Some(to) => render(
            StatusCode::OK,
            &SignedOut {
                provider: state.sso.as_ref().map_or("SSO", |s| s.config.name.as_str()),
                to: &to,
            },
        )?,
        None => see_other("/login"),
    })
}
