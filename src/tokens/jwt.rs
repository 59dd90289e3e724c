//! JWS compact signing and access-token verification (RFC 7515, RFC 9068). Verification
//! selects the key by `kid` among published keys only, accepts only that key's algorithm
//! (so `none`, HMAC and algorithm confusion are impossible), never fetches `jku`/`x5u` or
//! trusts an embedded `jwk`, and checks `typ`, `iss`, `aud` (present), `exp` and `nbf`.

use josekit::jws::JwsHeader;
use serde::Serialize;

use super::AccessClaims;
use super::{KeyRing, KeyVerifier};
use crate::crypto::SigningAlg;

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Signs `claims` with the active key of `alg`, header `{alg, kid, typ}`.
pub fn sign<T: Serialize>(
    keyring: &KeyRing,
    alg: SigningAlg,
    typ: &str,
    claims: &T,
) -> anyhow::Result<String> {
    let active = keyring
        .signer(alg)
        .ok_or_else(|| anyhow::anyhow!("no active {alg} key"))?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(active.kid.as_str());
    let payload = serde_json::to_vec(claims)?;
    Ok(josekit::jws::serialize_compact(
        &payload,
        &header,
        active.signer.as_ref(),
    )?)
}

/// Why a presented token was refused (never shown to the client beyond `invalid_token`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidToken {
    #[error("malformed token")]
    Malformed,
    #[error("unknown or unpublished key")]
    UnknownKey,
    #[error("bad signature or algorithm")]
    Signature,
    #[error("wrong token type")]
    WrongType,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("no audience")]
    NoAudience,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
}

/// What an access token's claims must satisfy besides its signature (RFC 9068, book § Endpoints).
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    /// Allowed clock skew for `nbf`, seconds (another instance's clock may run slightly
    /// ahead). None for `exp`: tessera's own clock wrote it, and expired means inactive
    /// (RFC 7662 §2.2).
    pub nbf_leeway_secs: i64,
    /// The time of the check, Unix seconds.
    pub now: i64,
}

