//! A client's keys for the tests: DPoP proofs (RFC 9449 §4.2) and `private_key_jwt`
//! assertions (RFC 7523 §2.2), well-formed by default, with every field open to change
//! so the refusal tests can break one thing at a time.

use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsHeader, JwsSigner, ES256};
use josekit::jwt::JwtPayload;
use serde_json::{json, Value};

/// The issuer the test apps run under (their token endpoint is addressed under it).
pub const ISSUER: &str = "http://127.0.0.1:8080";

/// A key pair held by a client.
pub struct ClientKey {
    signer: Box<dyn JwsSigner>,
    pub public: Jwk,
    pub private: Jwk,
}

pub fn unix_now() -> i64 {
    use tessera::clock::Clock;
    tessera::clock::SystemClock.now().unix_timestamp()
}

impl ClientKey {
    pub fn es256() -> Self {
        let pair = ES256.generate_key_pair().unwrap();
        let public = pair.to_jwk_public_key();
        // the whole private key, public coordinates too (what WebCrypto imports)
        let mut private = pair.to_jwk_private_key();
        for member in ["x", "y"] {
            private
                .set_parameter(member, public.parameter(member).cloned())
                .unwrap();
        }
        ClientKey {
            signer: Box::new(ES256.signer_from_jwk(&private).unwrap()),
            public,
            private,
        }
    }

    pub fn ed25519() -> Self {
        let pair = EdDSA
            .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
            .unwrap();
        let private = pair.to_jwk_private_key();
        ClientKey {
            signer: Box::new(EdDSA.signer_from_jwk(&private).unwrap()),
            public: pair.to_jwk_public_key(),
            private,
        }
    }

    /// The RFC 7638 thumbprint (`cnf.jkt`).
    pub fn jkt(&self) -> String {
        tessera_verify::dpop::thumbprint(self.public.as_ref()).unwrap()
    }

    /// The public key with `kid`, as a JWK Set to register.
    pub fn jwks(&self, kid: &str) -> Value {
        let mut key = self.public.clone();
        key.set_key_id(kid);
        json!({ "keys": [Value::Object(key.as_ref().clone())] })
    }

    /// Signs `claims` under `header`.
    pub fn sign(&self, header: &JwsHeader, claims: Value) -> String {
        let Value::Object(map) = claims else {
            panic!("claims must be an object")
        };
        let payload = JwtPayload::from_map(map).unwrap();
        josekit::jwt::encode_with_signer(&payload, header, self.signer.as_ref()).unwrap()
    }

    /// A proof's header: `typ: dpop+jwt` and the public key.
    pub fn proof_header(&self) -> JwsHeader {
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_jwk(self.public.clone());
        header
    }

    /// A fresh proof for `htm` on `path` under the issuer, with `ath` for `token`.
    pub fn proof(&self, htm: &str, path: &str, token: Option<&str>) -> String {
        self.proof_at(htm, &format!("{ISSUER}{path}"), token)
    }

    /// A fresh proof for `htm` on the absolute `url`, with `ath` for `token`.
    pub fn proof_at(&self, htm: &str, url: &str, token: Option<&str>) -> String {
        let mut claims = proof_claims(htm, "", token);
        claims["htu"] = json!(url);
        self.sign(&self.proof_header(), claims)
    }

    /// A fresh `private_key_jwt` assertion for `client` (kid `kid`), to the issuer.
    pub fn assertion(&self, client: &str, kid: &str) -> String {
        let now = unix_now();
        self.assertion_with(
            kid,
            json!({
                "iss": client, "sub": client, "aud": ISSUER,
                "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
            }),
        )
    }

    pub fn assertion_with(&self, kid: &str, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(kid);
        self.sign(&header, claims)
    }
}

/// The claims of a fresh proof.
pub fn proof_claims(htm: &str, path: &str, token: Option<&str>) -> Value {
    let mut claims = json!({
        "htm": htm,
        "htu": format!("{ISSUER}{path}"),
        "iat": unix_now(),
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(token) = token {
        claims["ath"] = json!(tessera_verify::dpop::ath(token));
    }
    claims
}

/// A `client_credentials` request of the `private_key_jwt` client `client` (its key `key`
/// under `kid`) with a DPoP proof by `dpop`.
pub async fn keyed_dpop_token(
    app: &super::TestApp,
    key: &ClientKey,
    client: &str,
    kid: &str,
    dpop: &ClientKey,
) -> reqwest::Response {
    use super::Fetch;
    app.http
        .post(app.url("/oauth2/token"))
        .header("DPoP", dpop.proof("POST", "/oauth2/token", None))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &key.assertion(client, kid)),
        ])
        .fetch()
        .await
}
