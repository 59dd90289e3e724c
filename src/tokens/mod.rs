//! Tokens (SPEC S4): JWT access and ID tokens signed by the key ring, verification with an
//! explicit algorithm allowlist, and opaque refresh tokens.

mod claims;
mod jwt;
pub mod refresh;

pub use claims::{AccessClaims, Audience, IdClaims};
pub use jwt::{sign, verify_access_token, InvalidToken, VerifiedTokens, ACCESS_TOKEN_TYP};
