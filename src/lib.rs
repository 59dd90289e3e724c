//! tessera: an OAuth 2 / OpenID Connect token issuer.

#[macro_use]
mod redact;

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod service;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tokens;
