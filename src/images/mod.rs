//! The Images area: the catalogue of container images, each optionally
//! pulled with an Image Pull secret.

pub mod form;
pub mod ops;
pub mod routes;
mod snapshot;
pub mod store;

use actix_web::web;

/// The area's routes, under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use routes::*;
    cfg.route("/images", web::get().to(list))
        .route("/images", web::post().to(create))
        .route("/images/new", web::get().to(new_form))
        .route("/images/{name}", web::get().to(edit_form))
        .route("/images/{name}", web::post().to(update))
        .route("/images/{name}/delete", web::get().to(delete_confirm))
        .route("/images/{name}/delete", web::post().to(delete));
}
