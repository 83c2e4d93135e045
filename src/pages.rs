//! Pages shared by several areas.

use askama::Template;
use askama_web::WebTemplate;

use crate::auth::Ctx;

/// A refused action (409): says why and names what is in the way, with no
/// way to go ahead.
#[derive(Template, WebTemplate)]
#[template(path = "refused.html")]
pub struct Refused {
    pub ctx: Ctx,
    pub title: String,
    pub message: String,
    /// (link, label) of each thing in the way.
    pub items: Vec<(String, String)>,
    /// Where "Back" goes.
    pub back: String,
}
