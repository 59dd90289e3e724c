//! Access-token revocation state and one-time MFA tokens (RFC 9068, book § Endpoints, RFC 6749): seen at once by
//! every reader, gone when their time is up.

use std::time::Duration;

use futures_util::future::join_all;

use super::now;

pub async fn blocklist_and_cutoff_are_seen_and_expire(backend: &super::Backend) {
    let stores = &backend.stores;
    let (jti, user) = (
        uuid::Uuid::new_v4().to_string(),
        tessera::domain::UserId::generate(),
    );
    let state = stores
        .revocations
        .token_state(&jti, None, Some(user), backend.now())
        .await;
    let state = state.unwrap();
    assert!(!state.blocklisted && state.cutoff.is_none());
    let at = now();
    stores
        .revocations
        .blocklist(&jti, Duration::from_secs(1), backend.now())
        .await
        .unwrap();
    stores
        .revocations
        .set_cutoff(user, at, Duration::from_secs(1))
        .await
        .unwrap();
    let state = stores
        .revocations
        .token_state(&jti, None, Some(user), backend.now())
        .await;
    let state = state.unwrap();
    assert!(state.blocklisted);
    assert_eq!(state.cutoff, Some(at));
    backend.elapse(Duration::from_millis(2100)).await;
    let state = stores
        .revocations
        .token_state(&jti, None, Some(user), backend.now())
        .await;
    let state = state.unwrap();
    assert!(!state.blocklisted && state.cutoff.is_none());
}

pub async fn an_mfa_token_is_taken_by_exactly_one_caller_and_expires(backend: &super::Backend) {
    let stores = &backend.stores;
    let tokens = &stores.mfa_tokens;
    tokens
        .put_mfa_token("d1", "v1", Duration::from_secs(60), backend.now())
        .await
        .unwrap();
    assert_eq!(
        tokens
            .get_mfa_token("d1", backend.now())
            .await
            .unwrap()
            .as_deref(),
        Some("v1")
    );
    let taken = join_all((0..20).map(|_| tokens.take_mfa_token("d1", backend.now()))).await;
    let winners = taken
        .iter()
        .filter(|t| t.as_ref().unwrap().is_some())
        .count();
    assert_eq!(winners, 1);
    assert_eq!(
        tokens.get_mfa_token("d1", backend.now()).await.unwrap(),
        None
    );
    tokens
        .put_mfa_token("d2", "v2", Duration::from_secs(1), backend.now())
        .await
        .unwrap();
    backend.elapse(Duration::from_millis(2100)).await;
    assert_eq!(
        tokens.get_mfa_token("d2", backend.now()).await.unwrap(),
        None
    );
}
