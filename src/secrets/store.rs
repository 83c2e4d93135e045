//! SQL for the `secrets` table. Plain functions over a connection; callers
//! run them on the blocking pool. Sealed values go in and out as bytes: this
//! layer never sees a plain password.

use std::sync::Arc;

use crate::db::{Conn, Row};
use rusqlite::{OptionalExtension, params};

use crate::changes::Read;
use crate::db::{self, Named};
pub use crate::domain::TokenLife;
use crate::domain::{NodePattern, SecretId};
use crate::lifecycle::{EXPIRING_DAYS, expiring_until};
use crate::list_cache::{ListCache, Listed, Miss, View};
use crate::listing::{Filter, Listing, Page};

db::text_enum! {
    /// The two kinds of secret.
    pub enum Kind {
        /// A registry credential (`kubernetes.io/dockerconfigjson`).
        ImagePull = "image_pull" ("Image Pull"),
        /// An SSH private key for git-sync.
        GitSync = "git_sync" ("Git Sync"),
        /// An IAM access key that mints 12-hour Amazon ECR registry tokens.
        Ecr = "ecr" ("Amazon ECR"),
    }
}

impl Kind {
    /// Whether it logs in to a registry (a docker config, Test login, an
    /// image's pull secret).
    pub fn is_registry(self) -> bool {
        matches!(self, Self::ImagePull | Self::Ecr)
    }
}

/// A secret as the list and the edit page show it: no sealed value.
#[derive(Clone, Debug)]
pub struct Secret {
    /// Row id.
    pub id: SecretId,
    /// Kubernetes name.
    pub name: String,
    /// Display Name, possibly empty.
    pub display_name: String,
    /// Image Pull or Git Sync.
    pub kind: Kind,
    /// Image Pull and ECR.
    pub registry_host: Option<String>,
    /// Image Pull: the registry username; ECR: the access key ID.
    pub username: Option<String>,
    /// ECR: the API endpoint, when not the region's own.
    pub endpoint: Option<String>,
    /// ECR: the current registry token's life.
    pub token: Option<TokenLife>,
    /// Optimistic-locking version, bumped by every update.
    pub version: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
    /// Images that use it.
    pub used_by: i64,
    /// The last "Test login".
    pub last_test: Option<LastTest>,
    /// When the credential stops working (`YYYY-MM-DD`, UTC).
    pub expires_on: Option<String>,
    /// Served to clusters.
    pub deliver: bool,
    /// The node image patterns as given, one per line (blank: the
    /// registry's host).
    pub node_patterns: String,
}

impl Secret {
    /// Why each of its node image patterns that breaks a rule is not
    /// served (one stored before the rule existed): kubelet is not
    /// answered for it until the secret is fixed.
    pub fn patterns_not_served(&self) -> Vec<String> {
        if !self.deliver || !matches!(self.kind, Kind::ImagePull | Kind::Ecr) {
            return Vec::new();
        }
        self.node_patterns
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| NodePattern::stored(l, self.registry_host.as_deref()).err())
            .collect()
    }

    /// When an ECR secret's current token expires, as administrators read
    /// it.
    pub fn token_expires(&self) -> Option<String> {
        self.token.map(|t| db::format_time(t.expires_at))
    }

    /// Days from `today` until the expiry date (0 or less: expired).
    pub fn days_left(&self, today: time::Date) -> Option<i64> {
        let d = crate::domain::ExpiryDate::parse(self.expires_on.as_deref()?).ok()??;
        Some((d.0 - today).whole_days())
    }

    /// The Expires column's badge on `today`: "expired", or "in N days"
    /// within [`EXPIRING_DAYS`].
    pub fn expiry_badge(&self, today: time::Date) -> Option<String> {
        match self.days_left(today)? {
            n if n <= 0 => Some("expired".into()),
            1 => Some("in 1 day".into()),
            n if n <= EXPIRING_DAYS => Some(format!("in {n} days")),
            _ => None,
        }
    }
}

/// The outcome of the last "Test login".
#[derive(Clone, Debug)]
pub struct LastTest {
    /// When (Unix seconds).
    pub at: i64,
    /// Whether the registry let the credentials in.
    pub ok: bool,
    /// "Login succeeded", or why not.
    pub message: String,
}

