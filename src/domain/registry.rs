use std::fmt;

use super::rule::TextRule;

/// A DNS label of a registry's host name, any case, as a pattern.
macro_rules! host_label {
    () => {
        "[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
    };
}

/// How kubelet and the Docker CLI name Docker Hub in a config file.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";
const DOCKER_HUB_ALIASES: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "hub.docker.com",
];

/// The server a registry credential is for, as it is keyed in a docker
/// config file: `host[:port]`, optionally with a scheme and a path. Docker
/// Hub's many spellings are stored as the one kubelet matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryHost {
    raw: String,
    /// `host[:port]`, lowercased; `docker.io` for Docker Hub.
    domain: String,
    plain_http: bool,
}

impl RegistryHost {
    /// `[https://|http://]host[:port][/path]` with a DNS or IPv4 host, at
    /// most 253 characters. An IPv6 host (`[::1]:5000`) is accepted too but
    /// is not in the pattern.
    pub const RULE: TextRule = TextRule::pattern(
        concat!(
            "^(https?://)?",
            host_label!(),
            r"(\.",
            host_label!(),
            ")*",
            "(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?",
            "(/[-A-Za-z0-9._~]*)*$"
        ),
        1,
        253,
    );

    /// Parses what an administrator typed.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Registry Host is required.".into());
        }
        if s.len() > 512 {
            return Err("Registry Host must be at most 512 characters.".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("Registry Host must not contain spaces.".into());
        }
        if s.contains(['@', '?', '#']) {
            return Err(
                "Registry Host must be host[:port] with an optional path, without user name, query or fragment.".into(),
            );
        }
        let lower = s.to_ascii_lowercase();
        let (plain_http, rest) = if let Some(r) = lower.strip_prefix("https://") {
            (false, &s[s.len() - r.len()..])
        } else if let Some(r) = lower.strip_prefix("http://") {
            (true, &s[s.len() - r.len()..])
        } else if lower.contains("://") {
            return Err("Registry Host may start only with https:// or http://.".into());
        } else {
            (false, s)
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let domain = parse_authority(authority)?;
        if !path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c))
        {
            return Err("Registry Host has a character that is not allowed in a path.".into());
        }
        let hub_path = matches!(path, "" | "/" | "/v1" | "/v1/");
        if DOCKER_HUB_ALIASES.contains(&domain.as_str()) && hub_path {
            return Ok(Self {
                raw: DOCKER_HUB.into(),
                domain: "docker.io".into(),
                plain_http: false,
            });
        }
        let domain = if DOCKER_HUB_ALIASES.contains(&domain.as_str()) {
            "docker.io".into()
        } else {
            domain
        };
        // `https://` is what every registry client assumes, and a bare `/`
        // or the API's version (`/v2/`) names no repository: `https://ghcr.io/`
        // is kept as `ghcr.io`, the key kubelet and docker look up.
        // `http://` (a registry without TLS) and a repository path (which
        // narrows the key) are kept.
        let raw = match (plain_http, path) {
            (false, "" | "/" | "/v1" | "/v1/" | "/v2" | "/v2/") => authority.to_owned(),
            (false, _) => rest.to_owned(),
            (true, _) => s.to_owned(),
        };
        Ok(Self {
            raw,
            domain,
            plain_http,
        })
    }

    /// A lower-case DNS host that another parser already checked (an ECR
    /// registry's).
    pub(crate) fn checked_dns(host: &str) -> Self {
        Self {
            raw: host.to_owned(),
            domain: host.to_owned(),
            plain_http: false,
        }
    }

    /// The value as stored and as it appears in a docker config's `auths`.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `host[:port]` in lower case, `docker.io` for Docker Hub: what an image
    /// reference's registry is compared with.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether the administrator asked for `http://`.
    pub fn plain_http(&self) -> bool {
        self.plain_http
    }
}

