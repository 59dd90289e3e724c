//! book § Signing keys: importing a PEM private key as the next signing key.

use std::sync::Arc;

use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{
    backends, cli_env, cli_json, interop_python, run_cli, spawn_on, Backend, Fetch, TestDb,
};
use crate::keys::{jwks, kids_in_state};

fn pem(kind: &str) -> std::path::PathBuf {
    let pem = interop_python("make_pem.py", &[kind]);
    let path = std::env::temp_dir().join(format!("tessera-{kind}-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&path, pem).unwrap();
    path
}

#[apply(backends)]
#[tokio::test]
async fn cli_keys_import_makes_a_pem_key_the_next_key_which_signs_after_the_next_rotation(
    backend: Backend,
) {
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on(db.clone(), &[("signing_algs", "ES256,EdDSA,RS256")]).await;
    let env = cli_env(&db);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("TESSERA_SIGNING_ALGS", "ES256,EdDSA,RS256"));
    let before = app.admin_keys().await;

    let file = pem("p256");
    let listed = cli_json(&["keys", "import", file.to_str().unwrap()], &env);
    let after = listed["keys"].as_array().unwrap();
    let imported = kids_in_state(after, "ES256", "next");
    assert_ne!(imported, kids_in_state(&before, "ES256", "next"));
    assert_eq!(
        kids_in_state(after, "ES256", "active"),
        kids_in_state(&before, "ES256", "active")
    );
    let again = run_cli(&["keys", "import", file.to_str().unwrap()], &env);
    assert!(!again.status.success(), "the same key twice is refused");
    let _ = std::fs::remove_file(&file);

    // published at once on the running instance (it hears the change), signing after a rotation
    let started = std::time::Instant::now();
    while !jwks(&app)
        .await
        .iter()
        .any(|k| k["kid"] == imported[0].as_str())
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rotated = app
        .admin_call(reqwest::Method::POST, "/admin/keys/rotate")
        .json(&serde_json::json!({"alg": "ES256"}))
        .fetch()
        .await;
    let rotated: Value = rotated.json().await.unwrap();
    assert_eq!(rotated["rotated"][0]["active_kid"], imported[0].as_str());

    for (kind, alg) in [("ed25519", "EdDSA"), ("rsa2048", "RS256")] {
        let file = pem(kind);
        let out = run_cli(&["keys", "import", file.to_str().unwrap()], &env);
        let _ = std::fs::remove_file(&file);
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            kids_in_state(listed["keys"].as_array().unwrap(), alg, "next").len(),
            1
        );
    }
    for (kind, args) in [
        ("rsa1024", vec![]),
        ("p384", vec![]),
        ("p256", vec!["--alg", "PS256"]),
    ] {
        let file = pem(kind);
        let mut argv = vec!["keys", "import", file.to_str().unwrap()];
        argv.extend(args);
        let out = run_cli(&argv, &env);
        let _ = std::fs::remove_file(&file);
        assert!(!out.status.success(), "{kind} must be refused");
    }
    let garbage =
        std::env::temp_dir().join(format!("tessera-garbage-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = run_cli(&["keys", "import", garbage.to_str().unwrap()], &env);
    let _ = std::fs::remove_file(&garbage);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a PEM private key"));
}
