//! The settings with their own rules (book § Configuration, book § Command line): issuer, signing algorithms,
//! KEKs, admin tokens, CORS origins and trusted proxies, parsed by `Parser` like the
//! rest, so one run still reports every problem.

use std::time::Duration;

use ipnet::IpNet;
use subtle::ConstantTimeEq;

use super::parse::Parser;
use super::RateLimit;
use crate::crypto::{Kek, SigningAlg};

/// An admin bearer token as configured: a label for the audit trail and the SHA-256 of
/// the token (the token itself is never configured or stored).
#[derive(Clone)]
pub struct AdminToken {
    pub label: String,
    sha256: [u8; 32],
}

impl AdminToken {
    pub(super) fn new(label: String, sha256: [u8; 32]) -> Self {
        AdminToken { label, sha256 }
    }

    /// Constant-time check of a presented token's SHA-256 against this entry.
    pub fn matches(&self, presented_sha256: &[u8; 32]) -> bool {
        self.sha256.ct_eq(presented_sha256).into()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl Parser {
    pub(super) fn issuer(&mut self, allow_insecure_http: bool) -> Option<String> {
        let v = self
            .opt_string("issuer")
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let url = match url::Url::parse(&v) {
            Ok(url) if url.has_host() && matches!(url.scheme(), "http" | "https") => url,
            _ => {
                self.error(
                    "issuer",
                    "must be an absolute http(s) URL, such as https://auth.example.com",
                );
                return None;
            }
        };
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            self.error("issuer", "must not carry a query, fragment or user info");
            return None;
        }
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if url.scheme() == "http" && !loopback && !allow_insecure_http {
            self.error("issuer", "http:// is only allowed for loopback hosts; use https:// or set TESSERA_ALLOW_INSECURE_HTTP=true");
            return None;
        }
        Some(v.trim_end_matches('/').to_owned())
    }

    pub(super) fn signing_algs(&mut self) -> Vec<SigningAlg> {
        let v = self
            .opt_string("signing_algs")
            .unwrap_or_else(|| "ES256,RS256".into());
        let mut algs = Vec::new();
        for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name.parse::<SigningAlg>() {
                Ok(alg) if !algs.contains(&alg) => algs.push(alg),
                Ok(_) => {}
                Err(()) => self.error(
                    "signing_algs",
                    format!(
                        "unsupported algorithm {name:?}; allowed: {}",
                        SigningAlg::allowed_list()
                    ),
                ),
            }
        }
        if !algs.contains(&SigningAlg::Rs256) {
            self.error(
                "signing_algs",
                "must include RS256 (OpenID Connect requires RS256 for ID tokens)",
            );
        }
        algs
    }

    pub(super) fn signing_alg(&mut self, enabled: &[SigningAlg]) -> SigningAlg {
        let v = self
            .opt_string("signing_alg")
            .unwrap_or_else(|| "ES256".into());
        match v.parse::<SigningAlg>() {
            Ok(alg) if enabled.contains(&alg) => alg,
            Ok(alg) => {
                self.error(
                    "signing_alg",
                    format!("{alg} is not in TESSERA_SIGNING_ALGS"),
                );
                alg
            }
            Err(()) => {
                self.error(
                    "signing_alg",
                    format!(
                        "unsupported algorithm {v:?}; allowed: {}",
                        SigningAlg::allowed_list()
                    ),
                );
                SigningAlg::Es256
            }
        }
    }

    pub(super) fn rsa_bits(&mut self) -> u32 {
        match self.opt_string("rsa_bits").as_deref() {
            None | Some("2048") => 2048,
            Some("3072") => 3072,
            Some(_) => {
                self.error("rsa_bits", "must be 2048 or 3072");
                2048
            }
        }
    }

