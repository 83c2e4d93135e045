//! Property tests for the parsers that every form goes through.

use proptest::prelude::*;
use wharf::domain::{
    DisplayName, ImageRef, Namespace, RegistryHost, RegistryUsername, ResourceName, SshPrivateKey,
};

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 63
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn names_are_accepted_exactly_by_the_rule(s in "\\PC{0,70}|[a-z0-9.-]{1,70}") {
        let trimmed = s.trim();
        let ok = ResourceName::parse(&s).is_ok();
        prop_assert_eq!(ok, is_dns_subdomain(trimmed) && trimmed != "new" && trimmed != "export.yaml");
    }

    #[test]
    fn display_names_are_trimmed_and_bounded(s in "\\PC{0,140}") {
        if let Ok(d) = DisplayName::parse(&s) {
            prop_assert_eq!(d.as_str(), s.trim());
            prop_assert!(d.as_str().chars().count() <= 128);
        }
    }

    #[test]
    fn registry_hosts_never_keep_spaces_or_user_info(s in "\\PC{0,80}|(https?://)?[a-zA-Z0-9.:@/_-]{1,60}") {
        if let Ok(h) = RegistryHost::parse(&s) {
            prop_assert!(!h.as_str().chars().any(char::is_whitespace));
            prop_assert!(!h.as_str().contains(['@', '?', '#']));
            prop_assert!(!h.domain().is_empty());
            // Parsing what was stored gives the same value back.
            let again = RegistryHost::parse(h.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), h.as_str());
            prop_assert_eq!(again.domain(), h.domain());
        }
    }

    #[test]
    fn registry_usernames_never_hold_a_colon(s in "\\PC{0,300}") {
        if let Ok(u) = RegistryUsername::parse(&s) {
            prop_assert!(!u.as_str().contains(':'));
            prop_assert!(!u.as_str().is_empty());
        }
    }

    #[test]
    fn image_references_round_trip(s in "\\PC{0,80}|([a-z0-9.-]{1,20}(:[0-9]{1,5})?/)?[a-z0-9._/-]{1,40}(:[A-Za-z0-9_.-]{1,20})?") {
        if let Ok(r) = ImageRef::parse(&s) {
            let canonical = r.canonical();
            let again = ImageRef::parse(&canonical).unwrap();
            prop_assert_eq!(again.canonical(), canonical);
            prop_assert_eq!(again.domain(), r.domain());
        }
    }

    /// The `if let Ok` tests above hold for what parses; these say that
    /// what an administrator types every day does parse, so a parser that
    /// refused everything would fail here.
    #[test]
    fn everyday_display_names_parse(s in "[A-Za-z0-9][A-Za-z0-9 ()._-]{0,60}") {
        let parsed = DisplayName::parse(&s).unwrap();
        prop_assert_eq!(parsed.as_str(), s.trim());
    }

    #[test]
    fn everyday_registry_hosts_parse(
        scheme in "(https?://)?",
        host in "[a-z][a-z0-9-]{0,20}[a-z0-9](\\.[a-z][a-z0-9-]{0,10}[a-z0-9]){0,2}\\.[a-z]{2,6}",
        port in "(:[1-9][0-9]{2,3})?",
        path in "(/[a-z0-9]{1,10}){0,2}",
    ) {
        let raw = format!("{scheme}{host}{port}{path}");
        let h = RegistryHost::parse(&raw).unwrap();
        let want = if ["docker.io", "index.docker.io", "registry-1.docker.io", "hub.docker.com"]
            .contains(&host.as_str())
        {
            "docker.io".to_owned()
        } else {
            format!("{host}{port}")
        };
        prop_assert_eq!(h.domain(), want.as_str());
    }

    #[test]
    fn everyday_registry_usernames_parse(s in "[a-z][a-z0-9._+@-]{0,40}") {
        let parsed = RegistryUsername::parse(&s).unwrap();
        prop_assert_eq!(parsed.as_str(), s.as_str());
    }

    #[test]
    fn everyday_image_references_parse(
        domain in "([a-z]([a-z0-9-]{0,8}[a-z0-9])?\\.[a-z]{2,5}(:[1-9][0-9]{3})?/)?",
        path in "[a-z0-9]{1,12}(/[a-z0-9]{1,12}){0,2}",
        tag in "(:[a-z0-9][a-z0-9._-]{0,15})?",
    ) {
        let raw = format!("{domain}{path}{tag}");
        let r = ImageRef::parse(&raw).unwrap();
        let want = if domain.is_empty() { "docker.io".to_owned() } else { domain.trim_end_matches('/').to_owned() };
        prop_assert_eq!(r.domain(), want.as_str());
    }

    #[test]
    fn namespaces_are_labels(s in "\\PC{0,70}|[a-z0-9-]{1,70}") {
        let ok = Namespace::parse(&s).is_ok();
        prop_assert_eq!(ok, !s.contains('.') && is_dns_subdomain(&s));
    }

    #[test]
    fn ssh_keys_come_out_with_lf_and_a_final_newline(body in "[A-Za-z0-9+/=\r\n]{0,200}", crlf in any::<bool>()) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let raw = format!("-----BEGIN OPENSSH PRIVATE KEY-----{nl}{body}{nl}-----END OPENSSH PRIVATE KEY-----");
        let key = SshPrivateKey::parse(&raw).unwrap().into_value();
        prop_assert!(!key.expose().contains('\r'));
        prop_assert!(key.expose().ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
    }

    #[test]
    fn docker_configs_are_json_that_decodes_to_the_credentials(
        user in "[^:\\p{Cc}]{1,40}",
        password in "\\PC{1,60}|[\\x00-\\x7f]{1,60}",
    ) {
        let doc = wharf::kube::dockerconfigjson("registry.example.com", &user, &password);
        prop_assert!(!doc.contains('<') && !doc.contains('>') && !doc.contains('&'));
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let entry = &v["auths"]["registry.example.com"];
        prop_assert_eq!(entry["username"].as_str().unwrap(), user.as_str());
        prop_assert_eq!(entry["password"].as_str().unwrap(), password.as_str());
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD.decode(entry["auth"].as_str().unwrap()).unwrap();
        prop_assert_eq!(auth, format!("{user}:{password}").into_bytes());
    }
}
