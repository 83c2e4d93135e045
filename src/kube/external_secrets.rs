//! Manifests for External Secrets Operator (`external-secrets.io/v1`), as
//! one `v1 List`: a
//! `ClusterSecretStore` whose `webhook` provider GETs a delivered secret's
//! download from wharf with the cluster's token, and one
//! `ClusterExternalSecret` per delivered secret, which makes the Secret in
//! every namespace with a label, new namespaces included. The rules
//! followed are ESO's webhook provider's (`providers/v1/webhook`): the URL
//! and headers are Go templates over `remoteRef` and the named Secrets'
//! keys; without `result.jsonPath` the body's bytes are the value.

use super::yaml::{Value, documents, map};

/// The store's name.
pub const STORE: &str = "wharf";
/// The Kubernetes Secret that holds the cluster's token, and where.
pub const TOKEN_SECRET: &str = "wharf-cluster-token";
/// Its namespace (ESO's own).
pub const TOKEN_NAMESPACE: &str = "external-secrets";
/// The label ESO requires on a Secret a webhook store reads.
pub const WEBHOOK_LABEL: (&str, &str) = ("external-secrets.io/type", "webhook");
/// The namespace label that selects where secrets go, by default.
pub const DEFAULT_NAMESPACE_LABEL: (&str, &str) = ("wharf.io/pull-secrets", "true");

/// A delivered secret, as ESO fetches it.
pub struct Delivered<'a> {
    /// Its name: the remote key and the Secret's name in each namespace.
    pub name: &'a str,
    /// A Git Sync key (`ssh`) rather than a docker config.
    pub git_sync: bool,
}

/// `base_url` with its port written out: ESO checks a store by dialling
/// the URL's host and port, and takes 443 when there is none, even for
/// `http://`.
pub fn with_port(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let (scheme, rest) = match base.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("https", base),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let has_port = match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(':')
        }
        None => false,
    } && !authority.ends_with(']');
    if has_port {
        format!("{scheme}://{authority}{path}")
    } else {
        let port = if scheme == "http" { 80 } else { 443 };
        format!("{scheme}://{authority}:{port}{path}")
    }
}

/// The store and one `ClusterExternalSecret` per delivered secret, for the
/// namespaces labelled `label`, refreshed every `refresh` (a Go duration).
pub fn manifests(
    base_url: &str,
    label: (&str, &str),
    secrets: &[Delivered<'_>],
    refresh: &str,
) -> String {
    let base = with_port(base_url);
    let store = map([
        ("apiVersion", "external-secrets.io/v1".into()),
        ("kind", "ClusterSecretStore".into()),
        ("metadata", map([("name", STORE.into())])),
        (
            "spec",
            map([
                // Only the labelled namespaces may use the store: without
                // this, any namespace could make an ExternalSecret for any
                // delivered secret.
                (
                    "conditions",
                    vec![map([(
                        "namespaceSelector",
                        map([(
                            "matchLabels",
                            Value::Object(vec![(label.0.to_owned(), label.1.into())]),
                        )]),
                    )])]
                    .into(),
                ),
                (
                "provider",
                map([(
                    "webhook",
                    map([
                        (
                            "url",
                            format!("{base}/api/v1/secrets/{{{{ .remoteRef.key }}}}/{{{{ .remoteRef.property }}}}").into(),
                        ),
                        ("method", "GET".into()),
                        (
                            "headers",
                            map([("Authorization", "Bearer {{ .auth.token }}".into())]),
                        ),
                        ("timeout", "10s".into()),
                        ("result", map([])),
                        (
                            "secrets",
                            vec![map([
                                ("name", "auth".into()),
                                (
                                    "secretRef",
                                    map([
                                        ("name", TOKEN_SECRET.into()),
                                        ("key", "token".into()),
                                        ("namespace", TOKEN_NAMESPACE.into()),
                                    ]),
                                ),
                            ])]
                            .into(),
                        ),
                    ]),
                )]),
                ),
            ]),
        ),
    ]);
    let mut docs = vec![store];
    for s in secrets {
        let (secret_type, key, property) = if s.git_sync {
            ("Opaque", "ssh", "ssh-key")
        } else {
            (
                "kubernetes.io/dockerconfigjson",
                ".dockerconfigjson",
                "dockerconfig",
            )
        };
        docs.push(map([
            ("apiVersion", "external-secrets.io/v1".into()),
            ("kind", "ClusterExternalSecret".into()),
            (
                "metadata",
                map([("name", format!("wharf-{}", s.name).into())]),
            ),
            (
                "spec",
                map([
                    ("externalSecretName", s.name.into()),
                    (
                        "namespaceSelectors",
                        vec![map([(
                            "matchLabels",
                            Value::Object(vec![(label.0.to_owned(), label.1.into())]),
                        )])]
                        .into(),
                    ),
                    ("refreshTime", "1m".into()),
                    (
                        "externalSecretSpec",
                        map([
                            ("refreshInterval", refresh.into()),
                            (
                                "secretStoreRef",
                                map([
                                    ("name", STORE.into()),
                                    ("kind", "ClusterSecretStore".into()),
                                ]),
                            ),
                            (
                                "target",
                                map([
                                    ("name", s.name.into()),
                                    ("creationPolicy", "Owner".into()),
                                    (
                                        "template",
                                        map([
                                            ("type", secret_type.into()),
                                            ("engineVersion", "v2".into()),
                                        ]),
                                    ),
                                ]),
                            ),
                            (
                                "data",
                                vec![map([
                                    ("secretKey", key.into()),
                                    (
                                        "remoteRef",
                                        map([
                                            ("key", s.name.into()),
                                            ("property", property.into()),
                                        ]),
                                    ),
                                ])]
                                .into(),
                            ),
                        ]),
                    ),
                ]),
            ),
        ]));
    }
    // One document, a `List` (which `kubectl apply -f` takes as its
    // items), so that a client reading one YAML document reads it all.
    documents(&[map([
        ("apiVersion", "v1".into()),
        ("kind", "List".into()),
        ("items", docs.into()),
    ])])
}

/// The lines that put the cluster's token where the store reads it (made
/// or replaced, so the same lines serve a new token), and the label ESO
/// requires on it.
pub fn token_commands(token_file: &str) -> String {
    format!(
        "kubectl -n {TOKEN_NAMESPACE} create secret generic {TOKEN_SECRET} --from-file=token={token_file} \\\n  --dry-run=client -o yaml | kubectl apply -f -\n\
         kubectl -n {TOKEN_NAMESPACE} label --overwrite secret {TOKEN_SECRET} {}={}",
        WEBHOOK_LABEL.0, WEBHOOK_LABEL.1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_written_out() {
        assert_eq!(
            with_port("https://wharf.example.com"),
            "https://wharf.example.com:443"
        );
        assert_eq!(with_port("http://wharf.lan/"), "http://wharf.lan:80");
        assert_eq!(with_port("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            with_port("https://example.com/wharf"),
            "https://example.com:443/wharf"
        );
        assert_eq!(with_port("http://[::1]"), "http://[::1]:80");
        assert_eq!(with_port("http://[::1]:8080"), "http://[::1]:8080");
    }
}
