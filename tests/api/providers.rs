//! Upstream identity providers as operators manage them (book § Upstream providers): the
//! admin API and the CLI register, change, list and remove them on both stores; the client
//! secret is sealed under the KEK and never shown; and bad documents are refused with
//! what to change, leaving nothing written.

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::crypto::Purpose;

use crate::helpers::{
    backends, cli_env, cli_json, spawn_backend, Backend, Fetch, TempDir, TestApp,
};

const SECRET: &str = "corp-client-secret-7f3a";

fn corp() -> Value {
    json!({
        "id": "corp",
        "kind": "oidc",
        "name": "Corp SSO",
        "issuer": "https://idp.example.com",
        "client_id": "tessera",
        "client_secret": SECRET,
        "scopes": ["openid", "email", "profile"],
        "trust_email": true,
    })
}

/// GitHub's shape: no ID token, endpoints given, emails apart, a numeric `id`.
fn github() -> Value {
    json!({
        "id": "github",
        "kind": "oauth2",
        "name": "GitHub",
        "authorization_endpoint": "https://github.com/login/oauth/authorize",
        "token_endpoint": "https://github.com/login/oauth/access_token",
        "userinfo_endpoint": "https://api.github.com/user",
        "emails_endpoint": "https://api.github.com/user/emails",
        "client_id": "Iv1.0123456789abcdef",
        "client_secret": "github-secret",
        "scopes": ["read:user", "user:email"],
        "claims": {"subject": "id", "email": "email", "email_verified": "verified", "name": "name"},
    })
}

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.admin_json(method, path, body).await
}

