//! What a cluster is given: kubelet's answer for an image, from the
//! delivered secrets' node patterns and the catalogue's choice of pull
//! secret per repository. The index of both is kept in memory while no
//! secret and no image changes; it holds sealed values only, opened per
//! answer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::crypto::MasterKey;
use crate::domain::{ImageRef, NodePattern};
use crate::error::AppError;
use crate::kube::credential_provider::{AuthConfig, Response};

/// A delivered Image Pull secret, sealed.
#[derive(Clone)]
struct Sealed {
    name: String,
    username: String,
    sealed: Vec<u8>,
}

/// What answers every lookup until a secret or an image changes.
struct Index {
    generation: (i64, i64),
    /// Delivered patterns and their secrets, by pattern.
    patterns: Vec<(NodePattern, Sealed)>,
    /// Catalogue repository → the delivered pull secret the admin chose
    /// for an image of it (the first image by name, if several differ).
    repositories: HashMap<String, Sealed>,
}

/// The index, as app data.
#[derive(Default)]
pub struct DeliveryIndex(Mutex<Option<Arc<Index>>>);

impl DeliveryIndex {
    fn current(&self, conn: &Connection) -> Result<Arc<Index>, AppError> {
        let generation = conn
            .prepare_cached(
                "SELECT (SELECT n FROM change_counters WHERE tbl = 'secrets'),
                        (SELECT n FROM change_counters WHERE tbl = 'images')",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = slot.as_ref().filter(|i| i.generation == generation) {
            return Ok(index.clone());
        }
        let index = Arc::new(build(conn, generation)?);
        *slot = Some(index.clone());
        Ok(index)
    }
}

fn build(conn: &Connection, generation: (i64, i64)) -> Result<Index, AppError> {
    let sealed = |r: &rusqlite::Row<'_>, at: usize| -> rusqlite::Result<Sealed> {
        Ok(Sealed {
            name: r.get(at)?,
            username: r.get::<_, Option<String>>(at + 1)?.unwrap_or_default(),
            sealed: r.get(at + 2)?,
        })
    };
    let mut patterns = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT d.pattern, s.name, s.registry_username, s.sealed
           FROM delivered_patterns d JOIN secrets s ON s.id = d.secret_id
          WHERE s.deliver = 1 AND s.kind = 'image_pull'
          ORDER BY d.pattern",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let raw: String = r.get(0)?;
        // Stored patterns were parsed on the way in.
        if let Ok(p) = NodePattern::parse(&raw) {
            patterns.push((p, sealed(r, 1)?));
        }
    }
    let mut repositories = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT i.url, i.url_for_gpu, s.name, s.registry_username, s.sealed
           FROM images i JOIN secrets s ON s.id = i.pull_secret_id
          WHERE s.deliver = 1 AND s.kind = 'image_pull'
          ORDER BY i.name",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let secret = sealed(r, 2)?;
        for url in [r.get::<_, String>(0)?]
            .into_iter()
            .chain(r.get::<_, Option<String>>(1)?)
        {
            if let Ok(image) = ImageRef::parse(&url) {
                repositories
                    .entry(image.repository())
                    .or_insert_with(|| secret.clone());
            }
        }
    }
    Ok(Index {
        generation,
        patterns,
        repositories,
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

/// Every delivered credential for `image` (a repository as kubelet passes
/// it, or any image reference: the tag and digest are ignored): those of
/// the node patterns that match it, and the catalogue's choice for its
/// repository, keyed by that repository.
pub fn lookup(
    conn: &Connection,
    index: &DeliveryIndex,
    master: &MasterKey,
    image: &ImageRef,
) -> Result<Vec<Served>, AppError> {
    let index = index.current(conn)?;
    let repository = image.repository();
    let mut found: Vec<(String, &Sealed)> = index
        .patterns
        .iter()
        .filter(|(p, _)| p.matches(&repository))
        .map(|(p, s)| (p.to_string(), s))
        .collect();
    if let Some(s) = index.repositories.get(&repository) {
        // The image the admin picked a secret for gets that secret under
        // the most specific key kubelet tries first.
        found.retain(|(k, _)| *k != repository);
        found.push((repository.clone(), s));
    }
    found
        .into_iter()
        .map(|(key, s)| {
            let plain = master
                .open(s.name.as_bytes(), &s.sealed)
                .map_err(|e| AppError::internal(format!("secret {}: {e}", s.name)))?;
            let password = String::from_utf8(plain).map_err(|_| {
                AppError::internal(format!("secret {}: stored value is not UTF-8", s.name))
            })?;
            Ok(Served {
                key,
                secret: s.name.clone(),
                auth: AuthConfig {
                    username: s.username.clone(),
                    password,
                },
            })
        })
        .collect()
}

/// kubelet's response for what [`lookup`] found.
pub fn response(served: &[Served], cache_seconds: i64) -> Response {
    let auth: BTreeMap<String, AuthConfig> = served
        .iter()
        .map(|s| (s.key.clone(), s.auth.clone()))
        .collect();
    Response::new(auth, cache_seconds)
}
