//! argon2id and bcrypt on the calling thread (book § Configuration): PHC hashing with a reused memory
//! buffer per thread, constant-time verification with each hash's own parameters, and
//! what `users import` accepts. `hashing`'s pool runs these on its threads only.

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every worker is busy and the queue is full: shed the request.
    #[error("password hashing is saturated")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Result of checking a password against a stored hash.
#[derive(Debug)]
pub enum Verified {
    No,
    /// Correct; `rehash` is a new argon2id hash when the stored one is bcrypt or uses
    /// other parameters.
    Yes {
        rehash: Option<String>,
    },
}

/// Largest argon2 memory a stored hash may ask for (KiB); beyond it the hash is refused
/// rather than allocated (hashes come from imports too).
const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;

thread_local! {
    /// Each hashing thread reuses one argon2 memory buffer: allocating (and zero-faulting)
    /// 19 MiB per hash cost throughput with jemalloc, and with glibc the freed buffers stayed
    /// resident (17 MiB idle grew to 234 MiB after 40 concurrent logins). Memory is now
    /// bounded by threads x the largest parameters in use.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_memory<T>(blocks: usize, run: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        run(&mut memory[..blocks])
    })
}

fn failed(e: impl std::fmt::Display) -> HashError {
    HashError::Failed(e.to_string())
}

pub(super) fn hash_with(argon2: &Argon2<'_>, password: &[u8]) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(failed)?;
    let params = argon2.params();
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        with_memory(params.block_count(), |memory| {
            argon2.hash_password_into_with_memory(password, salt_bytes, out, memory)
        })
        .map_err(|_| password_hash::Error::Crypto)
    })
    .map_err(failed)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Recomputes an argon2 PHC hash with its own parameters and compares in constant time.
fn argon2_matches(password: &[u8], parsed: &PasswordHash<'_>) -> bool {
    let check = || -> Option<bool> {
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::V0x13,
        };
        let params = Params::try_from(parsed).ok()?;
        if params.m_cost() > MAX_VERIFY_MEMORY_KIB {
            return None;
        }
        let expected = parsed.hash?;
        let mut salt_buf = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        with_memory(params.block_count(), |memory| {
            argon2.hash_password_into_with_memory(password, salt, &mut out, memory)
        })
        .ok()?;
        Some(bool::from(out.ct_eq(expected.as_bytes())))
    };
    check().unwrap_or(false)
}

pub(super) fn verify_with(
    argon2: &Argon2<'_>,
    password: &[u8],
    stored: &str,
) -> Result<Verified, HashError> {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Ok(Verified::Yes {
                rehash: Some(hash_with(argon2, password)?),
            }),
            _ => Ok(Verified::No),
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Ok(Verified::No);
    };
    let current = argon2.params();
    let outdated = parsed.algorithm.as_str() != "argon2id"
        || Params::try_from(&parsed).map_or(true, |p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                != (current.m_cost(), current.t_cost(), current.p_cost())
        });
    if argon2_matches(password, &parsed) {
        Ok(Verified::Yes {
            rehash: if outdated {
                Some(hash_with(argon2, password)?)
            } else {
                None
            },
        })
    } else {
        Ok(Verified::No)
    }
}

/// Whether `value` is a hash `users import` accepts: bcrypt or argon2 PHC, with a cost
/// within `hash_cost`'s bounds; otherwise why not.
pub fn importable_hash(value: &str) -> Result<(), String> {
    super::hash_cost::kind(value).map(|_| ())
}
