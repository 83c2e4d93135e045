//! Which images a delivered credential is for, in kubelet's own terms: a
//! `matchImages` entry of a credential provider, matched as kubelet's
//! `URLsMatch` (`pkg/credentialprovider/keyring.go`) matches it. The same
//! rule answers kubelet, writes its config and runs the page's dry run.

use std::fmt;

use super::ecr::EcrHost;
use super::registry::RegistryHost;
use super::rule::TextRule;

/// Docker Hub's other names; kubelet sees `docker.io/...` for every Hub
/// image, so a pattern for the Hub is kept as `docker.io`.
const DOCKER_HUB_ALIASES: &[&str] = &["index.docker.io", "registry-1.docker.io", "hub.docker.com"];

/// A node image pattern: a host whose dot-separated parts may hold `*`
/// globs, an optional `:port`, an optional path prefix. No scheme, and no
/// glob in the port or the path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodePattern(String);

impl NodePattern {
    /// What the field accepts, for the API's document.
    pub const RULE: TextRule = TextRule::pattern(
        concat!(
            r"^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?(\.[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?)*",
            "(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?",
            r"(/[a-z0-9._-]+)*$"
        ),
        1,
        255,
    );

    /// Parses one line of "Node image patterns".
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        let bad = |why: &str| Err(format!("\"{s}\" is not a node image pattern: {why}."));
        if s.is_empty() {
            return bad("it is empty");
        }
        if s.len() > 255 {
            return bad("it is longer than 255 characters");
        }
        if s.contains("://") {
            return bad("leave out the scheme (https://)");
        }
        let (authority, path) = s.split_at(s.find('/').unwrap_or(s.len()));
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if let Some(p) = port
            && (p.starts_with('0')
                || !p.bytes().all(|b| b.is_ascii_digit())
                || !matches!(p.parse::<u16>(), Ok(n) if n > 0))
        {
            return bad("the port must be a number from 1 to 65535, without a glob");
        }
        if host.split('.').any(|part| part.len() > 63) {
            return bad("a part of the host is longer than 63 characters");
        }
        let part_ok = |part: &str| {
            !part.is_empty()
                && !part.starts_with('-')
                && !part.ends_with('-')
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '*')
        };
        if !host.split('.').all(part_ok) {
            return bad(
                "the host is lowercase letters, digits, '-' and '*' in parts separated by '.'",
            );
        }
        let path_ok = path.split('/').skip(1).all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
        if !path_ok {
            return bad(
                "the path is lowercase letters, digits, '.', '_' and '-' between '/', without a glob",
            );
        }
        let host = if DOCKER_HUB_ALIASES.contains(&host) {
            "docker.io"
        } else {
            host
        };
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        Ok(Self(format!("{host}{port}{path}")))
    }

    /// A delivered pattern as stored, for a secret whose registry is
    /// `registry_host` (as stored): the pattern, if kubelet may be answered
    /// for it, else why not. Rows stored before a rule existed are judged
    /// by today's rules, and never served while they break one.
    pub fn stored(raw: &str, registry_host: Option<&str>) -> Result<Self, String> {
        let pattern = Self::parse(raw)?;
        let registry = RegistryHost::parse(registry_host.unwrap_or_default())
            .map_err(|why| format!("\"{raw}\" has no registry to serve: {why}"))?;
        pattern.confined_to(&registry)?;
        Ok(pattern)
    }

    /// The pattern a registry's credential serves when none is given: the
    /// registry's `host[:port]`, `docker.io` for Docker Hub.
    pub fn of_registry(host: &RegistryHost) -> Self {
        Self(host.domain().to_owned())
    }

    /// Parses the textarea: one pattern per line, blank lines skipped,
    /// each kept once, in order.
    pub fn parse_lines(text: &str) -> Result<Vec<Self>, String> {
        let mut out: Vec<Self> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let p = Self::parse(line)?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.len() > 100 {
            return Err("At most 100 node image patterns.".into());
        }
        Ok(out)
    }

    /// Whether this pattern can match images of `registry` only, as a
    /// delivered secret's pattern must: kubelet sends the secret's password
    /// to whatever host an image it matches names. The host is the
    /// registry's own (with the same port), or holds globs only in front of
    /// the registry's registrable domain (`*.gitlab.com` for
    /// `registry.gitlab.com`), which no other owner's host can end with. A
    /// path is free: it only narrows.
    pub fn confined_to(&self, registry: &RegistryHost) -> Result<(), String> {
        let own = registry.domain();
        let refuse = |why: String| Err(format!("\"{}\" {why}", self.0));
        if own.starts_with('[') {
            return refuse(format!(
                "cannot be served: kubelet's patterns cannot name an IPv6 address, so a secret for {own} cannot be delivered. Give the registry a host name."
            ));
        }
        let (host, port) = split_port(host_of(&self.0));
        let (own_host, own_port) = split_port(own);
        if port != own_port {
            let said = |p: &str| {
                if p.is_empty() {
                    "no port".to_owned()
                } else {
                    format!("port {p}")
                }
            };
            return refuse(format!(
                "has {}, but this secret's registry {own} has {}: kubelet would send its password to another server.",
                said(port),
                said(own_port)
            ));
        }
        if !host.contains(['*', '?']) {
            return if host == own_host {
                Ok(())
            } else {
                refuse(format!(
                    "names {host}, not this secret's registry {own}: kubelet would send its password there."
                ))
            };
        }
        // A glob only in the first part, in front of a literal tail at or
        // below the registry's registrable domain, under a public suffix
        // the list knows (a name a registrar hands to one owner). Amazon
        // ECR's hosts share amazonaws.com with every AWS customer (load
        // balancers, buckets): an ECR secret serves its own host only.
        let (_, tail) = host.split_once('.').unwrap_or((host, ""));
        let registrable = (EcrHost::parse(own_host).is_err()
            && own_host.parse::<std::net::Ipv4Addr>().is_err())
        .then(|| psl::domain(own_host.as_bytes()))
        .flatten()
        .filter(|d| d.suffix().is_known())
        .and_then(|d| std::str::from_utf8(d.as_bytes()).ok());
        let Some(registrable) = registrable else {
            return refuse(format!(
                "has a glob, but {own_host} has no registrable domain of its own to keep it within: name the registry's host."
            ));
        };
        let confined = !tail.contains(['*', '?'])
            && psl::domain_str(&format!("probe.{tail}")) == Some(registrable)
            && urls_match(host, own_host);
        if confined {
            Ok(())
        } else {
            refuse(format!(
                "could match hosts outside {registrable}, this secret's registry's own domain, and kubelet would send its password to them. Name the registry's host ({own}), or put one glob in front of {registrable}, e.g. *.{registrable}."
            ))
        }
    }

    /// The pattern as kubelet reads it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A bare `host[:port]`, without a path.
    pub fn is_host(&self) -> bool {
        !self.0.contains('/')
    }

    /// Whether kubelet would match `image` (a repository as kubelet passes
    /// it to a plugin: `registry.example.com:5000/team/app`) with this
    /// pattern: as many host parts, each matching its glob, equal ports,
    /// and the pattern's path a prefix of the image's.
    pub fn matches(&self, image: &str) -> bool {
        urls_match(&self.0, image)
    }
}

