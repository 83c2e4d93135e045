//! Amazon ECR's own values: a private registry's host (which names the
//! account and the region), the ECR API endpoint that mints its tokens,
//! and the IAM access key that signs the request.

use std::net::IpAddr;

use super::registry::RegistryHost;
use super::rule::TextRule;
use super::secret_value::SecretValue;

/// The life of an ECR registry token (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLife {
    /// When it was minted.
    pub minted_at: i64,
    /// When the registry stops taking it.
    pub expires_at: i64,
}

impl TokenLife {
    /// From a row's `token_minted_at` and `token_expires_at` (both or
    /// neither are set).
    pub fn of(minted_at: Option<i64>, expires_at: Option<i64>) -> Option<Self> {
        Some(Self {
            minted_at: minted_at?,
            expires_at: expires_at?,
        })
    }

    /// Which of the metrics' states it is in at `now`.
    pub fn state(life: Option<Self>, now: i64) -> &'static str {
        match life {
            None => "none",
            Some(l) if l.fresh(now) => "fresh",
            Some(l) if l.valid(now) => "aging",
            Some(_) => "expired",
        }
    }

    /// When it is due to be replaced: half its life.
    pub fn refresh_at(&self) -> i64 {
        self.minted_at + (self.expires_at - self.minted_at) / 2
    }

    /// Whether it is reused at `now`: more than half its life is left.
    pub fn fresh(&self, now: i64) -> bool {
        now < self.refresh_at()
    }

    /// Whether the registry still takes it at `now`.
    pub fn valid(&self, now: i64) -> bool {
        now < self.expires_at
    }
}

/// A private ECR registry: `<12-digit account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcrHost {
    raw: String,
    account: String,
    region: String,
    fips: bool,
    china: bool,
}

/// What the host field says when it is not an ECR registry.
const HOST_SHAPE: &str = "Registry Host must be an Amazon ECR registry: <12-digit account>.dkr.ecr.<region>.amazonaws.com, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com.";

impl EcrHost {
    /// The shape, as the API document states it.
    pub const RULE: TextRule = TextRule::pattern(
        r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\.amazonaws\.com(\.cn)?$",
        40,
        80,
    );

    /// Parses what an administrator typed (any case, an `https://` in
    /// front and a trailing `/` forgiven).
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim().to_ascii_lowercase();
        if s.is_empty() {
            return Err("Registry Host is required.".into());
        }
        let s = s.strip_prefix("https://").unwrap_or(&s);
        let s = s.strip_suffix('/').unwrap_or(s);
        let parts: Vec<&str> = s.split('.').collect();
        let (account, ecr, region, rest) = match parts.as_slice() {
            [account, "dkr", ecr, region, rest @ ..] => (*account, *ecr, *region, rest),
            _ => return Err(HOST_SHAPE.into()),
        };
        let china = match rest {
            ["amazonaws", "com"] => false,
            ["amazonaws", "com", "cn"] => true,
            _ => return Err(HOST_SHAPE.into()),
        };
        let fips = match ecr {
            "ecr" => false,
            "ecr-fips" => true,
            _ => return Err(HOST_SHAPE.into()),
        };
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HOST_SHAPE.into());
        }
        if !is_region(region) {
            return Err(format!(
                "{HOST_SHAPE} {region} is not an AWS region name (like eu-west-1)."
            ));
        }
        Ok(Self {
            raw: s.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            fips,
            china,
        })
    }

    /// The host, as stored and keyed in a docker config.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The AWS account that owns the registry.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The region, which also signs the token request.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The region's ECR API, when no endpoint is given.
    pub fn default_endpoint(&self) -> String {
        let suffix = if self.china {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let service = if self.fips { "ecr-fips" } else { "api.ecr" };
        format!("https://{service}.{}.{suffix}", self.region)
    }

    /// As a registry host (what docker configs and kubelet key on).
    pub fn registry(&self) -> RegistryHost {
        RegistryHost::checked_dns(&self.raw)
    }
}

/// `xx-name-N` and `xx-gov-name-N` region names.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The ECR API endpoint a token is minted at: `https://host[:port]`, or
/// plain HTTP to a loopback address only (a local test double).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcrEndpoint(String);

impl EcrEndpoint {
    /// The shape, as the API document states it.
    pub const RULE: TextRule = TextRule::pattern(
        concat!(
            r"^https://([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z]([-a-z0-9]*[a-z0-9])?",
            "(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?/?$"
        ),
        9,
        253,
    );

