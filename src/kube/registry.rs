//! "Test login": the Docker Registry v2 login flow, as `docker login` does
//! it. `GET /v2/`; on a Basic challenge retry with the credentials; on a
//! Bearer challenge fetch a token from the realm with Basic auth and retry
//! with it. 10 s in all.
//!
//! The password is only ever sent where the administrator pointed it:
//! redirects stay on the same host (at most 3, never from https to http),
//! and no link-local address (a cloud's metadata service at
//! 169.254.169.254, say) is contacted, named or resolved. No proxy from the
//! environment is used: a proxy would resolve the names itself.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Client, StatusCode, Url, redirect::Policy};

use crate::domain::{RegistryHost, SecretValue};

/// The whole check may take this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What a login attempt came to; the message is shown to administrators
/// and never holds the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginResult {
    /// Did the registry accept the credentials?
    pub ok: bool,
    /// "Login succeeded", or why not.
    pub message: String,
}

impl LoginResult {
    fn ok(message: &str) -> Self {
        Self {
            ok: true,
            message: message.into(),
        }
    }
    /// A failed check, its message capped.
    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            ok: false,
            message: cap(message.into()),
        }
    }
}

/// The longest message kept: a registry's error text is its own, of any size.
pub const MAX_MESSAGE: usize = 300;

fn cap(message: String) -> String {
    crate::domain::truncate(&message, MAX_MESSAGE)
}

/// Most redirects followed.
const MAX_REDIRECTS: usize = 3;

/// Why a redirect or an address was not followed; shown as it is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refused(pub(crate) String);

/// Whether an address is link-local, or a way of writing one: IPv4
/// 169.254/16; IPv6 fe80::/10; an IPv4 link-local address embedded in
/// IPv6 (IPv4-mapped `::ffff:0:0/96`, SIIT `::ffff:0:0:0/96`,
/// IPv4-compatible `::/96`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4
/// `2002::/16`, Teredo's client in `2001::/32`); and the clouds' metadata
/// services on IPv6, AWS's `fd00:ec2::254` and Google's `fd20:ce::254`.
pub fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)).is_link_local()
            };
            v6.is_unicast_link_local()
                || v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
                || v6 == std::net::Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254)
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local())
                || (s[..6] == [0; 6] && embedded(s[6], s[7]))
                || (s[..6] == [0, 0, 0, 0, 0xffff, 0] && embedded(s[6], s[7]))
                || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && embedded(s[6], s[7]))
                || (s[..3] == [0x64, 0xff9b, 1]
                    && embedded(s[3], ((s[4] & 0xff) << 8) | (s[5] >> 8)))
                || (s[0] == 0x2002 && embedded(s[1], s[2]))
                || (s[..2] == [0x2001, 0] && embedded(!s[6], !s[7]))
        }
    }
}

/// Refuses a URL whose host is a link-local address literal (names are
/// checked as they resolve, by [`NoLinkLocal`]).
pub(crate) fn check_target(url: &Url) -> Result<(), Refused> {
    let Some(ip) = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())
    else {
        return Ok(());
    };
    if is_link_local(ip) {
        return Err(Refused(format!(
            "Refused: {ip} is a link-local address, not a registry."
        )));
    }
    Ok(())
}

/// Whether a redirect from `from` (the chain's first URL) to `to`, the
/// `hops`-th, may be followed.
pub fn redirect_allowed(from: &Url, to: &Url, hops: usize) -> Result<(), String> {
    if hops > MAX_REDIRECTS {
        return Err(format!("Too many redirects (more than {MAX_REDIRECTS})."));
    }
    if from.scheme() == "https" && to.scheme() != "https" {
        return Err("Redirect refused: the registry sent the login from https to http.".into());
    }
    if from.host_str() != to.host_str() {
        return Err(format!(
            "Redirect refused: the registry sent the login to another host ({}).",
            to.host_str().unwrap_or("none")
        ));
    }
    check_target(to).map_err(|e| e.0)
}

