//! book § Endpoints: security headers on every response, no server banner, request ids, JSON
//! errors without internals, CORS.

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, spawn_backend, Backend, Fetch};

const HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
];

fn assert_hardened(response: &reqwest::Response, what: &str) {
    for (name, value) in HEADERS {
        assert_eq!(
            response.headers().get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{what}: {name}"
        );
    }
    assert!(
        response.headers().get("server").is_none(),
        "{what}: Server header leaked"
    );
    assert!(response.headers().get("x-powered-by").is_none(), "{what}");
    assert!(
        response.headers().get("x-request-id").is_some(),
        "{what}: no X-Request-Id"
    );
}

#[apply(backends)]
#[tokio::test]
async fn security_headers_are_on_a_200_a_404_a_405_and_an_error_on_both_listeners(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    let ok = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.public))
        .fetch()
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_hardened(&ok, "200");

    let missing = app
        .http
        .get(format!("{}/no/such/path", app.public))
        .fetch()
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_hardened(&missing, "404");

    let wrong_method = app
        .http
        .post(format!("{}/.well-known/jwks.json", app.public))
        .fetch()
        .await;
    assert!(wrong_method.status().is_client_error());
    assert_hardened(&wrong_method, "wrong method");

    let unauthorized = app
        .http
        .get(format!("{}/admin/keys", app.admin))
        .fetch()
        .await;
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_hardened(&unauthorized, "401 on admin");
}

#[apply(backends)]
#[tokio::test]
async fn hsts_is_sent_only_when_the_issuer_is_https(backend: Backend) {
    let plain = spawn_backend(backend, &[]).await;
    let response = plain
        .http
        .get(format!("{}/healthz", plain.public))
        .fetch()
        .await;
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_none());

    let tls =
        crate::helpers::spawn_backend(backend, &[("issuer", "https://auth.example.com")]).await;
    let response = tls
        .http
        .get(format!("{}/healthz", tls.public))
        .fetch()
        .await;
    assert!(response.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
}

#[apply(backends)]
#[tokio::test]
async fn error_bodies_are_json_with_a_code_and_no_internal_detail(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::DELETE, "/healthz"),
        (Method::GET, "/.well-known/nope"),
    ] {
        let response = app
            .http
            .request(method.clone(), format!("{}{path}", app.public))
            .fetch()
            .await;
        assert!(response.status().is_client_error(), "{method} {path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{method} {path}"
        );
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].is_string() && body["error_description"].is_string(),
            "{body}"
        );
        let text = body.to_string().to_lowercase();
        for leak in ["actix", "panicked", "serde", "rust", "postgres", "redis"] {
            assert!(!text.contains(leak), "{leak} leaked in {body}");
        }
    }
}

#[apply(backends)]
#[tokio::test]
async fn every_response_carries_a_request_id_and_a_plain_inbound_one_is_kept(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let url = format!("{}/healthz", app.public);
    let a = app.http.get(&url).fetch().await;
    let b = app.http.get(&url).fetch().await;
    assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"]);

    let kept = app
        .http
        .get(&url)
        .header("x-request-id", "trace-0123456789")
        .fetch()
        .await;
    assert_eq!(kept.headers()["x-request-id"], "trace-0123456789");

    let hostile = app
        .http
        .get(&url)
        .header("x-request-id", "evil\" injected=1 {}")
        .fetch()
        .await;
    assert_ne!(hostile.headers()["x-request-id"], "evil\" injected=1 {}");
}

#[apply(backends)]
#[tokio::test]
async fn public_documents_are_readable_from_any_origin_without_credentials(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/openapi.json",
    ] {
        let response = app
            .http
            .get(format!("{}{path}", app.public))
            .header("origin", "https://anywhere.example")
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "{path}"
        );
        assert!(
            response
                .headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "{path}"
        );
    }
}

#[apply(backends)]
#[tokio::test]
async fn json_endpoints_answer_415_413_and_400_naming_the_field_and_oversized_headers_431(
    backend: Backend,
) {
    let app = crate::helpers::spawn_backend(backend, &[]).await;
    let origin = "http://127.0.0.1:8080";
    let endpoints = [
        (app.url("/api/v1/accounts"), false),
        (app.url("/api/v1/session"), false),
        (format!("{}/admin/clients", app.admin), true),
    ];
    for (url, admin) in &endpoints {
        let request = |body: String, content_type: &str| {
            let mut request = app
                .http
                .post(url)
                .header("origin", origin)
                .header("content-type", content_type)
                .body(body);
            if *admin {
                request = request.bearer_auth(crate::helpers::ADMIN_TOKEN);
            }
            request
        };
        let wrong_type = request("{}".into(), "text/plain").fetch().await;
        assert_eq!(
            wrong_type.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{url}"
        );
        let body: serde_json::Value = wrong_type.json().await.unwrap();
        assert_eq!(body["error"], "unsupported_media_type");

        let big = format!("{{\"email\":\"{}\"}}", "a".repeat(17 * 1024));
        let too_big = request(big, "application/json").fetch().await;
        assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE, "{url}");

        let unknown = request(r#"{"is_admin":true}"#.into(), "application/json")
            .fetch()
            .await;
        assert_eq!(unknown.status(), StatusCode::BAD_REQUEST, "{url}");
        let body: serde_json::Value = unknown.json().await.unwrap();
        assert_eq!(body["fields"][0]["field"], "is_admin", "{url}: {body}");
    }
    let header = |size: usize| {
        app.http
            .get(app.url("/healthz"))
            .header("x-padding", "p".repeat(size))
            .send()
    };
    assert_eq!(header(4 * 1024).await.unwrap().status(), StatusCode::OK);
    let refused = header(20 * 1024).await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "headers_too_large");
}
