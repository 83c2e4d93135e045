//! The sign-in pages: `/login` with the password form and single
//! sign-on's button, `/logout`, and single sign-on's start and callback.
//! A skin over `auth` (accounts, sessions, the password check) and `sso`
//! (the provider, its flows and accounts), which neither imports.

mod password;
pub mod sso;

pub use password::{login_form, login_submit, logout};
