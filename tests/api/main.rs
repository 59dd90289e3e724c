//! The one integration-test binary (each file under tests/ would link its own).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod abuse;
mod account_security;
mod accounts;
mod admin;
mod admin_api;
mod admin_audit;
mod admin_users;
mod authorize;
mod client_security;
mod config;
mod cookie_session;
mod deploy;
mod discovery;
mod embedded;
mod fuzz;
mod hardening;
mod health;
mod helpers;
mod instances;
mod jwt_attacks;
mod kek;
mod key_import;
mod key_lifecycle;
mod keys;
mod logs;
mod me_sessions;
mod mfa;
mod openapi;
mod outages;
mod postgres_tls;
mod propagation;
mod redis_cluster;
mod redis_settings;
mod redis_tls;
mod refresh_state;
mod reset;
mod reset_tokens;
mod revocation_feed;
mod rotation;
mod store;
mod token_errors;
mod tokens;
mod transfer;
mod verify;
