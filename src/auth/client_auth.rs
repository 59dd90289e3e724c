//! OAuth client authentication (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`,
//! or `none` for public clients. Secrets are compared as SHA-256 digests in constant time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::OAuthError;
use crate::domain::{Client, ClientId};

const MAX_SECRET_LEN: usize = 256;

/// Credentials as the client presented them.
#[derive(Debug)]
pub struct Presented {
    pub id: ClientId,
    secret: Option<SecretString>,
}

/// Reads the client's credentials from `Authorization: Basic` or the form, refusing
/// requests that use more than one method.
pub fn presented(
    authorization: Option<&str>,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Presented, OAuthError> {
    let invalid = |d: &str| OAuthError::InvalidRequest(d.into());
    match authorization {
        Some(value) => {
            let encoded = value
                .strip_prefix("Basic ")
                .ok_or(OAuthError::InvalidClient)?;
            let decoded = STANDARD
                .decode(encoded.trim())
                .map_err(|_| OAuthError::InvalidClient)?;
            let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded inside Basic
            let id = form_decode(id).ok_or(OAuthError::InvalidClient)?;
            let secret = form_decode(secret).ok_or(OAuthError::InvalidClient)?;
            if form_secret.is_some() {
                return Err(invalid("use one client authentication method, not several"));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err(invalid("client_id does not match the Authorization header"));
            }
            // a public client identified by Basic with an empty password (what Go's
            // golang.org/x/oauth2 sends first) is the same as client_id in the body
            Ok(Presented {
                id: ClientId::parse(&id).map_err(|_| OAuthError::InvalidClient)?,
                secret: (!secret.is_empty()).then(|| secret.into()),
            })
        }
        None => {
            // RFC 6749 §5.2: "no client authentication included" is invalid_client (401)
            let id = form_id.ok_or(OAuthError::InvalidClient)?;
            let id = ClientId::parse(id).map_err(|_| OAuthError::InvalidClient)?;
            Ok(Presented {
                id,
                secret: form_secret.map(|s| SecretString::from(s.to_owned())),
            })
        }
    }
}

fn form_decode(value: &str) -> Option<String> {
    percent_decode_str(&value.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The client, if the presented credentials authenticate it; `client` is the stored client
/// with the presented id, if any.
pub fn verify(client: Option<Client>, presented: &Presented) -> Result<Client, OAuthError> {
    let secret = presented
        .secret
        .as_ref()
        .map(|s| s.expose_secret())
        .filter(|s| s.len() <= MAX_SECRET_LEN);
    // hash even when the client is unknown, so timing does not tell which ids exist
    let digest: [u8; 32] = Sha256::digest(secret.unwrap_or_default().as_bytes()).into();
    let client = client.ok_or(OAuthError::InvalidClient)?;
    let ok = match (&client.secret_sha256, secret) {
        (None, None) => client.public,
        (Some(stored), Some(_)) => bool::from(stored.ct_eq(&digest)),
        _ => false,
    };
    if ok {
        Ok(client)
    } else {
        Err(OAuthError::InvalidClient)
    }
}
