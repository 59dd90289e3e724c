//! TOTP MFA (RFC 6238, totp-rs): enrolment with a sealed secret that is pending until a
//! code confirms it, RFC 6238 verification (SHA-1, 6 digits, 30 s, ±1 step) where each
//! time step is accepted once per user, single-use recovery codes stored as SHA-256, and
//! the short-lived single-use token that carries a password login to its second factor.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use std::sync::Arc;

use crate::clock::Clock;
use crate::crypto::{Kek, Purpose};
use crate::domain::User;
use crate::domain::UserId;
use crate::notify::NoticeKind;
use crate::service::audit::Auditor;
use crate::service::outbox::Outbox;
use crate::store::{AuditEvent, MfaStore, MfaTokenStore, StoreError, Stores};

const STEP_SECS: u64 = 30;
pub mod account;

const DIGITS: usize = 6;
const RECOVERY_CODES: usize = 10;
/// How long a password login waits for its second factor.
pub const MFA_TOKEN_TTL_SECS: u64 = 300;
const MFA_TOKEN_PREFIX: &str = "tsm_";

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// Wrong, replayed, malformed or expired code.
    #[error("the code is not valid")]
    InvalidCode,
    #[error("TOTP is already enabled")]
    AlreadyEnabled,
    #[error("TOTP is not enabled")]
    NotEnabled,
    #[error("TOTP secret cannot be used")]
    Corrupt,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, MfaError> {
    // otpauth labels cannot hold ':'
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret,
        Some(issuer.replace(':', "-")),
        account.replace(':', "-"),
    )
    .map_err(|_| MfaError::Corrupt)
}

/// What setup returns to the user, once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TotpSetup {
    /// Base32, for typing into an authenticator.
    pub secret: String,
    pub otpauth_uri: String,
    /// `data:image/png;base64,…` of the otpauth URI.
    pub qr_png: String,
}

redacted_debug!(TotpSetup);

/// TOTP second factors and pending MFA logins: the MFA store, the KEK that seals the
/// secrets, the clock and the issuer name authenticator apps show, and nothing else.
#[derive(Clone)]
pub struct Mfa {
    store: Arc<dyn MfaStore>,
    pending: Arc<dyn MfaTokenStore>,
    kek: Kek,
    clock: Arc<dyn Clock>,
    audit: Auditor,
    /// Tells the user TOTP was turned on or off.
    outbox: Outbox,
    /// The issuer name authenticator apps show next to the account.
    totp_issuer: String,
}

impl Mfa {
    pub fn new(
        stores: &Stores,
        kek: Kek,
        clock: Arc<dyn Clock>,
        audit: Auditor,
        outbox: Outbox,
        totp_issuer: String,
    ) -> Self {
        Mfa {
            store: stores.mfa.clone(),
            pending: stores.mfa_tokens.clone(),
            kek,
            clock,
            audit,
            outbox,
            totp_issuer,
        }
    }

    /// Starts (or restarts) enrolment: a new secret, pending until confirmed.
    pub async fn setup(&self, user: &User) -> Result<TotpSetup, MfaError> {
        let secret = match Secret::generate_secret().to_bytes() {
            Ok(bytes) => bytes,
            Err(_) => return Err(MfaError::Corrupt),
        };
        let sealed = self
            .kek
            .seal(Purpose::TotpSecret, &secret, user.id.as_bytes());
        if !self
            .store
            .set_pending_totp(user.id, &sealed, self.clock.now())
            .await?
        {
            return Err(MfaError::AlreadyEnabled);
        }
        let totp = totp(secret, &self.totp_issuer, user.email.as_str())?;
        let qr = totp.get_qr_base64().map_err(|_| MfaError::Corrupt)?;
        Ok(TotpSetup {
            secret: totp.get_secret_base32(),
            otpauth_uri: totp.get_url(),
            qr_png: format!("data:image/png;base64,{qr}"),
        })
    }

