//! SPEC S10, S12, issue 5: client and user administration, the audit trail and metrics.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_on, Fetch, TestApp, TestDb, ADMIN_TOKEN, STRONG_PASSWORD};

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> StatusCode {
    app.http
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await
        .status()
}

async fn create_service(app: &TestApp) -> (String, String) {
    let (status, body) = app.admin_json(Method::POST,
        "/admin/clients",
        Some(json!({"name": "billing", "grant_types": ["client_credentials"], "scopes": ["api.read"], "audiences": ["https://api.example.com"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn client_lifecycle_create_read_list_patch_and_bad_input() {
    let app = spawn_app().await;
    let (id, secret) = create_service(&app).await;
    assert_eq!(secret.len(), 43, "32 random bytes, base64url");
    assert_eq!(client_credentials(&app, &id, &secret).await, StatusCode::OK);

    let (status, one) = app
        .admin_json(Method::GET, &format!("/admin/clients/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["name"], "billing");
    assert!(one.get("client_secret").is_none(), "a secret is shown once");

    let (status, page) = app
        .admin_json(Method::GET, "/admin/clients?limit=1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["clients"].as_array().unwrap().len(), 1);
    let after = page["next_after"].as_str().unwrap().to_owned();
    let (_, rest) = app
        .admin_json(Method::GET, &format!("/admin/clients?after={after}"), None)
        .await;
    let mut ids: Vec<String> = std::iter::once(page["clients"][0]["client_id"].clone())
        .chain(
            rest["clients"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["client_id"].clone()),
        )
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(rest["next_after"].is_null());
    ids.sort();
    let mut expected = vec![id.clone(), "spa".to_owned()];
    expected.sort();
    assert_eq!(ids, expected);

    let (status, patched) = app
        .admin_json(
            Method::PATCH,
            &format!("/admin/clients/{id}"),
            Some(json!({"name": "billing v2", "scopes": ["api.read", "api.write"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "billing v2");
    assert_eq!(patched["grant_types"], json!(["client_credentials"]));

    for (body, status) in [
        (json!({"name": ""}), StatusCode::BAD_REQUEST),
        (json!({"grant_types": []}), StatusCode::BAD_REQUEST),
        (
            json!({"redirect_uris": ["not a url"]}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"colour": "red"}), StatusCode::BAD_REQUEST),
        (
            json!({"grant_types": ["implicit"]}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, text) = app
            .admin_json(
                Method::PATCH,
                &format!("/admin/clients/{id}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{body}: {text}");
    }
    let (_, unchanged) = app
        .admin_json(Method::GET, &format!("/admin/clients/{id}"), None)
        .await;
    assert_eq!(
        unchanged["name"], "billing v2",
        "refused patches changed nothing"
    );

    for path in [
        "/admin/clients/nope",
        "/admin/clients/bad%20id",
        "/admin/clients/nope/secret",
    ] {
        let method = if path.ends_with("secret") {
            Method::POST
        } else {
            Method::GET
        };
        let (status, _) = app.admin_json(method, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/admin/clients",
            Some(json!({"name": "x", "grant_types": ["client_credentials"], "public": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("public client"));
    let (status, _) = app
        .admin_json(Method::POST, "/admin/clients/spa/secret", None)
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a public client has no secret"
    );
    let (status, _) = app
        .admin_json(Method::GET, "/admin/clients?limit=0", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secret_rotation_makes_the_old_secret_401_and_the_new_200_on_every_instance_at_once() {
    let db = Arc::new(TestDb::new().await);
    // a long client cache: only the change notification can make B forget the old secret
    let overrides = [("client_cache_ttl", "300")];
    let a = spawn_on(db.clone(), &overrides).await;
    let b = spawn_on(db.clone(), &overrides).await;
    let (id, old) = create_service(&a).await;
    assert_eq!(
        client_credentials(&b, &id, &old).await,
        StatusCode::OK,
        "B has it cached now"
    );

    let (status, body) = a
        .admin_json(Method::POST, &format!("/admin/clients/{id}/secret"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let new = body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    assert_eq!(
        client_credentials(&a, &id, &old).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(client_credentials(&a, &id, &new).await, StatusCode::OK);
    let started = std::time::Instant::now();
    while client_credentials(&b, &id, &old).await != StatusCode::UNAUTHORIZED {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "B still accepts the old secret"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(client_credentials(&b, &id, &new).await, StatusCode::OK);
}

#[tokio::test]
async fn deleting_a_client_revokes_its_sessions_and_its_access_tokens_stop_introspecting() {
    let app = spawn_app().await;
    let (resource, secret) = create_service(&app).await;
    let (status, spa2) = app.admin_json(Method::POST,
        "/admin/clients",
        Some(json!({"name": "app 2", "grant_types": ["password", "refresh_token"], "public": true, "first_party": true, "scopes": ["openid"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let spa2 = spa2["client_id"].as_str().unwrap().to_owned();
    app.user("del@example.com").await;
    let login = |client: String| {
        let app = &app;
        async move {
            let response = app
                .token(&[
                    ("grant_type", "password"),
                    ("client_id", &client),
                    ("username", "del@example.com"),
                    ("password", STRONG_PASSWORD),
                ])
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let doomed = login(spa2.clone()).await;
    let kept = login("spa".to_owned()).await;

    let (status, body) = app
        .admin_json(Method::DELETE, &format!("/admin/clients/{spa2}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sessions_revoked"], 1);
    let introspector = (resource, Some(secret));
    let access = |v: &Value| v["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.introspect_as(&introspector, &access(&doomed)).await["active"],
        false
    );
    assert_eq!(
        app.introspect_as(&introspector, &access(&kept)).await["active"],
        true
    );
    let refresh = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &spa2),
            ("refresh_token", doomed["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(
        refresh.status(),
        StatusCode::UNAUTHORIZED,
        "the client is gone"
    );
    let (status, _) = app
        .admin_json(Method::DELETE, &format!("/admin/clients/{spa2}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_create_find_revoke_sessions_and_delete() {
    let app = spawn_app().await;
    let (status, user) = app.admin_json(Method::POST,
        "/admin/users",
        Some(json!({"email": " Ada@Example.COM ", "password": STRONG_PASSWORD, "name": "Ada", "email_verified": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["email"], "ada@example.com");
    assert!(user.get("password_hash").is_none());

    for (body, status, mentions) in [
        (
            json!({"email": "ada@example.com", "password": STRONG_PASSWORD}),
            StatusCode::CONFLICT,
            "exists",
        ),
        (
            json!({"email": "bob@example.com", "password": "short"}),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            json!({"email": "not-an-email", "password": STRONG_PASSWORD}),
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            json!({"email": "c@example.com", "password": STRONG_PASSWORD, "role": "admin"}),
            StatusCode::BAD_REQUEST,
            "role",
        ),
    ] {
        let (got, text) = app
            .admin_json(Method::POST, "/admin/users", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}");
        assert!(text.to_string().contains(mentions), "{text}");
    }

    let (status, found) = app
        .admin_json(Method::GET, "/admin/users?email=ADA%40example.com", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["users"][0]["id"], id.as_str());
    let (_, none) = app
        .admin_json(Method::GET, "/admin/users?email=nobody%40example.com", None)
        .await;
    assert_eq!(none["users"], json!([]));
    let (status, _) = app.admin_json(Method::GET, "/admin/users", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "email is required");

    let first = app
        .password_grant("ada@example.com", STRONG_PASSWORD, "openid")
        .await;
    let first: Value = first.json().await.unwrap();
    let (resource, secret) = create_service(&app).await;
    let introspector = (resource, Some(secret));
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect_as(&introspector, access).await["active"],
        true
    );

    let (status, body) = app
        .admin_json(
            Method::POST,
            &format!("/admin/users/{id}/revoke-sessions"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sessions_revoked"], 1);
    assert_eq!(
        app.introspect_as(&introspector, access).await["active"],
        false
    );
    let refreshed = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);

    let (status, _) = app
        .admin_json(Method::DELETE, &format!("/admin/users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let login = app
        .password_grant("ada@example.com", STRONG_PASSWORD, "openid")
        .await;
    assert_eq!(
        login.status(),
        StatusCode::BAD_REQUEST,
        "the account is gone"
    );
    for path in [
        format!("/admin/users/{id}"),
        "/admin/users/not-a-uuid".to_owned(),
    ] {
        let (status, _) = app.admin_json(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = app
        .admin_json(
            Method::POST,
            &format!("/admin/users/{id}/revoke-sessions"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn import_reports_each_bad_line_by_number_and_imports_the_rest() {
    let app = spawn_app().await;
    let bcrypt_hash = bcrypt::hash(STRONG_PASSWORD, 4).unwrap();
    let body = [
        json!({"email": "one@example.com", "password_hash": bcrypt_hash}).to_string(),
        "{not json".to_owned(),
        json!({"email": "two@example.com", "password_hash": "plaintext"}).to_string(),
        String::new(),
        json!({"email": "one@example.com", "password_hash": bcrypt_hash}).to_string(),
        json!({"email": "three@example.com", "password_hash": bcrypt_hash, "name": "Three"})
            .to_string(),
    ]
    .join("\n");
    let response = app
        .admin_call(Method::POST, "/admin/users/import")
        .header("content-type", "application/x-ndjson")
        .body(body)
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["imported"], 2, "{report}");
    let lines: Vec<u64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 5]);
    let login = app
        .password_grant("three@example.com", STRONG_PASSWORD, "openid")
        .await;
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "imported bcrypt users can log in"
    );

    let invalid = app
        .admin_call(Method::POST, "/admin/users/import")
        .body(vec![0xff, 0xfe, 0x00])
        .fetch()
        .await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_admin_call_and_login_is_in_the_audit_trail_with_filters_and_keyset_paging() {
    let app = spawn_app().await;
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

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_promised_series() {
    let app = spawn_app().await;
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
        text.contains("tessera_http_request_duration_seconds_bucket{"),
        "a histogram, not a summary"
    );
    // the admin token is not needed for metrics, and is not leaked by them
    assert!(!text.contains(ADMIN_TOKEN));
}

#[tokio::test]
async fn cli_equivalents_list_rotate_secrets_delete_clients_revoke_keys_and_end_sessions() {
    use crate::helpers::{cli_env, run_cli};
    let db = Arc::new(TestDb::new().await);
    let app = spawn_on(db.clone(), &[]).await;
    let env = cli_env(&db);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
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

    app.user("cli@example.com").await;
    let (_, found) = app
        .admin_json(Method::GET, "/admin/users?email=cli%40example.com", None)
        .await;
    let user = found["users"][0]["id"].as_str().unwrap().to_owned();
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
