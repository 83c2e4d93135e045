//! Accounts: storage now; the Users admin area comes with roles.

pub mod store;
