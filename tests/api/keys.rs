//! book § Signing keys: key ring creation, sealing at rest, rotation, restart, wrong KEK, JWKS caching
//! and interop with an independent JOSE implementation.

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;
use tessera::clock::SystemClock;
use tessera::crypto::{Kek, KeyMaterial, SigningAlg};

use crate::helpers::{
    backends, cli_env, cli_json, run_cli, spawn_backend, spawn_on, test_kek, try_spawn_on, Backend,
    Fetch, TestDb,
};

const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

pub(crate) async fn jwks(app: &crate::helpers::TestApp) -> Vec<Value> {
    let body: Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.public))
        .fetch_json()
        .await;
    body["keys"].as_array().unwrap().clone()
}

pub(crate) fn kids_in_state(keys: &[Value], alg: &str, state: &str) -> Vec<String> {
    keys.iter()
        .filter(|k| k["alg"] == alg && k["state"] == state)
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[apply(backends)]
#[tokio::test]
async fn serve_on_a_fresh_database_creates_one_active_and_one_next_key_per_enabled_algorithm(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;

    let keys = app.admin_keys().await;
    for alg in ["ES256", "RS256"] {
        assert_eq!(kids_in_state(&keys, alg, "active").len(), 1, "{alg} active");
        assert_eq!(kids_in_state(&keys, alg, "next").len(), 1, "{alg} next");
    }
    assert_eq!(keys.len(), 4);

    let published = jwks(&app).await;
    assert_eq!(published.len(), 4);
    for jwk in &published {
        for member in ["kid", "kty", "alg"] {
            assert!(jwk[member].is_string(), "{member} missing in {jwk}");
        }
        assert_eq!(jwk["use"], "sig");
        for private in PRIVATE_MEMBERS {
            assert!(
                jwk.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
    let admin_kids: HashSet<_> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    let jwks_kids: HashSet<_> = published
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(admin_kids, jwks_kids);
}

#[apply(backends)]
#[tokio::test]
async fn kid_is_the_rfc7638_thumbprint_of_the_published_key(backend: Backend) {
    let app = spawn_with_all_algs(backend).await;
    for jwk in jwks(&app).await {
        let map = jwk.as_object().unwrap();
        assert_eq!(
            tessera::crypto::thumbprint(map).as_deref(),
            jwk["kid"].as_str(),
            "{jwk}"
        );
    }
}

async fn spawn_with_all_algs(backend: Backend) -> crate::helpers::TestApp {
    crate::helpers::spawn_backend(backend, &[("signing_algs", "ES256,EdDSA,RS256,PS256")]).await
}

#[apply(backends)]
#[tokio::test]
async fn jwks_with_a_matching_etag_answers_304_and_caches_publicly(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let url = format!("{}/.well-known/jwks.json", app.public);
    let first = app.http.get(&url).fetch().await;
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong ETag: {etag}"
    );
    let cache = first.headers()["cache-control"].to_str().unwrap();
    assert!(
        cache.contains("public")
            && cache.contains("max-age=300")
            && cache.contains("stale-while-revalidate="),
        "{cache}"
    );

    let again = app
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .fetch()
        .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = app
        .http
        .get(&url)
        .header("if-none-match", "\"something-else\"")
        .fetch()
        .await;
    assert_eq!(stale.status(), StatusCode::OK);
}

/// Postgres + Redis only: it starts a second instance while the first runs and reads the sealed rows from Postgres (the embedded restart is in embedded.rs).
#[tokio::test]
async fn private_keys_are_sealed_at_rest_and_a_restart_with_the_same_kek_reuses_them() {
    let db = Arc::new(TestDb::new().await);
    let first = spawn_on(db.clone(), &[]).await;
    let kids_before: HashSet<String> = jwks(&first)
        .await
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();

    let pg = db.connect().await;
    let rows = pg
        .query("SELECT kid, alg, private_sealed FROM signing_keys", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    let kek = Kek::from_base64(&test_kek()).unwrap();
    for row in rows {
        let (kid, alg, sealed): (String, String, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
        let alg: SigningAlg = alg.parse().unwrap();
        // what is stored is not a key: neither DER nor PEM parses
        assert!(
            KeyMaterial::from_private_der(alg, &sealed).is_err(),
            "{kid} stored unsealed"
        );
        assert!(!String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"));
        // but it opens with the KEK to exactly the key the kid names
        let der = kek
            .open(
                tessera::crypto::Purpose::SigningKey,
                &sealed,
                kid.as_bytes(),
            )
            .unwrap();
        assert!(!sealed
            .windows(der.len().min(32))
            .any(|w| w == &der[..der.len().min(32)]));
        assert_eq!(
            KeyMaterial::from_private_der(alg, &der)
                .unwrap()
                .kid
                .as_str(),
            kid
        );
    }

    let second = spawn_on(db.clone(), &[]).await;
    let kids_after: HashSet<String> = jwks(&second)
        .await
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids_before, kids_after);
}

/// Postgres + Redis only: it starts a second instance while the first runs (the embedded case is in embedded.rs).
#[tokio::test]
async fn a_restart_with_a_different_kek_refuses_to_start() {
    let db = Arc::new(TestDb::new().await);
    let _first = spawn_on(db.clone(), &[]).await;
    let other_kek = base64_of(b"another kek, not the one used to seal the keys!!");

    let result = try_spawn_on(db.clone(), &[("kek", &other_kek)], Arc::new(SystemClock)).await;

    let error = result.err().expect("start-up must fail").to_string();
    assert!(
        error.contains("TESSERA_KEK does not open the stored signing keys"),
        "{error}"
    );
    let count: i64 = db
        .connect()
        .await
        .query_one("SELECT count(*) FROM signing_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 4, "no keys were added under the wrong KEK");
}

fn base64_of(seed: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(seed))
}

#[apply(backends)]
#[tokio::test]
async fn cli_keys_rotate_promotes_next_publishes_a_new_next_and_keeps_the_old_active_as_retiring(
    backend: Backend,
) {
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on(db.clone(), &[]).await;
    let before = app.admin_keys().await;

    let env = cli_env(&db);
    let out = run_cli(&["keys", "rotate"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.state.keyring.reload().await.unwrap();

    let after = app.admin_keys().await;
    let published: HashSet<String> = jwks(&app)
        .await
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    for alg in ["ES256", "RS256"] {
        let (old_active, old_next) = (
            kids_in_state(&before, alg, "active"),
            kids_in_state(&before, alg, "next"),
        );
        assert_eq!(
            kids_in_state(&after, alg, "active"),
            old_next,
            "{alg}: next became active"
        );
        assert_eq!(
            kids_in_state(&after, alg, "retiring"),
            old_active,
            "{alg}: old active is retiring"
        );
        let new_next = kids_in_state(&after, alg, "next");
        assert_eq!(new_next.len(), 1);
        assert!(
            !old_active.contains(&new_next[0]) && !old_next.contains(&new_next[0]),
            "{alg}: next is new"
        );
        for kid in old_active.iter().chain(&old_next).chain(&new_next) {
            assert!(published.contains(kid), "{alg}: {kid} must stay published");
        }
        let signer = app.state.keyring.signer(alg.parse().unwrap()).unwrap();
        assert_eq!(
            vec![signer.kid.to_string()],
            old_next,
            "{alg}: signs with the promoted key"
        );
    }
    assert_eq!(published.len(), 6);
}

#[apply(backends)]
#[tokio::test]
async fn cli_keys_rotate_of_one_algorithm_leaves_the_others_alone_and_refuses_unknown_ones(
    backend: Backend,
) {
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on(db.clone(), &[]).await;
    let before = app.admin_keys().await;
    let env = cli_env(&db);

    let refused = run_cli(&["keys", "rotate", "--alg", "HS256"], &env);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("allowed: ES256, RS256"));

    let listed = cli_json(&["keys", "rotate", "--alg", "ES256"], &env);
    let after = listed["keys"].as_array().unwrap();
    assert_eq!(
        kids_in_state(after, "RS256", "active"),
        kids_in_state(&before, "RS256", "active")
    );
    assert_eq!(
        kids_in_state(after, "ES256", "active"),
        kids_in_state(&before, "ES256", "next")
    );
}

#[apply(backends)]
#[tokio::test]
async fn every_supported_algorithm_gets_keys_and_an_independent_jose_library_parses_the_jwks(
    backend: Backend,
) {
    let app = spawn_with_all_algs(backend).await;
    assert_eq!(jwks(&app).await.len(), 8);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/jwks_check.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(format!("{}/.well-known/jwks.json", app.public))
        .output()
        .await
        .expect("python3 is needed for interop tests");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "joserfc rejected the JWKS (install test deps: python3 -m pip install -r tests/interop/requirements.txt)\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("8 keys ok"), "{stdout}");
}
