//! The command line and environment (clap, `env` feature).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use base64::Engine;
use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand};

/// wharf: keep the registry credentials, SSH keys and image catalogue of a
/// Kubernetes ML platform.
#[derive(Debug, Parser)]
#[command(name = "wharf", version, about)]
pub struct Cli {
    /// Where the database and keys live.
    #[arg(
        long,
        env = "WHARF_DATA_DIR",
        default_value = "wharf-data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Server options, when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web portal (the default).
    Serve(ServeArgs),
    /// Manage accounts from the shell.
    #[command(subcommand)]
    User(UserCommand),
    /// Write a consistent copy of the live database to FILE (safe while
    /// the server runs). Back up `master.key` separately.
    Backup {
        /// Where to write the copy; must not exist yet.
        file: PathBuf,
    },
}

/// `wharf user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    Add {
        /// Account name: lowercase letters, digits and . _ @ -.
        username: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
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

    /// End a session after this long without a request (e.g. 30m, 2h).
    #[arg(long, env = "WHARF_SESSION_IDLE", default_value = "1h")]
    pub session_idle: Seconds,

    /// End a session this long after sign-in, however busy (e.g. 12h).
    #[arg(long, env = "WHARF_SESSION_MAX", default_value = "12h")]
    pub session_max: Seconds,

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
        Ok(self)
    }
}

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

    #[test]
    fn cli_parses() {
        Cli::command_for_test();
    }

    impl Cli {
        fn command_for_test() {
            use clap::CommandFactory;
            Cli::command().debug_assert();
        }
    }
}
