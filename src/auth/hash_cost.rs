//! What a stored password hash may cost, and what a failed check must cost (book § Configuration).
//!
//! Imported hashes carry their own cost parameters, so one absurd hash (bcrypt cost 31,
//! argon2 `t=4294967295`) would pin every hashing thread. Costs are bounded at import and
//! again at verification; a hash out of bounds is checked against the dummy hash instead,
//! so it costs what an unknown email costs.
//!
//! Failed checks are padded to the slowest kind of hash this instance has verified (an
//! average per kind: `bcrypt:COST`, `argon2:M,T,P`), so the time of a refusal does not tell
//! an imported bcrypt account from an argon2 one or from an unknown email. The padding
//! sleeps on the async side: it holds no hashing thread.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use argon2::password_hash::PasswordHash;
use argon2::Params;

/// Highest bcrypt cost accepted (2^14 rounds, about a second on one core).
pub const MAX_BCRYPT_COST: u32 = 14;
/// Lowest bcrypt cost accepted: what the format allows.
const MIN_BCRYPT_COST: u32 = 4;
/// argon2 bounds: memory (KiB), iterations, lanes.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 262_144;
pub const MAX_ARGON2_ITERATIONS: u32 = 10;
pub const MAX_ARGON2_PARALLELISM: u32 = 8;
/// The longest a refusal is padded to, whatever was observed.
const MAX_FLOOR: Duration = Duration::from_secs(2);
/// Kinds of hash remembered for the floor (a bounded map: kinds come from the database).
const MAX_KINDS: usize = 64;
/// Weight of the newest observation in a kind's running average.
const EWMA_WEIGHT: f64 = 0.2;

fn bcrypt_cost(value: &str) -> Option<u32> {
    let rest = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| value.strip_prefix(p))?;
    let (cost, _) = rest.split_once('$')?;
    if cost.len() != 2 {
        return None;
    }
    cost.parse().ok()
}

/// The kind of a stored hash (its algorithm and cost), or why it is refused.
pub fn kind(value: &str) -> Result<String, String> {
    if let Some(cost) = bcrypt_cost(value) {
        if value.len() != 60 {
            return Err("a bcrypt hash is 60 characters".into());
        }
        if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost) {
            return Err(format!(
                "bcrypt cost {cost} is outside {MIN_BCRYPT_COST}..={MAX_BCRYPT_COST}"
            ));
        }
        return Ok(format!("bcrypt:{cost}"));
    }
    if !value.starts_with("$argon2") {
        return Err("must be a bcrypt ($2a$/$2b$/$2y$) or argon2 PHC hash".into());
    }
    let parsed =
        PasswordHash::new(value).map_err(|_| "is not a well-formed argon2 PHC hash".to_owned())?;
    let params =
        Params::try_from(&parsed).map_err(|_| "has invalid argon2 parameters".to_owned())?;
    let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
    if m > MAX_ARGON2_MEMORY_KIB || t > MAX_ARGON2_ITERATIONS || p > MAX_ARGON2_PARALLELISM {
        return Err(format!(
            "argon2 cost m={m},t={t},p={p} exceeds m={MAX_ARGON2_MEMORY_KIB},t={MAX_ARGON2_ITERATIONS},p={MAX_ARGON2_PARALLELISM}"
        ));
    }
    Ok(format!("argon2:{m},{t},{p}"))
}

/// How long failed checks take at least: the slowest kind's running average.
#[derive(Default)]
pub struct FailureFloor {
    kinds: Mutex<HashMap<String, f64>>,
}

impl FailureFloor {
    /// Records that checking a hash of `kind` took `took` (on the hashing thread).
    pub fn observe(&self, kind: &str, took: Duration) {
        let Ok(mut kinds) = self.kinds.lock() else {
            return;
        };
        let secs = took.as_secs_f64().min(MAX_FLOOR.as_secs_f64());
        let known = kinds.len();
        match kinds.get_mut(kind) {
            Some(avg) => *avg += EWMA_WEIGHT * (secs - *avg),
            None if known < MAX_KINDS => {
                kinds.insert(kind.to_owned(), secs);
            }
            None => {}
        }
    }

    /// The time a failed check is padded to.
    pub fn floor(&self) -> Duration {
        let slowest = self
            .kinds
            .lock()
            .map(|kinds| kinds.values().copied().fold(0.0, f64::max))
            .unwrap_or(0.0);
        Duration::from_secs_f64(slowest).min(MAX_FLOOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_bounded() {
        let ok = bcrypt::hash("x", 4).unwrap();
        assert_eq!(kind(&ok).unwrap(), "bcrypt:4");
        let absurd = format!("$2b$31${}", &ok[7..]);
        assert!(kind(&absurd).unwrap_err().contains("cost 31"));
        let fifteen = format!("$2b$15${}", &ok[7..]);
        assert!(kind(&fifteen).is_err());
        let huge_t = "$argon2id$v=19$m=19456,t=4294967295,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(kind(huge_t).is_err());
        let fine = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert_eq!(kind(fine).unwrap(), "argon2:19456,2,1");
        let big_m = "$argon2id$v=19$m=262145,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(kind(big_m).is_err());
        assert!(kind("plaintext").is_err());
    }

    #[test]
    fn the_floor_is_the_slowest_kind() {
        let floor = FailureFloor::default();
        assert_eq!(floor.floor(), Duration::ZERO);
        floor.observe("argon2:19456,2,1", Duration::from_millis(20));
        floor.observe("bcrypt:10", Duration::from_millis(60));
        assert_eq!(floor.floor(), Duration::from_millis(60));
        floor.observe("bcrypt:10", Duration::from_millis(10));
        // a running average: one fast observation does not drop the floor to it
        assert!(floor.floor() > Duration::from_millis(40));
        floor.observe("bcrypt:31", Duration::from_secs(3600));
        assert_eq!(floor.floor(), MAX_FLOOR);
    }
}
