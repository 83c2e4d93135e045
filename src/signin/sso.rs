//! `GET /auth/oidc/login` (off to the provider) and `GET
//! /auth/oidc/callback` (back from it), and what the sign-in page and
//! sign-out need of single sign-on.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, Scope, TokenResponse as _,
};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::audit::{self, action};
use crate::auth::throttle::{self, Bucket};
use crate::db;
use crate::error::AppError;
use crate::sso::flow::{self, Flow};
use crate::sso::{IdToken, Provider, Sso, describe};
use crate::state::AppState;
use crate::users::sso::{self as accounts, Identity, Refusal};
use crate::web::{TypedSession, render, see_other};

fn configured(state: &AppState) -> Result<&Sso, AppError> {
    state
        .sso
        .as_ref()
        .ok_or_else(|| AppError::NotFound("Single sign-on is not configured.".into()))
}

/// `GET /auth/oidc/login`: a new flow (state, nonce, PKCE S256) added to
/// this browser's flow cookie, and off to the provider; while the provider
/// does not answer, back to `/login`, which says so.
pub async fn login(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let sso = configured(&state)?;
    let provider = match (sso.provider(), sso.unavailable()) {
        (Some(provider), None) => provider,
        _ => return Ok(see_other("/login?sso=unavailable")),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = provider.client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in &sso.config.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.set_pkce_challenge(challenge).url();
    let now = db::now();
    let mut flows = flow::read(&req, &sso.flow_key, sso.secure_cookies, now);
    flows.push(Flow {
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        started: now,
    });
    let keep_from = flows.len().saturating_sub(flow::MAX_FLOWS);
    let cookie = flow::cookie(&flows[keep_from..], &sso.flow_key, sso.secure_cookies)
        .map_err(AppError::internal)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.as_str()))
        .cookie(cookie)
        .finish())
}

/// The provider's redirect back.
#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// RFC 9207: which provider answered.
    iss: Option<String>,
}

/// Why a callback did not sign anyone in.
enum Failed {
    /// No flow cookie (another browser, or over) or too old.
    Expired,
    /// The `state` is not the flow's.
    State,
    /// The provider answered with an error code.
    Provider(String),
    /// The answer names another issuer.
    Issuer,
    /// Discovery has not succeeded.
    Unavailable,
    /// The provider's token endpoint could not be reached.
    Unreachable(String),
    /// The code was not exchanged.
    Exchange(String),
    /// The ID token failed a check.
    IdToken(String),
    /// Verified, but the account refused (already audited).
    Account(Refusal),
}

impl Failed {
    /// The `/login?sso=` code.
    fn code(&self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::State => "state",
            Self::Provider(e) if e == "access_denied" => "denied",
            Self::Provider(_) => "provider",
            Self::Unavailable => "unavailable",
            Self::Unreachable(_) => "unreachable",
            Self::Issuer | Self::Exchange(_) | Self::IdToken(_) => "failed",
            Self::Account(Refusal::Taken(_)) => "taken",
            Self::Account(Refusal::Disabled(_)) => "disabled",
            Self::Account(Refusal::NotMember(..)) => "notmember",
            Self::Account(Refusal::NoUsername | Refusal::NoFreeName(_)) => "nousername",
        }
    }

    /// What the audit log says, when it is not already said.
    fn reason(&self) -> Option<String> {
        Some(match self {
            Self::Expired => {
                "no sign-in was started in this browser, or it is over 10 minutes old".into()
            }
            Self::State => "the state does not match the sign-in this browser started".into(),
            Self::Provider(e) => format!("the provider answered {e}"),
            Self::Issuer => "the answer does not name this provider as its issuer".into(),
            Self::Unavailable => "the provider has not been discovered".into(),
            Self::Unreachable(e) => {
                format!("the provider's token endpoint could not be reached: {e}")
            }
            Self::Exchange(e) => format!("the provider did not accept the code: {e}"),
            Self::IdToken(e) => format!("the ID token was refused: {e}"),
            Self::Account(_) => return None,
        })
    }
}

/// The sentence `/login?sso=<code>` shows, naming the provider by
/// `--oidc-name` (and as "the provider" where the default name would read
/// "SSO cannot be reached").
pub fn message(code: &str, config: &crate::sso::SsoConfig) -> Option<String> {
    let provider = config.name.as_str();
    let phrase = config.provider_phrase();
    Some(match code {
        "expired" => "That sign-in was started in another browser or took too long. Start again here.".into(),
        "state" => "The answer did not belong to a sign-in this browser started, so it was refused. Start again here.".into(),
        "denied" => format!("{provider} did not sign you in: access was denied."),
        "provider" => format!("{provider} could not sign you in. Try again, or ask an administrator."),
        "unavailable" => format!("Single sign-on is unavailable right now: {phrase} cannot be reached."),
        "unreachable" => format!("Single sign-on stopped during your sign-in: {phrase} could not be reached at its token endpoint, so you were not signed in. Try again in a minute."),
        "failed" => format!("{provider}'s answer could not be verified, so you were not signed in. An administrator can read why in the audit log."),
        "taken" => format!("Your {provider} username belongs to a wharf account with a password, so it was not used. Ask an administrator to link your {provider} identity to that account."),
        "disabled" => "Your account is disabled.".into(),
        "notmember" => format!("Your {provider} account is not in the group that may use wharf. Ask an administrator to add you to it."),
        "nousername" => format!("{provider} gave no username or e-mail address that a new wharf account could be named by. Ask an administrator."),
        _ => return None,
    })
}

