//! wharf: a self-hosted admin portal for the registry credentials, SSH keys
//! and image catalogue of a Kubernetes ML platform.
//!
//! The binary (`main.rs`) only parses the command line; everything else is
//! here so that tests drive the same code. The modules in layers, each
//! using only those above it in this list:
//!
//! - `domain`, `error`, `kube`: values parsed once, the one error type,
//!   Kubernetes and registry formats;
//! - `db`, `crypto`, `options`, `listing`, `keys`, `state`: storage,
//!   sealing and hashing, settings;
//! - `audit`: recording who did what (`audited` writes a change and its
//!   entry together);
//! - `web`: the page context, rendering, redirects, form state;
//! - `auth`: accounts, sessions, sign-in, CSRF and the guards;
//! - the areas `secrets`, `images`, `users`, `audit_log`;
//! - `routes`, `startup`, `cli` (the command line and its subcommands):
//!   wiring.

pub mod api;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod cli;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod groups;
pub mod images;
pub mod keys;
pub mod kube;
pub mod lifecycle;
pub mod list_cache;
pub mod listing;
pub mod metrics;
pub mod ops;
pub mod options;
pub mod routes;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod tokens;
pub mod users;
pub mod web;