impl LastTest {
    /// When, as administrators read it.
    pub fn when(&self) -> String {
        db::format_time(self.at)
    }
}

/// An image that uses a secret, as pages link to it.
#[derive(Clone, Debug)]
pub struct ImageUse {
    /// The image's name.
    pub name: String,
    /// Its Display Name, or the name.
    pub label: String,
}

/// An Image Pull secret as the image form's select offers it.
#[derive(Clone, Debug)]
pub struct PullSecretChoice {
    /// Row id.
    pub id: SecretId,
    /// Name.
    pub name: String,
    /// Display Name, or the name.
    pub label: String,
    /// Its registry, to warn about an image on another one.
    pub registry_host: String,
}

impl db::Named for Secret {
    fn name(&self) -> &str {
        &self.name
    }
    fn display_name(&self) -> &str {
        &self.display_name
    }
    fn updated_at(&self) -> i64 {
        self.updated_at
    }
}

/// The columns [`from_row`] reads; a query may select more after them,
/// from [`COLUMN_COUNT`] on.
const COLUMNS: &str = r#"
    s.id, s.name, s.display_name, s.kind, s.registry_host, s.registry_username,
    s.version, s.updated_at,
    s.used_by,
    s.last_test_at, s.last_test_ok, s.last_test_message, s.expires_on,
    s.deliver, s.node_patterns,
    s.ecr_endpoint, s.token_minted_at, s.token_expires_at"#;

/// How many columns [`COLUMNS`] has.
const COLUMN_COUNT: usize = 18;

fn from_row(r: &Row<'_>) -> rusqlite::Result<Secret> {
    let test_at: Option<i64> = r.get(9)?;
    Ok(Secret {
        id: r.get(0)?,
        name: r.get(1)?,
        display_name: r.get(2)?,
        kind: r.get(3)?,
        registry_host: r.get(4)?,
        username: r.get(5)?,
        version: r.get(6)?,
        updated_at: r.get(7)?,
        used_by: r.get(8)?,
        last_test: match test_at {
            Some(at) => Some(LastTest {
                at,
                ok: r.get::<usize, Option<bool>>(10)?.unwrap_or(false),
                message: r.get::<usize, Option<String>>(11)?.unwrap_or_default(),
            }),
            None => None,
        },
        expires_on: r.get(12)?,
        deliver: r.get(13)?,
        node_patterns: r.get(14)?,
        endpoint: r.get(15)?,
        token: TokenLife::of(r.get(16)?, r.get(17)?),
    })
}

db::text_enum! {
    /// What the secrets list sorts by, the default first: the page's
    /// columns and the API's `sort`.
    pub enum SecretSort {
        Name = "name" ("Name"),
        DisplayName = "display_name" ("Display Name"),
        Type = "type" ("Type"),
        Updated = "updated" ("Updated"),
        Expires = "expires" ("Expires"),
    }
}

/// One page of the list, filtered by `listing.q` on name and display name.
/// The page's ids are found first, and only those rows are then read in
/// full, with their "Used by" counts.
/// The secrets list's sort orders and search index, kept while no secret
/// changes.
pub struct SecretsList(ListCache<Listed<Secret>, Summary>);

impl Default for SecretsList {
    fn default() -> Self {
        Self(ListCache::new("secrets"))
    }
}

impl std::ops::Deref for SecretsList {
    type Target = ListCache<Listed<Secret>, Summary>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

db::text_enum! {
    /// The secrets list's `filter`: what needs an administrator's eye.
    pub enum Attention {
        /// Expires within 30 days, not yet expired.
        Expiring = "expiring" ("expiring"),
        /// Past its expiry date.
        Expired = "expired" ("expired"),
        /// The last login check failed.
        Failing = "failing" ("failing"),
    }
}

impl Attention {
    /// The condition over `s`, with today's date (and for `Expiring`,
    /// then the last date that counts as expiring) as its values.
    fn sql(self) -> &'static str {
        match self {
            Self::Expiring => "s.expires_on > ? AND s.expires_on <= ?",
            Self::Expired => "s.expires_on <= ?",
            Self::Failing => "s.last_test_ok = 0",
        }
    }
}

