//! Single sign-on with the platform's OpenID provider (Keycloak, Dex, ...):
//! the authorization code flow with PKCE, the ID token checked by
//! `openidconnect` (signature from the provider's JWKS, issuer, audience,
//! expiry, nonce), accounts, roles and groups taken from its claims.
//!
//! The provider is discovered in the background: wharf starts, and its
//! password sign-in works, while the provider cannot be reached.

pub mod flow;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    ClientId, ClientSecret, EmptyExtraTokenFields, EndSessionUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IdTokenFields, IssuerUrl, RedirectUrl, StandardErrorResponse,
    StandardTokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::options::ServeArgs;

/// The claims beyond the standard ones, of which wharf reads one: the
/// groups claim, whatever `--oidc-groups-claim` names it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl openidconnect::AdditionalClaims for OtherClaims {}

impl OtherClaims {
    /// The group names in claim `name`: a list of strings, or one string;
    /// `None` when the token has no such claim. Keycloak's full group
    /// paths lose their leading `/`.
    pub fn groups(&self, name: &str) -> Option<Vec<String>> {
        let names: Vec<&str> = match self.claims.get(name)? {
            serde_json::Value::Array(items) => {
                items.iter().filter_map(serde_json::Value::as_str).collect()
            }
            serde_json::Value::String(one) => vec![one.as_str()],
            _ => Vec::new(),
        };
        let mut groups: Vec<String> = names
            .into_iter()
            .map(|g| g.strip_prefix('/').unwrap_or(g).to_owned())
            .filter(|g| !g.is_empty())
            .collect();
        groups.sort();
        groups.dedup();
        Some(groups)
    }
}

/// Discovery metadata beyond the core: RFC 9207's promise to name the
/// issuer in every redirect back.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IssuerInRedirect {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl openidconnect::AdditionalProviderMetadata for IssuerInRedirect {}

type Metadata = openidconnect::ProviderMetadata<
    openidconnect::LogoutProviderMetadata<IssuerInRedirect>,
    CoreAuthDisplay,
    openidconnect::core::CoreClientAuthMethod,
    openidconnect::core::CoreClaimName,
    openidconnect::core::CoreClaimType,
    openidconnect::core::CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    openidconnect::core::CoreResponseMode,
    openidconnect::core::CoreResponseType,
    openidconnect::core::CoreSubjectIdentifierType,
>;

type TokenFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResponse = StandardTokenResponse<TokenFields, CoreTokenType>;
/// An ID token with the claims wharf reads.
pub type IdToken = openidconnect::IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Single sign-on as configured on the command line.
#[derive(Clone, Debug)]
pub struct SsoConfig {
    /// `--oidc-issuer`.
    pub issuer: IssuerUrl,
    /// `--oidc-client-id`.
    pub client_id: ClientId,
    /// From `--oidc-client-secret-file` or `WHARF_OIDC_CLIENT_SECRET`.
    pub client_secret: ClientSecret,
    /// `--oidc-scopes`, without `openid` (always asked for).
    pub scopes: Vec<String>,
    /// `--oidc-groups-claim`.
    pub groups_claim: String,
    /// `--oidc-admin-group` and `--oidc-required-group`.
    pub groups: GroupRules,
    /// `--oidc-name`.
    pub name: String,
    /// `--oidc-check-every`: how often the provider is asked whether it
    /// still answers.
    pub check_every: Duration,
    /// `<public-url>/auth/oidc/callback`.
    pub redirect_url: RedirectUrl,
    /// `<public-url>/login`, where the provider sends people after sign-out.
    pub after_logout: String,
}

impl SsoConfig {
    /// The provider as sentences name it: "Keycloak", or "the provider"
    /// when `--oidc-name` was left at its default.
    pub fn provider_phrase(&self) -> &str {
        if self.name == "SSO" {
            "the provider"
        } else {
            &self.name
        }
    }

