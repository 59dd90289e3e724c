//! How an answer (a code or an error) goes back to the client: its parameters, with `iss`
//! (RFC 9207), added to the redirect URI, and the origin the pages' CSP must allow.

use super::Return;

/// The answer's parameters, in the order they are sent.
pub fn answer(
    issuer: &str,
    back: &Return,
    result: Result<&str, (&str, &str)>,
) -> Vec<(&'static str, String)> {
    let mut pairs = match result {
        Ok(code) => vec![("code", code.to_owned())],
        Err((error, description)) => vec![
            ("error", error.to_owned()),
            ("error_description", description.to_owned()),
        ],
    };
    if let Some(s) = &back.state {
        pairs.push(("state", s.clone()));
    }
    pairs.push(("iss", issuer.to_owned()));
    pairs
}

/// `redirect_uri` with `pairs` added to its query.
pub fn redirect_url(redirect_uri: &str, pairs: &[(&'static str, String)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

/// The origin of `redirect_uri` for the pages' `form-action` (Chromium applies it to the
/// redirect that follows a form post), or nothing for a private-use scheme.
pub fn form_target(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "https" | "http" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}