/// How many secrets need attention, for the line above the list.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// Expiring within 30 days.
    pub expiring: i64,
    /// Past their date.
    pub expired: i64,
    /// The last login check failed.
    pub failing: i64,
}

impl Summary {
    /// Whether there is anything to say.
    pub fn any(&self) -> bool {
        self.expiring + self.expired + self.failing > 0
    }
}

/// The counts, in one statement of three index lookups (the list shows
/// them on every page, so no scan of every secret), kept by the list cache
/// for the day while no secret changes; as `read` finds them.
pub fn summary(
    read: Read<'_>,
    cache: &ListCache<Listed<Secret>, Summary>,
) -> Result<Summary, Miss> {
    let today = db::today();
    let view = cache.at(read)?;
    let summary = view.daily(today, || Ok(count_attention(view.conn()?, today)?))?;
    view.confirm();
    Ok(summary)
}

fn count_attention(conn: &Conn<'_>, today: time::Date) -> rusqlite::Result<Summary> {
    let (until, today) = (expiring_until(today), today.to_string());
    conn.query_row(
        "SELECT
           (SELECT COUNT(*) FROM secrets WHERE expires_on > ?1 AND expires_on <= ?2),
           (SELECT COUNT(*) FROM secrets WHERE expires_on <= ?1),
           (SELECT COUNT(*) FROM secrets WHERE last_test_ok = 0)",
        [today.as_str(), until.as_str()],
        |r| {
            Ok(Summary {
                expiring: r.get(0)?,
                expired: r.get(1)?,
                failing: r.get(2)?,
            })
        },
    )
}

/// One page of the list, narrowed to what needs attention when asked, as
/// `read` finds it. A search's hits come from the cache's substring index;
/// the whole list or the hits are put in the cached order of the sort, and
/// only the page's rows are read. With a filter the database does the rest
/// (so it is never answered from memory).
pub fn list(
    read: Read<'_>,
    cache: &ListCache<Listed<Secret>, Summary>,
    listing: &Listing,
    attention: Option<Attention>,
) -> Result<Page<Arc<Listed<Secret>>>, Miss> {
    let view = cache.at(read)?;
    if let Some(a) = attention {
        let conn = view.conn()?;
        let hits = match listing.q.as_str() {
            "" => None,
            q => Some(view.search(q)?),
        };
        let filter = match hits {
            Some(ids) => Filter::ids("secrets", "s", ids),
            None => Filter::all("secrets", "s"),
        };
        return Ok(list_where(conn, filter, listing.clone(), a)?);
    }
    let page = page_of(&view, listing.clone())?;
    view.confirm();
    Ok(page)
}

/// One page cut from the cache's order and search, its rows from the
/// cache or read.
fn page_of(
    view: &View<'_, Listed<Secret>, Summary>,
    listing: Listing,
) -> Result<Page<Arc<Listed<Secret>>>, Miss> {
    let order = order_of(listing.sort);
    let dir = listing.sql_dir();
    let mut hits = match listing.q.as_str() {
        "" => None,
        q => Some(view.search(q)?),
    };
    let all = view.order(listing.sort, listing.desc, || {
        format!("s ORDER BY {order} {dir}, s.name {dir}")
    })?;
    let ids = match &mut hits {
        Some(hits) => {
            all.sort(hits);
            hits.as_slice()
        }
        None => all.ids(),
    };
    let from = usize::try_from(listing.offset()).unwrap_or(usize::MAX);
    let to = from.saturating_add(usize::try_from(listing.per_page).unwrap_or(0));
    let page = ids.get(from..to.min(ids.len())).unwrap_or_default();
    Ok(Page {
        rows: view.rows(
            page,
            |s| s.id.0,
            |ids| {
                Ok(by_ids(view.conn()?, ids)?
                    .into_iter()
                    .map(Listed::new)
                    .collect())
            },
        )?,
        total: ids.len() as i64,
        listing,
    })
}

