//! What every API resource shares: list parameters, pages, times, ETags
//! and JSON answers.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use actix_web::web;

use crate::auth::{ApiCaller, Presented};
use crate::changes::{Miss, Read};
use crate::db::{self, TextEnum};
use crate::error::AppError;
use crate::listing::{Listing, QueryPairs};
use crate::state::AppState;
use crate::web::Problem;

/// `?q=&dir=&page=&per_page=` of a list (each area adds its `sort`, and
/// a filter where it has one); bad values are 422 (a program should learn
/// of its mistake, unlike a person's address bar).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Search in name and display name.
    #[param(max_length = 200)]
    q: Option<String>,
    /// `asc` (default) or `desc`.
    dir: Option<Direction>,
    /// From 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<i64>,
    /// Items a page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
}

/// Which way.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum Direction {
    Asc,
    Desc,
}

/// Reads a list's query strictly, for the list at `base` sorted by `S`.
pub fn listing<S: TextEnum>(query: &QueryPairs, base: &'static str) -> Result<Listing, Problem> {
    Listing::strict::<S>(query, base).map_err(|e| Problem::invalid(&e))
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

impl<T> Paged<T> {
    /// A list's page as the API answers it, each row made into an item.
    pub fn of<R>(page: crate::listing::Page<R>, item: impl FnMut(R) -> T) -> Self {
        Self {
            page: page.listing.page,
            per_page: page.listing.per_page,
            total: page.total,
            items: page.rows.into_iter().map(item).collect(),
        }
    }
}

/// A page of a list as [`Paged`] writes it, from items already made into
/// JSON (kept per row by the lists): the same bytes, without building and
/// serialising every item again.
pub fn paged_json<S: AsRef<str>>(listing: &Listing, total: i64, items: &[S]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(header::ContentType::json())
        .body(paged_body(listing.page, listing.per_page, total, items))
}

fn paged_body<S: AsRef<str>>(page: i64, per_page: i64, total: i64, items: &[S]) -> String {
    use std::fmt::Write;
    let len: usize = items.iter().map(|i| i.as_ref().len() + 1).sum();
    let mut body = String::with_capacity(len + 64);
    body.push_str("{\"items\":[");
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(item.as_ref());
    }
    // Writing to a String cannot fail.
    let _ = write!(
        body,
        "],\"page\":{page},\"per_page\":{per_page},\"total\":{total}}}"
    );
    body
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

/// Why a read for the API gave no answer: memory lacks something (the one
/// trip follows), or the caller may not have it.
pub enum Unread {
    Miss(Miss),
    Refused(Problem),
}

impl From<Miss> for Unread {
    fn from(m: Miss) -> Self {
        Self::Miss(m)
    }
}

impl From<Problem> for Unread {
    fn from(p: Problem) -> Self {
        Self::Refused(p)
    }
}

/// Memory, else one trip, for a person's token (the pages have
/// [`crate::auth::Gate`]): `read` is given the caller and reads from memory
/// at the stamp now when the token and all it needs are kept there; else
/// the token is checked and `read` runs in one trip to the database, in
/// one read transaction. 401 comes before anything `read` says.
pub async fn remembered<T, F>(
    state: &web::Data<AppState>,
    presented: Presented,
    read: F,
) -> Result<T, Problem>
where
    T: Send + 'static,
    F: Fn(&ApiCaller, Read<'_>) -> Result<T, Unread> + Send + 'static,
{
    presented.some_token()?;
    if let (Some(caller), Some(now)) = (presented.recall(), presented.seen()) {
        let caller = crate::auth::person(Ok(caller), &state.metrics)?;
        match read(&caller, Read::Memory(now)) {
            Ok(out) => {
                state.metrics.list_read(true);
                return Ok(out);
            }
            Err(Unread::Refused(problem)) => return Err(problem),
            Err(Unread::Miss(_)) => {}
        }
    }
    let st = state.clone();
    let out = db::run(&state.pool, move |c| {
        let seen = presented.seen();
        let caller = match crate::auth::person(crate::auth::identify(c, &presented), &st.metrics) {
            Ok(caller) => caller,
            Err(problem) => return Ok(Err(problem)),
        };
        let answer = db::read_tx(c, |c| Ok::<_, AppError>(read(&caller, Read::Db(c, seen))))?;
        match answer {
            Ok(out) => Ok(Ok(out)),
            Err(Unread::Refused(problem)) => Ok(Err(problem)),
            Err(Unread::Miss(miss)) => Err(miss.into()),
        }
    })
    .await??;
    state.metrics.list_read(false);
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_kept_items_is_what_serde_writes() {
        #[derive(Serialize)]
        struct Item {
            name: &'static str,
            n: i64,
        }
        let items = vec![Item { name: "a\"b", n: 1 }, Item { name: "ü", n: 2 }];
        let kept: Vec<String> = items
            .iter()
            .map(|i| serde_json::to_string(i).unwrap())
            .collect();
        let want = serde_json::to_string(&Paged {
            items,
            page: 2,
            per_page: 3,
            total: 7,
        })
        .unwrap();
        assert_eq!(paged_body(2, 3, 7, &kept), want);
        let none: Vec<Item> = Vec::new();
        let want = serde_json::to_string(&Paged {
            items: none,
            page: 1,
            per_page: 50,
            total: 0,
        })
        .unwrap();
        assert_eq!(paged_body::<String>(1, 50, 0, &[]), want);
    }
}
