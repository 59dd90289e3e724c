//! Reading the issuer's answers with a size limit: a misbehaving or impersonated issuer
//! must not make a verifier buffer an unbounded body.

use serde::de::DeserializeOwned;

/// The largest answer read: a discovery document or JWKS is a few KiB, a feed page of
/// 1,000 events about 200 KiB.
pub(crate) const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// `response`'s JSON body, refused past [`MAX_BODY_BYTES`] without reading the rest.
pub(crate) async fn json<T: DeserializeOwned>(
    mut response: reqwest::Response,
) -> Result<T, String> {
    let too_large = || format!("the answer is larger than {MAX_BODY_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}
