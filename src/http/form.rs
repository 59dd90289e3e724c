//! Strict `application/x-www-form-urlencoded` parsing for OAuth endpoints (RFC 6749 §3.2):
//! no parameter twice, valid UTF-8 only, every value length-limited.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::HttpRequest;
use percent_encoding::percent_decode_str;

use crate::domain::OAuthError;

/// Longest value of any single parameter (passwords are the longest legitimate input).
const MAX_VALUE_BYTES: usize = 2048;

pub struct Form(HashMap<String, String>);

impl Form {
    /// Parses the body of a form POST, refusing other content types with 415.
    pub fn parse(req: &HttpRequest, body: &[u8]) -> Result<Self, OAuthError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::UnsupportedMediaType);
        }
        let text = std::str::from_utf8(body).map_err(|_| invalid("the body is not valid UTF-8"))?;
        Self::parse_text(text)
    }

    /// Parses a query string (a `GET` endpoint's parameters), with the same rules.
    pub fn query(req: &HttpRequest) -> Result<Self, OAuthError> {
        Self::parse_text(req.query_string())
    }

    /// Parses form-encoded text (the body or the query) by the same rules. Public for the
    /// fuzz target and property tests only.
    #[doc(hidden)]
    pub fn parse_text(text: &str) -> Result<Self, OAuthError> {
        let mut values = HashMap::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (decode(name)?, decode(value)?);
            if value.len() > MAX_VALUE_BYTES {
                return Err(invalid(&format!("{name} is too long")));
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(invalid(&format!("{name} is given more than once")));
            }
        }
        Ok(Form(values))
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| invalid(&format!("{name} is required")))
    }

    /// Takes a parameter out (for secrets, so they are not kept around).
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name).filter(|v| !v.is_empty())
    }
}

fn invalid(description: &str) -> OAuthError {
    OAuthError::InvalidRequest(description.into())
}

fn decode(raw: &str) -> Result<String, OAuthError> {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid("a parameter is not valid UTF-8"))
}
