//! wharf: a self-hosted admin portal for the registry credentials, SSH keys
//! and image catalogue of a Kubernetes ML platform.
//!
//! The binary (`main.rs`) only parses the command line; everything else is
//! here so that tests drive the same code.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod forms;
pub mod images;
pub mod keys;
pub mod kube;
pub mod listing;
pub mod pages;
pub mod routes;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod users;
