//! book § Endpoints: the audit trail of admin calls and logins, Prometheus metrics, and the CLI equivalents of the admin API.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};

use crate::admin_api::{client_credentials, create_service};
use crate::helpers::{
    backends, spawn_backend, spawn_on, Backend, Fetch, TestDb, ADMIN_TOKEN, STRONG_PASSWORD,
};

#[apply(backends)]
#[tokio::test]
async fn every_admin_call_and_login_is_in_the_audit_trail_with_filters_and_keyset_paging(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    app.user("audit@example.com").await;
    let ok = app
        .password_grant("audit@example.com", STRONG_PASSWORD, "openid")
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let bad = app
        .password_grant("audit@example.com", "wrong-password-123456", "openid")
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let unknown = app
        .password_grant("ghost@example.com", "wrong-password-123456", "openid")
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let denied = app
        .http
        .get(format!("{}/admin/keys", app.admin))
        .bearer_auth("x".repeat(40))
        .fetch()
        .await;
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    app.admin_json(Method::GET, "/admin/keys", None).await;
    app.admin_json(Method::POST, "/admin/keys/rotate", None)
        .await;
    app.admin_json(Method::GET, "/admin/clients/nope", None)
        .await;

    let (status, page) = app
        .admin_json(Method::GET, "/admin/audit?type=admin_request", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let calls: Vec<(String, String, String)> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "ops", "the token's label");
            (
                e["detail"]["method"].as_str().unwrap().to_owned(),
                e["detail"]["path"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |m: &str, p: &str, o: &str| (m.to_owned(), p.to_owned(), o.to_owned());
    assert!(
        calls.contains(&expect("GET", "/admin/keys", "ok")),
        "{calls:?}"
    );
    assert!(calls.contains(&expect("POST", "/admin/keys/rotate", "ok")));
    assert!(calls.contains(&expect("GET", "/admin/clients/nope", "refused")));
    let (_, rotated) = app
        .admin_json(Method::GET, "/admin/audit?type=key_rotated", None)
        .await;
    assert_eq!(rotated["events"][0]["actor"], "ops");
    let (_, failed_auth) = app
        .admin_json(Method::GET, "/admin/audit?type=admin_auth_failed", None)
        .await;
    assert_eq!(failed_auth["events"][0]["outcome"], "denied");

    let (_, logins) = app
        .admin_json(Method::GET, "/admin/audit?type=login_failed", None)
        .await;
    let reasons: Vec<&str> = logins["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["unknown_user", "wrong_password"]);
    let user = logins["events"][1]["user_id"].as_str().unwrap().to_owned();
    let (_, mine) = app
        .admin_json(Method::GET, &format!("/admin/audit?user={user}"), None)
        .await;
    let types: Vec<&str> = mine["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // newest first; self-registration is audited like an operator's creation (issue 13)
    assert_eq!(types, ["login_failed", "login_succeeded", "user_created"]);
    assert_eq!(mine["events"][2]["actor"], "self-registration");
    let text = serde_json::to_string(&mine).unwrap();
    assert!(!text.contains(STRONG_PASSWORD) && !text.contains("wrong-password-123456"));

    // keyset paging walks the whole trail once, newest first
    let (_, all) = app
        .admin_json(Method::GET, "/admin/audit?limit=1000", None)
        .await;
    let all_ids: Vec<i64> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let mut paged = Vec::new();
    let mut path = "/admin/audit?limit=2".to_owned();
    loop {
        let (_, page) = app.admin_json(Method::GET, &path, None).await;
        paged.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next_before"].as_i64() {
            Some(before) => path = format!("/admin/audit?limit=2&before={before}"),
            None => break,
        }
        if paged.len() > all_ids.len() + 4 {
            panic!("paging does not end");
        }
    }
    // the paging calls themselves were audited after `all` was read
    assert_eq!(&paged[paged.len() - all_ids.len()..], &all_ids[..]);

    let (_, future) = app
        .admin_json(Method::GET, "/admin/audit?since=2999-01-01T00:00:00Z", None)
        .await;
    assert_eq!(future["events"], json!([]));
    for bad in [
        "user=nope",
        "since=yesterday",
        "type=DROP%20TABLE",
        "limit=5000",
        "colour=red",
    ] {
        let (status, body) = app
            .admin_json(Method::GET, &format!("/admin/audit?{bad}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[apply(backends)]
#[tokio::test]
async fn metrics_are_prometheus_text_with_the_promised_series(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    app.user("metrics@example.com").await;
    app.password_grant("metrics@example.com", STRONG_PASSWORD, "openid")
        .await;
    app.password_grant("metrics@example.com", "wrong-password-123456", "openid")
        .await;
    app.http
        .get(app.url("/.well-known/jwks.json"))
        .fetch()
        .await;

    let response = app.http.get(format!("{}/metrics", app.admin)).fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/parse_prometheus.py"
    );
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for interop tests");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{text}");
    let families: Value = serde_json::from_str(&stdout).unwrap();
    for family in [
        "tessera_http_request_duration_seconds",
        "tessera_tokens_issued",
        "tessera_login_failures",
        "tessera_sign_ins",
        "tessera_hash_queue_depth",
        "tessera_signing_key_age_seconds",
        "tessera_keyring_version",
    ] {
        assert!(
            families.get(family).is_some(),
            "{family} missing from\n{text}"
        );
    }
    assert!(text.contains(r#"route="/.well-known/jwks.json""#), "{text}");
    assert!(
        text.contains(r#"tessera_tokens_issued_total{grant="password"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tessera_login_failures_total{reason="wrong_password"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tessera_sign_ins_total{method="password"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("tessera_http_request_duration_seconds_bucket{"),
        "a histogram, not a summary"
    );
    // the admin token is not needed for metrics, and is not leaked by them
    assert!(!text.contains(ADMIN_TOKEN));
}

#[apply(backends)]
#[tokio::test]
async fn cli_equivalents_list_rotate_secrets_delete_clients_revoke_keys_and_end_sessions(
    backend: Backend,
) {
    use crate::helpers::{cli_env, run_cli};
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on(db.clone(), &[]).await;
    let env = cli_env(&db);
    let run = |args: &[&str]| {
        let out = run_cli(args, &env);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let (id, old) = create_service(&app).await;

    let listed = run(&["clients", "list"]);
    assert!(listed["clients"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["client_id"] == id.as_str()));
    let rotated = run(&["clients", "rotate-secret", &id]);
    let new = rotated["client_secret"].as_str().unwrap().to_owned();
    // the CLI announced the change: the app's cached copy is dropped
    let started = std::time::Instant::now();
    while client_credentials(&app, &id, &old).await != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(client_credentials(&app, &id, &new).await, StatusCode::OK);

    // the client_credentials grant, run by the CLI: the running app accepts its token
    let issued = run(&["clients", "token", &id, "--scope", "api.read"]);
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["scope"], "api.read");
    assert!(issued.get("refresh_token").is_none() && issued.get("id_token").is_none());
    let token = issued["access_token"].as_str().unwrap();
    let seen = app
        .introspect_as(&(id.clone(), Some(new.clone())), token)
        .await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["client_id"], id.as_str());
    assert_eq!(seen["sub"], id.as_str());
    let (_, audit) = app
        .admin_json(Method::GET, "/admin/audit?type=token_issued", None)
        .await;
    assert_eq!(audit["events"][0]["actor"], "cli", "{audit}");
    // the grant's own rules hold: a scope the client may not have, a public client
    let wider = run_cli(&["clients", "token", &id, "--scope", "admin"], &env);
    assert!(!wider.status.success());
    assert!(String::from_utf8_lossy(&wider.stderr).contains("scope"));
    let public = run_cli(&["clients", "token", "spa"], &env);
    assert!(!public.status.success());

    app.user("cli@example.com").await;
    let user = app.user_id("cli@example.com").await;
    app.password_grant("cli@example.com", STRONG_PASSWORD, "openid")
        .await;
    let ended = run(&["users", "revoke-sessions", &user]);
    assert_eq!(ended["sessions_revoked"], 1);

    let keys = run(&["keys", "list"]);
    let active = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "ES256" && k["state"] == "active")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = run(&["keys", "revoke", &active]);
    assert!(after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["kid"] != active.as_str()));
    let unknown = run_cli(&["keys", "revoke", "no-such-kid"], &env);
    assert!(!unknown.status.success());

    run(&["clients", "delete", &id]);
    let started = std::time::Instant::now();
    while client_credentials(&app, &id, &new).await != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (_, audit) = app
        .admin_json(Method::GET, "/admin/audit?type=client_deleted", None)
        .await;
    assert_eq!(audit["events"][0]["actor"], "cli");
}
