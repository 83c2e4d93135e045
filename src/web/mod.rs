//! What every page shares, below the guards that make it: the typed
//! session cookie, the page context, answering with a page (any status) or
//! a redirect, form errors and versions, and the 409 page.

mod form;
mod page;
mod problem;
mod session;

pub use form::{FieldErrors, FormState, FormVersion, redacted};
pub use page::{
    ConfirmDelete, Ctx, CurrentUser, Link, Refused, conflict, download, home, render,
    render_like_last, see_other, unprocessable,
};
pub use problem::Problem;
pub use session::{SessionUser, TypedSession, new_token};

/// The largest request body taken, form or JSON; a larger one is 413.
pub const MAX_BODY: usize = 256 * 1024;
