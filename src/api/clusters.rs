//! `/api/v1/clusters` and `/api/v1/credentials`: clusters for programs, and
//! kubelet's credential lookup, which a cluster's token (or an
//! administrator's, as a dry run) may call.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{self, rfc3339};
use super::schema;
use crate::auth::{ApiCaller, Caller, Presented};
use crate::clusters::credentials::{self, DeliveryIndex};
use crate::clusters::ops::{self, ClusterForm};
use crate::clusters::routes::namespace_label;
use crate::clusters::serving::ServingLog;
use crate::clusters::setup;
use crate::clusters::store::{self, Cluster};
use crate::db;
use crate::error::AppError;
use crate::listing::QueryPairs;
use crate::metrics::CredentialResult;
use crate::state::AppState;
use crate::web::Problem;

/// A cluster.
#[derive(Serialize, ToSchema)]
pub struct ClusterOut {
    pub name: String,
    pub display_name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When its token was made.
    #[schema(format = DateTime)]
    pub token_created_at: String,
    /// Its last request (to the minute), or null.
    #[schema(format = DateTime)]
    pub last_seen_at: Option<String>,
    /// The address of its last request.
    pub last_seen_from: Option<String>,
    /// Requests in the last 24 hours.
    pub requests_24h: i64,
}

impl From<Cluster> for ClusterOut {
    fn from(c: Cluster) -> Self {
        let (seen_at, seen_from) = match c.last_seen {
            Some((at, from)) => (Some(rfc3339(at)), Some(from)),
            None => (None, None),
        };
        Self {
            name: c.name,
            display_name: c.display_name,
            created_at: rfc3339(c.created_at),
            token_created_at: rfc3339(c.token_created_at),
            last_seen_at: seen_at,
            last_seen_from: seen_from,
            requests_24h: c.requests_24h,
        }
    }
}

/// A cluster with its new token, which is shown this once.
#[derive(Serialize, ToSchema)]
pub struct ClusterWithToken {
    #[serde(flatten)]
    pub cluster: ClusterOut,
    /// `wharf_…`: the cluster's token. It is not shown again.
    pub token: String,
}

/// A new cluster.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterCreate {
    #[schema(schema_with = schema::group_name)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = schema::display_name)]
    pub display_name: String,
}

async fn load(state: &AppState, name: String) -> Result<Cluster, Problem> {
    Ok(db::run(&state.pool, move |c| {
        store::find(c, &name)?.ok_or_else(|| AppError::no_such("cluster", &name))
    })
    .await?)
}

