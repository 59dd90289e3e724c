//! Single-use link tokens (password reset, email verification, change of address): 32
//! random bytes, base64url, behind a prefix naming their kind, stored only as SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// A new token of the kind `prefix` names, and its digest.
pub fn new_link_token(prefix: &str) -> (SecretString, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw));
    let digest = Sha256::digest(token.as_bytes()).into();
    (SecretString::from(token), digest)
}

/// The digest of a well-formed token of the kind `prefix` names, or `None`.
pub fn link_digest(prefix: &str, presented: &str) -> Option<[u8; 32]> {
    let body = presented.strip_prefix(prefix)?;
    let raw = URL_SAFE_NO_PAD.decode(body).ok()?;
    (raw.len() == 32).then(|| Sha256::digest(presented.as_bytes()).into())
}

/// The key a short-lived record is kept under: the base64url SHA-256 of `label` and
/// `parts`, each ended by a NUL, so records of different kinds never share a key.
pub fn record_digest(label: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in std::iter::once(label).chain(parts.iter().copied()) {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_token_digests_only_with_its_own_prefix_and_length() {
        let (token, digest) = new_link_token("tse_");
        assert_eq!(link_digest("tse_", token.expose_secret()), Some(digest));
        assert_eq!(link_digest("tsp_", token.expose_secret()), None);
        assert_eq!(link_digest("tse_", "tse_c2hvcnQ"), None);
        assert_eq!(link_digest("tse_", "tse_!!"), None);
    }
}
