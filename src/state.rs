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
    /// The client's address, for the audit log and throttling.
    pub fn client_addr(&self, req: &HttpRequest) -> String {
        let info = req.connection_info();
        let addr = if self.settings.trust_proxy {
            info.realip_remote_addr()
        } else {
            info.peer_addr()
        };
        addr.unwrap_or("unknown").to_owned()
    }
}