/// List clusters.
#[utoipa::path(operation_id = "clusters_list", get, path = "/api/v1/clusters", tag = "clusters",
    responses((status = 200, body = Vec<ClusterOut>), (status = 401, body = Problem),
        (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn list(caller: ApiCaller, state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let clusters = db::run(&state.pool, |c| Ok(store::list(c)?)).await?;
    let out: Vec<ClusterOut> = clusters.into_iter().map(ClusterOut::from).collect();
    Ok(common::json(StatusCode::OK, &out))
}

/// Add a cluster; the answer holds its token, once.
#[utoipa::path(operation_id = "clusters_create", post, path = "/api/v1/clusters", tag = "clusters",
    request_body = ClusterCreate,
    responses((status = 201, body = ClusterWithToken), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn create(
    caller: ApiCaller,
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, Problem> {
    let admin = caller.admin_write()?;
    let b: ClusterCreate = common::object(body.into_inner())?;
    let form = ClusterForm {
        name: b.name,
        display_name: b.display_name,
    };
    let issued = ops::create(&state, &admin, &form).await?;
    let cluster = load(&state, issued.name.clone()).await?;
    let res = common::json(
        StatusCode::CREATED,
        &ClusterWithToken {
            cluster: cluster.into(),
            token: issued.token,
        },
    );
    common::created(res, &format!("/api/v1/clusters/{}", issued.name))
}

/// One cluster.
#[utoipa::path(operation_id = "clusters_get", get, path = "/api/v1/clusters/{name}", tag = "clusters",
    params(("name" = String, Path)),
    responses((status = 200, body = ClusterOut), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn get(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let cluster = load(&state, path.into_inner()).await?;
    Ok(common::json(StatusCode::OK, &ClusterOut::from(cluster)))
}

/// Remove a cluster; its token stops at once.
#[utoipa::path(operation_id = "clusters_delete", delete, path = "/api/v1/clusters/{name}", tag = "clusters",
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
    ops::delete(&state, &admin, &path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Give a cluster a new token (in the answer, once); the old one stops at
/// once.
#[utoipa::path(operation_id = "clusters_rotate_token", post, path = "/api/v1/clusters/{name}/token", tag = "clusters",
    params(("name" = String, Path)),
    responses((status = 200, body = ClusterWithToken), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn rotate_token(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let admin = caller.admin_write()?;
    let issued = ops::rotate_token(&state, &admin, &path.into_inner()).await?;
    let cluster = load(&state, issued.name).await?;
    Ok(common::json(
        StatusCode::OK,
        &ClusterWithToken {
            cluster: cluster.into(),
            token: issued.token,
        },
    ))
}

/// kubelet's `CredentialProviderConfig` for the cluster's nodes: one
/// provider, `wharf-credential-provider`, for every delivered pattern. 409
/// when nothing is delivered (kubelet refuses an empty `matchImages`).
#[utoipa::path(operation_id = "clusters_kubelet_config", get, path = "/api/v1/clusters/{name}/kubelet-config", tag = "clusters",
    params(("name" = String, Path)),
    responses((status = 200, content((Object = "application/yaml"))), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("token" = [])))]
pub async fn kubelet_config(
    caller: ApiCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let delivery = setup::of_cluster(&state, path.into_inner()).await?;
    let base = setup::base_url(&state, &req);
    let body = setup::kubelet_config(&state, &delivery, &base).ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            "Nothing is delivered yet, and kubelet refuses a provider without matchImages: set deliver on an Image Pull secret first.",
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/yaml")
        .body(body))
}

/// `?namespace_label=` of the ESO manifests.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct LabelParam {
    #[param(schema_with = schema::namespace_label)]
    namespace_label: Option<String>,
}

/// External Secrets Operator's manifests (`external-secrets.io/v1`): the
/// `wharf` ClusterSecretStore and one ClusterExternalSecret per delivered
/// secret.
#[utoipa::path(operation_id = "clusters_external_secrets", get, path = "/api/v1/clusters/{name}/external-secrets", tag = "clusters",
    params(("name" = String, Path), LabelParam),
    responses((status = 200, content((Object = "application/yaml"))), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn external_secrets(
    caller: ApiCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: QueryPairs,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let (key, value) =
        namespace_label(&query, false).map_err(|m| Problem::invalid_field("namespace_label", m))?;
    let delivery = setup::of_cluster(&state, path.into_inner()).await?;
    let base = setup::base_url(&state, &req);
    let body = setup::external_secrets(&state, &delivery, &base, (&key, &value));
    Ok(HttpResponse::Ok()
        .content_type("application/yaml")
        .body(body))
}

/// `?image=` of the credential lookup: the image kubelet pulls (its
/// repository; a tag or digest is ignored). Required, which utoipa's derive
/// cannot say beside a `schema_with`, hence written out; read from the
/// query's pairs after the token is checked.
pub struct ImageParam;

impl utoipa::IntoParams for ImageParam {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        vec![
            ParameterBuilder::new()
                .name("image")
                .parameter_in(ParameterIn::Query)
                .required(utoipa::openapi::Required::True)
                .description(Some("The image kubelet pulls; a tag or digest is ignored."))
                .schema(Some(schema::image_url()))
                .build(),
        ]
    }
}

/// kubelet's `CredentialProviderResponse` for an image: every delivered
/// Image Pull secret whose node pattern matches it, and the catalogue's
/// pull secret for its repository. A cluster's token, or an
/// administrator's (a dry run, not counted).
#[utoipa::path(operation_id = "credentials", get, path = "/api/v1/credentials", tag = "clusters",
    params(ImageParam),
    responses((status = 200, content_type = "application/json", body = Object), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem),
        (status = 502, description = "An Amazon ECR secret's token could not be minted and none still valid is kept", body = Problem)),
    security(("token" = [])))]
pub async fn credentials(
    presented: Presented,
    state: web::Data<AppState>,
    index: web::Data<DeliveryIndex>,
    serving: web::Data<ServingLog>,
    query: QueryPairs,
) -> Result<HttpResponse, Problem> {
    let (caller, found) =
        ops::credentials(&state, &index, &serving, &presented, query.get("image")).await?;
    Ok(credentials_answer(&state, &serving, &caller, &found))
}

/// kubelet's response to what was found; a cluster's request is noted
/// (for the Clusters page) and counted.
fn credentials_answer(
    state: &AppState,
    serving: &ServingLog,
    caller: &Caller,
    found: &credentials::Answer,
) -> HttpResponse {
    let answer = credentials::response(found, state.delivery.node_cache, state.tokens.clock.now());
    if let Caller::Cluster(cluster) = caller {
        let names: Vec<&str> = found.served.iter().map(|s| s.secret.as_str()).collect();
        serving.note(cluster, &names);
        state
            .metrics
            .credential_request(if found.served.is_empty() {
                CredentialResult::NoMatch
            } else {
                CredentialResult::Served
            });
    }
    common::json(StatusCode::OK, &answer)
}
