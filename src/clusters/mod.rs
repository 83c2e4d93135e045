//! The Clusters area: clusters that fetch delivered credentials
//! themselves, nodes through kubelet's credential provider plugin
//! (`wharf credential-provider`) and namespaces through External Secrets
//! Operator. A cluster is not a person: its token belongs to it and
//! survives any administrator leaving.

pub mod credentials;
pub mod ops;
pub mod routes;
pub mod serving;
pub mod setup;
pub mod store;

use actix_web::web;

/// The area's routes, under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use routes::*;
    cfg.route("/clusters", web::get().to(list))
        .route("/clusters", web::post().to(create))
        .route("/clusters/new", web::get().to(new_form))
        .route("/clusters/{name}", web::get().to(show))
        .route("/clusters/{name}/token", web::post().to(rotate_token))
        .route(
            "/clusters/{name}/kubelet-config.yaml",
            web::get().to(kubelet_config),
        )
        .route(
            "/clusters/{name}/external-secrets.yaml",
            web::get().to(external_secrets),
        )
        .route("/clusters/{name}/delete", web::get().to(delete_confirm))
        .route("/clusters/{name}/delete", web::post().to(delete));
}
