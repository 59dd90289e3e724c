//! Domain types parsed at the boundary (parse, don't validate): handlers turn input into
//! these, domain functions take only these.

mod client;
pub mod client_keys;
mod email;
mod error;
mod ids;
pub mod methods;
pub mod password;
mod provider;
pub mod redirect;
mod scope;

pub use client::{AuthMethod, Client, ClientId, ClientSecurity, GrantType, NewClient, Profile};
pub use email::Email;
pub use error::{Failure, FieldError, OAuthError, Throttled, EMAIL_NOT_VERIFIED};
pub use ids::{FamilyId, Kid, MessageId, PasskeyId, UserId};
pub use password::Password;
pub use provider::{
    upstream_url_ok, ClaimNames, Provider, ProviderId, ProviderKind, ProviderSettings, TokenAuth,
};
pub use scope::Scope;

/// At most `count` requests per `period`: a rate limit (book § Configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub period: std::time::Duration,
}

/// A user as stored (the password hash stays in the store layer's hands).
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub email_verified: bool,
    pub name: Option<String>,
    pub password_hash: String,
    pub created_at: time::OffsetDateTime,
}

redacted_debug!(User, id, email_verified);

/// The stored password hash of an account without a password (one an upstream sign-in
/// made): not a hash, so no password matches it, and it is never checked as one.
pub const NO_PASSWORD: &str = "!none";

impl User {
    /// Whether the user has a password to sign in with.
    pub fn has_password(&self) -> bool {
        self.password_hash != NO_PASSWORD
    }
}

/// Longest display name (book § Configuration limits).
pub const MAX_NAME_CHARS: usize = 200;

/// A user's display name: trimmed, absent when blank, at most 200 characters and free of
/// control characters (NUL and friends cannot be stored and have no place in a name).
pub fn display_name(input: Option<&str>) -> Result<Option<String>, &'static str> {
    let Some(name) = input.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err("must be at most 200 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(Some(name.to_owned()))
}
