//! The store contract: what every backend must do, pinned as generic tests over the store
//! traits (`tessera::store::Stores`), so a second backend is proven by one more line at the
//! bottom of this file. Each test gets a fresh backend (its own database and key prefix).
//!
//! Times are parameters where the traits take them (rotation, GCRA, lockout); expiry the
//! backend enforces itself (TTL) is checked against the wall clock with one-second TTLs.

mod browser;
mod changes;
mod durable;
mod families;
mod keys;
mod limits;
mod revocations;

use std::sync::Arc;
use std::time::Duration;

use tessera::clock::{Clock, SystemClock};
use tessera::store::Stores;
use time::OffsetDateTime;

use crate::helpers::{test_settings, TempDir, TestDb};

/// One backend under test; `_owner` keeps its data alive for the test.
pub struct Backend {
    pub stores: Stores,
    _owner: Box<dyn std::any::Any + Send + Sync>,
}

/// The embedded backend: a fresh, migrated SQLite file plus in-memory limits.
pub async fn sqlite() -> Backend {
    let dir = TempDir::new();
    let backend = tessera::store::embedded(&dir.0.join("tessera.db"), 4, Duration::ZERO)
        .await
        .unwrap_or_else(|e| panic!("cannot open the embedded store: {e}"));
    backend.migrator.migrate().await.unwrap();
    Backend {
        stores: backend.stores,
        _owner: Box::new(dir),
    }
}

/// The production backends: PostgreSQL (migrated template) + Redis (own prefix).
pub async fn postgres_redis() -> Backend {
    let db = Arc::new(TestDb::new().await);
    let settings = test_settings(&db, &[("client_cache_ttl", "0")]);
    let backend = tessera::store::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test backends: {e}"));
    Backend {
        stores: backend.stores,
        _owner: Box::new(db),
    }
}

/// The wall clock, whole seconds (the granularity backends store).
pub fn now() -> OffsetDateTime {
    let now = SystemClock.now();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// Every contract test, run against `$backend`.
macro_rules! contract {
    ($name:ident, $backend:path) => {
        mod $name {
            contract!(@tests $backend;
                families::rotation_has_exactly_one_winner_among_50_concurrent_callers,
                families::a_retry_within_grace_gets_the_same_successor_and_nothing_else,
                families::an_older_token_after_grace_is_reuse_and_ends_the_family,
                families::rotation_checks_the_owning_client_and_the_absolute_expiry,
                families::an_idle_family_expires_by_itself,
                families::revoking_a_users_sessions_keeps_the_named_one,
                limits::gcra_allows_the_burst_then_refills_one_per_interval,
                limits::lockout_locks_past_the_threshold_and_doubles_each_time,
                limits::a_successful_login_clears_the_networks_count,
                limits::the_ceiling_refuses_unknown_networks_but_not_known_ones,
                revocations::blocklist_and_cutoff_are_seen_and_expire,
                revocations::an_mfa_token_is_taken_by_exactly_one_caller_and_expires,
                changes::changes_reach_a_subscriber_in_order,
                durable::a_reset_token_is_used_once_and_never_after_expiry,
                keys::revoking_the_active_key_promotes_next_once_and_bumps_the_version,
                browser::sso_sessions_are_found_listed_and_end_with_their_families,
                browser::a_code_is_spent_by_exactly_one_caller_and_a_replay_finds_its_family,
                browser::consents_add_up_list_and_revoke,
            );
        }
    };
    (@tests $backend:path; $($module:ident :: $test:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                let backend = $backend().await;
                crate::store::$module::$test(&backend.stores).await;
            }
        )*
    };
}

contract!(postgres_redis, crate::store::postgres_redis);
contract!(sqlite, crate::store::sqlite);
