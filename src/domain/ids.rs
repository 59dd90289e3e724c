//! Identifiers parsed once, at the boundary (an HTTP path, a token's claim, a stored row),
//! and typed from there on: a user id cannot be passed where a session id is expected.
//! `ClientId` lives with the client (`domain::client`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// PostgreSQL reads and writes an id as its inner value (`uuid` or `text`).
macro_rules! postgres_as {
    ($name:ident, $inner:ty) => {
        impl tokio_postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &tokio_postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
            {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <$inner as tokio_postgres::types::ToSql>::accepts(ty)
            }

            tokio_postgres::types::to_sql_checked!();
        }

        impl<'a> tokio_postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                <$inner as tokio_postgres::types::FromSql>::from_sql(ty, raw).map($name)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <$inner as tokio_postgres::types::FromSql>::accepts(ty)
            }
        }
    };
}

/// A random-UUID id, written hyphenated, stored as `uuid` in PostgreSQL and as text in
/// SQLite.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A new random id.
            pub fn generate() -> Self {
                $name(uuid::Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> &uuid::Uuid {
                &self.0
            }

            /// Its 16 bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                $name(id)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        postgres_as!($name, uuid::Uuid);
    };
}

uuid_id!(
    /// A user's id (`sub` of user tokens).
    UserId
);

uuid_id!(
    /// A passkey's id in tessera (the API's `{id}`), not its WebAuthn credential id.
    PasskeyId
);

uuid_id!(
    /// A message in the outbox (book § Email).
    MessageId
);

/// A text id: built from stored or derived text (a presented one is checked where it is
/// presented), read as `str`, and stored as text in every backend.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        /// Read as text where it is written out (a key, a column, a log field).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        /// Looked up by the text presented (a token header's `kid`, a path segment).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        postgres_as!($name, String);

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.0.as_str()))
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                String::column_result(value).map($name)
            }
        }

        impl redis::ToRedisArgs for $name {
            fn write_redis_args<W>(&self, out: &mut W)
            where
                W: ?Sized + redis::RedisWrite,
            {
                out.write_arg(self.0.as_bytes());
            }
        }
    };
}

text_id!(
    /// A session's id (`sid`): the refresh-token family's id, derived from its secret handle.
    FamilyId
);

text_id!(
    /// A signing key's id (`kid`, RFC 7515 §4.1.4).
    Kid
);