impl fmt::Display for NodePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The host part (`host[:port]`) of a pattern or a repository.
pub fn host_of(s: &str) -> &str {
    s.split('/').next().unwrap_or(s)
}

/// `host[:port]` of a pattern or a registry without brackets: the host and
/// the port (empty when there is none).
fn split_port(s: &str) -> (&str, &str) {
    s.split_once(':').unwrap_or((s, ""))
}

/// kubelet's `URLsMatchStr(glob, target)`: both are read as URLs without a
/// scheme (the host ends at the first '/', '?' or '#'), the host split
/// into its port (when it has one) and its dot-separated parts.
pub fn urls_match(glob: &str, target: &str) -> bool {
    let (g_host, g_path) = split_schemeless(glob);
    let (t_host, t_path) = split_schemeless(target);
    let (g_parts, g_port) = split_host(g_host);
    let (t_parts, t_port) = split_host(t_host);
    g_port == t_port
        && g_parts.len() == t_parts.len()
        && t_path.starts_with(g_path)
        && g_parts
            .iter()
            .zip(&t_parts)
            .all(|(g, t)| glob_match(g.as_bytes(), t.as_bytes()))
}

/// `url.Parse("https://" + s)`: the host and the path.
fn split_schemeless(s: &str) -> (&str, &str) {
    let end = s.find(['/', '?', '#']).unwrap_or(s.len());
    let host = &s[..end];
    let rest = &s[end..];
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    (host, &rest[..path_end])
}

