//! A sign-in's own state between wharf and the provider: the `state` sent,
//! the nonce and the PKCE verifier, in a cookie of its own. The session
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

/// The cookie that carries `flow` to the callback.
pub fn cookie(flow: &Flow, key: &Key, secure: bool) -> Result<Cookie<'static>, String> {
    let value = serde_json::to_string(flow).map_err(|e| e.to_string())?;
    let mut plain = shaped(Cookie::new(name(secure), value), secure);
    plain.set_max_age(CookieDuration::seconds(FLOW_LIFETIME));
    let mut jar = CookieJar::new();
    jar.private_mut(key).add(plain);
    jar.get(name(secure))
        .cloned()
        .ok_or_else(|| "the flow cookie was not sealed".to_owned())
}

/// The flow this browser started, if its cookie is there and genuine.
pub fn read(req: &HttpRequest, key: &Key, secure: bool) -> Option<Flow> {
    let sealed = req.cookie(name(secure))?;
    let mut jar = CookieJar::new();
    jar.add_original(sealed.into_owned());
    let opened = jar.private(key).get(name(secure))?;
    serde_json::from_str(opened.value()).ok()
}

/// The cookie's removal.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut gone = shaped(Cookie::new(name(secure), ""), secure);
    gone.make_removal();
    gone
}
