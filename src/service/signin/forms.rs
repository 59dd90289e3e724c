//! The hosted forms' posts as steps of the sign-in state machine (book § Sign-in with the
//! authorization-code flow): the password, "send the link again" (book § Email), a
//! passkey, the second factor, and consent. Each resumes the posted flow first.

use super::authenticate::{Proof, SecondFactorError, TwoFactors};
use super::{sign_in, Answer, Notice, Outcome, Posted, SignIn, Step};
use crate::domain::{OAuthError, Password};
use crate::service::authorize::Request;
use crate::store::SessionMeta;

impl SignIn {
    /// The sign-in form's post.
    pub async fn password(
        &self,
        posted: &Posted<'_>,
        email: &str,
        password: Password,
        meta: &SessionMeta,
    ) -> Outcome {
        let (request, _) = match self.resume(posted).await {
            Ok(resumed) => resumed,
            Err(step) => return step.into(),
        };
        let authenticated = self
            .authenticator
            .password(&request.client, email, password, &request.scope, meta)
            .await;
        match authenticated {
            Ok(authenticated) => {
                self.authenticated(request, authenticated, &["pwd"], meta)
                    .await
            }
            Err(error) => Step::SignIn {
                request: Box::new(request),
                email: email.to_owned(),
                notice: Some(Notice::refusing(&error)),
            }
            .into(),
        }
    }

    /// The sign-in page's "send the link again" (book § Email), offered when a sign-in was
    /// refused for an unverified address: a new link for `email`, within the allowances,
    /// and the sign-in page again saying so.
    pub async fn resend_verification(
        &self,
        posted: &Posted<'_>,
        email: &str,
        meta: &SessionMeta,
    ) -> Outcome {
        let (request, _) = match self.resume(posted).await {
            Ok(resumed) => resumed,
            Err(step) => return step.into(),
        };
        let notice = match crate::domain::Email::parse(email) {
            Err(_) => Notice::WrongCredentials,
            Ok(email) => {
                let addresses = self.authenticator.addresses();
                match addresses.resend(email, meta.ip.clone()).await {
                    Ok(()) => Notice::VerificationSent,
                    Err(refused) => Notice::refusing(&refused.into()),
                }
            }
        };
        Step::SignIn {
            request: Box::new(request),
            email: email.to_owned(),
            notice: Some(notice),
        }
        .into()
    }

    /// The sign-in page's passkey post (book § Passkeys): the ceremony and the assertion its
    /// script got from the browser.
    pub async fn passkey(
        &self,
        posted: &Posted<'_>,
        ceremony: &str,
        credential: Option<&webauthn_rs_core::proto::PublicKeyCredential>,
        meta: &SessionMeta,
    ) -> Outcome {
        let (request, _) = match self.resume(posted).await {
            Ok(resumed) => resumed,
            Err(step) => return step.into(),
        };
        let again = |request: Request, notice: Notice| {
            let hint = request.params.login_hint.clone().unwrap_or_default();
            Step::SignIn {
                request: Box::new(request),
                email: hint,
                notice: Some(notice),
            }
        };
        let Some(credential) = credential else {
            return again(request, Notice::PasskeyRefused).into();
        };
        let signed = self
            .authenticator
            .passkey(&request.client, ceremony, credential, meta)
            .await;
        match signed {
            Ok((user, amr)) => {
                let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
                self.signed_in(request, user, &amr, meta).await
            }
            Err(crate::domain::Failure::Throttled(t)) => {
                again(request, Notice::Throttled(t)).into()
            }
            Err(crate::domain::Failure::Forbidden("email_not_verified", _)) => {
                again(request, Notice::EmailNotVerified).into()
            }
            Err(crate::domain::Failure::Unavailable(_) | crate::domain::Failure::Internal(_)) => {
                again(request, Notice::Busy).into()
            }
            Err(_) => again(request, Notice::PasskeyRefused).into(),
        }
    }

    /// The second-factor form's post for `mfa_token`: a TOTP or recovery code, or a
    /// passkey's answer to the ceremony its script started for this step (`None`: an
    /// answer that could not be read, refused as a wrong one is).
    pub async fn second_factor(
        &self,
        posted: &Posted<'_>,
        mfa_token: &str,
        proof: Option<Proof<'_>>,
        meta: &SessionMeta,
    ) -> Outcome {
        let (request, _) = match self.resume(posted).await {
            Ok(resumed) => resumed,
            Err(step) => return step.into(),
        };
        let checked = match proof {
            Some(proof) => {
                let client = Some(request.client.id.as_str());
                let ip = meta.ip.clone();
                let checked = self
                    .authenticator
                    .second_factor(client, mfa_token, proof, ip);
                checked.await
            }
            None => Err(SecondFactorError::WrongPasskey),
        };
        let notice = match checked {
            Ok(TwoFactors { user, amr, .. }) => {
                let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
                return self.signed_in(request, user, &amr, meta).await;
            }
            Err(SecondFactorError::WrongCode) => Notice::WrongCode,
            Err(SecondFactorError::WrongPasskey) => Notice::SecondPasskeyRefused,
            Err(SecondFactorError::Refused(error @ OAuthError::TooManyRequests(_))) => {
                Notice::refusing(&error)
            }
            Err(_) => {
                return Step::SignIn {
                    request: Box::new(request),
                    email: String::new(),
                    notice: Some(Notice::Expired),
                }
                .into()
            }
        };
        Step::SecondFactor {
            request: Box::new(request),
            mfa_token: mfa_token.to_owned(),
            passkey: self.authenticator.offers_passkey(mfa_token).await,
            notice: Some(notice),
        }
        .into()
    }

    /// The consent form's post, with the browser's sign-in session: `allow`ed, the consent is
    /// remembered and a code goes back; otherwise `access_denied` does.
    pub async fn consent(
        &self,
        posted: &Posted<'_>,
        sso_cookie: Option<&str>,
        allow: bool,
    ) -> Outcome {
        let (request, bound) = match self.resume(posted).await {
            Ok(resumed) => resumed,
            Err(step) => return step.into(),
        };
        let (sso, user) = match self.browser.sso_session(sso_cookie).await {
            Ok(Some(session)) => session,
            Ok(None) => return sign_in(request, String::new()).into(),
            Err(e) => return Step::Refuse(e.into()).into(),
        };
        // the post must come with the session the page was shown for (which met prompt=login
        // and max_age then), and that session must still meet max_age now (OIDC Core §3.1.2.1)
        if bound.as_deref() != Some(sso.id.as_str()) || self.too_old(&request, &sso) {
            return sign_in(request, user.email.as_str().to_owned()).into();
        }
        if !allow {
            return Step::Redirect {
                back: request.back,
                answer: Answer::Error {
                    error: "access_denied",
                    description: "the user did not allow this client".into(),
                },
            }
            .into();
        }
        if let Err(e) = self
            .consents
            .grant(&user, &request.client, &request.scope)
            .await
        {
            return Step::Refuse(e.into()).into();
        }
        self.code(request, &sso).await.into()
    }
}
