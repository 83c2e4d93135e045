//! The Secrets area: image pull credentials and Git Sync SSH keys.

mod export;
mod form;
pub mod routes;
pub use export::{dockerconfig, export_all, manifest_json, manifest_yaml, test_login};
pub mod store;
