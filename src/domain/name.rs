use std::fmt;

use super::rule::TextRule;

/// Names that are routes of their own and so cannot name a resource.
const RESERVED: &[&str] = &["new", "export.yaml"];

/// A DNS-1123 label as a pattern (see [`is_label`]).
macro_rules! label {
    () => {
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    };
}

/// A Kubernetes object name (DNS-1123 subdomain, at most 63 characters),
/// used for secrets and images alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceName(String);

impl ResourceName {
    /// Dot-separated DNS-1123 labels, at most 63 characters, not reserved.
    pub const RULE: TextRule = TextRule {
        reserved: RESERVED,
        ..TextRule::pattern(concat!("^", label!(), r"(\.", label!(), ")*$"), 1, 63)
    };

    /// Parses a name as typed into a form; surrounding spaces are forgiven.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Name is required.".into());
        }
        if s.chars().count() > 63 {
            return Err("Name must be at most 63 characters.".into());
        }
        if RESERVED.contains(&s) {
            return Err(format!("\"{s}\" is reserved; choose another name."));
        }
        if !s.split('.').all(is_label) {
            return Err("Name may contain only lowercase letters, digits, '-' and '.', and must start and end with a letter or digit.".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Kubernetes namespace: a DNS-1123 label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// One DNS-1123 label.
    pub const RULE: TextRule = TextRule::pattern(concat!("^", label!(), "$"), 1, 63);

    /// Parses `?namespace=`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() <= 63 && is_label(raw) {
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

/// A DNS-1123 label naming a group or a cluster, at most 63 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelName(String);

/// A group's name.
pub type GroupName = LabelName;

/// A cluster's name.
pub type ClusterName = LabelName;

impl LabelName {
    /// One DNS-1123 label, not reserved.
    pub const RULE: TextRule = TextRule {
        reserved: RESERVED,
        ..TextRule::pattern(concat!("^", label!(), "$"), 1, 63)
    };

    /// Parses the Name field of a group or cluster; surrounding spaces are
    /// forgiven.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Name is required.".into());
        }
        if s.chars().count() > 63 {
            return Err("Name must be at most 63 characters.".into());
        }
        if RESERVED.contains(&s) {
            return Err(format!("\"{s}\" is reserved; choose another name."));
        }
        if !is_label(s) {
            return Err("Name may contain only lowercase letters, digits and '-', and must start and end with a letter or digit.".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`: a DNS-1123 label, the one rule behind
/// resource names (dot-separated labels) and namespaces (one label).
fn is_label(label: &str) -> bool {
    let b = label.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kubernetes_names() {
        for ok in [
            "a",
            "gitlab-pull",
            "my.secret-1",
            "0",
            "a.b.c",
            &"x".repeat(63),
        ] {
            assert!(ResourceName::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(ResourceName::parse("  ok  ").unwrap().as_str(), "ok");
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            " ",
            "-a",
            "a-",
            "A",
            "a_b",
            "a..b",
            ".a",
            "a.",
            "a b",
            "é",
            "a/b",
            &"x".repeat(64),
            "new",
            "export.yaml",
            "<script>",
        ] {
            assert!(ResourceName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn namespaces() {
        assert!(Namespace::parse("ml-team").is_ok());
        for bad in ["", "ML", "a.b", "-a", &"a".repeat(64)] {
            assert!(Namespace::parse(bad).is_err(), "{bad}");
        }
    }
}
