//! Cryptography: signing algorithms, key material and key states (book § Signing keys), and
//! AES-256-GCM sealing under HKDF subkeys of the KEK.

mod alg;
mod der;
mod key_state;
mod link;
mod material;
mod seal;

pub use alg::SigningAlg;
pub use key_state::KeyState;
pub use link::{link_digest, new_link_token, record_digest};
pub use material::{thumbprint, KeyMaterial};
pub use seal::{Kek, Purpose, SealError};
