//! book § Endpoints: the admin API for users: create, find, revoke sessions, delete, and bulk import.

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};

use crate::admin_api::create_service;
use crate::helpers::{backends, spawn_backend, Backend, Fetch, STRONG_PASSWORD};

#[apply(backends)]
#[tokio::test]
async fn users_create_find_revoke_sessions_and_delete(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
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

    let body = app.revoke_user_sessions(&id.to_string()).await;
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

#[apply(backends)]
#[tokio::test]
async fn import_reports_each_bad_line_by_number_and_imports_the_rest(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
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
