//! book § DPoP and PAR: a browser SPA built on oauth4webapi, in Chromium, signs in on the
//! hosted pages and holds DPoP-bound tokens: the code redeemed, userinfo called, the
//! refresh token rotated, each with a proof by a key WebCrypto will not export; the same
//! access token as a bearer token, and a refresh without a proof, are refused.

use serde_json::json;

use super::relying_parties::{browser_script, shots_dir, spawn_on_localhost_with};
use super::*;

#[apply(backends)]
#[tokio::test]
async fn an_spa_with_oauth4webapi_signs_in_refreshes_and_calls_userinfo_with_dpop(
    backend: Backend,
) {
    let spa_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spa = format!("http://127.0.0.1:{spa_port}");
    let (app, issuer) = spawn_on_localhost_with(backend, &[("cors_origins", spa.as_str())]).await;
    let (status, created) = app
        .admin_json(reqwest::Method::POST, "/admin/clients", Some(json!({
            "name": "DPoP SPA", "public": true, "first_party": true,
            "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "email"],
            "redirect_uris": [format!("{spa}/cb")], "dpop_bound_access_tokens": true,
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let client = created["client_id"].as_str().unwrap();
    app.user("spa@example.com").await;
    let shots = shots_dir(&format!("dpop-spa-{backend:?}"));
    let port = spa_port.to_string();
    let args = [
        "dpop_spa.mjs",
        &issuer,
        client,
        &port,
        "spa@example.com",
        STRONG_PASSWORD,
        &shots,
    ];
    let report = browser_script(&args, "node (the DPoP SPA)").await;
    let spa = &report["spa"];
    assert_eq!(spa["extractable"], false, "{report}");
    assert_eq!(spa["token_type"], "dpop", "{report}");
    assert_eq!(spa["email"], "spa@example.com", "{report}");
    assert_eq!(spa["bearer_status"], 401, "{report}");
    assert!(
        spa["bearer_challenge"]
            .as_str()
            .unwrap()
            .starts_with("DPoP"),
        "{report}"
    );
    assert_eq!(
        spa["refresh_without_proof"], "invalid_dpop_proof",
        "{report}"
    );
    assert_eq!(spa["refreshed_token_type"], "dpop", "{report}");
    assert_eq!(spa["new_access_token"], true, "{report}");
    assert_eq!(spa["email_after_refresh"], "spa@example.com", "{report}");
    assert_eq!(report["console"], json!([]), "{report}");
}
