//! The Secrets area: image pull credentials, Git Sync SSH keys and Amazon
//! ECR access keys.

pub mod export;
pub mod fields;
pub mod form;
pub mod ops;
pub mod refresh;
pub mod routes;
pub mod schedule;
pub mod store;

use actix_web::web;

/// The area's routes, under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use routes::*;
    cfg.route("/secrets", web::get().to(list))
        .route("/secrets", web::post().to(create))
        .route("/secrets/new", web::get().to(new_form))
        .route("/secrets/export.yaml", web::get().to(export::export_all))
        .route(
            "/secrets/{name}/manifest.yaml",
            web::get().to(export::manifest_yaml),
        )
        .route(
            "/secrets/{name}/manifest.json",
            web::get().to(export::manifest_json),
        )
        .route(
            "/secrets/{name}/dockerconfig.json",
            web::get().to(export::dockerconfig),
        )
        .route("/secrets/{name}/test", web::post().to(export::test_login))
        .route("/secrets/{name}", web::get().to(edit_form))
        .route("/secrets/{name}", web::post().to(update))
        .route("/secrets/{name}/delete", web::get().to(delete_confirm))
        .route("/secrets/{name}/delete", web::post().to(delete));
}
