//! `/api/v1/groups`: the Groups area for programs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{self, Paged, Patch, rfc3339};
use super::schema;
use crate::auth::ApiCaller;
use crate::db;
use crate::error::AppError;
use crate::groups::form::GroupForm;
use crate::groups::ops;
use crate::groups::store::{self, Group};
use crate::listing::QueryPairs;
use crate::state::AppState;
use crate::web::{FormVersion, Problem};

/// A group.
#[derive(Serialize, ToSchema)]
pub struct GroupOut {
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// Usernames.
    pub members: Vec<String>,
    /// How many images are for it.
    pub images_count: i64,
    /// Bumped by every change; the `ETag`.
    pub version: i64,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl GroupOut {
    fn of(g: Group, members: Vec<String>) -> Self {
        Self {
            name: g.name,
            display_name: g.display_name,
            description: g.description,
            members,
            images_count: g.images,
            version: g.version,
            updated_at: rfc3339(g.updated_at),
        }
    }
}

/// A new group.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCreate {
    #[schema(schema_with = schema::group_name)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = schema::display_name)]
    pub display_name: String,
    #[serde(default)]
    #[schema(schema_with = schema::description)]
    pub description: String,
    /// Usernames; those that name no user are left out.
    #[serde(default)]
    pub members: Vec<String>,
}

/// A JSON merge patch of a group; `members` replaces the list.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    #[serde(default)]
    #[schema(schema_with = schema::display_name_patch)]
    pub display_name: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schema::description_patch)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub members: Patch<Vec<String>>,
}

/// `?sort=` of the groups list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct GroupSortParam {
    /// Sort key.
    sort: Option<store::GroupSort>,
}

async fn load(state: &AppState, name: String) -> Result<(Group, Vec<String>), Problem> {
    Ok(db::run(&state.pool, move |c| {
        let g = store::find(c, &name)?.ok_or_else(|| AppError::no_such("group", &name))?;
        let members = store::members(c, g.id)?;
        Ok((g, members))
    })
    .await?)
}

fn one(status: StatusCode, g: Group, members: Vec<String>) -> HttpResponse {
    common::json_versioned(status, g.version, &GroupOut::of(g, members))
}

/// List groups.
#[utoipa::path(operation_id = "groups_list", get, path = "/api/v1/groups", tag = "groups", params(common::ListParams, GroupSortParam),
    responses((status = 200, body = Paged<GroupOut>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn list(
    caller: ApiCaller,
    state: web::Data<AppState>,
    query: QueryPairs,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let listing = common::listing::<store::GroupSort>(&query, "/api/v1/groups")?;
    let (page, mut members) = db::run(&state.pool, move |c| {
        let page = store::list(c, listing)?;
        let ids: Vec<_> = page.rows.iter().map(|g| g.id).collect();
        let members = store::members_of(c, &ids)?;
        Ok((page, members))
    })
    .await?;
    let (p, per, total) = (page.listing.page, page.listing.per_page, page.total);
    let items = page
        .rows
        .into_iter()
        .map(|g| {
            let m = members.remove(&g.id).unwrap_or_default();
            GroupOut::of(g, m)
        })
        .collect();
    Ok(common::json(
        StatusCode::OK,
        &Paged {
            items,
            page: p,
            per_page: per,
            total,
        },
    ))
}

/// Create a group.
#[utoipa::path(operation_id = "groups_create", post, path = "/api/v1/groups", tag = "groups", request_body = GroupCreate,
    responses((status = 201, body = GroupOut, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn create(
    caller: ApiCaller,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, Problem> {
    let admin = caller.admin_write()?;
    let b: GroupCreate = common::object(body.into_inner())?;
    let form = GroupForm {
        name: b.name,
        display_name: b.display_name,
        description: b.description,
        members: b.members,
        version: FormVersion::default(),
    };
    let name = ops::create(&state, &admin, &form).await?;
    let (g, members) = load(&state, name.clone()).await?;
    let res = one(StatusCode::CREATED, g, members);
    common::created(res, &format!("/api/v1/groups/{name}"))
}

/// One group, with its members.
#[utoipa::path(operation_id = "groups_get", get, path = "/api/v1/groups/{name}", tag = "groups",
    params(("name" = String, Path)),
    responses((status = 200, body = GroupOut, headers(("ETag" = String))), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn get(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let (g, members) = load(&state, path.into_inner()).await?;
    Ok(one(StatusCode::OK, g, members))
}

/// Change a group (JSON merge patch); `If-Match` with a stale version is 412.
#[utoipa::path(operation_id = "groups_patch", patch, path = "/api/v1/groups/{name}", tag = "groups",
    params(("name" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = GroupPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, body = GroupOut, headers(("ETag" = String))), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn patch(
    req: HttpRequest,
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, Problem> {
    let admin = caller.admin_write()?;
    let (g, members) = load(&state, path.into_inner()).await?;
    let p: GroupPatch = common::object(body.into_inner())?;
    let form = GroupForm {
        name: g.name.clone(),
        display_name: p.display_name.apply(&g.display_name),
        description: p.description.apply(&g.description),
        members: match p.members {
            Patch::Keep => members,
            Patch::Clear => {
                return Err(Problem::invalid_field(
                    "members",
                    "members cannot be null; send [] for no members.",
                ));
            }
            Patch::Set(m) => m,
        },
        version: FormVersion::default(),
    };
    // Without If-Match the version read above is the one changed.
    let expected = common::if_match(&req).unwrap_or(g.version);
    ops::update(&state, &admin, &g, &form, expected).await?;
    let (g, members) = load(&state, g.name).await?;
    Ok(one(StatusCode::OK, g, members))
}

/// Delete a group; its images lose it (they are not deleted).
#[utoipa::path(operation_id = "groups_delete", delete, path = "/api/v1/groups/{name}", tag = "groups",
    params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn delete(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let admin = caller.admin_write()?;
    let name = path.into_inner();
    ops::delete(&state, &admin, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}
