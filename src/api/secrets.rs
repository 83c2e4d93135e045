//! `/api/v1/secrets`: the Secrets area for programs. The same parsing,
//! store and audited writes as the pages; never a password or key, except
//! in the manifest and docker config downloads, which exist to carry them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{self, ListParams, Paged, rfc3339};
use super::schema;
use crate::auth::{ApiCaller, Caller};
use crate::clusters::serving::ServingLog;
use crate::db;
use crate::domain::Namespace;
use crate::listing::{Listing, QueryPairs};
use crate::metrics::CredentialResult;
use crate::secrets::export;
use crate::secrets::fields::{Field, SecretInput};
use crate::secrets::ops;
use crate::secrets::store::{self, Kind, Secret};
use crate::state::AppState;
use crate::web::Problem;

/// The last "Test login".
#[derive(Serialize, ToSchema)]
pub struct LoginCheck {
    /// Whether the registry let the credentials in.
    pub ok: bool,
    /// "Login succeeded", or why not.
    pub message: String,
    /// When.
    #[schema(format = DateTime)]
    pub checked_at: String,
}

/// A secret, without its password or key.
#[derive(Serialize, ToSchema)]
pub struct SecretOut {
    pub name: String,
    pub display_name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Image Pull and Amazon ECR.
    pub registry_host: Option<String>,
    /// Image Pull only.
    pub username: Option<String>,
    /// Amazon ECR only: the IAM access key ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Amazon ECR only: the ECR API endpoint, when not the region's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Amazon ECR only: when the current registry token expires (none
    /// minted yet: null).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub token_expires_at: Option<Option<String>>,
    /// The images that use it (in one secret; the list gives the count in
    /// `used_by_count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_by: Option<Vec<String>>,
    /// How many images use it.
    pub used_by_count: i64,
    /// Bumped by every change; the `ETag`.
    pub version: i64,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub last_test: Option<LoginCheck>,
    /// When the credential stops working (UTC date).
    #[schema(format = Date)]
    pub expires_on: Option<String>,
    /// Served to clusters.
    pub deliver: bool,
    /// kubelet `matchImages` patterns (Image Pull); empty: the registry's
    /// host.
    pub node_patterns: Vec<String>,
}

impl SecretOut {
    fn of(s: Secret, used_by: Option<Vec<String>>) -> Self {
        let ecr = s.kind == Kind::Ecr;
        let (username, access_key_id) = if ecr {
            (None, s.username)
        } else {
            (s.username, None)
        };
        Self {
            name: s.name,
            display_name: s.display_name,
            kind: s.kind,
            registry_host: s.registry_host,
            username,
            access_key_id,
            endpoint: s.endpoint,
            token_expires_at: ecr.then(|| s.token.map(|t| rfc3339(t.expires_at))),
            used_by,
            used_by_count: s.used_by,
            version: s.version,
            updated_at: rfc3339(s.updated_at),
            expires_on: s.expires_on,
            deliver: s.deliver,
            node_patterns: s.node_patterns.lines().map(str::to_owned).collect(),
            last_test: s.last_test.map(|t| LoginCheck {
                ok: t.ok,
                message: t.message,
                checked_at: rfc3339(t.at),
            }),
        }
    }
}

/// A new secret: `registry_host`, `username` and `password` for Image
/// Pull, `secret` (an SSH private key) for Git Sync, and so on: which
/// fields each type has is [`Kind::fields`], which the document's one
/// object per type ([`schema::secret_create`]) is made from. The body is
/// read into the same [`SecretInput`] a page posts.
pub struct SecretCreate;

impl SecretCreate {
    /// The input a body asks for; a field of another type, or of none, is
    /// a 422 naming it, as the document's `oneOf` says.
    fn read(body: serde_json::Value) -> Result<SecretInput, Problem> {
        let body = fields_of(body)?;
        let kind = body
            .get("type")
            .and_then(serde_json::Value::as_str)
            .and_then(Kind::parse);
        let mut input = SecretInput::default();
        for (key, value) in body {
            match key.as_str() {
                "name" => input.name = text("name", value, false)?,
                "display_name" => input.display_name = text("display_name", value, false)?,
                "type" => input.kind = text("type", value, false)?,
                "expires_on" => input.expires_on = text("expires_on", value, true)?,
                "deliver" => input.deliver = flag("deliver", value)?,
                other => {
                    let field = field_named(other)?;
                    if let Some(kind) = kind.filter(|k| !k.takes(field)) {
                        return Err(Problem::invalid_field(
                            field.name(),
                            format!("{other} is not a field of a {} secret.", kind.as_str()),
                        ));
                    }
                    input.set(field, field_text(field, value)?);
                }
            }
        }
        Ok(input)
    }
}

