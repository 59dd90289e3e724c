//! A password in transit: never printed, never logged, dropped after hashing.

use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct Password(SecretString);

/// Longest password accepted anywhere (book § Configuration); longer input is refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

impl Password {
    pub fn new(value: String) -> Self {
        Password(SecretString::from(value))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}
