//! What a write comes to. Each area's writes are one operation each
//! (`secrets::ops`, `images::ops`, `groups::ops`, `users::ops`,
//! `tokens::ops`): parse into domain types, seal, store and audit in one
//! transaction. The pages and the API call the same operation and map its
//! [`Failure`] to their own answer (a form page, or a problem); the API's
//! mapping is here, once, so a new way in never restates a rule.

use std::convert::Infallible;
use std::fmt;

use actix_web::http::StatusCode;

use crate::error::AppError;
use crate::web::{FieldErrors, Problem};

/// Why a write was not made. Nothing was stored, nor audited.
#[derive(Debug)]
pub enum Failure<R = Infallible> {
    /// Fields break the rules; each message belongs beside its field.
    Invalid(FieldErrors),
    /// The name is taken (`field` is where the form shows it).
    Duplicate {
        /// The form field the name was typed in.
        field: &'static str,
        /// "A secret named x already exists."
        message: String,
    },
    /// Someone else saved first: the version asked for is not the stored one.
    Stale {
        /// "secret", "image", … for the API's 412.
        kind: &'static str,
        /// "This secret was changed by someone else since you opened it."
        message: String,
    },
    /// There is no such object.
    Missing(String),
    /// A rule of the area's own refused it (in use, the last administrator…).
    Refused(R),
    /// The database or the sealing failed: not the caller's doing.
    Internal(AppError),
}

impl<R> Failure<R> {
    /// One field's message.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Self::Invalid(errors)
    }

    /// A taken name, shown beside `field`.
    pub fn taken(field: &'static str, why: &impl fmt::Display) -> Self {
        Self::Duplicate {
            field,
            message: why.to_string(),
        }
    }

    /// A stale version of a `kind`.
    pub fn stale(kind: &'static str, why: &impl fmt::Display) -> Self {
        Self::Stale {
            kind,
            message: why.to_string(),
        }
    }

    /// The 404 of a missing `kind` named `name`.
    pub fn missing(kind: &str, name: &str) -> Self {
        Self::Missing(format!("There is no {kind} named {name}."))
    }
}

impl<R> From<AppError> for Failure<R> {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(m) => Self::Missing(m),
            other => Self::Internal(other),
        }
    }
}

impl<R> From<rusqlite::Error> for Failure<R> {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl<R: fmt::Display> fmt::Display for Failure<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(_) => f.write_str("Some fields are not valid."),
            Self::Duplicate { message, .. }
            | Self::Stale { message, .. }
            | Self::Missing(message) => f.write_str(message),
            Self::Refused(r) => r.fmt(f),
            Self::Internal(e) => e.fmt(f),
        }
    }
}

/// The API's answer to a failed write: 422 with the fields' messages, 409
/// for a taken name or a refusal, 412 for a stale version, 404.
impl<R: fmt::Display> From<Failure<R>> for Problem {
    fn from(f: Failure<R>) -> Self {
        match f {
            Failure::Invalid(errors) => Problem::invalid(&errors),
            Failure::Duplicate { message, .. } => Problem::new(StatusCode::CONFLICT, message),
            Failure::Stale { kind, .. } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                format!("The {kind} was changed since that version; GET it again and retry."),
            ),
            Failure::Missing(message) => Problem::not_found(message),
            Failure::Refused(r) => Problem::new(StatusCode::CONFLICT, r.to_string()),
            Failure::Internal(e) => e.into(),
        }
    }
}

impl<R: fmt::Display> Failure<R> {
    /// For a page: the messages to show beside the form's fields (the
    /// fields' own, or a taken name beside its field), or the error page
    /// of anything else.
    pub fn form_errors(self) -> Result<FieldErrors, AppError> {
        match self {
            Self::Invalid(errors) => Ok(errors),
            Self::Duplicate { field, message } => {
                let mut errors = FieldErrors::default();
                errors.add(field, message);
                Ok(errors)
            }
            other => Err(other.into()),
        }
    }
}

/// For pages: what a page does not show on its form (a missing object is
/// 404; anything else it did not expect is a readable 422, never a 500).
impl<R: fmt::Display> From<Failure<R>> for AppError {
    fn from(f: Failure<R>) -> Self {
        match f {
            Failure::Missing(message) => AppError::NotFound(message),
            Failure::Internal(e) => e,
            other => AppError::Unprocessable(other.to_string()),
        }
    }
}

/// What a write operation returns.
pub type OpResult<T, R = Infallible> = Result<T, Failure<R>>;