/// The rows with these ids, in no particular order.
fn by_ids(conn: &Conn<'_>, ids: &[i64]) -> rusqlite::Result<Vec<Secret>> {
    let values: Vec<rusqlite::types::Value> = ids.iter().copied().map(Into::into).collect();
    conn.query_map(
        &format!("SELECT {COLUMNS} FROM rarray(?1) AS p CROSS JOIN secrets s ON s.id = p.value"),
        [crate::db::List::from(values)],
        from_row,
    )?
    .collect()
}

/// The `ORDER BY` expression of a sort key.
fn order_of(sort: &str) -> &'static str {
    match SecretSort::parse(sort) {
        Some(SecretSort::DisplayName) => "COALESCE(NULLIF(s.display_name, ''), s.name)",
        Some(SecretSort::Type) => "s.kind",
        Some(SecretSort::Updated) => "s.updated_at",
        Some(SecretSort::Expires) => "COALESCE(s.expires_on, '9999-12-31')",
        Some(SecretSort::Name) | None => "s.name",
    }
}

/// One page of the rows `filter` and `a` let through.
fn list_where(
    conn: &Conn<'_>,
    filter: Filter,
    listing: Listing,
    a: Attention,
) -> rusqlite::Result<Page<Arc<Listed<Secret>>>> {
    let order = order_of(listing.sort);
    let dir = listing.sql_dir();
    let today = db::today().to_string();
    let args: Vec<Box<dyn crate::db::Param>> = match a {
        Attention::Expiring => vec![Box::new(today), Box::new(expiring_until(db::today()))],
        Attention::Expired => vec![Box::new(today)],
        Attention::Failing => Vec::new(),
    };
    let filter = filter.and(a.sql(), args);
    let total = filter.total(conn)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM secrets s JOIN (
             SELECT s.id FROM {} WHERE {} ORDER BY {order} {dir}, s.name {dir} LIMIT ? OFFSET ?
         ) page ON page.id = s.id
         ORDER BY {order} {dir}, s.name {dir}",
        filter.from, filter.sql
    );
    let rows = conn
        .query_map(&sql, filter.page_args(&listing).collect::<Vec<_>>(), |r| {
            from_row(r).map(|s| Arc::new(Listed::new(s)))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Page {
        rows,
        total,
        listing,
    })
}

/// The secret with that name.
pub fn find(conn: &Conn<'_>, name: &str) -> rusqlite::Result<Option<Secret>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM secrets s WHERE s.name = ?1"),
        [name],
        from_row,
    )
    .optional()
}

/// The secret with its sealed value, for what leaves the portal on purpose.
pub fn find_sealed(conn: &Conn<'_>, name: &str) -> rusqlite::Result<Option<(Secret, Vec<u8>)>> {
    conn.query_row(
        &format!("SELECT {COLUMNS}, s.sealed FROM secrets s WHERE s.name = ?1"),
        [name],
        |r| Ok((from_row(r)?, r.get(COLUMN_COUNT)?)),
    )
    .optional()
}

/// The images that use a secret: (name, label), by name.
pub fn used_by(conn: &Conn<'_>, secret_id: SecretId) -> rusqlite::Result<Vec<ImageUse>> {
    conn.query_map(
        "SELECT name, COALESCE(NULLIF(display_name, ''), name) FROM images
         WHERE pull_secret_id = ?1 ORDER BY name",
        [secret_id],
        |r| {
            Ok(ImageUse {
                name: r.get(0)?,
                label: r.get(1)?,
            })
        },
    )?
    .collect()
}

/// The fields a create or update writes.
#[derive(Debug)]
pub struct Write<'a> {
    /// Kubernetes name.
    pub name: &'a str,
    /// Display Name (may be empty).
    pub display_name: &'a str,
    /// Image Pull or Git Sync.
    pub kind: Kind,
    /// Image Pull and ECR.
    pub registry_host: Option<&'a str>,
    /// Image Pull: the username; ECR: the access key ID.
    pub username: Option<&'a str>,
    /// ECR: the API endpoint, when not the region's own.
    pub endpoint: Option<&'a str>,
    /// The sealed password, key or secret access key; `None` on update
    /// keeps the stored one.
    pub sealed: Option<Vec<u8>>,
    /// `YYYY-MM-DD`, or none (on update too: none clears it).
    pub expires_on: Option<String>,
    /// Served to clusters.
    pub deliver: bool,
    /// The node image patterns as given, one per line.
    pub node_patterns: String,
    /// The patterns in force (empty unless delivered).
    pub delivered: Vec<NodePattern>,
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The name is taken.
    #[error("A secret named {0} already exists.")]
    Duplicate(String),
    /// Someone else saved first.
    #[error("This secret was changed by someone else since you opened it.")]
    Stale,
    /// No such secret.
    #[error("There is no secret named {0}.")]
    Missing(String),
    /// A node image pattern is another delivered secret's.
    #[error(
        "The node image pattern {pattern} is already served by secret {holder}; a pattern belongs to one delivered secret."
    )]
    PatternTaken {
        /// The pattern.
        pattern: String,
        /// The secret that has it.
        holder: String,
    },
    /// Anything else.
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

