//! The `clusters` table: a cluster's name, its token's SHA-256, when it
//! was last seen, and its requests per hour.

use crate::db::{Conn, Row};
use rusqlite::{OptionalExtension, params};

use crate::db;

/// A cluster as the pages and the API show it.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Row id.
    pub id: i64,
    /// A DNS-1123 label.
    pub name: String,
    /// Display Name, possibly empty.
    pub display_name: String,
    /// When it was added (Unix seconds).
    pub created_at: i64,
    /// When its token was made.
    pub token_created_at: i64,
    /// Its last request, to the minute, and from where.
    pub last_seen: Option<(i64, String)>,
    /// Requests in the last 24 hours (written once a minute).
    pub requests_24h: i64,
}

impl Cluster {
    /// The Display Name, or the name.
    pub fn label(&self) -> &str {
        if self.display_name.is_empty() {
            &self.name
        } else {
            &self.display_name
        }
    }

    /// "1 request", "12 requests": what it asked in the last 24 hours.
    pub fn requests_text(&self) -> String {
        crate::domain::count(self.requests_24h, "request")
    }

    /// The "Last seen" cell.
    pub fn last_seen_text(&self) -> String {
        match &self.last_seen {
            Some((at, from)) => format!("{} from {from}", db::format_time(*at)),
            None => "never".into(),
        }
    }

    /// When the token was made, for people.
    pub fn token_made(&self) -> String {
        db::format_time(self.token_created_at)
    }
}

const SELECT: &str = r#"
    SELECT c.id, c.name, c.display_name, c.created_at, c.token_created_at,
           c.last_seen_at, c.last_seen_from,
           COALESCE((SELECT CAST(SUM(r.requests) AS BIGINT) FROM cluster_requests r
                      WHERE r.cluster_id = c.id AND r.hour > ?1), 0)
      FROM clusters c"#;

fn from_row(r: &Row<'_>) -> rusqlite::Result<Cluster> {
    let at: Option<i64> = r.get(5)?;
    let from: Option<String> = r.get(6)?;
    Ok(Cluster {
        id: r.get(0)?,
        name: r.get(1)?,
        display_name: r.get(2)?,
        created_at: r.get(3)?,
        token_created_at: r.get(4)?,
        last_seen: at.map(|at| (at, from.unwrap_or_default())),
        requests_24h: r.get(7)?,
    })
}

/// The hour (Unix seconds / 3600) 24 hours before the current one.
fn day_ago() -> i64 {
    db::now() / 3600 - 24
}

/// Every cluster, by name.
pub fn list(conn: &Conn<'_>) -> rusqlite::Result<Vec<Cluster>> {
    conn.query_map(&format!("{SELECT} ORDER BY c.name"), [day_ago()], from_row)?
        .collect()
}

/// One cluster by name.
pub fn find(conn: &Conn<'_>, name: &str) -> rusqlite::Result<Option<Cluster>> {
    conn.query_row(
        &format!("{SELECT} WHERE c.name = ?2"),
        params![day_ago(), name],
        from_row,
    )
    .optional()
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The name is taken.
    #[error("A cluster named {0} already exists.")]
    Duplicate(String),
    /// No such cluster.
    #[error("There is no cluster named {0}.")]
    Missing(String),
    /// Anything else.
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

/// Adds a cluster with its token's hash.
pub fn insert(
    conn: &Conn<'_>,
    name: &str,
    display_name: &str,
    token_hash: &[u8; 32],
) -> Result<(), WriteError> {
    let now = db::now();
    conn.execute(
        "INSERT INTO clusters (name, display_name, token_hash, token_created_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![name, display_name, &token_hash[..], now],
    )
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            WriteError::Duplicate(name.to_owned())
        } else {
            WriteError::Db(e)
        }
    })?;
    Ok(())
}

/// Replaces a cluster's token: the old one stops at once.
pub fn set_token(conn: &Conn<'_>, name: &str, token_hash: &[u8; 32]) -> Result<(), WriteError> {
    let n = conn.execute(
        "UPDATE clusters SET token_hash = ?2, token_created_at = ?3 WHERE name = ?1",
        params![name, &token_hash[..], db::now()],
    )?;
    if n == 1 {
        Ok(())
    } else {
        Err(WriteError::Missing(name.to_owned()))
    }
}

/// Removes a cluster (its token stops at once).
pub fn delete(conn: &Conn<'_>, name: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM clusters WHERE name = ?1", [name])? == 1)
}

/// Adds `requests` to a cluster's count of `hour`.
pub fn add_requests(
    conn: &Conn<'_>,
    cluster: i64,
    hour: i64,
    requests: u64,
) -> rusqlite::Result<()> {
    // A cluster deleted since its requests were counted has no row to add
    // to; its counts go with it.
    conn.execute(
        "INSERT INTO cluster_requests (cluster_id, hour, requests)
         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM clusters WHERE id = ?1)
         ON CONFLICT (cluster_id, hour) DO UPDATE SET requests = cluster_requests.requests + excluded.requests",
        params![cluster, hour, i64::try_from(requests).unwrap_or(i64::MAX)],
    )?;
    // A count older than a week is of no use to anyone.
    conn.execute(
        "DELETE FROM cluster_requests WHERE cluster_id = ?1 AND hour < ?2",
        params![cluster, hour - 24 * 7],
    )?;
    Ok(())
}
