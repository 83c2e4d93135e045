//! What a cluster is given: kubelet's answer for an image, from the
//! delivered secrets' node patterns and the catalogue's choice of pull
//! secret per repository. The index of both is kept in memory while no
//! secret and no image changes; it holds sealed values only, opened per
//! answer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::db::Conn;

use crate::changes::{Derived, Miss, Read};

use crate::crypto::MasterKey;
use crate::domain::TokenLife;
use crate::domain::node_pattern::host_of;
use crate::domain::{ImageRef, NodePattern, RegistryHost};
use crate::error::AppError;
use crate::kube::credential_provider::{AuthConfig, Response};

/// A delivered registry secret, sealed: an Image Pull secret's password,
/// or an ECR secret's current token (never its access key).
#[derive(Clone)]
struct Sealed {
    name: String,
    username: String,
    /// The password (Image Pull) or the token (ECR), if there is one.
    sealed: Option<Vec<u8>>,
    /// ECR: the token's life, if there is one; `Some(None)`: none yet.
    ecr: Option<Option<TokenLife>>,
}

/// A secret kubelet may be given, over `s`: delivered, and a registry's
/// (a Git Sync key is fetched by name, never by an image).
const DELIVERED: &str = "s.deliver = 1 AND s.kind IN ('image_pull', 'ecr')";

/// The columns [`Sealed::at`] reads, over `s`.
const SEALED_COLUMNS: &str = "s.name, s.registry_username, s.kind = 'ecr',
    CASE s.kind WHEN 'ecr' THEN s.token_sealed ELSE s.sealed END,
    s.token_minted_at, s.token_expires_at";

impl Sealed {
    /// [`SEALED_COLUMNS`], from column `at` on.
    fn at(r: &crate::db::Row<'_>, at: usize) -> rusqlite::Result<Self> {
        let is_ecr: bool = r.get(at + 2)?;
        let life = TokenLife::of(r.get(at + 4)?, r.get(at + 5)?);
        Ok(Self {
            name: r.get(at)?,
            username: if is_ecr {
                crate::ecr::USERNAME.into()
            } else {
                r.get::<usize, Option<String>>(at + 1)?.unwrap_or_default()
            },
            sealed: r.get(at + 3)?,
            ecr: is_ecr.then_some(life),
        })
    }
}

/// What answers every lookup until a secret or an image changes.
pub struct Index {
    /// Delivered patterns and their secrets, by pattern.
    patterns: Vec<(NodePattern, Sealed)>,
    /// The patterns whose host has no glob, by `host[:port]`: the only
    /// ones that can match an image of that host.
    by_host: HashMap<String, Vec<usize>>,
    /// The patterns whose host has a glob (checked for every image).
    globbed: Vec<usize>,
    /// Catalogue repository → the delivered pull secret the admin chose
    /// for an image of it (the first image by name, if several differ).
    repositories: HashMap<String, Sealed>,
    /// `host[:port]`s with a more specific key than the host itself (a
    /// pattern with a path, a catalogue repository), and the globbed hosts
    /// of patterns with a path: an answer for such a host is never cached
    /// for the whole registry.
    specific_hosts: HashSet<String>,
    specific_globs: Vec<NodePattern>,
}

/// The index, as app data: kept as [`Derived`] values are (one builder,
/// never an older one's, confirmed under a commit stamp).
#[derive(Default)]
pub struct DeliveryIndex(Derived<(i64, i64), Index>);

