//! The authorization request (book § Sign-in with the authorization-code flow): which
//! requests are refused on tessera's own page (unknown client, unregistered redirect URI:
//! never a redirect) and which go back to the client with an error, PKCE, the browser's
//! sign-in (SSO) session, and the code. `service::signin` walks a request through the
//! sign-in steps with these.
//!
//! The request travels between the hosted pages as a `Flow`: the parameters and the time
//! the flow began, with an HMAC under a key derived from the KEK, so that any instance can
//! read it and nobody can change it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::domain::{redirect, Client, ClientId, GrantType, Scope};
mod answer;
mod browser;
mod pushed;

pub use answer::*;
pub use browser::*;
pub use pushed::*;

use crate::domain::UserId;
use crate::service::grants::TokenIssuer;
use crate::store::{AuthCode, ClientStore, CodeStore, SsoSession, StoreError};

/// Authorization codes live this long (book § Sign-in with the authorization-code flow).
pub const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The parameters of `GET|POST /oauth2/authorize`, as sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Params {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub response_mode: Option<String>,
    /// OIDC Core §3.1.2.1: an ID token this issuer gave the client, naming the user it
    /// expects to be signed in (expired ones count).
    pub id_token_hint: Option<String>,
    /// Request objects (OIDC Core §6) are not supported: answered `request_not_supported`.
    pub request: Option<String>,
    /// A pushed request's `urn:ietf:params:oauth:request_uri:…` (RFC 9126); any other
    /// value is answered `request_uri_not_supported`.
    pub request_uri: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code will be redeemed with.
    pub dpop_jkt: Option<String>,
    /// The parameters came through PAR (set by [`PushedRequests::resolve`] and kept in the
    /// sealed flow; never read from a request).
    #[serde(skip)]
    pub pushed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// Where and how an answer goes back to the client.
#[derive(Debug, Clone)]
pub struct Return {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub mode: ResponseMode,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct Request {
    pub params: Params,
    pub client: Client,
    pub back: Return,
    pub scope: Scope,
    pub code_challenge: String,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    /// The user `id_token_hint` names, when it is an ID token this issuer signed.
    pub hinted_user: Option<UserId>,
}

/// Why a request is refused.
#[derive(Debug)]
pub enum Refusal {
    /// Shown on tessera's error page: the client or its redirect URI is not known, so
    /// there is nowhere safe to send the browser.
    Page(String),
    /// Sent back to the client (RFC 6749 §4.1.2.1, with `iss`, RFC 9207).
    Redirect {
        back: Return,
        error: &'static str,
        description: String,
    },
    /// A form that this browser's page did not send (its CSRF token does not match).
    Forged,
    /// A form whose sealed flow is broken or too old.
    Expired,
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e)
    }
}

fn limited(value: &Option<String>, max: usize) -> bool {
    value
        .as_ref()
        .is_none_or(|v| v.len() <= max && !v.chars().any(char::is_control))
}

