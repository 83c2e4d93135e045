//! Integration tests: the real app over HTTP, one binary.
#![allow(clippy::unwrap_used)]

mod audit;
mod auth;
mod browser;
mod cli;
mod corpus;
mod delivery;
mod docs;
mod durability;
mod ecr;
mod engine;
mod forwarded;
mod groups;
mod helpers;
mod images;
mod kube;
mod layers;
mod lifecycle;
mod memory;
mod pg;
mod properties;
mod rest;
mod secrets;
mod secrets_api;
mod security;
mod sso;
mod users;