impl fmt::Display for RegistryHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `host[:port]` with host a DNS name, an IPv4 address or a bracketed IPv6
/// address. Returns it in lower case.
fn parse_authority(authority: &str) -> Result<String, String> {
    let bad = || Err(format!("\"{authority}\" is not a valid host[:port]."));
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return bad();
        };
        let ip = &rest[..end];
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return bad();
        }
        let after = &rest[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return bad(),
        };
        (&authority[..end + 2], port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if let Some(p) = port
        && (!p.bytes().all(|b| b.is_ascii_digit())
            || !matches!(p.parse::<u16>(), Ok(n) if n > 0)
            || p.starts_with('0'))
    {
        return bad();
    }
    if !host.starts_with('[') {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return bad();
        }
    }
    Ok(authority.to_ascii_lowercase())
}

/// The user name of a registry credential. kubelet splits `auth` at the
/// first colon, so a colon here would silently break the credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryUsername(String);

impl RegistryUsername {
    /// At most 256 characters without ':' or control characters, and not
    /// only spaces.
    pub const RULE: TextRule = TextRule::pattern(
        concat!(
            r"^[^:\x00-\x1f\x7f-\x9f]*",
            r"[^:\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
            r"[^:\x00-\x1f\x7f-\x9f]*$"
        ),
        1,
        256,
    );

    /// Parses the Username field of an Image Pull secret.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Username is required.".into());
        }
        if s.chars().count() > 256 {
            return Err("Username must be at most 256 characters.".into());
        }
        if s.contains(':') {
            return Err("Username must not contain ':' (registries split user and password at the first colon).".into());
        }
        if s.chars().any(char::is_control) {
            return Err("Username must not contain control characters.".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The user name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(s: &str) -> String {
        RegistryHost::parse(s).unwrap().as_str().to_owned()
    }

    #[test]
    fn keeps_the_key_registry_clients_look_up() {
        assert_eq!(stored("registry.gitlab.com"), "registry.gitlab.com");
        assert_eq!(stored(" ghcr.io "), "ghcr.io");
        assert_eq!(stored("localhost:5000"), "localhost:5000");
        // A URL is kept as host[:port]; a repository path narrows and stays.
        assert_eq!(stored("https://quay.io/v2/"), "quay.io");
        assert_eq!(stored("https://ghcr.io/"), "ghcr.io");
        assert_eq!(stored("HTTPS://ghcr.io:443"), "ghcr.io:443");
        assert_eq!(
            stored("https://registry.example.com/team"),
            "registry.example.com/team"
        );
        assert_eq!(stored("http://127.0.0.1:5000/"), "http://127.0.0.1:5000/");
        assert_eq!(
            stored("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(stored("[::1]:5000"), "[::1]:5000");
        assert_eq!(stored("10.0.0.7:443"), "10.0.0.7:443");
        let plain = RegistryHost::parse("http://127.0.0.1:5000").unwrap();
        assert!(plain.plain_http());
        assert_eq!(plain.domain(), "127.0.0.1:5000");
        assert!(RegistryHost::parse("registry.example.com:+5000").is_err());
    }

    #[test]
    fn docker_hub_aliases_become_one() {
        for alias in [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "hub.docker.com",
            "https://index.docker.io/v1/",
            "https://docker.io",
            "http://docker.io/",
            "index.docker.io/v1",
            "DOCKER.IO",
        ] {
            let h = RegistryHost::parse(alias).unwrap();
            assert_eq!(h.as_str(), DOCKER_HUB, "{alias}");
            assert_eq!(h.domain(), "docker.io");
        }
    }

    #[test]
    fn rejects_malformed_hosts() {
        for bad in [
            "",
            "   ",
            "registry gitlab.com",
            "user:pass@registry.gitlab.com",
            "registry.gitlab.com?x=1",
            "registry.gitlab.com#frag",
            "ftp://registry.gitlab.com",
            "registry.gitlab.com:0",
            "registry.gitlab.com:99999",
            "registry.gitlab.com:port",
            "-bad.example.com",
            "bad..example.com",
            "[::1",
            "[zz]:5000",
            "host/pa<th",
            "https://",
        ] {
            assert!(RegistryHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_username_rules() {
        assert!(RegistryUsername::parse("gitlab+deploy-token-78108").is_ok());
        assert!(RegistryUsername::parse("AWS").is_ok());
        assert!(RegistryUsername::parse("_json_key").is_ok());
        for bad in ["", "a:b", "a\nb", &"u".repeat(257)] {
            assert!(RegistryUsername::parse(bad).is_err(), "{bad}");
        }
    }
}
