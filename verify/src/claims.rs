//! The claims of a verified access token.

use serde::{Deserialize, Serialize};

/// The claims of a verified access token (RFC 9068, as tessera issues them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    pub jti: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: Option<String>,
    /// The session (refresh family) of a user's token.
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub auth_time: Option<i64>,
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// The key a DPoP-bound token is bound to (RFC 9449 §6).
    #[serde(default)]
    pub cnf: Option<Confirmation>,
    /// The signing key (from the header).
    #[serde(skip)]
    pub kid: String,
    /// Any other claims.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// Whether the token's `scope` includes `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == scope))
    }
}

/// `cnf` (RFC 7800) with the JWK thumbprint of a DPoP key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    pub jkt: String,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}
