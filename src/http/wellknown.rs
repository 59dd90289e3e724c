//! `/.well-known/*` (book § Signing keys, RFC 6749, book § Endpoints): the JWKS from pre-serialized bytes with a strong ETag and
//! 304s, and the discovery documents (OIDC Discovery 1.0, RFC 8414).

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::cors;
use crate::config::Settings;
use crate::crypto::SigningAlg;
use crate::domain::GrantType;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/.well-known")
            .wrap(cors::public_document())
            .route("/jwks.json", web::get().to(jwks))
            .route("/openid-configuration", web::get().to(openid_configuration))
            .route(
                "/oauth-authorization-server",
                web::get().to(authorization_server_metadata),
            ),
    );
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Serialize, ToSchema)]
pub struct JwkSet {
    /// Public keys: `kid`, `kty`, `alg`, `use: "sig"` and the public members only.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<Map<String, Value>>,
}

/// Provider metadata. Lists only what this version of tessera implements.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveryDocument {
    pub issuer: String,
    pub jwks_uri: String,
    pub authorization_endpoint: String,
    pub end_session_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    /// tessera's revocation feed for offline verifiers (book § Verifying tokens in other services; not a registered name).
    pub revocation_feed_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub scopes_supported: Vec<&'static str>,
    pub claims_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<SigningAlg>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    /// RFC 9207: every authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    pub prompt_values_supported: Vec<&'static str>,
    /// OIDC Discovery: request objects, `request_uri` and the `claims` parameter are not
    /// supported (said, so certified clients do not try them).
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub claims_parameter_supported: bool,
    /// OpenID Connect Back-Channel Logout 1.0: clients with a `backchannel_logout_uri`
    /// get a logout token when a session ends, always with `sid`.
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
    /// RFC 7523 / OIDC Core §9: the algorithms a `private_key_jwt` assertion may use.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 9449 §5.1: the algorithms a DPoP proof may use.
    pub dpop_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 9126 §5.
    pub pushed_authorization_request_endpoint: String,
    /// Whether every client must push its authorization requests (`TESSERA_REQUIRE_PAR`;
    /// a client may be required to on its own).
    pub require_pushed_authorization_requests: bool,
}

/// How clients authenticate: with a secret either way, with a signed assertion, or (public
/// clients, not at introspection) by id alone.
const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

/// The algorithms a client assertion may be signed with: every asymmetric one.
fn assertion_algs() -> Vec<&'static str> {
    tessera_verify::Algorithm::ALL
        .iter()
        .map(|a| a.name())
        .collect()
}

impl DiscoveryDocument {
    pub fn new(settings: &Settings) -> Self {
        let issuer = &settings.issuer;
        DiscoveryDocument {
            issuer: issuer.clone(),
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            authorization_endpoint: format!("{issuer}/oauth2/authorize"),
            end_session_endpoint: format!("{issuer}/oauth2/logout"),
            token_endpoint: format!("{issuer}/oauth2/token"),
            userinfo_endpoint: format!("{issuer}/oauth2/userinfo"),
            revocation_endpoint: format!("{issuer}/oauth2/revoke"),
            introspection_endpoint: format!("{issuer}/oauth2/introspect"),
            revocation_feed_endpoint: format!("{issuer}/oauth2/revocations"),
            revocation_endpoint_auth_methods_supported: AUTH_METHODS.to_vec(),
            introspection_endpoint_auth_methods_supported: AUTH_METHODS[..3].to_vec(),
            grant_types_supported: GrantType::ALL
                .map(GrantType::as_str)
                .into_iter()
                .chain([super::token::MFA_OTP_GRANT])
                .collect(),
            token_endpoint_auth_methods_supported: AUTH_METHODS.to_vec(),
            scopes_supported: vec!["openid", "email", "profile"],
            claims_supported: vec![
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "amr",
                "idp",
                "sid",
                "email",
                "email_verified",
                "name",
            ],
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: settings.signing_algs.clone(),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query", "form_post"],
            code_challenge_methods_supported: vec!["S256"],
            authorization_response_iss_parameter_supported: true,
            prompt_values_supported: vec!["none", "login", "consent"],
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            claims_parameter_supported: false,
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            token_endpoint_auth_signing_alg_values_supported: assertion_algs(),
            revocation_endpoint_auth_signing_alg_values_supported: assertion_algs(),
            introspection_endpoint_auth_signing_alg_values_supported: assertion_algs(),
            dpop_signing_alg_values_supported: tessera_verify::dpop::ALGORITHMS
                .iter()
                .map(|a| a.name())
                .collect(),
            pushed_authorization_request_endpoint: format!("{issuer}/oauth2/par"),
            require_pushed_authorization_requests: settings.require_par,
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// `Cache-Control` of the JWKS and discovery documents.
pub fn cache_control(settings: &Settings) -> String {
    format!(
        "public, max-age={}, stale-while-revalidate={}",
        settings.jwks_max_age.as_secs(),
        settings.jwks_stale_while_revalidate.as_secs()
    )
}

/// `If-None-Match` matches the ETag (weak comparison, RFC 9110 §13.1.2).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
        })
}

/// The published signing keys.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    params(("If-None-Match" = Option<String>, Header, description = "ETag from an earlier response")),
    responses(
        (status = 200, description = "The JWK Set", body = JwkSet,
            headers(("ETag" = String, description = "Strong validator"), ("Cache-Control" = String))),
        (status = 304, description = "Unchanged since the given ETag")))]
pub async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let doc = state.keyring.jwks();
    let unchanged = not_modified(&req, &doc.etag);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, state.keyring.cache_control()))
        .insert_header((header::ETAG, doc.etag.as_str()));
    if unchanged {
        return response.finish();
    }
    response
        .content_type("application/json")
        .body(doc.bytes.clone())
}

fn discovery(state: &AppState) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, state.documents.cache_control.clone()))
        .content_type("application/json")
        .body(state.documents.discovery.clone())
}

/// OpenID Connect Discovery 1.0 provider metadata.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, description = "Provider metadata", body = DiscoveryDocument)))]
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    discovery(&state)
}

/// RFC 8414 authorization server metadata (same document).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, description = "Authorization server metadata", body = DiscoveryDocument)))]
pub async fn authorization_server_metadata(state: web::Data<AppState>) -> HttpResponse {
    discovery(&state)
}
