//! OAuth client authentication (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523, checked by `service::client_assertion`), or `none` for
//! public clients. Secrets are compared as SHA-256 digests in constant time.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
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
    /// A `private_key_jwt` assertion (RFC 7523 §2.2).
    pub assertion: Option<String>,
}

/// `client_assertion_type` and `client_assertion`, as the form carried them.
#[derive(Debug, Default, Clone, Copy)]
pub struct AssertionParams<'a> {
    pub kind: Option<&'a str>,
    pub assertion: Option<&'a str>,
}

/// Reads the client's credentials from `Authorization: Basic` or the form, refusing
/// requests that use more than one method.
pub fn presented(
    authorization: Option<&str>,
    form_id: Option<&str>,
    form_secret: Option<&str>,
    assertion: AssertionParams<'_>,
) -> Result<Presented, OAuthError> {
    let invalid = |d: &str| OAuthError::InvalidRequest(d.into());
    if assertion.kind.is_some() || assertion.assertion.is_some() {
        if authorization.is_some() || form_secret.is_some() {
            return Err(invalid("use one client authentication method, not several"));
        }
        return asserted(form_id, assertion);
    }
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
                assertion: None,
            })
        }
        None => {
            // RFC 6749 §5.2: "no client authentication included" is invalid_client (401)
            let id = form_id.ok_or(OAuthError::InvalidClient)?;
            let id = ClientId::parse(id).map_err(|_| OAuthError::InvalidClient)?;
            Ok(Presented {
                id,
                secret: form_secret.map(|s| SecretString::from(s.to_owned())),
                assertion: None,
            })
        }
    }
}

/// A `private_key_jwt` presentation: the client is the form's `client_id`, or else the
/// assertion's `sub` (read unverified here: only to find the client whose keys check it).
fn asserted(form_id: Option<&str>, params: AssertionParams<'_>) -> Result<Presented, OAuthError> {
    if params.kind != Some(crate::service::client_assertion::JWT_BEARER) {
        return Err(OAuthError::InvalidRequest(format!(
            "client_assertion_type must be {}",
            crate::service::client_assertion::JWT_BEARER
        )));
    }
    let assertion = params
        .assertion
        .ok_or_else(|| OAuthError::InvalidRequest("client_assertion is required".into()))?;
    let subject = josekit::jwt::decode_header(assertion)
        .ok()
        .and_then(|_| assertion.split('.').nth(1))
        .and_then(|claims| URL_SAFE_NO_PAD.decode(claims).ok())
        .and_then(|claims| serde_json::from_slice::<serde_json::Value>(&claims).ok())
        .and_then(|claims| claims.get("sub")?.as_str().map(str::to_owned));
    let id = match (form_id, subject.as_deref()) {
        (Some(form), Some(sub)) if form != sub => return Err(OAuthError::InvalidClient),
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => return Err(OAuthError::InvalidClient),
    };
    Ok(Presented {
        id: ClientId::parse(id).map_err(|_| OAuthError::InvalidClient)?,
        secret: None,
        assertion: Some(assertion.to_owned()),
    })
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
    // a private_key_jwt client proves itself with its key only, whatever secret it had
    let keyed = client.auth_method() == crate::domain::AuthMethod::PrivateKeyJwt;
    let ok = match (&client.secret_sha256, secret) {
        (None, None) => client.public,
        (Some(stored), Some(_)) => bool::from(stored.ct_eq(&digest)) && !keyed,
        _ => false,
    };
    if ok {
        Ok(client)
    } else {
        Err(OAuthError::InvalidClient)
    }
}
