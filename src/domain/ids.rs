//! Identifiers parsed once, at the boundary (an HTTP path, a token's claim, a stored row),
//! and typed from there on: a user id cannot be passed where a session id is expected.
//! `ClientId` lives with the client (`domain::client`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A user's id: a random UUID, written hyphenated (`sub` of user tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(uuid::Uuid);

impl UserId {
    /// A new random id.
    pub fn generate() -> Self {
        UserId(uuid::Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }

    /// Its 16 bytes (binds a sealed secret to its user).
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl From<uuid::Uuid> for UserId {
    fn from(id: uuid::Uuid) -> Self {
        UserId(id)
    }
}

impl FromStr for UserId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(UserId)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// PostgreSQL stores it as `uuid`, as it stores a plain UUID.
mod postgres {
    use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

    use super::UserId;

    type BoxError = Box<dyn std::error::Error + Sync + Send>;

    impl ToSql for UserId {
        fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
            self.0.to_sql(ty, out)
        }

        fn accepts(ty: &Type) -> bool {
            <uuid::Uuid as ToSql>::accepts(ty)
        }

        to_sql_checked!();
    }

    impl<'a> FromSql<'a> for UserId {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
            uuid::Uuid::from_sql(ty, raw).map(UserId)
        }

        fn accepts(ty: &Type) -> bool {
            <uuid::Uuid as FromSql>::accepts(ty)
        }
    }
}

/// A session's id (`sid`): the refresh-token family's id, derived from its secret handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FamilyId(String);

impl FamilyId {
    /// An id as stored or derived; a presented one is checked by `tokens::refresh::parse`.
    pub fn new(id: String) -> Self {
        FamilyId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FamilyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A signing key's id (`kid`, RFC 7515 §4.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Kid(String);

impl Kid {
    pub fn new(id: String) -> Self {
        Kid(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