/// Checks a request in the order RFC 6749 §4.1.2.1 asks: client and redirect URI first
/// (refused on the page), then everything else (refused at the client).
pub async fn validate(
    clients: &dyn ClientStore,
    issuer: &TokenIssuer,
    pushed: &PushedRequests,
    params: Params,
) -> Result<Request, Refusal> {
    let client_id = params.client_id.as_deref().ok_or_else(|| {
        Refusal::Page("The request does not name the application (client_id is missing).".into())
    })?;
    let id = ClientId::parse(client_id).map_err(|_| {
        Refusal::Page(
            "The application that sent you here is not registered (unknown client_id).".into(),
        )
    })?;
    let client = clients.find_client(&id).await?.ok_or_else(|| {
        Refusal::Page(
            "The application that sent you here is not registered (unknown client_id).".into(),
        )
    })?;
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(Refusal::Page(
            "This application is not set up to sign users in here.".into(),
        ));
    }
    let redirect_uri = redirect::resolve(&client.redirect_uris, params.redirect_uri.as_deref())
        .ok_or_else(|| {
            Refusal::Page(
                "The address to return to (redirect_uri) is not one this application registered."
                    .into(),
            )
        })?
        .to_owned();
    let mode = match params.response_mode.as_deref() {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => ResponseMode::Query,
    };
    let back = Return {
        redirect_uri,
        state: params.state.clone(),
        mode,
    };
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        back: back.clone(),
        error,
        description: description.to_owned(),
    };
    if !matches!(
        params.response_mode.as_deref(),
        None | Some("query" | "form_post")
    ) {
        return Err(refuse(
            "invalid_request",
            "response_mode must be query or form_post",
        ));
    }
    // OIDC Core §6: a provider that does not support request objects says so
    if params.request.is_some() {
        return Err(refuse(
            "request_not_supported",
            "request objects are not supported: send the parameters themselves",
        ));
    }
    if params.request_uri.is_some() {
        return Err(refuse(
            "request_uri_not_supported",
            "request_uri is only for pushed requests (urn:ietf:params:oauth:request_uri:…)",
        ));
    }
    if !params.pushed && pushed.required(&client) {
        return Err(refuse(
            "invalid_request",
            "this application must push its authorization requests (POST /oauth2/par)",
        ));
    }
    if params
        .dpop_jkt
        .as_deref()
        .is_some_and(|jkt| !is_s256_challenge(jkt))
    {
        return Err(refuse(
            "invalid_request",
            "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)",
        ));
    }
    if params.response_type.as_deref() != Some("code") {
        return Err(refuse(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    for (value, name, max) in [
        (&params.state, "state", 1024),
        (&params.nonce, "nonce", 512),
        (&params.login_hint, "login_hint", 254),
        (&params.scope, "scope", 1024),
    ] {
        if !limited(value, max) {
            return Err(refuse(
                "invalid_request",
                &format!("{name} is too long or not text"),
            ));
        }
    }
    let code_challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => challenge.to_owned(),
        (Some(_), Some("S256")) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge must be 43 base64url characters",
            ))
        }
        (Some(_), Some("plain") | None) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256",
            ))
        }
        (None, _) => {
            return Err(refuse(
                "invalid_request",
                "PKCE is required: send code_challenge and code_challenge_method=S256",
            ))
        }
    };
    let scope = crate::service::grants::resolve_scope(&client, params.scope.as_deref())
        .map_err(|e| refuse("invalid_scope", &e.to_string()))?;
    let prompts: Vec<&str> = params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    if prompts
        .iter()
        .any(|p| !matches!(*p, "none" | "login" | "consent"))
        || (prompts.contains(&"none") && prompts.len() > 1)
    {
        return Err(refuse(
            "invalid_request",
            "prompt must be none, or login and/or consent",
        ));
    }
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|v| (0..=100_000_000).contains(v))
                .ok_or_else(|| refuse("invalid_request", "max_age must be a number of seconds"))?,
        ),
    };
    let hinted_user = params
        .id_token_hint
        .as_deref()
        .filter(|hint| hint.len() <= 8192)
        .and_then(|hint| {
            crate::tokens::verify_id_token_hint(&issuer.keyring, hint, &issuer.policy.issuer).ok()
        })
        .and_then(|hint| hint.sub.parse().ok());
    Ok(Request {
        hinted_user,
        prompt_none: prompts.contains(&"none"),
        prompt_login: prompts.contains(&"login"),
        prompt_consent: prompts.contains(&"consent"),
        params,
        client,
        back,
        scope,
        code_challenge,
        max_age,
    })
}

/// 43 characters of base64url: the encoding of a SHA-256 (a PKCE challenge, a thumbprint).
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` (RFC 7636 §4.1: 43–128 unreserved characters) hashes to `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    valid && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// A new single-use code for `request`, bound to the session and the verifier, issued at
/// `now`.
pub async fn issue_code(
    codes: &dyn CodeStore,
    request: &Request,
    sso: &SsoSession,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    let code = random_token(32);
    let digest: [u8; 32] = Sha256::digest(code.as_bytes()).into();
    let stored = AuthCode {
        client_id: request.client.id.to_string(),
        redirect_uri: request.back.redirect_uri.clone(),
        redirect_uri_sent: request.params.redirect_uri.is_some(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.params.nonce.clone(),
        scope: request.scope.to_string(),
        sso_id: sso.id.clone(),
        user_id: sso.user_id,
        auth_time: sso.auth_time,
        // the code is redeemed only with a proof by the key the request named
        amr: crate::domain::methods::bind_key(&sso.amr, request.params.dpop_jkt.as_deref()),
    };
    codes.put_code(&digest, &stored, CODE_TTL, now).await?;
    Ok(code)
}

/// The SHA-256 a code is stored under.
pub fn code_digest(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}
