//! Tokens (book § Signing keys, RFC 9068, book § Endpoints): the key ring and its JWKS, JWT access and ID tokens signed by it, verification with an
//! explicit algorithm allowlist, and opaque refresh tokens.

mod claims;
mod jwt;
mod keyring;
pub mod refresh;

pub use claims::{
    AccessClaims, Audience, Confirmation, IdClaims, LogoutClaims, UserInfo, LOGOUT_TOKEN_TYP,
};
pub use jwt::{
    sign, verify_access_token, verify_id_token_hint, verify_with_key, Expected, IdTokenHint,
    InvalidToken, VerifiedTokens, ACCESS_TOKEN_TYP,
};
pub use keyring::{
    ActiveSigner, JwksDocument, KeyRing, KeyRingConfig, KeyRingError, KeyVerifier, PublishedKey,
};
