//! What every handler shares: the pool, the master key and the settings.

use std::net::IpAddr;
use std::sync::Mutex;

use actix_web::HttpRequest;

use crate::crypto::MasterKey;
use crate::db::Pool;

/// Shared application state, behind `web::Data`.
pub struct AppState {
    /// The database.
    pub pool: Pool,
    /// The database's commit stamp, read without a query.
    pub changes: crate::changes::Changes,
    /// Seals and opens stored credentials.
    pub master: MasterKey,
    /// The one-time `/setup` token while no user exists.
    pub setup_token: Mutex<Option<String>>,
    /// Session and proxy settings.
    pub settings: Settings,
    /// The bound on argon2 work.
    pub hashing: crate::crypto::PasswordHashing,
    /// Scheduled checks and notifications.
    pub lifecycle: LifecycleSettings,
    /// What clusters are told.
    pub delivery: DeliverySettings,
    /// The Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    /// Amazon ECR token minting, and the clock tokens live by.
    pub tokens: crate::ecr::Tokens,
    /// Single sign-on, when `--oidc-issuer` is given.
    pub sso: Option<crate::sso::Sso>,
    /// Secrets whose login is being checked right now.
    pub checking: Mutex<std::collections::HashSet<crate::domain::SecretId>>,
}

/// What clusters are told.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// How long kubelet keeps an answer (`--node-cache`), in seconds.
    pub node_cache: i64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self { node_cache: 3600 }
    }
}

/// What the background task of credential lifecycle is told.
#[derive(Clone, Debug, Default)]
pub struct LifecycleSettings {
    /// Seconds between login checks of a secret; `None`: no scheduled checks.
    pub check_every: Option<i64>,
    /// Where notifications go; `None`: none are sent (nor kept).
    pub notify_url: Option<String>,
    /// wharf's public address, for links in notifications.
    pub public_url: Option<String>,
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
    /// The peers whose forwarded address is believed.
    pub trusted_proxies: crate::options::ProxyList,
    /// Whether `/login` shows the password form (`--password-login`); it
    /// is always at `/login?local`.
    pub password_login: bool,
}

impl Settings {
    /// Whether `peer` is a proxy whose forwarded headers are believed.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.trust_proxy && self.trusted_proxies.contains(peer)
    }
}

impl AppState {
    /// What Amazon ECR token minting needs of the state.
    pub fn minting(&self) -> crate::ecr::Minting<'_> {
        crate::ecr::Minting {
            pool: &self.pool,
            master: &self.master,
            metrics: &self.metrics,
            tokens: &self.tokens,
        }
    }

    /// Marks a secret as being checked; false if it already is.
    pub fn begin_check(&self, id: crate::domain::SecretId) -> bool {
        self.checking.lock().is_ok_and(|mut set| set.insert(id))
    }

    /// The check of a secret is over.
    pub fn end_check(&self, id: crate::domain::SecretId) {
        if let Ok(mut set) = self.checking.lock() {
            set.remove(&id);
        }
    }

    /// The client's address, for the audit log and throttling. Behind a
    /// trusted proxy (`--trust-proxy`, and the peer is one of
    /// `--trusted-proxies`) it is the last `X-Forwarded-For` entry: the one
    /// the proxy itself appended (earlier entries come from the client and
    /// can be forged). Anyone else's header is ignored.
    pub fn client_addr(&self, req: &HttpRequest) -> String {
        let peer = req.peer_addr().map(|a| a.ip());
        client_addr(&self.settings, peer, || {
            req.headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }
}

/// [`AppState::client_addr`] without the request: the peer and a way to
/// read the `X-Forwarded-For` entries, in order. From the right, entries
/// that are trusted proxies themselves (a load balancer before the
/// ingress) are passed over; the first other one is the client. When every
/// entry is a trusted address, the rightmost is: the leftmost was written
/// by the client, who would choose its own throttle and audit address.
pub fn client_addr(
    settings: &Settings,
    peer: Option<IpAddr>,
    forwarded: impl FnOnce() -> Vec<String>,
) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !settings.trusts(peer) {
        return peer.to_string();
    }
    let hops: Vec<IpAddr> = forwarded().iter().filter_map(|h| parse_hop(h)).collect();
    hops.iter()
        .rev()
        .find(|ip| !settings.trusted_proxies.contains(**ip))
        .or(hops.last())
        .map_or_else(|| peer.to_string(), ToString::to_string)
}

/// One `X-Forwarded-For` entry: an address, maybe with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(trust: bool, proxies: &str) -> Settings {
        Settings {
            session_idle: 60,
            session_max: 60,
            trust_proxy: trust,
            trusted_proxies: proxies.parse().unwrap(),
            password_login: true,
        }
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let fwd = || vec!["203.0.113.9".to_owned()];
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let outside: IpAddr = "198.51.100.7".parse().unwrap();
        let def = "127.0.0.0/8,::1/128";
        assert_eq!(
            client_addr(&settings(true, def), Some(lo), fwd),
            "203.0.113.9"
        );
        assert_eq!(
            client_addr(&settings(true, def), Some(outside), fwd),
            "198.51.100.7"
        );
        assert_eq!(
            client_addr(&settings(false, def), Some(lo), fwd),
            "127.0.0.1"
        );
        let ranged = settings(true, "10.1.0.0/16, 198.51.100.7");
        assert_eq!(client_addr(&ranged, Some(outside), fwd), "203.0.113.9");
        assert_eq!(client_addr(&ranged, Some(lo), fwd), "127.0.0.1");
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(client_addr(&ranged, Some(mapped), fwd), "203.0.113.9");
        // What is not an address is not believed.
        let junk = || vec!["<script>".to_owned()];
        assert_eq!(
            client_addr(&settings(true, def), Some(lo), junk),
            "127.0.0.1"
        );
        // Behind a load balancer (trusted) before the ingress: the client
        // is the rightmost hop that is not a proxy; ports are dropped.
        let lb = settings(true, "127.0.0.0/8, 10.0.0.0/8");
        let chain = || {
            vec![
                "6.6.6.6".to_owned(),
                "203.0.113.9:5678".to_owned(),
                "10.0.0.7".to_owned(),
            ]
        };
        assert_eq!(client_addr(&lb, Some(lo), chain), "203.0.113.9");
        // A client inside a trusted range cannot choose its address by
        // writing the leftmost entry: the rightmost is believed.
        let inside = || vec!["10.9.9.9".to_owned(), "10.0.0.7".to_owned()];
        assert_eq!(client_addr(&lb, Some(lo), inside), "10.0.0.7");
    }
}