impl utoipa::PartialSchema for SecretCreate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::secret_create()
    }
}

impl ToSchema for SecretCreate {}

/// A JSON merge patch of a secret's mutable fields: absent keeps, `null`
/// clears what may be blank, a value replaces. An absent password or key
/// keeps the stored one; one that is given is never empty.
pub struct SecretPatch;

impl SecretPatch {
    /// `secret`'s fields after the patch, as the input an edit page would
    /// post. A field of another type is not applied (a patch does not say
    /// which type it expects), but its text must still be what the
    /// document says: a 422 otherwise, as for the secret's own fields.
    fn apply(secret: &Secret, body: serde_json::Value) -> Result<SecretInput, Problem> {
        let mut input = SecretInput::of(secret);
        for (key, value) in fields_of(body)? {
            match key.as_str() {
                "display_name" => input.display_name = text("display_name", value, true)?,
                "expires_on" => input.expires_on = text("expires_on", value, true)?,
                "deliver" if value.is_null() => {
                    return Err(Problem::invalid_field("deliver", "deliver cannot be null."));
                }
                "deliver" => input.deliver = flag("deliver", value)?,
                "name" | "type" => {
                    return Err(Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("A secret's {key} cannot change; add a new one instead."),
                    ));
                }
                other => {
                    let field = field_named(other)?;
                    let given = field_text(field, value)?;
                    field
                        .check(secret.kind, &given)
                        .map_err(|m| Problem::invalid_field(field.name(), m))?;
                    if secret.kind.takes(field) {
                        input.set(field, given);
                    }
                }
            }
        }
        Ok(input)
    }
}

impl utoipa::PartialSchema for SecretPatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::secret_patch()
    }
}

impl ToSchema for SecretPatch {}

/// A body's members, or a 422 when it is not an object.
fn fields_of(
    body: serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, Problem> {
    match body {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The body must be a JSON object.",
        )),
    }
}

/// The field of a member's name, or a 422 for a name no secret has.
fn field_named(name: &str) -> Result<Field, Problem> {
    Field::named(name).ok_or_else(|| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name} is not a field of a secret."),
        )
    })
}

/// A text member; `null` is blank where the document allows it.
fn text(key: &'static str, value: serde_json::Value, nullable: bool) -> Result<String, Problem> {
    match value {
        serde_json::Value::Null if nullable => Ok(String::new()),
        serde_json::Value::Null => Err(Problem::invalid_field(
            key,
            format!("{key} cannot be null."),
        )),
        serde_json::Value::String(s) => Ok(s),
        _ => Err(Problem::invalid_field(
            key,
            format!("{key} must be a string."),
        )),
    }
}

/// A true/false member.
fn flag(key: &'static str, value: serde_json::Value) -> Result<bool, Problem> {
    value
        .as_bool()
        .ok_or_else(|| Problem::invalid_field(key, format!("{key} must be true or false.")))
}

/// A field's text as a page would post it: node image patterns are a
/// list, one line each (a pattern with a line break in it would be two, so
/// it is refused).
fn field_text(field: Field, value: serde_json::Value) -> Result<String, Problem> {
    if field != Field::NodePatterns {
        return text(field.name(), value, field.clearable());
    }
    let patterns: Vec<String> = match value {
        serde_json::Value::Null => Vec::new(),
        value => serde_json::from_value(value).map_err(|_| {
            Problem::invalid_field("node_patterns", "node_patterns must be a list of strings.")
        })?,
    };
    if patterns
        .iter()
        .any(|p| p.trim().is_empty() || p.contains(['\n', '\r']))
    {
        return Err(Problem::invalid_field(
            "node_patterns",
            "A node image pattern is one line, not empty.",
        ));
    }
    Ok(patterns.join("\n"))
}

/// The result of a "Test login".
#[derive(Serialize, ToSchema)]
pub struct TestResult {
    pub ok: bool,
    pub message: String,
    #[schema(format = DateTime)]
    pub checked_at: String,
}

/// `?sort=&filter=` of the secrets list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SecretListParams {
    /// Sort key.
    sort: Option<store::SecretSort>,
    /// Only what needs attention: expiring within 30 days, expired, or
    /// failing its last login check.
    filter: Option<store::Attention>,
}

async fn load(state: &AppState, name: String) -> Result<(Secret, Vec<String>), Problem> {
    Ok(db::run(&state.pool, move |c| {
        let secret = store::find(c, &name)?
            .ok_or_else(|| crate::error::AppError::no_such("secret", &name))?;
        let images = store::used_by(c, secret.id)?;
        Ok((secret, images.into_iter().map(|i| i.name).collect()))
    })
    .await?)
}

