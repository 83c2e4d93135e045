//! What every page shares, below the guards that make it: the typed
//! session cookie, the page context, answering with a page (any status) or
//! a redirect, form errors and versions, and the 409 page.

mod form;
mod page;
mod problem;
mod session;

pub use form::{FieldErrors, FormState, FormVersion, redacted};
pub use page::{
    ConfirmDelete, Ctx, CurrentUser, Link, Refused, conflict, render, see_other, unprocessable,
};
pub use problem::Problem;
pub use session::{SessionUser, TypedSession, new_token};

/// An admin list page and its `GET` handler `list`: the template, the row
/// type, the page's path, the sort keys and the area's query. Expands in
/// the area's routes module, which names its own `AdminCtx` guard.
macro_rules! admin_list {
    ($template:literal, $row:ty, $base:literal, $sorts:expr, $query:path) => {
        #[derive(askama::Template, askama_web::WebTemplate)]
        #[template(path = $template)]
        struct ListPage {
            ctx: $crate::web::Ctx,
            page: $crate::listing::Page<$row>,
        }

        #[doc = concat!("`GET ", $base, "`")]
        pub async fn list(
            ctx: AdminCtx,
            state: actix_web::web::Data<$crate::state::AppState>,
            query: $crate::listing::QueryPairs,
        ) -> Result<impl actix_web::Responder, $crate::error::AppError> {
            let page = $crate::listing::load(&state.pool, &query, $base, $sorts, $query).await?;
            Ok(ListPage { ctx: ctx.0, page })
        }
    };
}
pub(crate) use admin_list;
