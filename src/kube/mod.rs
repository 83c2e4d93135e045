//! What leaves the portal: Kubernetes Secret manifests byte-for-byte as
//! `kubectl create secret ... --dry-run=client -o yaml|json` prints them,
//! docker config files, and the registry login check.

mod gojson;
pub mod credential_provider;
pub mod external_secrets;
mod manifest;
pub mod yaml;
pub mod registry;

pub use manifest::{Manifest, dockerconfigjson};
