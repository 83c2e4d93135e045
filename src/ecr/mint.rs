//! One call to Amazon ECR's `GetAuthorizationToken`: a JSON 1.1 POST,
//! signed with SigV4 as the access key, answered with a registry token
//! (`base64("AWS:<password>")`) and when it expires.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use reqwest::{Client, Url, redirect::Policy};
use serde::Deserialize;

use crate::domain::SecretValue;
use crate::kube::registry::{NoLinkLocal, Refused, check_target};

/// The whole call, connection included, never takes longer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The operation, as the JSON 1.1 protocol names it.
const TARGET: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

/// Largest answer read; a real one is about 3 KiB.
const MAX_BODY: usize = 64 * 1024;

/// Longest message of AWS's own endpoint kept in a reason; with the
/// rest, a reason is never longer than 300 characters.
pub(crate) const MAX_MESSAGE: usize = 190;

/// Longest message kept from an endpoint that is not AWS's own (an
/// administrator may point a secret anywhere): its first line only.
const MAX_FOREIGN_MESSAGE: usize = 120;

/// Longest error code kept.
const MAX_CODE: usize = 64;

/// A registry token.
pub struct Minted {
    /// The registry username (always `AWS` today).
    pub username: String,
    /// The registry password.
    pub password: SecretValue,
    /// When ECR stops taking it (Unix seconds).
    pub expires_at: i64,
}

/// Why no token was minted, in an administrator's words. Never holds the
/// secret key or a token, and never more than 300 characters.
#[derive(Clone, Debug, thiserror::Error)]
pub enum MintError {
    /// AWS answered with an error: its code and message.
    #[error("AWS refused the token request (HTTP {status}): {code}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// AWS's error code (`UnrecognizedClientException`, …).
        code: String,
        /// AWS's message, capped.
        message: String,
    },
    /// The endpoint could not be reached or did not answer in time.
    #[error("The ECR API could not be reached: {0}")]
    Unreachable(String),
    /// The answer was not what ECR sends.
    #[error("The ECR API's answer could not be read: {0}")]
    Unreadable(String),
}

/// The access key, as the request is signed.
pub struct AccessKey<'a> {
    /// The access key ID.
    pub id: &'a str,
    /// The secret access key.
    pub secret: &'a SecretValue,
}

/// The client that calls the ECR API: no redirects (a 3xx is an error), no
/// proxy from the environment, no link-local address (names are checked as
/// they resolve), 10 s in all.
pub fn client() -> Result<Client, String> {
    Client::builder()
        .timeout(TIMEOUT)
        .redirect(Policy::none())
        .dns_resolver(Arc::new(NoLinkLocal))
        .no_proxy()
        .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("The HTTP client could not start: {e}"))
}

/// Mints a registry token at `endpoint` (a base URL) for `region`.
pub async fn get_authorization_token(
    client: &Client,
    endpoint: &str,
    region: &str,
    key: AccessKey<'_>,
) -> Result<Minted, MintError> {
    let url = Url::parse(&format!("{endpoint}/"))
        .map_err(|e| MintError::Unreachable(format!("{endpoint} is not a URL ({e}).")))?;
    check_target(&url).map_err(|r| MintError::Unreachable(r.0))?;
    let aws = is_aws(&url);
    let body = b"{}";
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", TARGET),
    ];
    let unsigned = |e: &dyn std::fmt::Display| {
        MintError::Unreachable(format!("the request could not be signed ({e})."))
    };
    let identity: Identity = Credentials::new(
        key.id,
        key.secret.expose(),
        None,
        None,
        "wharf-stored-access-key",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("ecr")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| unsigned(&e))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| unsigned(&e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| unsigned(&e))?
        .into_parts();
    let mut request = client.post(url).body(body.as_slice());
    for (name, value) in headers.into_iter().chain(instructions.headers()) {
        request = request.header(name, value);
    }
    let call = async {
        let resp = request.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = read_capped(resp).await?;
        Ok::<_, MintError>((status, bytes))
    };
    let (status, bytes) = actix_web::rt::time::timeout(TIMEOUT, call)
        .await
        .map_err(|_| MintError::Unreachable("no answer within 10 seconds.".into()))??;
    if status.is_success() {
        parse_token(&bytes)
    } else {
        Err(refusal(status.as_u16(), &bytes, aws))
    }
}

