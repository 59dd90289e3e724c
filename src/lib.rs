//! tessera: an OAuth 2 / OpenID Connect token issuer.

#[macro_use]
mod redact;

pub mod abuse;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod grants;
pub mod http;
pub mod manage;
pub mod metrics;
pub mod mfa;
pub mod notify;
pub mod reset;
pub mod revocation;
pub mod rewrap;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tokens;
