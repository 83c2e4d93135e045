//! The Images area: the catalogue of container images, each optionally
//! pulled with an Image Pull secret.

mod form;
pub mod routes;
pub mod store;
