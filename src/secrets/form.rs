//! A secret's fields as given ([`SecretInput`], from a page or the API) in,
//! domain values (or messages beside fields) out.

use super::fields::{Field, SecretInput};
use super::store::{self, Kind};
use crate::crypto::MasterKey;
use crate::domain::{
    AccessKeyId, DisplayName, EcrEndpoint, EcrHost, ExpiryDate, NodePattern, RegistryHost,
    RegistryUsername, ResourceName, SecretValue, SshPrivateKey, parse_secret_access_key,
};
use crate::web::FieldErrors;

/// What a secret holds, by kind. `None` for the value: keep the stored one.
pub enum Credential {
    ImagePull {
        host: RegistryHost,
        username: RegistryUsername,
        password: Option<SecretValue>,
    },
    GitSync {
        key: Option<SecretValue>,
    },
    Ecr {
        host: EcrHost,
        key_id: AccessKeyId,
        secret_key: Option<SecretValue>,
        endpoint: Option<EcrEndpoint>,
    },
}

/// A form that passed every rule.
pub struct Valid {
    pub name: ResourceName,
    pub display_name: DisplayName,
    pub credential: Credential,
    pub expires_on: Option<ExpiryDate>,
    /// Served to clusters.
    pub deliver: bool,
    /// The node image patterns as given (Image Pull only).
    pub node_patterns: Vec<NodePattern>,
}

impl Valid {
    /// Seals the new password or key, if one was given, under the master
    /// key with the name as associated data.
    pub fn seal(&self, master: &MasterKey) -> Option<Vec<u8>> {
        let value = match &self.credential {
            Credential::ImagePull { password, .. } => password.as_ref(),
            Credential::GitSync { key } => key.as_ref(),
            Credential::Ecr { secret_key, .. } => secret_key.as_ref(),
        }?;
        Some(master.seal(
            crate::crypto::secret_aad(self.name.as_str()),
            value.expose().as_bytes(),
        ))
    }

    /// The row fields to write, with the sealed value (`None`: keep).
    pub fn write(&self, sealed: Option<Vec<u8>>) -> store::Write<'_> {
        let (host, user, endpoint) = match &self.credential {
            Credential::ImagePull { host, username, .. } => {
                (Some(host.as_str()), Some(username.as_str()), None)
            }
            Credential::GitSync { .. } => (None, None, None),
            Credential::Ecr {
                host,
                key_id,
                endpoint,
                ..
            } => (
                Some(host.as_str()),
                Some(key_id.as_str()),
                endpoint.as_ref().map(EcrEndpoint::as_str),
            ),
        };
        store::Write {
            name: self.name.as_str(),
            display_name: self.display_name.as_str(),
            kind: self.kind(),
            registry_host: host,
            username: user,
            endpoint,
            sealed,
            expires_on: self.expires_on.map(ExpiryDate::to_text),
            deliver: self.deliver,
            node_patterns: self
                .node_patterns
                .iter()
                .map(NodePattern::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
            delivered: self.patterns_in_force(),
        }
    }

    /// The patterns kubelet is answered for: none unless delivered; the
    /// given ones, or the registry's host. A Git Sync key has none (it is
    /// fetched by name).
    pub fn patterns_in_force(&self) -> Vec<NodePattern> {
        // `finish` refuses what has no pattern (an IPv6 registry with none
        // given), so the registry's own is always a valid one here.
        let host = match &self.credential {
            _ if !self.deliver => return Vec::new(),
            Credential::ImagePull { host, .. } => host.clone(),
            Credential::Ecr { host, .. } => host.registry(),
            Credential::GitSync { .. } => return Vec::new(),
        };
        if self.node_patterns.is_empty() {
            vec![NodePattern::of_registry(&host)]
        } else {
            self.node_patterns.clone()
        }
    }

    /// Image Pull, Git Sync or Amazon ECR.
    pub fn kind(&self) -> Kind {
        match self.credential {
            Credential::ImagePull { .. } => Kind::ImagePull,
            Credential::GitSync { .. } => Kind::GitSync,
            Credential::Ecr { .. } => Kind::Ecr,
        }
    }
}

