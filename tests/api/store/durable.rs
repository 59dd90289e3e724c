//! Durable single-use records (book § Configuration): a password-reset token works once, before it
//! expires, for a user that exists.

use std::time::Duration;

use tessera::domain::Email;
use tessera::store::{NewUser, ResetUse};

use super::now;

pub async fn a_reset_token_is_used_once_and_never_after_expiry(backend: &super::Backend) {
    let stores = &backend.stores;
    let t = now();
    let user = stores
        .users
        .create_user(
            NewUser {
                email: Email::parse("contract@example.com").unwrap(),
                name: None,
                email_verified: false,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
            },
            t,
        )
        .await
        .unwrap();
    let (once, expired) = ([7u8; 32], [8u8; 32]);
    let resets = &stores.resets;
    resets
        .create_reset(once, user.id, t + Duration::from_secs(600), t)
        .await
        .unwrap();
    resets
        .create_reset(expired, user.id, t + Duration::from_secs(60), t)
        .await
        .unwrap();
    assert_eq!(
        resets.use_reset(once, ResetUse::Find, t).await.unwrap(),
        Some(user.id)
    );
    assert_eq!(
        resets.use_reset(once, ResetUse::Consume, t).await.unwrap(),
        Some(user.id)
    );
    assert_eq!(
        resets.use_reset(once, ResetUse::Consume, t).await.unwrap(),
        None
    );
    let later = t + Duration::from_secs(61);
    assert_eq!(
        resets
            .use_reset(expired, ResetUse::Find, later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        resets
            .use_reset(expired, ResetUse::Consume, later)
            .await
            .unwrap(),
        None
    );
}
