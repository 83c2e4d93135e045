//! The Users admin area, and changing your own password. Accounts
//! themselves (sign-in, sessions, the `users` table's core) are `auth`'s.

mod account;
pub mod ops;
mod routes;
mod setup;
pub mod sso;
pub mod store;

use actix_web::web;

pub use account::{password_form, password_submit};
pub use setup::{setup_form, setup_submit};

/// The area's routes, under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use routes::*;
    cfg.route("/users", web::get().to(list))
        .route("/users", web::post().to(create))
        .route("/users/new", web::get().to(new_form))
        .route("/users/{username}", web::get().to(edit_form))
        .route("/users/{username}", web::post().to(update))
        .route("/users/{username}/delete", web::get().to(delete_confirm))
        .route("/users/{username}/delete", web::post().to(delete))
        .route("/users/{username}/sso", web::post().to(change_sso))
        .route(
            "/users/{username}/tokens/revoke",
            web::post().to(revoke_tokens),
        );
}
