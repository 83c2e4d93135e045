//! Small routes that belong to no area: health, static files, home.

use actix_web::{HttpResponse, Responder, http::header};

/// `GET /healthz`: `ok` when the process answers. No login, no database.
pub async fn healthz() -> impl Responder {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

/// `GET /static/app.css`, built into the binary.
pub async fn css() -> impl Responder {
    asset("text/css; charset=utf-8", include_str!("../static/app.css"))
}

/// `GET /static/app.js`, built into the binary.
pub async fn js() -> impl Responder {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../static/app.js"),
    )
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type.to_owned())
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

pub use crate::images::routes::catalogue as home;
