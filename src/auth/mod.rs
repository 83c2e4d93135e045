//! Accounts, sessions, the password check, throttling, tokens, CSRF and
//! the guards that every area's handlers take as extractors. Below the
//! areas and single sign-on: nothing here imports them (the sign-in pages
//! are `signin`'s).

mod bearer;
mod credentials;
mod csrf;
mod guard;
mod known;
mod proof;
pub mod store;
pub mod throttle;
pub mod tokens;

pub use bearer::{ApiCaller, Caller, ClusterCaller, Presented, cluster_actor, identify, person};
pub use credentials::UNKNOWN_USER;
pub use credentials::{Checked, Claimant, check as check_password};
pub use csrf::verify_csrf;
pub use guard::{AdminCtx, Gate, UserCtx, keep_navigation_on_errors, live_user};
pub use known::Known;
pub use proof::{Admin, AdminRead, Member, check_setup_link};
pub use throttle::throttle_key;
