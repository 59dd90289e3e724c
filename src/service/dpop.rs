//! DPoP at tessera's own endpoints (RFC 9449): the proof a request carries, checked
//! (`tessera_verify::dpop` does the checks one proof can show), its `jti` kept for the
//! window so a replay is refused on every instance, and the optional server nonce.
//!
//! The nonce (RFC 9449 §8) needs no storage: it is a MAC of the current five-minute
//! window under a key derived from the KEK, so every instance makes and accepts the same
//! ones; a proof may carry the current window's or the previous one's.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;
pub use tessera_verify::dpop::{Proof, ProofError};

use crate::clock::Clock;
use crate::crypto::{record_digest, Kek};
use crate::domain::OAuthError;
use crate::store::{MfaTokenStore, StoreError};

/// How far a proof's `iat` may be from now, either way (seconds).
pub const WINDOW: i64 = 60;
/// How long a server nonce is made for (seconds); the previous one is still accepted.
const NONCE_PERIOD: i64 = 300;
const NONCE_LABEL: &[u8] = b"tessera dpop nonce v1";

/// Why a request's proof was refused.
#[derive(Debug)]
pub enum DpopError {
    /// The proof fails a check (or there are several): `invalid_dpop_proof`.
    Invalid(String),
    /// The proof lacks the current server nonce: `use_dpop_nonce`, with a fresh one.
    Nonce(String),
    Store(StoreError),
}

impl From<ProofError> for DpopError {
    fn from(e: ProofError) -> Self {
        DpopError::Invalid(e.to_string())
    }
}

impl From<DpopError> for OAuthError {
    fn from(e: DpopError) -> Self {
        match e {
            DpopError::Invalid(d) => OAuthError::InvalidDpopProof(d),
            DpopError::Nonce(nonce) => OAuthError::UseDpopNonce(nonce),
            DpopError::Store(e) => e.into(),
        }
    }
}

/// Checks the proofs requests carry: the replay cache, the clock, the issuer (proofs name
/// URLs under it) and, when nonces are on, the KEK they are made with.
#[derive(Clone)]
pub struct Dpop {
    seen: Arc<dyn MfaTokenStore>,
    clock: Arc<dyn Clock>,
    issuer: String,
    nonces: Option<Kek>,
    /// Keeps the verifiers of the keys seen.
    checker: Arc<tessera_verify::dpop::Checker>,
}

impl Dpop {
    /// `nonces`: the KEK, when proofs must carry a server nonce.
    pub fn new(
        seen: Arc<dyn MfaTokenStore>,
        clock: Arc<dyn Clock>,
        issuer: String,
        nonces: Option<Kek>,
    ) -> Self {
        Dpop {
            seen,
            clock,
            issuer,
            nonces,
            checker: Arc::default(),
        }
    }

    /// The request's proof (`values`: its `DPoP` headers), for `method` and the issuer's
    /// `path`, with `access_token` where one is presented: `None` without a proof.
    pub async fn proof(
        &self,
        values: &[&str],
        method: &str,
        path: &str,
        access_token: Option<&str>,
    ) -> Result<Option<Proof>, DpopError> {
        let value = match values {
            [] => return Ok(None),
            [one] => *one,
            _ => return Err(DpopError::Invalid("send one DPoP header".into())),
        };
        let now = self.clock.now().unix_timestamp();
        let url = format!("{}{path}", self.issuer.trim_end_matches('/'));
        let expect = tessera_verify::dpop::Expect {
            method,
            url: &url,
            now,
            window: WINDOW,
            access_token,
        };
        let proof = self.checker.check(value, &expect)?;
        if let Some(kek) = &self.nonces {
            let window = now.div_euclid(NONCE_PERIOD);
            let good = proof.nonce.as_deref().is_some_and(|sent| {
                [window, window - 1]
                    .iter()
                    .any(|w| bool::from(nonce_for(kek, *w).as_bytes().ct_eq(sent.as_bytes())))
            });
            if !good {
                return Err(DpopError::Nonce(nonce_for(kek, window)));
            }
        }
        // the key and the jti together: another client's proof never collides with this one
        let digest = record_digest("dpop-jti", &[&proof.jkt, &proof.jti]);
        let ttl = Duration::from_secs((2 * WINDOW + 5) as u64);
        let first = self
            .seen
            .mark_seen(&digest, ttl, self.clock.now())
            .await
            .map_err(DpopError::Store)?;
        if !first {
            return Err(ProofError::Replayed.into());
        }
        Ok(Some(proof))
    }

    /// The nonce to send in `DPoP-Nonce` now, when nonces are on.
    pub fn nonce(&self) -> Option<String> {
        let now = self.clock.now().unix_timestamp();
        self.nonces
            .as_ref()
            .map(|kek| nonce_for(kek, now.div_euclid(NONCE_PERIOD)))
    }
}

fn nonce_for(kek: &Kek, window: i64) -> String {
    URL_SAFE_NO_PAD.encode(kek.mac(NONCE_LABEL, &window.to_be_bytes()))
}
