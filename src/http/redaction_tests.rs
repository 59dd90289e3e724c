//! Every type that holds a secret prints without it (book § Configuration): `redacted_debug!` at work on
//! the domain, service and response types.

use crate::domain::{Email, User};

const SECRET: &str = "SECRET-VALUE-1234567890";

fn assert_redacted(debug: String) {
    assert!(!debug.contains(SECRET), "a secret reached Debug: {debug}");
    assert!(debug.contains(".."), "not the redacting Debug: {debug}");
}

#[test]
fn every_type_holding_a_secret_has_a_redacting_debug() {
    let user = User {
        id: uuid::Uuid::nil().into(),
        email: Email::parse("someone@example.com").unwrap(),
        email_verified: true,
        name: None,
        password_hash: SECRET.into(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    assert_redacted(format!("{user:?}"));
    let setup = crate::service::mfa::TotpSetup {
        secret: SECRET.into(),
        otpauth_uri: format!("otpauth://totp/x?secret={SECRET}"),
        qr_png: SECRET.into(),
    };
    assert_redacted(format!("{setup:?}"));
    let codes = crate::http::me_mfa::RecoveryCodes {
        recovery_codes: vec![SECRET.into()],
    };
    assert_redacted(format!("{codes:?}"));
    let challenge = crate::http::cookie_session::MfaChallenge {
        mfa_required: true,
        methods: vec!["otp"],
        mfa_token: SECRET.into(),
    };
    assert_redacted(format!("{challenge:?}"));
    let session = crate::http::cookie_session::SessionTokens {
        access_token: SECRET.into(),
        token_type: "Bearer",
        expires_in: 900,
        id_token: Some(SECRET.into()),
    };
    assert_redacted(format!("{session:?}"));
    let response = crate::service::grants::TokenResponse {
        access_token: SECRET.into(),
        token_type: "Bearer",
        expires_in: 900,
        scope: "openid".into(),
        refresh_token: Some(SECRET.into()),
        id_token: Some(SECRET.into()),
    };
    assert_redacted(format!("{response:?}"));
    assert_redacted(format!(
        "{:?}",
        crate::http::cookie_session::LoginResponse::Mfa(
            crate::http::cookie_session::MfaChallenge {
                mfa_required: true,
                methods: vec!["otp"],
                mfa_token: SECRET.into(),
            }
        )
    ));
    let step = crate::service::signin::authenticate::SecondStep {
        mfa_token: SECRET.into(),
        passkey: true,
    };
    assert_redacted(format!(
        "{:?}",
        crate::service::signin::authenticate::Authenticated::NeedsSecondFactor(step)
    ));
}
