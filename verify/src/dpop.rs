//! DPoP proofs (RFC 9449): the checks one proof takes, without the network or a clock of
//! its own, shared by tessera's token endpoint and this crate's verifier. A [`Checker`]
//! keeps the verifiers of the keys it has seen ([`Verifiers`]), so a client's second proof
//! costs one signature check.
//!
//! A proof is a JWS whose header carries the client's public key (`jwk`) and whose claims
//! bind it to one request: `htm` (the method), `htu` (the URL, compared without query and
//! fragment), `iat`, a unique `jti`, `ath` (the hash of the access token presented with
//! it) and, where the server asks for one, `nonce`. [`check`] verifies everything a single
//! proof can show; the caller keeps the `jti` it returns for the window (replay) and
//! compares the [`Proof::jkt`] with the token's `cnf.jkt` or the refresh token's binding.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::JwsVerifier;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::verifiers::{is_public_key, Verifiers};
use crate::Algorithm;

/// The algorithms a proof may be signed with: never `none`, never an HMAC.
pub const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::RS256,
];

/// The longest proof read (a proof with an RSA-4096 key is well under 2 KB).
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// The longest `jti` kept.
const MAX_JTI: usize = 256;
/// What one request expects of its proof.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The request's method (`POST`, `GET`).
    pub method: &'a str,
    /// The request's URL as the client addressed it (query and fragment are ignored).
    pub url: &'a str,
    /// Unix seconds now.
    pub now: i64,
    /// How far `iat` may be from `now`, either way, in seconds.
    pub window: i64,
    /// The access token presented with the proof, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key (`cnf.jkt`).
    pub jkt: String,
    /// Unique per proof within the window: keep it that long to refuse a replay.
    pub jti: String,
    pub iat: i64,
    /// The server nonce the proof carries, if any: the caller decides whether it is good.
    pub nonce: Option<String>,
}

/// Why a proof was refused. The text is safe to send back as `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the DPoP proof is not a well-formed JWT")]
    Malformed,
    #[error("the DPoP proof's typ must be dpop+jwt")]
    WrongType,
    #[error("the DPoP proof's algorithm is not allowed (ES256, EdDSA, PS256, RS256)")]
    DisallowedAlgorithm,
    #[error("the DPoP proof must carry a public key (jwk) and no private one")]
    BadKey,
    #[error("the DPoP proof's signature does not verify")]
    BadSignature,
    #[error("the DPoP proof's htm is not this request's method")]
    WrongMethod,
    #[error("the DPoP proof's htu is not this request's URL")]
    WrongUrl,
    #[error("the DPoP proof's iat is too far from now")]
    Stale,
    #[error("the DPoP proof needs a jti")]
    MissingJti,
    #[error("the DPoP proof's ath is not the hash of the access token presented")]
    WrongAth,
    #[error("the DPoP proof was used before")]
    Replayed,
    #[error("the DPoP proof is not signed by the key the token is bound to")]
    WrongKey,
}

/// `ath` of an access token: the base64url SHA-256 of its ASCII form.
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK: its required members,
/// in lexicographic order, without whitespace.
pub fn thumbprint(jwk: &serde_json::Map<String, Value>) -> Option<String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kty = text("kty")?;
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = serde_json::Map::new();
    for name in members {
        canonical.insert((*name).to_owned(), Value::String(text(name)?.to_owned()));
    }
    // serde_json's map keeps keys sorted (no `preserve_order`), as RFC 7638 §3.3 asks
    let json = serde_json::to_string(&canonical).ok()?;
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes())))
}

/// Checks proofs, keeping the verifier of each key (by algorithm and thumbprint) it has
/// built. Cheap to share: one per process is enough.
#[derive(Debug, Default)]
pub struct Checker {
    verifiers: Verifiers,
}

