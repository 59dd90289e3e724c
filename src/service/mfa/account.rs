//! The signed-in user's factors (book § Endpoints, RFC 6238, book § Passkeys): TOTP's enrol,
//! confirm, turn off and new recovery codes, and passkeys' register, rename and delete.
//! Each change but a rename needs a recent sign-in or the current password, counts wrong
//! passwords and codes toward the lockout, and ends the user's other sessions.

use std::sync::Arc;

use crate::auth::hashing::HashError;
use crate::clock::Clock;
use crate::domain::{PasskeyId, Password};
use crate::service::abuse::Refused;
use crate::service::access::TokenUser;
use crate::service::passkeys::{Ceremony, PasskeyError, Passkeys};
use crate::service::passwords::Passwords;
use crate::service::passwords::{ConfirmError, StepUpError};
use crate::service::sessions::Sessions;
use crate::store::{FamilyStore, SsoStore, StoreError, StoredPasskey, Stores};

use super::{Mfa, MfaError, TotpSetup};

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    /// The sign-in is older than five minutes and no password came with the request.
    #[error("sign in again, or send your current password")]
    Reauthenticate,
    #[error("the password is wrong")]
    WrongPassword,
    #[error(transparent)]
    Mfa(#[from] MfaError),
    #[error(transparent)]
    Passkey(#[from] PasskeyError),
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ConfirmError> for FactorError {
    fn from(e: ConfirmError) -> Self {
        match e {
            ConfirmError::WrongPassword => FactorError::WrongPassword,
            ConfirmError::Refused(e) => FactorError::Refused(e),
            ConfirmError::Hash(e) => FactorError::Hash(e),
        }
    }
}

/// A change confirmed by a current code that answers new recovery codes (shown once).
#[derive(Debug, Clone, Copy)]
pub enum CodeChange {
    /// Confirms enrolment with the first code from the authenticator.
    ConfirmEnrolment,
    /// Replaces the recovery codes (the old ones stop working).
    NewRecoveryCodes,
}

/// What changes to the factors take: the password checker, MFA, passkeys, the sessions a
/// change ends, and the clock that tells a recent sign-in.
pub struct AccountParts {
    pub passwords: Passwords,
    pub mfa: Mfa,
    pub passkeys: Passkeys,
    pub sessions: Sessions,
    pub clock: Arc<dyn Clock>,
}

/// Changes to a signed-in user's factors.
#[derive(Clone)]
pub struct Account {
    passwords: Passwords,
    mfa: Mfa,
    passkeys: Passkeys,
    sessions: Sessions,
    families: Arc<dyn FamilyStore>,
    sso: Arc<dyn SsoStore>,
    clock: Arc<dyn Clock>,
}

impl Account {
    pub fn new(stores: &Stores, parts: AccountParts) -> Self {
        let AccountParts {
            passwords,
            mfa,
            passkeys,
            sessions,
            clock,
        } = parts;
        Account {
            passwords,
            mfa,
            passkeys,
            sessions,
            families: stores.families.clone(),
            sso: stores.sso.clone(),
            clock,
        }
    }

    /// The step-up every change here needs (`Passwords::step_up`).
    async fn require_recent_auth(
        &self,
        session: &TokenUser,
        password: Option<Password>,
        ip: Option<&str>,
    ) -> Result<(), FactorError> {
        match self.passwords.step_up(session, password, ip).await {
            Ok(()) => Ok(()),
            Err(StepUpError::Reauthenticate) => Err(FactorError::Reauthenticate),
            Err(StepUpError::Confirm(e)) => Err(e.into()),
        }
    }

    /// A change of the second factor ends every other session of the user, and every browser
    /// sign-in (SSO) session.
    async fn end_other_sessions(&self, session: &TokenUser) -> Result<(), FactorError> {
        let user = &session.user;
        let now = self.clock.now();
        let ended = self
            .families
            .revoke_user_sessions(user.id, session.claims.sid.as_ref(), now)
            .await?;
        self.sessions.feed_ended(&ended).await?;
        self.sso.end_user_sso(user.id, now).await?;
        tracing::info!(user_id = %user.id, other_sessions_ended = ended.len(), "a factor changed");
        Ok(())
    }

    /// Starts enrolment: a new pending secret, its otpauth URI and QR code.
    pub async fn start(
        &self,
        session: &TokenUser,
        password: Option<Password>,
        ip: Option<&str>,
    ) -> Result<TotpSetup, FactorError> {
        self.require_recent_auth(session, password, ip).await?;
        Ok(self.mfa.setup(&session.user).await?)
    }

    /// Applies `change` after checking a recent sign-in (or the password) and the code; a
    /// wrong code counts toward the lockout.
    pub async fn recovery_codes(
        &self,
        session: &TokenUser,
        change: CodeChange,
        code: &str,
        password: Option<Password>,
        ip: Option<&str>,
    ) -> Result<Vec<String>, FactorError> {
        let user = &session.user;
        self.require_recent_auth(session, password, ip).await?;
        self.passwords.count_attempt(user, ip).await?;
        let codes = match change {
            CodeChange::ConfirmEnrolment => self.mfa.confirm(user, code).await?,
            CodeChange::NewRecoveryCodes => {
                self.mfa.verify(user, Some(code), None).await?;
                self.mfa.new_recovery_codes(user).await?
            }
        };
        self.passwords.attempt_succeeded(user, ip).await;
        self.end_other_sessions(session).await?;
        Ok(codes)
    }

    /// Turns TOTP off: needs the password and a current code.
    pub async fn disable(
        &self,
        session: &TokenUser,
        password: Password,
        code: &str,
        ip: Option<&str>,
    ) -> Result<(), FactorError> {
        self.passwords.confirm(&session.user, password, ip).await?;
        self.mfa.verify(&session.user, Some(code), None).await?;
        self.mfa.disable(&session.user).await?;
        self.passwords.attempt_succeeded(&session.user, ip).await;
        self.end_other_sessions(session).await
    }
}

/// Passkeys (book § Passkeys).
impl Account {
    /// Starts registering a passkey: the step-up is checked here, and the ceremony it opens
    /// lasts five minutes.
    pub async fn passkey_options(
        &self,
        session: &TokenUser,
        password: Option<Password>,
        ip: Option<&str>,
    ) -> Result<Ceremony, FactorError> {
        self.require_recent_auth(session, password, ip).await?;
        Ok(self.passkeys.registration_options(&session.user).await?)
    }

    /// Finishes a registration this user started; ends their other sessions.
    pub async fn add_passkey(
        &self,
        session: &TokenUser,
        ceremony: &str,
        credential: &webauthn_rs_core::proto::RegisterPublicKeyCredential,
        name: Option<&str>,
        ip: Option<&str>,
    ) -> Result<StoredPasskey, FactorError> {
        let user = &session.user;
        let passkey = self
            .passkeys
            .register(user, ceremony, credential, name, ip)
            .await?;
        self.end_other_sessions(session).await?;
        Ok(passkey)
    }

    pub async fn passkeys(&self, session: &TokenUser) -> Result<Vec<StoredPasskey>, FactorError> {
        Ok(self.passkeys.list(session.user.id).await?)
    }

    pub async fn rename_passkey(
        &self,
        session: &TokenUser,
        id: PasskeyId,
        name: &str,
    ) -> Result<(), FactorError> {
        Ok(self.passkeys.rename(session.user.id, id, name).await?)
    }

    /// Deletes one of the user's passkeys after a step-up; ends their other sessions.
    pub async fn delete_passkey(
        &self,
        session: &TokenUser,
        id: PasskeyId,
        password: Option<Password>,
        ip: Option<&str>,
    ) -> Result<(), FactorError> {
        self.require_recent_auth(session, password, ip).await?;
        self.passkeys.delete(&session.user, id, ip).await?;
        self.end_other_sessions(session).await
    }
}

impl From<FactorError> for crate::domain::Failure {
    fn from(e: FactorError) -> Self {
        use crate::domain::Failure;
        match e {
            FactorError::Reauthenticate => StepUpError::Reauthenticate.into(),
            FactorError::WrongPassword => Failure::Unauthorized,
            FactorError::Mfa(e) => e.into(),
            FactorError::Passkey(e) => e.into(),
            FactorError::Refused(e) => e.into(),
            FactorError::Hash(e) => e.into(),
            FactorError::Store(e) => e.into(),
        }
    }
}
