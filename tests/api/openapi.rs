//! book § Layout, issue 12: one OpenAPI document per listener, committed, matching the code, and
//! served by the listener it describes.

use serde_json::Value;

use crate::helpers::{spawn_app, Fetch};

#[test]
fn committed_openapi_documents_match_the_code() {
    for (file, generated, command) in [
        (
            "openapi.json",
            tessera::http::openapi::document(),
            "cargo run -q -- openapi > openapi/openapi.json",
        ),
        (
            "admin.json",
            tessera::http::openapi::admin_document(),
            "cargo run -q -- openapi --admin > openapi/admin.json",
        ),
    ] {
        let committed =
            std::fs::read_to_string(format!("{}/openapi/{file}", env!("CARGO_MANIFEST_DIR")))
                .unwrap_or_default();
        assert!(
            committed == generated,
            "openapi/{file} is stale: run `{command}` and commit it"
        );
    }
}

async fn document(base: &str, app: &crate::helpers::TestApp) -> Value {
    app.http
        .get(format!("{base}/openapi.json"))
        .fetch_json()
        .await
}

#[tokio::test]
async fn each_listener_serves_the_document_of_what_it_serves() {
    let app = spawn_app().await;
    let public = document(&app.public, &app).await;
    let paths = public["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/readyz",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/openapi.json",
        "/oauth2/token",
    ] {
        assert!(paths.contains_key(path), "{path} undocumented");
    }
    // nothing the public listener answers 404 for
    for path in paths.keys() {
        assert!(
            !path.starts_with("/admin") && path != "/metrics",
            "{path} is not served on the public listener"
        );
    }
    // every JSON body can be too large, of the wrong type, and every endpoint that asks a
    // backend can find it down: documented, not left to a surprise
    let register = &public["paths"]["/api/v1/accounts"]["post"]["responses"];
    for status in ["400", "409", "413", "415", "429", "503"] {
        assert!(register.get(status).is_some(), "register lacks {status}");
    }

    let admin = document(&app.admin, &app).await;
    let admin_paths = admin["paths"].as_object().unwrap();
    assert!(admin_paths.contains_key("/admin/keys") && admin_paths.contains_key("/metrics"));
    assert!(!admin_paths.contains_key("/oauth2/token"));
    assert_eq!(
        admin["paths"]["/admin/keys"]["get"]["security"][0]["admin_token"],
        serde_json::json!([])
    );
}

/// Every served document is valid OpenAPI 3.1 (openapi-spec-validator, from
/// PyPI: every `$ref` resolves, operation ids are unique, parameters are where they say),
/// so client generators work on it.
#[tokio::test]
async fn both_served_documents_pass_openapi_spec_validator() {
    let app = spawn_app().await;
    let dir = std::env::temp_dir().join(format!("tessera-openapi-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (name, base) in [("public.json", &app.public), ("admin.json", &app.admin)] {
        let served = document(base, &app).await;
        let file = dir.join(name);
        std::fs::write(&file, serde_json::to_vec(&served).unwrap()).unwrap();
        files.push(file);
    }
    let out = tokio::process::Command::new("python3")
        .arg("-m")
        .arg("openapi_spec_validator")
        .args(&files)
        .output()
        .await
        .expect("python3 is needed: bash scripts/test installs tests/interop/requirements.txt");
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches(": OK").count(), 2, "{text}");
}
