use std::fmt;

use super::rule::TextRule;

/// A path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`; `$dot` leaves
/// out the '.' separator (a first component with a dot is read as a host).
macro_rules! component {
    () => {
        r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
    };
    (no_dot) => {
        r"[a-z0-9]+((_|__|-+)[a-z0-9]+)*"
    };
}

/// A registry host as the first part of a reference: one with a dot or a
/// port, or `localhost`.
macro_rules! domain {
    () => {
        concat!(
            r"(localhost(:[0-9]{1,5})?",
            r"|[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)+(:[0-9]{1,5})?",
            r"|[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?:[0-9]{1,5})"
        )
    };
}

/// A container image reference, parsed by the Docker reference grammar:
/// `[registry[:port]/]path[:tag][@algorithm:digest]`. `python:3.12` means
/// `docker.io/library/python:3.12`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    raw: String,
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// `[host[:port]/]path[:tag][@digest]` as Docker reads it, at most 255
    /// characters; the digest sha256 or sha512. A host without a dot or a
    /// port, other than `localhost`, is not in the pattern (the parser takes
    /// one with capitals).
    pub const RULE: TextRule = TextRule::pattern(
        concat!(
            "^(",
            domain!(),
            "/",
            component!(),
            "(/",
            component!(),
            ")*|",
            component!(),
            "|",
            component!(no_dot),
            "(/",
            component!(),
            ")+)",
            r"(:[A-Za-z0-9_][-A-Za-z0-9_.]{0,127})?",
            "(@(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?$"
        ),
        1,
        255,
    );

    /// Parses a Container Image URL as typed; surrounding spaces are forgiven.
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let bad = |why: &str| Err(format!("\"{s}\" is not a valid image reference: {why}."));
        if s.is_empty() {
            return Err("Container Image URL is required.".into());
        }
        if s.len() > 512 {
            return Err("Container Image URL must be at most 512 characters.".into());
        }
        if s.contains("://") {
            return bad("leave out the scheme (https://)");
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(
                    parse_digest(d)
                        .map_err(|w| format!("\"{s}\" is not a valid image reference: {w}."))?,
                ),
            ),
            None => (s, None),
        };
        // A tag is the part after the last ':' if no '/' follows it (a ':'
        // before a '/' is a registry port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            let ok = t.len() <= 128
                && t.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return bad("a tag is up to 128 letters, digits, '_', '.' and '-'");
            }
        }
        if name.len() > 255 {
            return bad("the name is longer than 255 characters");
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                if !valid_domain(first) {
                    return bad("the registry host is malformed");
                }
                (first.to_ascii_lowercase(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let domain = match domain.as_str() {
            "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
            _ => domain,
        };
        if path.is_empty() || !path.split('/').all(valid_path_component) {
            return bad(
                "path components are lowercase letters and digits, separated by '.', '_', '__' or '-'",
            );
        }
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(Self {
            raw: s.to_owned(),
            domain,
            path,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The reference as typed (trimmed): what is stored and shown.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The registry, `host[:port]` in lower case; `docker.io` for Docker Hub.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path, `library/` added for official Docker Hub images.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository as kubelet names it when it asks for credentials:
    /// `domain/path`, without tag or digest (`docker.io/library/python`).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The fully qualified reference (`docker.io/library/python:3.12`).
    pub fn canonical(&self) -> String {
        let mut s = format!("{}/{}", self.domain, self.path);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, after)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => match after {
                "" => return true,
                p => (None, p.strip_prefix(':')),
            },
            _ => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    match host {
        None => port.is_some(),
        Some(h) => {
            !h.is_empty()
                && h.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        }
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `algorithm:hex`, with sha256 (64) and sha512 (128) lengths checked.
fn parse_digest(d: &str) -> Result<String, &'static str> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err("a digest is algorithm:hex, like sha256:...");
    };
    let alg_ok = !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    let hex_ok = hex.len() >= 32
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    let len_ok = match alg {
        "sha256" => hex.len() == 64,
        "sha512" => hex.len() == 128,
        _ => true,
    };
    if alg_ok && hex_ok && len_ok {
        Ok(d.to_owned())
    } else {
        Err("the digest is malformed (sha256 takes 64 lowercase hex digits)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn canon(s: &str) -> String {
        ImageRef::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .canonical()
    }

    #[test]
    fn real_world_references() {
        assert_eq!(canon("python:3.12"), "docker.io/library/python:3.12");
        assert_eq!(canon("ubuntu"), "docker.io/library/ubuntu");
        assert_eq!(
            canon("jupyter/base-notebook:lab-4.0.7"),
            "docker.io/jupyter/base-notebook:lab-4.0.7"
        );
        assert_eq!(
            canon("docker.io/library/nginx:1.27"),
            "docker.io/library/nginx:1.27"
        );
        assert_eq!(
            canon("index.docker.io/library/nginx"),
            "docker.io/library/nginx"
        );
        assert_eq!(
            canon("registry.gitlab.com/infuseai/ml/notebook:v1.2"),
            "registry.gitlab.com/infuseai/ml/notebook:v1.2"
        );
        assert_eq!(
            canon("ghcr.io/org/team/image:sha-abc123"),
            "ghcr.io/org/team/image:sha-abc123"
        );
        assert_eq!(
            canon("123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/train:2024.05"),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/train:2024.05"
        );
        assert_eq!(
            canon("gcr.io/my-project/tf_serving:latest"),
            "gcr.io/my-project/tf_serving:latest"
        );
        assert_eq!(
            canon("europe-docker.pkg.dev/p/repo/img:1"),
            "europe-docker.pkg.dev/p/repo/img:1"
        );
        assert_eq!(canon("localhost:5000/test:1"), "localhost:5000/test:1");
        assert_eq!(canon("localhost/test"), "localhost/test");
        assert_eq!(canon("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b");
        assert_eq!(canon("[::1]:5000/a"), "[::1]:5000/a");
        assert_eq!(
            canon(&format!("nvidia/cuda@{SHA}")),
            format!("docker.io/nvidia/cuda@{SHA}")
        );
        assert_eq!(
            canon(&format!("quay.io/a/b:1.0@{SHA}")),
            format!("quay.io/a/b:1.0@{SHA}")
        );
        assert_eq!(
            canon("a/b__c/d-e.f---g:TAG_1.x"),
            "docker.io/a/b__c/d-e.f---g:TAG_1.x"
        );
        let r = ImageRef::parse("registry.gitlab.com:443/g/p:1").unwrap();
        assert_eq!(
            (r.domain(), r.path(), r.tag()),
            ("registry.gitlab.com:443", "g/p", Some("1"))
        );
        assert_eq!(ImageRef::parse(" ubuntu ").unwrap().as_str(), "ubuntu");
    }

    #[test]
    fn invalid_references() {
        for bad in [
            "",
            "   ",
            "Ubuntu",
            "ubuntu:",
            "ubuntu:-bad",
            "ubuntu:has space",
            "https://registry.gitlab.com/a/b",
            "registry.gitlab.com/",
            "registry.gitlab.com/A/b",
            "a//b",
            "a/b/",
            "-a",
            "a..b",
            "a___b",
            "ubuntu@sha256:123",
            "ubuntu@md5",
            "ubuntu@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
            "host:port/a",
            "bad_host.com/a",
            &format!("a/{}", "b".repeat(300)),
            &format!("a:{}", "t".repeat(129)),
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }
}
