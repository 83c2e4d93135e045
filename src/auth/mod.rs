//! Signing in and out, first-run setup, the session, CSRF and the guards
//! that every other area's handlers take as extractors.

mod csrf;
mod guard;
mod routes;
mod session;
pub mod throttle;

pub use csrf::verify_csrf;
pub use guard::{AdminCtx, Ctx, CurrentUser};
pub use routes::{
    login_form, login_submit, logout, see_other, setup_form, setup_submit, throttle_key,
};
pub use session::{TypedSession, new_token};
