//! "Test login": the Docker Registry v2 login flow, as `docker login` does
//! it. `GET /v2/`; on a Basic challenge retry with the credentials; on a
//! Bearer challenge fetch a token from the realm with Basic auth and retry
//! with it. 10 s in all, at most 3 redirects.

use std::time::Duration;

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Client, StatusCode, redirect::Policy};

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
    fn fail(message: impl Into<String>) -> Self {
        Self {
            ok: false,
            message: message.into(),
        }
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
        .redirect(Policy::limited(3))
        .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return LoginResult::fail(format!("The HTTP client could not start: {e}")),
    };
    let url = v2_url(host);
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
    if e.is_redirect() {
        return LoginResult::fail("Too many redirects (more than 3).");
    }
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
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
