//! The Secrets area: image pull credentials and Git Sync SSH keys.

mod form;
pub mod routes;
pub mod store;

pub use store::Kind;