/// DNS that drops link-local addresses, and fails a name that has no other.
pub(crate) struct NoLinkLocal;

impl Resolve for NoLinkLocal {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addrs: Vec<SocketAddr> = found.filter(|a| !is_link_local(a.ip())).collect();
            if addrs.is_empty() {
                return Err(Box::new(Refused(format!(
                    "Refused: {host} resolves only to link-local addresses."
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The registry's `/v2/` endpoint: `https` unless the host was entered with
/// `http://`; Docker Hub's API lives at registry-1.docker.io.
pub fn v2_url(host: &RegistryHost) -> String {
    if host.domain() == "docker.io" {
        return "https://registry-1.docker.io/v2/".into();
    }
    let scheme = if host.plain_http() { "http" } else { "https" };
    format!("{scheme}://{}/v2/", host.domain())
}

/// Tries to log in; never takes longer than [`TIMEOUT`].
pub async fn check_login(
    host: &RegistryHost,
    username: &str,
    password: &SecretValue,
) -> LoginResult {
    let attempt = attempt(host, username, password);
    match actix_web::rt::time::timeout(TIMEOUT, attempt).await {
        Ok(r) => r,
        Err(_) => LoginResult::fail("Timeout: the registry did not answer within 10 seconds."),
    }
}

async fn attempt(host: &RegistryHost, username: &str, password: &SecretValue) -> LoginResult {
    let client = match Client::builder()
        .timeout(TIMEOUT)
        .redirect(Policy::custom(|attempt| {
            let hops = attempt.previous().len();
            let verdict = match attempt.previous().first() {
                Some(from) => redirect_allowed(from, attempt.url(), hops),
                None => Ok(()),
            };
            match verdict {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(Refused(why)),
            }
        }))
        .dns_resolver(Arc::new(NoLinkLocal))
        // Through a proxy the proxy resolves names, and the check above
        // would never see the address: registries are reached directly.
        .no_proxy()
        .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return LoginResult::fail(format!("The HTTP client could not start: {e}")),
    };
    let url = v2_url(host);
    if let Some(r) = Url::parse(&url).ok().and_then(|u| check_target(&u).err()) {
        return LoginResult::fail(r.0);
    }
    let first = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => return describe(e),
    };
    let basic = || {
        client
            .get(&url)
            .basic_auth(username, Some(password.expose()))
    };
    match first.status() {
        // A 200 that is not the registry's API (a web page after a
        // redirect, say) is not a login.
        StatusCode::OK if !is_registry(&first) => LoginResult::fail(format!(
            "Not a registry: GET /v2/ answered with a page that is not the registry API (it ended at {}).",
            first.url().path()
        )),
        StatusCode::OK => match basic().send().await {
            Ok(r) if r.status() == StatusCode::OK && is_registry(&r) => LoginResult::ok(
                "Login succeeded (this registry also lets anyone in without credentials).",
            ),
            Ok(r) => unauthorized(r.status()),
            Err(e) => describe(e),
        },
        StatusCode::UNAUTHORIZED => {
            let challenge = first
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let (scheme, params) = parse_challenge(&challenge);
            match scheme.to_ascii_lowercase().as_str() {
                "basic" => match basic().send().await {
                    Ok(r) if r.status() == StatusCode::OK && is_registry(&r) => {
                        LoginResult::ok("Login succeeded")
                    }
                    Ok(r) if is_refusal(r.status()) => unauthorized(r.status()),
                    Ok(r) => not_a_registry(r.status()),
                    Err(e) => describe(e),
                },
                "bearer" => bearer(&client, &url, &params, username, password).await,
                _ => LoginResult::fail(format!(
                    "Not a registry: GET /v2/ asked for authentication of an unknown kind ({}).",
                    if scheme.is_empty() {
                        "no WWW-Authenticate header"
                    } else {
                        &scheme
                    }
                )),
            }
        }
        other => not_a_registry(other),
    }
}

async fn bearer(
    client: &Client,
    url: &str,
    params: &[(String, String)],
    username: &str,
    password: &SecretValue,
) -> LoginResult {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    // The password goes to the realm: never in clear text to a registry
    // that was reached over TLS.
    let plain_ok = url.starts_with("http://");
    let Some(realm) = get("realm")
        .filter(|r| r.starts_with("https://") || (plain_ok && r.starts_with("http://")))
    else {
        return LoginResult::fail(
            "Not a registry: the Bearer challenge names no usable token realm (an https:// realm is required).",
        );
    };
    if let Some(r) = Url::parse(realm).ok().and_then(|u| check_target(&u).err()) {
        return LoginResult::fail(r.0);
    }
    let mut query: Vec<(&str, &str)> = vec![("account", username)];
    if let Some(s) = get("service") {
        query.push(("service", s));
    }
    if let Some(s) = get("scope") {
        query.push(("scope", s));
    }
    let resp = match client
        .get(realm)
        .query(&query)
        .basic_auth(username, Some(password.expose()))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return describe(e),
    };
    if is_refusal(resp.status()) {
        return unauthorized(resp.status());
    }
    if resp.status() != StatusCode::OK {
        return LoginResult::fail(format!(
            "The token service answered HTTP {}.",
            resp.status()
        ));
    }
    let body = match read_capped(resp, MAX_TOKEN_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let token = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return LoginResult::fail("The token service answered without a token.");
    };
    match client.get(url).bearer_auth(token).send().await {
        Ok(r) if r.status() == StatusCode::OK && is_registry(&r) => {
            LoginResult::ok("Login succeeded")
        }
        Ok(r) if is_refusal(r.status()) => unauthorized(r.status()),
        Ok(r) => not_a_registry(r.status()),
        Err(e) => describe(e),
    }
}

/// Largest token answer read; real ones are a few KiB.
const MAX_TOKEN_BODY: usize = 64 * 1024;

/// Reads a body, refusing one larger than `max` bytes.
async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, LoginResult> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(LoginResult::fail(
                        "Not a registry: the token answer is too large.",
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(describe(e)),
        }
    }
}

/// Whether an answer comes from a registry's API: it names the API version
/// (every Docker Registry v2 does), or it is still the `/v2/` endpoint after
/// any redirects.
fn is_registry(r: &reqwest::Response) -> bool {
    r.headers().contains_key("docker-distribution-api-version") || r.url().path().ends_with("/v2/")
}

fn is_refusal(s: StatusCode) -> bool {
    s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN
}

fn unauthorized(s: StatusCode) -> LoginResult {
    LoginResult::fail(format!(
        "Unauthorized: the registry refused this username and password (HTTP {}).",
        s.as_u16()
    ))
}

fn not_a_registry(s: StatusCode) -> LoginResult {
    LoginResult::fail(format!(
        "Not a registry: GET /v2/ answered HTTP {} instead of 200 or 401.",
        s.as_u16()
    ))
}

/// Turns a transport error into the administrator's words. The URL is left
/// out: a token realm's query names the account.
fn describe(e: reqwest::Error) -> LoginResult {
    if e.is_timeout() {
        return LoginResult::fail("Timeout: the registry did not answer within 10 seconds.");
    }
    let mut chain = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return LoginResult::fail(refused.0.clone());
        }
        chain.push(s.to_string());
        source = s.source();
    }
    if e.is_redirect() {
        return LoginResult::fail(format!("Too many redirects (more than {MAX_REDIRECTS})."));
    }
    let cause = chain.last().cloned().unwrap_or_default();
    let all = chain.join(" ").to_ascii_lowercase();
    // rustls' errors have no type reqwest exposes; their texts are stable.
    const TLS_WORDS: &[&str] = &[
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "alert",
        "ssl",
    ];
    if TLS_WORDS.iter().any(|w| all.contains(w)) {
        LoginResult::fail(format!("TLS error: {cause}"))
    } else if e.is_connect() {
        LoginResult::fail(format!("Unreachable: {cause}"))
    } else if e.is_decode() || e.is_body() {
        LoginResult::fail(format!(
            "Not a registry: the answer could not be read ({cause})."
        ))
    } else {
        LoginResult::fail(format!("Unreachable: {cause}"))
    }
}

