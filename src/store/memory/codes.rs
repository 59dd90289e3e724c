//! Authorization codes in memory (SPEC S11, embedded mode): 60 s, single use, a spent
//! code remembered for `SPENT_CODE_MEMORY` so that a replay still revokes what it issued.
//! Lost on restart: an unused code then fails like an expired one.

use std::time::Duration;

use async_trait::async_trait;
use moka::ops::compute::Op;
use time::OffsetDateTime;

use super::wall;
use crate::store::{AuthCode, CodeStore, CodeTake, StoreError, SPENT_CODE_MEMORY};

/// More codes than this and the least recently used are dropped.
const CAPACITY: u64 = 100_000;

#[derive(Clone)]
enum State {
    Fresh(Box<AuthCode>),
    Spent { family: Option<String> },
    Replayed { family: Option<String> },
}

pub struct MemoryCodes(moka::sync::Cache<[u8; 32], (State, OffsetDateTime)>);

impl Default for MemoryCodes {
    fn default() -> Self {
        MemoryCodes(
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(SPENT_CODE_MEMORY + Duration::from_secs(60))
                .build(),
        )
    }
}

#[async_trait]
impl CodeStore for MemoryCodes {
    async fn put_code(
        &self,
        digest: &[u8; 32],
        code: &AuthCode,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires = wall() + ttl.max(Duration::from_secs(1));
        self.0
            .insert(*digest, (State::Fresh(Box::new(code.clone())), expires));
        Ok(())
    }

    async fn take_code(&self, digest: &[u8; 32]) -> Result<CodeTake, StoreError> {
        let now = wall();
        let mut found = CodeTake::Unknown;
        self.0.entry_by_ref(digest).and_compute_with(|entry| {
            let Some((state, expires)) = entry.map(|e| e.into_value()) else {
                return Op::Nop;
            };
            if expires <= now {
                return Op::Remove;
            }
            match state {
                State::Fresh(code) => {
                    found = CodeTake::Fresh(*code);
                    Op::Put((State::Spent { family: None }, now + SPENT_CODE_MEMORY))
                }
                State::Spent { family } | State::Replayed { family } => {
                    found = CodeTake::Replayed(family.clone());
                    Op::Put((State::Replayed { family }, expires))
                }
            }
        });
        Ok(found)
    }

    async fn record_code_family(
        &self,
        digest: &[u8; 32],
        family_id: &str,
    ) -> Result<bool, StoreError> {
        let mut recorded = false;
        self.0
            .entry_by_ref(digest)
            .and_compute_with(|entry| match entry.map(|e| e.into_value()) {
                Some((State::Spent { .. }, expires)) => {
                    recorded = true;
                    let family = Some(family_id.to_owned());
                    Op::Put((State::Spent { family }, expires))
                }
                _ => Op::Nop,
            });
        Ok(recorded)
    }
}