/// Whether `url` is one of AWS's own endpoints (`https://…amazonaws.com`,
/// or `.com.cn` in China), whose messages are kept whole up to the cap.
fn is_aws(url: &Url) -> bool {
    url.scheme() == "https"
        && url
            .host_str()
            .is_some_and(|h| h.ends_with(".amazonaws.com") || h.ends_with(".amazonaws.com.cn"))
}

/// What a 2xx holds.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    authorization_data: Vec<AuthorizationData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizationData {
    authorization_token: String,
    /// Epoch seconds (JSON 1.1 timestamps are numbers, maybe fractional).
    expires_at: f64,
}

fn parse_token(bytes: &[u8]) -> Result<Minted, MintError> {
    let unreadable = |why: &str| MintError::Unreadable(why.to_owned());
    let answer: Answer =
        serde_json::from_slice(bytes).map_err(|_| unreadable("it is not ECR's JSON."))?;
    let data = answer
        .authorization_data
        .into_iter()
        .next()
        .ok_or_else(|| unreadable("it holds no authorization data."))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token.trim())
        .map_err(|_| unreadable("the token is not base64."))?;
    let decoded = String::from_utf8(decoded).map_err(|_| unreadable("the token is not text."))?;
    let (username, password) = decoded
        .split_once(':')
        .filter(|(u, p)| !u.is_empty() && !p.is_empty())
        .ok_or_else(|| unreadable("the token is not username:password."))?;
    if !data.expires_at.is_finite() {
        return Err(unreadable("expiresAt is not a time."));
    }
    Ok(Minted {
        username: username.to_owned(),
        password: SecretValue::new(password.to_owned()),
        // Seconds; a fraction is dropped (it expires no later).
        expires_at: data.expires_at as i64,
    })
}