    /// Single sign-on from the server flags: `None` without
    /// `--oidc-issuer`; an error for what can never work (exit 1).
    pub fn from_args(args: &ServeArgs) -> Result<Option<Self>, String> {
        let Some(issuer) = args.oidc_issuer.as_deref() else {
            if args.password_login == "off" {
                return Err(
                    "--password-login off needs single sign-on (--oidc-issuer): \
                            no one could sign in"
                        .into(),
                );
            }
            return Ok(None);
        };
        let issuer = parse_issuer(issuer)?;
        let client_id = args
            .oidc_client_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or("--oidc-issuer needs --oidc-client-id")?;
        let secret = match (&args.oidc_client_secret_file, &args.oidc_client_secret) {
            (Some(file), _) => std::fs::read_to_string(file)
                .map_err(|e| format!("--oidc-client-secret-file {}: {e}", file.display()))?,
            (None, Some(secret)) => secret.0.clone(),
            (None, None) => {
                return Err("--oidc-issuer needs the client secret: \
                            --oidc-client-secret-file FILE or WHARF_OIDC_CLIENT_SECRET"
                    .into());
            }
        };
        let secret = secret.trim();
        if secret.is_empty() {
            return Err("the OpenID client secret is empty".into());
        }
        let public = args
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'))
            .filter(|u| !u.is_empty())
            .ok_or("--oidc-issuer needs --public-url: the provider sends people back to <public-url>/auth/oidc/callback")?;
        let redirect_url = RedirectUrl::new(format!("{public}/auth/oidc/callback"))
            .map_err(|e| format!("--public-url {public}: {e}"))?;
        let name = args.oidc_name.trim();
        Ok(Some(Self {
            issuer,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: ClientSecret::new(secret.to_owned()),
            scopes: args
                .oidc_scopes
                .split_whitespace()
                .filter(|s| *s != "openid")
                .map(str::to_owned)
                .collect(),
            groups_claim: args.oidc_groups_claim.trim().to_owned(),
            groups: GroupRules {
                admin: group_name(args.oidc_admin_group.as_deref()),
                required: group_name(args.oidc_required_group.as_deref()),
            },
            name: if name.is_empty() { "SSO" } else { name }.to_owned(),
            check_every: Duration::from_secs(args.oidc_check_every.0.max(1).unsigned_abs()),
            redirect_url,
            after_logout: format!("{public}/login"),
        }))
    }
}

/// What the provider's groups decide at each sign-in.
#[derive(Clone, Debug, Default)]
pub struct GroupRules {
    /// Members are administrators, others are not; `None` leaves roles
    /// to wharf.
    pub admin: Option<String>,
    /// Only members may sign in; `None`: anyone the provider signs in.
    pub required: Option<String>,
}

/// A group named on the command line, as providers list it (Keycloak's
/// full path loses its leading `/`); blank is none.
fn group_name(raw: Option<&str>) -> Option<String> {
    raw.map(|g| g.trim().trim_start_matches('/').to_owned())
        .filter(|g| !g.is_empty())
}

/// An issuer must be https; plain http only to this machine (a test's
/// provider), since the ID token's keys come from it.
fn parse_issuer(raw: &str) -> Result<IssuerUrl, String> {
    let issuer =
        IssuerUrl::new(raw.trim().to_owned()).map_err(|e| format!("--oidc-issuer {raw}: {e}"))?;
    let url = issuer.url();
    let loopback = match url.host() {
        Some(openidconnect::url::Host::Domain(d)) => d == "localhost",
        Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(format!(
                "--oidc-issuer {raw}: the issuer must be an https URL (plain http only to localhost)"
            ));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "--oidc-issuer {raw}: an issuer has no query or fragment"
        ));
    }
    Ok(issuer)
}

/// What discovery found: the client wharf is at this provider.
pub struct Provider {
    /// The OpenID client at this provider.
    pub client: OidcClient,
    /// Its end-session endpoint, if it has one.
    pub end_session: Option<EndSessionUrl>,
    /// RFC 9207: every redirect back names the issuer (`iss`).
    pub names_issuer: bool,
    fetched: std::time::Instant,
}

/// Where discovery stands.
enum Discovery {
    /// Not yet, or it failed (the reason, for the log and the sign-in page).
    Pending(Option<String>),
    /// The provider answered.
    Ready(Arc<Provider>),
}