/// Inserts a new secret.
pub fn insert(conn: &Conn<'_>, w: Write<'_>) -> Result<SecretId, WriteError> {
    let now = db::now();
    let sealed = w.sealed.unwrap_or_default();
    let id = conn
        .query_row(
            r#"INSERT INTO secrets (name, display_name, kind, registry_host, registry_username,
                               sealed, created_at, updated_at, expires_on, deliver, node_patterns,
                               ecr_endpoint)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11) RETURNING id"#,
            params![
                w.name,
                w.display_name,
                w.kind.as_str(),
                w.registry_host,
                w.username,
                sealed,
                now,
                w.expires_on,
                w.deliver,
                w.node_patterns,
                w.endpoint
            ],
            |r| r.get(0),
        )
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                WriteError::Duplicate(w.name.to_owned())
            } else {
                WriteError::Db(e)
            }
        })?;
    let id = SecretId(id);
    set_delivered(conn, id, &w.delivered)?;
    Ok(id)
}

/// Puts `patterns` in force for secret `id` (none: it is not delivered),
/// unless another delivered secret has one of them.
fn set_delivered(
    conn: &Conn<'_>,
    id: SecretId,
    patterns: &[NodePattern],
) -> Result<(), WriteError> {
    conn.execute("DELETE FROM delivered_patterns WHERE secret_id = ?1", [id])?;
    for p in patterns {
        // Not a refused insert: on PostgreSQL it would end the transaction.
        let inserted = conn.execute(
            "INSERT INTO delivered_patterns (pattern, secret_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![p.as_str(), id],
        )?;
        if inserted == 0 {
            let holder: String = conn.query_row(
                "SELECT s.name FROM delivered_patterns d JOIN secrets s ON s.id = d.secret_id
                      WHERE d.pattern = ?1",
                [p.as_str()],
                |r| r.get(0),
            )?;
            return Err(WriteError::PatternTaken {
                pattern: p.to_string(),
                holder,
            });
        }
    }
    Ok(())
}

/// Updates a secret if it is still at `version`. Changing credentials
/// forgets the last login test, which was about the old ones, and an ECR
/// secret's registry token, which they minted.
pub fn update(conn: &Conn<'_>, w: Write<'_>, version: i64) -> Result<(), WriteError> {
    // The stored password or key stays (none was given): a test's verdict
    // and a minted token stay only then, and only for the same login.
    let keeps_value = w.sealed.is_none();
    let n = conn
        .query_row(
            r#"UPDATE secrets SET
                 display_name = ?2,
                 registry_host = ?3,
                 registry_username = ?4,
                 sealed = COALESCE(?5, sealed),
                 last_test_at = CASE WHEN same THEN last_test_at END,
                 last_test_ok = CASE WHEN same THEN last_test_ok END,
                 last_test_message = CASE WHEN same THEN last_test_message END,
                 token_sealed = CASE WHEN same THEN token_sealed END,
                 token_minted_at = CASE WHEN same THEN token_minted_at END,
                 token_expires_at = CASE WHEN same THEN token_expires_at END,
                 expires_on = ?8,
                 deliver = ?9,
                 node_patterns = ?10,
                 ecr_endpoint = ?11,
                 version = version + 1,
                 updated_at = ?6
               FROM (SELECT ?12 = 1 AND registry_host IS ?3 AND registry_username IS ?4
                            AND ecr_endpoint IS ?11 AS same
                       FROM secrets WHERE name = ?1) AS old
               WHERE name = ?1 AND version = ?7
               RETURNING id"#,
            params![
                w.name,
                w.display_name,
                w.registry_host,
                w.username,
                w.sealed,
                db::now(),
                version,
                w.expires_on,
                w.deliver,
                w.node_patterns,
                w.endpoint,
                keeps_value
            ],
            |r| r.get::<usize, SecretId>(0),
        )
        .optional()?;
    if let Some(id) = n {
        return set_delivered(conn, id, &w.delivered);
    }
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM secrets WHERE name = ?1)",
        [w.name],
        |r| r.get(0),
    )?;
    Err(if exists {
        WriteError::Stale
    } else {
        WriteError::Missing(w.name.to_owned())
    })
}

