//! Free text that people type: labels.

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
}
