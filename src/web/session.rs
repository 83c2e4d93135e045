use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use base64::Engine;

use crate::domain::UserId;
use crate::error::AppError;

/// The session cookie's contents, behind names that cannot be mistyped.
#[derive(Clone)]
pub struct TypedSession(Session);

/// Who is signed in, as the session remembers it.
#[derive(Clone, Copy, Debug)]
pub struct SessionUser {
    /// The user's row id.
    pub user_id: UserId,
    /// The user's session version when this session began.
    pub version: i64,
    /// When the session began (Unix seconds).
    pub started: i64,
    /// When the session was last used (Unix seconds).
    pub seen: i64,
}

impl TypedSession {
    const USER_ID: &'static str = "uid";
    const VERSION: &'static str = "ver";
    const STARTED: &'static str = "t0";
    const SEEN: &'static str = "t1";
    const CSRF: &'static str = "csrf";
    const FLASH: &'static str = "flash";
    const SHOWN_TOKEN: &'static str = "shown_token";
    const SSO: &'static str = "sso";

    /// Wraps the request's session.
    pub fn new(session: Session) -> Self {
        Self(session)
    }

    /// The session's CSRF token, made on first use.
    pub fn csrf_token(&self) -> Result<String, AppError> {
        if let Some(t) = self.stored_csrf() {
            return Ok(t);
        }
        let token = new_token();
        self.insert(Self::CSRF, &token)?;
        Ok(token)
    }

    /// The CSRF token if the session has one.
    pub fn stored_csrf(&self) -> Option<String> {
        self.0.get::<String>(Self::CSRF).ok().flatten()
    }

    /// Starts a signed-in session: a fresh session id, a fresh CSRF token.
    pub fn sign_in(&self, user_id: UserId, version: i64, now: i64) -> Result<(), AppError> {
        self.0.renew();
        self.0.clear();
        self.insert(Self::USER_ID, &user_id.0)?;
        self.insert(Self::VERSION, &version)?;
        self.insert(Self::STARTED, &now)?;
        self.insert(Self::SEEN, &now)?;
        self.insert(Self::CSRF, &new_token())
    }

    /// Carries this session over to the user's new session version (after
    /// their own password change): a new session id and CSRF token, the
    /// same start time, so `--session-max` still counts from sign-in.
    pub fn continue_as(&self, version: i64) -> Result<(), AppError> {
        self.0.renew();
        self.insert(Self::VERSION, &version)?;
        self.insert(Self::CSRF, &new_token())
    }

    /// Marks this session as begun by single sign-on (sign-out then ends
    /// the provider's session too).
    pub fn mark_sso(&self) -> Result<(), AppError> {
        self.insert(Self::SSO, &true)
    }

    /// Whether this session was begun by single sign-on.
    pub fn by_sso(&self) -> bool {
        self.0
            .get::<bool>(Self::SSO)
            .ok()
            .flatten()
            .unwrap_or(false)
    }

    /// Forgets everything and removes the cookie.
    pub fn purge(&self) {
        self.0.purge();
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<SessionUser> {
        let get = |k| self.0.get::<i64>(k).ok().flatten();
        Some(SessionUser {
            user_id: UserId(get(Self::USER_ID)?),
            version: get(Self::VERSION)?,
            started: get(Self::STARTED)?,
            seen: get(Self::SEEN)?,
        })
    }

    /// Records activity for the idle timeout.
    pub fn touch(&self, now: i64) -> Result<(), AppError> {
        self.insert(Self::SEEN, &now)
    }

    /// Leaves a message for the next page.
    pub fn flash(&self, message: impl Into<String>) -> Result<(), AppError> {
        self.insert(Self::FLASH, &message.into())
    }

    /// Holds a token just made for the page at `page` to show once, in the
    /// sealed session (never in a URL): the answer to the POST redirects
    /// there, and a refresh of that page shows it no more.
    pub fn hold_token(&self, page: &str, token: &str) -> Result<(), AppError> {
        self.insert(Self::SHOWN_TOKEN, &(page, token))
    }

    /// The token held for `page`, once; one held for another page is
    /// dropped.
    pub fn take_token(&self, page: &str) -> Option<String> {
        self.0
            .get::<(String, String)>(Self::SHOWN_TOKEN)
            .ok()
            .flatten()?;
        let (held_for, token) = self
            .0
            .remove_as::<(String, String)>(Self::SHOWN_TOKEN)
            .and_then(Result::ok)?;
        (held_for == page).then_some(token)
    }

    /// Takes the message left for this page.
    pub fn take_flash(&self) -> Option<String> {
        // Removing marks the session changed, and a changed session is
        // sealed and sent again: only when there is a message.
        self.0.get::<String>(Self::FLASH).ok().flatten()?;
        self.0.remove_as::<String>(Self::FLASH).and_then(Result::ok)
    }

    fn insert<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), AppError> {
        self.0.insert(key, value).map_err(AppError::internal)
    }
}

/// 32 random bytes, URL-safe base64.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.get_session())))
    }
}
