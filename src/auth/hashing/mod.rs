//! Password hashing (book § Configuration): argon2id PHC strings on a dedicated, bounded thread pool.
//! A full queue is refused at once (the caller answers 503 + Retry-After) instead of piling
//! up work; bcrypt hashes from imports verify and are upgraded at the next login.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::{Algorithm, Argon2, Params, Version};

pub use super::password_hash::importable_hash;
use super::password_hash::{hash_with, verify_with};
pub use super::password_hash::{HashError, HashParams, Verified};
use crate::domain::Password;

type Job = Box<dyn FnOnce() + Send>;

pub struct PasswordHasher {
    jobs: SyncSender<Job>,
    /// Set when a request that did not ask for a hash has been served; the yielding hashing
    /// thread clears it (see [`YIELD_WINDOW`]).
    other_requests: Arc<AtomicBool>,
    depth: Arc<AtomicUsize>,
    /// Jobs the pool holds at most: running plus queued.
    capacity: usize,
    argon2: Argon2<'static>,
    /// Verified against for unknown users, so their timing matches a wrong password.
    dummy_hash: String,
    /// `hash_cost::kind` of the dummy hash (the configured argon2 parameters).
    dummy_kind: String,
    /// What a failed check is padded to (see `hash_cost`).
    failure_floor: super::hash_cost::FailureFloor,
}

/// How long the yielding hashing thread waits between looks at whether other requests are
/// being served. Hashing threads are one per core; while requests other than hashing ones
/// keep arriving, one of them (the last) stays off the CPU, so the HTTP workers, Redis and
/// PostgreSQL always find a free core and a login flood does not slow JWKS, refresh or
/// introspection (book § Configuration). With only logins to serve, every core hashes.
/// Measured (BENCHMARKS.md, 2 cores): with both threads hashing through a 5x login flood,
/// JWKS p99 rose 2.3-4.6x and refresh p99 6-23x over idle, whatever the priority (SCHED_BATCH
/// or SCHED_IDLE); with one core left free, 1.4-2.0x and 0.9-1.8x.
const YIELD_WINDOW: std::time::Duration = std::time::Duration::from_millis(10);

tokio::task_local! {
    /// Whether the current request asked the pool for a hash (see [`track_request`]).
    static HASH_BOUND: Cell<bool>;
}

/// Runs one request's future and tells whether it asked the pool for a hash (a job the full
/// queue refused included), so the caller can tell the hasher about the others with
/// [`PasswordHasher::request_served`]. A login shed by [`PasswordHasher::is_saturated`]
/// before it asks counts as other traffic: answering it needs a core too.
pub async fn track_request<F: Future>(request: F) -> (F::Output, bool) {
    HASH_BOUND
        .scope(Cell::new(false), async move {
            let output = request.await;
            (output, HASH_BOUND.with(Cell::get))
        })
        .await
}

/// Lowers the calling hashing thread's CPU priority (Linux: SCHED_BATCH, nice ≈ 10), so a
/// login flood that keeps every hashing thread busy does not take the cores from the HTTP
/// workers: JWKS, refresh and introspection keep their latency, logins queue and are shed.
/// Best effort: where it is refused the thread keeps the normal priority.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadSchedulePolicy,
        };
        let priority = thread_priority::ThreadPriorityValue::try_from(25u8)
            .map(thread_priority::ThreadPriority::Crossplatform)
            .unwrap_or(thread_priority::ThreadPriority::Min);
        let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        if let Err(e) = set_thread_priority_and_policy(thread_native_id(), priority, policy) {
            tracing::warn!(error = ?e, "could not lower the hashing thread's priority");
        }
    }
}