/// The page a signed-in person is sent on from: the session cookie is
/// `SameSite=Strict`, and the browser would not send it on a redirect
/// that began at the provider; a navigation this page starts is same-site.
#[derive(Template)]
#[template(path = "auth/continue.html")]
struct Continue<'a> {
    to: &'a str,
    username: &'a str,
    created: bool,
    provider: &'a str,
}

/// `GET /auth/oidc/callback`: checks the answer against this browser's
/// flow, exchanges the code (with the PKCE verifier), verifies the ID
/// token, and signs the account in; any failure goes to `/login` with a
/// sentence, and to the audit log with its reason. The flow cookie is
/// removed either way.
pub async fn callback(
    req: HttpRequest,
    query: web::Query<Callback>,
    session: TypedSession,
    known: web::Data<crate::auth::Known>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let sso = configured(&state)?;
    // The callback reopened or refreshed by someone signed in (the session
    // cookie comes only on a navigation from wharf's own site): home.
    if let Some(user) = crate::auth::live_user(&state, &known, &session).await? {
        return Ok(see_other(crate::web::home(user.is_admin)));
    }
    let source = state.client_addr(&req);
    let now = db::now();
    let mut flows = flow::read(&req, &sso.flow_key, sso.secure_cookies, now);
    // The answer finishes the sign-in its `state` names, once; the others
    // this browser has under way stay.
    let answered = query.state.as_deref().and_then(|s| {
        flows
            .iter()
            .position(|f| bool::from(s.as_bytes().ct_eq(f.state.as_bytes())))
    });
    let flow = answered.map(|at| flows.remove(at));
    let started_any = flow.is_some() || !flows.is_empty();
    let outcome = finish(&state, sso, flow, started_any, query.into_inner(), &source).await?;
    state.metrics.sso_sign_in(outcome.is_ok());
    let mut response = match outcome {
        Ok(signed) => {
            let user = signed.user;
            session.sign_in(user.id, user.session_version, db::now())?;
            session.mark_sso()?;
            let page = Continue {
                to: crate::web::home(user.is_admin),
                username: &user.username,
                created: signed.created,
                provider: &sso.config.name,
            };
            render(StatusCode::OK, &page)?
        }
        Err(failed) => {
            if let Some(reason) = failed.reason() {
                let what = format!("{} ({reason})", action::SIGN_IN_SSO_REFUSED);
                let who = crate::auth::UNKNOWN_USER.to_owned();
                // Past 30 refusals from one address in 15 minutes the
                // refusals go on (and are counted in /metrics) without an
                // audit entry each: one address cannot fill the log. A
                // sign-in that works is never held back.
                db::run(&state.pool, move |c| {
                    let tx = db::write_tx(c)?;
                    if throttle::retry_after_in(&tx, Bucket::Sso, &source)?.is_none() {
                        audit::record(&tx, &who, &what, "", &source)?;
                        throttle::record_failure(&tx, Bucket::Sso.name(), &source)?;
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await?;
            }
            see_other(&format!("/login?sso={}", failed.code()))
        }
    };
    let kept = if flows.is_empty() {
        flow::removal(sso.secure_cookies)
    } else {
        flow::cookie(&flows, &sso.flow_key, sso.secure_cookies).map_err(AppError::internal)?
    };
    response.add_cookie(&kept).map_err(AppError::internal)?;
    Ok(response)
}

async fn finish(
    state: &AppState,
    sso: &Sso,
    flow: Option<Flow>,
    started_any: bool,
    answer: Callback,
    source: &str,
) -> Result<Result<accounts::SignedIn, Failed>, AppError> {
    let Some(flow) = flow else {
        // Sign-ins under way, but not the one answered: a forged or
        // mixed-up state. None at all: another browser, or too late.
        return Ok(Err(if started_any {
            Failed::State
        } else {
            Failed::Expired
        }));
    };
    // RFC 9207: a provider that names itself in redirects must have, and
    // any named issuer must be ours (a mix-up with another provider).
    let provider = sso.provider();
    let iss_required = provider.as_ref().is_some_and(|p| p.names_issuer);
    match answer.iss.as_deref() {
        Some(iss) if iss != sso.config.issuer.as_str() => return Ok(Err(Failed::Issuer)),
        None if iss_required => return Ok(Err(Failed::Issuer)),
        _ => {}
    }
    if let Some(error) = answer.error {
        // Only a code's own characters reach the log.
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        return Ok(Err(Failed::Provider(error)));
    }
    let Some(code) = answer.code else {
        return Ok(Err(Failed::Provider("no_code".into())));
    };
    let Some(provider) = provider else {
        return Ok(Err(Failed::Unavailable));
    };
    let token = match exchange(sso, &provider, code, flow.verifier).await {
        Ok(token) => token,
        Err(Exchange::Unreachable(e)) => {
            // Noticed at once: `/login` says so until it answers again.
            if sso.mark_down(e.clone(), &state.metrics) {
                tracing::warn!(error = %e, "the OpenID provider's token endpoint cannot be reached; single sign-on is unavailable");
            }
            return Ok(Err(Failed::Unreachable(e)));
        }
        Err(Exchange::Refused(e)) => return Ok(Err(Failed::Exchange(e))),
    };
    let nonce = Nonce::new(flow.nonce);
    let identity = match verify(&provider, sso, &token, &nonce) {
        Ok(identity) => identity,
        // A key the provider rotated in since discovery: ask again, once.
        Err(Checked::Signature(_)) if sso.rediscover().await => {
            match sso.provider().map(|p| verify(&p, sso, &token, &nonce)) {
                Some(Ok(identity)) => identity,
                Some(Err(Checked::Signature(e) | Checked::Other(e))) => {
                    return Ok(Err(Failed::IdToken(e)));
                }
                None => return Ok(Err(Failed::Unavailable)),
            }
        }
        Err(Checked::Signature(e) | Checked::Other(e)) => return Ok(Err(Failed::IdToken(e))),
    };
    let rules = sso.config.groups.clone();
    let signed = accounts::sign_in(
        (&state.pool, &state.master),
        identity,
        rules,
        source.to_owned(),
    )
    .await?;
    Ok(signed.map_err(Failed::Account))
}

/// Why a code was not exchanged.
enum Exchange {
    /// The token endpoint could not be reached (no connection, no answer).
    Unreachable(String),
    /// It answered, but not with an ID token.
    Refused(String),
}

/// The code for the ID token, at the token endpoint, with the client's
/// secret and the PKCE verifier.
async fn exchange(
    sso: &Sso,
    provider: &Provider,
    code: String,
    verifier: String,
) -> Result<IdToken, Exchange> {
    let request = provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Exchange::Refused(describe(&e)))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier));
    let response = request
        .request_async(&sso.http)
        .await
        .map_err(|e| match &e {
            openidconnect::RequestTokenError::ServerResponse(r) => {
                let mut text = r.error().to_string();
                if let Some(d) = r.error_description() {
                    text.push_str(": ");
                    text.push_str(d);
                }
                Exchange::Refused(text.chars().take(300).collect())
            }
            openidconnect::RequestTokenError::Request(openidconnect::HttpClientError::Reqwest(
                r,
            )) if r.is_connect() || r.is_timeout() => Exchange::Unreachable(describe(&e)),
            other if crate::sso::unreachable(other) => Exchange::Unreachable(describe(other)),
            other => Exchange::Refused(describe(other)),
        })?;
    response
        .id_token()
        .cloned()
        .ok_or_else(|| Exchange::Refused("the token response has no ID token".into()))
}

