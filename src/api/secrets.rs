//! `/api/v1/secrets`: the Secrets area for programs. The same parsing,
//! store and audited writes as the pages; never a password or key, except
//! in the manifest and docker config downloads, which exist to carry them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{self, ListParams, Paged, Patch, rfc3339};
use super::schema;
use crate::auth::{ApiCaller, Caller};
use crate::clusters::serving::ServingLog;
use crate::db;
use crate::domain::{
    AccessKeyId, EcrEndpoint, Namespace, NodePattern, RegistryHost, RegistryUsername, SecretValue,
    SshPrivateKey, parse_secret_access_key,
};
use crate::listing::{Listing, QueryPairs};
use crate::metrics::CredentialResult;
use crate::secrets::export;
use crate::secrets::form::SecretForm;
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
/// Pull, `secret` (an SSH private key) for Git Sync. Its schema is one
/// object per type ([`schema::secret_create`]); fields a type does not take
/// are refused by the schema and ignored here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretCreate {
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub registry_host: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub secret: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub endpoint: Option<String>,
    /// When the credential stops working (UTC date, `YYYY-MM-DD`).
    pub expires_on: Option<String>,
    /// Served to clusters (default false).
    #[serde(default)]
    pub deliver: bool,
    /// Image Pull only: kubelet `matchImages` patterns.
    pub node_patterns: Option<Vec<String>>,
}

/// Patterns from the API as the form's lines; one with a line break in it
/// would be two, so it is refused.
fn pattern_lines(patterns: &[String]) -> Result<String, Problem> {
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

impl SecretCreate {
    /// The form it fills; a field of the other type is a 422 naming it,
    /// as the schema's `oneOf` says.
    fn into_form(self) -> Result<SecretForm, Problem> {
        let ecr_fields = [
            ("access_key_id", self.access_key_id.is_some()),
            ("secret_access_key", self.secret_access_key.is_some()),
            ("endpoint", self.endpoint.is_some()),
        ];
        let foreign = match Kind::parse(&self.kind) {
            Some(Kind::ImagePull) => [("secret", self.secret.is_some())]
                .into_iter()
                .chain(ecr_fields)
                .collect(),
            Some(Kind::GitSync) => [
                ("registry_host", self.registry_host.is_some()),
                ("username", self.username.is_some()),
                ("password", self.password.is_some()),
                ("node_patterns", self.node_patterns.is_some()),
            ]
            .into_iter()
            .chain(ecr_fields)
            .collect(),
            Some(Kind::Ecr) => vec![
                ("username", self.username.is_some()),
                ("password", self.password.is_some()),
                ("secret", self.secret.is_some()),
            ],
            None => Vec::new(),
        };
        if let Some((field, _)) = foreign.into_iter().find(|(_, given)| *given) {
            return Err(Problem::invalid_field(
                field,
                format!("{field} is not a field of a {} secret.", self.kind),
            ));
        }
        Ok(SecretForm {
            name: self.name,
            display_name: self.display_name,
            kind: self.kind,
            registry_host: self.registry_host.unwrap_or_default(),
            username: self.username.unwrap_or_default(),
            password: self.password.unwrap_or_default(),
            secret: self.secret.unwrap_or_default(),
            access_key_id: self.access_key_id.unwrap_or_default(),
            secret_access_key: self.secret_access_key.unwrap_or_default(),
            endpoint: self.endpoint.unwrap_or_default(),
            expires_on: self.expires_on.unwrap_or_default(),
            deliver: self.deliver.then(|| "on".to_owned()),
            node_patterns: pattern_lines(&self.node_patterns.unwrap_or_default())?,
            ..SecretForm::default()
        })
    }
}

impl utoipa::PartialSchema for SecretCreate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::secret_create()
    }
}

impl ToSchema for SecretCreate {}

/// A JSON merge patch of a secret's mutable fields; an absent password or
/// key keeps the stored one, `null` clears the display name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretPatch {
    #[serde(default)]
    #[schema(schema_with = schema::display_name_patch)]
    pub display_name: Patch<String>,
    /// Image Pull only.
    #[serde(default)]
    #[schema(schema_with = schema::registry_host)]
    pub registry_host: Patch<String>,
    /// Image Pull only.
    #[serde(default)]
    #[schema(schema_with = schema::registry_username)]
    pub username: Patch<String>,
    /// Image Pull only.
    #[serde(default)]
    #[schema(schema_with = schema::password)]
    pub password: Patch<String>,
    /// Git Sync only.
    #[serde(default)]
    #[schema(schema_with = schema::ssh_key)]
    pub secret: Patch<String>,
    /// Amazon ECR only.
    #[serde(default)]
    #[schema(schema_with = schema::access_key_id)]
    pub access_key_id: Patch<String>,
    /// Amazon ECR only; write-only.
    #[serde(default)]
    #[schema(schema_with = schema::secret_access_key)]
    pub secret_access_key: Patch<String>,
    /// Amazon ECR only; `null`: the region's own.
    #[serde(default)]
    #[schema(schema_with = schema::ecr_endpoint)]
    pub endpoint: Patch<String>,
    /// `null` clears it.
    #[serde(default)]
    #[schema(schema_with = schema::expires_on_patch)]
    pub expires_on: Patch<String>,
    /// Served to clusters.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub deliver: Patch<bool>,
    /// Image Pull only; replaces the list (`null` or `[]`: the registry's
    /// host).
    #[serde(default)]
    #[schema(schema_with = schema::node_patterns_patch)]
    pub node_patterns: Patch<Vec<String>>,
}