impl SecretInput {
    /// Checks a new secret: every field from the form, the value required.
    pub fn parse_new(&self) -> Result<Valid, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", ResourceName::parse(&self.name));
        let kind = Kind::parse(&self.kind);
        if kind.is_none() {
            errors.add("type", "Choose a type: Image Pull, Git Sync or Amazon ECR.");
        }
        self.finish(errors, name, kind, true)
    }

    /// Checks an edit: name and type are fixed; a blank value keeps the
    /// stored one.
    pub fn parse_edit(&self, name: &str, kind: Kind) -> Result<Valid, FieldErrors> {
        let errors = FieldErrors::default();
        let name = ResourceName::parse(name).ok();
        self.finish(errors, name, Some(kind), false)
    }

    fn finish(
        &self,
        mut errors: FieldErrors,
        name: Option<ResourceName>,
        kind: Option<Kind>,
        value_required: bool,
    ) -> Result<Valid, FieldErrors> {
        let display_name = errors.check("display_name", DisplayName::parse(&self.display_name));
        let expires_on = errors.check("expires_on", ExpiryDate::parse(&self.expires_on));
        let text = |field: Field| self.get(field);
        // A sealed value left blank on an edit keeps the stored one.
        let keeps = |field: Field| !value_required && text(field).trim().is_empty();
        let patterns = text(Field::NodePatterns);
        let node_patterns = match kind {
            Some(Kind::ImagePull)
                if self.deliver
                    && patterns.trim().is_empty()
                    && text(Field::RegistryHost).contains('[') =>
            {
                errors.add(
                    "node_patterns",
                    "This registry cannot be delivered: kubelet's patterns cannot name an IPv6 address. Give the registry a host name.",
                );
                None
            }
            Some(k) if !k.takes(Field::NodePatterns) && !patterns.trim().is_empty() => {
                errors.add(
                    "node_patterns",
                    "Node image patterns are for Image Pull secrets; a Git Sync key is fetched by name.",
                );
                None
            }
            _ => errors.check("node_patterns", NodePattern::parse_lines(patterns)),
        };
        let sealed = |errors: &mut FieldErrors,
                      field: Field,
                      parse: fn(&str) -> Result<SecretValue, String>| {
            if keeps(field) {
                Some(None)
            } else {
                errors.check(field.name(), parse(text(field))).map(Some)
            }
        };
        let credential = match kind {
            Some(Kind::ImagePull) => {
                let host = errors.check(
                    "registry_host",
                    RegistryHost::parse(text(Field::RegistryHost)),
                );
                let username =
                    errors.check("username", RegistryUsername::parse(text(Field::Username)));
                let password = sealed(&mut errors, Field::Password, SecretValue::parse_password);
                match (host, username, password) {
                    (Some(host), Some(username), Some(password)) => Some(Credential::ImagePull {
                        host,
                        username,
                        password,
                    }),
                    _ => None,
                }
            }
            Some(Kind::GitSync) => {
                let key = sealed(&mut errors, Field::Secret, |t| {
                    SshPrivateKey::parse(t).map(SshPrivateKey::into_value)
                });
                key.map(|key| Credential::GitSync { key })
            }
            Some(Kind::Ecr) => {
                let host = errors.check("registry_host", EcrHost::parse(text(Field::RegistryHost)));
                let key_id = errors.check(
                    "access_key_id",
                    AccessKeyId::parse(text(Field::AccessKeyId)),
                );
                let secret_key =
                    sealed(&mut errors, Field::SecretAccessKey, parse_secret_access_key);
                let endpoint = errors.check(
                    "endpoint",
                    EcrEndpoint::parse_optional(text(Field::Endpoint)),
                );
                match (host, key_id, secret_key, endpoint) {
                    (Some(host), Some(key_id), Some(secret_key), Some(endpoint)) => {
                        Some(Credential::Ecr {
                            host,
                            key_id,
                            secret_key,
                            endpoint,
                        })
                    }
                    _ => None,
                }
            }
            None => None,
        };
        // A pattern sends the password to every host it matches: each must
        // stay on this secret's registry.
        let registry = match &credential {
            Some(Credential::ImagePull { host, .. }) => Some(host.clone()),
            Some(Credential::Ecr { host, .. }) => Some(host.registry()),
            _ => None,
        };
        if let (Some(registry), Some(patterns)) = (registry, &node_patterns)
            && let Some(why) = patterns.iter().find_map(|p| p.confined_to(&registry).err())
        {
            errors.add("node_patterns", why);
        }
        match (
            name,
            display_name,
            credential,
            expires_on,
            node_patterns,
            errors.is_empty(),
        ) {
            (
                Some(name),
                Some(display_name),
                Some(credential),
                Some(expires_on),
                Some(node_patterns),
                true,
            ) => Ok(Valid {
                name,
                display_name,
                credential,
                expires_on,
                deliver: self.deliver,
                node_patterns,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_pull() -> SecretInput {
        let mut f = SecretInput::blank(Kind::ImagePull);
        f.name = "gitlab".into();
        f.set(Field::RegistryHost, "registry.gitlab.com".into());
        f.set(Field::Username, "gitlab+deploy-token-1".into());
        f.set(Field::Password, "tok".into());
        f
    }

    #[test]
    fn a_complete_form_passes() {
        let v = image_pull().parse_new().unwrap();
        assert_eq!(v.kind(), Kind::ImagePull);
    }

    #[test]
    fn every_wrong_field_gets_its_message() {
        let mut f = SecretInput::blank(Kind::ImagePull);
        f.name = "Bad Name".into();
        f.set(Field::RegistryHost, "a b".into());
        f.set(Field::Username, "a:b".into());
        let e = f.parse_new().err().unwrap();
        for field in ["name", "registry_host", "username", "password"] {
            assert!(e.get(field).is_some(), "{field}");
        }
        let e = SecretInput::default().parse_new().err().unwrap();
        assert!(e.get("type").is_some());
    }

    #[test]
    fn blank_value_keeps_on_edit_only() {
        let mut f = image_pull();
        f.set(Field::Password, String::new());
        assert!(f.parse_new().is_err());
        let v = f.parse_edit("gitlab", Kind::ImagePull).unwrap();
        assert!(matches!(
            v.credential,
            Credential::ImagePull { password: None, .. }
        ));
        let g = SecretInput::default();
        assert!(g.parse_edit("repo-key", Kind::GitSync).is_ok());
    }

    #[test]
    fn debug_never_prints_the_password_or_key() {
        let mut form = image_pull();
        form.set(Field::Password, "glpat-the-token".into());
        form.set(
            Field::Secret,
            "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n".into(),
        );
        let shown = format!("{form:?}");
        assert!(shown.contains("gitlab") && shown.contains("***"), "{shown}");
        assert!(
            !shown.contains("glpat") && !shown.contains("PRIVATE KEY"),
            "{shown}"
        );
    }
}
