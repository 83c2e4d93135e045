//! Values wharf is given on its command line or in its environment, each
//! parsed once: durations, key material, proxy addresses.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use base64::Engine;
use clap::Args;
use clap::builder::FalseyValueParser;

/// A duration typed as `90`, `90s`, `30m`, `12h` or `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub i64);

impl FromStr for Seconds {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let n: i64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a duration like 30m or 12h"))?;
        let mult = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return Err(format!("{s:?}: use s, m, h or d")),
        };
        n.checked_mul(mult)
            .filter(|v| *v > 0)
            .map(Seconds)
            .ok_or_else(|| format!("{s:?} is out of range"))
    }
}

/// How often a thing is done: a duration like `Seconds`, or `0` for never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every(pub Option<i64>);

impl FromStr for Every {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim() == "0" {
            return Ok(Self(None));
        }
        s.parse::<Seconds>().map(|d| Self(Some(d.0)))
    }
}

/// Addresses and ranges of trusted reverse proxies: `10.0.0.5, 10.1.0.0/16`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyList(pub Vec<ipnet::IpNet>);

impl ProxyList {
    /// Loopback only: a proxy on the same machine (the default).
    pub fn loopback() -> Self {
        use ipnet::IpNet;
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let one = |ip: IpAddr| IpNet::from(ip);
        let v4 = ipnet::Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8)
            .map_or_else(|_| one(Ipv4Addr::LOCALHOST.into()), IpNet::V4);
        Self(vec![v4, one(Ipv6Addr::LOCALHOST.into())])
    }

    /// Whether a peer address is one of the trusted proxies.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl FromStr for ProxyList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{p:?} is not an IP address or CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// Key material from the environment; never printed.
#[derive(Clone)]
pub struct KeyBytes(pub Vec<u8>);

impl FromStr for KeyBytes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map(KeyBytes)
            .map_err(|_| "the key is not valid base64".to_owned())
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret given as text (the OpenID client secret); never printed.
#[derive(Clone)]
pub struct SecretText(pub String);

