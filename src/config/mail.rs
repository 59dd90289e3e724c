//! SMTP delivery's settings (book § Email): the relay's URL, its credentials, the sender,
//! and a private CA, checked at start so a wrong setting is a configuration error.

use std::time::Duration;

use secrecy::SecretString;

use super::parse::Parser;

/// Delivering messages to users (book § Email, book § Configuration).
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// POST reset messages here; without it they go to the log sink.
    pub webhook_url: Option<SecretString>,
    /// The SPA's reset page; links are `<url>#token=<token>`.
    pub reset_url: Option<String>,
    /// Development only: the log sink prints reset links, tokens included.
    pub log_links: bool,
    pub reset_ttl: Duration,
    /// Email verification at registration and sign-in (book § Email).
    pub email_verification: EmailVerification,
    /// SMTP delivery (book § Email); before the webhook and the log sink when set.
    pub smtp: Option<SmtpSettings>,
}

/// Email verification (book § Email): `TESSERA_EMAIL_VERIFICATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    /// No verification links; registration answers `201`, or `409` for a taken address.
    Off,
    /// A link is sent at registration and `email_verified` follows it; sign-in does not
    /// wait for it.
    Optional,
    /// As `Optional`, and sign-in is refused with `email_not_verified` until the link is
    /// followed.
    Required,
}

impl EmailVerification {
    /// Registration sends a link and answers `202` the same way for every address.
    pub fn is_on(self) -> bool {
        self != EmailVerification::Off
    }
}

impl Parser {
    pub(super) fn email_verification(&mut self) -> EmailVerification {
        match self.opt_string("email_verification").as_deref() {
            None | Some("optional") => EmailVerification::Optional,
            Some("off") => EmailVerification::Off,
            Some("required") => EmailVerification::Required,
            Some(_) => {
                self.error("email_verification", "must be off, optional or required");
                EmailVerification::Optional
            }
        }
    }
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain TCP upgraded with STARTTLS, which is required (no AUTH and no
    /// message without it).
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=none`: no TLS, for a relay on this machine only, without credentials.
    None,
}

/// SMTP delivery (book § Email). The password never appears in `Debug`.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// The `From` mailbox (`TESSERA_MAIL_FROM`), e.g. `Example <no-reply@example.com>`.
    pub from: lettre::message::Mailbox,
    /// PEM of a private CA the relay's certificate chains to (`TESSERA_SMTP_CA_FILE`).
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Parser {
    /// `TESSERA_SMTP_URL` (`smtp://[user[:password]@]host[:port]`, STARTTLS required;
    /// `smtps://` for implicit TLS; `?tls=none` for a relay on loopback), the password in
    /// the URL or `TESSERA_SMTP_PASSWORD(_FILE)`, `TESSERA_MAIL_FROM`, and
    /// `TESSERA_SMTP_CA_FILE`. Mail links to the reset page, so `reset_url` must be set.
    pub(super) fn smtp(&mut self, reset_url: Option<&str>) -> Option<SmtpSettings> {
        let raw = self.secret("smtp_url");
        let separate_password = self.secret("smtp_password");
        let from = self.opt_string("mail_from");
        let ca_file = self.opt_string("smtp_ca_file");
        let Some(raw) = raw else {
            for (key, set) in [
                ("smtp_password", separate_password.is_some()),
                ("mail_from", from.is_some()),
                ("smtp_ca_file", ca_file.is_some()),
            ] {
                if set {
                    self.error(key, "applies to SMTP delivery only; set TESSERA_SMTP_URL");
                }
            }
            return None;
        };
        // errors never quote the URL: it may hold the password
        let Ok(url) = url::Url::parse(&raw) else {
            self.error(
                "smtp_url",
                "must be smtp://host[:port] or smtps://host[:port]",
            );
            return None;
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => {
                self.error("smtp_url", "must name the relay's host");
                return None;
            }
        };
        let plain = url.query_pairs().any(|(k, v)| k == "tls" && v == "none");
        let unknown = url.query_pairs().any(|(k, v)| !(k == "tls" && v == "none"));
        if unknown || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
            self.error(
                "smtp_url",
                "takes no path, fragment or query other than ?tls=none",
            );
        }
        let security = match (url.scheme(), plain) {
            ("smtp", false) => SmtpSecurity::StartTls,
            ("smtps", false) => SmtpSecurity::Implicit,
            ("smtp", true) => SmtpSecurity::None,
            _ => {
                self.error(
                    "smtp_url",
                    "must be smtp:// (STARTTLS), smtps:// (TLS), or smtp://…?tls=none on loopback",
                );
                return None;
            }
        };
        let username = percent_decoded(url.username());
        let in_url = url.password().map(percent_decoded);
        let password = match (in_url, separate_password) {
            (Some(_), Some(_)) => {
                self.error(
                    "smtp_password",
                    "the SMTP URL holds a password already; give it in one place",
                );
                None
            }
            (Some(p), None) | (None, Some(p)) => Some(SecretString::from(p)),
            (None, None) => None,
        };
        if password.is_some() && username.is_empty() {
            self.error("smtp_url", "has a password but no user name");
        }
        if security == SmtpSecurity::None {
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                self.error(
                    "smtp_url",
                    "?tls=none is for a relay on this machine only (localhost, 127.0.0.1, ::1)",
                );
            }
            if password.is_some() {
                self.error("smtp_url", "?tls=none would send the password in clear");
            }
        }
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::Implicit => 465,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::None => 25,
        });
        let from = match from.map(|f| f.parse::<lettre::message::Mailbox>()) {
            Some(Ok(mailbox)) => Some(mailbox),
            Some(Err(_)) => {
                self.error(
                    "mail_from",
                    "must be an address, e.g. no-reply@example.com or Example <no-reply@example.com>",
                );
                None
            }
            None => {
                self.error("mail_from", "is required with TESSERA_SMTP_URL");
                None
            }
        };
        if reset_url.is_none() {
            self.error(
                "password_reset_url",
                "is required with TESSERA_SMTP_URL: the reset message links to that page",
            );
        }
        let ca_pem = match ca_file {
            Some(file) => self.pem_certificates("smtp_ca_file", &file),
            None => None,
        };
        Some(SmtpSettings {
            host,
            port,
            security,
            username: (!username.is_empty()).then_some(username),
            password,
            from: from?,
            ca_pem,
        })
    }
}

fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}
