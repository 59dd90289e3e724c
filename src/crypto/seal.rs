//! AES-256-GCM sealing under the key-encryption key (book § Signing keys): private signing keys and TOTP
//! secrets; and the keyed derivation of a rotation's next refresh token.
//!
//! The KEK itself seals nothing. Each purpose has its own subkey, derived with
//! HKDF-SHA-256 (`info` = the purpose's label), so no single AES-GCM key seals an unbounded
//! number of random-nonce messages across purposes, and a blob of one purpose never opens
//! as another. Refresh rotation seals nothing at all: the token a rotation issues is an HMAC
//! (under its own subkey) of the token it replaces, so a retry within the grace window is
//! answered by deriving the same token again, and no blob is kept or sealed per rotation. Format: `0x02 || nonce(12) || ciphertext+tag`, the row's identity (kid, user
//! id, family id) bound as associated data. Blobs of format `0x01` (sealed directly under
//! the KEK by earlier versions) still open for signing keys and TOTP secrets; `tessera keys
//! rewrap` re-seals them in the current format.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

const LEGACY: u8 = 1;
const VERSION: u8 = 2;
const NONCE_LEN: usize = 12;
const HKDF_SALT: &[u8] = b"tessera kek subkeys";

/// What a sealed blob holds; each has its own subkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SigningKey,
    TotpSecret,
    /// A message waiting in the outbox (it may carry a link's token).
    OutboxMessage,
    /// An upstream identity provider's client secret.
    ProviderSecret,
}

impl Purpose {
    const ALL: [Purpose; 4] = [
        Purpose::SigningKey,
        Purpose::TotpSecret,
        Purpose::OutboxMessage,
        Purpose::ProviderSecret,
    ];

    fn label(self) -> &'static [u8] {
        match self {
            Purpose::SigningKey => b"tessera/v2/signing-key",
            Purpose::TotpSecret => b"tessera/v2/totp-secret",
            Purpose::OutboxMessage => b"tessera/v2/outbox-message",
            Purpose::ProviderSecret => b"tessera/v2/provider-secret",
        }
    }

    fn index(self) -> usize {
        match self {
            Purpose::SigningKey => 0,
            Purpose::TotpSecret => 1,
            Purpose::OutboxMessage => 2,
            Purpose::ProviderSecret => 3,
        }
    }
}

/// HKDF label of the refresh-rotation MAC key.
const REFRESH_LABEL: &[u8] = b"tessera/v2/refresh-rotation";

