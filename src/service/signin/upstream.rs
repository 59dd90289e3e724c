//! Signing in through an upstream provider as steps of the sign-in state machine (book §
//! Upstream providers): "Continue with …" begins a trip to the provider for the flow the
//! page carried; its callback ends it, then the account rules (`service::upstream`), then
//! tessera's own second factor where the user has one, as after a password.
//!
//! ```text
//!  upstream_start ── the flow checked ─► Upstream (the provider's URL)
//!  upstream_callback ─┬─ state unknown, used, another browser's ─► Refuse (expired)
//!                     ├─ provider refused / answer refused ─► SignIn (UpstreamFailed)
//!                     ├─ no account may be used ─► SignIn (EmailTaken, NoAccount, NoEmail)
//!                     ├─ user has TOTP (not waived by trust_mfa) ─► SecondFactor
//!                     └─ signed in ─► next
//!  (a link from the account API) ─► Told (linked) or Refuse
//! ```

use super::{Notice, Outcome, SignIn, Step};
use crate::domain::methods;
use crate::service::authorize::{Refusal, Request};
use crate::service::upstream::{
    browser_digest, AccountRefusal, Callback, Purpose, UpstreamError, UpstreamUser,
};
use crate::store::SessionMeta;

const UNKNOWN: &str =
    "This sign-in provider is not available. Go back to the application and start again.";

impl SignIn {
    /// `GET /oauth2/upstream/<id>/start?flow=…`: the browser (holding `csrf_cookie`) goes
    /// to the provider, the flow kept for the callback.
    pub async fn upstream_start(
        &self,
        id: &str,
        flow: Option<&str>,
        csrf_cookie: &str,
        meta: &SessionMeta,
    ) -> Outcome {
        let request = match self.reopen(flow).await {
            Ok(request) => request,
            Err(step) => return step.into(),
        };
        // each trip is kept server side until used or expired: counted like a sign-in
        if let Err(refused) = self
            .authenticator
            .address_allowance(meta.ip.as_deref())
            .await
        {
            return again(request, Notice::refusing(&refused)).into();
        }
        let purpose = Purpose::SignIn {
            flow: flow.unwrap_or_default().to_owned(),
            browser: browser_digest(csrf_cookie),
        };
        match self.upstreams.begin(id, purpose).await {
            Ok(url) => Step::Upstream { url }.into(),
            Err(e) => trip_failed(e, Some(request)).into(),
        }
    }

    /// `GET /oauth2/upstream/<id>/callback`: the provider's answer, for the browser holding
    /// `csrf_cookie` and the sign-in `sso_cookie`.
    pub async fn upstream_callback(
        &self,
        id: &str,
        callback: &Callback,
        (csrf_cookie, sso_cookie): (Option<&str>, Option<&str>),
        meta: &SessionMeta,
    ) -> Outcome {
        let (purpose, upstream) = match self.upstreams.complete(id, callback, csrf_cookie).await {
            Ok(done) => done,
            // the sign-in page again, for the flow the trip kept
            Err(UpstreamError::Failed {
                purpose: Purpose::SignIn { flow, .. },
                ..
            }) => {
                return match self.reopen(Some(&flow)).await {
                    Ok(request) => again(request, Notice::UpstreamFailed).into(),
                    Err(step) => step.into(),
                }
            }
            Err(e) => return trip_failed(e, None).into(),
        };
        match purpose {
            Purpose::SignIn { flow, .. } => match self.reopen(Some(&flow)).await {
                Ok(request) => self.federated(request, &upstream, meta).await,
                Err(step) => step.into(),
            },
            Purpose::Link { user } => {
                let signed_in = match self.browser.sso_session(sso_cookie).await {
                    Ok(session) => session.map(|(_, u)| u.id),
                    Err(e) => return Step::Refuse(e.into()).into(),
                };
                if signed_in != Some(user) {
                    return Step::Refuse(Refusal::Page(
                        "To link a provider, sign in to your account in this browser first, then start again from the application.".into(),
                    ))
                    .into();
                }
                match self.upstreams.link(user, &upstream).await {
                    Ok(()) => Step::Told {
                        title: "Linked",
                        message: format!(
                            "{} is linked to your account: you can sign in with it. You can close this page.",
                            upstream.provider_name
                        ),
                    }
                    .into(),
                    Err(AccountRefusal::Store(e)) => Step::Refuse(e.into()).into(),
                    Err(_) => Step::Refuse(Refusal::Page(format!(
                        "This {} account is linked to another account here already.",
                        upstream.provider_name
                    )))
                    .into(),
                }
            }
        }
    }

    /// The flow a "Continue with" link or a trip carried, checked again.
    async fn reopen(&self, flow: Option<&str>) -> Result<Request, Step> {
        let opened = flow
            .and_then(|f| self.browser.open_flow(f))
            .ok_or(Step::Refuse(Refusal::Expired))?;
        self.validate(opened.params).await.map_err(Step::from)
    }

    /// The user the provider vouched for, signed in (or asked for tessera's second factor).
    async fn federated(
        &self,
        request: Request,
        upstream: &UpstreamUser,
        meta: &SessionMeta,
    ) -> Outcome {
        let user = match self.upstreams.account(upstream).await {
            Ok(user) => user,
            Err(refusal) => {
                let notice = match refusal {
                    AccountRefusal::EmailTaken => Notice::UpstreamEmailTaken,
                    AccountRefusal::NoAccount => Notice::UpstreamNoAccount,
                    AccountRefusal::NoEmail => Notice::UpstreamNoEmail,
                    AccountRefusal::LinkedElsewhere => Notice::UpstreamFailed,
                    AccountRefusal::Store(e) => return Step::Refuse(e.into()).into(),
                };
                return again(request, notice).into();
            }
        };
        // a refusal for an unverified address offers to send the link: to the account's own
        let email = user.email.as_str().to_owned();
        let amr = methods::federated(&upstream.provider, &upstream.amr);
        let waived = upstream.trust_mfa && methods::shows_second_factor(&upstream.amr);
        let authenticated = self
            .authenticator
            .upstream(
                &request.client,
                user,
                amr.clone(),
                waived,
                &request.scope,
                meta,
            )
            .await;
        match authenticated {
            Ok(authenticated) => {
                let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
                self.authenticated(request, authenticated, &amr, meta).await
            }
            Err(error) => Step::SignIn {
                request: Box::new(request),
                email,
                notice: Some(Notice::refusing(&error)),
            }
            .into(),
        }
    }
}

fn again(request: Request, notice: Notice) -> Step {
    let hint = request.params.login_hint.clone().unwrap_or_default();
    Step::SignIn {
        request: Box::new(request),
        email: hint,
        notice: Some(notice),
    }
}

/// A trip that brought no user: its own page, or the sign-in page with a notice.
fn trip_failed(error: UpstreamError, request: Option<Request>) -> Step {
    match (error, request) {
        (UpstreamError::Unknown, _) => Step::Refuse(Refusal::Page(UNKNOWN.into())),
        (UpstreamError::Expired, _) => Step::Refuse(Refusal::Expired),
        (UpstreamError::Store(e), _) => Step::Refuse(e.into()),
        (UpstreamError::Failed { .. }, Some(request)) => again(request, Notice::UpstreamFailed),
        (UpstreamError::Failed { name, .. }, None) => Step::Refuse(Refusal::Page(format!(
            "{name} did not sign you in. Start again from the application."
        ))),
    }
}
