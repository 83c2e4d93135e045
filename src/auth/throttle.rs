//! Sign-in throttling, checked before argon2 runs. Failures live in a small
//! table (pruned as it grows), so the limit holds across restarts and
//! memory stays bounded.

use crate::db::Conn;
use rusqlite::params;

use crate::db;
use crate::domain::Username;

/// The name failures are counted under: the typed username if it could be
/// one, else a shared bucket.
pub fn throttle_key(typed: &str) -> String {
    match Username::parse(typed) {
        Ok(u) => u.as_str().to_owned(),
        Err(_) => "(invalid)".to_owned(),
    }
}

/// The window failures are counted in.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failures for one username that are allowed in the window; the next try is refused.
pub const MAX_PER_USERNAME: i64 = 5;
/// Failures from one address that are allowed in the window.
pub const MAX_PER_SOURCE: i64 = 30;

/// What failures from an address are counted under: the address itself,
/// or for IPv6 its /64, since one host or network is handed a whole /64
/// and could otherwise rotate through it.
pub fn source_key(addr: &str) -> String {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            ipnet::Ipv6Net::new(v6, 64)
                .map(|n| n.trunc().to_string())
                .unwrap_or_else(|_| addr.to_owned())
        }
        _ => addr.to_owned(),
    }
}

/// `Some(seconds to wait)` when this username or address is locked out
/// for sign-in. Failed API tokens are not counted here: a burst of bad
/// tokens from a shared address (an office NAT, a CI runner pool) must not
/// lock its people out.
pub fn retry_after(conn: &Conn<'_>, username: &str, source: &str) -> rusqlite::Result<Option<u64>> {
    let source = source_key(source);
    let wait = locked(conn, "username = ?1", username, MAX_PER_USERNAME)?
        .into_iter()
        .chain(locked(
            conn,
            &format!("source = ?1 AND username NOT IN ('{TOKEN_BUCKET}', '{SSO_BUCKET}')"),
            &source,
            MAX_PER_SOURCE,
        )?)
        .max();
    Ok(wait)
}

/// Seconds until the window frees a try, when the failures that `filter`
/// (binding `?1` to `key`) selects reached `max` in it.
fn locked(conn: &Conn<'_>, filter: &str, key: &str, max: i64) -> rusqlite::Result<Option<u64>> {
    let since = db::now() - WINDOW_SECS;
    let (n, oldest): (i64, Option<i64>) = conn.query_row(
        &format!(
            "SELECT COUNT(*), MIN(at) FROM (SELECT at FROM login_failures
              WHERE {filter} AND at > ?2 ORDER BY at DESC LIMIT ?3) AS recent"
        ),
        params![key, since, max],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((n >= max).then(|| {
        (oldest.unwrap_or(since) + WINDOW_SECS - db::now())
            .max(1)
            .unsigned_abs()
    }))
}

/// The name failed API tokens are counted under, by address.
pub const TOKEN_BUCKET: &str = "(api token)";

/// The name refused single sign-on answers (a forged state, a doctored ID
/// token) are counted under, by address: each one is audited, and one
/// address must not fill the log.
pub const SSO_BUCKET: &str = "(sso)";

/// Failures counted by address only, apart from sign-in's.
#[derive(Clone, Copy, Debug)]
pub enum Bucket {
    /// Unknown API tokens.
    Token,
    /// Refused single sign-on answers.
    Sso,
}

impl Bucket {
    /// The name its failures are recorded under.
    pub fn name(self) -> &'static str {
        match self {
            Self::Token => TOKEN_BUCKET,
            Self::Sso => SSO_BUCKET,
        }
    }
}

/// `Some(seconds to wait)` when this address has failed too often in
/// `bucket`. Only the failure-prone step asks: a valid token or a working
/// sign-in is never throttled.
pub fn retry_after_in(
    conn: &Conn<'_>,
    bucket: Bucket,
    source: &str,
) -> rusqlite::Result<Option<u64>> {
    let source = source_key(source);
    locked(
        conn,
        &format!("source = ?1 AND username = '{}'", bucket.name()),
        &source,
        MAX_PER_SOURCE,
    )
}

/// Counts a failure, and forgets failures older than the window.
pub fn record_failure(conn: &Conn<'_>, username: &str, source: &str) -> rusqlite::Result<()> {
    let source = source_key(source);
    let now = db::now();
    conn.execute(
        "DELETE FROM login_failures WHERE at <= ?1",
        [now - WINDOW_SECS],
    )?;
    conn.execute(
        "INSERT INTO login_failures (username, source, at) VALUES (?1, ?2, ?3)",
        params![username, source, now],
    )?;
    Ok(())
}

/// A success clears that username's count.
pub fn clear(conn: &Conn<'_>, username: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM login_failures WHERE username = ?1", [username])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::source_key;

    #[test]
    fn ipv6_sources_count_by_their_64() {
        assert_eq!(source_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            source_key("2001:db8:1:2:ffff:1:2:3"),
            source_key("2001:db8:1:2::9")
        );
        assert_ne!(source_key("2001:db8:1:3::1"), source_key("2001:db8:1:2::1"));
        assert_eq!(source_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(source_key("::ffff:203.0.113.9"), "::ffff:203.0.113.9");
        assert_eq!(source_key("unknown"), "unknown");
    }
}
