//! Refresh-token families (RFC 9068, book § Endpoints): atomic rotation, grace, reuse detection, expiry.

use std::time::Duration;

use futures_util::future::join_all;
use tessera::store::{Family, RotateRequest, Rotation, SessionMeta, Stores};
use time::OffsetDateTime;

use super::now;

pub(super) const CLIENT: &str = "contract-client";
pub(super) const GRACE: Duration = Duration::from_secs(10);
pub(super) const IDLE: Duration = Duration::from_secs(600);

fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

/// A stored family of `CLIENT` begun `at`, whose current token is made of `current`s.
pub(super) async fn family(
    stores: &Stores,
    at: OffsetDateTime,
    current: u8,
    ttl: Duration,
) -> Family {
    let t = OffsetDateTime::from_unix_timestamp(at.unix_timestamp()).unwrap();
    let family = Family {
        id: uuid::Uuid::new_v4().simple().to_string().into(),
        user_id: tessera::domain::UserId::generate(),
        client_id: CLIENT.into(),
        scope: "openid".into(),
        auth_time: t,
        amr: vec!["pwd".into()],
        created_at: t,
        absolute_expiry: t + Duration::from_secs(3600),
    };
    stores
        .families
        .create_family(
            &family,
            &SessionMeta::default(),
            Some(&hash(current)),
            ttl,
            at,
        )
        .await
        .unwrap();
    family
}

/// Whether `family` is alive for the backend now.
async fn alive(backend: &super::Backend, family: &Family) -> bool {
    let found = backend
        .stores
        .families
        .find_family(&family.id, backend.now());
    found.await.unwrap().is_some()
}

async fn rotate(
    stores: &Stores,
    family: &Family,
    presented: u8,
    next: u8,
    at: OffsetDateTime,
) -> Rotation {
    let (presented, next) = (hash(presented), hash(next));
    stores
        .families
        .rotate(RotateRequest {
            family_id: &family.id,
            presented: &presented,
            next: &next,
            client_id: CLIENT,
            now: at,
            idle_ttl: IDLE,
            grace: GRACE,
        })
        .await
        .unwrap()
}

fn status(r: &Rotation) -> &'static str {
    match r {
        Rotation::Rotated(_) => "rotated",
        Rotation::Grace(_) => "grace",
        Rotation::Reused(_) => "reused",
        Rotation::Rejected => "rejected",
    }
}

pub async fn rotation_has_exactly_one_winner_among_50_concurrent_callers(backend: &super::Backend) {
    let stores = &backend.stores;
    let t = now();
    let f = family(stores, t, 1, IDLE).await;
    let results = join_all((0..50).map(|_| rotate(stores, &f, 1, 2, t))).await;
    let rotated = results.iter().filter(|r| status(r) == "rotated").count();
    let grace = results.iter().filter(|r| status(r) == "grace").count();
    assert_eq!(
        (rotated, grace),
        (1, 49),
        "one rotation, every other caller a retry"
    );
    assert!(stores
        .families
        .is_current(&f.id, &hash(2), backend.now())
        .await
        .unwrap());
}

pub async fn a_retry_within_grace_gets_the_same_successor_and_nothing_else(
    backend: &super::Backend,
) {
    let stores = &backend.stores;
    let t = now();
    let f = family(stores, t, 1, IDLE).await;
    assert_eq!(status(&rotate(stores, &f, 1, 2, t).await), "rotated");
    let later = t + Duration::from_secs(9);
    assert_eq!(status(&rotate(stores, &f, 1, 2, later).await), "grace");
    // a retry that would derive another successor is refused, and the family lives on
    assert_eq!(status(&rotate(stores, &f, 1, 3, later).await), "rejected");
    assert!(stores
        .families
        .is_current(&f.id, &hash(2), backend.now())
        .await
        .unwrap());
}

pub async fn an_older_token_after_grace_is_reuse_and_ends_the_family(backend: &super::Backend) {
    let stores = &backend.stores;
    let t = now();
    let f = family(stores, t, 1, IDLE).await;
    assert_eq!(status(&rotate(stores, &f, 1, 2, t).await), "rotated");
    let after_grace = t + GRACE + Duration::from_secs(1);
    let reused = rotate(stores, &f, 1, 2, after_grace).await;
    assert!(matches!(&reused, Rotation::Reused(found) if found.user_id == f.user_id));
    assert!(!alive(backend, &f).await);
    assert_eq!(
        status(&rotate(stores, &f, 2, 3, after_grace).await),
        "rejected"
    );
}

pub async fn rotation_checks_the_owning_client_and_the_absolute_expiry(backend: &super::Backend) {
    let stores = &backend.stores;
    let t = now();
    let f = family(stores, t, 1, IDLE).await;
    let (one, two) = (hash(1), hash(2));
    let foreign = stores
        .families
        .rotate(RotateRequest {
            family_id: &f.id,
            presented: &one,
            next: &two,
            client_id: "another-client",
            now: t,
            idle_ttl: IDLE,
            grace: GRACE,
        })
        .await
        .unwrap();
    assert_eq!(status(&foreign), "rejected");
    assert!(stores
        .families
        .is_current(&f.id, &one, backend.now())
        .await
        .unwrap());
    let past_absolute = t + Duration::from_secs(3600);
    assert_eq!(
        status(&rotate(stores, &f, 1, 2, past_absolute).await),
        "rejected"
    );
    assert!(!alive(backend, &f).await);
}

pub async fn an_idle_family_expires_by_itself(backend: &super::Backend) {
    let stores = &backend.stores;
    let f = family(stores, now(), 1, Duration::from_secs(1)).await;
    assert!(alive(backend, &f).await);
    backend.elapse(Duration::from_millis(2100)).await;
    assert!(!alive(backend, &f).await);
}

pub async fn revoking_a_users_sessions_keeps_the_named_one(backend: &super::Backend) {
    let stores = &backend.stores;
    let t = now();
    let keep = family(stores, t, 1, IDLE).await;
    let mut other = family(stores, t, 2, IDLE).await;
    other.user_id = keep.user_id;
    other.id = uuid::Uuid::new_v4().simple().to_string().into();
    stores
        .families
        .create_family(
            &other,
            &SessionMeta::default(),
            Some(&hash(3)),
            IDLE,
            backend.now(),
        )
        .await
        .unwrap();
    let sessions = stores
        .families
        .list_sessions(keep.user_id, backend.now())
        .await
        .unwrap();
    assert_eq!(sessions.len(), 2);
    let ended = stores
        .families
        .revoke_user_sessions(keep.user_id, Some(&keep.id), backend.now())
        .await
        .unwrap();
    assert_eq!(
        ended,
        [tessera::store::Ended {
            id: other.id.clone(),
            client_id: other.client_id.clone(),
            user_id: other.user_id,
        }]
    );
    let left: Vec<tessera::domain::FamilyId> = stores
        .families
        .list_sessions(keep.user_id, backend.now())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, [keep.id]);
}
