//! Keeping instances in step (book § Signing keys): each instance follows the store's change
//! notifications (key ring reloads and client-cache invalidations take effect at once),
//! and polls the stored key-ring version as the fallback for a missed notification. The
//! same loop unpublishes retiring keys when their time comes, runs the scheduled
//! rotation, which the store serializes so exactly one instance performs each one, and
//! deletes expired rows where the store does not expire them by itself (bounded batches).

use std::time::Duration;

use std::sync::Arc;

use futures_util::StreamExt;

use crate::clock::Clock;
use crate::state::AppState;
use crate::store::{Change, Stores};
use crate::tokens::KeyRing;

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts the listener and the poller on the current runtime.
pub fn spawn(state: Arc<AppState>) {
    tokio::spawn(listen(state.clone()));
    tokio::spawn(state.outbox.clone().run());
    tokio::spawn(poll(state));
}

async fn listen(state: Arc<AppState>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match state.stores.changes.subscribe().await {
            Ok(mut changes) => {
                backoff = Duration::from_millis(100);
                // anything announced while unsubscribed was missed: check now
                refresh_keys(&state.keyring).await;
                while let Some(change) = changes.next().await {
                    match change {
                        Change::Keys => reload_keys(&state.keyring).await,
                        Change::Client(id) => state.stores.clients.invalidate(&id),
                    }
                }
                tracing::warn!("change notifications interrupted; resubscribing");
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to change notifications"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn poll(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(state.settings.keyring_poll_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        refresh_keys(&state.keyring).await;
        scheduled_rotation(&state.keyring, &state.stores, state.clock.as_ref()).await;
        sweep_expired(&state.stores, state.clock.as_ref()).await;
        crate::metrics::upkeep();
    }
}

/// The most sweeps one tick runs while each finds a full batch: a backlog (a restart
/// after a long stop) goes over a few ticks, with requests served in between.
const SWEEPS_PER_TICK: usize = 10;

/// Deletes what expired, where the store does not by itself (the embedded store).
async fn sweep_expired(stores: &Stores, clock: &dyn Clock) {
    for _ in 0..SWEEPS_PER_TICK {
        match stores.expiry.sweep(clock.now()).await {
            Ok(swept) if swept.more => tokio::task::yield_now().await,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "the expiry sweep failed; the next tick retries");
                return;
            }
        }
    }
}

async fn reload_keys(keyring: &KeyRing) {
    match keyring.reload().await {
        Ok(()) => tracing::info!(version = keyring.version(), "key ring reloaded"),
        Err(e) => tracing::warn!(error = %e, "key ring reload failed; keeping the loaded keys"),
    }
}

async fn refresh_keys(keyring: &KeyRing) {
    match keyring.refresh().await {
        Ok(true) => tracing::info!(version = keyring.version(), "key ring refreshed"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "key ring check failed; keeping the loaded keys"),
    }
}

/// Runs a rotation that is due; the store lets exactly one instance perform it, which
/// audits it as `scheduler`.
async fn scheduled_rotation(keyring: &KeyRing, stores: &Stores, clock: &dyn Clock) {
    match keyring.rotate_due().await {
        Ok(rotated) if rotated.is_empty() => {}
        Ok(rotated) => {
            let kids: Vec<&str> = rotated.iter().map(|(_, kid)| kid.as_str()).collect();
            tracing::info!(?kids, "scheduled key rotation");
            let operator = crate::service::admin::Operator {
                actor: "scheduler".to_owned(),
                now: clock.now(),
            };
            crate::service::admin::rotated_keys(stores, &operator, &rotated).await;
        }
        Err(e) => tracing::warn!(error = %e, "scheduled key rotation failed; will retry"),
    }
}
