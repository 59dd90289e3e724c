//! A signing key's lifecycle state (book § Signing keys): next → active → retiring → retired.

use std::str::FromStr;

use serde::Serialize;
use utoipa::ToSchema;

/// Lifecycle state of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retiring,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }
}

impl FromStr for KeyState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Next, Self::Active, Self::Retiring, Self::Retired]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}
