//! tessera: an OAuth 2 / OpenID Connect token issuer.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod startup;
pub mod store;
pub mod telemetry;