/// What a delete did.
#[derive(Debug)]
pub enum Deleted {
    /// Gone.
    Yes,
    /// Refused: the secret's label, and the images that use it.
    InUse {
        /// The secret's Display Name, or its name.
        label: String,
        /// What uses it.
        images: Vec<ImageUse>,
    },
    /// There was no such secret.
    Missing,
}

/// Deletes a secret unless images use it. The foreign key refuses it too,
/// should a check ever be skipped. Run it in a transaction with the audit
/// entry.
pub fn delete(conn: &Conn<'_>, name: &str) -> rusqlite::Result<Deleted> {
    let Some(secret) = find(conn, name)? else {
        return Ok(Deleted::Missing);
    };
    let images = used_by(conn, secret.id)?;
    if !images.is_empty() {
        return Ok(Deleted::InUse {
            label: secret.label().to_owned(),
            images,
        });
    }
    conn.execute("DELETE FROM secrets WHERE id = ?1", [secret.id])?;
    Ok(Deleted::Yes)
}

/// Image Pull secrets for the image form's select.
pub fn image_pull_choices(conn: &Conn<'_>) -> rusqlite::Result<Vec<PullSecretChoice>> {
    conn.query_map("SELECT id, name, COALESCE(NULLIF(display_name, ''), name), registry_host FROM secrets
         WHERE kind IN ('image_pull', 'ecr') ORDER BY COALESCE(NULLIF(display_name, ''), name), name", (), |r| {
        Ok(PullSecretChoice {
            id: r.get(0)?,
            name: r.get(1)?,
            label: r.get(2)?,
            registry_host: r.get(3)?,
        })
    })?
    .collect()
}

/// The Image Pull secret of that name, as the image form would offer it.
pub fn image_pull_choice(
    conn: &Conn<'_>,
    name: &str,
) -> rusqlite::Result<Option<PullSecretChoice>> {
    conn.query_row(
        "SELECT id, name, COALESCE(NULLIF(display_name, ''), name), registry_host FROM secrets
         WHERE kind IN ('image_pull', 'ecr') AND name = ?1",
        [name],
        |r| {
            Ok(PullSecretChoice {
                id: r.get(0)?,
                name: r.get(1)?,
                label: r.get(2)?,
                registry_host: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Every secret with its sealed value, by name: for the export.
pub fn all_sealed(conn: &Conn<'_>) -> rusqlite::Result<Vec<(Secret, Vec<u8>)>> {
    conn.query_map(
        &format!("SELECT {COLUMNS}, s.sealed FROM secrets s ORDER BY s.name"),
        (),
        |r| Ok((from_row(r)?, r.get(COLUMN_COUNT)?)),
    )?
    .collect()
}

/// Keeps the outcome of a "Test login".
/// Only while the secret is still at `version`: a verdict on credentials
/// that changed during the check (it takes up to 10 s) is not theirs.
/// Returns whether it was kept.
pub fn record_test(
    conn: &Conn<'_>,
    id: SecretId,
    version: i64,
    ok: bool,
    message: &str,
) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE secrets SET last_test_at = ?2, last_test_ok = ?3, last_test_message = ?4
             WHERE id = ?1 AND version = ?5",
        params![id, db::now(), ok, message, version],
    )?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_column_count_is_the_columns() {
        assert_eq!(super::COLUMNS.split(',').count(), super::COLUMN_COUNT);
    }
}
