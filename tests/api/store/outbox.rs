//! The outbox (book § Email): a message is written in the same transaction as its change
//! (a reset link), once per dedupe key; a claim leases it so a second worker does not take
//! it; a failed attempt comes due again at its retry time, or is given up on and waits for
//! an operator's retry; a delivered message is deleted.

use std::time::Duration;

use tessera::store::{OutboxStats, ResetUse};

use super::durable::{a_user, message};
use super::now;

pub async fn a_message_is_written_with_its_change_claimed_once_retried_and_deleted(
    backend: &super::Backend,
) {
    let stores = &backend.stores;
    let outbox = &stores.outbox;
    let t = now();
    let secs = Duration::from_secs;
    let user = a_user(stores, "outbox@example.com", t).await;
    let first = message("first", t);
    let later = message("later", t + secs(1));
    stores
        .resets
        .create_reset([1; 32], user.id, t + secs(600), &first, t)
        .await
        .unwrap();
    // the same message written again (the same dedupe key) is written once
    stores
        .resets
        .create_reset([2; 32], user.id, t + secs(600), &message("first", t), t)
        .await
        .unwrap();
    stores
        .resets
        .create_reset([3; 32], user.id, t + secs(600), &later, t + secs(1))
        .await
        .unwrap();
    assert_eq!(
        stores
            .resets
            .use_reset([1; 32], ResetUse::Find, t)
            .await
            .unwrap(),
        Some(user.id),
        "the link was written with its message"
    );
    let stats = outbox.outbox_stats().await.unwrap();
    assert_eq!((stats.queued, stats.failed), (2, 0));
    assert_eq!(stats.oldest, Some(first.created_at));

    // due oldest first, and leased: a second claim meanwhile takes nothing
    let at = t + secs(1);
    let claimed = outbox.claim_due(at, at + secs(120), 10).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|m| m.id).collect();
    assert_eq!(ids, [first.id, later.id]);
    assert_eq!(claimed[0].sealed, first.sealed);
    assert!(outbox
        .claim_due(at, at + secs(120), 10)
        .await
        .unwrap()
        .is_empty());

    // a failed attempt comes due at its retry time, with its count and reason
    outbox.delivered(&[later.id]).await.unwrap();
    outbox
        .attempt_failed(first.id, 1, Some(at + secs(5)), "webhook answered 503")
        .await
        .unwrap();
    assert!(outbox
        .claim_due(at + secs(4), at + secs(200), 10)
        .await
        .unwrap()
        .is_empty());
    let again = outbox
        .claim_due(at + secs(5), at + secs(200), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("webhook answered 503"));

    // given up on: never due, listed for operators, queued again by a retry once
    outbox
        .attempt_failed(first.id, 2, None, "gave up")
        .await
        .unwrap();
    assert!(outbox
        .claim_due(at + secs(9999), at + secs(9999), 10)
        .await
        .unwrap()
        .is_empty());
    let failed = outbox.failed_messages(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].failed);
    let stats = outbox.outbox_stats().await.unwrap();
    assert_eq!((stats.queued, stats.failed), (0, 1));
    assert!(outbox.retry_message(first.id, at + secs(10)).await.unwrap());
    assert!(!outbox.retry_message(first.id, at + secs(10)).await.unwrap());
    let retried = outbox
        .claim_due(at + secs(10), at + secs(300), 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);

    // delivered: gone
    outbox.delivered(&[first.id]).await.unwrap();
    assert_eq!(outbox.outbox_stats().await.unwrap(), OutboxStats::default());
    assert!(outbox.failed_messages(10).await.unwrap().is_empty());
}
