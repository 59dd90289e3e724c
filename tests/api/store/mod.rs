//! The store contract: what every backend must do, pinned as generic tests over the store
//! traits (`tessera::store::Stores`), so a second backend is proven by one more line at the
//! bottom of this file. Each test gets a fresh backend (its own database and key prefix).
//!
//! Every call that decides expiry takes the time (`Backend::now`). The embedded store
//! decides all of it against that time, so its tests move a `FixedClock` on; expiry Redis
//! enforces itself (key TTLs, by its own clock) is waited for, with one-second TTLs
//! (`Backend::elapse`).

mod browser;
mod changes;
mod durable;
mod families;
mod feed;
mod keys;
mod limits;
mod outbox;
mod passkeys;
mod revocations;
mod rules;

use std::sync::Arc;
use std::time::Duration;

use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::store::Stores;
use time::OffsetDateTime;

use crate::helpers::{test_settings, RedisCluster, TempDir, TestDb};

/// One backend under test; `_owner` keeps its data alive for the test.
pub struct Backend {
    pub stores: Stores,
    /// The time the tests give the backend where tessera decides expiry (the embedded
    /// store); `None` where the server does (Redis expires keys by its own clock, so the
    /// tests give it the wall clock).
    clock: Option<Arc<FixedClock>>,
    _owner: Box<dyn std::any::Any + Send + Sync>,
}

impl Backend {
    /// Lets `span` pass for the backend: the embedded store's clock moves on at once;
    /// Redis, which expires keys by its own clock, is waited for.
    pub async fn elapse(&self, span: Duration) {
        match &self.clock {
            Some(clock) => clock.advance(span),
            None => tokio::time::sleep(span).await,
        }
    }

    /// The time to pass to the store: the test's clock, or the wall clock for Redis.
    pub fn now(&self) -> OffsetDateTime {
        match &self.clock {
            Some(clock) => clock.now(),
            None => SystemClock.now(),
        }
    }
}

/// The embedded backend: a fresh, migrated SQLite file plus in-memory limits.
pub async fn sqlite() -> Backend {
    let dir = TempDir::new();
    let clock = Arc::new(FixedClock::starting_now());
    let backend = tessera::store::embedded(&dir.0.join("tessera.db"), 4, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("cannot open the embedded store: {e}"));
    backend.migrator.migrate().await.unwrap();
    Backend {
        stores: backend.stores,
        clock: Some(clock),
        _owner: Box::new(dir),
    }
}

/// The production backends: PostgreSQL (migrated template) + Redis (own prefix).
pub async fn postgres_redis() -> Backend {
    let db = Arc::new(TestDb::new().await);
    let settings = test_settings(&db, &[("client_cache_ttl", "0")]);
    let backend = tessera::store::connect((&settings).into())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test backends: {e}"));
    Backend {
        stores: backend.stores,
        clock: None,
        _owner: Box::new(db),
    }
}

/// The wall clock, whole seconds (the granularity backends store).
pub fn now() -> OffsetDateTime {
    let now = SystemClock.now();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// PostgreSQL (migrated template) + the Redis Cluster `cluster` (own prefix), book § Running many instances.
pub async fn postgres_redis_cluster(cluster: &RedisCluster) -> Backend {
    let db = Arc::new(TestDb::new().await);
    let seeds = cluster.seeds();
    let settings = test_settings(
        &db,
        &[
            ("client_cache_ttl", "0"),
            ("redis_url", &seeds),
            ("redis_cluster", "true"),
        ],
    );
    let backend = tessera::store::connect((&settings).into())
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test Redis Cluster: {e}"));
    Backend {
        stores: backend.stores,
        clock: None,
        _owner: Box::new(db),
    }
}

/// Calls `$then!` with every contract test (`module::test`), the one list of them.
macro_rules! each_contract_test {
    ($then:ident $(, $arg:tt)*) => {
        $then! { $($arg,)* [
            families::rotation_has_exactly_one_winner_among_50_concurrent_callers,
            families::a_retry_within_grace_gets_the_same_successor_and_nothing_else,
            families::an_older_token_after_grace_is_reuse_and_ends_the_family,
            families::rotation_checks_the_owning_client_and_the_absolute_expiry,
            families::an_idle_family_expires_by_itself,
            families::revoking_a_users_sessions_keeps_the_named_one,
            feed::an_append_trims_at_most_a_batch_of_the_oldest_events,
            limits::gcra_allows_the_burst_then_refills_one_per_interval,
            limits::lockout_locks_past_the_threshold_and_doubles_each_time,
            limits::a_successful_login_clears_the_networks_count,
            limits::the_ceiling_refuses_unknown_networks_but_not_known_ones,
            revocations::blocklist_and_cutoff_are_seen_and_expire,
            rules::gcra_follows_the_table_of_cases,
            rules::rotation_follows_the_table_of_cases,
            rules::the_code_state_machine_follows_the_table_of_cases,
            revocations::an_mfa_token_is_taken_by_exactly_one_caller_and_expires,
            changes::changes_reach_a_subscriber_in_order,
            durable::a_reset_token_is_used_once_and_never_after_expiry,
            durable::an_expired_reset_link_is_swept_and_a_live_one_kept,
            passkeys::passkeys_are_unique_used_once_per_counter_and_kept_per_user,
            outbox::a_message_is_written_with_its_change_claimed_once_retried_and_deleted,
            keys::revoking_the_active_key_promotes_next_once_and_bumps_the_version,
            browser::sso_sessions_are_found_listed_and_end_with_their_families,
            browser::a_code_is_spent_by_exactly_one_caller_and_a_replay_finds_its_family,
            browser::consents_add_up_list_and_revoke,
        ] }
    };
}

/// Every contract test as a test of its own, each against a fresh `$backend`.
macro_rules! contract {
    ($name:ident, $backend:ident, [$($module:ident :: $test:ident),* $(,)?]) => {
        mod $name {
            $(
                #[tokio::test]
                async fn $test() {
                    let backend = crate::store::$backend().await;
                    crate::store::$module::$test(&backend).await;
                }
            )*
        }
    };
}

each_contract_test!(contract, postgres_redis, postgres_redis);
each_contract_test!(contract, sqlite, sqlite);

/// Every contract test in turn against one three-master Redis Cluster (starting one per
/// test would cost more than the tests), each with its own database and key prefix.
macro_rules! contract_in_turn {
    ([$($module:ident :: $test:ident),* $(,)?]) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_store_contract_holds_on_a_redis_cluster() {
            let cluster = RedisCluster::start(3, 0);
            $(
                let backend = postgres_redis_cluster(&cluster).await;
                crate::store::$module::$test(&backend).await;
                drop(backend);
            )*
            // every key went to the cluster, spread over its masters
            let masters_with_keys = cluster
                .masters()
                .into_iter()
                .filter(|&i| !cluster.keys_on(i, "tt:*").is_empty())
                .count();
            assert!(masters_with_keys >= 2, "the contract's keys all landed on one master");
        }
    };
}

each_contract_test!(contract_in_turn);
