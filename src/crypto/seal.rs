//! AES-256-GCM sealing of private signing keys under the key-encryption key (SPEC S3).
//!
//! Format: `0x01 || nonce(12) || ciphertext+tag`; the kid is bound as associated data, so a
//! sealed blob moved to another row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The 32-byte key-encryption key. Never printed.
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(REDACTED)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the key-encryption key does not open this sealed key")]
    WrongKey,
    #[error("sealed key is malformed")]
    Malformed,
}

impl Kek {
    /// Placeholder used only while collecting configuration errors.
    pub(crate) fn zero() -> Self {
        Kek([0; 32])
    }

    /// Parses base64 of exactly 32 bytes that look random.
    pub fn from_base64(value: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(value.trim())
            .map_err(|_| "must be base64 (standard alphabet) of 32 random bytes".to_owned())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("must decode to exactly 32 bytes, got {}", b.len()))?;
        // 32 random bytes have ~30 distinct values; fewer than 16 means a typed or padded key
        let mut seen = [false; 256];
        key.iter().for_each(|b| seen[usize::from(*b)] = true);
        if seen.iter().filter(|s| **s).count() < 16 {
            return Err("does not look like 32 random bytes (too many repeated bytes); generate one with `openssl rand -base64 32`".into());
        }
        Ok(Kek(key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }

    /// Seals `plaintext`, binding it to `aad` (the kid).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // encryption with a valid 32-byte key and 12-byte nonce cannot fail for our sizes
        let ciphertext = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a blob made by `seal` with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SealError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(seed: u8) -> Kek {
        let bytes: Vec<u8> = (0..32u8)
            .map(|i| i.wrapping_mul(7).wrapping_add(seed))
            .collect();
        Kek::from_base64(&STANDARD.encode(bytes)).unwrap()
    }

    #[test]
    fn sealed_key_opens_only_with_the_same_kek_and_kid() {
        let sealed = kek(1).seal(b"private", b"kid-1");
        assert_eq!(kek(1).open(&sealed, b"kid-1").unwrap(), b"private");
        assert_eq!(kek(2).open(&sealed, b"kid-1"), Err(SealError::WrongKey));
        assert_eq!(kek(1).open(&sealed, b"kid-2"), Err(SealError::WrongKey));
        assert!(!sealed.windows(7).any(|w| w == b"private"));
    }

    #[test]
    fn kek_must_be_32_random_looking_bytes() {
        assert!(Kek::from_base64(&STANDARD.encode([7u8; 32])).is_err());
        assert!(Kek::from_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(Kek::from_base64("not base64!").is_err());
        assert_eq!(format!("{:?}", kek(3)), "Kek(REDACTED)");
    }
}
