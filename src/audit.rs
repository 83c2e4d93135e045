//! The audit trail: who did what to which object, from where. Entries never
//! hold a password, key or token: callers pass names, not values.

use rusqlite::{Connection, params};

use crate::db;

/// Appends one entry.
pub fn record(
    conn: &Connection,
    actor: &str,
    action: &str,
    target: &str,
    source: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor, action, target, source) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![db::now(), actor, action, target, source])?;
    Ok(())
}
