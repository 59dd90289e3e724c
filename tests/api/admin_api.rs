//! book § Endpoints, issue 5: client and user administration, the audit trail and metrics.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};

use crate::helpers::{
    backends, spawn_backend, spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD,
};

pub(crate) async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> StatusCode {
    app.http
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await
        .status()
}

pub(crate) async fn create_service(app: &TestApp) -> (String, String) {
    app.admin_client(json!({"name": "billing", "grant_types": ["client_credentials"], "scopes": ["api.read"], "audiences": ["https://api.example.com"]}))
        .await
}

#[apply(backends)]
#[tokio::test]
async fn client_lifecycle_create_read_list_patch_and_bad_input(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
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

/// Postgres + Redis only: it runs two instances on one store.
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

#[apply(backends)]
#[tokio::test]
async fn deleting_a_client_revokes_its_sessions_and_its_access_tokens_stop_introspecting(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
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
