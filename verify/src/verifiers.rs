//! Signature verifiers of public keys that arrive as JWKs (a DPoP proof's header, a
//! client's registered key set), built once per key: building one from a JWK costs about
//! twice the signature check it then makes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use serde_json::{Map, Value};

use crate::Algorithm;

/// Members of a JWK that only a private or symmetric key has (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Most verifiers kept; past it, the cache starts again empty.
const MAX_VERIFIERS: usize = 10_000;

/// Whether `members` is a public asymmetric key: RSA, EC or OKP, with no private member.
pub fn is_public_key(members: &Map<String, Value>) -> bool {
    matches!(
        members.get("kty").and_then(Value::as_str),
        Some("RSA" | "EC" | "OKP")
    ) && !PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m))
}

/// Verifiers by algorithm and key thumbprint. Cheap to share: one per process is enough.
#[derive(Default)]
pub struct Verifiers {
    held: Mutex<HashMap<String, Arc<dyn JwsVerifier>>>,
}

impl std::fmt::Debug for Verifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifiers").finish_non_exhaustive()
    }
}

impl Verifiers {
    /// The verifier of `alg` with the key `members` (whose RFC 7638 thumbprint is `jkt`),
    /// built the first time; `None` when the key does not fit the algorithm.
    pub fn get(
        &self,
        alg: Algorithm,
        jkt: &str,
        members: &Map<String, Value>,
    ) -> Option<Arc<dyn JwsVerifier>> {
        let key = format!("{}:{jkt}", alg.name());
        if let Some(held) = self.held.lock().ok().and_then(|v| v.get(&key).cloned()) {
            return Some(held);
        }
        let built = build(alg, members)?;
        if let Ok(mut held) = self.held.lock() {
            if held.len() >= MAX_VERIFIERS {
                held.clear();
            }
            held.insert(key, built.clone());
        }
        Some(built)
    }
}

/// A verifier of `alg` with the key `members`, not kept.
pub(crate) fn build(alg: Algorithm, members: &Map<String, Value>) -> Option<Arc<dyn JwsVerifier>> {
    let jwk = Jwk::from_map(members.clone()).ok()?;
    alg.verifier(&jwk).ok().map(Arc::from)
}
