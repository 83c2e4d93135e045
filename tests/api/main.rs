//! Integration tests: the real app over HTTP, one binary.

mod auth;
mod browser;
mod helpers;
mod images;
mod kube;
mod secrets;
mod users;