/// `Bearer realm="...",service="..."` into its scheme and parameters.
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        params.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    (scheme.to_owned(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_the_host_and_on_tls() {
        let u = |s: &str| Url::parse(s).unwrap();
        let from = u("https://registry.example.com/v2/");
        assert!(redirect_allowed(&from, &u("https://registry.example.com/v2"), 1).is_ok());
        assert!(redirect_allowed(&from, &u("https://registry.example.com:5000/v2/"), 2).is_ok());
        let other = redirect_allowed(&from, &u("https://evil.example.net/v2/"), 1).unwrap_err();
        assert!(other.contains("another host (evil.example.net)"), "{other}");
        let down = redirect_allowed(&from, &u("http://registry.example.com/v2/"), 1).unwrap_err();
        assert!(down.contains("https to http"), "{down}");
        let many = redirect_allowed(&from, &u("https://registry.example.com/v2/"), 4).unwrap_err();
        assert!(many.contains("Too many redirects"), "{many}");
        let plain = u("http://10.0.0.1:5000/v2/");
        assert!(redirect_allowed(&plain, &u("http://10.0.0.1:5000/v2"), 1).is_ok());
        let meta = u("http://169.254.169.254/v2/");
        let ll = redirect_allowed(&meta, &u("http://169.254.169.254/latest/"), 1).unwrap_err();
        assert!(ll.contains("link-local"), "{ll}");
    }

    #[test]
    fn link_local_addresses_are_refused() {
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "fd00:ec2::254",
            "fd20:ce::254",
            "::ffff:0:169.254.169.254",
            "64:ff9b:1:a9fe:00a9:fe00::",
            // Teredo: the client address is stored inverted.
            "2001:0:4136:e378:8000:63bf:5601:5601",
        ] {
            assert!(is_link_local(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "2001:db8::1",
            "::1",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
            "fd00:ec2::253",
            "64:ff9b:1:0808:0008:0800::",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            assert!(!is_link_local(ip.parse().unwrap()), "{ip}");
        }
        let url = Url::parse("http://[fe80::1]:5000/v2/").unwrap();
        assert!(check_target(&url).is_err());
        assert!(check_target(&Url::parse("https://ghcr.io/v2/").unwrap()).is_ok());
    }

    #[test]
    fn stored_messages_are_capped() {
        let long = LoginResult::fail("x".repeat(10_000));
        assert_eq!(long.message.chars().count(), MAX_MESSAGE);
        assert!(long.message.ends_with('…'));
        assert_eq!(LoginResult::fail("short").message, "short");
    }

    #[test]
    fn parses_challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(
            p[0],
            ("realm".into(), "https://auth.docker.io/token".into())
        );
        assert_eq!(p[1], ("service".into(), "registry.docker.io".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a/b:pull,push".into()));
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((s.as_str(), p[0].1.as_str()), ("Basic", "Registry Realm"));
        assert_eq!(parse_challenge("").0, "");
    }

    #[test]
    fn v2_endpoints() {
        let url = |h: &str| v2_url(&RegistryHost::parse(h).unwrap());
        assert_eq!(
            url("registry.gitlab.com"),
            "https://registry.gitlab.com/v2/"
        );
        assert_eq!(url("http://127.0.0.1:5000"), "http://127.0.0.1:5000/v2/");
        assert_eq!(url("https://Quay.io/v1/"), "https://quay.io/v2/");
        assert_eq!(url("docker.io"), "https://registry-1.docker.io/v2/");
    }
}
