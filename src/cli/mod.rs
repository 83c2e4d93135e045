//! The command line: what it accepts (`args`, clap with `env`) and the
//! subcommands besides `serve` (`commands`).

pub mod args;
pub mod commands;
pub mod credential_provider;

pub use commands::{backup, token_create, user_add};
