//! A software passkey authenticator for the API tests: what a browser and a platform
//! authenticator do together, written out (WebAuthn Level 3 §6, §7; CTAP2's attestation
//! object with the `none` format). `webauthn-authenticator-rs`'s `SoftPasskey` cannot serve:
//! it refuses `residentKey: required` and answers no user handle, so neither a registration
//! tessera asks for nor a discoverable sign-in would run. Each credential is a P-256 key
//! (ES256) with a sign counter; the knobs let a test play a cloned authenticator, a
//! phishing origin or another site's RP ID.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// User present, user verified, attested credential data (authenticator data flags).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

pub struct Credential {
    pub id: Vec<u8>,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    key: PKey<Private>,
    /// The next assertion signs `counter + 1`.
    pub counter: u32,
}

pub struct SoftAuthenticator {
    /// The origin the "browser" puts in clientDataJSON.
    pub origin: String,
    /// Signs for this RP ID instead of the options' (another site's credential).
    pub rp_id_override: Option<String>,
    /// Whether the authenticator verifies the user (a PIN or biometric).
    pub verifies_user: bool,
    /// Whether its credentials are synced (backup eligible and backed up).
    pub synced: bool,
    /// Whether its assertions carry the user handle (a discoverable credential's do).
    pub sends_user_handle: bool,
    pub credentials: Vec<Credential>,
}

impl SoftAuthenticator {
    pub fn new(origin: &str) -> Self {
        SoftAuthenticator {
            origin: origin.to_owned(),
            rp_id_override: None,
            verifies_user: true,
            synced: true,
            sends_user_handle: true,
            credentials: Vec::new(),
        }
    }

    fn flags(&self, attested: bool) -> u8 {
        let mut flags = UP;
        if self.verifies_user {
            flags |= UV;
        }
        if self.synced {
            flags |= BE | BS;
        }
        if attested {
            flags |= AT;
        }
        flags
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({ "type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false })
            .to_string()
            .into_bytes()
    }

    /// `navigator.credentials.create({publicKey})` then `toJSON()`: a new resident
    /// credential for the options' user.
    pub fn create(&mut self, public_key: &Value) -> Value {
        let rp_id = self
            .rp_id_override
            .clone()
            .unwrap_or_else(|| public_key["rp"]["id"].as_str().unwrap().to_owned());
        let user_handle = b64d(public_key["user"]["id"].as_str().unwrap());
        let challenge = public_key["challenge"].as_str().unwrap();
        let excluded = credential_ids(&public_key["excludeCredentials"]);
        assert!(
            !self.credentials.iter().any(|c| excluded.contains(&c.id)),
            "the authenticator holds an excluded credential: a browser would refuse"
        );
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        let mut ctx = BigNumContext::new().unwrap();
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let id: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
        let mut cose = cbor_head(5, 5);
        cose.extend([0x01, 0x02]); // kty: EC2
        cose.extend([0x03, 0x26]); // alg: ES256 (-7)
        cose.extend([0x20, 0x01]); // crv: P-256
        cose.push(0x21); // x
        cose.extend(cbor_bytes(&x.to_vec_padded(32).unwrap()));
        cose.push(0x22); // y
        cose.extend(cbor_bytes(&y.to_vec_padded(32).unwrap()));
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        auth_data.extend(cose);
        let mut attestation = cbor_head(5, 3);
        attestation.extend(cbor_text("fmt"));
        attestation.extend(cbor_text("none"));
        attestation.extend(cbor_text("attStmt"));
        attestation.extend(cbor_head(5, 0));
        attestation.extend(cbor_text("authData"));
        attestation.extend(cbor_bytes(&auth_data));
        let client_data = self.client_data("webauthn.create", challenge);
        self.credentials.push(Credential {
            id: id.clone(),
            rp_id,
            user_handle,
            key: PKey::from_ec_key(ec).unwrap(),
            counter: 0,
        });
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get({publicKey})` then `toJSON()`: an assertion by the
    /// credential the options allow (or, discoverable, the newest for the RP ID).
    pub fn get(&mut self, public_key: &Value) -> Value {
        let rp_id = public_key["rpId"].as_str().unwrap().to_owned();
        let allowed = credential_ids(&public_key["allowCredentials"]);
        let at = self
            .credentials
            .iter()
            .rposition(|c| {
                let for_rp = self.rp_id_override.is_some() || c.rp_id == rp_id;
                for_rp && (allowed.is_empty() || allowed.contains(&c.id))
            })
            .expect("the authenticator holds no credential for these options");
        self.assert_with(at, public_key)
    }

    /// An assertion by credential `at`, whatever the options allow.
    pub fn assert_with(&mut self, at: usize, public_key: &Value) -> Value {
        let challenge = public_key["challenge"].as_str().unwrap().to_owned();
        let flags = self.flags(false);
        let client_data = self.client_data("webauthn.get", &challenge);
        let sends_user_handle = self.sends_user_handle;
        let credential = &mut self.credentials[at];
        credential.counter += 1;
        let mut auth_data = Sha256::digest(credential.rp_id.as_bytes()).to_vec();
        auth_data.push(flags);
        auth_data.extend(credential.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let mut signer = Signer::new(MessageDigest::sha256(), &credential.key).unwrap();
        let signature = signer.sign_oneshot_to_vec(&signed).unwrap();
        let user_handle = sends_user_handle.then(|| b64(&credential.user_handle));
        json!({
            "id": b64(&credential.id),
            "rawId": b64(&credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(&signature),
                "userHandle": user_handle,
            },
            "clientExtensionResults": {},
        })
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The ids of a list of `PublicKeyCredentialDescriptorJSON` (none when absent).
fn credential_ids(list: &Value) -> Vec<Vec<u8>> {
    let ids = list.as_array().into_iter().flatten();
    ids.map(|c| b64d(c["id"].as_str().unwrap())).collect()
}

fn b64d(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).unwrap()
}

/// A CBOR head (RFC 8949 §3): major type and argument.
fn cbor_head(major: u8, len: usize) -> Vec<u8> {
    let major = major << 5;
    match len {
        0..=23 => vec![major | len as u8],
        24..=0xff => vec![major | 24, len as u8],
        _ => {
            let mut head = vec![major | 25];
            head.extend((len as u16).to_be_bytes());
            head
        }
    }
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(2, bytes.len());
    out.extend(bytes);
    out
}

fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = cbor_head(3, text.len());
    out.extend(text.as_bytes());
    out
}