/// AWS's error (`__type` and `message` of a JSON 1.1 error), or the status.
/// An endpoint that is not AWS's own (`aws` false) may say anything, and
/// what it says is shown on the secret's page: only its code and the first
/// line of its message are kept, shorter still.
fn refusal(status: u16, bytes: &[u8], aws: bool) -> MintError {
    #[derive(Deserialize)]
    struct AwsError {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    let parsed: Option<AwsError> = serde_json::from_slice(bytes).ok().or_else(|| {
        // The query protocol's XML error, which some front ends (and
        // moto's signature check) answer with.
        let text = std::str::from_utf8(bytes).ok()?;
        let between = |open: &str, close: &str| {
            let from = text.find(open)? + open.len();
            let to = text[from..].find(close)? + from;
            Some(text[from..to].to_owned())
        };
        Some(AwsError {
            kind: Some(between("<Code>", "</Code>")?),
            message: between("<Message>", "</Message>"),
        })
    });
    let (code, message) = match parsed {
        Some(e) => (
            // `com.amazon.coral.service#UnrecognizedClientException` → the
            // name after `#`.
            e.kind
                .as_deref()
                .map(|k| k.rsplit('#').next().unwrap_or(k).to_owned())
                .unwrap_or_else(|| "UnknownError".into()),
            e.message.unwrap_or_default(),
        ),
        None if (300..400).contains(&status) => (
            "Redirect".into(),
            "the endpoint redirected the request, which is not followed; give the ECR API endpoint itself.".into(),
        ),
        None => ("UnknownError".into(), "the answer is not an AWS error.".into()),
    };
    // A code is a name: letters, digits and a few marks.
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .collect();
    let message = if aws {
        crate::domain::truncate(&crate::domain::one_line(&message), MAX_MESSAGE)
    } else {
        let first = message.trim().lines().next().unwrap_or_default();
        crate::domain::truncate(&crate::domain::one_line(first), MAX_FOREIGN_MESSAGE)
    };
    MintError::Refused {
        status,
        code: crate::domain::truncate(
            if code.is_empty() {
                "UnknownError"
            } else {
                &code
            },
            MAX_CODE,
        ),
        message,
    }
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, MintError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(MintError::Unreadable("it is too large.".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport error in words; the URL is not repeated (the endpoint is
/// on the secret's page).
fn transport(e: reqwest::Error) -> MintError {
    if e.is_timeout() {
        return MintError::Unreachable("no answer within 10 seconds.".into());
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut last = e.to_string();
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return MintError::Unreachable(refused.0.clone());
        }
        last = s.to_string();
        source = s.source();
    }
    MintError::Unreachable(crate::domain::truncate(
        &crate::domain::one_line(&last),
        MAX_MESSAGE,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_errors_are_read_as_ecr_writes_them() {
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:pass-word");
        let ok = format!(
            r#"{{"authorizationData":[{{"authorizationToken":"{token}","expiresAt":1.7648E9,"proxyEndpoint":"https://x"}}]}}"#
        );
        let m = parse_token(ok.as_bytes()).unwrap();
        assert_eq!((m.username.as_str(), m.expires_at), ("AWS", 1_764_800_000));
        assert_eq!(m.password.expose(), "pass-word");
        assert!(parse_token(br#"{"authorizationData":[]}"#).is_err());
        let e = refusal(
            400,
            br#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
            true,
        );
        assert_eq!(
            e.to_string(),
            "AWS refused the token request (HTTP 400): UnrecognizedClientException: The security token included in the request is invalid."
        );
        let long = format!(r#"{{"__type":"X","Message":"{}"}}"#, "m".repeat(2000));
        assert!(
            refusal(403, long.as_bytes(), true)
                .to_string()
                .chars()
                .count()
                <= 300
        );
        assert!(refusal(301, b"", true).to_string().contains("not followed"));
        let xml = b"<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>Check your AWS Secret Access Key.</Message></Error></Errors></ErrorResponse>";
        assert_eq!(
            refusal(403, xml, true).to_string(),
            "AWS refused the token request (HTTP 403): SignatureDoesNotMatch: Check your AWS Secret Access Key."
        );
    }

    /// An endpoint that is not AWS's own keeps only its code and the first
    /// line of its message, without control characters; none is ever
    /// longer than 300 characters.
    #[test]
    fn a_foreign_endpoints_words_are_cut_short() {
        let body = format!(
            r#"{{"__type":"Evil<script>Code","message":"first line \u001b[31mred\u001b[0m\nsecond line {}"}}"#,
            "x".repeat(5000)
        );
        let shown = refusal(400, body.as_bytes(), false).to_string();
        assert_eq!(
            shown,
            "AWS refused the token request (HTTP 400): EvilscriptCode: first line [31mred[0m"
        );
        let long = format!(
            r#"{{"__type":"{}","message":"{}"}}"#,
            "C".repeat(500),
            "m ".repeat(900)
        );
        for aws in [true, false] {
            let shown = refusal(400, long.as_bytes(), aws).to_string();
            assert!(shown.chars().count() <= 300, "{aws}: {}", shown.len());
            assert!(!shown.contains('\n'));
        }
        let url = |u: &str| Url::parse(u).unwrap();
        assert!(is_aws(&url("https://api.ecr.us-east-1.amazonaws.com/")));
        assert!(is_aws(&url("https://api.ecr.cn-north-1.amazonaws.com.cn/")));
        assert!(!is_aws(&url("http://127.0.0.1:4566/")));
        assert!(!is_aws(&url("https://amazonaws.com.evil.example/")));
    }
}
