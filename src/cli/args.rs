//! The command line and environment (clap, `env` feature).

use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand};

use crate::options::{Every, KeyBytes, ProxyList, Seconds, SecretText};

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
    Serve(Box<ServeArgs>),
    /// Manage accounts from the shell.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens from the shell.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The kubelet credential provider plugin: reads kubelet's
    /// CredentialProviderRequest on stdin and prints wharf's answer.
    CredentialProvider(ProviderArgs),
    /// Write a consistent copy of the live database to FILE (safe while
    /// the server runs). Back up `master.key` separately.
    Backup {
        /// Where to write the copy; must not exist yet.
        file: PathBuf,
    },
}

/// Options of `wharf credential-provider`.
#[derive(Debug, Clone, Args)]
pub struct ProviderArgs {
    /// wharf's address, as the cluster reaches it.
    #[arg(long, env = "WHARF_URL")]
    pub url: String,
    /// The file with the cluster's token (mode 0600).
    #[arg(long, env = "WHARF_TOKEN_FILE")]
    pub token_file: PathBuf,
    /// Where the last good answer per image is kept.
    #[arg(long, default_value = "/var/lib/wharf-credential-provider")]
    pub cache_dir: PathBuf,
    /// How old a kept answer may be when wharf cannot be reached.
    #[arg(long, default_value = "24h")]
    pub max_stale: Seconds,
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

/// `wharf token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token for a user and print it (for bootstrapping
    /// automation); it is shown only this once.
    Create {
        /// Whose token it is; it acts with this user's role.
        username: String,
        /// The token's name, unique per user.
        #[arg(long)]
        name: String,
        /// read (GETs only) or write.
        #[arg(long, default_value = "read")]
        scope: String,
        /// How long it lives (e.g. 30d, 12h).
        #[arg(long, default_value = "90d")]
        expires_in: Seconds,
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

    /// Check every Image Pull secret's registry login when its last check is
    /// older than this (e.g. 6h, 30m); 0 turns scheduled checks off.
    #[arg(long, env = "WHARF_CHECK_EVERY", default_value = "6h")]
    pub check_every: Every,

    /// POST a JSON notification here when a credential starts failing,
    /// recovers, is about to expire or has expired (Slack and Mattermost
    /// incoming webhooks show its `text`).
    #[arg(long, env = "WHARF_NOTIFY_URL")]
    pub notify_url: Option<String>,

    /// wharf's address as people reach it (e.g. https://wharf.example.com),
    /// for links in notifications.
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

    /// `off` hides the password form (accounts with a password can still
    /// sign in at `/login?local`, the break-glass way in).
    #[arg(long, env = "WHARF_PASSWORD_LOGIN", default_value = "on", value_parser = ["on", "off"])]
    pub password_login: String,

    /// The client secret from `WHARF_OIDC_CLIENT_SECRET`.
    #[arg(skip)]
    pub oidc_client_secret: Option<SecretText>,

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
