//! The sign-ins a browser has under way between wharf and the provider:
//! for each, the `state` sent, the nonce and the PKCE verifier, in a
//! cookie of its own. A browser may have several (a second tab started
//! before the first finished, at most [`MAX_FLOWS`]); the callback finishes
//! the one its `state` names and keeps the others. The session
//! cookie is `SameSite=Strict`, so a browser does not send it on the
//! provider's redirect back (another site); this one is `Lax` (sent on a
//! top-level GET from anywhere), encrypted and authenticated with the
//! session key (so it can be neither read nor made), lives ten minutes,
//! and is removed by the callback whatever happens. A copy replayed within
//! those minutes carries a code the provider has already spent, which it
//! refuses.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time::Duration as CookieDuration};
use serde::{Deserialize, Serialize};

/// How long a started sign-in may take at the provider.
pub const FLOW_LIFETIME: i64 = 600;

/// Sign-ins one browser may have under way; starting another drops the
/// oldest.
pub const MAX_FLOWS: usize = 5;

/// What the callback checks the provider's answer against.
#[derive(Serialize, Deserialize)]
pub struct Flow {
    /// The `state` sent to the provider.
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// When the sign-in began (Unix seconds).
    pub started: i64,
}

fn name(secure: bool) -> &'static str {
    // `__Host-`: only over https, for this host and path `/`, so no
    // subdomain can set it.
    if secure {
        "__Host-wharf_sso_flow"
    } else {
        "wharf_sso_flow"
    }
}

fn shaped(mut cookie: Cookie<'static>, secure: bool) -> Cookie<'static> {
    cookie.set_path("/");
    cookie.set_http_only(true);
    cookie.set_secure(secure);
    cookie.set_same_site(SameSite::Lax);
    cookie
}

impl Flow {
    /// Started within the last [`FLOW_LIFETIME`] seconds before `now`.
    pub fn in_time(&self, now: i64) -> bool {
        (0..=FLOW_LIFETIME).contains(&(now - self.started))
    }
}

/// The cookie that carries `flows` to the callback (the newest last).
pub fn cookie(flows: &[Flow], key: &Key, secure: bool) -> Result<Cookie<'static>, String> {
    let value = serde_json::to_string(flows).map_err(|e| e.to_string())?;
    let mut plain = shaped(Cookie::new(name(secure), value), secure);
    plain.set_max_age(CookieDuration::seconds(FLOW_LIFETIME));
    let mut jar = CookieJar::new();
    jar.private_mut(key).add(plain);
    jar.get(name(secure))
        .cloned()
        .ok_or_else(|| "the flow cookie was not sealed".to_owned())
}

/// The sign-ins this browser has under way and still in time at `now`
/// (none if its cookie is missing or not genuine).
pub fn read(req: &HttpRequest, key: &Key, secure: bool, now: i64) -> Vec<Flow> {
    let Some(sealed) = req.cookie(name(secure)) else {
        return Vec::new();
    };
    let mut jar = CookieJar::new();
    jar.add_original(sealed.into_owned());
    let Some(opened) = jar.private(key).get(name(secure)) else {
        return Vec::new();
    };
    let flows: Vec<Flow> = serde_json::from_str(opened.value()).unwrap_or_default();
    flows.into_iter().filter(|f| f.in_time(now)).collect()
}

/// The cookie's removal.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut gone = shaped(Cookie::new(name(secure), ""), secure);
    gone.make_removal();
    gone
}
