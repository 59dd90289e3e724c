//! What each step of the sign-in answers: the [`Step`] the pages render, the [`Answer`]
//! that goes back to the client, the [`Notice`] a form is shown again with, and what a
//! posted form brings ([`Posted`]).

use crate::domain::{OAuthError, Throttled};
use crate::service::authorize::{Refusal, Request, Return};

/// What the pages show next.
#[derive(Debug)]
pub enum Step {
    /// The sign-in form, with `email` filled in.
    SignIn {
        request: Box<Request>,
        email: String,
        notice: Option<Notice>,
    },
    /// The second-factor form of a password sign-in; `passkey` when the user may answer
    /// with a passkey too.
    SecondFactor {
        request: Box<Request>,
        mfa_token: String,
        passkey: bool,
        notice: Option<Notice>,
    },
    /// The consent form, for the signed-in `email`; its post must come with the session
    /// `sso_id` it was shown for.
    Consent {
        request: Box<Request>,
        sso_id: String,
        email: String,
    },
    /// To an upstream provider's authorization endpoint (book § Upstream providers).
    Upstream { url: String },
    /// A page that says how something ended (an upstream identity linked).
    Told {
        title: &'static str,
        message: String,
    },
    /// Back to the client (RFC 6749 §4.1.2): a code, or an error it handles.
    Redirect { back: Return, answer: Answer },
    /// Refused on tessera's own page: there is nowhere safe to send the browser, the form
    /// was forged or expired, or a backend failed.
    Refuse(Refusal),
}

/// What goes back to the client.
#[derive(Debug)]
pub enum Answer {
    Code(String),
    Error {
        error: &'static str,
        description: String,
    },
}

/// Why a form is shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Wrong email or password (never which).
    WrongCredentials,
    /// A wrong one-time or recovery code; the sign-in continues.
    WrongCode,
    /// Too many attempts: retry after the given time.
    Throttled(Throttled),
    /// A backend is busy or failed.
    Busy,
    /// The pending second step is gone (used, expired, or the password changed).
    Expired,
    /// A passkey did not sign the user in (unknown, refused, or its ceremony expired).
    PasskeyRefused,
    /// A passkey answering the second step was refused; a code still may be used.
    SecondPasskeyRefused,
    /// The credentials were right, and the address is not verified yet (verification
    /// required): the page offers to send the link again.
    EmailNotVerified,
    /// A new verification link was asked for (whether one went out is not said).
    VerificationSent,
    /// The upstream provider did not sign the user in (refused, failed, or what it
    /// answered was refused).
    UpstreamFailed,
    /// The upstream's email belongs to an account it may not be linked to by itself.
    UpstreamEmailTaken,
    /// No account is linked to the upstream identity, and sign-up through providers is off.
    UpstreamNoAccount,
    /// The provider shared no usable email address.
    UpstreamNoEmail,
}

impl Notice {
    pub(super) fn refusing(error: &OAuthError) -> Notice {
        match error {
            OAuthError::TooManyRequests(t) => Notice::Throttled(*t),
            OAuthError::TemporarilyUnavailable | OAuthError::Server(_) => Notice::Busy,
            OAuthError::EmailNotVerified => Notice::EmailNotVerified,
            _ => Notice::WrongCredentials,
        }
    }
}

/// A step's result: the step, and the new sign-in cookie's value when this step signed
/// the browser in.
#[derive(Debug)]
pub struct Outcome {
    pub step: Step,
    pub signed_in: Option<String>,
}

impl From<Step> for Outcome {
    fn from(step: Step) -> Self {
        Outcome {
            step,
            signed_in: None,
        }
    }
}

impl From<Refusal> for Step {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Redirect {
                back,
                error,
                description,
            } => Step::Redirect {
                back,
                answer: Answer::Error { error, description },
            },
            other => Step::Refuse(other),
        }
    }
}

/// What a posted form brings back: its hidden fields and the browser's CSRF cookie.
#[derive(Debug, Default)]
pub struct Posted<'a> {
    pub flow: Option<&'a str>,
    pub csrf_token: Option<&'a str>,
    pub csrf_cookie: Option<&'a str>,
}
