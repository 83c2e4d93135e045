//! Accounts: the Users admin area, changing your own password, and the
//! storage both use.

mod account;
mod routes;
pub mod store;

pub use account::{password_form, password_submit};
pub use routes::{create, delete, delete_confirm, edit_form, list, new_form, update};