impl From<&str> for SecretText {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Options of `wharf serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "WHARF_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Mark the session cookie `Secure` and send HSTS (set it behind TLS).
    /// The variable takes 1/0, true/false, yes/no, on/off.
    #[arg(long, env = "WHARF_SECURE_COOKIES", value_parser = FalseyValueParser::new(), default_value_t = false, num_args = 0, default_missing_value = "true")]
    pub secure_cookies: bool,

    /// Take the client address from the last X-Forwarded-For entry (only
    /// behind your own reverse proxy).
    #[arg(long, env = "WHARF_TRUST_PROXY", value_parser = FalseyValueParser::new(), default_value_t = false, num_args = 0, default_missing_value = "true")]
    pub trust_proxy: bool,

    /// With --trust-proxy: the proxies whose X-Forwarded-For is believed,
    /// as addresses or CIDR ranges, comma-separated. Requests from any
    /// other peer are taken at their own address.
    #[arg(
        long,
        env = "WHARF_TRUSTED_PROXIES",
        default_value = "127.0.0.0/8,::1/128"
    )]
    pub trusted_proxies: ProxyList,

    /// Check every Image Pull secret's registry login when its last check is
    /// older than this (e.g. 6h, 30m); 0 turns scheduled checks off.
    #[arg(long, env = "WHARF_CHECK_EVERY", default_value = "6h")]
    pub check_every: Every,

    /// POST a JSON notification here when a credential starts failing,
    /// recovers, is about to expire or has expired (Slack and Mattermost
    /// incoming webhooks show its `text`).
    #[arg(long, env = "WHARF_NOTIFY_URL")]
    pub notify_url: Option<String>,

    /// wharf's address as people and clusters reach it (e.g.
    /// https://wharf.example.com): the links in notifications and the
    /// address in the files clusters are set up with. Without it those
    /// files name the local address a request reached; set it behind a
    /// proxy.
    #[arg(long, env = "WHARF_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// How long kubelet keeps a credential wharf gave it (the answer's
    /// cacheDuration and the node config's defaultCacheDuration).
    #[arg(long, env = "WHARF_NODE_CACHE", default_value = "1h")]
    pub node_cache: Seconds,

    /// How often the counts of what clusters were served (and refused) are
    /// written to the audit log: a crash loses at most this much of them.
    #[arg(long, env = "WHARF_SERVING_FLUSH_EVERY", default_value = "1m")]
    pub serving_flush_every: Seconds,

    /// End a session after this long without a request (e.g. 30m, 2h).
    #[arg(long, env = "WHARF_SESSION_IDLE", default_value = "1h")]
    pub session_idle: Seconds,

    /// End a session this long after sign-in, however busy (e.g. 12h).
    #[arg(long, env = "WHARF_SESSION_MAX", default_value = "12h")]
    pub session_max: Seconds,

    /// Single sign-on: the OpenID provider's issuer URL (https; plain http
    /// only to a loopback address). Without it, only passwords.
    #[arg(long, env = "WHARF_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// The client ID wharf has at the provider.
    #[arg(long, env = "WHARF_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// A file holding the client secret (or set `WHARF_OIDC_CLIENT_SECRET`).
    #[arg(long, env = "WHARF_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,

    /// The scopes asked for, space-separated.
    #[arg(
        long,
        env = "WHARF_OIDC_SCOPES",
        default_value = "openid profile email groups"
    )]
    pub oidc_scopes: String,

    /// The ID token claim that lists the person's groups.
    #[arg(long, env = "WHARF_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,

    /// Members of this provider group are administrators, others are not
    /// (checked at every sign-in). Without it, roles are set in wharf.
    #[arg(long, env = "WHARF_OIDC_ADMIN_GROUP")]
    pub oidc_admin_group: Option<String>,

    /// Only members of this provider group may sign in by SSO; others are
    /// refused with a sentence and audited (checked at every sign-in).
    #[arg(long, env = "WHARF_OIDC_REQUIRED_GROUP")]
    pub oidc_required_group: Option<String>,

    /// The provider's name on the sign-in button ("Sign in with SSO").
    #[arg(long, env = "WHARF_OIDC_NAME", default_value = "SSO")]
    pub oidc_name: String,

    /// How often the provider is asked whether it still answers: one that
    /// stops is noticed within this (and 10 s), and `/login` says single
    /// sign-on is unavailable until it answers again.
    #[arg(long, env = "WHARF_OIDC_CHECK_EVERY", default_value = "30s")]
    pub oidc_check_every: Seconds,

    /// `off` hides the password form (accounts with a password can still
    /// sign in at `/login?local`, the break-glass way in).
    #[arg(long, env = "WHARF_PASSWORD_LOGIN", default_value = "on", value_parser = ["on", "off"])]
    pub password_login: String,

    /// The client secret from `WHARF_OIDC_CLIENT_SECRET`.
    #[arg(skip)]
    pub oidc_client_secret: Option<SecretText>,

    /// The master key's file (base64 of 32 bytes), kept apart from the
    /// database; made beforehand by `wharf keys generate`. Default:
    /// `master.key` in the data directory, made on first start.
    #[arg(long, env = "WHARF_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// Where the data lives: SQLite under --data-dir, or PostgreSQL.
    #[command(flatten)]
    pub db: DbArgs,

    /// The session key's file (base64 of 64 bytes); made beforehand by
    /// `wharf keys generate`. Default: `session.key` in the data
    /// directory, made on first start.
    #[arg(long, env = "WHARF_SESSION_KEY_FILE")]
    pub session_key_file: Option<PathBuf>,

    /// Master key from `WHARF_MASTER_KEY` (base64 of 32 bytes; overrides
    /// `master.key`). Only from the environment: a flag would show in `ps`.
    #[arg(skip)]
    pub master_key: Option<KeyBytes>,

    /// Session cookie key from `WHARF_SESSION_KEY` (base64 of 64 bytes;
    /// overrides `session.key`).
    #[arg(skip)]
    pub session_key: Option<KeyBytes>,
}

impl ServeArgs {
    /// Fills the keys from `WHARF_MASTER_KEY` and `WHARF_SESSION_KEY`.
    pub fn with_env_keys(mut self) -> Result<Self, String> {
        let read = |name: &str| -> Result<Option<KeyBytes>, String> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => {
                    v.parse().map(Some).map_err(|e| format!("{name}: {e}"))
                }
                _ => Ok(None),
            }
        };
        self.master_key = read("WHARF_MASTER_KEY")?;
        self.session_key = read("WHARF_SESSION_KEY")?;
        self.oidc_client_secret = std::env::var("WHARF_OIDC_CLIENT_SECRET")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(SecretText);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("90".parse::<Seconds>(), Ok(Seconds(90)));
        assert_eq!("30m".parse::<Seconds>(), Ok(Seconds(1800)));
        assert_eq!("12h".parse::<Seconds>(), Ok(Seconds(43200)));
        assert!("0".parse::<Seconds>().is_err());
        assert!("5y".parse::<Seconds>().is_err());
        assert!("h".parse::<Seconds>().is_err());
    }
}

/// Where the data lives, for every command that opens it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DbArgs {
    /// PostgreSQL instead of the SQLite file under --data-dir:
    /// postgres://USER[:PASSWORD]@HOST:PORT/DATABASE?sslmode=require (TLS
    /// checks the server's certificate against the system's roots;
    /// sslmode=disable only on a trusted network). `serve` then needs
    /// --master-key-file and --session-key-file.
    #[arg(long, env = "WHARF_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// The database password's file (its first line), instead of one in
    /// --database-url.
    #[arg(long, env = "WHARF_DATABASE_PASSWORD_FILE")]
    pub database_password_file: Option<PathBuf>,
}

impl DbArgs {
    /// Where these flags and `data_dir` put the data.
    pub fn location(&self, data_dir: &std::path::Path) -> Result<crate::db::Location, String> {
        crate::db::Location::of(
            data_dir,
            self.database_url.as_deref(),
            self.database_password_file.as_deref(),
        )
    }
}
