//! RFC 9068, book § Endpoints, RFC 6749: the token endpoint, offline verification by an independent library,
//! userinfo, and the OAuth error contract.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, spawn_backend, Backend, Fetch, TestApp, STRONG_PASSWORD};

async fn verify_with_pyjwt(app: &TestApp, token: &str, audience: &str) -> Result<Value, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/verify_access_token.py"
    );
    let out = tokio::process::Command::new("python3")
        .args([
            script,
            &app.url("/.well-known/jwks.json"),
            token,
            "http://127.0.0.1:8080",
            audience,
            "ES256",
        ])
        .output()
        .await
        .expect("python3 is needed for interop tests");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        Ok(serde_json::from_str(&stdout).unwrap())
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

#[apply(backends)]
#[tokio::test]
async fn register_then_login_gives_an_access_token_that_pyjwt_verifies_offline_and_userinfo_returns_the_user(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    app.user("alice@example.com").await;

    let response = app
        .password_grant("alice@example.com", STRONG_PASSWORD, "openid email profile")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("tsr_"));
    let access = body["access_token"].as_str().unwrap();

    let claims = verify_with_pyjwt(&app, access, "http://127.0.0.1:8080")
        .await
        .unwrap();
    assert_eq!(claims["client_id"], "spa");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["sid"].is_string() && claims["auth_time"].is_i64());
    assert!(
        verify_with_pyjwt(&app, access, "https://someone-else.example")
            .await
            .is_err(),
        "wrong aud must fail"
    );

    let id_token = body["id_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(&base64_part(id_token, 0)).unwrap();
    assert_eq!(header["alg"], "RS256", "ID tokens default to RS256");
    let id_claims: Value = serde_json::from_slice(&base64_part(id_token, 1)).unwrap();
    assert_eq!(id_claims["aud"], "spa");
    assert_eq!(id_claims["email"], "alice@example.com");
    assert_eq!(id_claims["sid"], claims["sid"]);

    let info: Value = app
        .http
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(access)
        .fetch_json()
        .await;
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["name"], "Test User");
}

fn base64_part(token: &str, index: usize) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.split('.').nth(index).unwrap())
        .unwrap()
}

#[apply(backends)]
#[tokio::test]
async fn userinfo_refuses_bad_tokens_with_an_invalid_token_challenge(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let missing = app.http.get(app.url("/oauth2/userinfo")).fetch().await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"tessera\""
    );
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let response = app
            .http
            .get(app.url("/oauth2/userinfo"))
            .bearer_auth(token)
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""));
    }
}

#[apply(backends)]
#[tokio::test]
async fn client_credentials_works_with_basic_and_post_auth_and_refuses_wrong_secrets_and_public_clients(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    let (id, secret) = app.client(&["client_credentials"], false, false).await;
    let secret = secret.unwrap();

    let basic = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "api.read")])
        .fetch()
        .await;
    assert_eq!(basic.status(), StatusCode::OK);
    let body: Value = basic.json().await.unwrap();
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let claims = verify_with_pyjwt(
        &app,
        body["access_token"].as_str().unwrap(),
        "https://api.example.com",
    )
    .await
    .unwrap();
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["scope"], "api.read");

    let post = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(post.status(), StatusCode::OK);

    let wrong = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "not-the-secret"),
        ])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let unknown = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth("c_nobody", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    let public = app
        .token(&[("grant_type", "client_credentials"), ("client_id", "spa")])
        .await;
    assert_eq!(public.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        public.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );

    let userinfo = app
        .http
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .fetch()
        .await;
    assert_eq!(
        userinfo.status(),
        StatusCode::UNAUTHORIZED,
        "a client token has no user"
    );
}

#[apply(backends)]
#[tokio::test]
async fn password_grant_by_a_client_that_is_not_first_party_is_unauthorized_client(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    app.user("bob@example.com").await;
    let (id, secret) = app.client(&["password"], false, false).await;
    let response = app
        .token(&[
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &secret.unwrap()),
            ("username", "bob@example.com"),
            ("password", STRONG_PASSWORD),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
}

#[apply(backends)]
#[tokio::test]
async fn unknown_email_and_wrong_password_get_byte_identical_errors(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    app.user("carol@example.com").await;
    let wrong = app
        .password_grant("carol@example.com", "Wrong-password-but-long", "openid")
        .await;
    let unknown = app
        .password_grant("nobody@example.com", STRONG_PASSWORD, "openid")
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let (wrong, unknown) = (wrong.bytes().await.unwrap(), unknown.bytes().await.unwrap());
    assert_eq!(wrong, unknown);
    assert_eq!(
        serde_json::from_slice::<Value>(&wrong).unwrap()["error"],
        "invalid_grant"
    );

    let origin = [("origin", "http://127.0.0.1:8080")];
    let login = |email: &'static str, password: &'static str| {
        let mut request = app
            .http
            .post(app.url("/api/v1/session"))
            .json(&serde_json::json!({"email": email, "password": password}));
        for (k, v) in origin {
            request = request.header(k, v);
        }
        request.send()
    };
    let spa_wrong = login("carol@example.com", "Wrong-password-but-long")
        .await
        .unwrap();
    let spa_unknown = login("nobody@example.com", STRONG_PASSWORD).await.unwrap();
    assert_eq!(spa_wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        spa_wrong.bytes().await.unwrap(),
        spa_unknown.bytes().await.unwrap()
    );
}

#[apply(backends)]
#[tokio::test]
async fn refresh_grant_rotates_and_the_old_refresh_token_stops_working(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    app.user("dave@example.com").await;
    let first: Value = app
        .password_grant("dave@example.com", STRONG_PASSWORD, "openid email")
        .await
        .json()
        .await
        .unwrap();
    let old = first["refresh_token"].as_str().unwrap();

    let refreshed = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", old),
        ])
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let second: Value = refreshed.json().await.unwrap();
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(second["scope"], "email openid");
    let sid = |token: &Value| {
        serde_json::from_slice::<Value>(&base64_part(token["access_token"].as_str().unwrap(), 1))
            .unwrap()["sid"]
            .clone()
    };
    assert_eq!(sid(&first), sid(&second), "same session");

    let narrower = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", new),
            ("scope", "openid email profile"),
        ])
        .await;
    assert_eq!(
        narrower.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );

    let other_client = app.client(&["refresh_token"], false, true).await;
    let stolen = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &other_client.0),
            ("client_secret", other_client.1.as_deref().unwrap()),
            ("refresh_token", new),
        ])
        .await;
    assert_eq!(
        stolen.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "another client cannot use it"
    );

    let garbage = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", "tsr_nope"),
        ])
        .await;
    assert_eq!(
        garbage.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}