impl DeliveryIndex {
    /// The index as `read` finds it: from memory if confirmed at its
    /// stamp; on a trip, the one held for the tables' counters or one
    /// built now.
    pub fn read(&self, read: Read<'_>) -> Result<Arc<Index>, Miss> {
        self.0.read(read, |conn| {
            let generation = conn.query_row(
                "SELECT (SELECT n FROM change_counters WHERE tbl = 'secrets'),
                            (SELECT n FROM change_counters WHERE tbl = 'images')",
                (),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(self.0.at(generation, || build(conn))?)
        })
    }
}

/// Each catalogue image's repository whose pull secret is delivered and is
/// for that image's registry (a secret of another registry is never sent
/// to this one), with the secret. Also what kubelet's `matchImages` needs,
/// so that kubelet asks for these images at all.
fn catalogue_routes(conn: &Conn<'_>) -> rusqlite::Result<Vec<(String, Sealed)>> {
    let mut out = Vec::new();
    let rows = conn.query_map(
        &format!(
            "SELECT i.url, i.url_for_gpu, s.registry_host, {SEALED_COLUMNS}
               FROM images i JOIN secrets s ON s.id = i.pull_secret_id
              WHERE {DELIVERED}
              ORDER BY i.name"
        ),
        (),
        |r| {
            Ok((
                r.get::<usize, String>(0)?,
                r.get::<usize, Option<String>>(1)?,
                r.get::<usize, Option<String>>(2)?,
                Sealed::at(r, 3)?,
            ))
        },
    )?;
    for row in rows {
        let (url, gpu, host, secret) = row?;
        let Some(registry) = host.and_then(|h| RegistryHost::parse(&h).ok()) else {
            continue;
        };
        for url in [url].into_iter().chain(gpu) {
            if let Ok(image) = ImageRef::parse(&url)
                && image.domain() == registry.domain()
            {
                out.push((image.repository(), secret.clone()));
            }
        }
    }
    Ok(out)
}

/// A delivered pattern as stored.
pub struct StoredPattern {
    /// The pattern as stored.
    pub pattern: String,
    /// The secret it serves.
    pub secret: String,
    /// The pattern, if kubelet may be answered for it, else why not.
    pub served: Result<NodePattern, String>,
}

/// The delivered patterns in force, by pattern.
pub fn delivered_patterns(conn: &Conn<'_>) -> rusqlite::Result<Vec<StoredPattern>> {
    conn.query_map(
        &format!(
            "SELECT d.pattern, s.name, s.registry_host
           FROM delivered_patterns d JOIN secrets s ON s.id = d.secret_id
          WHERE {DELIVERED}
          ORDER BY d.pattern"
        ),
        (),
        |r| {
            let pattern: String = r.get(0)?;
            let host: Option<String> = r.get(2)?;
            let served = NodePattern::stored(&pattern, host.as_deref());
            Ok(StoredPattern {
                pattern,
                secret: r.get(1)?,
                served,
            })
        },
    )?
    .collect()
}

/// Says, as a warning, every delivered pattern that is not served because
/// it breaks a rule (stored before the rule existed): run at start.
pub fn warn_of_unserved(conn: &Conn<'_>) -> rusqlite::Result<usize> {
    let mut n = 0;
    for StoredPattern {
        pattern,
        secret,
        served,
    } in delivered_patterns(conn)?
    {
        if let Err(why) = served {
            n += 1;
            tracing::warn!(%secret, %pattern, %why, "a delivered node image pattern is not served until its secret is fixed");
        }
    }
    Ok(n)
}

/// The repositories [`catalogue_routes`] answers for, sorted.
pub fn catalogue_repositories(conn: &Conn<'_>) -> rusqlite::Result<Vec<String>> {
    let mut repos: Vec<String> = catalogue_routes(conn)?
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    repos.sort();
    repos.dedup();
    Ok(repos)
}

fn build(conn: &Conn<'_>) -> rusqlite::Result<Index> {
    let mut patterns = Vec::new();
    let rows = conn.query_map(
        &format!(
            "SELECT d.pattern, s.registry_host, {SEALED_COLUMNS}
               FROM delivered_patterns d JOIN secrets s ON s.id = d.secret_id
              WHERE {DELIVERED}
              ORDER BY d.pattern"
        ),
        (),
        |r| {
            Ok((
                r.get::<usize, String>(0)?,
                r.get::<usize, Option<String>>(1)?,
                Sealed::at(r, 2)?,
            ))
        },
    )?;
    for row in rows {
        // Stored patterns were checked on the way in; one that breaks
        // today's rules (stored before them) is not served (it is listed
        // at start and on its secret's page).
        let (pattern, host, secret) = row?;
        if let Ok(p) = NodePattern::stored(&pattern, host.as_deref()) {
            patterns.push((p, secret));
        }
    }
    let (mut by_host, mut globbed) = (HashMap::<String, Vec<usize>>::new(), Vec::new());
    let (mut specific_hosts, mut specific_globs) = (HashSet::new(), Vec::new());
    for (i, (p, _)) in patterns.iter().enumerate() {
        let host = host_of(p.as_str());
        let glob = host.contains(['*', '?']);
        if glob {
            globbed.push(i);
        } else {
            by_host.entry(host.to_owned()).or_default().push(i);
        }
        if !p.is_host() {
            if glob {
                if let Ok(h) = NodePattern::parse(host) {
                    specific_globs.push(h);
                }
            } else {
                specific_hosts.insert(host.to_owned());
            }
        }
    }
    let mut repositories = HashMap::new();
    for (repo, secret) in catalogue_routes(conn)? {
        specific_hosts.insert(host_of(&repo).to_owned());
        repositories.entry(repo).or_insert(secret);
    }
    Ok(Index {
        patterns,
        by_host,
        globbed,
        repositories,
        specific_hosts,
        specific_globs,
    })
}

/// One credential of an answer, and the secret it is from.
pub struct Served {
    /// The key kubelet matches images with.
    pub key: String,
    /// The secret's name.
    pub secret: String,
    /// The credential.
    pub auth: AuthConfig,
}

/// What kubelet is answered for an image: the credentials, and whether
/// the answer may be cached for the image's whole registry.
pub struct Answer {
    /// The credentials, by key.
    pub served: Vec<Served>,
    /// No key more specific than a host could serve another image of this
    /// registry.
    pub registry_wide: bool,
    /// ECR secrets that match but have no token the lookup may give (key,
    /// secret): they need a mint first.
    pub pending: Vec<(String, String)>,
    /// The soonest expiry of an ECR token given (Unix seconds).
    pub token_expires_at: Option<i64>,
}

/// Which kept ECR tokens a lookup gives: on the first try only those with
/// more than half their life left; after a failed mint, any still valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    /// More than half its life left.
    Fresh,
    /// Not expired.
    Valid,
}

