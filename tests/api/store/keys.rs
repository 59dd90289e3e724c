//! Signing keys (book § Signing keys): revocation of an active key promotes its next key, once.

use tessera::crypto::{KeyState, SigningAlg};
use tessera::store::{KeyRevocation, NewSigningKey};

use super::now;

fn key(kid: &str) -> NewSigningKey {
    NewSigningKey {
        kid: kid.into(),
        alg: SigningAlg::Es256,
        // the store keeps sealed bytes as given; opening them is the key ring's job
        private_sealed: vec![1, 2, 3],
        public_jwk: serde_json::Map::new(),
    }
}

pub async fn revoking_the_active_key_promotes_next_once_and_bumps_the_version(
    backend: &super::Backend,
) {
    let stores = &backend.stores;
    let t = now();
    assert!(stores
        .keys
        .fill_missing_keys(SigningAlg::Es256, key("a1"), key("n1"), t)
        .await
        .unwrap());
    let before = stores.keys.version().await.unwrap();
    let revoked = stores
        .keys
        .revoke(&"a1".into(), Some(key("n2")), t)
        .await
        .unwrap();
    assert_eq!(
        revoked,
        KeyRevocation::Revoked {
            was: KeyState::Active,
            promoted: Some("n1".into())
        }
    );
    assert!(stores.keys.version().await.unwrap() > before);
    let again = stores
        .keys
        .revoke(&"a1".into(), Some(key("n3")), t)
        .await
        .unwrap();
    assert_eq!(again, KeyRevocation::AlreadyRevoked);
    assert_eq!(
        stores.keys.revoke(&"nope".into(), None, t).await.unwrap(),
        KeyRevocation::NotFound
    );
    let states: Vec<(String, KeyState)> = stores
        .keys
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid.to_string(), k.state))
        .collect();
    assert!(
        states.contains(&("n1".into(), KeyState::Active)),
        "{states:?}"
    );
    assert!(
        states.contains(&("n2".into(), KeyState::Next)),
        "{states:?}"
    );
}
