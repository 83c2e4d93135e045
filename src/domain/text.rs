use std::fmt;

/// A human-friendly label: trimmed, at most 128 characters, may be empty
/// (then the name is shown instead).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses the optional Display Name field.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.chars().count() > 128 {
            return Err("Display Name must be at most 128 characters.".into());
        }
        if s.chars().any(char::is_control) {
            return Err("Display Name must not contain control characters.".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The label as stored; empty when none was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The user name of a registry credential. kubelet splits `auth` at the
/// first colon, so a colon here would silently break the credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryUsername(String);

impl RegistryUsername {
    /// Parses the Username field of an Image Pull secret.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Username is required.".into());
        }
        if s.chars().count() > 256 {
            return Err("Username must be at most 256 characters.".into());
        }
        if s.contains(':') {
            return Err("Username must not contain ':' (registries split user and password at the first colon).".into());
        }
        if s.chars().any(char::is_control) {
            return Err("Username must not contain control characters.".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The user name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A wharf account name: `[a-z0-9][a-z0-9._@-]{0,63}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses a sign-in or account name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c));
        if s.is_empty() {
            return Err("Username is required.".into());
        }
        if s.len() > 64 || !first_ok || !rest_ok {
            return Err("Username must be 1 to 64 characters: lowercase letters, digits and . _ @ -, starting with a letter or digit.".into());
        }
        // `/admin/users/new` is the add form.
        if s == "new" {
            return Err(format!("\"{s}\" is reserved; choose another name."));
        }
        Ok(Self(s.to_owned()))
    }

    /// The account name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new account password: at least 12 characters, at most 1024 (argon2
/// takes anything, but a megabyte password is an attack, not a password).
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Fewest characters a password may have.
    pub const MIN: usize = 12;

    /// Parses a new password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < Self::MIN {
            return Err(format!(
                "Password must be at least {} characters.",
                Self::MIN
            ));
        }
        if n > 1024 {
            return Err("Password must be at most 1024 characters.".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The plain password, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A Kubernetes namespace: a DNS-1123 label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// Parses `?namespace=`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let b = raw.as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        let ok = !b.is_empty()
            && b.len() <= 63
            && b.first().is_some_and(alnum)
            && b.last().is_some_and(alnum)
            && b.iter().all(|c| alnum(c) || *c == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "\"{raw}\" is not a valid namespace: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit."
            ))
        }
    }

    /// The namespace.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_is_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  GitLab  ").unwrap().as_str(), "GitLab");
        assert_eq!(DisplayName::parse("").unwrap().as_str(), "");
        assert!(DisplayName::parse(&"é".repeat(128)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(129)).is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn registry_username_rules() {
        assert!(RegistryUsername::parse("gitlab+deploy-token-78108").is_ok());
        assert!(RegistryUsername::parse("AWS").is_ok());
        assert!(RegistryUsername::parse("_json_key").is_ok());
        for bad in ["", "a:b", "a\nb", &"u".repeat(257)] {
            assert!(RegistryUsername::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn account_names() {
        for ok in ["admin", "jane.doe@example.com", "0ps", "a_b-c"] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Admin", "_x", "a b", "ü", &"a".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_length() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("twelve chars").is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("twelve chars").unwrap()),
            "***"
        );
    }

    #[test]
    fn namespaces() {
        assert!(Namespace::parse("ml-team").is_ok());
        for bad in ["", "ML", "a.b", "-a", &"a".repeat(64)] {
            assert!(Namespace::parse(bad).is_err(), "{bad}");
        }
    }
}
