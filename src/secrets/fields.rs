//! Which fields each type of secret has: one table that the add/edit page,
//! the API's create and patch, and the OpenAPI document all read, and the
//! typed command ([`SecretInput`]) that pages and the API both build.
//!
//! A new field: a [`Field`] variant with its name, a row in
//! [`Kind::fields`], its rule in `domain`, its place in
//! [`super::form::Credential`] and the store, and its input on the page.

use super::store::{Kind, Secret};
use crate::domain::{
    AccessKeyId, EcrEndpoint, EcrHost, NodePattern, RegistryHost, RegistryUsername, SecretValue,
    SshPrivateKey, parse_secret_access_key,
};

/// A field that some types of secret have (every secret has a name, a
/// display name, a type, an expiry date and "Deliver to clusters").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Image Pull and Amazon ECR: the registry.
    RegistryHost,
    /// Image Pull: the registry user.
    Username,
    /// Image Pull: the password or token (sealed).
    Password,
    /// Git Sync: the SSH private key (sealed).
    Secret,
    /// Amazon ECR: the IAM access key ID.
    AccessKeyId,
    /// Amazon ECR: the secret access key (sealed).
    SecretAccessKey,
    /// Amazon ECR: the API endpoint (blank: the region's own).
    Endpoint,
    /// Image Pull and Amazon ECR: kubelet's `matchImages`, one per line.
    NodePatterns,
}

/// Whether a new secret of a type must be given a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
}

impl Field {
    /// Every field, in the order pages and documents list them.
    pub const ALL: [Self; 8] = [
        Self::RegistryHost,
        Self::Username,
        Self::Password,
        Self::Secret,
        Self::AccessKeyId,
        Self::SecretAccessKey,
        Self::Endpoint,
        Self::NodePatterns,
    ];

    /// Its name in forms, JSON and the document.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RegistryHost => "registry_host",
            Self::Username => "username",
            Self::Password => "password",
            Self::Secret => "secret",
            Self::AccessKeyId => "access_key_id",
            Self::SecretAccessKey => "secret_access_key",
            Self::Endpoint => "endpoint",
            Self::NodePatterns => "node_patterns",
        }
    }

    /// The field of that name.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Sealed under the master key: never shown back; blank on a page (or
    /// absent from a patch) keeps the stored value.
    pub const fn sealed(self) -> bool {
        matches!(self, Self::Password | Self::Secret | Self::SecretAccessKey)
    }

    /// A patch may clear it (`null`): it has a meaning when blank.
    pub const fn clearable(self) -> bool {
        matches!(self, Self::Endpoint | Self::NodePatterns)
    }

    /// Checks the text alone, as a field of `kind` (the registry host of
    /// an ECR secret is an ECR host). The form's parser checks it again
    /// with the other fields; this is for a patch that carries a field of
    /// another type, which is not applied but must still fit the document.
    pub fn check(self, kind: Kind, text: &str) -> Result<(), String> {
        match self {
            Self::RegistryHost if kind == Kind::Ecr => EcrHost::parse(text).map(drop),
            Self::RegistryHost => RegistryHost::parse(text).map(drop),
            Self::Username => RegistryUsername::parse(text).map(drop),
            Self::Password => SecretValue::parse_password(text).map(drop),
            Self::Secret => SshPrivateKey::parse(text).map(drop),
            Self::AccessKeyId => AccessKeyId::parse(text).map(drop),
            Self::SecretAccessKey => parse_secret_access_key(text).map(drop),
            Self::Endpoint => EcrEndpoint::parse_optional(text).map(drop),
            Self::NodePatterns => NodePattern::parse_lines(text).map(drop),
        }
    }

    /// What a stored secret holds in it (blank for a sealed field or one
    /// its type does not have). ECR keeps its access key ID in the
    /// username column.
    fn stored(self, secret: &Secret) -> &str {
        fn text(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or("")
        }
        match self {
            _ if !secret.kind.takes(self) || self.sealed() => "",
            Self::RegistryHost => text(&secret.registry_host),
            Self::Username | Self::AccessKeyId => text(&secret.username),
            Self::Endpoint => text(&secret.endpoint),
            Self::NodePatterns => &secret.node_patterns,
            Self::Password | Self::Secret | Self::SecretAccessKey => "",
        }
    }
}

impl Kind {
    /// The fields a secret of this type has, beyond every secret's.
    pub const fn fields(self) -> &'static [(Field, Need)] {
        use Field::*;
        use Need::*;
        match self {
            Self::ImagePull => &[
                (RegistryHost, Required),
                (Username, Required),
                (Password, Required),
                (NodePatterns, Optional),
            ],
            Self::GitSync => &[(Secret, Required)],
            Self::Ecr => &[
                (RegistryHost, Required),
                (AccessKeyId, Required),
                (SecretAccessKey, Required),
                (Endpoint, Optional),
                (NodePatterns, Optional),
            ],
        }
    }

    /// Whether a secret of this type has `field`.
    pub fn takes(self, field: Field) -> bool {
        self.fields().iter().any(|(f, _)| *f == field)
    }
}