    /// An optional public URL (echoed in errors is fine).
    pub(super) fn opt_url(&mut self, key: &str) -> Option<String> {
        let v = self.opt_string(key)?;
        match url::Url::parse(&v) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.fragment().is_none() => {
                Some(v)
            }
            _ => {
                self.error(key, "must be an absolute http(s) URL without a fragment");
                None
            }
        }
    }

    pub(super) fn redis_prefix(&mut self) -> String {
        let v = self
            .opt_string("redis_prefix")
            .unwrap_or_else(|| "tessera:".into());
        let ok = v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.'));
        if !ok {
            self.error(
                "redis_prefix",
                "must be at most 64 characters of A-Z a-z 0-9 : _ - .",
            );
        }
        v
    }

    /// The KEK, if configured; `required` outside the embedded mode (which keeps one in
    /// its data directory).
    pub(super) fn kek(&mut self, required: bool) -> Option<Kek> {
        let Some(v) = self.secret("kek") else {
            if required {
                self.error("kek", "is required: base64 of 32 random bytes (e.g. `openssl rand -base64 32`), or TESSERA_KEK_FILE");
            }
            return None;
        };
        match Kek::from_base64(&v) {
            Ok(kek) => Some(kek),
            Err(reason) => {
                self.error("kek", reason);
                None
            }
        }
    }

    /// The KEK `keys rewrap` re-seals under (`TESSERA_NEW_KEK` or `_FILE`); optional.
    pub(super) fn new_kek(&mut self) -> Option<Kek> {
        let v = self.secret("new_kek")?;
        match Kek::from_base64(&v) {
            Ok(kek) => Some(kek),
            Err(reason) => {
                self.error("new_kek", reason);
                None
            }
        }
    }

    pub(super) fn admin_tokens(&mut self) -> Vec<AdminToken> {
        let Some(v) = self.secret("admin_tokens") else {
            return Vec::new();
        };
        let mut tokens: Vec<AdminToken> = Vec::new();
        for entry in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match parse_admin_token(entry) {
                Ok(t) if tokens.iter().any(|o| o.label == t.label) => {
                    self.error("admin_tokens", format!("label {:?} appears twice", t.label));
                }
                Ok(t) => tokens.push(t),
                Err(reason) => self.error("admin_tokens", reason),
            }
        }
        tokens
    }

    pub(super) fn cors_origins(&mut self, credentials: bool) -> Vec<String> {
        let Some(v) = self.opt_string("cors_origins") else {
            return Vec::new();
        };
        let mut origins = Vec::new();
        for origin in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if origin == "*" {
                if credentials {
                    self.error("cors_origins", "\"*\" cannot be combined with credentials (TESSERA_CORS_ALLOW_CREDENTIALS=true); list the origins");
                } else {
                    origins.push(origin.to_owned());
                }
                continue;
            }
            match url::Url::parse(origin) {
                Ok(u)
                    if u.has_host()
                        && matches!(u.scheme(), "http" | "https")
                        && u.path() == "/"
                        && !origin.ends_with('/') =>
                {
                    origins.push(origin.to_owned())
                }
                _ => self.error(
                    "cors_origins",
                    format!("{origin:?} is not an origin like https://app.example.com"),
                ),
            }
        }
        origins
    }

    /// A rate limit written `COUNT/SECONDS` (e.g. `10/900`); `0` or `off` turns it off.
    pub(super) fn rate_limit(&mut self, key: &str, count: u32, seconds: u64) -> Option<RateLimit> {
        let default = RateLimit {
            count,
            period: Duration::from_secs(seconds),
        };
        let Some(v) = self.opt_string(key) else {
            return Some(default);
        };
        if v == "0" || v.eq_ignore_ascii_case("off") {
            return None;
        }
        let parsed = v.split_once('/').and_then(|(c, s)| {
            let count = c
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|c| (1..=1_000_000).contains(c))?;
            let secs = s
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=7 * 86_400).contains(s))?;
            Some(RateLimit {
                count,
                period: Duration::from_secs(secs),
            })
        });
        match parsed {
            Some(limit) => Some(limit),
            None => {
                self.error(
                    key,
                    "must be COUNT/SECONDS (1 to 1000000 requests per 1 s to 7 days), or 0 to turn it off",
                );
                Some(default)
            }
        }
    }

    pub(super) fn trusted_proxies(&mut self) -> Vec<IpNet> {
        let Some(v) = self.opt_string("trusted_proxies") else {
            return Vec::new();
        };
        let mut nets = Vec::new();
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parsed = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from));
            match parsed {
                Ok(net) => nets.push(net),
                Err(_) => self.error(
                    "trusted_proxies",
                    format!("{item:?} is not a CIDR or IP address"),
                ),
            }
        }
        nets
    }
}

/// Parses `label:sha256hex`. A value that is not a 64-hex digest is refused: the token
/// itself never belongs in configuration.
fn parse_admin_token(entry: &str) -> Result<AdminToken, String> {
    let Some((label, value)) = entry.split_once(':') else {
        return Err("each entry must be label:sha256hex".into());
    };
    let label_ok = !label.is_empty()
        && label.len() <= 64
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !label_ok {
        return Err(format!(
            "label {label:?} must be 1-64 characters of A-Z a-z 0-9 _ - ."
        ));
    }
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        let hint = if value.len() < 32 {
            "the admin token is shorter than 32 characters, and "
        } else {
            ""
        };
        return Err(format!(
            "entry {label:?}: {hint}the value must be the SHA-256 hex digest of a token of at least 32 random characters (printf %s \"$TOKEN\" | sha256sum), not the token itself"
        ));
    }
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(value, &mut sha256)
        .map_err(|_| format!("entry {label:?}: invalid hex"))?;
    Ok(AdminToken {
        label: label.to_owned(),
        sha256,
    })
}
