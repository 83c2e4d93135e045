//! What every form shares: errors beside fields, and answering a rejected
//! form with its status.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder};

/// Messages keyed by the field they belong beside.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// Adds a message for `field`.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    /// Keeps a parse result's value, or its message beside `field`.
    pub fn check<T>(&mut self, field: &'static str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|m| self.add(field, m)).ok()
    }

    /// The message for `field`, if any (templates call this).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// No message at all?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Renders a page with a status other than 200.
pub fn with_status(page: impl Responder, status: StatusCode, req: &HttpRequest) -> HttpResponse {
    page.customize()
        .with_status(status)
        .respond_to(req)
        .map_into_boxed_body()
}

/// A rejected form, shown again: 422.
pub fn unprocessable(page: impl Responder, req: &HttpRequest) -> HttpResponse {
    with_status(page, StatusCode::UNPROCESSABLE_ENTITY, req)
}

/// `***` for a secret value that was given, `""` for an empty one: what a
/// form's `Debug` shows instead of a password or key.
pub fn redacted(value: &str) -> &'static str {
    if value.is_empty() { "" } else { "***" }
}