    /// Parses an endpoint; blank is none (the region's own).
    pub fn parse_optional(input: &str) -> Result<Option<Self>, String> {
        let s = input.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let bad = || {
            "ECR API endpoint must be an https:// URL without a path, such as https://api.ecr.eu-west-1.amazonaws.com (plain http:// only to a loopback address).".to_owned()
        };
        if s.len() > 253 {
            return Err("ECR API endpoint must be at most 253 characters.".into());
        }
        let url = reqwest::Url::parse(s).map_err(|_| bad())?;
        let path_ok = matches!(url.path(), "" | "/");
        if !path_ok
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(bad());
        }
        let Some(host) = url.host_str() else {
            return Err(bad());
        };
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(
                    "ECR API endpoint must use https:// (plain http:// is allowed to a loopback address only, for a local test double)."
                        .into(),
                );
            }
            _ => return Err(bad()),
        }
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        Ok(Some(Self(format!("{}://{host}{port}", url.scheme()))))
    }

    /// The base URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An IAM access key ID (`AKIA…`): what the token request is signed as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    /// `AKIA` and upper-case letters and digits, 16 to 128 in all.
    pub const RULE: TextRule = TextRule::pattern("^AKIA[A-Z0-9]{12,124}$", 16, 128);

    /// Parses an access key ID.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Access Key ID is required.".into());
        }
        if s.starts_with("ASIA") {
            return Err("ASIA… keys are temporary credentials that expire within hours; store an IAM user's access key (AKIA…).".into());
        }
        if !s.starts_with("AKIA")
            || !(16..=128).contains(&s.len())
            || !s
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err("Access Key ID must be an IAM access key ID: upper-case letters and digits, like AKIAIOSFODNN7EXAMPLE.".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The ID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule of an AWS secret access key (40 characters of base64 today).
pub const SECRET_ACCESS_KEY_RULE: TextRule = TextRule::pattern("^[A-Za-z0-9/+=]{16,128}$", 16, 128);

/// Parses an AWS secret access key. Never trimmed inside; spaces around a
/// paste are dropped, as a key has none.
pub fn parse_secret_access_key(input: &str) -> Result<SecretValue, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("Secret Access Key is required.".into());
    }
    if !(16..=128).contains(&s.len())
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/+=".contains(&b))
    {
        return Err("Secret Access Key must be an AWS secret access key: 40 characters of letters, digits, / and +.".into());
    }
    Ok(SecretValue::new(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_hosts_name_their_account_and_region() {
        let h = EcrHost::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com").unwrap();
        assert_eq!((h.account(), h.region()), ("123456789012", "eu-west-1"));
        assert_eq!(
            h.default_endpoint(),
            "https://api.ecr.eu-west-1.amazonaws.com"
        );
        let cn =
            EcrHost::parse("https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/").unwrap();
        assert_eq!(
            cn.as_str(),
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            cn.default_endpoint(),
            "https://api.ecr.cn-north-1.amazonaws.com.cn"
        );
        let gov = EcrHost::parse("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com").unwrap();
        assert_eq!(
            gov.default_endpoint(),
            "https://ecr-fips.us-gov-west-1.amazonaws.com"
        );
        for bad in [
            "ghcr.io",
            "12345678901.dkr.ecr.eu-west-1.amazonaws.com",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.io",
            "123456789012.dkr.ecr.west.amazonaws.com",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com:443",
            "public.ecr.aws",
        ] {
            let e = EcrHost::parse(bad).unwrap_err();
            assert!(
                e.contains("<12-digit account>.dkr.ecr.<region>.amazonaws.com"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn endpoints_are_https_or_loopback() {
        assert_eq!(EcrEndpoint::parse_optional("").unwrap(), None);
        let e = EcrEndpoint::parse_optional("https://vpce-1.api.ecr.eu-west-1.vpce.amazonaws.com/")
            .unwrap();
        assert_eq!(
            e.unwrap().as_str(),
            "https://vpce-1.api.ecr.eu-west-1.vpce.amazonaws.com"
        );
        assert!(
            EcrEndpoint::parse_optional("http://127.0.0.1:4566")
                .unwrap()
                .is_some()
        );
        assert!(
            EcrEndpoint::parse_optional("http://[::1]:4566")
                .unwrap()
                .is_some()
        );
        for bad in [
            "http://api.ecr.eu-west-1.amazonaws.com",
            "http://10.0.0.1:80",
            "ftp://x",
            "https://a/b",
            "https://u:p@a",
            "https://a?x=1",
        ] {
            assert!(EcrEndpoint::parse_optional(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn access_keys() {
        assert!(AccessKeyId::parse("AKIAIOSFODNN7EXAMPLE").is_ok());
        assert!(AccessKeyId::parse("ASIAIOSFODNN7EXAMPLE").is_err());
        assert!(AccessKeyId::parse("akia-lower").is_err());
        assert!(parse_secret_access_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").is_ok());
        assert!(parse_secret_access_key("with space inside the key 1234").is_err());
    }
}
