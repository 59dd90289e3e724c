//! Signing in on the hosted pages, as one state machine (RFC 6749 §4.1, OIDC Core §3.1.2,
//! RFC 7636; book § Sign-in with the authorization-code flow).
//!
//! ```text
//!  start ─┬─ no session, prompt=login, max_age passed, another user hinted ─► SignIn
//!         └─ signed in ─► next
//!  password ──── wrong, or right for an address not verified yet ─► SignIn (with a notice)
//!  resend ────── a new verification link ─► SignIn (with the news)
//!           ├─── right, user has TOTP ─► SecondFactor ── second_factor ──────┐
//!           └─── right ─► signed in ─► next ◄──── right code, or passkey ──┘
//!  passkey ───── refused ─► SignIn (with a notice)
//!           └─── verified ─► signed in ─► next
//!  upstream_start ─► Upstream (the provider's page) … upstream_callback (`upstream`)
//!           ├─── refused, or no account may be used ─► SignIn (with a notice)
//!           ├─── user has TOTP ─► SecondFactor
//!           └─── signed in ─► next
//!  next ─┬─ first-party client, or consent held ─► Redirect (code)
//!        └─ consent needed ─► Consent ── consent(allow) ─► Redirect (code)
//!                                      └─ consent(deny) ─► Redirect (access_denied)
//!  prompt=none where a page would be needed ─► Redirect (login_required, consent_required)
//! ```
//!
//! Each step takes what the browser sent (parameters, the posted form and its cookies'
//! values) and returns an [`Outcome`]: the [`Step`] to render and, when this step signed
//! the browser in, the new sign-in cookie. The HTTP layer (`http::authorize`) only reads
//! the request and renders the step: every decision, store write and audit event is here.
//! Later sign-in methods (device codes) are further steps of this machine.

pub mod authenticate;
mod forms;
mod step;
mod upstream;

pub use step::{Answer, Notice, Outcome, Posted, Step};

use std::sync::Arc;

use serde_json::json;

use crate::clock::Clock;
use crate::domain::User;
use crate::service::audit::Auditor;
use crate::service::authorize::Request;
use crate::service::authorize::{self as request, Browser, Params, PushedRequests, Refusal};
use crate::service::consents::Consents;
use crate::service::grants::TokenIssuer;
use crate::service::upstream::Upstreams;
use crate::store::{AuditEvent, ClientStore, CodeStore, SessionMeta, SsoSession, Stores};
use authenticate::{Authenticated, Authenticator};

/// The sign-in state machine's context: the clients and codes it reads and writes, the
/// issuer (its key ring checks `id_token_hint`), the browser's flows and sign-in
/// sessions, the authenticator, consents, the audit trail and the clock.
#[derive(Clone)]
pub struct SignIn {
    clients: Arc<dyn ClientStore>,
    codes: Arc<dyn CodeStore>,
    issuer: TokenIssuer,
    browser: Browser,
    authenticator: Authenticator,
    upstreams: Upstreams,
    consents: Consents,
    audit: Auditor,
    clock: Arc<dyn Clock>,
    pushed: PushedRequests,
}

/// What the sign-in state machine is built from.
pub struct SignInParts {
    pub issuer: TokenIssuer,
    pub browser: Browser,
    pub authenticator: Authenticator,
    pub upstreams: Upstreams,
    pub consents: Consents,
    pub audit: Auditor,
    pub clock: Arc<dyn Clock>,
    pub pushed: PushedRequests,
}

impl SignIn {
    pub fn new(stores: &Stores, parts: SignInParts) -> Self {
        SignIn {
            clients: stores.clients.clone(),
            codes: stores.codes.clone(),
            issuer: parts.issuer,
            browser: parts.browser,
            authenticator: parts.authenticator,
            upstreams: parts.upstreams,
            consents: parts.consents,
            audit: parts.audit,
            clock: parts.clock,
            pushed: parts.pushed,
        }
    }

    /// `GET|POST /oauth2/authorize`: the request checked, then the browser's sign-in session
    /// (`sso_cookie`) decides the step.
    pub async fn start(&self, params: Params, sso_cookie: Option<&str>) -> Outcome {
        let checked = match self.pushed.resolve(params).await {
            Ok(params) => self.validate(params).await,
            Err(refusal) => Err(refusal),
        };
        let request = match checked {
            Ok(request) => request,
            Err(refusal) => return Step::from(refusal).into(),
        };
        match self.browser.sso_session(sso_cookie).await {
            Ok(session) => self.next(request, session, false).await.into(),
            Err(e) => Step::Refuse(e.into()).into(),
        }
    }

    /// The request a posted form continues, after its CSRF token and sealed flow are checked,
    /// and the sign-in session its page was shown for.
    async fn resume(&self, posted: &Posted<'_>) -> Result<(Request, Option<String>), Step> {
        if !self
            .browser
            .csrf_matches(posted.csrf_cookie, posted.csrf_token)
        {
            return Err(Step::Refuse(Refusal::Forged));
        }
        let opened = posted
            .flow
            .and_then(|f| self.browser.open_flow(f))
            .ok_or(Step::Refuse(Refusal::Expired))?;
        let request = self.validate(opened.params).await.map_err(Step::from)?;
        Ok((request, opened.sso))
    }

