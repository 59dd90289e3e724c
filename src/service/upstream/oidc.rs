//! An `oidc` provider (OpenID Connect Core 1.0 §3.1, Discovery 1.0), through the
//! `openidconnect` crate: its metadata and keys discovered from its issuer and cached, the
//! authorization request with PKCE S256 (RFC 7636), `state` and `nonce`, and the code
//! redeemed for an ID token whose signature (allowlisted algorithms only), `iss`, `aud`,
//! `exp` and `nonce` are checked. Nothing is trusted for having come over TLS.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError,
};
use serde_json::{Map, Value};

use super::http::UpstreamHttp;
use super::{Failed, Upstream};

/// How long discovered metadata and keys are used before they are read again; a token
/// signed with a key not in them reads them again at once (at most once a minute).
const METADATA_TTL: Duration = Duration::from_secs(600);
const REFRESH_AFTER: Duration = Duration::from_secs(60);

/// The only algorithms an upstream ID token may be signed with: asymmetric ones (never
/// `none`, never an HMAC keyed with the client secret).
const ALLOWED: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Discovered metadata (with its keys) and when it was read.
#[derive(Clone)]
struct Discovered {
    metadata: Arc<CoreProviderMetadata>,
    read_at: std::time::Instant,
}

/// Each issuer's discovered metadata and keys.
#[derive(Clone)]
pub struct Discovery {
    http: UpstreamHttp,
    cache: moka::sync::Cache<String, Discovered>,
}

impl Discovery {
    pub fn new(http: UpstreamHttp) -> Self {
        Discovery {
            http,
            cache: moka::sync::Cache::builder()
                .max_capacity(256)
                .time_to_live(METADATA_TTL)
                .build(),
        }
    }

    /// The issuer's metadata and keys: cached, or read now (`fresh`: read now unless
    /// they were read within the last minute).
    async fn metadata(&self, issuer: &str, fresh: bool) -> Result<Discovered, Failed> {
        if let Some(found) = self.cache.get(issuer) {
            if !fresh || found.read_at.elapsed() < REFRESH_AFTER {
                return Ok(found);
            }
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(|_| Failed::Config("issuer"))?;
        let http = |request| self.http.call(request);
        let metadata = CoreProviderMetadata::discover_async(url, &http)
            .await
            .map_err(|e| Failed::Unreachable(format!("discovery: {}", super::chain(&e))))?;
        let found = Discovered {
            metadata: Arc::new(metadata),
            read_at: std::time::Instant::now(),
        };
        self.cache.insert(issuer.to_owned(), found.clone());
        Ok(found)
    }

    fn client(upstream: &Upstream<'_>, metadata: &CoreProviderMetadata) -> Result<Client, Failed> {
        let secret = upstream.secret.map(|s| ClientSecret::new(s.to_owned()));
        let redirect = RedirectUrl::new(upstream.redirect_uri.to_owned())
            .map_err(|_| Failed::Config("redirect_uri"))?;
        // client_secret_basic unless the provider takes only client_secret_post
        let methods = metadata.token_endpoint_auth_methods_supported();
        let post_only = methods.is_some_and(|m| {
            !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && m.contains(&CoreClientAuthMethod::ClientSecretPost)
        });
        // an assertion, like a secret in the body, goes with the client id in the body
        let in_body = post_only || upstream.assertions.is_some();
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(upstream.settings.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect);
        Ok(if in_body {
            client.set_auth_type(AuthType::RequestBody)
        } else {
            client
        })
    }

    /// Where the browser goes to sign in at the provider.
    pub async fn authorization_url(
        &self,
        upstream: &Upstream<'_>,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<String, Failed> {
        let issuer = upstream.issuer()?;
        let found = self.metadata(issuer, false).await?;
        let client = Self::client(upstream, &found.metadata)?;
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.into()));
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in upstream.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        Ok(url.to_string())
    }

    /// Redeems `code`: the ID token's claims once it is verified, merged under the
    /// provider's userinfo where the ID token lacks the email, and the access token.
    pub async fn redeem(
        &self,
        upstream: &Upstream<'_>,
        code: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<Map<String, Value>, Failed> {
        let issuer = upstream.issuer()?;
        let found = self.metadata(issuer, false).await?;
        let client = Self::client(upstream, &found.metadata)?;
        let http = |request| self.http.call(request);
        let token_endpoint = found
            .metadata
            .token_endpoint()
            .ok_or(Failed::Config("token_endpoint"))?;
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| Failed::Config("token_endpoint"))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        for (name, value) in upstream
            .assertion(token_endpoint.as_str())?
            .into_iter()
            .flatten()
        {
            request = request.add_extra_param(name, value);
        }
        let answer = request
            .request_async(&http)
            .await
            .map_err(|e| Failed::Token(token_error(&e)))?;
        let id_token = answer.extra_fields().id_token().ok_or(Failed::Claims(
            "the token endpoint answered without an ID token".into(),
        ))?;
        let verify = |client: &Client| {
            let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED);
            id_token
                .claims(&verifier, &Nonce::new(nonce.to_owned()))
                .map(|_| ())
        };
        match verify(&client) {
            Ok(()) => {}
            // a key the cached set lacks: the provider may have rotated; read it again
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let found = self.metadata(issuer, true).await?;
                let client = Self::client(upstream, &found.metadata)?;
                verify(&client).map_err(|e| Failed::Claims(refusal(&e)))?;
            }
            Err(e) => return Err(Failed::Claims(refusal(&e))),
        }
        let mut claims = payload(&id_token.to_string())?;
        let email_claim = upstream.settings.claims.email.as_str();
        if !claims.contains_key(email_claim) {
            if let Some(userinfo) = found.metadata.userinfo_endpoint() {
                let access = answer.access_token().secret();
                if let Ok(Value::Object(info)) = self.http.get_json(userinfo.as_str(), access).await
                {
                    // OIDC Core §5.3.2: userinfo must be about the ID token's subject
                    if info.get("sub").is_some() && info.get("sub") == claims.get("sub") {
                        for (name, value) in info {
                            claims.entry(name).or_insert(value);
                        }
                    }
                }
            }
        }
        Ok(claims)
    }
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Why an ID token was refused, with the cause (a signature's: no key, a wrong alg).
fn refusal(e: &ClaimsVerificationError) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("the ID token: {e}: {cause}"),
        None => format!("the ID token: {e}"),
    }
}

/// The claims of a JWT whose signature was verified.
fn payload(jwt: &str) -> Result<Map<String, Value>, Failed> {
    let unreadable = || Failed::Claims("the ID token's claims are unreadable".into());
    let part = jwt.split('.').nth(1).ok_or_else(unreadable)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| unreadable())?;
    serde_json::from_slice(&bytes).map_err(|_| unreadable())
}

/// A token endpoint's refusal as a line for the log and the audit trail: the OAuth error
/// code where there is one, never the answer's body.
pub(super) fn token_error<E: std::error::Error>(
    e: &oauth2::RequestTokenError<
        E,
        oauth2::StandardErrorResponse<oauth2::basic::BasicErrorResponseType>,
    >,
) -> String {
    match e {
        oauth2::RequestTokenError::ServerResponse(answer) => {
            format!("the token endpoint refused: {}", answer.error().as_ref())
        }
        oauth2::RequestTokenError::Request(e) => format!("the token endpoint: {}", super::chain(e)),
        oauth2::RequestTokenError::Parse(_, _) => {
            "the token endpoint's answer is unreadable".into()
        }
        oauth2::RequestTokenError::Other(e) => format!("the token endpoint: {e}"),
    }
}
