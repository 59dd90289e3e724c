//! Per-key parsing for `Settings` (book § Configuration): each method records an error instead of
//! failing, so one run reports every bad setting.

use std::net::SocketAddr;
use std::time::Duration;

use super::source::{env_name, RawSettings};
use super::{ConfigError, ConfigErrors};

pub(super) struct Parser {
    pub(super) raw: RawSettings,
    pub(super) errors: Vec<ConfigError>,
    /// Every key a setting asked for: what a leftover key is compared with.
    pub(super) known: Vec<String>,
}

impl Parser {
    pub(super) fn new(raw: RawSettings) -> Self {
        Parser {
            raw,
            errors: Vec::new(),
            known: Vec::new(),
        }
    }

    /// Reports every key no setting asked for (a typo such as `TESSERA_ACCES_TOKEN_TTL`
    /// would otherwise be ignored silently), with the closest known name, then all errors.
    pub(super) fn finish(mut self) -> Result<(), ConfigErrors> {
        let leftover = std::mem::take(&mut self.raw);
        for (key, message) in super::unknown::report(leftover.into_keys(), &self.known) {
            self.error(&key, message);
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.errors))
        }
    }

    pub(super) fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            key: env_name(key),
            message: message.into(),
        });
    }

    /// Refuses a setting that no longer exists, saying what replaced it.
    pub(super) fn removed(&mut self, key: &str, why: &str) {
        if self.opt_string(key).is_some() {
            self.error(key, format!("was removed: {why}; unset it"));
        }
        // never offered as the closest name to a typo
        self.known.pop();
    }

    /// The value of `key`, or `None` when unset or empty.
    pub(super) fn opt_string(&mut self, key: &str) -> Option<String> {
        self.known.push(key.to_owned());
        self.raw
            .remove(key)
            .map(|v| v.0.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A secret given directly (`KEY`) or as a file path (`KEY_FILE`), not both.
    pub(super) fn secret(&mut self, key: &str) -> Option<String> {
        let direct = self.opt_string(key);
        let file_key = format!("{key}_file");
        let file = self.opt_string(&file_key);
        match (direct, file) {
            (Some(_), Some(_)) => {
                self.error(
                    key,
                    format!(
                        "set either {} or {}, not both",
                        env_name(key),
                        env_name(&file_key)
                    ),
                );
                None
            }
            (Some(v), None) => Some(v),
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(content) => Some(content.trim().to_owned()),
                Err(e) => {
                    self.error(&file_key, format!("cannot read {path}: {}", e.kind()));
                    None
                }
            },
            (None, None) => None,
        }
    }

    pub(super) fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.opt_string(key).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => false,
            Some(_) => {
                self.error(key, "must be true or false");
                default
            }
        }
    }

    pub(super) fn integer(&mut self, key: &str, default: usize, min: usize, max: usize) -> usize {
        let Some(v) = self.opt_string(key) else {
            return default;
        };
        match v.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.error(key, format!("must be a whole number from {min} to {max}"));
                default
            }
        }
    }

    /// `key_rotation_interval`: unset or 0 turns scheduled rotation off. A next key must
    /// have been in every verifier's cached JWKS before it signs, so the interval is at
    /// least `min` (JWKS max-age + clock leeway).
    pub(super) fn rotation_interval(&mut self, min: Duration) -> Option<Duration> {
        let key = "key_rotation_interval";
        let interval = self.seconds(key, 0, 0, 365 * 86_400);
        if interval.is_zero() {
            return None;
        }
        if interval < min.max(Duration::from_secs(1)) {
            self.error(
                key,
                format!(
                    "must be 0 (off) or at least TESSERA_JWKS_MAX_AGE + TESSERA_CLOCK_LEEWAY = {} s, so verifiers hold a key before it signs",
                    min.as_secs()
                ),
            );
        }
        Some(interval)
    }

    pub(super) fn seconds(&mut self, key: &str, default: u64, min: u64, max: u64) -> Duration {
        let Some(v) = self.opt_string(key) else {
            return Duration::from_secs(default);
        };
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Duration::from_secs(n),
            _ => {
                self.error(
                    key,
                    format!("must be a number of seconds from {min} to {max}"),
                );
                Duration::from_secs(default)
            }
        }
    }

    pub(super) fn socket_addr(&mut self, key: &str, default: &str) -> SocketAddr {
        let fallback = SocketAddr::from(([127, 0, 0, 1], 0));
        let v = self.opt_string(key).unwrap_or_else(|| default.to_owned());
        v.parse().unwrap_or_else(|_| {
            self.error(key, "must be an IP address and port, such as 0.0.0.0:8080");
            fallback
        })
    }
}