/// Single sign-on's configuration, HTTP client and discovered provider.
pub struct Sso {
    /// The flags.
    pub config: SsoConfig,
    /// The client that talks to the provider.
    pub http: reqwest::Client,
    discovery: RwLock<Discovery>,
    /// Why a provider that was discovered stopped answering, while it
    /// does not (its keys are kept for the sign-ins under way).
    down: RwLock<Option<String>>,
    /// Serialises rediscovery (a key the provider rotated).
    refreshing: tokio::sync::Mutex<()>,
    /// Seals the flow cookie.
    pub flow_key: actix_web::cookie::Key,
    /// The flow cookie is `Secure`.
    pub secure_cookies: bool,
}

/// The least time between two discoveries asked for by an unknown key.
pub const REDISCOVER_AFTER: Duration = Duration::from_secs(5);

impl Sso {
    /// Single sign-on for these flags; `flow_key` seals the flow cookie.
    pub fn new(
        config: SsoConfig,
        flow_key: actix_web::cookie::Key,
        secure_cookies: bool,
    ) -> Result<Self, String> {
        // Never follow a redirect (an ID token's keys must come from the
        // issuer itself), nor a proxy from the environment. No idle
        // connection is kept: a few requests a minute gain nothing from
        // one, and a provider that restarted (or a balancer that dropped
        // it) would otherwise fail the next sign-in with a closed
        // connection instead of being reached afresh, or named unreachable.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("the OpenID HTTP client: {e}"))?;
        Ok(Self {
            config,
            http,
            discovery: RwLock::new(Discovery::Pending(None)),
            down: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            flow_key,
            secure_cookies,
        })
    }

    /// The discovered provider, if discovery has succeeded.
    pub fn provider(&self) -> Option<Arc<Provider>> {
        match &*self.discovery.read().ok()? {
            Discovery::Ready(p) => Some(p.clone()),
            Discovery::Pending(_) => None,
        }
    }

    /// Why single sign-on is unavailable, when it is: never discovered,
    /// or stopped answering since.
    pub fn unavailable(&self) -> Option<String> {
        if let Some(reason) = self.down.read().ok().and_then(|d| d.clone()) {
            return Some(reason);
        }
        match &*self.discovery.read().ok()? {
            Discovery::Ready(_) => None,
            Discovery::Pending(reason) => Some(
                reason
                    .clone()
                    .unwrap_or_else(|| "the provider has not answered yet".into()),
            ),
        }
    }

    /// Notes that the provider does not answer (`reason`): `/login` says
    /// so, and no sign-in is sent there until it answers again. True if it
    /// was answering until now.
    pub fn mark_down(&self, reason: String, metrics: &Metrics) -> bool {
        metrics.sso_provider_up(false);
        let Ok(mut down) = self.down.write() else {
            return false;
        };
        let was_up = down.is_none();
        *down = Some(reason);
        was_up
    }

    fn mark_up(&self, metrics: &Metrics) {
        metrics.sso_provider_up(true);
        if let Ok(mut down) = self.down.write() {
            *down = None;
        }
    }

    /// Asks the provider for its metadata and keys once.
    async fn discover(&self) -> Result<Provider, String> {
        let metadata = Metadata::discover_async(self.config.issuer.clone(), &self.http)
            .await
            .map_err(|e| describe(&e))?;
        let extra = metadata.additional_metadata();
        let end_session = extra.end_session_endpoint.clone();
        let names_issuer = extra
            .additional_metadata
            .authorization_response_iss_parameter_supported;
        let client = OidcClient::from_provider_metadata(
            metadata,
            self.config.client_id.clone(),
            Some(self.config.client_secret.clone()),
        )
        .set_redirect_uri(self.config.redirect_url.clone());
        Ok(Provider {
            client,
            end_session,
            names_issuer,
            fetched: std::time::Instant::now(),
        })
    }

    fn set(&self, discovery: Discovery) {
        if let Ok(mut d) = self.discovery.write() {
            *d = discovery;
        }
    }