/// Every delivered credential for `image` (a repository as kubelet passes
/// it, or any image reference: the tag and digest are ignored) in `index`
/// (as [`DeliveryIndex::read`] finds it): those of the node patterns that
/// match it, and the catalogue's choice for its repository, keyed by that
/// repository.
pub fn lookup(
    index: &Index,
    master: &MasterKey,
    image: &ImageRef,
    now: i64,
    accept: Accept,
) -> Result<Answer, AppError> {
    let repository = image.repository();
    let pattern = |&i: &usize| index.patterns.get(i);
    // A pattern filed under the image's own host (no glob in it) matches
    // as kubelet's rule then says: when the repository's path starts with
    // the pattern's (`host/path` starts with `host/prefix`), with no URL
    // to split per pattern; a host with many path patterns (a GitLab
    // group per team) stays cheap.
    let same_host = index
        .by_host
        .get(image.domain())
        .into_iter()
        .flatten()
        .filter_map(pattern)
        .filter(|(p, _)| repository.starts_with(p.as_str()));
    let globbed = index
        .globbed
        .iter()
        .filter_map(pattern)
        .filter(|(p, _)| p.matches(&repository));
    let mut found: Vec<(String, &Sealed)> = same_host
        .chain(globbed)
        .map(|(p, s)| (p.to_string(), s))
        .collect();
    if let Some(s) = index.repositories.get(&repository) {
        // The image the admin picked a secret for gets that secret under
        // the repository, which kubelet tries before a host's key.
        found.retain(|(k, _)| *k != repository);
        found.push((repository.clone(), s));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let registry_wide = !index.specific_hosts.contains(image.domain())
        && !index
            .specific_globs
            .iter()
            .any(|g| g.matches(image.domain()));
    let (mut served, mut pending, mut token_expires_at) = (Vec::new(), Vec::new(), None);
    for (key, s) in found {
        let (aad, sealed) = match (&s.ecr, &s.sealed) {
            (None, Some(sealed)) => (crate::crypto::secret_aad(&s.name).to_vec(), sealed),
            (Some(Some(life)), Some(sealed))
                if match accept {
                    Accept::Fresh => life.fresh(now),
                    Accept::Valid => life.valid(now),
                } =>
            {
                token_expires_at =
                    Some(token_expires_at.map_or(life.expires_at, |t: i64| t.min(life.expires_at)));
                (crate::ecr::token_aad(&s.name), sealed)
            }
            _ => {
                pending.push((key, s.name.clone()));
                continue;
            }
        };
        let password = master.open_text(&aad, sealed, &s.name)?;
        served.push(Served {
            key,
            secret: s.name.clone(),
            auth: AuthConfig {
                username: s.username.clone(),
                password,
            },
        });
    }
    Ok(Answer {
        served,
        registry_wide,
        pending,
        token_expires_at,
    })
}

/// kubelet's response for what [`lookup`] found, kept at most
/// `cache_seconds`, and never more than half the remaining life of an ECR
/// token in it (at `now`).
pub fn response(answer: &Answer, cache_seconds: i64, now: i64) -> Response {
    let cache_seconds = match answer.token_expires_at {
        Some(expires_at) => cache_seconds.min(((expires_at - now) / 2).max(0)),
        None => cache_seconds,
    };
    let auth: BTreeMap<String, AuthConfig> = answer
        .served
        .iter()
        .map(|s| (s.key.clone(), s.auth.clone()))
        .collect();
    Response::new(auth, answer.registry_wide, cache_seconds)
}

#[cfg(test)]
mod tests {
    use crate::domain::node_pattern::{host_of, urls_match};
    use crate::domain::{ImageRef, NodePattern};

    /// The index's shortcut for a pattern under the image's own host is
    /// kubelet's rule, also where a prefix ends inside a path segment or
    /// the host has a port.
    #[test]
    fn a_pattern_on_the_images_own_host_matches_as_kubelet_says() {
        let patterns = [
            "registry.gitlab.com",
            "registry.gitlab.com/fleet-3",
            "registry.gitlab.com/fleet-3/app",
            "localhost:5000",
            "localhost:5000/team",
            "ghcr.io/org",
        ];
        let images = [
            "registry.gitlab.com/fleet-3/app",
            "registry.gitlab.com/fleet-30/app",
            "registry.gitlab.com/fleet/app",
            "registry.gitlab.com/team-5/notebook:v1",
            "localhost:5000/team/x",
            "localhost:5000/teams",
            "ghcr.io/org/image",
            "ghcr.io/organisation/image",
        ];
        let mut compared = 0;
        for p in patterns {
            let pattern = NodePattern::parse(p).expect("a pattern");
            for i in images {
                let image = ImageRef::parse(i).expect("an image");
                if host_of(pattern.as_str()) != image.domain() {
                    continue;
                }
                let repository = image.repository();
                assert_eq!(
                    repository.starts_with(pattern.as_str()),
                    urls_match(pattern.as_str(), &repository),
                    "{p} {i}"
                );
                compared += 1;
            }
        }
        assert!(compared >= 15, "{compared}");
    }
}
