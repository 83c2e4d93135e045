//! What every handler shares: the pool, the master key and the settings.

use std::sync::Mutex;

use actix_web::HttpRequest;

use crate::crypto::MasterKey;
use crate::db::Pool;

/// Shared application state, behind `web::Data`.
pub struct AppState {
    /// The database.
    pub pool: Pool,
    /// Seals and opens stored credentials.
    pub master: MasterKey,
    /// The one-time `/setup` token while no user exists.
    pub setup_token: Mutex<Option<String>>,
    /// Session and proxy settings.
    pub settings: Settings,
}

/// Settings that requests consult.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Seconds of inactivity after which a session ends.
    pub session_idle: i64,
    /// Seconds after sign-in after which a session ends regardless.
    pub session_max: i64,
    /// Whether to believe `X-Forwarded-For` / `Forwarded` for the client's
    /// address (only behind a reverse proxy that sets them).
    pub trust_proxy: bool,
}

impl AppState {
    /// The client's address, for the audit log and throttling. Behind a
    /// trusted proxy it is the last `X-Forwarded-For` entry: the one the
    /// proxy itself appended (earlier entries come from the client and can
    /// be forged).
    pub fn client_addr(&self, req: &HttpRequest) -> String {
        let peer = req
            .connection_info()
            .peer_addr()
            .unwrap_or("unknown")
            .to_owned();
        if !self.settings.trust_proxy {
            return peer;
        }
        req.headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .last()
            .map(|v| v.chars().take(64).collect())
            .unwrap_or(peer)
    }
}