fn one(status: StatusCode, secret: Secret, used_by: Vec<String>) -> HttpResponse {
    let version = secret.version;
    common::json_versioned(status, version, &SecretOut::of(secret, Some(used_by)))
}

/// List secrets.
#[utoipa::path(operation_id = "secrets_list", get, path = "/api/v1/secrets", tag = "secrets", params(ListParams, SecretListParams),
    responses((status = 200, body = Paged<SecretOut>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn list(
    presented: crate::auth::Presented,
    state: web::Data<AppState>,
    cache: web::Data<store::SecretsList>,
    query: QueryPairs,
) -> Result<HttpResponse, Problem> {
    // Read now, told after the token and the role (401 and 403 first).
    let listing = common::listing::<store::SecretSort>(&query, "/api/v1/secrets");
    let attention =
        Listing::filter::<store::Attention>(&query, true).map_err(|e| Problem::invalid(&e));
    let page = common::remembered(&state, presented, move |caller, read| {
        caller.admin()?;
        let (listing, attention) = (listing.clone()?, attention.clone()?);
        Ok(store::list(read, &cache, &listing, attention)?)
    })
    .await?;
    list_answer(page)
}

fn list_answer(
    page: crate::listing::Page<std::sync::Arc<crate::list_cache::Listed<Secret>>>,
) -> Result<HttpResponse, Problem> {
    // Each row's item is made once and kept with the row.
    let items = page
        .rows
        .iter()
        .map(|s| s.json(|s| serde_json::to_string(&SecretOut::of(s.clone(), None))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::from(crate::error::AppError::internal(e)))?;
    Ok(common::paged_json(&page.listing, page.total, &items))
}

/// Create a secret.
#[utoipa::path(operation_id = "secrets_create", post, path = "/api/v1/secrets", tag = "secrets", request_body = SecretCreate,
    responses((status = 201, body = SecretOut, headers(("Location" = String), ("ETag" = String))),
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
    let input = SecretCreate::read(body.into_inner())?;
    let name = ops::create(&state, &admin, &input).await?;
    let (secret, used_by) = load(&state, name.clone()).await?;
    let res = one(StatusCode::CREATED, secret, used_by);
    common::created(res, &format!("/api/v1/secrets/{name}"))
}

/// One secret, with the images that use it.
#[utoipa::path(operation_id = "secrets_get", get, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path)),
    responses((status = 200, body = SecretOut, headers(("ETag" = String))), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn get(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    caller.admin()?;
    let (secret, used_by) = load(&state, path.into_inner()).await?;
    Ok(one(StatusCode::OK, secret, used_by))
}

/// Change a secret (JSON merge patch); `If-Match` with a stale version is 412.
#[utoipa::path(operation_id = "secrets_patch", patch, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = SecretPatch, content_type = "application/merge-patch+json"),
    responses((status = 200, body = SecretOut, headers(("ETag" = String))), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "A node image pattern is another delivered secret's", body = Problem),
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
    let (secret, _) = load(&state, path.into_inner()).await?;
    let input = SecretPatch::apply(&secret, body.into_inner())?;
    // Without If-Match the version read above is the one changed.
    let expected = common::if_match(&req).unwrap_or(secret.version);
    ops::update(&state, &admin, &secret, &input, expected).await?;
    let (secret, used_by) = load(&state, secret.name).await?;
    Ok(one(StatusCode::OK, secret, used_by))
}

/// `?force=` of a delete (read from the query pairs: a value other than
/// `true` or `false` is a 422).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DeleteQuery {
    /// `true`: delete it even though clusters fetched it in the last 24
    /// hours (their nodes and ESO lose it when their caches run out).
    force: Option<bool>,
}

/// Delete a secret; 409 names the images that use it, or the clusters that
/// fetched it in the last 24 hours (unless `?force=true`).
#[utoipa::path(operation_id = "secrets_delete", delete, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path), DeleteQuery),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("token" = [])))]
pub async fn delete(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: QueryPairs,
) -> Result<HttpResponse, Problem> {
    let admin = caller.admin_write()?;
    let confirmed = match query.get_opt("force") {
        None | Some("false") => ops::Confirmed::No,
        Some("true") => ops::Confirmed::Yes,
        Some(_) => {
            return Err(Problem::invalid_field(
                "force",
                "force must be true or false.",
            ));
        }
    };
    ops::delete(&state, &admin, &path.into_inner(), confirmed).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?namespace=&format=` of the manifest.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ManifestQuery {
    #[param(schema_with = schema::namespace)]
    namespace: Option<String>,
    /// `yaml` (default) or `json`.
    #[param(value_type = Option<ManifestFormat>)]
    format: Option<String>,
}

/// The manifest's format.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ManifestFormat {
    Yaml,
    Json,
}

/// The manifest `kubectl create secret … --dry-run=client` prints.
#[utoipa::path(operation_id = "secrets_manifest", get, path = "/api/v1/secrets/{name}/manifest", tag = "secrets",
    params(("name" = String, Path), ManifestQuery),
    responses((status = 200, content((Object = "application/yaml"), (Object = "application/json"))),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem),
        (status = 502, description = "An Amazon ECR secret's token could not be minted", body = Problem)),
    security(("token" = [])))]
pub async fn manifest(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ManifestQuery>,
) -> Result<HttpResponse, Problem> {
    let reader = caller.admin()?;
    let q = query.into_inner();
    let json = match q.format.as_deref() {
        None | Some("yaml") => false,
        Some("json") => true,
        Some(_) => {
            return Err(Problem::invalid_field(
                "format",
                "format must be yaml or json.",
            ));
        }
    };
    let ns = match q.namespace {
        None => None,
        // Given, it must be a namespace: empty is not one.
        Some(ns) => {
            Some(Namespace::parse(&ns).map_err(|m| Problem::invalid_field("namespace", m))?)
        }
    };
    let opened = export::load_open(&reader, &state, path.into_inner(), None).await?;
    let body = opened.manifest_text(ns.as_ref(), json);
    let content_type = if json {
        "application/json"
    } else {
        "application/yaml"
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(body))
}

/// A secret's value for whoever asks: an administrator (audited as an
/// export), or a cluster, for a delivered secret only (anything else is
/// 404, as for one that does not exist; counted per hour).
async fn fetch(
    caller: Caller,
    state: &AppState,
    serving: &ServingLog,
    name: String,
    kind: Kind,
) -> Result<export::Opened, Problem> {
    match caller {
        Caller::Person(p) => {
            let reader = p.admin()?;
            Ok(export::load_open(&reader, state, name, Some(kind)).await?)
        }
        Caller::Cluster(cluster) => match export::load_delivered(state, name, kind).await {
            Ok(opened) => {
                serving.note(&cluster, &[opened.secret.name.as_str()]);
                state.metrics.credential_request(CredentialResult::Served);
                Ok(opened)
            }
            Err(e) => {
                state.metrics.credential_request(CredentialResult::Denied);
                serving.refused(Some(&cluster), cluster.source());
                Err(e.into())
            }
        },
    }
}

/// The decoded `.dockerconfigjson`, for `skopeo --authfile` or
/// `~/.docker/config.json` (Image Pull secrets only). A cluster token gets
/// it for a delivered secret: External Secrets Operator's webhook store
/// reads it.
#[utoipa::path(operation_id = "secrets_dockerconfig", get, path = "/api/v1/secrets/{name}/dockerconfig", tag = "secrets",
    params(("name" = String, Path)),
    responses((status = 200, content_type = "application/json", body = Object),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 502, description = "An Amazon ECR secret's token could not be minted", body = Problem)),
    security(("token" = [])))]
pub async fn dockerconfig(
    caller: Caller,
    state: web::Data<AppState>,
    serving: web::Data<ServingLog>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let opened = fetch(caller, &state, &serving, path.into_inner(), Kind::ImagePull).await?;
    let body = opened.dockerconfig()?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// A Git Sync secret's SSH private key, its bytes as the manifest's `ssh`
/// holds them. A cluster token gets it for a delivered secret.
#[utoipa::path(operation_id = "secrets_ssh_key", get, path = "/api/v1/secrets/{name}/ssh-key", tag = "secrets",
    params(("name" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = String),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn ssh_key(
    caller: Caller,
    state: web::Data<AppState>,
    serving: web::Data<ServingLog>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let opened = fetch(caller, &state, &serving, path.into_inner(), Kind::GitSync).await?;
    let body = opened.ssh_key()?.to_owned();
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(body))
}

/// Runs "Test login" against the registry (10 s at most) and keeps the result.
#[utoipa::path(operation_id = "secrets_test", post, path = "/api/v1/secrets/{name}/test", tag = "secrets",
    params(("name" = String, Path)),
    responses((status = 200, body = TestResult), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn test(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let admin = caller.admin_write()?;
    let outcome = export::run_test_login(
        &state,
        &admin,
        path.into_inner(),
        crate::lifecycle::CheckMode::Manual,
    )
    .await?;
    Ok(common::json(
        StatusCode::OK,
        &TestResult {
            ok: outcome.result.ok,
            message: outcome.result.message,
            checked_at: rfc3339(outcome.checked_at),
        },
    ))
}
