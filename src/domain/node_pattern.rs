//! Which images a delivered credential is for, in kubelet's own terms: a
//! `matchImages` entry of a credential provider, matched as kubelet's
//! `URLsMatch` (`pkg/credentialprovider/keyring.go`) matches it. The same
//! rule answers kubelet, writes its config and runs the page's dry run.

use std::fmt;

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
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob_match(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && glob_match(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && glob_match(rest, &name[1..]),
    }
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
