//! wharf: a self-hosted admin portal for the registry credentials, SSH keys
//! and image catalogue of a Kubernetes ML platform.
//!
//! The binary (`main.rs`) only parses the command line; everything else is
//! here so that tests drive the same code. The modules in layers, each
//! using only those above it in this list (no module imports one that
//! imports it back; `tests/api/layers.rs` fails on a cycle):
//!
//! - `domain`, `error`, `kube`, `options`, `metrics`: values parsed once,
//!   the one error type, Kubernetes and registry formats, settings (the
//!   server's flags among them), the Prometheus metrics;
//! - `db`, `changes`, `crypto`, `keys`: storage (pool, migrations,
//!   `text_enum!`, `Named`; the commit stamp that tells memos they are
//!   current without a query), sealing and hashing, the key files;
//! - `audit`: recording who did what (`audit::action` names every action;
//!   `audited` writes a change and its entry together);
//! - `web`: form errors, problems, the page context, rendering, sessions;
//! - `listing`, `list_cache`: one reading of a list request (lenient for
//!   pages, strict for the API) and the lists' in-memory snapshots;
//! - `clock`, `ecr`: the time registry tokens live by, and minting Amazon
//!   ECR tokens (below the areas: every consumer asks it, lending what it
//!   needs, `AppState::minting`);
//! - `sso`: single sign-on's configuration, the discovered provider and
//!   the sign-in flows (no pages, no accounts);
//! - `state`: what every handler shares;
//! - `ops`: what a write comes to ([`ops::Failure`]) and the API's answer
//!   to it;
//! - `auth`: accounts, sessions, the password check, throttling, CSRF,
//!   tokens and the guards;
//! - `lifecycle`: what a login check's verdict means, and notifications;
//! - the areas `clusters` (delivery), `secrets`, `images`, `groups`,
//!   `users` (an SSO sign-in is one of its operations, over `auth`'s
//!   accounts), `tokens`, `audit_log`: each with its store, its writes
//!   (`ops`, which every way in calls) and its pages;
//! - `signin`: the sign-in pages, password and single sign-on;
//! - `api`: the JSON skin over the areas' reads and writes;
//! - `routes`, `startup`, `cli` (the command line and its subcommands):
//!   wiring.

pub mod api;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod clusters;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod ecr;
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
pub mod signin;
pub mod sso;
pub mod startup;
pub mod state;
pub mod tokens;
pub mod users;
pub mod web;
