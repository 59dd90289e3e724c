//! Password policy (book § Configuration): length in bytes, zxcvbn strength, and not containing the
//! email's local part. Every failed rule is reported.

use crate::domain::FieldError;
use crate::domain::{Email, Password};

/// zxcvbn's cost grows with length; the first 128 characters decide the score.
const STRENGTH_PREFIX_CHARS: usize = 128;
const MIN_SCORE: u8 = 3;

pub fn check(
    password: &Password,
    email: &Email,
    name: Option<&str>,
    min_bytes: usize,
) -> Vec<FieldError> {
    let value = password.expose();
    let mut problems = Vec::new();
    let mut fail = |message: String| {
        problems.push(FieldError {
            field: "password".into(),
            message,
        })
    };
    if value.len() < min_bytes {
        fail(format!("must be at least {min_bytes} bytes long"));
    }
    if value.len() > crate::domain::password::MAX_PASSWORD_BYTES {
        fail("must be at most 1024 bytes long".into());
    }
    let local = email.local_part();
    if local.chars().count() >= 3 && value.to_lowercase().contains(local) {
        fail("must not contain the part of your email before the @".into());
    }
    let prefix: String = value.chars().take(STRENGTH_PREFIX_CHARS).collect();
    let mut inputs = vec![email.as_str(), local];
    inputs.extend(name);
    let score = u8::from(zxcvbn::zxcvbn(&prefix, &inputs).score());
    if score < MIN_SCORE {
        fail(format!(
            "is too easy to guess (strength {score} of 4, at least {MIN_SCORE} needed)"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(password: &str) -> Vec<String> {
        let email = Email::parse("alice.smith@example.com").unwrap();
        check(&Password::new(password.into()), &email, None, 12)
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn each_failed_rule_is_named() {
        assert!(messages("Tr0ub4dor&3-horse-staple").is_empty());
        assert!(messages("short")
            .iter()
            .any(|m| m.contains("at least 12 bytes")));
        assert!(messages("password1234")
            .iter()
            .any(|m| m.contains("too easy")));
        assert!(messages("xQ9!alice.smith-vault")
            .iter()
            .any(|m| m.contains("before the @")));
        assert!(messages(&"x".repeat(1025))
            .iter()
            .any(|m| m.contains("at most 1024")));
    }
}
