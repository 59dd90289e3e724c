//! The ceiling for password logins: raw argon2id verifications per second with one thread
//! per core, the parameters tessera uses by default. Usage: `hash_rate [seconds] [threads]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let threads: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap_or_else(|_| {
        SaltString::from_b64("AAAAAAAAAAAAAAAAAAAAAA").unwrap_or_else(|_| unreachable!())
    });
    let hash = argon2
        .hash_password(b"correct-Horse-battery-staple-42", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (done, hash) = (done.clone(), hash.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&hash).ok();
                while Instant::now() < deadline {
                    if let Some(parsed) = &parsed {
                        let _ = Argon2::default()
                            .verify_password(b"correct-Horse-battery-staple-42", parsed);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let n = done.load(Ordering::Relaxed);
    println!(
        "argon2id_verifications={n} seconds={seconds} threads={threads} per_second={:.1}",
        n as f64 / seconds as f64
    );
}