/// The 32-byte key-encryption key and its per-purpose subkeys. Never printed; every copy
/// of the key bytes is wiped when dropped (the ciphers through aes-gcm's `zeroize`).
#[derive(Clone)]
pub struct Kek {
    master: Zeroizing<[u8; 32]>,
    subkeys: [Aes256Gcm; 4],
    /// Keys the derivation of a rotation's next refresh token (see `next_refresh_secret`).
    refresh_mac: Hmac<Sha256>,
}

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
        Self::from_bytes([0; 32])
    }

    fn from_bytes(mut key: [u8; 32]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), &key);
        let subkeys = Purpose::ALL.map(|purpose| {
            let mut subkey = Zeroizing::new([0u8; 32]);
            // 32 bytes is far below HKDF-SHA-256's 8160-byte output limit
            let _ = hkdf.expand(purpose.label(), subkey.as_mut());
            Aes256Gcm::new(subkey.as_ref().into())
        });
        let mut refresh_key = Zeroizing::new([0u8; 32]);
        let _ = hkdf.expand(REFRESH_LABEL, refresh_key.as_mut());
        // HMAC takes keys of any length: this cannot fail
        let refresh_mac = <Hmac<Sha256> as Mac>::new_from_slice(refresh_key.as_ref())
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        let master = Zeroizing::new(key);
        key.zeroize();
        Kek {
            master,
            subkeys,
            refresh_mac,
        }
    }

    /// Parses base64 of exactly 32 bytes that look random.
    pub fn from_base64(value: &str) -> Result<Self, String> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(value.trim())
                .map_err(|_| "must be base64 (standard alphabet) of 32 random bytes".to_owned())?,
        );
        let mut key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("must decode to exactly 32 bytes, got {}", bytes.len()))?;
        // 32 random bytes have ~30 distinct values; fewer than 16 means a typed or padded key
        let mut seen = [false; 256];
        key.iter().for_each(|b| seen[usize::from(*b)] = true);
        let distinct = seen.iter().filter(|s| **s).count();
        seen.zeroize();
        let kek = (distinct >= 16).then(|| Self::from_bytes(key));
        key.zeroize();
        kek.ok_or_else(|| "does not look like 32 random bytes (too many repeated bytes); generate one with `openssl rand -base64 32`".into())
    }

    /// HMAC-SHA-256 of `data` under a key derived from the KEK for `label` alone (the
    /// hosted pages' flow state and CSRF tokens: every instance derives the same key).
    pub fn mac(&self, label: &[u8], data: &[u8]) -> [u8; 32] {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), self.master.as_ref());
        let mut key = Zeroizing::new([0u8; 32]);
        let _ = hkdf.expand(label, key.as_mut());
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The HMAC-SHA-256 that authenticates an export stream: keyed with
    /// HKDF-SHA-256 of the KEK bytes, no salt, info `tessera export v1`, 32 bytes out.
    /// Documented in the manual so another tool holding the KEK can sign a stream too.
    pub fn export_mac(&self) -> Hmac<Sha256> {
        let hkdf = Hkdf::<Sha256>::new(None, self.master.as_ref());
        let mut key = Zeroizing::new([0u8; 32]);
        let _ = hkdf.expand(b"tessera export v1", key.as_mut());
        <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()))
    }

    /// The key as `from_base64` reads it, for the embedded store's `kek` file only.
    pub(crate) fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.master.as_ref()))
    }

    /// Whether two KEKs are the same key (constant time).
    pub fn same_as(&self, other: &Kek) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.master.as_ref().ct_eq(other.master.as_ref()))
    }

    /// The secret half of the refresh token a rotation issues in place of the token whose
    /// SHA-256 is `replaced`: deterministic, so a retry of the same rotation gets the same
    /// token, and unpredictable without the KEK.
    pub fn next_refresh_secret(&self, replaced: &[u8; 32]) -> [u8; 16] {
        let mut mac = self.refresh_mac.clone();
        mac.update(replaced);
        let tag = mac.finalize().into_bytes();
        let mut secret = [0u8; 16];
        secret.copy_from_slice(&tag[..16]);
        secret
    }

    fn legacy_cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.master.as_ref().into())
    }

    /// Seals `plaintext` for `purpose`, binding it to `aad` (the row's identity).
    pub fn seal(&self, purpose: Purpose, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = encrypt(&self.subkeys[purpose.index()], &nonce, plaintext, aad);
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a blob made by `seal` with the same purpose and `aad`.
    pub fn open(&self, purpose: Purpose, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 1 + NONCE_LEN + 16 {
            return Err(SealError::Malformed);
        }
        let cipher = match sealed[0] {
            VERSION => self.subkeys[purpose.index()].clone(),
            LEGACY => self.legacy_cipher(),
            _ => return Err(SealError::Malformed),
        };
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SealError::WrongKey)
    }

    /// Opens `sealed` with this KEK and seals it again under `new` (`keys rewrap`). The
    /// plaintext is wiped before this returns.
    pub fn reseal(
        &self,
        new: &Kek,
        purpose: Purpose,
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let plain = Zeroizing::new(self.open(purpose, sealed, aad)?);
        Ok(new.seal(purpose, &plain, aad))
    }

    /// Seals under the KEK directly, as versions before subkeys did (tests of the upgrade).
    #[cfg(test)]
    pub fn seal_legacy(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = [7u8; NONCE_LEN];
        let ciphertext = encrypt(&self.legacy_cipher(), &nonce, plaintext, aad);
        [&[LEGACY][..], &nonce, &ciphertext].concat()
    }
}

