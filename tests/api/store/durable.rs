//! Durable single-use records (book § Configuration): a password-reset token works once, before it
//! expires, for a user that exists.

use std::time::Duration;

use tessera::domain::Email;
use tessera::store::{NewUser, OutboxMessage, ResetUse};
use time::OffsetDateTime;

use super::now;

/// A user with a placeholder hash (these tests never check a password).
pub async fn a_user(
    stores: &tessera::store::Stores,
    email: &str,
    t: time::OffsetDateTime,
) -> tessera::domain::User {
    let new = NewUser {
        id: tessera::domain::UserId::generate(),
        welcome: None,
        identity: None,
        email: Email::parse(email).unwrap(),
        name: None,
        email_verified: false,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
    };
    stores.users.create_user(new, t).await.unwrap()
}

/// An outbox row for a reset (its content is opaque to the store).
pub fn message(key: &str, t: OffsetDateTime) -> OutboxMessage {
    OutboxMessage::new(
        "password_reset",
        format!("password_reset:{key}"),
        vec![1, 2, 3],
        t,
    )
}

pub async fn a_reset_token_is_used_once_and_never_after_expiry(backend: &super::Backend) {
    let stores = &backend.stores;
    let t = now();
    let user = a_user(stores, "contract@example.com", t).await;
    let (once, expired) = ([7u8; 32], [8u8; 32]);
    let resets = &stores.resets;
    resets
        .create_reset(
            once,
            user.id,
            t + Duration::from_secs(600),
            &message("once", t),
            t,
        )
        .await
        .unwrap();
    resets
        .create_reset(
            expired,
            user.id,
            t + Duration::from_secs(60),
            &message("expired", t),
            t,
        )
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

/// Expired reset links are deleted by the background sweep on both stores (nothing deleted
/// them on PostgreSQL before V7), a link that is used but not yet expired stays until it
/// expires, and a sweep with nothing expired deletes nothing.
pub async fn an_expired_reset_link_is_swept_and_a_live_one_kept(backend: &super::Backend) {
    let stores = &backend.stores;
    let t = now();
    let user = a_user(stores, "sweep@example.com", t).await;
    let (used, short, long) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    for (token, ttl) in [(used, 120), (short, 60), (long, 600)] {
        stores
            .resets
            .create_reset(
                token,
                user.id,
                t + Duration::from_secs(ttl),
                &message(&format!("{ttl}"), t),
                t,
            )
            .await
            .unwrap();
    }
    let consumed = stores.resets.use_reset(used, ResetUse::Consume, t).await;
    assert_eq!(consumed.unwrap(), Some(user.id));

    assert_eq!(stores.expiry.sweep(t).await.unwrap().rows, 0);
    let swept = stores
        .expiry
        .sweep(t + Duration::from_secs(61))
        .await
        .unwrap();
    assert_eq!(
        (swept.rows, swept.more),
        (1, false),
        "only the expired link"
    );
    assert_eq!(
        stores
            .expiry
            .sweep(t + Duration::from_secs(121))
            .await
            .unwrap()
            .rows,
        1
    );
    let found = stores
        .resets
        .use_reset(long, ResetUse::Find, t + Duration::from_secs(121));
    assert_eq!(found.await.unwrap(), Some(user.id), "the live link is kept");
    assert_eq!(
        stores
            .expiry
            .sweep(t + Duration::from_secs(601))
            .await
            .unwrap()
            .rows,
        1
    );
}