    /// Checks an authorization request's parameters (`request::validate`).
    async fn validate(&self, params: Params) -> Result<Request, Refusal> {
        request::validate(self.clients.as_ref(), &self.issuer, &self.pushed, params).await
    }

    /// Signs the browser in (the sign-in session and its audit event), then the next step.
    async fn signed_in(
        &self,
        request: Request,
        user: User,
        amr: &[&str],
        meta: &SessionMeta,
    ) -> Outcome {
        let amr: Vec<String> = amr.iter().map(|m| (*m).to_owned()).collect();
        let (sso, cookie) = match self.browser.start_sso(&user, amr.clone()).await {
            Ok(started) => started,
            Err(e) => return Step::Refuse(e.into()).into(),
        };
        let event = AuditEvent::new("login_succeeded", "ok")
            .user(user.id)
            .client(request.client.id.as_str())
            .ip(meta.ip.clone())
            .detail(audited_methods(&amr));
        crate::metrics::signed_in(&amr);
        self.audit.record(event).await;
        Outcome {
            step: self.next(request, Some((sso, user)), true).await,
            signed_in: Some(cookie),
        }
    }

    /// What a checked first step leads to: signed in with `amr`, or tessera's second factor.
    async fn authenticated(
        &self,
        request: Request,
        authenticated: Authenticated,
        amr: &[&str],
        meta: &SessionMeta,
    ) -> Outcome {
        match authenticated {
            Authenticated::User(user) => self.signed_in(request, user, amr, meta).await,
            Authenticated::NeedsSecondFactor(step) => Step::SecondFactor {
                request: Box::new(request),
                mfa_token: step.mfa_token,
                passkey: step.passkey,
                notice: None,
            }
            .into(),
        }
    }

    /// The step for a valid request given the browser's sign-in session; `just_signed_in`
    /// when this very request signed it in (so `prompt=login` and `max_age` are met).
    async fn next(
        &self,
        request: Request,
        session: Option<(SsoSession, User)>,
        just_signed_in: bool,
    ) -> Step {
        let refuse = |request: Request, error: &'static str, description: &str| Step::Redirect {
            back: request.back,
            answer: Answer::Error {
                error,
                description: description.to_owned(),
            },
        };
        let Some((sso, user)) = session else {
            return if request.prompt_none {
                refuse(request, "login_required", "the user is not signed in")
            } else {
                let hint = request.params.login_hint.clone().unwrap_or_default();
                sign_in(request, hint)
            };
        };
        if !just_signed_in {
            // the client expects another user than the one signed in here
            let someone_else = request.hinted_user.is_some_and(|hinted| hinted != user.id);
            if request.prompt_login || self.too_old(&request, &sso) || someone_else {
                return if request.prompt_none {
                    refuse(request, "login_required", "a new sign-in is required")
                } else {
                    let hint = request.params.login_hint.clone().unwrap_or_default();
                    sign_in(request, hint)
                };
            }
        }
        if request.client.first_party {
            return self.code(request, &sso).await;
        }
        let covered = match self
            .consents
            .covers(&user, &request.client, &request.scope)
            .await
        {
            Ok(covered) => covered,
            Err(e) => return Step::Refuse(e.into()),
        };
        if covered && !request.prompt_consent {
            self.code(request, &sso).await
        } else if request.prompt_none {
            refuse(
                request,
                "consent_required",
                "the user has not allowed this client",
            )
        } else {
            Step::Consent {
                request: Box::new(request),
                sso_id: sso.id,
                email: user.email.as_str().to_owned(),
            }
        }
    }

    /// Whether the sign-in session is older than the request's `max_age` allows.
    fn too_old(&self, request: &Request, sso: &SsoSession) -> bool {
        let age = (self.clock.now() - sso.auth_time).whole_seconds();
        request.max_age.is_some_and(|max| age > max)
    }

    /// A code for the request, bound to the sign-in session, on its way back to the client.
    async fn code(&self, request: Request, sso: &SsoSession) -> Step {
        let now = self.clock.now();
        match request::issue_code(self.codes.as_ref(), &request, sso, now).await {
            Ok(code) => Step::Redirect {
                back: request.back,
                answer: Answer::Code(code),
            },
            Err(e) => Step::Refuse(e.into()),
        }
    }
}

fn sign_in(request: Request, email: String) -> Step {
    Step::SignIn {
        request: Box::new(request),
        email,
        notice: None,
    }
}

/// A sign-in's methods as the audit trail keeps them: `amr`, and `idp` after a provider.
fn audited_methods(stored: &[String]) -> serde_json::Value {
    match crate::domain::methods::split(stored) {
        (amr, Some(idp)) => json!({ "amr": amr, "idp": idp, "via": "authorize" }),
        (amr, None) => json!({ "amr": amr, "via": "authorize" }),
    }
}
