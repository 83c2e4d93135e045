//! Errors of the JSON API as `application/problem+json` (RFC 9457):
//! `type`, `title`, `status`, `detail`, and for 422 `errors`, the same
//! messages the HTML forms show beside their fields.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::form::FieldErrors;
use crate::error::AppError;

/// A problem, as the API answers it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// For 422: field → messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, Vec<String>>>)]
    pub errors: Option<Box<BTreeMap<String, Vec<String>>>>,
    /// Seconds to wait (429, 503); sent as `Retry-After`.
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// Sent as `Allow` on 405.
    #[serde(skip)]
    pub allow: Option<&'static str>,
}

impl Problem {
    /// A problem with this status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
            retry_after: None,
            allow: None,
        }
    }

    /// 401: no usable token. Answered with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 422 with the fields' messages.
    pub fn invalid(errors: &FieldErrors) -> Self {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (field, message) in errors.iter() {
            map.entry(field.to_owned())
                .or_default()
                .push(message.to_owned());
        }
        let mut p = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Some fields are not valid; see errors.",
        );
        p.errors = Some(Box::new(map));
        p
    }

    /// 422 for one field.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Self::invalid(&errors)
    }

    /// 405 with the methods the path does take.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut p = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("This path takes {allow}."),
        );
        p.allow = Some(allow);
        p
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.content_type("application/problem+json");
        if self.status == 401 {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"wharf\""));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = self.allow {
            res.insert_header((header::ALLOW, allow));
        }
        let body = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        res.body(body)
    }
}

/// The page errors, said the API's way. Internal errors keep their cause
/// in the log under a reference id, as pages do.
impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        let status = e.status_code();
        if e.database_unavailable() {
            tracing::warn!(error = %e, "the database cannot be reached");
            let mut p = Self::new(status, crate::error::DATABASE_UNAVAILABLE.to_owned());
            p.retry_after = Some(crate::error::DATABASE_RETRY_AFTER);
            return p;
        }
        match e {
            AppError::LoginRequired => Self::unauthorized("A bearer token is required."),
            AppError::TooManyRequests(secs) | AppError::Busy(secs) => {
                let mut p = Self::new(status, e.to_string());
                p.retry_after = Some(secs);
                p
            }
            AppError::Unprocessable(m) | AppError::Upstream(m) => Self::new(status, m),
            _ if status.is_server_error() => {
                let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
                tracing::error!(reference = %reference, error = %e, "internal error");
                Self::new(
                    status,
                    format!("Something went wrong on our side (reference {reference})."),
                )
            }
            _ => Self::new(status, e.to_string()),
        }
    }
}

impl From<rusqlite::Error> for Problem {
    fn from(e: rusqlite::Error) -> Self {
        AppError::from(e).into()
    }
}
