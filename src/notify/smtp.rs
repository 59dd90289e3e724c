//! SMTP delivery (book § Email) on `lettre` over rustls: STARTTLS required (`smtp://`) or
//! TLS from the first byte (`smtps://`), certificates checked against the system's roots
//! and an optional private CA, a bounded pool of connections, a timeout on every
//! exchange. The reset message is plain text and HTML from templates, naming the service
//! and the link's expiry, with no tracking of any kind.

use std::time::Duration;

use askama::Template;
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::{
    reset_link, LinkKind, LinkMessage, NoticeMessage, Notifier, NotifyError, ResetMessage,
};
use crate::config::{SmtpSecurity, SmtpSettings};

/// Connections kept to the relay at most: one per delivery the outbox runs at once.
const POOL: u32 = super::PARALLEL_DELIVERIES as u32;
/// Each SMTP exchange's limit (connect, TLS, each command).
const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct ResetText<'a> {
    service: &'a str,
    email: &'a str,
    link: &'a str,
    minutes: i64,
    expires_at: &'a str,
}

/// The HTML version of a message: a template of its own over the text version's fields
/// (askama reads `self.field`, which reaches them through `Deref`).
macro_rules! html_of {
    ($html:ident, $text:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $html<'t, 'a>(&'t $text<'a>);

        impl<'a> std::ops::Deref for $html<'_, 'a> {
            type Target = $text<'a>;
            fn deref(&self) -> &Self::Target {
                self.0
            }
        }
    };
}

html_of!(ResetHtml, ResetText, "mail/password_reset.html");

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    service: &'a str,
    email: &'a str,
    headline: &'a str,
    at: &'a str,
    advice: &'a [&'a str],
}

html_of!(NoticeHtml, NoticeText, "mail/notice.html");

#[derive(Template)]
#[template(path = "mail/email_link.txt")]
struct LinkText<'a> {
    service: &'a str,
    headline: &'a str,
    intro: &'a str,
    button: &'a str,
    ignore: &'a str,
    link: &'a str,
    hours: i64,
    expires_at: &'a str,
}

html_of!(LinkHtml, LinkText, "mail/email_link.html");

/// `7 Dec 2026, 10:55`, as messages show times (UTC): words wrap where a date's dashes
/// would break it.
fn shown(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute]"
    );
    at.format(&format).unwrap_or_default()
}

fn render_failed(e: askama::Error) -> NotifyError {
    NotifyError::Failed(format!("the message template failed: {e}"))
}

/// Sends reset messages and security notices through the operator's SMTP relay.
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reset_url: String,
    /// The name messages give the service: the issuer's host.
    service: String,
}

impl SmtpNotifier {
    pub fn new(
        settings: &SmtpSettings,
        reset_url: String,
        service: String,
    ) -> Result<Self, NotifyError> {
        let tls = || -> Result<TlsParameters, NotifyError> {
            let mut builder = TlsParameters::builder(settings.host.clone())
                .certificate_store(CertificateStore::Default);
            if let Some(pem) = &settings.ca_pem {
                let ca = Certificate::from_pem(pem)
                    .map_err(|e| NotifyError::Failed(format!("TESSERA_SMTP_CA_FILE: {e}")))?;
                builder = builder.add_root_certificate(ca);
            }
            builder
                .build_rustls()
                .map_err(|e| NotifyError::Failed(format!("SMTP TLS: {e}")))
        };
        let security = match settings.security {
            SmtpSecurity::StartTls => Tls::Required(tls()?),
            SmtpSecurity::Implicit => Tls::Wrapper(tls()?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(security)
            .timeout(Some(TIMEOUT))
            .pool_config(PoolConfig::new().max_size(POOL));
        if let Some(user) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(SmtpNotifier {
            transport: builder.build(),
            from: settings.from.clone(),
            reset_url,
            service,
        })
    }

    fn reset_mail(&self, message: &ResetMessage) -> Result<Message, NotifyError> {
        let link = reset_link(Some(&self.reset_url), &message.token).unwrap_or_default();
        let left = (message.expires_at - message.sent_at)
            .whole_seconds()
            .max(0);
        let minutes = (left + 59) / 60;
        let expires_at = shown(message.expires_at);
        let (service, email) = (self.service.as_str(), message.email.as_str());
        let text = ResetText {
            service,
            email,
            link: &link,
            minutes,
            expires_at: &expires_at,
        };
        self.mail(
            &message.email,
            format!("Reset your password for {}", self.service),
            text.render().map_err(render_failed)?,
            ResetHtml(&text).render().map_err(render_failed)?,
        )
    }

    fn notice_mail(&self, message: &NoticeMessage) -> Result<Message, NotifyError> {
        let at = shown(message.at);
        let (service, email) = (self.service.as_str(), message.email.as_str());
        let headline = message.kind.headline();
        let text = NoticeText {
            service,
            email,
            headline,
            at: &at,
            advice: message.kind.advice(),
        };
        self.mail(
            &message.email,
            format!("{headline} ({})", self.service),
            text.render().map_err(render_failed)?,
            NoticeHtml(&text).render().map_err(render_failed)?,
        )
    }

    fn link_mail(&self, message: &LinkMessage) -> Result<Message, NotifyError> {
        let service = self.service.as_str();
        let (headline, intro, button, ignore) = match message.kind {
            LinkKind::Verify => (
                format!("Confirm your email address for {service}"),
                format!("Someone (we hope you) created an account at {service} with the address {}. To confirm that this address is yours, open this link:", message.email),
                "Confirm my address",
                "If you did not create this account, you can ignore this message: without the link, the address stays unconfirmed.",
            ),
            LinkKind::Confirm => (
                format!("Confirm your new email address for {service}"),
                format!("Someone (we hope you) asked to move their account at {service} to the address {}. To confirm the change, open this link:", message.email),
                "Confirm the change",
                "If you did not ask for this, you can ignore this message: nothing changes without the link.",
            ),
        };
        let left = (message.expires_at - message.sent_at)
            .whole_seconds()
            .max(0);
        let hours = (left + 3599) / 3600;
        let expires_at = shown(message.expires_at);
        let text = LinkText {
            service,
            headline: &headline,
            intro: &intro,
            button,
            ignore,
            link: message.link.expose_secret(),
            hours,
            expires_at: &expires_at,
        };
        self.mail(
            &message.email,
            headline.clone(),
            text.render().map_err(render_failed)?,
            LinkHtml(&text).render().map_err(render_failed)?,
        )
    }

    /// A message to `to`: the text and HTML versions as alternatives.
    fn mail(
        &self,
        to: &str,
        subject: String,
        text: String,
        html: String,
    ) -> Result<Message, NotifyError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| NotifyError::Refused("the recipient is not an address".into()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| NotifyError::Failed(format!("the message could not be built: {e}")))
    }

    async fn send(&self, mail: Message) -> Result<(), NotifyError> {
        // lettre's errors name the relay's answer, never the message's content
        match self.transport.send(mail).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(NotifyError::Refused(format!("SMTP: {e}"))),
            Err(e) => Err(NotifyError::Failed(format!("SMTP: {e}"))),
        }
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn password_reset(&self, message: &ResetMessage) -> Result<(), NotifyError> {
        self.send(self.reset_mail(message)?).await
    }

    async fn notice(&self, message: &NoticeMessage) -> Result<(), NotifyError> {
        self.send(self.notice_mail(message)?).await
    }

    async fn email_link(&self, message: &LinkMessage) -> Result<(), NotifyError> {
        self.send(self.link_mail(message)?).await
    }
}