/// `net.SplitHostPort`, falling back to the whole host and no port.
fn split_host(host: &str) -> (Vec<&str>, &str) {
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') || h.starts_with('[') => {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            (h.split('.').collect(), port)
        }
        _ => (host.split('.').collect(), ""),
    }
}

/// Go's `filepath.Match` for one host part (no separator in it): `*` any
/// run of characters, `?` one character, anything else itself.
///
/// Matched as Go's `path.Match` does, in one pass: on a mismatch, only the
/// last `*` is given one more character; an earlier star never needs to
/// be revisited, since the last one can absorb anything it could. At most
/// `pattern.len() * name.len()` steps (a few thousand for a 63-byte
/// label), never the exponential walk of a recursive matcher.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // The position after the last star seen, and the name position it
    // was tried at.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((after, tried)) => {
                    p = after;
                    n = tried + 1;
                    star = Some((after, n));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kubelet's own cases (keyring_test.go `TestURLsMatch`) and the
    /// contract's.
    #[test]
    fn matches_as_kubelet_does() {
        let cases: &[(&str, &str, bool)] = &[
            // A glob in one part; parts must be as many.
            ("*.kubernetes.io", "prefix.kubernetes.io", true),
            ("*.io", "prefix.kubernetes.io", false),
            ("*.*.io", "prefix.kubernetes.io", true),
            ("*.*.io", "kubernetes.io", false),
            ("*-good.kubernetes.io", "prefix-good.kubernetes.io", true),
            ("*-good.kubernetes.io", "prefix-bad.kubernetes.io", false),
            ("*.kubernetes.io", "kubernetes.io", false),
            ("kubernetes.io", "kubernetes.io", true),
            ("k*.io", "kubernetes.io", true),
            ("k*.io", "quay.io", false),
            ("*.io", "kubernetes.io", true),
            ("*.io", "a.k8s.io", false),
            // Ports must be equal, a port in the image but not in the
            // pattern included.
            ("prefix.kubernetes.io:443", "prefix.kubernetes.io:443", true),
            ("prefix.kubernetes.io:443", "prefix.kubernetes.io:80", false),
            ("prefix.kubernetes.io", "prefix.kubernetes.io:443", false),
            ("*.kubernetes.io:8080", "prefix.kubernetes.io:8080", true),
            ("127.0.0.1:5000", "127.0.0.1:5000/private/app", true),
            ("127.0.0.1", "127.0.0.1:5000/private/app", false),
            // The pattern's path is a prefix of the image's.
            ("registry.io/team", "registry.io/team/app", true),
            ("registry.io/team", "registry.io/other/app", false),
            ("registry.io/team/app", "registry.io/team", false),
            ("registry.io", "registry.io/team/app", true),
            ("*.registry.io/team", "eu.registry.io/team/app", true),
            // Docker Hub as kubelet sees it.
            ("docker.io", "docker.io/library/python", true),
            ("docker.io/library", "docker.io/library/python", true),
            ("docker.io", "quay.io/python", false),
        ];
        for (glob, target, want) in cases {
            assert_eq!(urls_match(glob, target), *want, "{glob} ~ {target}");
        }
    }

    /// Go's own cases for `path.Match` without separators, classes or
    /// runes beyond ASCII (match_test.go; hosts are ASCII), and the backtracking pattern of the review, which
    /// a recursive matcher takes seconds over.
    #[test]
    fn globs_match_as_go_does_in_linear_time() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*b*c*d*e*", "axbxcxdxe", true),
            ("a*b*c*d*e*", "axbxcxdxexxx", true),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("*x", "xxx", true),
            ("a*b", "a", false),
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("?", "", false),
            ("**", "ab", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), name.as_bytes()),
                *want,
                "{pattern} ~ {name}"
            );
        }
        let started = std::time::Instant::now();
        let long = format!("{}.example.com/x", "a".repeat(63));
        assert!(!urls_match("*a*a*a*a*a*a*b.example.com", &long));
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        assert!(NodePattern::parse(&format!("{}.example.com", "a".repeat(64))).is_err());
    }

    /// A pattern may send a secret's password only to its own registry.
    #[test]
    fn patterns_stay_on_their_registry() {
        let verdict = |pattern: &str, registry: &str| {
            NodePattern::parse(pattern)
                .unwrap()
                .confined_to(&RegistryHost::parse(registry).unwrap())
        };
        for (pattern, registry) in [
            ("ghcr.io", "ghcr.io"),
            ("ghcr.io/team", "https://ghcr.io"),
            ("*.gitlab.com", "registry.gitlab.com"),
            ("*.registry.gitlab.com", "eu.registry.gitlab.com"),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            ),
            ("registry.gitlab.com/team", "registry.gitlab.com"),
            ("*.registry.example.co.uk", "eu.registry.example.co.uk"),
            ("reg*.example.com", "registry.example.com"),
            ("127.0.0.1:5000/private", "http://127.0.0.1:5000"),
            ("docker.io/library", "docker.io"),
            ("registry.internal:5000", "registry.internal:5000"),
        ] {
            assert_eq!(
                verdict(pattern, registry),
                Ok(()),
                "{pattern} for {registry}"
            );
        }
        for (pattern, registry, says) in [
            ("*.io", "ghcr.io", "outside ghcr.io"),
            ("*.*", "ghcr.io", "outside ghcr.io"),
            ("*", "localhost:5000", "port"),
            ("attacker.com", "ghcr.io", "names attacker.com"),
            ("ghcr.io:443", "ghcr.io", "port 443"),
            ("*.co.uk", "example.co.uk", "outside example.co.uk"),
            ("*.example.co.uk", "example.co.uk", "outside example.co.uk"),
            ("*.0.0.1:5000", "127.0.0.1:5000", "no registrable domain"),
            ("*.localhost", "registry.localhost", "no registrable domain"),
            ("registry.internal", "[fd00::5]:5000", "IPv6"),
            (
                "*.github.io",
                "someone.github.io",
                "outside someone.github.io",
            ),
            // Hosts everyone shares: an ECR secret serves its own host only.
            (
                "*.dkr.ecr.eu-west-1.amazonaws.com",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                "no registrable domain",
            ),
            (
                "*.*.*.*.amazonaws.com",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                "no registrable domain",
            ),
            // One glob, in the first part only.
            ("*.*.gitlab.com", "a.registry.gitlab.com", "one glob"),
            ("registry.*.com", "registry.gitlab.com", "one glob"),
            // No public suffix the list knows: numbers, made-up names.
            ("*.0.1:5000", "10.0.0.1:5000", "no registrable domain"),
            ("*.*.0.1:5000", "0x7f.0.0.1:5000", "no registrable domain"),
            ("*.internal", "registry.internal", "no registrable domain"),
        ] {
            let why = verdict(pattern, registry).unwrap_err();
            assert!(why.contains(says), "{pattern} for {registry}: {why}");
        }
        assert!(NodePattern::stored("*.*", Some("ghcr.io")).is_err());
        assert!(NodePattern::stored("*.gitlab.com", Some("registry.gitlab.com")).is_ok());
        assert!(NodePattern::stored("ghcr.io", None).is_err());
    }

    #[test]
    fn patterns_are_checked_and_kept_in_kubelets_form() {
        let ok = |s: &str| NodePattern::parse(s).unwrap().as_str().to_owned();
        assert_eq!(ok(" *.gitlab.com "), "*.gitlab.com");
        assert_eq!(ok("127.0.0.1:5000/private"), "127.0.0.1:5000/private");
        assert_eq!(ok("index.docker.io/team"), "docker.io/team");
        for bad in [
            "https://ghcr.io",
            "ghcr.io:*",
            "ghcr.io:0",
            "ghcr.io:+5000",
            "ghcr.io/te*m",
            "GHCR.io",
            "ghcr..io",
            "ghcr.io//a",
            "gh cr.io",
        ] {
            assert!(NodePattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            NodePattern::parse_lines("ghcr.io\n\n  ghcr.io \nquay.io\n")
                .unwrap()
                .iter()
                .map(NodePattern::as_str)
                .collect::<Vec<_>>(),
            ["ghcr.io", "quay.io"]
        );
        let hub = RegistryHost::parse("https://index.docker.io/v1/").unwrap();
        assert_eq!(NodePattern::of_registry(&hub).as_str(), "docker.io");
        let local = RegistryHost::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(NodePattern::of_registry(&local).as_str(), "127.0.0.1:5000");
    }
}