/// Verifies an access token: signature with a published key, then the claims.
pub fn verify_access_token(
    keyring: &KeyRing,
    token: &str,
    expected: &Expected,
) -> Result<AccessClaims, InvalidToken> {
    let (claims, _) = verify_signature(keyring, token)?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

/// What RP-initiated logout reads from an `id_token_hint`.
#[derive(Debug, serde::Deserialize)]
pub struct IdTokenHint {
    pub iss: String,
    /// The client the ID token was issued to.
    pub aud: String,
    pub sub: String,
    /// The session (refresh family) it belongs to.
    pub sid: Option<String>,
}

/// Verifies an ID token this issuer signed, as an `id_token_hint` (OIDC RP-Initiated
/// Logout §2): signature with a published key and the issuer; an expired one is still a
/// valid hint.
pub fn verify_id_token_hint(
    keyring: &KeyRing,
    token: &str,
    issuer: &str,
) -> Result<IdTokenHint, InvalidToken> {
    let keys = |kid: &str| keyring.verifier(kid);
    let (payload, _) = verified_payload(keys, token, |typ| typ.eq_ignore_ascii_case("JWT"))?;
    let hint: IdTokenHint =
        serde_json::from_slice(&payload).map_err(|_| InvalidToken::Malformed)?;
    if hint.iss != issuer {
        return Err(InvalidToken::WrongIssuer);
    }
    Ok(hint)
}

/// Header, key, `typ` and signature; returns the claims and the kid that verified them.
fn verify_signature(
    keyring: &KeyRing,
    token: &str,
) -> Result<(AccessClaims, String), InvalidToken> {
    let keys = |kid: &str| keyring.verifier(kid);
    let (payload, kid) = verified_payload(keys, token, |typ| {
        typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
    })?;
    let claims: AccessClaims =
        serde_json::from_slice(&payload).map_err(|_| InvalidToken::Malformed)?;
    Ok((claims, kid))
}

/// The payload of a compact JWS signed with a published key (`keys` finds it by kid), if
/// `typ_ok` accepts the header's `typ`; and the kid that verified it.
fn verified_payload(
    keys: impl Fn(&str) -> Option<std::sync::Arc<KeyVerifier>>,
    token: &str,
    typ_ok: impl Fn(&str) -> bool,
) -> Result<(Vec<u8>, String), InvalidToken> {
    if token.len() > MAX_TOKEN_BYTES || token.bytes().filter(|b| *b == b'.').count() != 2 {
        return Err(InvalidToken::Malformed);
    }
    let header = josekit::jwt::decode_header(token).map_err(|_| InvalidToken::Malformed)?;
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .ok_or(InvalidToken::UnknownKey)?;
    let key = keys(kid).ok_or(InvalidToken::UnknownKey)?;
    let typ = header
        .claim("typ")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if !typ_ok(typ) {
        return Err(InvalidToken::WrongType);
    }
    // josekit refuses a header `alg` other than the verifier's own
    let (payload, _) = josekit::jws::deserialize_compact(token, key.verifier.as_ref())
        .map_err(|_| InvalidToken::Signature)?;
    Ok((payload, kid.to_owned()))
}

/// Issuer and time checks, made on every use (cached or not).
fn check_claims(claims: &AccessClaims, expected: &Expected) -> Result<(), InvalidToken> {
    let (leeway_secs, now) = (expected.nbf_leeway_secs, expected.now);
    if claims.iss != expected.issuer {
        return Err(InvalidToken::WrongIssuer);
    }
    // tessera never issues a token without an audience (RFC 9068, book § Endpoints)
    if claims.aud.0.is_empty() || claims.aud.0.iter().any(String::is_empty) {
        return Err(InvalidToken::NoAudience);
    }
    if claims.exp <= now {
        return Err(InvalidToken::Expired);
    }
    if claims.nbf - leeway_secs > now {
        return Err(InvalidToken::NotYetValid);
    }
    Ok(())
}

/// Tokens whose signature already verified, by SHA-256 of the whole token: resource
/// servers introspect the same token on every request it carries, and the signature check
/// is most of that cost. A hit still requires the signing key to be published (an
/// emergency-revoked kid fails at once) and repeats the issuer and time checks;
/// revocation state is never cached. Bounded by quick_cache (CLOCK-Pro: tokens seen once
/// cannot push out the ones in use, and a hit costs little more than a hash-map read; an
/// expired token's entry fails its time check and ages out).
pub struct VerifiedTokens {
    /// By SHA-256 of the token: its claims and kid. `None`: caching is off.
    entries: Option<quick_cache::sync::Cache<[u8; 32], Verified>>,
}

/// A verified token's claims and the kid that signed it.
type Verified = std::sync::Arc<(AccessClaims, String)>;

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        VerifiedTokens {
            entries: (capacity > 0).then(|| quick_cache::sync::Cache::new(capacity)),
        }
    }

    /// `verify_access_token`, with the signature check answered from the cache on a hit.
    pub fn verify(
        &self,
        keyring: &KeyRing,
        token: &str,
        expected: &Expected,
    ) -> Result<AccessClaims, InvalidToken> {
        use sha2::{Digest, Sha256};
        let Some(entries) = &self.entries else {
            return verify_access_token(keyring, token, expected);
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let verified = match entries.get(&digest) {
            Some(hit) => hit,
            None => {
                let verified = std::sync::Arc::new(verify_signature(keyring, token)?);
                entries.insert(digest, verified.clone());
                verified
            }
        };
        let (claims, kid) = verified.as_ref();
        if keyring.verifier(kid).is_none() {
            return Err(InvalidToken::UnknownKey);
        }
        check_claims(claims, expected)?;
        Ok(claims.clone())
    }
}

/// Verification of hostile input with a key that does not come from a key ring: the fuzz
/// target and the property tests of `tessera`'s own JWS handling. Not an API.
#[doc(hidden)]
pub fn verify_with_key(
    key: std::sync::Arc<KeyVerifier>,
    kid: &str,
    token: &str,
    expected: &Expected,
) -> Result<AccessClaims, InvalidToken> {
    let keys = |asked: &str| (asked == kid).then(|| key.clone());
    let (payload, _) = verified_payload(keys, token, |typ| {
        typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
    })?;
    let claims: AccessClaims =
        serde_json::from_slice(&payload).map_err(|_| InvalidToken::Malformed)?;
    check_claims(&claims, expected)?;
    Ok(claims)
}