impl SecretPatch {
    /// A field of the other type is not applied (a patch does not say
    /// which type it expects), but its text must still be what the
    /// document says: a 422 otherwise, as for the secret's own fields. A
    /// password or key that is given is never empty (leave it out to keep
    /// the stored one).
    fn check_shape(&self, kind: Kind) -> Result<(), Problem> {
        let set = |p: &Patch<String>| match p {
            Patch::Set(v) => Some(v.clone()),
            _ => None,
        };
        type Parse = fn(&str) -> Result<(), String>;
        let mut checks: Vec<(&str, Option<String>, Parse)> = vec![
            ("password", set(&self.password), |v| {
                SecretValue::parse_password(v).map(drop)
            }),
            ("secret", set(&self.secret), |v| {
                SshPrivateKey::parse(v).map(drop)
            }),
            ("secret_access_key", set(&self.secret_access_key), |v| {
                parse_secret_access_key(v).map(drop)
            }),
        ];
        if kind != Kind::Ecr {
            checks.push(("access_key_id", set(&self.access_key_id), |v| {
                AccessKeyId::parse(v).map(drop)
            }));
            checks.push(("endpoint", set(&self.endpoint), |v| {
                EcrEndpoint::parse_optional(v).map(drop)
            }));
        }
        if kind == Kind::Ecr {
            checks.push(("username", set(&self.username), |v| {
                RegistryUsername::parse(v).map(drop)
            }));
        }
        if kind == Kind::GitSync {
            checks.push(("registry_host", set(&self.registry_host), |v| {
                RegistryHost::parse(v).map(drop)
            }));
            checks.push(("username", set(&self.username), |v| {
                RegistryUsername::parse(v).map(drop)
            }));
        }
        if let (Kind::GitSync, Patch::Set(list)) = (kind, &self.node_patterns) {
            NodePattern::parse_lines(&pattern_lines(list)?)
                .map_err(|m| Problem::invalid_field("node_patterns", m))?;
        }
        for (field, value, parse) in checks {
            if let Some(v) = value {
                parse(&v).map_err(|m| Problem::invalid_field(field, m))?;
            }
        }
        Ok(())
    }
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
    presented.some_token()?;
    // Read now, told after the token and the role (401 and 403 first).
    let listing = common::listing::<store::SecretSort>(&query, "/api/v1/secrets");
    let attention =
        Listing::filter::<store::Attention>(&query, true).map_err(|e| Problem::invalid(&e));
    // From memory when the token and the page are known at the stamp now.
    if let (Some(caller), Ok(l), Ok(a)) = (presented.recall(), &listing, &attention) {
        crate::auth::person(Ok(caller), &state.metrics)?.admin()?;
        if let Some(page) = presented
            .seen()
            .and_then(|now| store::list_kept(&cache, l, *a, now))
        {
            state.metrics.list_read(true);
            return list_answer(page);
        }
    }
    let st = state.clone();
    // Else the token and the page in one hop.
    let page = db::run(&state.pool, move |c| {
        let seen = presented.seen();
        let caller = crate::auth::person(crate::auth::identify(c, &presented), &st.metrics);
        let asked = caller
            .and_then(|caller| caller.admin())
            .and_then(|_| Ok((listing?, attention?)));
        Ok(match asked {
            Ok((listing, attention)) => Ok(store::list(c, &cache, listing, attention, seen)?),
            Err(problem) => Err(problem),
        })
    })
    .await??;
    state.metrics.list_read(false);
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
    let b: SecretCreate = common::object(body.into_inner())?;
    let form = b.into_form()?;
    let name = ops::create(&state, &admin, &form).await?;
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
    let p: SecretPatch = common::object(body.into_inner())?;
    p.check_shape(secret.kind)?;
    let form = SecretForm {
        name: secret.name.clone(),
        kind: secret.kind.as_str().into(),
        display_name: p.display_name.apply(&secret.display_name),
        registry_host: p.registry_host.apply_required(
            "registry_host",
            secret.registry_host.as_deref().unwrap_or(""),
        )?,
        username: p
            .username
            .apply_required("username", secret.username.as_deref().unwrap_or(""))?,
        password: p.password.apply_required("password", "")?,
        secret: p.secret.apply_required("secret", "")?,
        access_key_id: p.access_key_id.apply_required(
            "access_key_id",
            if secret.kind == Kind::Ecr {
                secret.username.as_deref().unwrap_or("")
            } else {
                ""
            },
        )?,
        secret_access_key: p
            .secret_access_key
            .apply_required("secret_access_key", "")?,
        endpoint: p.endpoint.apply(secret.endpoint.as_deref().unwrap_or("")),
        expires_on: p
            .expires_on
            .apply(secret.expires_on.as_deref().unwrap_or("")),
        deliver: match p.deliver {
            Patch::Keep => secret.deliver,
            Patch::Set(d) => d,
            Patch::Clear => {
                return Err(Problem::invalid_field("deliver", "deliver cannot be null."));
            }
        }
        .then(|| "on".to_owned()),
        node_patterns: match p.node_patterns {
            // A Git Sync key has none; what was given is checked above.
            _ if secret.kind == Kind::GitSync => String::new(),
            Patch::Keep => secret.node_patterns.clone(),
            Patch::Clear => String::new(),
            Patch::Set(list) => pattern_lines(&list)?,
        },
        ..SecretForm::default()
    };
    // Without If-Match the version read above is the one changed.
    let expected = common::if_match(&req).unwrap_or(secret.version);
    ops::update(&state, &admin, &secret, &form, expected).await?;
    let (secret, used_by) = load(&state, secret.name).await?;
    Ok(one(StatusCode::OK, secret, used_by))
}

/// Delete a secret; 409 names the images that use it.
#[utoipa::path(operation_id = "secrets_delete", delete, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)),
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
        (status = 422, body = Problem)),
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
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
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
