//! wharf's own accounts: names and passwords.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
