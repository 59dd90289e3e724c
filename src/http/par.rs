//! `POST /oauth2/par` (RFC 9126): a client pushes its authorization request, authenticated
//! as at the token endpoint (public clients by `client_id`), and gets the `request_uri` the
//! browser then takes to `/oauth2/authorize`. The parameters are checked exactly as the
//! authorization endpoint checks them; a DPoP proof here binds the code to its key (RFC
//! 9449 §10.1), as `dpop_jkt` would.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::form::Form;
use super::oauth_client::authenticate;
use crate::domain::OAuthError;
use crate::service::authorize::{self, Params, Refusal, PUSHED_TTL};
use crate::state::AppState;

/// The authorization parameters, form-encoded, as `/oauth2/authorize` takes them (without
/// `request_uri`), with the client's authentication.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PushedRequest {
    #[schema(inline)]
    #[serde(flatten)]
    authorization: super::authorize::AuthorizeRequest,
    /// `client_secret_post`.
    client_secret: Option<String>,
    /// `private_key_jwt`: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// RFC 9126 §2.2.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushedAnswer {
    /// Send the browser to `/oauth2/authorize?client_id=…&request_uri=…` with it, once.
    pub request_uri: String,
    /// Seconds the request waits (60).
    pub expires_in: u64,
}

/// Pushes an authorization request.
#[utoipa::path(post, path = "/oauth2/par", tag = "oauth2",
    request_body(content = PushedRequest, content_type = "application/x-www-form-urlencoded"),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof: the code is bound to its key")),
    security((), ("client_basic" = [])),
    responses(
        (status = 201, description = "Pushed", body = PushedAnswer,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "`invalid_request`, `invalid_scope`, `unsupported_response_type`, `invalid_dpop_proof`, … as the authorization endpoint would answer", body = crate::http::error::OAuthErrorBody),
        crate::http::error::responses::InvalidClient,
        crate::http::error::responses::ClientAuthThrottled,
        crate::http::error::responses::OAuthUnavailable))]
pub async fn push(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let mut form = Form::parse(&req, &body)?;
    let client = authenticate(&req, &mut form, &state).await?;
    if form.get("request_uri").is_some() {
        return Err(OAuthError::InvalidRequest(
            "request_uri cannot be pushed (RFC 9126 §2.1)".into(),
        ));
    }
    let text = |name: &str| form.get(name).map(str::to_owned);
    let mut params = Params {
        response_type: text("response_type"),
        client_id: Some(client.id.to_string()),
        redirect_uri: text("redirect_uri"),
        scope: text("scope"),
        state: text("state"),
        nonce: text("nonce"),
        code_challenge: text("code_challenge"),
        code_challenge_method: text("code_challenge_method"),
        prompt: text("prompt"),
        max_age: text("max_age"),
        login_hint: text("login_hint"),
        response_mode: text("response_mode"),
        id_token_hint: text("id_token_hint"),
        request: text("request"),
        request_uri: None,
        dpop_jkt: text("dpop_jkt"),
        pushed: true,
    };
    if let Some(proof) = super::dpop::proof(&req, &state, None).await? {
        match &params.dpop_jkt {
            Some(named) if *named != proof.jkt => {
                return Err(OAuthError::InvalidDpopProof(
                    "dpop_jkt is not the thumbprint of the DPoP proof's key".into(),
                ))
            }
            _ => params.dpop_jkt = Some(proof.jkt),
        }
    }
    let checked = authorize::validate(
        state.stores.clients.as_ref(),
        &state.issuer,
        &state.pushed,
        params.clone(),
    )
    .await;
    match checked {
        Ok(_) => {}
        Err(Refusal::Redirect {
            error, description, ..
        }) => return Err(refused(error, description)),
        Err(Refusal::Page(description)) => return Err(OAuthError::InvalidRequest(description)),
        Err(Refusal::Store(e)) => return Err(e.into()),
        Err(Refusal::Forged | Refusal::Expired) => {
            return Err(OAuthError::InvalidRequest(
                "the request is not valid".into(),
            ))
        }
    }
    let request_uri = state.pushed.push(&client, params).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(PushedAnswer {
            request_uri,
            expires_in: PUSHED_TTL.as_secs(),
        }))
}

/// An authorization error as the pushed-request endpoint answers it (RFC 9126 §2.3).
fn refused(error: &'static str, description: String) -> OAuthError {
    match error {
        "invalid_scope" => OAuthError::InvalidScope(description),
        "unsupported_response_type" | "request_not_supported" => {
            OAuthError::Pushed(error, description)
        }
        _ => OAuthError::InvalidRequest(description),
    }
}