impl PasswordHasher {
    /// Starts `workers` threads behind a queue of `queue` jobs.
    pub fn start(params: HashParams, workers: usize, queue: usize) -> Result<Self, HashError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| HashError::Failed(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let other_requests = Arc::new(AtomicBool::new(false));
        let workers = workers.max(1);
        for n in 0..workers {
            let rx = rx.clone();
            // with a single thread there is no core to give up: it always hashes
            let yields = (workers > 1 && n == workers - 1).then(|| other_requests.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    yield_to_requests();
                    worker(&rx, yields.as_deref())
                })
                .map_err(|e| HashError::Failed(e.to_string()))?;
        }
        // on a short-lived thread, so no long-lived thread keeps an argon2 buffer for it
        let for_dummy = argon2.clone();
        let dummy_hash = std::thread::spawn(move || {
            hash_with(&for_dummy, uuid::Uuid::new_v4().to_string().as_bytes())
        })
        .join()
        .map_err(|_| HashError::Failed("dummy hash thread panicked".into()))??;
        Ok(PasswordHasher {
            jobs,
            other_requests,
            depth: Arc::new(AtomicUsize::new(0)),
            capacity: workers + queue,
            argon2,
            dummy_kind: format!(
                "argon2:{},{},{}",
                params.memory_kib, params.iterations, params.parallelism
            ),
            dummy_hash,
            failure_floor: Default::default(),
        })
    }

    /// Notes that a request which did not hash was served: the yielding hashing thread
    /// leaves its core to such requests for the next `YIELD_WINDOW`. A load and a store
    /// only when the flag is clear, so busy HTTP workers mostly share the cache line.
    pub fn request_served(&self) {
        if !self.other_requests.load(Ordering::Relaxed) {
            self.other_requests.store(true, Ordering::Relaxed);
        }
    }

    /// Jobs waiting or running.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Whether a job would be refused now: callers shed before doing other work for it
    /// (a database lookup per refused login is what a flood would otherwise cost).
    pub fn is_saturated(&self) -> bool {
        self.queue_depth() >= self.capacity
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        // outside a tracked request (CLI, tests) there is nothing to mark
        let _ = HASH_BOUND.try_with(|bound| bound.set(true));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let depth = self.depth.clone();
        depth.fetch_add(1, Ordering::Relaxed);
        let boxed: Job = Box::new(move || {
            let _ = tx.send(job());
            depth.fetch_sub(1, Ordering::Relaxed);
        });
        match self.jobs.try_send(boxed) {
            Ok(()) => rx
                .await
                .map_err(|_| HashError::Failed("hash worker stopped".into())),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                Err(HashError::Busy)
            }
        }
    }

    /// A new argon2id PHC string for `password`.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let argon2 = self.argon2.clone();
        self.run(move || hash_with(&argon2, password.expose().as_bytes()))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no user
    /// or the stored hash's cost is out of bounds. A refusal takes at least as long as the
    /// slowest kind of hash checked so far (`hash_cost`), so its timing tells nothing.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<Verified, HashError> {
        let argon2 = self.argon2.clone();
        // an account without a password is checked as an unknown one is: no warning
        let stored = stored.filter(|hash| hash != crate::domain::NO_PASSWORD);
        let (stored, kind, real) = match stored.map(|hash| (super::hash_cost::kind(&hash), hash)) {
            Some((Ok(kind), hash)) => (hash, kind, true),
            Some((Err(reason), _)) => {
                tracing::warn!(%reason, "stored password hash refused; checked against the dummy hash");
                (self.dummy_hash.clone(), self.dummy_kind.clone(), false)
            }
            None => (self.dummy_hash.clone(), self.dummy_kind.clone(), false),
        };
        let (verified, took) = self
            .run(move || {
                let started = std::time::Instant::now();
                let verified = verify_with(&argon2, password.expose().as_bytes(), &stored);
                (verified, started.elapsed())
            })
            .await?;
        let verified = if real { verified? } else { Verified::No };
        self.failure_floor.observe(&kind, took);
        if matches!(verified, Verified::No) {
            let floor = self.failure_floor.floor();
            if floor > took {
                tokio::time::sleep(floor - took).await;
            }
        }
        Ok(verified)
    }
}

/// A hashing thread's loop. `yields` is set for the one thread that stays off the CPU while
/// other requests are being served.
fn worker(rx: &Mutex<Receiver<Job>>, yields: Option<&AtomicBool>) {
    loop {
        if let Some(other_requests) = yields {
            while other_requests.swap(false, Ordering::Relaxed) {
                std::thread::sleep(YIELD_WINDOW);
            }
        }
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // the hasher was dropped
        }
    }
}

/// Every hashing failure is the same kind wherever it happens: a saturated pool sheds the
/// request (unavailable, retry soon), anything else is a fault of tessera's.
impl From<HashError> for crate::domain::Failure {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => crate::domain::Failure::Unavailable("password hashing"),
            HashError::Failed(m) => crate::domain::Failure::Internal(anyhow::anyhow!(m)),
        }
    }
}

impl From<HashError> for crate::domain::OAuthError {
    fn from(e: HashError) -> Self {
        crate::domain::Failure::from(e).into()
    }
}

#[cfg(test)]
mod tests;
