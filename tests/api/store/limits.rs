//! Rate limits and lockout (book § Configuration): GCRA with the time as a parameter, lockout per
//! (account, network) that doubles, and the account-wide ceiling.

use std::time::Duration;

use tessera::store::LockoutPolicy;

use super::now;

fn key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub async fn gcra_allows_the_burst_then_refills_one_per_interval(backend: &super::Backend) {
    let stores = &backend.stores;
    let (k, t) = (key(), now());
    let three = tessera::domain::RateLimit {
        count: 3,
        period: Duration::from_secs(3),
    };
    for expected_remaining in [2, 1, 0] {
        let d = stores.limits.hit(&k, three, t).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, expected_remaining);
    }
    let refused = stores.limits.hit(&k, three, t).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.retry_after, Duration::from_secs(1));
    let a_second_later = t + Duration::from_secs(1);
    assert!(
        stores
            .limits
            .hit(&k, three, a_second_later)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        !stores
            .limits
            .hit(&k, three, a_second_later)
            .await
            .unwrap()
            .allowed
    );
}

const POLICY: LockoutPolicy = LockoutPolicy {
    threshold: 3,
    base: Duration::from_secs(10),
    max: Duration::from_secs(25),
    ceiling: 0,
    ceiling_period: Duration::from_secs(1),
};

pub async fn lockout_locks_past_the_threshold_and_doubles_each_time(backend: &super::Backend) {
    let stores = &backend.stores;
    let (account, net) = (key(), "net-a");
    let mut t = now();
    let attempt = |t| stores.limits.login_attempt(&account, net, POLICY, t);
    for lock in [10, 20, 25] {
        for _ in 0..3 {
            assert_eq!(attempt(t).await.unwrap(), None, "within the threshold");
        }
        assert_eq!(attempt(t).await.unwrap(), Some(Duration::from_secs(lock)));
        let later = t + Duration::from_secs(4);
        assert_eq!(
            attempt(later).await.unwrap(),
            Some(Duration::from_secs(lock - 4)),
            "locked until the lock ends"
        );
        t += Duration::from_secs(lock);
    }
    // another network is not locked by this one's failures
    let other = stores
        .limits
        .login_attempt(&account, "net-b", POLICY, t)
        .await;
    assert_eq!(other.unwrap(), None);
}

pub async fn a_successful_login_clears_the_networks_count(backend: &super::Backend) {
    let stores = &backend.stores;
    let (account, net, t) = (key(), "net-a", now());
    for _ in 0..3 {
        assert_eq!(
            stores
                .limits
                .login_attempt(&account, net, POLICY, t)
                .await
                .unwrap(),
            None
        );
    }
    stores
        .limits
        .login_succeeded(&account, net, Duration::from_secs(60), backend.now())
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            stores
                .limits
                .login_attempt(&account, net, POLICY, t)
                .await
                .unwrap(),
            None,
            "the count started over"
        );
    }
    stores.limits.clear_lockout(&account).await.unwrap();
}

pub async fn the_ceiling_refuses_unknown_networks_but_not_known_ones(backend: &super::Backend) {
    let stores = &backend.stores;
    let policy = LockoutPolicy {
        threshold: 100,
        ceiling: 2,
        ceiling_period: Duration::from_secs(60),
        ..POLICY
    };
    let (account, t) = (key(), now());
    stores
        .limits
        .login_succeeded(&account, "home", Duration::from_secs(60), backend.now())
        .await
        .unwrap();
    for net in ["x", "y"] {
        let d = stores.limits.login_attempt(&account, net, policy, t).await;
        assert_eq!(d.unwrap(), None);
    }
    let third = stores.limits.login_attempt(&account, "z", policy, t).await;
    assert_eq!(third.unwrap(), Some(Duration::from_secs(30)));
    let home = stores
        .limits
        .login_attempt(&account, "home", policy, t)
        .await;
    assert_eq!(
        home.unwrap(),
        None,
        "a network the account signed in from is exempt"
    );
    stores.limits.clear_lockout(&account).await.unwrap();
    let after_unlock = stores.limits.login_attempt(&account, "z", policy, t).await;
    assert_eq!(after_unlock.unwrap(), None, "an unlock clears the ceiling");
}