/// What a page or the API asks of a secret: its fields as given, by the
/// table above. [`SecretInput::parse_new`] and
/// [`SecretInput::parse_edit`] turn it into domain values or messages
/// beside the fields.
#[derive(Clone, Default)]
pub struct SecretInput {
    pub name: String,
    pub display_name: String,
    /// `image_pull`, `git_sync` or `ecr`, as given.
    pub kind: String,
    /// `YYYY-MM-DD`, or blank for none.
    pub expires_on: String,
    /// "Deliver to clusters".
    pub deliver: bool,
    /// By [`Field`], in the order of [`Field::ALL`]; blank when not given.
    values: [String; Field::ALL.len()],
}

impl SecretInput {
    /// A new secret of `kind`, every field blank.
    pub fn blank(kind: Kind) -> Self {
        Self {
            kind: kind.as_str().into(),
            ..Self::default()
        }
    }

    /// A stored secret's fields, to edit: sealed ones blank (kept).
    pub fn of(secret: &Secret) -> Self {
        let mut input = Self {
            name: secret.name.clone(),
            display_name: secret.display_name.clone(),
            kind: secret.kind.as_str().into(),
            expires_on: secret.expires_on.clone().unwrap_or_default(),
            deliver: secret.deliver,
            ..Self::default()
        };
        for field in Field::ALL {
            input.set(field, field.stored(secret).to_owned());
        }
        input
    }

    /// What a posted form holds: each name once (the first), a ticked
    /// box's presence, and `version` (returned apart). Other names, such
    /// as the CSRF token, are not a secret's.
    pub fn from_form(pairs: Vec<(String, String)>) -> (Self, crate::web::FormVersion) {
        let mut input = Self::default();
        let mut version = None;
        let mut seen = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            if seen.contains(&name) {
                continue;
            }
            match name.as_str() {
                "name" => input.name = value,
                "display_name" => input.display_name = value,
                "type" => input.kind = value,
                "expires_on" => input.expires_on = value,
                "deliver" => input.deliver = true,
                "version" => version = Some(crate::web::FormVersion::parse(&value)),
                other => match Field::named(other) {
                    Some(field) => input.set(field, value),
                    None => continue,
                },
            }
            seen.push(name);
        }
        (input, version.unwrap_or_default())
    }

    /// The text given for `field` (blank: none).
    pub fn get(&self, field: Field) -> &str {
        &self.values[Self::slot(field)]
    }

    /// Gives `field` the text `value`.
    pub fn set(&mut self, field: Field, value: String) {
        self.values[Self::slot(field)] = value;
    }

    fn slot(field: Field) -> usize {
        Field::ALL.iter().position(|f| *f == field).unwrap_or(0)
    }

    /// The type as the read-only field shows it.
    pub fn kind_label(&self) -> &'static str {
        Kind::parse(&self.kind).map_or("Image Pull", Kind::label)
    }
}

/// The password, key and secret access key are never printed, not even
/// in a debug log.
impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("SecretInput");
        out.field("name", &self.name)
            .field("display_name", &self.display_name)
            .field("kind", &self.kind)
            .field("expires_on", &self.expires_on)
            .field("deliver", &self.deliver);
        for field in Field::ALL {
            let value = self.get(field);
            let shown = if field.sealed() {
                crate::web::redacted(value)
            } else {
                value
            };
            out.field(field.name(), &shown);
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_some_types_and_named_once() {
        for field in Field::ALL {
            assert!(
                [Kind::ImagePull, Kind::GitSync, Kind::Ecr]
                    .iter()
                    .any(|k| k.takes(field)),
                "{field:?} belongs to no type"
            );
            assert_eq!(Field::named(field.name()), Some(field));
        }
    }

    #[test]
    fn a_form_is_read_by_the_table() {
        let pairs = [
            ("csrf", "x"),
            ("name", "gitlab"),
            ("type", "image_pull"),
            ("registry_host", "registry.gitlab.com"),
            ("registry_host", "evil.example.com"),
            ("password", "pw"),
            ("deliver", "on"),
            ("version", "3"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        let (input, version) = SecretInput::from_form(pairs);
        assert_eq!(input.name, "gitlab");
        assert_eq!(input.get(Field::RegistryHost), "registry.gitlab.com");
        assert_eq!(input.get(Field::Password), "pw");
        assert!(input.deliver);
        assert_eq!(version.expected(), 3);
        let shown = format!("{input:?}");
        assert!(!shown.contains("pw\""), "{shown}");
    }
}
