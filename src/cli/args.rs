//! The command line and environment (clap, `env` feature).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::options::Seconds;

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
    /// Make key files to keep apart from the database.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write a consistent copy of the live database to FILE (safe while
    /// the server runs). Back up the master key separately: without it the
    /// copy's credentials cannot be opened.
    Backup {
        /// Where to write the copy; must not exist yet.
        file: PathBuf,
        /// Where the data lives (on PostgreSQL, use pg_dump instead).
        #[command(flatten)]
        db: crate::options::DbArgs,
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
    /// The plugin keeps no database. The other commands' global
    /// `--data-dir` (and `WHARF_DATA_DIR`) is taken here as ignored and
    /// left out of the plugin's help; defining it stops clap from
    /// propagating the global one.
    #[arg(long = "data-dir", hide = true)]
    pub data_dir: Option<PathBuf>,
}

/// `wharf keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new master key and session key to DIR/master.key and
    /// DIR/session.key (mode 0600), for `--master-key-file` and
    /// `--session-key-file`. Never overwrites a key.
    Generate {
        /// The folder to write them to (made owner-only if new).
        #[arg(long)]
        out: PathBuf,
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
        /// Where the data lives.
        #[command(flatten)]
        db: crate::options::DbArgs,
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
        /// Where the data lives.
        #[command(flatten)]
        db: crate::options::DbArgs,
    },
}

/// Options of `wharf serve`: kept with the other settings (below the
/// areas that read them), named here as the command line's.
pub use crate::options::ServeArgs;

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
