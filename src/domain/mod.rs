//! Domain types parsed at the boundary (parse, don't validate): handlers turn input into
//! these, domain functions take only these.

mod client;
mod email;
pub mod password;
mod scope;

pub use client::{Client, ClientId, GrantType, NewClient};
pub use email::Email;
pub use password::Password;
pub use scope::Scope;

/// A user as stored (the password hash stays in the store layer's hands).
#[derive(Debug, Clone)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: Email,
    pub email_verified: bool,
    pub name: Option<String>,
    pub password_hash: String,
    pub created_at: time::OffsetDateTime,
}
