//! The rules for a client's security settings (book § DPoP and PAR): the authentication
//! method against public/confidential, the keys of a `private_key_jwt` client (RFC 7523
//! §2.2, OIDC Core §9), and what the `fapi2` profile forbids.

use serde_json::Value;

use super::client::{AuthMethod, GrantType, NewClient, Profile};

/// Most keys a client's JWK Set may hold.
const MAX_KEYS: usize = 10;
/// The longest JWK Set kept with a client (serialized).
const MAX_JWKS_BYTES: usize = 16 * 1024;

/// Every problem with `new`'s security settings.
pub fn problems(new: &NewClient) -> Vec<String> {
    let security = &new.security;
    let mut problems = Vec::new();
    let method = security.token_endpoint_auth_method;
    match (new.public, method) {
        (true, Some(m)) if m != AuthMethod::None => problems.push(
            "a public client's token_endpoint_auth_method is none (it has no credentials)"
                .to_owned(),
        ),
        (false, Some(AuthMethod::None)) => problems
            .push("token_endpoint_auth_method none is a public client: set public true".to_owned()),
        _ => {}
    }
    let keyed = method == Some(AuthMethod::PrivateKeyJwt);
    match (&security.jwks, &security.jwks_uri) {
        (Some(_), Some(_)) => problems.push("send jwks or jwks_uri, not both".to_owned()),
        (None, None) if keyed => {
            problems.push("private_key_jwt needs the client's keys: jwks or jwks_uri".to_owned())
        }
        (Some(_), _) | (_, Some(_)) if !keyed => problems.push(
            "jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt".to_owned(),
        ),
        _ => {}
    }
    if let Some(jwks) = &security.jwks {
        if let Err(problem) = public_key_set(jwks) {
            problems.push(problem);
        }
    }
    if let Some(uri) = &security.jwks_uri {
        if !super::upstream_url_ok(uri) {
            problems.push(
                "jwks_uri must be an absolute https URL of at most 2048 characters, without a fragment or user information (http only for loopback)"
                    .to_owned(),
            );
        }
    }
    if security.profile == Some(Profile::Fapi2) {
        if !new.public && !keyed {
            problems.push(
                "the fapi2 profile needs token_endpoint_auth_method private_key_jwt for a confidential client"
                    .to_owned(),
            );
        }
        if new.grant_types.contains(&GrantType::Password) {
            problems.push("the fapi2 profile forbids the password grant".to_owned());
        }
    }
    problems
}

/// Checks a JWK Set a client registers: at most ten public asymmetric keys.
pub fn public_key_set(jwks: &Value) -> Result<Vec<josekit::jwk::Jwk>, String> {
    let bad = |why: &str| format!("jwks {why}");
    if serde_json::to_vec(jwks).map_or(true, |b| b.len() > MAX_JWKS_BYTES) {
        return Err(bad("is larger than 16 KiB"));
    }
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEYS)
        .ok_or_else(|| bad("must be a JWK Set with 1 to 10 keys"))?;
    keys.iter()
        .map(|key| {
            let map = key.as_object().ok_or_else(|| bad("keys must be objects"))?;
            if !tessera_verify::verifiers::is_public_key(map) {
                return Err(bad(
                    "must hold public RSA, EC or OKP keys only (no private or symmetric key)",
                ));
            }
            josekit::jwk::Jwk::from_map(map.clone()).map_err(|_| bad("holds a malformed key"))
        })
        .collect()
}
