//! The `wharf` command: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wharf::cli::args::{Cli, Command, KeysCommand, TokenCommand, UserCommand};
use wharf::startup::{Application, ServerConfig};

fn main() -> ExitCode {
    return_large_blocks_at_once();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // kubelet's plugin fails with status 1, whatever went wrong.
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "credential-provider") => {
            eprintln!("wharf credential-provider: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => e.exit(),
    };
    // The plugin's stdout is kubelet's: nothing but the answer goes there.
    if let Some(Command::CredentialProvider(args)) = &cli.command {
        let settings = wharf::cli::credential_provider::Settings {
            url: args.url.clone(),
            token_file: args.token_file.clone(),
            cache_dir: args.cache_dir.clone(),
            max_stale: args.max_stale.0,
        };
        return match wharf::cli::credential_provider::run(
            &settings,
            std::io::stdin().lock(),
            std::io::stdout().lock(),
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wharf credential-provider: {}", wharf::domain::one_line(&e));
                ExitCode::FAILURE
            }
        };
    }
    // Colours only on a terminal: a log file or journald gets plain text.
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let result = match cli.command {
        Some(Command::User(UserCommand::Add {
            username, admin, db, ..
        })) => db
            .location(&cli.data_dir)
            .and_then(|db| wharf::cli::user_add(&db, &username, admin, std::io::stdin().lock()))
            .map(|()| println!("user {username} created")),
        Some(Command::Token(TokenCommand::Create {
            username,
            name,
            scope,
            expires_in,
            db,
        })) => db
            .location(&cli.data_dir)
            .and_then(|db| wharf::cli::token_create(&db, &username, &name, &scope, expires_in.0))
            .map(|token| println!("{token}")),
        Some(Command::Keys(KeysCommand::Generate { out })) => wharf::keys::generate(&out)
            .map(|[master, session]| {
                println!(
                    "wrote {} and {} (mode 0600).\n\
                     Start wharf with --master-key-file {} --session-key-file {}, and back both up \
                     apart from the database: without the master key its credentials cannot be opened.",
                    master.display(),
                    session.display(),
                    master.display(),
                    session.display()
                )
            })
            .map_err(|e| e.to_string()),
        Some(Command::Backup { file, db }) => match db.location(&cli.data_dir) {
            Ok(wharf::db::Location::Sqlite(dir)) => wharf::cli::backup(&dir, &file)
                .map(|()| println!("backup written to {}", file.display())),
            // PostgreSQL has its own consistent copy, made while wharf runs.
            Ok(wharf::db::Location::Postgres(target)) => Err(format!(
                "wharf backup copies the SQLite file; back up the PostgreSQL database at {} with pg_dump, e.g. pg_dump --format=custom --file {} 'postgres://…', and keep the key files apart from it",
                target.shown(),
                file.display()
            )),
            Err(e) => Err(e),
        },
        Some(Command::CredentialProvider(_)) => Ok(()),
        Some(Command::Serve(args)) => serve(ServerConfig {
            data_dir: cli.data_dir,
            serve: *args,
        }),
        None => serve(ServerConfig {
            data_dir: cli.data_dir,
            serve: cli.serve,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wharf: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(mut config: ServerConfig) -> Result<(), String> {
    config.serve = config.serve.with_env_keys()?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config).map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

/// argon2 takes 19 MiB a hash. glibc's malloc raises its mmap threshold
/// after the first such block is freed, and from then on serves them from
/// arenas that keep the memory: a burst of sign-ins grew the process by
/// about 18 MiB per guess (735 MiB after 40), even though at most one hash
/// per core runs at a time. A fixed threshold sends every block over 4 MiB
/// to mmap, and gives it back to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_at_once() {
    // SAFETY: mallopt only sets a malloc tunable; it is called before any
    // other thread exists and takes no pointers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_at_once() {}
