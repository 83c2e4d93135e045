//! `/api/v1/images` and `/api/v1/catalogue`: the Images area for programs,
//! with the same parsing, store and audited writes as the pages.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{self, ListParams, Paged, Patch, rfc3339};
use super::schema;
use crate::auth::ApiCaller;
use crate::db;
use crate::error::AppError;
use crate::images::form::ImageInput;
use crate::images::ops;
use crate::images::store::{self, Image, ImageType};
use crate::listing::QueryPairs;
use crate::ops::Failure;
use crate::state::AppState;
use crate::web::{FieldErrors, Problem};

/// An image as programs see it; the pull secret by name only.
#[derive(Serialize, ToSchema)]
pub struct ImageOut {
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// `cpu`, `gpu` or `both` (Universal).
    #[serde(rename = "type")]
    pub kind: ImageType,
    pub url: String,
    /// Universal images only: the image for GPU nodes.
    pub url_for_gpu: Option<String>,
    /// The Image Pull secret's name, if it needs one.
    pub pull_secret: Option<String>,
    /// For everyone; otherwise for the members of `groups`.
    pub global: bool,
    /// The groups it is for (names; empty when global).
    pub groups: Vec<String>,
    /// Bumped by every change; the `ETag`.
    pub version: i64,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<Image> for ImageOut {
    fn from(i: Image) -> Self {
        Self {
            name: i.name,
            display_name: i.display_name,
            description: i.description,
            kind: i.image_type,
            url: i.url,
            url_for_gpu: i.url_for_gpu,
            pull_secret: i.pull_secret.map(|s| s.name),
            global: i.global,
            groups: i.groups.into_iter().map(|g| g.name).collect(),
            version: i.version,
            updated_at: rfc3339(i.updated_at),
        }
    }
}

/// An image in someone's catalogue: whether it is private, and which
/// secret pulls it only for administrators.
#[derive(Serialize, ToSchema)]
pub struct CatalogueItem {
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// `cpu`, `gpu` or `both` (Universal).
    #[serde(rename = "type")]
    pub kind: ImageType,
    pub url: String,
    /// Universal images only: the image for GPU nodes.
    pub url_for_gpu: Option<String>,
    /// Pulled with a registry credential.
    pub private: bool,
    /// For administrators only: the Image Pull secret's name, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,
    /// For everyone; otherwise for the members of `groups`.
    pub global: bool,
    /// The groups it is for, of the viewer's own (administrators: all).
    pub groups: Vec<String>,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl CatalogueItem {
    fn of(i: Image, admin: bool) -> Self {
        Self {
            name: i.name,
            display_name: i.display_name,
            description: i.description,
            kind: i.image_type,
            url: i.url,
            url_for_gpu: i.url_for_gpu,
            private: i.pull_secret.is_some(),
            pull_secret: i.pull_secret.filter(|_| admin).map(|s| s.name),
            global: i.global,
            groups: i.groups.into_iter().map(|g| g.name).collect(),
            updated_at: rfc3339(i.updated_at),
        }
    }
}

/// A new image.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageCreate {
    #[schema(schema_with = schema::resource_name)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = schema::display_name)]
    pub display_name: String,
    #[serde(default)]
    #[schema(schema_with = schema::description)]
    pub description: String,
    /// `cpu`, `gpu` or `both` (default).
    #[serde(rename = "type", default)]
    #[schema(value_type = Option<ImageType>)]
    pub kind: Option<String>,
    #[schema(schema_with = schema::image_url)]
    pub url: String,
    /// Another image for GPU nodes.
    #[serde(default)]
    #[schema(schema_with = schema::image_url_or_none)]
    pub url_for_gpu: Option<String>,
    /// An Image Pull secret's name, or null.
    #[serde(default)]
    pub pull_secret: Option<String>,
    /// For everyone (default true); a global image keeps no groups.
    #[serde(default)]
    pub global: Option<bool>,
    /// The groups a non-global image is for (names).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A JSON merge patch of an image; `null` clears `display_name`,
/// `description`, `url_for_gpu` and `pull_secret`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImagePatch {
    #[serde(default)]
    #[schema(schema_with = schema::display_name_patch)]
    pub display_name: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schema::description_patch)]
    pub description: Patch<String>,
    #[serde(rename = "type")]
    #[serde(default)]
    #[schema(value_type = ImageType)]
    pub kind: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schema::image_url)]
    pub url: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schema::image_url_or_none)]
    pub url_for_gpu: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub pull_secret: Patch<String>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub global: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub groups: Patch<Vec<String>>,
}

