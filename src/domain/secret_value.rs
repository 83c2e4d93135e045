use std::fmt;

use super::rule::TextRule;

/// A password or token that must never be printed: `Debug` shows `***`, and
/// there is no `Display` or `Serialize`, so it cannot reach a log line or a
/// template by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value that is already known to be acceptable.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The rule of [`Self::parse_password`].
    pub const PASSWORD_RULE: TextRule = TextRule::lengths(1, 8192);

    /// A registry password or token: required, at most 8192 characters (ECR
    /// tokens and GCP JSON keys are long). Never trimmed: spaces may be part
    /// of it.
    pub fn parse_password(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("Password is required.".into());
        }
        if raw.chars().count() > 8192 {
            return Err("Password must be at most 8192 characters.".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The plain value, for sealing and for what leaves the portal on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An SSH private key for Git Sync, normalised the way OpenSSH wants it:
/// LF line ends and a final newline.
#[derive(Clone, PartialEq, Eq)]
pub struct SshPrivateKey(SecretValue);

impl SshPrivateKey {
    /// Largest accepted key, in bytes.
    pub const MAX_LEN: usize = 64 * 1024;

    /// The armour lines with base64 (and PEM headers) between them, LF line
    /// ends; the parser also takes CRLF and surrounding blank lines.
    pub const RULE: TextRule = TextRule::pattern(
        concat!(
            r"^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\n",
            r"([-A-Za-z0-9+/=:, ]*\n)*",
            r"-----END [A-Z0-9 ]*PRIVATE KEY-----\n?$"
        ),
        1,
        SshPrivateKey::MAX_LEN,
    );

    /// Parses a pasted key.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Err("Secret is required: paste an SSH private key.".into());
        }
        if raw.len() > Self::MAX_LEN {
            return Err("Secret must be at most 64 KiB.".into());
        }
        // CRLF (Windows) and lone CR (old Mac) line ends both become LF.
        let mut key = raw
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .trim()
            .to_owned();
        let first = key.lines().next().unwrap_or_default();
        let last = key.lines().last().unwrap_or_default();
        let armour = |line: &str, word: &str| {
            line.starts_with(&format!("-----{word} ")) && line.ends_with("PRIVATE KEY-----")
        };
        if !armour(first, "BEGIN") || !armour(last, "END") {
            return Err(
                "Secret must be an SSH private key (-----BEGIN ... PRIVATE KEY----- ... -----END ... PRIVATE KEY-----).".into(),
            );
        }
        key.push('\n');
        Ok(Self(SecretValue(key)))
    }

    /// The key as a secret value.
    pub fn into_value(self) -> SecretValue {
        self.0
    }
}

impl fmt::Debug for SshPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::parse_password("hunter2-token").unwrap();
        assert_eq!(format!("{v:?}"), "***");
        assert_eq!(format!("{:?}", Some(&v)), "Some(***)");
    }

    #[test]
    fn password_limits() {
        assert!(SecretValue::parse_password("").is_err());
        assert!(SecretValue::parse_password(&"x".repeat(8192)).is_ok());
        assert!(SecretValue::parse_password(&"x".repeat(8193)).is_err());
        assert_eq!(SecretValue::parse_password(" a ").unwrap().expose(), " a ");
    }

    #[test]
    fn ssh_key_is_normalised() {
        let raw = "-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaA==\r\n-----END OPENSSH PRIVATE KEY-----";
        let key = SshPrivateKey::parse(raw).unwrap().into_value();
        assert_eq!(
            key.expose(),
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n"
        );
        let rsa = "-----BEGIN RSA PRIVATE KEY-----\nAA\n-----END RSA PRIVATE KEY-----\n\n";
        assert!(
            SshPrivateKey::parse(rsa)
                .unwrap()
                .into_value()
                .expose()
                .ends_with("-----\n")
        );
    }

    #[test]
    fn ssh_key_rejects_other_text() {
        for bad in [
            "",
            "ssh-rsa AAAAB3Nza user@host",
            "-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAA",
        ] {
            assert!(SshPrivateKey::parse(bad).is_err(), "{bad}");
        }
        assert!(SshPrivateKey::parse(&"a".repeat(SshPrivateKey::MAX_LEN + 1)).is_err());
    }
}
