//! Delivering messages to users (book § Email): password reset links, email verification
//! and change links, and security notices, behind one trait: SMTP (`smtp`), an HTTP
//! webhook that POSTs JSON to the operator's mailer, and a log sink (never a link's token,
//! unless an operator turned on development links). The outbox
//! (`service::outbox`) calls them, and retries what fails.

mod backchannel;
mod smtp;

pub use backchannel::BackChannel;
pub use smtp::SmtpNotifier;

use std::time::Duration;

use crate::domain::UserId;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use time::OffsetDateTime;

/// Messages the outbox hands a transport at once; the SMTP transport keeps as many
/// connections to the relay.
pub const PARALLEL_DELIVERIES: usize = 4;

/// A reset token for one user. The token is secret: Debug redacts it.
#[derive(Debug)]
pub struct ResetMessage {
    pub user_id: UserId,
    pub email: String,
    pub token: SecretString,
    pub expires_at: OffsetDateTime,
    /// When it goes out (the message says how long the link still works).
    pub sent_at: OffsetDateTime,
}

/// What a security notice tells a user changed on their account (book § Email).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    PasswordChanged,
    PasswordReset,
    TotpEnabled,
    TotpDisabled,
    PasskeyAdded,
    PasskeyRemoved,
    /// To the old address, once the account moved to a new one.
    EmailChanged,
    /// To an account's address, when someone registered with it (or asked to move another
    /// account to it): the answer they got could not say it was taken.
    RegistrationAttempt,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::PasswordChanged => "password_changed",
            NoticeKind::PasswordReset => "password_reset",
            NoticeKind::TotpEnabled => "totp_enabled",
            NoticeKind::TotpDisabled => "totp_disabled",
            NoticeKind::PasskeyAdded => "passkey_added",
            NoticeKind::PasskeyRemoved => "passkey_removed",
            NoticeKind::EmailChanged => "email_changed",
            NoticeKind::RegistrationAttempt => "registration_attempt",
        }
    }

    /// The message's headline: what happened, in a sentence.
    pub fn headline(self) -> &'static str {
        match self {
            NoticeKind::PasswordChanged => "Your password was changed",
            NoticeKind::PasswordReset => "Your password was reset",
            NoticeKind::TotpEnabled => "Two-step verification was turned on",
            NoticeKind::TotpDisabled => "Two-step verification was turned off",
            NoticeKind::PasskeyAdded => "A passkey was added to your account",
            NoticeKind::PasskeyRemoved => "A passkey was removed from your account",
            NoticeKind::EmailChanged => "The email address of your account was changed",
            NoticeKind::RegistrationAttempt => "Someone tried to register with your email address",
        }
    }

    /// What the reader should do, a paragraph each.
    pub fn advice(self) -> &'static [&'static str] {
        match self {
            NoticeKind::RegistrationAttempt => &[
                "This address already has an account, so nothing was created or changed.",
                "If it was you, sign in instead; if you forgot your password, reset it from the sign-in page. If it was not you, you can ignore this message.",
            ],
            NoticeKind::EmailChanged => &[
                "From now on, messages about this account go to its new address, and links sent here before no longer work.",
                "If this was not you, someone may have your password: tell the people who run this service at once, so they can give the account back to you.",
            ],
            _ => &[
                "If this was you, there is nothing to do.",
                "If it was not you, someone may have your password: reset it now from the sign-in page, and tell the people who run this service.",
            ],
        }
    }
}

/// What an email link does when followed (book § Email).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Verifies the address it was sent to (`<issuer>/email/verify`).
    Verify,
    /// Moves the account to the address it was sent to (`<issuer>/email/confirm`).
    Confirm,
}

impl LinkKind {
    /// The event name a webhook receives.
    pub fn event(self) -> &'static str {
        match self {
            LinkKind::Verify => "email_verification",
            LinkKind::Confirm => "email_change",
        }
    }
}