    /// Discovers again now (a signing key the provider has rotated in),
    /// unless that was done in the last few seconds; true if the provider
    /// answered. Only an ID token from the provider's own token endpoint
    /// (over the back channel, never from the browser) can ask for this.
    pub async fn rediscover(&self) -> bool {
        let asked = std::time::Instant::now();
        let _one = self.refreshing.lock().await;
        if let Some(p) = self.provider() {
            // Someone else fetched while this one waited: look again.
            if p.fetched >= asked {
                return true;
            }
            if p.fetched.elapsed() < REDISCOVER_AFTER {
                return false;
            }
        }
        match self.discover().await {
            Ok(p) => {
                self.set(Discovery::Ready(Arc::new(p)));
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "OpenID provider rediscovery failed");
                false
            }
        }
    }
}

/// An error and its causes on one line.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text.chars().take(300).collect()
}

/// Whether an error (or one of its causes) is a failure to reach the
/// other side at all: no connection, or no answer in time.
pub fn unreachable(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        let request = c
            .downcast_ref::<reqwest::Error>()
            .or_else(|| c.downcast_ref::<Box<reqwest::Error>>().map(|b| &**b));
        if request.is_some_and(|r| r.is_connect() || r.is_timeout()) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Keeps single sign-on's view of the provider true; runs until dropped
/// (wharf spawns it at start when single sign-on is on). Every
/// `--oidc-check-every` (30 s by default) the provider is discovered again
/// (its metadata and current keys); one that does not answer is marked
/// down at once (`/login` says so, the gauge reads 0) and asked again after
/// 5 s, doubling up to the same interval, until it answers. So a provider
/// that stops is noticed within that interval and the 10 s a request may
/// take, and one that returns within the interval; a sign-in whose code
/// exchange cannot reach the provider marks it down at once.
pub async fn keep_discovered(sso: &Sso, metrics: &Metrics) {
    let every = sso.config.check_every;
    let first = Duration::from_secs(5).min(every);
    let mut wait = first;
    loop {
        match sso.discover().await {
            Ok(p) => {
                if sso.unavailable().is_some() {
                    tracing::info!(issuer = %sso.config.issuer.as_str(), "single sign-on is ready");
                }
                sso.set(Discovery::Ready(Arc::new(p)));
                sso.mark_up(metrics);
                wait = first;
                tokio::time::sleep(every).await;
            }
            Err(e) => {
                // A provider that answered before keeps its last keys.
                let noticed = if sso.provider().is_none() {
                    metrics.sso_provider_up(false);
                    let first_time = !matches!(
                        sso.discovery.read().as_deref(),
                        Ok(Discovery::Pending(Some(_)))
                    );
                    sso.set(Discovery::Pending(Some(e.clone())));
                    first_time
                } else {
                    sso.mark_down(e.clone(), metrics)
                };
                if noticed {
                    tracing::warn!(issuer = %sso.config.issuer.as_str(), error = %e, "the OpenID provider cannot be reached; single sign-on is unavailable");
                } else {
                    tracing::debug!(issuer = %sso.config.issuer.as_str(), error = %e, retry_in = ?wait, "the OpenID provider still cannot be reached");
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(every);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_https_or_loopback() {
        assert!(parse_issuer("https://keycloak.example.com/realms/primehub").is_ok());
        assert!(parse_issuer("http://localhost:5556/dex").is_ok());
        assert!(parse_issuer("http://127.0.0.1:5556").is_ok());
        let e = parse_issuer("http://keycloak.example.com/realms/x").unwrap_err();
        assert!(e.contains("must be an https URL"), "{e}");
        assert!(parse_issuer("ftp://localhost").is_err());
        assert!(parse_issuer("not a url").is_err());
        assert!(parse_issuer("https://idp.example.com/?x=1").is_err());
    }

    #[test]
    fn groups_come_as_a_list_or_one_name_and_lose_keycloaks_slash() {
        let claims: OtherClaims = serde_json::from_value(serde_json::json!({
            "groups": ["/vision", "nlp", "vision", "", 7],
            "roles": "wharf-admins"
        }))
        .unwrap();
        assert_eq!(claims.groups("groups").unwrap(), ["nlp", "vision"]);
        assert_eq!(claims.groups("roles").unwrap(), ["wharf-admins"]);
        assert_eq!(claims.groups("missing"), None);
    }
}
