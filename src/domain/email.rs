//! Email addresses (book § Configuration): trimmed, Unicode NFKC, lower-cased for lookup, at most 254 bytes.

use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

pub const MAX_EMAIL_BYTES: usize = 254;

impl Email {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let normalized: String = input.trim().nfkc().collect::<String>().to_lowercase();
        if normalized.is_empty() {
            return Err("email is required");
        }
        if normalized.len() > MAX_EMAIL_BYTES {
            return Err("email must be at most 254 bytes");
        }
        if !email_address::EmailAddress::is_valid(&normalized) || !normalized.contains('.') {
            return Err("email is not a valid address");
        }
        Ok(Email(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@` (password policy: a password must not contain it).
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }

    /// For rows already normalized by `parse` when they were written.
    pub fn from_stored(value: String) -> Self {
        Email(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_nfkc_normalized_and_lowercased() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        // fullwidth letters fold to ASCII under NFKC
        assert_eq!(
            Email::parse("ａｌｉｃｅ@example.com").unwrap().as_str(),
            "alice@example.com"
        );
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
        assert!(Email::parse("").is_err());
    }
}