async fn load(state: &AppState, name: String) -> Result<Image, Problem> {
    Ok(db::run(&state.pool, move |c| {
        store::find(c, &name)?.ok_or_else(|| AppError::no_such("image", &name))
    })
    .await?)
}

fn one(status: StatusCode, image: Image) -> HttpResponse {
    common::json_versioned(status, image.version, &ImageOut::from(image))
}

/// A failed write as the API answers it; the form's `image_type` is the
/// API's `type`.
fn problem(f: Failure) -> Problem {
    match f {
        Failure::Invalid(errors) => {
            let mut renamed = FieldErrors::default();
            for (field, message) in errors.iter() {
                let field = if field == "image_type" { "type" } else { field };
                renamed.add(field, message);
            }
            Problem::invalid(&renamed)
        }
        other => other.into(),
    }
}

/// `?sort=` of the images list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ImageSortParam {
    /// Sort key.
    sort: Option<store::ImageSort>,
}

/// List images.
#[utoipa::path(operation_id = "images_list", get, path = "/api/v1/images", tag = "images", params(ListParams, ImageSortParam),
    responses((status = 200, body = Paged<ImageOut>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn list(
    presented: crate::auth::Presented,
    state: web::Data<AppState>,
    cache: web::Data<store::ImagesList>,
    query: QueryPairs,
) -> Result<HttpResponse, Problem> {
    // Read now, told after the token and the role (401 and 403 first).
    let listing = common::listing::<store::ImageSort>(&query, "/api/v1/images");
    let page = common::remembered(&state, presented, move |caller, read| {
        caller.admin()?;
        let (page, view) = store::list(read, &cache, &listing.clone()?)?;
        Ok(view.images(page))
    })
    .await?;
    Ok(common::json(
        StatusCode::OK,
        &Paged::of(page, ImageOut::from),
    ))
}

/// `?group=` of the catalogue.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CatalogueParams {
    /// Sort key.
    sort: Option<store::CatalogueSort>,
    /// Only the images of this group (one of the user's own).
    group: Option<String>,
}

/// The images the token's user may use: the global ones and those of their
/// groups (administrators: every image). Whether each is private, and for
/// administrators the pull secret's name; never a credential.
#[utoipa::path(operation_id = "images_catalogue", get, path = "/api/v1/catalogue", tag = "catalogue", params(ListParams, CatalogueParams),
    responses((status = 200, body = Paged<CatalogueItem>), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn catalogue(
    presented: crate::auth::Presented,
    state: web::Data<AppState>,
    cache: web::Data<store::ImagesList>,
    query: QueryPairs,
) -> Result<HttpResponse, Problem> {
    // Read now, told after the token (401 first).
    let listing = common::listing::<store::CatalogueSort>(&query, "/api/v1/catalogue");
    let group = query
        .get_opt("group")
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned);
    let cat = common::remembered(&state, presented, move |caller, read| {
        let (viewer, admin) = (caller.user().id, caller.user().is_admin);
        Ok(store::catalogue(
            read,
            &cache,
            &listing.clone()?,
            viewer,
            admin,
            &group,
        )?)
    })
    .await?;
    catalogue_answer(cat)
}

/// The page, each item as kept by the snapshot (made once per image).
fn catalogue_answer(cat: store::Catalogue) -> Result<HttpResponse, Problem> {
    if let Some(e) = cat.no_group {
        return Err(Problem::not_found(e.to_string()));
    }
    let items = cat
        .page
        .rows
        .iter()
        .map(|&at| {
            cat.view.item(at, |i, admin| {
                serde_json::to_string(&CatalogueItem::of(i.clone(), admin))
            })
        })
        // An index the snapshot does not have is no item (it cannot be:
        // the page was cut from the same snapshot).
        .filter(|item| !matches!(item, Ok(i) if i.is_empty()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::from(crate::error::AppError::internal(e)))?;
    Ok(common::paged_json(
        &cat.page.listing,
        cat.page.total,
        &items,
    ))
}

/// Create an image.
#[utoipa::path(operation_id = "images_create", post, path = "/api/v1/images", tag = "images", request_body = ImageCreate,
    responses((status = 201, body = ImageOut, headers(("Location" = String), ("ETag" = String))),
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
    let b: ImageCreate = common::object(body.into_inner())?;
    // Absent is Universal; given, it must be one of the three.
    let kind = match b.kind {
        None => "both".to_owned(),
        Some(k) if ImageType::parse(&k).is_some() => k,
        Some(_) => {
            return Err(Problem::invalid_field(
                "type",
                "Choose a type: CPU, GPU or Universal.",
            ));
        }
    };
    let input = ImageInput {
        name: b.name,
        display_name: b.display_name,
        description: b.description,
        image_type: kind,
        url: b.url,
        url_for_gpu: b.url_for_gpu.unwrap_or_default(),
        use_pull_secret: b.pull_secret.is_some(),
        pull_secret: b.pull_secret.unwrap_or_default(),
        global: b.global.unwrap_or(Image::NEW_IS_GLOBAL),
        groups: b.groups,
    };
    let name = ops::create(&state, &admin, &input).await.map_err(problem)?;
    let res = one(StatusCode::CREATED, load(&state, name.clone()).await?);
    common::created(res, &format!("/api/v1/images/{name}"))
}

/// One image.
#[utoipa::path(operation_id = "images_get", get, path = "/api/v1/images/{name}", tag = "images",
    params(("name" = String, Path)),
    responses((status = 200, body = ImageOut, headers(("ETag" = String))), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn get(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    Ok(one(StatusCode::OK, load(&state, path.into_inner()).await?))
}

/// Change an image (JSON merge patch); `If-Match` with a stale version is 412.
#[utoipa::path(operation_id = "images_patch", patch, path = "/api/v1/images/{name}", tag = "images",
    params(("name" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = ImagePatch, content_type = "application/merge-patch+json"),
    responses((status = 200, body = ImageOut, headers(("ETag" = String))), (status = 400, body = Problem),
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
    let image = load(&state, path.into_inner()).await?;
    let p: ImagePatch = common::object(body.into_inner())?;
    let mut input = ImageInput::of(&image);
    input.display_name = p.display_name.apply(&input.display_name);
    input.description = p.description.apply(&input.description);
    input.image_type = p.kind.apply_required("type", &input.image_type)?;
    input.url = p.url.apply_required("url", &input.url)?;
    input.url_for_gpu = p.url_for_gpu.apply(&input.url_for_gpu);
    match p.pull_secret {
        Patch::Keep => {}
        Patch::Clear => input.use_pull_secret = false,
        Patch::Set(s) => (input.use_pull_secret, input.pull_secret) = (true, s),
    }
    match p.global {
        Patch::Keep => {}
        Patch::Clear => return Err(Problem::invalid_field("global", "global cannot be null.")),
        Patch::Set(g) => input.global = g,
    }
    match p.groups {
        Patch::Keep => {}
        Patch::Clear => {
            return Err(Problem::invalid_field(
                "groups",
                "groups cannot be null; send [] for no groups.",
            ));
        }
        Patch::Set(g) => input.groups = g,
    }
    // Without If-Match the version read above is the one changed.
    let expected = common::if_match(&req).unwrap_or(image.version);
    ops::update(&state, &admin, &image, &input, expected)
        .await
        .map_err(problem)?;
    Ok(one(StatusCode::OK, load(&state, image.name).await?))
}

/// Delete an image.
#[utoipa::path(operation_id = "images_delete", delete, path = "/api/v1/images/{name}", tag = "images",
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
