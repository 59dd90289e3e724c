//! Key store and export integrity: nobody without the KEK can publish a signing key of their own, through
//! the store or through an export file; an export is authenticated end to end, and what
//! it carries passes the same checks as when it was created.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tessera::crypto::{KeyMaterial, SigningAlg};

use crate::helpers::{spawn_on, test_kek, try_spawn_on, Backend, TestDb};
use crate::transfer::cli;

/// Signs a stream as S16 documents it: HMAC-SHA-256 of every byte before the end line,
/// keyed with HKDF-SHA-256(KEK, no salt, info "tessera export v1").
fn sign(lines: &[String]) -> String {
    let kek = STANDARD.decode(test_kek()).unwrap();
    let mut key = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(None, &kek)
        .expand(b"tessera export v1", &mut key)
        .unwrap();
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(body.as_bytes());
    let mac = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let end = json!({"type": "end", "rows": lines.len() - 1, "mac": mac});
    format!("{body}{end}\n")
}

/// A fresh export of an embedded store with one user, as lines without the end line.
async fn exported() -> (Vec<String>, String) {
    let source = Arc::new(TestDb::on(Backend::Embedded).await);
    let app = spawn_on(source.clone(), &[]).await;
    app.new_user_tokens("eve@example.com").await;
    let (ok, export, stderr) = cli(&source, &["export"], b"", None);
    assert!(ok, "{stderr}");
    let mut lines: Vec<String> = export.lines().map(str::to_owned).collect();
    let end = lines.pop().unwrap();
    (lines, end)
}

fn edit(lines: &mut [String], kind: &str, pick: impl Fn(&Value) -> bool, f: impl Fn(&mut Value)) {
    let line = lines
        .iter_mut()
        .find(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["type"] == kind && pick(&v)
        })
        .unwrap();
    let mut value: Value = serde_json::from_str(line).unwrap();
    f(&mut value);
    *line = value.to_string();
}

/// Another ES256 public key, published under `kid`.
fn attacker_jwk(kid: &str) -> Value {
    let mut jwk = KeyMaterial::generate(SigningAlg::Es256, 2048)
        .unwrap()
        .public_jwk;
    jwk.insert("kid".into(), json!(kid));
    Value::Object(jwk)
}

async fn refused(stream: &str, says: &str) {
    let target = TestDb::on(Backend::Postgres).await;
    let (ok, _, stderr) = cli(&target, &["import"], stream.as_bytes(), None);
    assert!(!ok, "an import of this stream must fail");
    assert!(stderr.contains(says), "expected `{says}` in: {stderr}");
    assert_eq!(target.count_rows("users").await, 0, "nothing was written");
    assert_eq!(target.count_rows("signing_keys").await, 0);
}

#[tokio::test]
async fn an_export_is_signed_and_an_unsigned_or_edited_one_does_not_import() {
    let (lines, end) = exported().await;
    let end: Value = serde_json::from_str(&end).unwrap();
    assert_eq!(end["mac"].as_str().map(str::len), Some(43), "{end}");
    // the documented construction reproduces the MAC the exporter wrote
    assert_eq!(sign(&lines).lines().last().unwrap(), end.to_string());

    let unsigned = format!(
        "{}\n{}\n",
        lines.join("\n"),
        json!({"type": "end", "rows": lines.len() - 1})
    );
    refused(&unsigned, "has no `mac`").await;

    let mut swapped = lines.clone();
    edit(
        &mut swapped,
        "users",
        |_| true,
        |u| {
            u["password_hash"] = json!(bcrypt::hash("attacker-password-1", 4).unwrap());
        },
    );
    let stream = format!("{}\n{}\n", swapped.join("\n"), end);
    refused(&stream, "`mac` does not match").await;
}

#[tokio::test]
async fn a_signed_export_whose_next_key_carries_another_public_key_does_not_import() {
    let (mut lines, _) = exported().await;
    edit(
        &mut lines,
        "signing_keys",
        |k| k["state"] == "next" && k["alg"] == "ES256",
        |k| {
            let kid = k["kid"].as_str().unwrap().to_owned();
            k["public_jwk"] = attacker_jwk(&kid);
        },
    );
    refused(
        &sign(&lines),
        "its public key is not the one its sealed private key derives",
    )
    .await;
}

#[tokio::test]
async fn a_signed_export_with_a_client_that_fails_validation_does_not_import() {
    let (lines, _) = exported().await;
    let mut bad = lines.clone();
    edit(
        &mut bad,
        "clients",
        |c| c["id"] == "spa",
        |c| {
            c["grant_types"] = json!(["password", "refresh_token", "authorization_code"]);
            c["redirect_uris"] = json!(["javascript:alert(1)"]);
        },
    );
    refused(&sign(&bad), "client spa: redirect URIs must be").await;

    let mut bad = lines.clone();
    edit(
        &mut bad,
        "clients",
        |c| c["id"] == "spa",
        |c| {
            c["public"] = json!(false);
        },
    );
    refused(&sign(&bad), "client spa: a confidential client needs").await;

    // the documented construction is all another tool needs: the same stream, re-signed
    let target = TestDb::on(Backend::Postgres).await;
    let (ok, _, stderr) = cli(&target, &["import"], sign(&lines).as_bytes(), None);
    assert!(ok, "{stderr}");
}

#[tokio::test]
async fn a_stored_key_whose_public_part_was_swapped_is_refused_when_the_ring_loads() {
    let db = Arc::new(TestDb::on(Backend::Postgres).await);
    let app = spawn_on(db.clone(), &[]).await;
    let pg = db.connect().await;
    let row = pg
        .query_one(
            "SELECT kid FROM signing_keys WHERE state = 'next' AND alg = 'ES256'",
            &[],
        )
        .await
        .unwrap();
    let kid: String = row.get(0);
    let forged = attacker_jwk(&kid);
    pg.execute(
        "UPDATE signing_keys SET public_jwk = $1 WHERE kid = $2",
        &[&forged, &kid],
    )
    .await
    .unwrap();
    drop(app);

    let started = try_spawn_on(db.clone(), &[], Arc::new(tessera::clock::SystemClock)).await;
    let error = started
        .err()
        .expect("a forged key must stop the key ring from loading");
    assert!(error.to_string().contains(&kid), "{error}");
    assert!(error.to_string().contains("forged"), "{error}");
}
