//! Issue 12 (book § Signing keys): `tessera keys rewrap` moves every sealed secret (signing
//! keys, TOTP secrets, messages waiting in the outbox) to a new KEK in one transaction, or
//! changes nothing; sealed blobs use per-purpose subkeys.

use std::collections::HashSet;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tessera::clock::FixedClock;

use crate::helpers::{cli_env, run_cli, test_kek, try_spawn_on, TestApp, TestDb, STRONG_PASSWORD};

fn new_kek() -> String {
    STANDARD.encode(Sha256::digest(b"tessera test kek, the next one"))
}

async fn sealed_rows(db: &TestDb) -> Vec<(String, Vec<u8>)> {
    let pg = db.connect().await;
    let mut rows: Vec<(String, Vec<u8>)> = pg
        .query("SELECT kid, private_sealed FROM signing_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for table in [
        "SELECT user_id::text, secret_sealed FROM user_totp",
        "SELECT id::text, sealed FROM outbox",
        "SELECT id, client_secret_sealed FROM upstream_providers",
    ] {
        for row in pg.query(table, &[]).await.unwrap() {
            rows.push((row.get(0), row.get(1)));
        }
    }
    rows.sort();
    rows
}

async fn jwks_kids(app: &TestApp) -> HashSet<String> {
    app.jwks_kids().await.into_iter().collect()
}

fn rewrap(db: &TestDb, current: &str, new: &str) -> std::process::Output {
    let mut env: Vec<(&str, String)> = cli_env(db)
        .into_iter()
        .filter(|(k, _)| *k != "TESSERA_KEK")
        .collect();
    env.push(("TESSERA_KEK", current.to_owned()));
    env.push(("TESSERA_NEW_KEK", new.to_owned()));
    run_cli(&["keys", "rewrap"], &env)
}

/// Postgres + Redis only: it restarts instances on one store while another still runs and reads the sealed rows from Postgres.
#[tokio::test]
async fn rewrap_moves_every_key_and_totp_secret_to_the_new_kek_or_changes_nothing() {
    let db = Arc::new(TestDb::new().await);
    let clock = Arc::new(FixedClock::starting_now());
    // a reset link's message waits in the outbox (its webhook is down): sealed too
    let hook = crate::helpers::Webhook::down_for(1000).await;
    let settings = [("notify_webhook_url", hook.url.as_str())];
    let app = try_spawn_on(db.clone(), &settings, clock.clone())
        .await
        .unwrap();
    app.user("kek@example.com").await;
    let secret = app.enrol_totp("kek@example.com", &clock).await;
    crate::reset::forgot(&app, "kek@example.com").await;
    hook.wait_refusing(997).await;
    // an upstream provider's client secret
    app.corp_provider().await;
    let kids = jwks_kids(&app).await;
    let before = sealed_rows(&db).await;
    assert!(
        before.iter().all(|(_, sealed)| sealed[0] == 2),
        "sealed with a subkey"
    );

    // one item that does not open: the whole rewrap is refused, nothing changes
    let pg = db.connect().await;
    pg.execute(
        "INSERT INTO users (id, email, email_verified, password_hash, created_at, updated_at) VALUES ($1, 'broken@example.com', false, 'x', now(), now())",
        &[&uuid::Uuid::nil()],
    )
    .await
    .unwrap();
    pg.execute(
        "INSERT INTO user_totp (user_id, secret_sealed, confirmed_at, created_at) VALUES ($1, $2, now(), now())",
        &[&uuid::Uuid::nil(), &vec![2u8; 60]],
    )
    .await
    .unwrap();
    let with_broken = sealed_rows(&db).await;
    let refused = rewrap(&db, &test_kek(), &new_kek());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("TOTP secret of user 00000000-0000-0000-0000-000000000000")
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(sealed_rows(&db).await, with_broken);
    pg.execute("DELETE FROM users WHERE id = $1", &[&uuid::Uuid::nil()])
        .await
        .unwrap();

    // the new KEK given as the current one: refused, nothing opens
    let wrong = rewrap(&db, &new_kek(), &test_kek());
    assert_eq!(wrong.status.code(), Some(1));
    assert_eq!(sealed_rows(&db).await, before);

    let done = rewrap(&db, &test_kek(), &new_kek());
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report: Value = serde_json::from_slice(&done.stdout).unwrap();
    // waiting: the registration's verification link, the notice of TOTP turned on, and
    // the reset link's message
    assert_eq!(report["outbox_messages"], 3);
    assert_eq!(report["totp_secrets"], 1);
    assert_eq!(report["provider_secrets"], 1);
    assert_eq!(report["signing_keys"], before.len() - 5);
    let after = sealed_rows(&db).await;
    assert_eq!(after.len(), before.len());
    for ((id, old), (same_id, new)) in before.iter().zip(&after) {
        assert_eq!(id, same_id);
        assert_ne!(old, new, "{id} was re-sealed");
    }

    // the old KEK no longer opens the keys; the new one serves the same keys and the TOTP
    let old = try_spawn_on(db.clone(), &[], clock.clone()).await;
    assert!(old.is_err(), "the old KEK must not start");
    let new = new_kek();
    let app = try_spawn_on(db.clone(), &[("kek", &new)], clock.clone())
        .await
        .unwrap();
    assert_eq!(jwks_kids(&app).await, kids);
    assert_eq!(app.corp_as_stored().await.1, b"corp-secret");
    clock.advance(std::time::Duration::from_secs(30));
    let challenge: Value = app
        .password_grant("kek@example.com", STRONG_PASSWORD, "openid")
        .await
        .json()
        .await
        .unwrap();
    let signed_in = app
        .token(&[
            ("grant_type", "urn:tessera:grant-type:mfa-otp"),
            ("client_id", "spa"),
            ("mfa_token", challenge["mfa_token"].as_str().unwrap()),
            ("otp", &crate::helpers::pyotp_code(&secret, &clock)),
        ])
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
}

#[test]
fn rewrap_without_a_new_kek_says_what_it_needs() {
    let out = run_cli(
        &["keys", "rewrap"],
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/x"),
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("TESSERA_KEK", &test_kek()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("TESSERA_NEW_KEK"), "{stderr}");
}
