//! The JSON API under `/api/v1/`: what an administrator does in the
//! browser, for programs holding a personal access token. Handlers differ
//! from the pages' only in how they read input and write output: the same
//! parsers, store functions and audited writes. `GET /api/v1/openapi.json`
//! describes it, generated from these handlers and types.

mod audit;
mod clusters;
mod common;
mod groups;
mod images;
pub mod metrics;
mod schema;
mod secrets;

use actix_web::error::JsonPayloadError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::web::Problem;

/// The OpenAPI 3.1 document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wharf API",
        description = "Image pull secrets, SSH keys and the image catalogue of a Kubernetes ML platform. \
            Every request takes `Authorization: Bearer <token>` (make one under API tokens). \
            Errors are application/problem+json.",
    ),
    paths(
        secrets::list, secrets::create, secrets::get, secrets::patch, secrets::delete,
        secrets::manifest, secrets::dockerconfig, secrets::test,
        images::list, images::create, images::get, images::patch, images::delete,
        images::catalogue, audit::list,
        groups::list, groups::create, groups::get, groups::patch, groups::delete,
        secrets::ssh_key, clusters::credentials,
        clusters::list, clusters::create, clusters::get, clusters::delete, clusters::rotate_token,
        clusters::kubelet_config, clusters::external_secrets,
    ),
    components(schemas(
        common::Direction, secrets::ManifestFormat,
        crate::secrets::store::SecretSort, crate::secrets::store::Attention,
        crate::images::store::ImageSort, crate::images::store::CatalogueSort,
        crate::groups::store::GroupSort, audit::Newest,
    )),
    security(("token" = [])),
    modifiers(&Conventions),
)]
pub struct ApiDoc;

/// What every operation shares, added to the generated document: the
/// bearer scheme, problem bodies as `application/problem+json`, and the
/// statuses any request can get (400 for an unreadable query, 429 when an
/// address made too many failed attempts).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let problem = || {
            utoipa::openapi::ResponseBuilder::new()
                .description("A problem (RFC 9457).")
                .content(
                    "application/problem+json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut op.responses.responses;
                for (status, response) in responses.iter_mut() {
                    if status.starts_with('4') || status.starts_with('5') {
                        *response = problem().into();
                    }
                }
                for status in ["400", "429"] {
                    responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem().into());
                }
            }
        }
    }
}

/// `GET /api/v1/openapi.json`: no token needed.
async fn openapi() -> HttpResponse {
    match ApiDoc::openapi().to_json() {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Err(e) => Problem::from(crate::error::AppError::internal(e)).into(),
    }
}

impl From<Problem> for HttpResponse {
    fn from(p: Problem) -> Self {
        actix_web::ResponseError::error_response(&p)
    }
}

/// A resource's methods, and 405 with `Allow` for the others.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        HttpResponse::from(Problem::method_not_allowed(allow))
    }))
}

/// Reading a JSON body: 415 for another content type, 413 past the limit,
/// 400 for what is not JSON, 422 naming the field for wrong fields.
fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(crate::web::MAX_BODY)
        .content_type(|mime| {
            mime.subtype() == actix_web::mime::JSON || mime.suffix() == Some(actix_web::mime::JSON)
        })
        .error_handler(|e, _| {
            let problem = match &e {
                JsonPayloadError::ContentType => Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Send JSON, with Content-Type: application/json.",
                ),
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.")
                }
                JsonPayloadError::Deserialize(d) if d.is_data() => Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("The body does not fit: {d}."),
                ),
                other => Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!("The body is not JSON: {other}."),
                ),
            };
            problem.into()
        })
}

/// Every route under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(json_config())
            .app_data(
                web::PathConfig::default()
                    .error_handler(|_, _| Problem::not_found("There is no such resource.").into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!("The query cannot be read: {e}."),
                )
                .into()
            }))
            .service(
                resource("/openapi.json", "GET")
                    .route(web::get().to(openapi))
                    .route(web::head().to(openapi)),
            )
            .service(
                resource("/secrets", "GET, POST")
                    .route(web::get().to(secrets::list))
                    .route(web::head().to(secrets::list))
                    .route(web::post().to(secrets::create)),
            )
            .service(
                resource("/secrets/{name}", "GET, PATCH, DELETE")
                    .route(web::get().to(secrets::get))
                    .route(web::head().to(secrets::get))
                    .route(web::patch().to(secrets::patch))
                    .route(web::delete().to(secrets::delete)),
            )
            .service(
                resource("/secrets/{name}/manifest", "GET")
                    .route(web::get().to(secrets::manifest))
                    .route(web::head().to(secrets::manifest)),
            )
            .service(
                resource("/secrets/{name}/dockerconfig", "GET")
                    .route(web::get().to(secrets::dockerconfig))
                    .route(web::head().to(secrets::dockerconfig)),
            )
            .service(resource("/secrets/{name}/test", "POST").route(web::post().to(secrets::test)))
            .service(
                resource("/secrets/{name}/ssh-key", "GET")
                    .route(web::get().to(secrets::ssh_key))
                    .route(web::head().to(secrets::ssh_key)),
            )
            .service(
                resource("/credentials", "GET")
                    .route(web::get().to(clusters::credentials))
                    .route(web::head().to(clusters::credentials)),
            )
            .service(
                resource("/clusters", "GET, POST")
                    .route(web::get().to(clusters::list))
                    .route(web::head().to(clusters::list))
                    .route(web::post().to(clusters::create)),
            )
            .service(
                resource("/clusters/{name}", "GET, DELETE")
                    .route(web::get().to(clusters::get))
                    .route(web::head().to(clusters::get))
                    .route(web::delete().to(clusters::delete)),
            )
            .service(
                resource("/clusters/{name}/token", "POST")
                    .route(web::post().to(clusters::rotate_token)),
            )
            .service(
                resource("/clusters/{name}/kubelet-config", "GET")
                    .route(web::get().to(clusters::kubelet_config))
                    .route(web::head().to(clusters::kubelet_config)),
            )
            .service(
                resource("/clusters/{name}/external-secrets", "GET")
                    .route(web::get().to(clusters::external_secrets))
                    .route(web::head().to(clusters::external_secrets)),
            )
            .service(
                resource("/images", "GET, POST")
                    .route(web::get().to(images::list))
                    .route(web::head().to(images::list))
                    .route(web::post().to(images::create)),
            )
            .service(
                resource("/images/{name}", "GET, PATCH, DELETE")
                    .route(web::get().to(images::get))
                    .route(web::head().to(images::get))
                    .route(web::patch().to(images::patch))
                    .route(web::delete().to(images::delete)),
            )
            .service(
                resource("/groups", "GET, POST")
                    .route(web::get().to(groups::list))
                    .route(web::head().to(groups::list))
                    .route(web::post().to(groups::create)),
            )
            .service(
                resource("/groups/{name}", "GET, PATCH, DELETE")
                    .route(web::get().to(groups::get))
                    .route(web::head().to(groups::get))
                    .route(web::patch().to(groups::patch))
                    .route(web::delete().to(groups::delete)),
            )
            .service(
                resource("/catalogue", "GET")
                    .route(web::get().to(images::catalogue))
                    .route(web::head().to(images::catalogue)),
            )
            .service(
                resource("/audit", "GET")
                    .route(web::get().to(audit::list))
                    .route(web::head().to(audit::list)),
            )
            .default_service(web::to(|| async {
                HttpResponse::from(Problem::not_found("There is no such resource."))
            })),
    );
}