    /// Checks a code against the user's secret; a match uses its time step up. With
    /// `confirming`, a pending secret is accepted (and confirmed by the match).
    async fn check_code(&self, user: &User, code: &str, confirming: bool) -> Result<(), MfaError> {
        let row = self
            .store
            .totp(user.id)
            .await?
            .ok_or(MfaError::NotEnabled)?;
        if !row.confirmed && !confirming {
            return Err(MfaError::NotEnabled);
        }
        if row.confirmed && confirming {
            return Err(MfaError::AlreadyEnabled);
        }
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MfaError::InvalidCode);
        }
        let secret = self
            .kek
            .open(Purpose::TotpSecret, &row.secret_sealed, user.id.as_bytes())
            .map_err(|_| MfaError::Corrupt)?;
        let totp = totp(secret, &self.totp_issuer, user.email.as_str())?;
        let now = self.clock.now().unix_timestamp().max(0) as u64;
        let current = (now / STEP_SECS) as i64;
        // ±1 step; each candidate is compared in constant time, all of them every time
        let mut matched = None;
        for step in [current - 1, current, current + 1] {
            let expected = totp.generate(step.max(0) as u64 * STEP_SECS);
            if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
                matched = Some(step);
            }
        }
        let step = matched.ok_or(MfaError::InvalidCode)?;
        if step <= row.last_step {
            return Err(MfaError::InvalidCode);
        }
        let now = self.clock.now();
        let notice = match confirming {
            true => Some(self.outbox.notice(user, NoticeKind::TotpEnabled, now)?),
            false => None,
        };
        if self
            .store
            .use_step(user.id, step, confirming, now, notice.as_ref())
            .await?
        {
            if confirming {
                self.outbox.wake();
            }
            Ok(())
        } else {
            Err(MfaError::InvalidCode)
        }
    }

    /// Confirms enrolment with a first code; returns 10 new recovery codes (shown once).
    pub async fn confirm(&self, user: &User, code: &str) -> Result<Vec<String>, MfaError> {
        self.check_code(user, code, true).await?;
        let codes = self.new_recovery_codes(user).await?;
        self.audit(user, "mfa_enabled").await;
        Ok(codes)
    }

    /// A second factor for a login or a sensitive change: a TOTP code, or a recovery code.
    pub async fn verify(
        &self,
        user: &User,
        otp: Option<&str>,
        recovery_code: Option<&str>,
    ) -> Result<(), MfaError> {
        match (otp, recovery_code) {
            (Some(code), None) => self.check_code(user, code, false).await,
            (None, Some(code)) => {
                let confirmed = self.store.totp(user.id).await?.is_some_and(|t| t.confirmed);
                if !confirmed {
                    return Err(MfaError::NotEnabled);
                }
                let used = self
                    .store
                    .use_recovery_code(user.id, recovery_digest(code), self.clock.now())
                    .await?;
                if !used {
                    return Err(MfaError::InvalidCode);
                }
                self.audit(user, "recovery_code_used").await;
                Ok(())
            }
            _ => Err(MfaError::InvalidCode),
        }
    }

    /// New recovery codes replacing the old ones.
    pub async fn new_recovery_codes(&self, user: &User) -> Result<Vec<String>, MfaError> {
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
        let digests: Vec<[u8; 32]> = codes.iter().map(|c| recovery_digest(c)).collect();
        self.store.replace_recovery_codes(user.id, &digests).await?;
        Ok(codes)
    }

    /// Turns TOTP off (the caller checked the password and a code).
    pub async fn disable(&self, user: &User) -> Result<(), MfaError> {
        let notice = self
            .outbox
            .notice(user, NoticeKind::TotpDisabled, self.clock.now())?;
        self.store.delete_totp(user.id, Some(&notice)).await?;
        self.outbox.wake();
        self.audit(user, "mfa_disabled").await;
        Ok(())
    }

    pub async fn is_enabled(&self, user: &User) -> Result<bool, StoreError> {
        Ok(self.store.totp(user.id).await?.is_some_and(|t| t.confirmed))
    }

    async fn audit(&self, user: &User, event_type: &'static str) {
        self.audit
            .record(AuditEvent::new(event_type, "ok").user(user.id))
            .await;
    }

    /// Issues the single-use token a password login answers with when MFA is on.
    pub async fn issue_mfa_token(&self, pending: &PendingLogin) -> Result<String, StoreError> {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = format!("{MFA_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
        let value = serde_json::to_string(pending).map_err(|e| StoreError::Other(e.into()))?;
        self.pending
            .put_mfa_token(
                &mfa_digest(&token),
                &value,
                std::time::Duration::from_secs(MFA_TOKEN_TTL_SECS),
                self.clock.now(),
            )
            .await?;
        Ok(token)
    }

    /// The pending login of a live MFA token (not used up).
    pub async fn peek_mfa_token(&self, token: &str) -> Result<Option<PendingLogin>, StoreError> {
        if !token.starts_with(MFA_TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let now = self.clock.now();
        let value = self.pending.get_mfa_token(&mfa_digest(token), now).await?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// Uses the MFA token up; true for exactly one caller.
    pub async fn take_mfa_token(&self, token: &str) -> Result<bool, StoreError> {
        Ok(self
            .pending
            .take_mfa_token(&mfa_digest(token), self.clock.now())
            .await?
            .is_some())
    }
}

/// `xxxx-xxxx-xxxx-xxxx`: 80 random bits in base32 (A-Z, 2-7), so the stored SHA-256 cannot
/// be brute-forced offline.
fn recovery_code() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let chars: Vec<char> = raw
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Codes are compared case- and dash-insensitively.
fn recovery_digest(code: &str) -> [u8; 32] {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(normalized.as_bytes()).into()
}

/// What an MFA token stands for: a sign-in (by password, or through an upstream provider)
/// waiting for its second factor.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    pub user_id: UserId,
    /// `password_fingerprint` of the user when the password step passed.
    pub password: String,
    pub client_id: String,
    pub scope: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The first step's `amr` when it was not the password (an upstream sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Vec<String>>,
}

/// A digest of the user's stored password hash: a pending MFA login carries it, so a
/// password change or reset in between voids the login (book § Configuration).
pub fn password_fingerprint(user: &User) -> String {
    hex::encode(&Sha256::digest(user.password_hash.as_bytes())[..16])
}

fn mfa_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl From<MfaError> for crate::domain::Failure {
    fn from(e: MfaError) -> Self {
        use crate::domain::Failure;
        match e {
            MfaError::InvalidCode => Failure::invalid(
                "invalid_code",
                "the code is wrong, already used, or expired",
            ),
            MfaError::AlreadyEnabled => Failure::Conflict("mfa_enabled", "TOTP is already enabled"),
            MfaError::NotEnabled => Failure::Conflict("mfa_not_enabled", "TOTP is not enabled"),
            MfaError::Corrupt => Failure::Internal(anyhow::anyhow!("stored TOTP secret unusable")),
            MfaError::Store(e) => e.into(),
        }
    }
}
