//! Domain types that parse raw form strings once. Past the parse, code only
//! handles valid values; each parser's error is the message shown beside the
//! form field.

mod account;
mod ecr;
mod ids;
mod image_ref;
mod name;
pub mod node_pattern;
mod registry;
mod rule;
mod secret_value;
mod text;

pub use account::{Password, Username};
pub use ecr::{
    AccessKeyId, EcrEndpoint, EcrHost, SECRET_ACCESS_KEY_RULE, TokenLife, parse_secret_access_key,
};
pub use ids::{GroupId, ImageId, SecretId, UserId};
pub use image_ref::ImageRef;
pub use name::{ClusterName, GroupName, LabelName, Namespace, ResourceName};
pub use node_pattern::NodePattern;
pub use registry::{RegistryHost, RegistryUsername};
pub use rule::TextRule;
#[cfg(test)]
pub(crate) use rule::check::described;
pub use secret_value::{SecretValue, SshPrivateKey};
pub use text::{Description, DisplayName, ExpiryDate, count, one_line, truncate};
