//! kubelet's credential provider protocol (`credentialprovider.kubelet.k8s.io/v1`,
//! KEP-2133): the request a plugin reads on stdin, the response it writes
//! on stdout, and the `CredentialProviderConfig` (`kubelet.config.k8s.io/v1`)
//! that tells kubelet to run it. kubelet decodes the response strictly (an
//! unknown field discards it), so these types hold exactly its fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The protocol's API version, of the request and the response.
pub const API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";

/// The name kubelet runs the plugin by: its file in
/// `--image-credential-provider-bin-dir`.
pub const PROVIDER_NAME: &str = "wharf-credential-provider";

/// What kubelet sends on stdin.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// `credentialprovider.kubelet.k8s.io/v1`.
    pub api_version: String,
    /// `CredentialProviderRequest`.
    pub kind: String,
    /// The repository to pull, as kubelet normalised it
    /// (`docker.io/library/python`, no tag).
    pub image: String,
}

/// How kubelet keys the answer in its cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum CacheKeyType {
    /// For this image only.
    Image,
    /// For every image of the registry (host[:port]).
    Registry,
}

/// One credential: kubelet's `AuthConfig`.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct AuthConfig {
    /// The registry user.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// What the plugin prints on stdout, and `GET /api/v1/credentials` answers.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Response {
    /// `credentialprovider.kubelet.k8s.io/v1`.
    pub api_version: String,
    /// `CredentialProviderResponse`.
    pub kind: String,
    /// How kubelet keys its cache.
    pub cache_key_type: CacheKeyType,
    /// How long kubelet keeps the answer, as a Go duration (`1h0m0s`).
    pub cache_duration: String,
    /// Image pattern → credential.
    pub auth: BTreeMap<String, AuthConfig>,
}

impl Response {
    /// The response for `auth`: keyed by registry when every key is a bare
    /// `host[:port]` and `registry_wide` (no more specific key could serve
    /// another image of that registry), else by image, so that neither a
    /// "no match" nor a host's key hides a more specific one in kubelet's
    /// cache.
    pub fn new(
        auth: BTreeMap<String, AuthConfig>,
        registry_wide: bool,
        cache_seconds: i64,
    ) -> Self {
        let by_registry =
            registry_wide && !auth.is_empty() && auth.keys().all(|k| !k.contains('/'));
        Self {
            api_version: API_VERSION.into(),
            kind: "CredentialProviderResponse".into(),
            cache_key_type: if by_registry {
                CacheKeyType::Registry
            } else {
                CacheKeyType::Image
            },
            cache_duration: go_duration(cache_seconds),
            auth,
        }
    }

    /// Checks what kubelet checks before it uses a response: the API
    /// version and the kind.
    pub fn is_valid(&self) -> bool {
        self.api_version == API_VERSION && self.kind == "CredentialProviderResponse"
    }
}

/// A duration as Go's `time.Duration.String()` writes whole seconds
/// (`1h0m0s`, `30m0s`, `45s`, `0s`).
pub fn go_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

/// The `CredentialProviderConfig` for kubelet's
/// `--image-credential-provider-config`: one provider, this plugin, which
/// kubelet runs as `wharf-credential-provider credential-provider` for
/// images that match `patterns` (never empty: kubelet refuses that), with
/// wharf's address and the token file in its environment.
pub fn config_yaml(patterns: &[String], cache_seconds: i64, url: &str, token_file: &str) -> String {
    use super::yaml::{Value, documents, map};
    let env = |name: &str, value: &str| map([("name", name.into()), ("value", value.into())]);
    let provider = map([
        ("name", PROVIDER_NAME.into()),
        (
            "matchImages",
            patterns
                .iter()
                .map(|p| Value::from(p.as_str()))
                .collect::<Vec<_>>()
                .into(),
        ),
        ("defaultCacheDuration", go_duration(cache_seconds).into()),
        ("apiVersion", API_VERSION.into()),
        ("args", vec!["credential-provider".into()].into()),
        (
            "env",
            vec![env("WHARF_URL", url), env("WHARF_TOKEN_FILE", token_file)].into(),
        ),
    ]);
    documents(&[map([
        ("apiVersion", "kubelet.config.k8s.io/v1".into()),
        ("kind", "CredentialProviderConfig".into()),
        ("providers", vec![provider].into()),
    ])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(go_duration(5400), "1h30m0s");
        assert_eq!(go_duration(1800), "30m0s");
        assert_eq!(go_duration(45), "45s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(43200 + 61), "12h1m1s");
    }

    #[test]
    fn the_cache_key_follows_the_keys() {
        let cred = || AuthConfig {
            username: "u".into(),
            password: "p".into(),
        };
        let hosts = BTreeMap::from([("ghcr.io".to_owned(), cred())]);
        assert_eq!(
            Response::new(hosts.clone(), true, 60).cache_key_type,
            CacheKeyType::Registry
        );
        assert_eq!(
            Response::new(hosts, false, 60).cache_key_type,
            CacheKeyType::Image
        );
        let repo = BTreeMap::from([
            ("ghcr.io".to_owned(), cred()),
            ("ghcr.io/team/app".to_owned(), cred()),
        ]);
        assert_eq!(
            Response::new(repo, true, 60).cache_key_type,
            CacheKeyType::Image
        );
        assert_eq!(
            Response::new(BTreeMap::new(), true, 60).cache_key_type,
            CacheKeyType::Image
        );
        let json = serde_json::to_value(Response::new(BTreeMap::new(), true, 3600)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"apiVersion": API_VERSION, "kind": "CredentialProviderResponse",
                "cacheKeyType": "Image", "cacheDuration": "1h0m0s", "auth": {}})
        );
    }
}
