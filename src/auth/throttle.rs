//! Sign-in throttling, checked before argon2 runs. Failures live in a small
//! table (pruned as it grows), so the limit holds across restarts and
//! memory stays bounded.

use rusqlite::{Connection, params};

use crate::db;

/// The window failures are counted in.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failures for one username that are allowed in the window; the next try is refused.
pub const MAX_PER_USERNAME: i64 = 5;
/// Failures from one address that are allowed in the window.
pub const MAX_PER_SOURCE: i64 = 30;

/// `Some(seconds to wait)` when this username or address is locked out.
pub fn retry_after(
    conn: &Connection,
    username: &str,
    source: &str,
) -> rusqlite::Result<Option<u64>> {
    let since = db::now() - WINDOW_SECS;
    let check = |column: &str, key: &str, max: i64| -> rusqlite::Result<Option<i64>> {
        let (n, oldest): (i64, Option<i64>) = conn
            .prepare_cached(&format!(
                "SELECT COUNT(*), MIN(at) FROM (SELECT at FROM login_failures
                  WHERE {column} = ?1 AND at > ?2 ORDER BY at DESC LIMIT ?3)"
            ))?
            .query_row(params![key, since, max], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((n >= max).then(|| oldest.unwrap_or(since) + WINDOW_SECS - db::now()))
    };
    let wait = check("username", username, MAX_PER_USERNAME)?
        .into_iter()
        .chain(check("source", source, MAX_PER_SOURCE)?)
        .max();
    Ok(wait.map(|w| w.max(1).unsigned_abs()))
}

/// Counts a failure, and forgets failures older than the window.
pub fn record_failure(conn: &Connection, username: &str, source: &str) -> rusqlite::Result<()> {
    let now = db::now();
    conn.prepare_cached("DELETE FROM login_failures WHERE at <= ?1")?
        .execute([now - WINDOW_SECS])?;
    conn.prepare_cached("INSERT INTO login_failures (username, source, at) VALUES (?1, ?2, ?3)")?
        .execute(params![username, source, now])?;
    Ok(())
}

/// A success clears that username's count.
pub fn clear(conn: &Connection, username: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM login_failures WHERE username = ?1")?
        .execute([username])?;
    Ok(())
}
