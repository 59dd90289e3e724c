//! The signature algorithms a verifier may accept.

use josekit::jwk::Jwk;
use josekit::jws::{
    EdDSA, JwsVerifier, ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512,
};

/// A signature algorithm a verifier may accept (never `none`, never an HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl Algorithm {
    /// Every asymmetric algorithm tessera can sign with: the default allowlist.
    pub const ALL: [Algorithm; 10] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// A verifier of this algorithm with `jwk` (which must be a key of the algorithm's type).
    pub fn verifier(self, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, josekit::JoseError> {
        Ok(match self {
            Algorithm::RS256 => Box::new(RS256.verifier_from_jwk(jwk)?),
            Algorithm::RS384 => Box::new(RS384.verifier_from_jwk(jwk)?),
            Algorithm::RS512 => Box::new(RS512.verifier_from_jwk(jwk)?),
            Algorithm::PS256 => Box::new(PS256.verifier_from_jwk(jwk)?),
            Algorithm::PS384 => Box::new(PS384.verifier_from_jwk(jwk)?),
            Algorithm::PS512 => Box::new(PS512.verifier_from_jwk(jwk)?),
            Algorithm::ES256 => Box::new(ES256.verifier_from_jwk(jwk)?),
            Algorithm::ES384 => Box::new(ES384.verifier_from_jwk(jwk)?),
            Algorithm::ES512 => Box::new(ES512.verifier_from_jwk(jwk)?),
            Algorithm::EdDSA => Box::new(EdDSA.verifier_from_jwk(jwk)?),
        })
    }
}
