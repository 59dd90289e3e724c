//! Opaque refresh tokens (SPEC S4): `tsr_` + base64url of 32 random bytes. The first 16
//! bytes are the (random) family id, so the family's Redis keys can share a hash tag and
//! rotation stays one Lua call; the last 16 are fresh per token. Only SHA-256 is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const PREFIX: &str = "tsr_";

/// A refresh token: the secret string and what is stored of it.
pub struct RefreshToken {
    pub token: SecretString,
    pub family_id: String,
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("family_id", &self.family_id)
            .finish_non_exhaustive()
    }
}

/// A new family id (base64url of 16 random bytes).
pub fn new_family_id() -> String {
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut id);
    URL_SAFE_NO_PAD.encode(id)
}

/// A new token in `family_id`.
pub fn issue(family_id: &str) -> Option<RefreshToken> {
    let id = URL_SAFE_NO_PAD
        .decode(family_id)
        .ok()
        .filter(|b| b.len() == 16)?;
    let mut raw = [0u8; 32];
    raw[..16].copy_from_slice(&id);
    rand::rngs::OsRng.fill_bytes(&mut raw[16..]);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let sha256 = Sha256::digest(token.as_bytes()).into();
    Some(RefreshToken {
        token: token.into(),
        family_id: family_id.to_owned(),
        sha256,
    })
}

/// Parses a presented token into (family id, SHA-256); `None` if it is not one of ours.
pub fn parse(presented: &str) -> Option<(String, [u8; 32])> {
    let body = presented.strip_prefix(PREFIX)?;
    if body.len() != 43 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(body).ok()?;
    let family_id = URL_SAFE_NO_PAD.encode(raw.get(..16)?);
    Some((family_id, Sha256::digest(presented.as_bytes()).into()))
}

impl RefreshToken {
    pub fn expose(&self) -> &str {
        self.token.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_family_and_hash_to_what_is_stored() {
        let family = new_family_id();
        let token = issue(&family).unwrap();
        assert!(token.expose().starts_with("tsr_") && token.expose().len() == 47);
        let (parsed_family, hash) = parse(token.expose()).unwrap();
        assert_eq!(parsed_family, family);
        assert_eq!(hash, token.sha256);
        let other = issue(&family).unwrap();
        assert_ne!(other.expose(), token.expose());
        assert!(parse("tsr_short").is_none());
        assert!(parse("xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_none());
    }
}