/// An email verification or change link for one address. The link holds a token: Debug
/// redacts it.
pub struct LinkMessage {
    pub user_id: UserId,
    pub email: String,
    pub kind: LinkKind,
    pub link: SecretString,
    pub expires_at: OffsetDateTime,
    pub sent_at: OffsetDateTime,
}

redacted_debug!(LinkMessage, user_id, kind, expires_at);

impl LinkMessage {
    /// The token in the link (`?token=`), for a webhook that builds its own link.
    fn token(&self) -> &str {
        let link = self.link.expose_secret();
        link.split_once("token=").map_or("", |(_, token)| token)
    }
}

/// A security notice for one user: what changed, and when.
#[derive(Debug)]
pub struct NoticeMessage {
    pub user_id: UserId,
    pub email: String,
    pub kind: NoticeKind,
    pub at: OffsetDateTime,
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Worth another try later (unreachable, timed out, a temporary refusal).
    #[error("notification not delivered: {0}")]
    Failed(String),
    /// Refused for good (an SMTP 5xx such as "no such mailbox"): trying again changes
    /// nothing.
    #[error("notification refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn password_reset(&self, message: &ResetMessage) -> Result<(), NotifyError>;
    async fn notice(&self, message: &NoticeMessage) -> Result<(), NotifyError>;
    async fn email_link(&self, message: &LinkMessage) -> Result<(), NotifyError>;
}

/// tessera's outbound connections: where the outbox delivers (mail by SMTP, the webhook
/// or the log; relying parties' back channels), and the client of upstream providers.
#[derive(Clone)]
pub struct Transports {
    pub mail: std::sync::Arc<dyn Notifier>,
    pub backchannel: BackChannel,
    pub upstream: crate::service::upstream::UpstreamHttp,
}

impl Transports {
    pub fn from_settings(settings: &crate::config::Settings) -> Result<Self, NotifyError> {
        Ok(Transports {
            mail: from_settings(settings)?,
            backchannel: BackChannel::new()?,
            upstream: crate::service::upstream::UpstreamHttp::new()
                .map_err(|e| NotifyError::Failed(e.to_string()))?,
        })
    }
}

/// SMTP when it is configured, else the webhook when one is, else the log sink.
pub fn from_settings(
    settings: &crate::config::Settings,
) -> Result<std::sync::Arc<dyn Notifier>, NotifyError> {
    let notify = &settings.notify;
    if let (Some(smtp), Some(reset_url)) = (&notify.smtp, &notify.reset_url) {
        let service = url::Url::parse(&settings.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "tessera".into());
        return Ok(std::sync::Arc::new(SmtpNotifier::new(
            smtp,
            reset_url.clone(),
            service,
        )?));
    }
    Ok(match &notify.webhook_url {
        Some(url) => std::sync::Arc::new(WebhookNotifier::new(
            url.expose_secret().to_owned(),
            notify.reset_url.clone(),
        )?),
        None => std::sync::Arc::new(LogNotifier {
            show_links: notify.log_links,
            reset_url: notify.reset_url.clone(),
        }),
    })
}

/// `<reset_url>#token=<token>`: in the fragment, so it never reaches a server log or a
/// `Referer`.
fn reset_link(base: Option<&str>, token: &SecretString) -> Option<String> {
    base.map(|b| format!("{b}#token={}", token.expose_secret()))
}

/// Writes a line per reset to the log. In production it names the user only; with
/// `show_links` (development) it prints the reset link, token included.
pub struct LogNotifier {
    pub show_links: bool,
    pub reset_url: Option<String>,
}

#[async_trait]
impl Notifier for LogNotifier {
    async fn password_reset(&self, message: &ResetMessage) -> Result<(), NotifyError> {
        if self.show_links {
            let link = reset_link(self.reset_url.as_deref(), &message.token)
                .unwrap_or_else(|| format!("token {}", message.token.expose_secret()));
            tracing::warn!(user_id = %message.user_id, link, "DEVELOPMENT ONLY: password reset link");
        } else {
            tracing::info!(user_id = %message.user_id, "password reset issued (no webhook configured: nothing was sent)");
        }
        Ok(())
    }

