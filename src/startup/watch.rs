//! Keeping instances in step (SPEC S3): each instance listens for change notifications on
//! Redis pub/sub (key ring reloads and client-cache invalidations take effect at once),
//! and polls the stored key-ring version as the fallback for a missed notification. The
//! same loop unpublishes retiring keys when their time comes and runs the scheduled
//! rotation, which the store serializes so exactly one instance performs each one.

use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;

use super::AppState;
use crate::store::redis::RedisStore;
use crate::store::Change;

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts the listener and the poller on the current runtime.
pub fn spawn(state: web::Data<AppState>, redis: RedisStore) {
    tokio::spawn(listen(state.clone(), redis));
    tokio::spawn(poll(state));
}

async fn listen(state: web::Data<AppState>, redis: RedisStore) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match redis.subscribe_changes().await {
            Ok(pubsub) => {
                backoff = Duration::from_millis(100);
                // anything announced while unsubscribed was missed: check now
                refresh_keys(&state).await;
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let Ok(payload) = message.get_payload::<String>() else {
                        continue;
                    };
                    match Change::from_message(&payload) {
                        Some(Change::Keys) => reload_keys(&state).await,
                        Some(Change::Client(id)) => state.stores.clients.invalidate(&id),
                        None => tracing::debug!("ignored an unknown change notification"),
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

async fn poll(state: web::Data<AppState>) {
    let mut ticks = tokio::time::interval(state.settings.keyring_poll_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        refresh_keys(&state).await;
        scheduled_rotation(&state).await;
        crate::metrics::upkeep();
    }
}

async fn reload_keys(state: &AppState) {
    match state.keyring.reload().await {
        Ok(()) => tracing::info!(version = state.keyring.version(), "key ring reloaded"),
        Err(e) => tracing::warn!(error = %e, "key ring reload failed; keeping the loaded keys"),
    }
}

async fn refresh_keys(state: &AppState) {
    match state.keyring.refresh().await {
        Ok(true) => tracing::info!(version = state.keyring.version(), "key ring refreshed"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "key ring check failed; keeping the loaded keys"),
    }
}

async fn scheduled_rotation(state: &AppState) {
    match state.keyring.rotate_due().await {
        Ok(rotated) if rotated.is_empty() => {}
        Ok(rotated) => {
            let kids: Vec<&str> = rotated.iter().map(|(_, kid)| kid.as_str()).collect();
            tracing::info!(?kids, "scheduled key rotation");
            let operator = crate::manage::Operator {
                actor: "scheduler".to_owned(),
                now: state.clock.now(),
            };
            crate::manage::rotated_keys(&state.stores, &operator, &rotated).await;
        }
        Err(e) => tracing::warn!(error = %e, "scheduled key rotation failed; will retry"),
    }
}
