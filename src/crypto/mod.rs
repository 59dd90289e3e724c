//! Cryptography: signing algorithms, key material, the key ring and JWKS (SPEC S3), and
//! AES-256-GCM sealing of private keys under the KEK.

mod alg;
mod der;
mod keyring;
mod material;
mod seal;

pub use alg::SigningAlg;
pub use keyring::{
    ActiveSigner, JwksDocument, KeyRing, KeyRingConfig, KeyRingError, KeyState, KeyVerifier,
    PublishedKey,
};
pub use material::{thumbprint, KeyMaterial};
pub use seal::{Kek, Purpose, SealError};
