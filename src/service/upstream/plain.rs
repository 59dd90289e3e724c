//! An `oauth2` provider (RFC 6749 §4.1 with PKCE, RFC 7636), GitHub's shape: endpoints
//! given, no ID token; the user's claims read from `userinfo_endpoint` with the access
//! token and, when it has no email, the primary verified one from `emails_endpoint`
//! (`[{email, primary, verified}]`). The token endpoint is asked for JSON (GitHub answers
//! a form otherwise).

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde_json::{Map, Value};

use super::http::UpstreamHttp;
use super::{Failed, Upstream};

fn url(value: Option<&String>, name: &'static str) -> Result<String, Failed> {
    value.cloned().ok_or(Failed::Config(name))
}

type Client = BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(upstream: &Upstream<'_>) -> Result<Client, Failed> {
    let s = upstream.settings;
    let auth = AuthUrl::new(url(
        s.authorization_endpoint.as_ref(),
        "authorization_endpoint",
    )?)
    .map_err(|_| Failed::Config("authorization_endpoint"))?;
    let token = TokenUrl::new(url(s.token_endpoint.as_ref(), "token_endpoint")?)
        .map_err(|_| Failed::Config("token_endpoint"))?;
    let redirect = RedirectUrl::new(upstream.redirect_uri.to_owned())
        .map_err(|_| Failed::Config("redirect_uri"))?;
    let mut client = BasicClient::new(ClientId::new(s.client_id.clone()))
        .set_auth_uri(auth)
        .set_token_uri(token)
        .set_redirect_uri(redirect)
        .set_auth_type(oauth2::AuthType::RequestBody);
    if let Some(secret) = upstream.secret {
        client = client.set_client_secret(ClientSecret::new(secret.to_owned()));
    }
    Ok(client)
}

/// Where the browser goes to sign in at the provider.
pub fn authorization_url(
    upstream: &Upstream<'_>,
    state: &str,
    verifier: &str,
) -> Result<String, Failed> {
    let client = client(upstream)?;
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.into()));
    let state = state.to_owned();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .set_pkce_challenge(challenge);
    for scope in &upstream.settings.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    Ok(request.url().0.to_string())
}

/// Redeems `code` and reads the user: userinfo's claims, with the primary verified email
/// from the emails endpoint where userinfo has none.
pub async fn redeem(
    http: &UpstreamHttp,
    upstream: &Upstream<'_>,
    code: &str,
    verifier: &str,
) -> Result<Map<String, Value>, Failed> {
    let client = client(upstream)?;
    let call = |request| http.call(request);
    let token_endpoint = url(upstream.settings.token_endpoint.as_ref(), "token_endpoint")?;
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
    for (name, value) in upstream.assertion(&token_endpoint)?.into_iter().flatten() {
        request = request.add_extra_param(name, value);
    }
    let answer = request
        .request_async(&call)
        .await
        .map_err(|e| Failed::Token(super::oidc::token_error(&e)))?;
    let access = answer.access_token().secret();
    let s = upstream.settings;
    let userinfo = url(s.userinfo_endpoint.as_ref(), "userinfo_endpoint")?;
    let mut claims = match http.get_json(&userinfo, access).await {
        Ok(Value::Object(claims)) => claims,
        Ok(_) => return Err(Failed::Claims("userinfo is not a JSON object".into())),
        Err(e) => return Err(Failed::Unreachable(format!("userinfo: {e}"))),
    };
    let has_email = claims.get(&s.claims.email).is_some_and(|e| e.is_string());
    if let (false, Some(emails)) = (has_email, s.emails_endpoint.as_ref()) {
        let listed = http
            .get_json(emails, access)
            .await
            .map_err(|e| Failed::Unreachable(format!("emails: {e}")))?;
        let primary = listed.as_array().and_then(|all| {
            all.iter().find(|e| {
                e.get("primary") == Some(&Value::Bool(true))
                    && e.get("verified") == Some(&Value::Bool(true))
            })
        });
        if let Some(email) = primary.and_then(|e| e.get("email")) {
            claims.insert(s.claims.email.clone(), email.clone());
            claims.insert(s.claims.email_verified.clone(), Value::Bool(true));
        }
    }
    Ok(claims)
}
