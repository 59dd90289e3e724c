//! The user an upstream's claims describe, read with the provider's claim names.

use serde_json::{Map, Value};

use super::{Failed, UpstreamUser};
use crate::domain::{Email, Provider};

/// The user the claims describe, read with the provider's claim names.
pub(super) fn user_of(
    provider: &Provider,
    claims: &Map<String, Value>,
) -> Result<UpstreamUser, Failed> {
    let names = &provider.settings.claims;
    let subject = match claims.get(&names.subject) {
        Some(Value::String(s)) => s.clone(),
        // GitHub's `id` is a number
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(Failed::Claims(format!(
                "no subject claim ({})",
                names.subject
            )))
        }
    };
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(Failed::Claims("the subject is empty or too long".into()));
    }
    let email = claims
        .get(&names.email)
        .and_then(Value::as_str)
        .and_then(|e| Email::parse(e).ok());
    let email_verified = match claims.get(&names.email_verified) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let name = claims
        .get(&names.name)
        .and_then(Value::as_str)
        .and_then(|n| crate::domain::display_name(Some(n)).ok().flatten());
    let amr = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(UpstreamUser {
        provider: provider.id.clone(),
        provider_name: provider.settings.name.clone(),
        subject,
        email,
        email_verified,
        name,
        amr,
        trust_email: provider.settings.trust_email,
        trust_mfa: provider.settings.trust_mfa,
    })
}
