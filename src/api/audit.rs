//! `GET /api/v1/audit`: the audit log, for administrators' tokens.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{self, Paged, rfc3339};
use crate::audit;
use crate::auth::ApiCaller;
use crate::db;
use crate::listing::QueryPairs;
use crate::state::AppState;
use crate::web::Problem;

/// One entry.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    #[schema(format = DateTime)]
    pub at: String,
    /// Who: a username, `alice (token ci-rotate)`, `wharf` or `cli`.
    pub actor: String,
    pub action: String,
    /// `secret/name`, `image/name`, `user/name`, `token/user/name`.
    pub target: String,
    /// The client's address.
    pub source: String,
}

/// `?actor=&target=&page=&per_page=`
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditParams {
    /// Exactly this actor.
    actor: Option<String>,
    /// Targets starting with this (`secret/` is every secret).
    target: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<i64>,
}

crate::db::text_enum! {
    /// The audit log has one order, newest first (`sort=name` is taken
    /// for it, as every list takes `sort`).
    pub enum Newest {
        Name = "name" ("Newest first"),
    }
}

/// The audit log, newest first.
#[utoipa::path(operation_id = "audit_list", get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = Paged<AuditEntry>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn list(
    caller: ApiCaller,
    state: web::Data<AppState>,
    query: QueryPairs,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let listing = common::listing::<Newest>(&query, "/api/v1/audit")?;
    let (page, per_page) = (listing.page, listing.per_page);
    let actor = query.get("actor").trim().to_owned();
    let target = query.get("target").trim().to_owned();
    let (entries, total) = db::run(&state.pool, move |c| {
        let total = audit::count(c, &actor, &target)?;
        let rows = audit::entries(c, &actor, &target, per_page, (page - 1) * per_page)?;
        Ok((rows, total))
    })
    .await?;
    Ok(common::json(
        StatusCode::OK,
        &Paged {
            items: entries
                .into_iter()
                .map(|e| AuditEntry {
                    at: rfc3339(e.at),
                    actor: e.actor,
                    action: e.action,
                    target: e.target,
                    source: e.source,
                })
                .collect(),
            page,
            per_page,
            total,
        },
    ))
}
