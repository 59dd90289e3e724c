//! The authorization-code flow's state (book § Sign-in with the authorization-code flow): SSO sessions with the families started
//! under them, single-use codes whose replay can still find what they issued, consents.

use std::time::Duration;

use futures_util::future::join_all;
use tessera::store::{AuthCode, CodeStore, CodeTake, NewUser, SsoSession};

use super::now;

fn session(user: tessera::domain::UserId, ttl: i64) -> SsoSession {
    SsoSession {
        id: uuid::Uuid::new_v4().simple().to_string(),
        user_id: user,
        secret_sha256: [7; 32],
        auth_time: now(),
        amr: vec!["pwd".into(), "otp".into()],
        created_at: now(),
        expires_at: now() + time::Duration::seconds(ttl),
    }
}

pub async fn sso_sessions_are_found_listed_and_end_with_their_families(backend: &super::Backend) {
    let stores = &backend.stores;
    let sso = &stores.sso;
    let (user, other) = (
        tessera::domain::UserId::generate(),
        tessera::domain::UserId::generate(),
    );
    let (first, second, short) = (session(user, 3600), session(user, 3600), session(user, 1));
    for s in [&first, &second, &short] {
        sso.create_sso(s).await.unwrap();
    }
    sso.create_sso(&session(other, 3600)).await.unwrap();
    assert_eq!(
        sso.find_sso(&first.id, backend.now())
            .await
            .unwrap()
            .as_ref(),
        Some(&first)
    );
    assert_eq!(sso.list_sso(user, backend.now()).await.unwrap().len(), 3);

    sso.add_sso_family(&first.id, &"fam-a".into(), backend.now())
        .await
        .unwrap();
    sso.add_sso_family(&first.id, &"fam-b".into(), backend.now())
        .await
        .unwrap();
    let mut ended = sso.end_sso(&first.id, backend.now()).await.unwrap();
    ended.sort();
    assert_eq!(
        ended,
        ["fam-a".into(), "fam-b".into()] as [tessera::domain::FamilyId; 2]
    );
    assert_eq!(sso.find_sso(&first.id, backend.now()).await.unwrap(), None);
    assert!(
        sso.end_sso(&first.id, backend.now())
            .await
            .unwrap()
            .is_empty(),
        "ended once"
    );

    backend.elapse(Duration::from_millis(2100)).await;
    assert_eq!(
        sso.find_sso(&short.id, backend.now()).await.unwrap(),
        None,
        "expired"
    );
    sso.add_sso_family(&short.id, &"fam-c".into(), backend.now())
        .await
        .unwrap();
    assert!(
        sso.end_sso(&short.id, backend.now())
            .await
            .unwrap()
            .is_empty(),
        "nothing added once expired"
    );
    let listed: Vec<String> = sso
        .list_sso(user, backend.now())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [second.id.as_str()]);

    assert_eq!(sso.end_user_sso(user, backend.now()).await.unwrap(), 1);
    assert!(sso.list_sso(user, backend.now()).await.unwrap().is_empty());
    assert_eq!(
        sso.list_sso(other, backend.now()).await.unwrap().len(),
        1,
        "another user's stays"
    );
}

fn code() -> AuthCode {
    AuthCode {
        client_id: "app".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        redirect_uri_sent: true,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        scope: "openid email".into(),
        sso_id: "sso-1".into(),
        user_id: tessera::domain::UserId::generate(),
        auth_time: now(),
        amr: vec!["pwd".into()],
    }
}

