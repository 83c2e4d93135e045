//! The one error type. Handlers use `?`; the user sees a clear page with the
//! right status, the log sees the cause under a reference id.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No session: the browser is sent to the sign-in page.
    #[error("sign-in required")]
    LoginRequired,
    /// Signed in, but not allowed (role or CSRF).
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such page or object.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed (not form data, not UTF-8).
    #[error("{0}")]
    BadRequest(String),
    /// The request cannot be met in the present state (409).
    #[error("{0}")]
    Conflict(String),
    /// A query value that fails its rule (a namespace, say).
    #[error("{0}")]
    Unprocessable(String),
    /// The body is over the limit.
    #[error("The request is too large.")]
    PayloadTooLarge,
    /// Throttled: try again after that many seconds.
    #[error("Too many failed sign-ins. Try again in {0} seconds.")]
    TooManyRequests(u64),
    /// Too much work queued (password hashing): try again after that many seconds.
    #[error("The server is busy. Try again in {0} seconds.")]
    Busy(u64),
    /// A service wharf depends on (the ECR API) failed: 502, with its words.
    #[error("{0}")]
    Upstream(String),
    /// SQLite said no.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// No connection could be had.
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The blocking pool went away.
    #[error("blocking pool: {0}")]
    Blocking(#[from] actix_web::error::BlockingError),
    /// A template failed to render.
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    /// Anything else that is our fault; the text goes to the log only.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// 404 for a name that names nothing: "There is no secret named x."
    pub fn no_such(kind: &str, name: &str) -> Self {
        Self::NotFound(format!("There is no {kind} named {name}."))
    }

    /// Wraps any error as an internal one (for the log, not the user).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    /// Whether the database could not be reached (a PostgreSQL server
    /// gone or restarting, SQLite's file locked past its timeout, no
    /// connection from the pool in time): a 503 that says so, not an
    /// error of ours. The pool drops broken connections and makes new
    /// ones, so wharf serves again as soon as the database is back.
    pub fn database_unavailable(&self) -> bool {
        match self {
            Self::Db(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::DatabaseBusy
            ),
            Self::Pool(_) => true,
            _ => false,
        }
    }
}

/// What a request is told when the database cannot be reached.
pub const DATABASE_UNAVAILABLE: &str = "The database cannot be reached right now. Try again in a moment; if this lasts, tell your administrator.";

/// Seconds to wait before asking again when the database cannot be reached.
pub const DATABASE_RETRY_AFTER: u64 = 5;

/// What an error page said, kept on the response so that a signed-in
/// person's page can be drawn again with their navigation
/// (`auth::keep_navigation_on_errors`).
#[derive(Clone, Debug)]
pub struct ErrorShown {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    pub reference: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
    reference: Option<String>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        if self.database_unavailable() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self {
            Self::LoginRequired => StatusCode::SEE_OTHER,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let Self::LoginRequired = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish();
        }
        let unavailable = self.database_unavailable();
        if unavailable {
            tracing::warn!(error = %self, "the database cannot be reached");
        }
        let (message, reference) = if unavailable {
            (DATABASE_UNAVAILABLE.to_owned(), None)
        } else if status.is_server_error() && !matches!(self, Self::Busy(_) | Self::Upstream(_)) {
            let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
            tracing::error!(reference = %reference, error = %self, "internal error");
            (
                "Something went wrong on our side. Give the reference below to your administrator; the details are in the server log.".to_owned(),
                Some(reference),
            )
        } else {
            (self.to_string(), None)
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message: message.clone(),
            reference: reference.clone(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "Something went wrong.".to_owned());
        let mut res = HttpResponse::build(status);
        res.content_type("text/html; charset=utf-8");
        res.extensions_mut().insert(ErrorShown {
            status: status.as_u16(),
            title,
            message,
            reference,
        });
        if let Self::TooManyRequests(secs) | Self::Busy(secs) = self {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        } else if unavailable {
            res.insert_header((header::RETRY_AFTER, DATABASE_RETRY_AFTER.to_string()));
        }
        res.body(body)
    }
}
