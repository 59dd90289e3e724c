//! Authentication building blocks: password hashing on a bounded pool (book § Configuration), the
//! password policy, and OAuth client authentication (RFC 6749 §2.3).

pub mod client_auth;
pub mod hash_cost;
pub mod hashing;
mod password_hash;
pub mod policy;