pub async fn a_code_is_spent_by_exactly_one_caller_and_a_replay_finds_its_family(
    backend: &super::Backend,
) {
    let stores = &backend.stores;
    let codes = &stores.codes;
    let (digest, issued) = ([1u8; 32], code());
    codes
        .put_code(&digest, &issued, Duration::from_secs(60), backend.now())
        .await
        .unwrap();
    let takes = join_all((0..20).map(|_| codes.take_code(&digest, backend.now()))).await;
    let takes: Vec<CodeTake> = takes.into_iter().map(Result::unwrap).collect();
    let fresh: Vec<&CodeTake> = takes
        .iter()
        .filter(|t| matches!(t, CodeTake::Fresh(_)))
        .collect();
    assert_eq!(
        fresh,
        [&CodeTake::Fresh(issued)],
        "exactly one caller spends it"
    );
    assert!(takes
        .iter()
        .all(|t| matches!(t, CodeTake::Fresh(_) | CodeTake::Replayed(None))));
    // the replays above came before the tokens were issued: recording now says so
    assert!(!codes
        .record_code_family(&digest, &"fam-1".into(), backend.now())
        .await
        .unwrap());

    let clean = [2u8; 32];
    codes
        .put_code(&clean, &code(), Duration::from_secs(60), backend.now())
        .await
        .unwrap();
    assert!(matches!(
        codes.take_code(&clean, backend.now()).await.unwrap(),
        CodeTake::Fresh(_)
    ));
    assert!(codes
        .record_code_family(&clean, &"fam-2".into(), backend.now())
        .await
        .unwrap());
    assert_eq!(
        codes.take_code(&clean, backend.now()).await.unwrap(),
        CodeTake::Replayed(Some("fam-2".into()))
    );
    assert!(!codes
        .record_code_family(&clean, &"fam-3".into(), backend.now())
        .await
        .unwrap());

    assert_eq!(
        codes.take_code(&[3u8; 32], backend.now()).await.unwrap(),
        CodeTake::Unknown
    );
    let short = [4u8; 32];
    codes
        .put_code(&short, &code(), Duration::from_secs(1), backend.now())
        .await
        .unwrap();
    backend.elapse(Duration::from_millis(2100)).await;
    assert_eq!(
        codes.take_code(&short, backend.now()).await.unwrap(),
        CodeTake::Unknown,
        "expired"
    );
}

pub async fn consents_add_up_list_and_revoke(backend: &super::Backend) {
    let stores = &backend.stores;
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    let user = stores
        .users
        .create_user(
            NewUser {
                id: tessera::domain::UserId::generate(),
                welcome: None,
                identity: None,
                email: tessera::domain::Email::parse(&email).unwrap(),
                name: None,
                email_verified: false,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
                    .into(),
            },
            now(),
        )
        .await
        .unwrap()
        .id;
    let consents = &stores.consents;
    assert_eq!(consents.find_consent(user, "spa").await.unwrap(), None);
    consents
        .grant_consent(user, "spa", &["openid".into(), "email".into()], now())
        .await
        .unwrap();
    consents
        .grant_consent(user, "spa", &["profile".into(), "email".into()], now())
        .await
        .unwrap();
    let held = consents.find_consent(user, "spa").await.unwrap().unwrap();
    assert_eq!(held.scopes, ["email", "openid", "profile"]);
    assert_eq!(consents.list_consents(user).await.unwrap(), [held]);
    assert!(consents.revoke_consent(user, "spa").await.unwrap());
    assert!(!consents.revoke_consent(user, "spa").await.unwrap());
    assert!(consents.list_consents(user).await.unwrap().is_empty());
}

/// RFC 6749 §4.1.2: a spent code is remembered in the embedded store itself, not a cache that
/// forgets on restart or under a flood of new codes.
#[tokio::test]
async fn a_spent_code_is_remembered_across_a_restart_of_the_embedded_store() {
    let dir = crate::helpers::TempDir::new();
    let path = dir.0.join("tessera.db");
    let open = || tessera::store::sqlite::SqliteStore::open(&path, 2);
    let store = open().await.unwrap();
    tessera::store::Migrator::migrate(&store).await.unwrap();
    let digest = [9u8; 32];
    store
        .put_code(&digest, &code(), Duration::from_secs(60), now())
        .await
        .unwrap();
    assert!(matches!(
        store.take_code(&digest, now()).await.unwrap(),
        CodeTake::Fresh(_)
    ));
    assert!(store
        .record_code_family(&digest, &"fam-9".into(), now())
        .await
        .unwrap());
    // more codes than the old in-memory cache held would not push it out either
    drop(store);
    let store = open().await.unwrap();
    assert_eq!(
        store.take_code(&digest, now()).await.unwrap(),
        CodeTake::Replayed(Some("fam-9".into()))
    );
}
