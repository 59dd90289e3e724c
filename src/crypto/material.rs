//! Signing key material (book § Signing keys): generation, PKCS#8 DER round trip, the public JWK
//! (public members only), and the RFC 7638 thumbprint used as `kid`.

use josekit::jwk::alg::ed::EdCurve;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{EdDSA, JwsSigner, JwsVerifier, ES256, PS256, RS256};
use josekit::JoseError;
use serde_json::{Map, Value};

use super::SigningAlg;

/// Public JWK members by key type; nothing else from a generated JWK is ever published.
const PUBLIC_MEMBERS: [&str; 6] = ["kty", "crv", "x", "y", "n", "e"];

/// A private key with its derived public JWK and kid. The DER is never logged.
pub struct KeyMaterial {
    pub alg: SigningAlg,
    pub kid: crate::domain::Kid,
    /// Wiped when the material is dropped.
    private_der: zeroize::Zeroizing<Vec<u8>>,
    /// Public JWK including `kid`, `alg` and `use: "sig"`.
    pub public_jwk: Map<String, Value>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl KeyMaterial {
    /// Generates a fresh key pair. CPU-heavy for RSA: call off the async workers.
    pub fn generate(alg: SigningAlg, rsa_bits: u32) -> Result<Self, JoseError> {
        let pair: Box<dyn KeyPair> = match alg {
            SigningAlg::Es256 => Box::new(ES256.generate_key_pair()?),
            SigningAlg::EdDsa => Box::new(EdDSA.generate_key_pair(EdCurve::Ed25519)?),
            SigningAlg::Rs256 => Box::new(RS256.generate_key_pair(rsa_bits)?),
            SigningAlg::Ps256 => Box::new(PS256.generate_key_pair(rsa_bits)?),
        };
        Self::from_pair(alg, pair.as_ref())
    }

    /// Rebuilds material from a PKCS#8 DER private key (stored or imported).
    pub fn from_private_der(alg: SigningAlg, der: &[u8]) -> Result<Self, JoseError> {
        if !super::der::well_formed(der) {
            return Err(JoseError::InvalidKeyFormat(anyhow::anyhow!(
                "not a well-formed DER private key"
            )));
        }
        let pair: Box<dyn KeyPair> = match alg {
            SigningAlg::Es256 => Box::new(ES256.key_pair_from_der(der)?),
            SigningAlg::EdDsa => Box::new(EdDSA.key_pair_from_der(der)?),
            SigningAlg::Rs256 => Box::new(RS256.key_pair_from_der(der)?),
            SigningAlg::Ps256 => Box::new(PS256.key_pair_from_der(der)?),
        };
        Self::from_pair(alg, pair.as_ref())
    }

    /// Reads a PEM private key (PKCS#8, or SEC1/PKCS#1) for `alg`.
    pub fn from_private_pem(alg: SigningAlg, pem: &[u8]) -> Result<Self, JoseError> {
        if !pem_body_well_formed(pem) {
            return Err(JoseError::InvalidKeyFormat(anyhow::anyhow!(
                "not a well-formed PEM private key"
            )));
        }
        let pair: Box<dyn KeyPair> = match alg {
            SigningAlg::Es256 => Box::new(ES256.key_pair_from_pem(pem)?),
            SigningAlg::EdDsa => Box::new(EdDSA.key_pair_from_pem(pem)?),
            SigningAlg::Rs256 => Box::new(RS256.key_pair_from_pem(pem)?),
            SigningAlg::Ps256 => Box::new(PS256.key_pair_from_pem(pem)?),
        };
        let material = Self::from_pair(alg, pair.as_ref())?;
        // RSA below 2048 bits is refused (NIST SP 800-131A); n is base64url, 4 chars per 3 bytes
        let n_bytes = material
            .public_jwk
            .get("n")
            .and_then(Value::as_str)
            .map_or(usize::MAX, |n| n.len() * 3 / 4);
        if n_bytes < 256 {
            return Err(JoseError::InvalidKeyFormat(anyhow::anyhow!(
                "RSA keys must have at least 2048 bits"
            )));
        }
        Ok(material)
    }

    /// Reads a PEM private key, taking the algorithm from the key type when `alg` is not
    /// given (EC P-256: ES256, Ed25519: EdDSA, RSA: RS256).
    pub fn import_pem(alg: Option<SigningAlg>, pem: &[u8]) -> Result<Self, JoseError> {
        if let Some(alg) = alg {
            return Self::from_private_pem(alg, pem);
        }
        [SigningAlg::Es256, SigningAlg::EdDsa, SigningAlg::Rs256]
            .into_iter()
            .find_map(|alg| Self::from_private_pem(alg, pem).ok())
            .ok_or_else(|| {
                JoseError::InvalidKeyFormat(anyhow::anyhow!(
                    "not a PEM private key for ES256 (P-256), EdDSA (Ed25519) or RSA (2048+ bits)"
                ))
            })
    }

    fn from_pair(alg: SigningAlg, pair: &dyn KeyPair) -> Result<Self, JoseError> {
        let full = pair.to_jwk_public_key();
        let mut public_jwk: Map<String, Value> = full
            .as_ref()
            .iter()
            .filter(|(k, _)| PUBLIC_MEMBERS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let kid = thumbprint(&public_jwk).ok_or_else(|| {
            JoseError::InvalidKeyFormat(anyhow::anyhow!("JWK lacks thumbprint members"))
        })?;
        public_jwk.insert("kid".into(), Value::String(kid.clone()));
        public_jwk.insert("alg".into(), Value::String(alg.as_str().into()));
        public_jwk.insert("use".into(), Value::String("sig".into()));
        Ok(KeyMaterial {
            alg,
            kid: kid.into(),
            private_der: zeroize::Zeroizing::new(pair.to_der_private_key()),
            public_jwk,
        })
    }

    pub fn private_der(&self) -> &[u8] {
        &self.private_der
    }

    /// A JWS signer for this key.
    pub fn signer(&self) -> Result<Box<dyn JwsSigner>, JoseError> {
        let der = &self.private_der;
        Ok(match self.alg {
            SigningAlg::Es256 => Box::new(ES256.signer_from_der(der)?),
            SigningAlg::EdDsa => Box::new(EdDSA.signer_from_der(der)?),
            SigningAlg::Rs256 => Box::new(RS256.signer_from_der(der)?),
            SigningAlg::Ps256 => Box::new(PS256.signer_from_der(der)?),
        })
    }
}

impl KeyMaterial {
    /// A verifier for a published public JWK, accepting only `alg`.
    pub fn verifier(
        alg: SigningAlg,
        public_jwk: &Map<String, Value>,
    ) -> Result<Box<dyn JwsVerifier>, JoseError> {
        let jwk = Jwk::from_map(public_jwk.clone())?;
        Ok(match alg {
            SigningAlg::Es256 => Box::new(ES256.verifier_from_jwk(&jwk)?),
            SigningAlg::EdDsa => Box::new(EdDSA.verifier_from_jwk(&jwk)?),
            SigningAlg::Rs256 => Box::new(RS256.verifier_from_jwk(&jwk)?),
            SigningAlg::Ps256 => Box::new(PS256.verifier_from_jwk(&jwk)?),
        })
    }
}

/// RFC 7638 JWK thumbprint (base64url SHA-256 of the required members in lexicographic
/// order, no whitespace): the one `tessera-verify` computes for DPoP keys.
pub use tessera_verify::dpop::thumbprint;

/// Whether every PEM block's body is well-formed DER (josekit would parse it next).
fn pem_body_well_formed(pem: &[u8]) -> bool {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let Ok(text) = std::str::from_utf8(pem) else {
        return false;
    };
    let mut body = String::new();
    let mut blocks = 0;
    for line in text.lines().map(str::trim) {
        if line.starts_with("-----BEGIN") {
            body.clear();
        } else if line.starts_with("-----END") {
            let Ok(der) = STANDARD.decode(&body) else {
                return false;
            };
            if !super::der::well_formed(&der) {
                return false;
            }
            blocks += 1;
        } else if !line.contains(':') {
            // RFC 1421 headers (`Proc-Type: …`) are not part of the body
            body.push_str(line);
        }
    }
    blocks > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 section 3.1
        let jwk: Map<String, Value> = serde_json::from_str(r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn generated_keys_round_trip_through_der_with_public_members_only() {
        for alg in SigningAlg::ALL {
            let key = KeyMaterial::generate(alg, 2048).unwrap();
            let again = KeyMaterial::from_private_der(alg, key.private_der()).unwrap();
            assert_eq!(key.kid, again.kid, "{alg}");
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(
                    !key.public_jwk.contains_key(private),
                    "{alg} leaks {private}"
                );
            }
            assert_eq!(key.public_jwk["alg"], alg.as_str());
            assert!(key.signer().is_ok());
        }
    }
}