    async fn notice(&self, message: &NoticeMessage) -> Result<(), NotifyError> {
        tracing::info!(
            user_id = %message.user_id,
            notice = message.kind.as_str(),
            "security notice (no mail transport configured: nothing was sent)"
        );
        Ok(())
    }

    async fn email_link(&self, message: &LinkMessage) -> Result<(), NotifyError> {
        if self.show_links {
            let link = message.link.expose_secret();
            tracing::warn!(user_id = %message.user_id, event = message.kind.event(), link, "DEVELOPMENT ONLY: email link");
        } else {
            tracing::info!(user_id = %message.user_id, event = message.kind.event(), "email link issued (no mail transport configured: nothing was sent)");
        }
        Ok(())
    }
}

/// POSTs `{"event":"password_reset","user_id","email","token","reset_link"?,"expires_at"}`.
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: String,
    reset_url: Option<String>,
}

impl WebhookNotifier {
    pub fn new(url: String, reset_url: Option<String>) -> Result<Self, NotifyError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifyError::Failed(e.to_string()))?;
        Ok(WebhookNotifier {
            client,
            url,
            reset_url,
        })
    }
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    event: &'static str,
    user_id: UserId,
    email: &'a str,
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reset_link: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// POSTed for an email link: `{"event":"email_verification"|"email_change","user_id","email","token","link","expires_at"}`.
#[derive(Serialize)]
struct LinkBody<'a> {
    event: &'static str,
    user_id: UserId,
    email: &'a str,
    token: &'a str,
    link: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// POSTed for a security notice: `{"event":"security_notice","notice","user_id","email","at"}`.
#[derive(Serialize)]
struct NoticeBody<'a> {
    event: &'static str,
    notice: &'static str,
    user_id: UserId,
    email: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn password_reset(&self, message: &ResetMessage) -> Result<(), NotifyError> {
        let body = WebhookBody {
            event: "password_reset",
            user_id: message.user_id,
            email: &message.email,
            token: message.token.expose_secret(),
            reset_link: reset_link(self.reset_url.as_deref(), &message.token),
            expires_at: message.expires_at,
        };
        self.post(&body).await
    }

    async fn notice(&self, message: &NoticeMessage) -> Result<(), NotifyError> {
        let body = NoticeBody {
            event: "security_notice",
            notice: message.kind.as_str(),
            user_id: message.user_id,
            email: &message.email,
            at: message.at,
        };
        self.post(&body).await
    }

    async fn email_link(&self, message: &LinkMessage) -> Result<(), NotifyError> {
        let body = LinkBody {
            event: message.kind.event(),
            user_id: message.user_id,
            email: &message.email,
            token: message.token(),
            link: message.link.expose_secret(),
            expires_at: message.expires_at,
        };
        self.post(&body).await
    }
}

impl WebhookNotifier {
    async fn post(&self, body: &(impl Serialize + Sync)) -> Result<(), NotifyError> {
        // errors are described without the request (it may carry a token)
        let send = || self.client.post(&self.url).json(body).send();
        let response = match send().await {
            Ok(response) => response,
            // a pooled connection the webhook closed while this request went out on it:
            // the request never arrived, so one more try on a new connection is safe (a
            // timeout may have arrived, and is not retried)
            Err(e) if !e.is_timeout() => {
                tracing::info!(error = %e.without_url(), "webhook request failed; retrying once");
                send().await.map_err(|e| {
                    NotifyError::Failed(format!("webhook unreachable ({})", e.without_url()))
                })?
            }
            Err(e) => {
                return Err(NotifyError::Failed(format!(
                    "webhook timed out ({})",
                    e.without_url()
                )))
            }
        };
        if response.status().is_success() {
            Ok(())
        } else {
            Err(NotifyError::Failed(format!(
                "webhook answered {}",
                response.status()
            )))
        }
    }
}