enum Checked {
    /// The signature did not verify (perhaps a key not yet seen).
    Signature(String),
    /// Any other check.
    Other(String),
}

/// The ID token's checks: signature (from the JWKS, with an algorithm the
/// provider announced; never `none`), issuer, audience, expiry, nonce.
fn verify(
    provider: &Provider,
    sso: &Sso,
    token: &IdToken,
    nonce: &Nonce,
) -> Result<Identity, Checked> {
    let verifier = provider.client.id_token_verifier();
    let claims = token.claims(&verifier, nonce).map_err(|e| match e {
        openidconnect::ClaimsVerificationError::SignatureVerification(_) => {
            Checked::Signature(describe(&e))
        }
        other => Checked::Other(describe(&other)),
    })?;
    Ok(Identity {
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
        email: claims.email().map(|e| e.as_str().to_owned()),
        groups: claims.additional_claims().groups(&sso.config.groups_claim),
        id_token: token.to_string(),
    })
}

/// Where sign-out sends an SSO session: the provider's end-session
/// endpoint with the account's last ID token (`kept`, taken when the
/// sessions were ended) as `id_token_hint` and `<public-url>/login` to come
/// back to; `None` when the provider offers none.
pub fn end_session_url(state: &AppState, kept: Option<accounts::KeptIdToken>) -> Option<String> {
    let sso = state.sso.as_ref()?;
    let endpoint = sso.provider().and_then(|p| p.end_session.clone())?;
    let hint = kept
        .and_then(|k| k.open(&state.master))
        .and_then(|raw| raw.parse::<IdToken>().ok());
    let mut request = openidconnect::LogoutRequest::from(endpoint.clone())
        .set_client_id(sso.config.client_id.clone());
    if let Ok(back) = PostLogoutRedirectUrl::new(sso.config.after_logout.clone()) {
        request = request.set_post_logout_redirect_uri(back);
    }
    if let Some(hint) = &hint {
        request = request.set_id_token_hint(hint);
    }
    Some(request.http_get_url().to_string())
}
