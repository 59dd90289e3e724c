//! Opaque refresh tokens (RFC 9068, book § Endpoints): `tsr_` + base64url of 32 random bytes. The first 16
//! bytes are the family's secret handle, the same in every token of the family and never
//! shown anywhere else; the last 16 are fresh per token. The session id (`sid`, in access
//! and ID tokens, logs and the session list) is a one-way digest of the handle, so knowing
//! a `sid` tells nothing about any token, while rotation still finds the family from the
//! token alone (one Lua call on one hash tag). A family's first token is random; each
//! rotation derives the next one from the token it replaces (an HMAC under a KEK subkey),
//! so a retried rotation answers the same token without storing it. Only SHA-256 of a
//! token is stored.

use crate::domain::FamilyId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

const PREFIX: &str = "tsr_";
/// Domain separation for the handle → sid digest.
const SID_CONTEXT: &[u8] = b"tessera refresh family sid v1\0";

/// A family's secret handle: the first half of each of its tokens.
#[derive(Clone)]
pub struct Handle([u8; 16]);

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handle(REDACTED)")
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Handle {
    /// A new family.
    pub fn generate() -> Self {
        let mut handle = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut handle);
        Handle(handle)
    }

    /// The family's session id: base64url of the first 16 bytes of
    /// SHA-256(context || handle). Preimage resistance keeps the handle secret.
    pub fn sid(&self) -> FamilyId {
        let digest = Sha256::new()
            .chain_update(SID_CONTEXT)
            .chain_update(self.0)
            .finalize();
        FamilyId::from(URL_SAFE_NO_PAD.encode(&digest[..16]))
    }

    /// The family's first token.
    pub fn issue(&self) -> RefreshToken {
        let mut secret = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        self.token(secret)
    }

    /// The token a rotation issues in place of the token hashed `replaced`: derived with
    /// the KEK's refresh subkey, so a retry of the rotation derives the same one.
    pub fn issue_after(&self, kek: &crate::crypto::Kek, replaced: &[u8; 32]) -> RefreshToken {
        self.token(kek.next_refresh_secret(replaced))
    }

    fn token(&self, mut secret: [u8; 16]) -> RefreshToken {
        let mut raw = [0u8; 32];
        raw[..16].copy_from_slice(&self.0);
        raw[16..].copy_from_slice(&secret);
        secret.zeroize();
        let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
        raw.zeroize();
        let sha256 = Sha256::digest(token.as_bytes()).into();
        RefreshToken {
            token: token.into(),
            family_id: self.sid(),
            sha256,
        }
    }
}

/// A refresh token: the secret string and what is stored of it.
pub struct RefreshToken {
    pub token: SecretString,
    /// The family's session id (`sid`).
    pub family_id: FamilyId,
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("family_id", &self.family_id)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    pub fn expose(&self) -> &str {
        self.token.expose_secret()
    }
}

/// A presented token, taken apart.
#[derive(Debug)]
pub struct Presented {
    pub handle: Handle,
    /// The family's session id.
    pub sid: FamilyId,
    pub sha256: [u8; 32],
}

/// Parses a presented token; `None` if it is not one of ours.
pub fn parse(presented: &str) -> Option<Presented> {
    let body = presented.strip_prefix(PREFIX)?;
    if body.len() != 43 {
        return None;
    }
    let mut raw = URL_SAFE_NO_PAD.decode(body).ok()?;
    let handle = Handle(raw.get(..16)?.try_into().ok()?);
    raw.zeroize();
    Some(Presented {
        sid: handle.sid(),
        handle,
        sha256: Sha256::digest(presented.as_bytes()).into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_their_family_and_hash_to_what_is_stored() {
        let handle = Handle::generate();
        let token = handle.issue();
        assert!(token.expose().starts_with("tsr_") && token.expose().len() == 47);
        let parsed = parse(token.expose()).unwrap();
        assert_eq!(parsed.sid, handle.sid());
        assert_eq!(parsed.sid, token.family_id);
        assert_eq!(parsed.sha256, token.sha256);
        let other = handle.issue();
        assert_ne!(other.expose(), token.expose());
        assert_eq!(parse(other.expose()).unwrap().sid, parsed.sid);
        assert!(parse("tsr_short").is_none());
        assert!(parse("xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_none());
    }

    #[test]
    fn the_session_id_shares_no_bytes_with_the_token() {
        let handle = Handle::generate();
        let token = handle.issue();
        let raw = URL_SAFE_NO_PAD.decode(&token.expose()[4..]).unwrap();
        let sid = URL_SAFE_NO_PAD.decode(handle.sid().as_str()).unwrap();
        assert_eq!(sid.len(), 16);
        // no 4-byte run of the sid appears anywhere in the token
        assert!(sid.windows(4).all(|w| !raw.windows(4).any(|r| r == w)));
        assert_eq!(format!("{handle:?}"), "Handle(REDACTED)");
    }
}
