//! The Groups area: who sees which image, as in PrimeHub. A group has
//! members (users); a non-global image is for the members of its groups.

pub mod form;
pub mod ops;
pub mod routes;
pub mod store;

use actix_web::web;

/// The area's routes, under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use routes::*;
    cfg.route("/groups", web::get().to(list))
        .route("/groups", web::post().to(create))
        .route("/groups/new", web::get().to(new_form))
        .route("/groups/{name}", web::get().to(edit_form))
        .route("/groups/{name}", web::post().to(update))
        .route("/groups/{name}/delete", web::get().to(delete_confirm))
        .route("/groups/{name}/delete", web::post().to(delete));
}
