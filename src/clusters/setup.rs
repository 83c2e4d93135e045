//! What a cluster is set up with, written once for the cluster page, its
//! downloads and the API: where things go on a node, kubelet's
//! `CredentialProviderConfig`, and External Secrets Operator's manifests.

use crate::db::Conn;
use actix_web::HttpRequest;

use crate::domain::TextRule;
use crate::kube::credential_provider::{self, go_duration};
use crate::kube::external_secrets::{self, Delivered};
use crate::state::AppState;

/// Where kubelet looks for credential provider plugins
/// (`--image-credential-provider-bin-dir`).
pub const BIN_DIR: &str = "/usr/local/lib/kubelet-credential-providers";
/// kubelet's `--image-credential-provider-config`.
pub const CONFIG_PATH: &str = "/etc/kubernetes/wharf-credential-provider.yaml";
/// The cluster's token on a node (0600, root).
pub const TOKEN_FILE: &str = "/etc/kubernetes/wharf-token";

/// What is delivered now.
pub struct Delivery {
    /// The patterns in force and the catalogue's delivered repositories,
    /// sorted: kubelet's `matchImages`.
    pub patterns: Vec<String>,
    /// The delivered secrets: (name, is a Git Sync key), by name.
    pub secrets: Vec<(String, bool)>,
}

/// Reads what is delivered.
pub fn delivery(conn: &Conn<'_>) -> rusqlite::Result<Delivery> {
    let mut patterns: Vec<String> = super::credentials::delivered_patterns(conn)?
        .into_iter()
        .filter_map(|p| p.served.ok().map(|p| p.to_string()))
        .collect();
    // kubelet only asks for images its matchImages cover: the catalogue's
    // repositories with a delivered pull secret too.
    patterns.extend(super::credentials::catalogue_repositories(conn)?);
    patterns.sort();
    patterns.dedup();
    let secrets = conn
        .query_map(
            "SELECT name, kind = 'git_sync' FROM secrets WHERE deliver = 1 ORDER BY name",
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Delivery { patterns, secrets })
}

/// What is delivered, for the cluster `name` (404 when there is none).
pub async fn of_cluster(
    state: &AppState,
    name: String,
) -> Result<Delivery, crate::error::AppError> {
    crate::db::run(&state.pool, move |c| {
        super::store::find(c, &name)?
            .ok_or_else(|| crate::error::AppError::no_such("cluster", &name))?;
        Ok(delivery(c)?)
    })
    .await
}

/// wharf's address as clusters reach it: `--public-url`, else the local
/// address this request's connection reached. Never a header: a client
/// (or a proxy passing the client's `Host` on) could name any server, and
/// nodes would send their token there.
pub fn base_url(state: &AppState, req: &HttpRequest) -> String {
    if let Some(u) = &state.lifecycle.public_url {
        return u.trim_end_matches('/').to_owned();
    }
    format!("http://{}", crate::web::Reached::of(req))
}

/// kubelet's config for the delivered patterns; `None` when nothing is
/// delivered (kubelet refuses a provider with no `matchImages`).
pub fn kubelet_config(state: &AppState, delivery: &Delivery, base_url: &str) -> Option<String> {
    (!delivery.patterns.is_empty()).then(|| {
        credential_provider::config_yaml(
            &delivery.patterns,
            state.delivery.node_cache,
            base_url,
            TOKEN_FILE,
        )
    })
}

/// External Secrets Operator's manifests for the delivered secrets, for
/// namespaces labelled `label`.
pub fn external_secrets(
    state: &AppState,
    delivery: &Delivery,
    base_url: &str,
    label: (&str, &str),
) -> String {
    let secrets: Vec<Delivered<'_>> = delivery
        .secrets
        .iter()
        .map(|(name, git_sync)| Delivered {
            name,
            git_sync: *git_sync,
        })
        .collect();
    external_secrets::manifests(
        base_url,
        label,
        &secrets,
        &go_duration(state.delivery.node_cache),
    )
}

/// What `?namespace_label=` accepts, for the API's document.
pub const LABEL_RULE: TextRule = TextRule::pattern(
    concat!(
        r"^(([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?",
        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?",
        r"=([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
    ),
    2,
    200,
);

/// `?namespace_label=KEY=VALUE`: a Kubernetes label key (an optional
/// DNS prefix and `/`, then a name) and value.
pub fn parse_label(raw: &str) -> Result<(String, String), String> {
    let raw = raw.trim();
    let bad = || {
        Err(format!(
            "\"{raw}\" is not a label like wharf.io/pull-secrets=true: a key (an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' and '.'), '=', and a value of up to 63 of those."
        ))
    };
    let Some((key, value)) = raw.split_once('=') else {
        return bad();
    };
    let name_ok = |s: &str, empty_ok: bool| {
        (empty_ok && s.is_empty())
            || (s.len() <= 63
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    };
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    if prefix_ok && name_ok(name, false) && name_ok(value, true) {
        Ok((key.to_owned(), value.to_owned()))
    } else {
        bad()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_described_label_parses(s in crate::domain::described(LABEL_RULE)) {
            prop_assert!(parse_label(&s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(
            parse_label("wharf.io/pull-secrets=true").unwrap(),
            ("wharf.io/pull-secrets".into(), "true".into())
        );
        assert!(parse_label("team=").is_ok());
        for bad in ["nolabel", "=x", "a b=c", "-a=b", "Bad_Prefix/a=b", "a=b c"] {
            assert!(parse_label(bad).is_err(), "{bad}");
        }
    }
}
