//! What every API resource shares: list parameters, pages, times, ETags
//! and JSON answers.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::listing::{Listing, QueryPairs};
use crate::web::Problem;

/// Largest `per_page`.
pub const MAX_PER_PAGE: i64 = 200;

/// `?q=&sort=&dir=&page=&per_page=` of a list; bad values are 422 (a
/// program should learn of its mistake, unlike a person's address bar).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Search in name and display name.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Sort key.
    sort: Option<SortKey>,
    /// `asc` (default) or `desc`.
    dir: Option<Direction>,
    /// From 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<i64>,
    /// Items a page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
}

/// What a list sorts by.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SortKey {
    Name,
    DisplayName,
    Type,
    Updated,
}

/// Which way.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum Direction {
    Asc,
    Desc,
}

/// Parses a list's query for the list at `base` with these sort keys.
pub fn listing(
    query: &QueryPairs,
    base: &'static str,
    sorts: &'static [&'static str],
) -> Result<Listing, Problem> {
    let int = |key: &'static str, max: i64| -> Result<Option<i64>, Problem> {
        let Some(raw) = query.get_opt(key) else {
            return Ok(None);
        };
        raw.parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                Problem::invalid_field(
                    key,
                    format!("{key} must be a whole number from 1 to {max}."),
                )
            })
    };
    let page = int("page", 1_000_000)?;
    let per_page = int("per_page", MAX_PER_PAGE)?;
    let sort = query.get_opt("sort");
    if sort.is_some_and(|s| !sorts.contains(&s)) {
        return Err(Problem::invalid_field(
            "sort",
            format!("sort must be one of {}.", sorts.join(", ")),
        ));
    }
    let dir = query.get_opt("dir");
    if dir.is_some_and(|d| !matches!(d, "asc" | "desc")) {
        return Err(Problem::invalid_field("dir", "dir must be asc or desc."));
    }
    let q = query.get("q");
    if q.chars().count() > 200 {
        return Err(Problem::invalid_field(
            "q",
            "q must be at most 200 characters.",
        ));
    }
    let mut listing = Listing::parse(
        &crate::listing::ListQuery::new(
            q,
            sort.unwrap_or(""),
            dir.unwrap_or(""),
            &page.unwrap_or(1).to_string(),
        ),
        base,
        sorts,
    );
    listing.per_page = per_page.unwrap_or(crate::listing::PER_PAGE);
    Ok(listing)
}

/// One page of a list.
#[derive(Serialize, ToSchema)]
pub struct Paged<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// This page, from 1.
    pub page: i64,
    /// Items a page.
    pub per_page: i64,
    /// Items in all that match.
    pub total: i64,
}

/// A stored Unix time as RFC 3339 UTC (`2026-11-29T03:40:00Z`).
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A JSON answer.
pub fn json(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status).json(body)
}

/// A JSON answer with the row version as its `ETag`.
pub fn json_versioned(status: StatusCode, version: i64, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, format!("\"{version}\"")))
        .json(body)
}

/// The version `If-Match` requires: `None` without the header (any
/// version will do); `Some(-1)`, which matches no row, for one that names
/// no version; `*` is any.
pub fn if_match(req: &HttpRequest) -> Option<i64> {
    let raw = req.headers().get(header::IF_MATCH)?;
    let value = raw.to_str().unwrap_or("").trim();
    if value == "*" {
        return None;
    }
    let tag = value.split(',').next().unwrap_or("").trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    Some(
        tag.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse().ok())
            .unwrap_or(-1),
    )
}

/// 201 with the new resource's `Location`.
pub fn created(mut res: HttpResponse, location: &str) -> Result<HttpResponse, Problem> {
    *res.status_mut() = StatusCode::CREATED;
    let value = header::HeaderValue::from_str(location)
        .map_err(|e| Problem::from(crate::error::AppError::internal(e)))?;
    res.headers_mut().insert(header::LOCATION, value);
    Ok(res)
}

/// A JSON merge patch field (RFC 7396): absent, `null`, or a value.
#[derive(Clone, Debug, Default)]
pub enum Patch<T> {
    /// Not in the patch: keep.
    #[default]
    Keep,
    /// `null`: remove.
    Clear,
    /// A new value.
    Set(T),
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Self::Clear,
            Some(v) => Self::Set(v),
        })
    }
}

impl Patch<String> {
    /// The value after the patch, for a field that may be cleared.
    pub fn apply(self, current: &str) -> String {
        match self {
            Self::Keep => current.to_owned(),
            Self::Clear => String::new(),
            Self::Set(v) => v,
        }
    }

    /// The value after the patch, for a field that cannot be null.
    pub fn apply_required(self, field: &'static str, current: &str) -> Result<String, Problem> {
        match self {
            Self::Clear => Err(Problem::invalid_field(
                field,
                format!("{field} cannot be null."),
            )),
            other => Ok(other.apply(current)),
        }
    }
}

/// A request body as the type `T` it must be: a JSON object (serde would
/// also read a struct from an array) whose fields fit, or a 422 naming
/// what does not.
pub fn object<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, Problem> {
    if !body.is_object() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The body must be a JSON object.",
        ));
    }
    serde_json::from_value(body).map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The body does not fit: {e}."),
        )
    })
}