/// AES-256-GCM with `aad`; encryption with a valid 32-byte key and 12-byte nonce cannot
/// fail for our sizes.
fn encrypt(cipher: &Aes256Gcm, nonce: &[u8; NONCE_LEN], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let payload = Payload {
        msg: plaintext,
        aad,
    };
    cipher
        .encrypt(Nonce::from_slice(nonce), payload)
        .unwrap_or_default()
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
    fn sealed_key_opens_only_with_the_same_kek_kid_and_purpose() {
        let sealed = kek(1).seal(Purpose::SigningKey, b"private", b"kid-1");
        assert_eq!(sealed[0], VERSION);
        assert_eq!(
            kek(1).open(Purpose::SigningKey, &sealed, b"kid-1").unwrap(),
            b"private"
        );
        assert_eq!(
            kek(2).open(Purpose::SigningKey, &sealed, b"kid-1"),
            Err(SealError::WrongKey)
        );
        assert_eq!(
            kek(1).open(Purpose::SigningKey, &sealed, b"kid-2"),
            Err(SealError::WrongKey)
        );
        assert_eq!(
            kek(1).open(Purpose::TotpSecret, &sealed, b"kid-1"),
            Err(SealError::WrongKey)
        );
        assert!(!sealed.windows(7).any(|w| w == b"private"));
    }

    #[test]
    fn no_purpose_seals_under_the_kek_itself() {
        let k = kek(1);
        let sealed = k.seal(Purpose::TotpSecret, b"secret", b"user");
        // the raw KEK does not open a subkey blob
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        let raw = k.legacy_cipher().decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: b"user",
            },
        );
        assert!(raw.is_err());
    }

    #[test]
    fn legacy_blobs_open_and_reseal_into_subkey_blobs_under_a_new_kek() {
        let (old, new) = (kek(1), kek(2));
        let legacy = old.seal_legacy(b"private", b"kid-1");
        assert_eq!(
            old.open(Purpose::SigningKey, &legacy, b"kid-1").unwrap(),
            b"private"
        );
        let resealed = old
            .reseal(&new, Purpose::SigningKey, &legacy, b"kid-1")
            .unwrap();
        assert_eq!(resealed[0], VERSION);
        assert_eq!(
            new.open(Purpose::SigningKey, &resealed, b"kid-1").unwrap(),
            b"private"
        );
        assert!(old.open(Purpose::SigningKey, &resealed, b"kid-1").is_err());
        assert_eq!(
            new.reseal(&old, Purpose::SigningKey, &legacy, b"kid-1"),
            Err(SealError::WrongKey)
        );
    }

    #[test]
    fn kek_must_be_32_random_looking_bytes() {
        assert!(Kek::from_base64(&STANDARD.encode([7u8; 32])).is_err());
        assert!(Kek::from_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(Kek::from_base64("not base64!").is_err());
        assert_eq!(format!("{:?}", kek(3)), "Kek(REDACTED)");
        assert!(kek(3).same_as(&kek(3)) && !kek(3).same_as(&kek(4)));
    }

    #[test]
    fn the_next_refresh_secret_is_the_same_for_a_retry_and_unlike_any_other() {
        let (a, b) = (kek(1), kek(2));
        let replaced = [9u8; 32];
        assert_eq!(
            a.next_refresh_secret(&replaced),
            a.next_refresh_secret(&replaced)
        );
        assert_ne!(
            a.next_refresh_secret(&replaced),
            a.next_refresh_secret(&[8u8; 32])
        );
        assert_ne!(
            a.next_refresh_secret(&replaced),
            b.next_refresh_secret(&replaced)
        );
    }
}
