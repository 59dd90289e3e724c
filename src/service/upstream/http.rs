//! Calls to upstream providers: discovery, JWKS, token, userinfo and emails. Each call
//! has a time limit and a size limit, follows no redirect (a provider's URLs are the
//! operator's; a redirect to another host is refused, as any other is), and never logs
//! what it carries (codes, tokens, secrets).

use std::time::Duration;

/// The longest an upstream call may take, and its connection.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read from an upstream (a JWKS of many keys fits).
pub const MAX_ANSWER_BYTES: usize = 512 * 1024;

/// Why an upstream call failed (its text names no secret).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the upstream could not be reached or did not answer in time: {0}")]
    Transport(String),
    #[error("the upstream's answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("the request could not be built: {0}")]
    Request(String),
}

/// The HTTP client of every upstream call.
#[derive(Clone)]
pub struct UpstreamHttp {
    client: reqwest::Client,
}

impl UpstreamHttp {
    pub fn new() -> Result<Self, CallError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CallError::Request(e.to_string()))?;
        Ok(UpstreamHttp { client })
    }

    /// One call, its answer read up to the size limit (what the `oauth2` and
    /// `openidconnect` crates call through).
    pub async fn call(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, CallError> {
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
            .map_err(|e| CallError::Request(e.to_string()))?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| CallError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let headers = response.headers().clone();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(CallError::TooLarge);
        }
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| CallError::Transport(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(CallError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = http::Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }

    /// A JSON `GET` with a bearer token (userinfo, emails): the document, or why not.
    pub async fn get_json(
        &self,
        url: &str,
        access_token: &str,
    ) -> Result<serde_json::Value, String> {
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {access_token}"),
            )
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let answer = self.call(request).await.map_err(|e| e.to_string())?;
        if !answer.status().is_success() {
            return Err(format!("answered {}", answer.status()));
        }
        serde_json::from_slice(answer.body()).map_err(|_| "not a JSON document".to_owned())
    }
}
