//! A text field's rule as JSON Schema can state it, kept beside the parser
//! that enforces it: the API's document is generated from these, and the
//! tests check that every value a rule describes parses.

/// What a text field accepts. `pattern` is written in the syntax that
/// ECMA-262, Python's `re` and the `regex` crate share, and describes only
/// values the field's parser accepts (so a client that follows it is never
/// refused for the text itself); where the parser forgives more (spaces
/// around a name, an IPv6 registry host), the rule says the plain form.
#[derive(Clone, Copy, Debug)]
pub struct TextRule {
    /// Anchored regular expression, or none when any text within the
    /// lengths is accepted.
    pub pattern: Option<&'static str>,
    /// Fewest characters (Unicode scalar values, as JSON Schema counts).
    pub min_length: usize,
    /// Most characters.
    pub max_length: usize,
    /// Whole values refused although they match: names that are routes.
    /// The document states them as a negative look-ahead, which ECMA-262
    /// and Python read (the `regex` crate does not; the tests leave them
    /// out of the pattern and filter them).
    pub reserved: &'static [&'static str],
}

impl TextRule {
    /// A rule with only lengths.
    pub const fn lengths(min_length: usize, max_length: usize) -> Self {
        Self {
            pattern: None,
            min_length,
            max_length,
            reserved: &[],
        }
    }

    /// A rule with a pattern.
    pub const fn pattern(pattern: &'static str, min_length: usize, max_length: usize) -> Self {
        Self {
            pattern: Some(pattern),
            min_length,
            max_length,
            reserved: &[],
        }
    }
}

#[cfg(test)]
pub(crate) mod check {
    use super::TextRule;
    use proptest::prelude::*;

    /// Strings the rule describes: its pattern, its lengths, not reserved.
    pub fn described(rule: TextRule) -> impl Strategy<Value = String> {
        // The generator takes no anchors; every rule's pattern is anchored.
        let pattern = match rule.pattern {
            Some(p) => p
                .strip_prefix('^')
                .and_then(|p| p.strip_suffix('$'))
                .expect("a rule's pattern is anchored at both ends"),
            None => r"(?s:.*)",
        };
        // Repetitions bounded, so that nested ones stay within the lengths
        // (the lengths are checked apart).
        let pattern = pattern
            .replace(")*", "){0,4}")
            .replace(")+", "){1,4}")
            .replace("]*", "]{0,12}")
            .replace("]+", "]{1,12}");
        proptest::string::string_regex(&pattern)
            .expect("the rule's pattern compiles")
            .prop_filter("within the rule's lengths, not reserved", move |s| {
                let n = s.chars().count();
                n >= rule.min_length && n <= rule.max_length && !rule.reserved.contains(&s.as_str())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::check::described;
    use crate::domain::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn resource_names(s in described(ResourceName::RULE)) {
            prop_assert!(ResourceName::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn group_names(s in described(GroupName::RULE)) {
            prop_assert!(GroupName::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn namespaces(s in described(Namespace::RULE)) {
            prop_assert!(Namespace::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn display_names(s in described(DisplayName::RULE)) {
            prop_assert!(DisplayName::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn descriptions(s in described(Description::RULE)) {
            prop_assert!(Description::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn expiry_dates(s in described(ExpiryDate::RULE)) {
            // The pattern plus `format: date`: the day must exist.
            let exists = time::Date::parse(&s, ExpiryDate::FORMAT).is_ok();
            prop_assert_eq!(ExpiryDate::parse(&s).is_ok(), exists, "{:?}", s);
        }

        #[test]
        fn registry_hosts(s in described(RegistryHost::RULE)) {
            prop_assert!(RegistryHost::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn registry_usernames(s in described(RegistryUsername::RULE)) {
            prop_assert!(RegistryUsername::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn passwords(s in described(SecretValue::PASSWORD_RULE)) {
            prop_assert!(SecretValue::parse_password(&s).is_ok());
        }

        #[test]
        fn ssh_keys(s in described(SshPrivateKey::RULE)) {
            prop_assert!(SshPrivateKey::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn node_patterns(s in described(NodePattern::RULE)) {
            prop_assert!(NodePattern::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn ecr_hosts(s in described(EcrHost::RULE)) {
            prop_assert!(EcrHost::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn ecr_endpoints(s in described(EcrEndpoint::RULE)) {
            // A label that starts `xn--` must also be valid punycode (the
            // URL standard decodes it), which no pattern can say.
            prop_assume!(!s.contains("xn--"));
            prop_assert!(EcrEndpoint::parse_optional(&s).is_ok_and(|e| e.is_some()), "{s:?}");
        }

        #[test]
        fn access_key_ids(s in described(AccessKeyId::RULE)) {
            prop_assert!(AccessKeyId::parse(&s).is_ok(), "{s:?}");
        }

        #[test]
        fn secret_access_keys(s in described(SECRET_ACCESS_KEY_RULE)) {
            prop_assert!(parse_secret_access_key(&s).is_ok());
        }

        #[test]
        fn image_references(s in described(ImageRef::RULE)) {
            prop_assert!(ImageRef::parse(&s).is_ok(), "{s:?}");
        }
    }

    /// The patterns describe the everyday values too (not only parse what
    /// they describe): what the seed's guide and the tests type.
    #[test]
    fn everyday_values_are_described() {
        let matches = |rule: TextRule, s: &str| {
            let re = regex_lite::Regex::new(rule.pattern.unwrap_or(".*")).unwrap();
            re.is_match(s)
        };
        for host in [
            "registry.gitlab.com",
            "ghcr.io",
            "localhost:5000",
            "https://index.docker.io/v1/",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "127.0.0.1:65535",
        ] {
            assert!(matches(RegistryHost::RULE, host), "{host}");
        }
        for image in [
            "python:3.12",
            "registry.gitlab.com/team/notebook:v1",
            "localhost:5000/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "jupyter/base-notebook",
        ] {
            assert!(matches(ImageRef::RULE, image), "{image}");
        }
        assert!(matches(RegistryUsername::RULE, "gitlab+deploy-token-1"));
        assert!(!matches(RegistryUsername::RULE, "a:b"));
        assert!(!matches(RegistryUsername::RULE, "   "));
        assert!(matches(DisplayName::RULE, "GitLab (team é)"));
        assert!(!matches(DisplayName::RULE, "a\u{7}b"));
        assert!(matches(ExpiryDate::RULE, "2026-12-31"));
        assert!(!matches(ExpiryDate::RULE, "1999-12-31"));
        assert!(matches(
            SshPrivateKey::RULE,
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn==\n-----END OPENSSH PRIVATE KEY-----\n"
        ));
    }
}
