//! Passkeys (book § Passkeys): a credential id belongs to one passkey, a use is recorded only
//! against the counter it was verified with, and a user renames and deletes only their own.

use serde_json::json;
use tessera::domain::{Email, PasskeyId};
use tessera::store::{NewUser, PasskeyUse, StoredPasskey};

use super::now;

pub async fn passkeys_are_unique_used_once_per_counter_and_kept_per_user(backend: &super::Backend) {
    let stores = &backend.stores;
    let t = now();
    let mut users = Vec::new();
    for email in ["pk-a@example.com", "pk-b@example.com"] {
        let new = NewUser {
            id: tessera::domain::UserId::generate(),
            welcome: None,
            identity: None,
            email: Email::parse(email).unwrap(),
            name: None,
            email_verified: false,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        };
        users.push(stores.users.create_user(new, t).await.unwrap().id);
    }
    let passkey = |user, credential_id: &[u8], created| StoredPasskey {
        id: PasskeyId::generate(),
        user_id: user,
        credential_id: credential_id.to_vec(),
        name: "Laptop".into(),
        credential: json!({ "cred_id": "AQID", "counter": 0 }),
        counter: 0,
        backed_up: true,
        created_at: created,
        last_used_at: None,
    };
    let first = passkey(users[0], b"cred-1", t);
    let second = passkey(users[0], b"cred-2", t + time::Duration::seconds(1));
    let passkeys = &stores.passkeys;
    assert!(passkeys.add_passkey(&first, None).await.unwrap());
    assert!(passkeys.add_passkey(&second, None).await.unwrap());
    let stolen = passkey(users[1], b"cred-1", t);
    assert!(
        !passkeys.add_passkey(&stolen, None).await.unwrap(),
        "a credential id is one user's"
    );

    let listed = passkeys.user_passkeys(users[0]).await.unwrap();
    assert_eq!(
        listed,
        vec![first.clone(), second.clone()],
        "oldest first, as stored"
    );
    assert!(passkeys.user_passkeys(users[1]).await.unwrap().is_empty());
    let found = passkeys.passkey_by_credential(b"cred-2").await.unwrap();
    assert_eq!(found.as_ref().map(|p| p.id), Some(second.id));
    assert!(passkeys
        .passkey_by_credential(b"cred-9")
        .await
        .unwrap()
        .is_none());

    // two uses verified against counter 0: the first is recorded, the second finds 5
    let used = |seen, counter| PasskeyUse {
        seen_counter: seen,
        counter,
        backed_up: false,
        credential: json!({ "cred_id": "AQID", "counter": counter }),
    };
    let later = t + time::Duration::seconds(30);
    assert!(passkeys
        .record_passkey_use(first.id, &used(0, 5), later)
        .await
        .unwrap());
    assert!(!passkeys
        .record_passkey_use(first.id, &used(0, 6), later)
        .await
        .unwrap());
    let stored = passkeys
        .passkey_by_credential(b"cred-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.counter, stored.backed_up), (5, false));
    assert_eq!(stored.credential["counter"], 5);
    assert_eq!(stored.last_used_at, Some(later));

    // only the owner renames and deletes
    assert!(!passkeys
        .rename_passkey(users[1], first.id, "Mine")
        .await
        .unwrap());
    assert!(passkeys
        .rename_passkey(users[0], first.id, "Phone")
        .await
        .unwrap());
    assert!(!passkeys
        .delete_passkey(users[1], first.id, None)
        .await
        .unwrap());
    assert!(passkeys
        .delete_passkey(users[0], first.id, None)
        .await
        .unwrap());
    assert!(!passkeys
        .delete_passkey(users[0], first.id, None)
        .await
        .unwrap());
    let left = passkeys.user_passkeys(users[0]).await.unwrap();
    assert_eq!(
        left.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![second.id]
    );
    assert!(!passkeys
        .record_passkey_use(first.id, &used(5, 7), later)
        .await
        .unwrap());

    // a user's deletion takes their passkeys
    assert!(stores.users.delete_user(users[0]).await.unwrap());
    assert!(passkeys
        .passkey_by_credential(b"cred-2")
        .await
        .unwrap()
        .is_none());
}
