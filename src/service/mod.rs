//! Use-cases (book § Architecture), each written once and called by the HTTP handlers, the admin
//! API and the CLI alike: they take the application state (or the narrow parts they use),
//! speak domain types and errors, and never name an HTTP type.

pub mod abuse;
pub mod access;
pub mod accounts;
pub mod admin;
pub mod audit;
pub mod authorize;
pub mod client_assertion;
pub mod clients;
pub mod consents;
pub mod dpop;
pub mod email;
pub mod feed;
pub mod grants;
pub mod logout;
pub mod mfa;
pub mod outbox;
pub mod passkeys;
pub mod passwords;
pub mod reset;
pub mod revocations;
pub mod rewrap;
pub mod sessions;
pub mod signin;
pub mod transfer;
pub mod upstream;
pub mod watch;