#[apply(backends)]
#[tokio::test]
async fn providers_are_registered_changed_listed_and_removed_and_the_secret_never_shown(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    let (status, created) = admin(&app, Method::POST, "/admin/providers", Some(corp())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["client_secret_set"], true);
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["enabled"], true, "enabled unless said otherwise");
    assert_eq!(
        created["claims"],
        json!({"subject": "sub", "email": "email", "email_verified": "email_verified", "name": "name"})
    );
    let (status, _) = admin(&app, Method::POST, "/admin/providers", Some(corp())).await;
    assert_eq!(status, StatusCode::CONFLICT, "an id is one provider");
    let (status, body) = admin(&app, Method::POST, "/admin/providers", Some(github())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["claims"]["subject"], "id");

    // stored sealed under the KEK, bound to the id
    let stored = app
        .state
        .stores
        .providers
        .find_provider(&tessera::domain::ProviderId::parse("corp").unwrap())
        .await
        .unwrap()
        .unwrap();
    let sealed = stored.client_secret_sealed.unwrap();
    assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    let opened = app
        .state
        .settings
        .kek
        .open(Purpose::ProviderSecret, &sealed, b"corp")
        .unwrap();
    assert_eq!(opened, SECRET.as_bytes());
    assert!(app
        .state
        .settings
        .kek
        .open(Purpose::ProviderSecret, &sealed, b"github")
        .is_err());

    let listed = app
        .admin_get("/admin/providers")
        .fetch()
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(SECRET) && !listed.contains("github-secret"));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let ids: Vec<&str> = listed["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["corp", "github"]);

    // a change is checked whole: a bad one changes nothing
    let (status, body) = admin(
        &app,
        Method::PATCH,
        "/admin/providers/corp",
        Some(json!({"issuer": "http://idp.example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = admin(
        &app,
        Method::PATCH,
        "/admin/providers/corp",
        Some(json!({"id": "other"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, changed) = admin(
        &app,
        Method::PATCH,
        "/admin/providers/corp",
        Some(json!({"enabled": false, "client_secret": null, "name": "Corp"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (
            &changed["enabled"],
            &changed["client_secret_set"],
            &changed["name"]
        ),
        (&json!(false), &json!(false), &json!("Corp"))
    );
    let (_, got) = admin(&app, Method::GET, "/admin/providers/corp", None).await;
    assert_eq!(got["issuer"], "https://idp.example.com");
    assert_eq!(
        got["trust_email"], true,
        "what the change did not name stays"
    );

    let (status, _) = admin(&app, Method::DELETE, "/admin/providers/github", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE, Method::PATCH] {
        let body = (method == Method::PATCH).then(|| json!({"name": "x"}));
        let (status, _) = admin(&app, method.clone(), "/admin/providers/github", body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
    }
    let (_, trail) = admin(
        &app,
        Method::GET,
        "/admin/audit?type=provider_created",
        None,
    )
    .await;
    assert_eq!(trail["events"].as_array().unwrap().len(), 2, "{trail}");
}

#[tokio::test]
async fn bad_provider_documents_are_refused_with_what_to_change() {
    let app = spawn_backend(Backend::Embedded, &[]).await;
    let with = |change: Value| {
        let mut document = corp();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                document.as_object_mut().unwrap().remove(k);
            } else {
                document[k] = v.clone();
            }
        }
        document
    };
    let oauth2 = |change: Value| {
        let mut document = github();
        for (k, v) in change.as_object().unwrap() {
            document.as_object_mut().unwrap().remove(k);
            if !v.is_null() {
                document[k] = v.clone();
            }
        }
        document
    };
    for (document, says) in [
        (
            with(json!({"id": "Corp"})),
            "a provider id is 1 to 32 of a-z, 0-9 and -",
        ),
        (with(json!({"id": "a".repeat(33)})), "a provider id is"),
        (with(json!({"id": null})), "a provider id is"),
        (with(json!({"colour": "blue"})), "unknown field `colour`"),
        (with(json!({"kind": "saml"})), "unknown variant `saml`"),
        (
            with(json!({"issuer": null})),
            "issuer is required for this kind",
        ),
        (
            with(json!({"issuer": "http://idp.example.com"})),
            "http only for loopback",
        ),
        (
            with(json!({"issuer": "https://idp.example.com/#x"})),
            "without a fragment",
        ),
        (
            with(json!({"token_endpoint": "https://idp.example.com/token"})),
            "give only issuer",
        ),
        (
            with(json!({"name": " "})),
            "name must be 1 to 100 characters",
        ),
        (with(json!({"client_id": ""})), "client_id must be"),
        (
            with(json!({"client_secret": 42})),
            "client_secret must be a string",
        ),
        (
            with(json!({"client_secret": ""})),
            "client_secret must be 1 to",
        ),
        (with(json!({"scopes": ["openid email"]})), "scopes: at most"),
        (
            oauth2(json!({"token_endpoint": null})),
            "token_endpoint is required",
        ),
        (
            oauth2(json!({"issuer": "https://github.com"})),
            "has no issuer",
        ),
        (
            oauth2(json!({"claims": {"subject": ""}})),
            "claims: each name",
        ),
    ] {
        let (status, body) = admin(
            &app,
            Method::POST,
            "/admin/providers",
            Some(document.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{document}: {body}");
        let described = body["error_description"].as_str().unwrap();
        assert!(described.contains(says), "{document}: {described}");
    }
    let (_, listed) = admin(&app, Method::GET, "/admin/providers", None).await;
    assert_eq!(listed["providers"], json!([]), "nothing written");
    // loopback http is for local and test set-ups
    let local = with(json!({"issuer": "http://127.0.0.1:9000"}));
    let (status, body) = admin(&app, Method::POST, "/admin/providers", Some(local)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_cli_adds_lists_and_removes_providers() {
    let app = spawn_backend(Backend::Embedded, &[]).await;
    let env = cli_env(&app.db);
    let dir = TempDir::new();
    let file = dir.0.join("github.json");
    std::fs::write(&file, github().to_string()).unwrap();
    let added = cli_json(&["providers", "add", file.to_str().unwrap()], &env);
    assert_eq!(added["id"], "github");
    assert_eq!(added["client_secret_set"], true);
    assert!(!added.to_string().contains("github-secret"));
    let listed = cli_json(&["providers", "list"], &env);
    assert_eq!(listed["providers"][0]["name"], "GitHub");
    let (_, seen) = admin(&app, Method::GET, "/admin/providers/github", None).await;
    assert_eq!(
        seen["kind"], "oauth2",
        "the service sees what the CLI wrote"
    );
    let deleted = cli_json(&["providers", "delete", "github"], &env);
    assert_eq!(deleted["deleted"], "github");
    let listed = cli_json(&["providers", "list"], &env);
    assert_eq!(listed["providers"], json!([]));
}