impl Checker {
    /// Checks a proof against what its request expects (the signature, the header and
    /// every claim); the `jti` replay and the nonce are the caller's to judge.
    pub fn check(&self, proof: &str, expect: &Expect<'_>) -> Result<Proof, ProofError> {
        check_with(proof, expect, |alg, jkt, members| {
            self.verifiers.get(alg, jkt, members)
        })
    }
}

/// Checks a proof without keeping its key's verifier (see [`Checker::check`]).
pub fn check(proof: &str, expect: &Expect<'_>) -> Result<Proof, ProofError> {
    check_with(proof, expect, |alg, _, members| {
        crate::verifiers::build(alg, members)
    })
}

fn check_with(
    proof: &str,
    expect: &Expect<'_>,
    verifier_for: impl FnOnce(
        Algorithm,
        &str,
        &serde_json::Map<String, Value>,
    ) -> Option<Arc<dyn JwsVerifier>>,
) -> Result<Proof, ProofError> {
    if proof.len() > MAX_PROOF_BYTES || proof.split('.').count() != 3 {
        return Err(ProofError::Malformed);
    }
    let header = josekit::jwt::decode_header(proof).map_err(|_| ProofError::Malformed)?;
    let typ = header.claim("typ").and_then(Value::as_str);
    if typ != Some("dpop+jwt") {
        return Err(ProofError::WrongType);
    }
    let alg = header
        .claim("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::parse)
        .filter(|a| ALGORITHMS.contains(a))
        .ok_or(ProofError::DisallowedAlgorithm)?;
    let Some(Value::Object(members)) = header.claim("jwk") else {
        return Err(ProofError::BadKey);
    };
    if !is_public_key(members) {
        return Err(ProofError::BadKey);
    }
    let jkt = thumbprint(members).ok_or(ProofError::BadKey)?;
    let verifier = verifier_for(alg, &jkt, members).ok_or(ProofError::BadKey)?;
    let (payload, _) =
        josekit::jws::deserialize_compact(proof, verifier.as_ref()).map_err(|e| match e {
            josekit::JoseError::InvalidSignature(_) => ProofError::BadSignature,
            _ => ProofError::Malformed,
        })?;
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&payload).map_err(|_| ProofError::Malformed)?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if claim("htm") != Some(expect.method) {
        return Err(ProofError::WrongMethod);
    }
    if !same_url(claim("htu").ok_or(ProofError::WrongUrl)?, expect.url) {
        return Err(ProofError::WrongUrl);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(ProofError::Stale)?;
    if (iat - expect.now).abs() > expect.window {
        return Err(ProofError::Stale);
    }
    let jti = claim("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or(ProofError::MissingJti)?;
    match (expect.access_token, claim("ath")) {
        (None, _) => {}
        (Some(token), Some(sent)) if ath(token) == sent => {}
        (Some(_), _) => return Err(ProofError::WrongAth),
    }
    Ok(Proof {
        jkt,
        jti: jti.to_owned(),
        iat,
        nonce: claim("nonce").map(str::to_owned),
    })
}

/// RFC 9449 §4.3: `htu` and the request's URL match without query and fragment, after
/// the normalisation of RFC 3986 §6 (case of scheme and host, default ports, dot segments).
fn same_url(htu: &str, url: &str) -> bool {
    let bare = |u: &str| {
        let mut parsed = url::Url::parse(u).ok()?;
        parsed.set_query(None);
        parsed.set_fragment(None);
        Some(parsed)
    };
    matches!((bare(htu), bare(url)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let Value::Object(map) = jwk else {
            unreachable!()
        };
        assert_eq!(
            thumbprint(&map).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn urls_match_without_query_fragment_and_default_port() {
        assert!(same_url(
            "https://A.example:443/token?x=1#f",
            "https://a.example/token"
        ));
        assert!(!same_url(
            "https://a.example/token/",
            "https://a.example/token"
        ));
        assert!(!same_url("not a url", "https://a.example/token"));
    }
}
