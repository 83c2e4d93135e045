//! Accounts, signing in and out, first-run setup, CSRF and the guards that
//! every area's handlers take as extractors. Below the areas: nothing here
//! imports an area.

mod bearer;
mod credentials;
mod csrf;
mod guard;
mod known;
mod routes;
pub mod store;
pub mod throttle;
pub mod tokens;

pub use bearer::{ApiCaller, Caller, ClusterCaller, Presented, identify, person};
pub use credentials::{Checked, Claimant, check as check_password};
pub use csrf::verify_csrf;
pub use guard::{AdminCtx, Gate, live_user};
pub use known::Known;
pub use routes::{UNKNOWN_USER, login_form, login_submit, logout, throttle_key};
