//! What leaves the portal: Kubernetes Secret manifests byte-for-byte as
//! `kubectl create secret ... --dry-run=client -o yaml|json` prints them,
//! docker config files, and the registry login check.

pub mod credential_provider;
pub mod external_secrets;
mod gojson;
mod manifest;
pub mod registry;
pub mod yaml;

pub use manifest::{Manifest, dockerconfigjson};
