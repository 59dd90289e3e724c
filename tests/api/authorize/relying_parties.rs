//! Certified relying parties complete the flow: Authlib over HTTP, openid-client in Chromium.

use super::*;

/// Runs the Authlib relying party against `public` (off the async runtime: it blocks).
async fn relying_party(
    public: &str,
    client_id: &str,
    email: &str,
    totp: Option<(&str, &FixedClock)>,
) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/authcode_flow.py"
    );
    let mut args = vec![
        script.to_owned(),
        public.to_owned(),
        client_id.to_owned(),
        REDIRECT.to_owned(),
        email.to_owned(),
        STRONG_PASSWORD.to_owned(),
    ];
    if let Some((secret, clock)) = totp {
        args.push(secret.to_owned());
        args.push(clock.now().unix_timestamp().to_string());
    }
    let mut python = tokio::process::Command::new("python3");
    report_of(python.args(&args), "python3 (the Authlib relying party)").await
}

/// Runs `node ARGS…` in `tests/browser` (a browser script: ARGS starts with its file)
/// with Chromium; its JSON report.
pub(super) async fn browser_script(args: &[&str], what: &str) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists()
            && std::path::Path::new(dir).join("node_modules/openid-client").exists(),
        "the browser tests need Debian's chromium and tests/browser/node_modules: \
         `bash scripts/test` installs both (apt-get install chromium; npm ci --prefix tests/browser)"
    );
    let mut node = tokio::process::Command::new("node");
    node.current_dir(dir).args(args).env("CHROMIUM", chromium);
    report_of(&mut node, what).await
}

/// Where a browser test saves its screenshots: `target/browser-pages/<name>`.
pub(super) fn shots_dir(name: &str) -> String {
    format!(
        "{}/browser-pages/{name}",
        env!("CARGO_TARGET_TMPDIR").trim_end_matches("/tmp")
    )
}

/// Runs a relying-party script; its JSON report (the script's output when it failed).
async fn report_of(command: &mut tokio::process::Command, what: &str) -> Value {
    let out = command
        .output()
        .await
        .unwrap_or_else(|e| panic!("{what} could not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[apply(backends)]
#[tokio::test]
async fn authlib_completes_the_flow_then_sso_skips_the_form_and_prompt_login_asks_again(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("ana@example.com").await;
    let discovery = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        discovery["response_modes_supported"],
        json!(["query", "form_post"])
    );

    let report = relying_party(&app.public, &client, "ana@example.com", None).await;
    assert_eq!(report["pages"], json!(["signin"]), "{report}");
    assert_eq!(report["first"]["amr"], json!(["pwd"]));
    assert_eq!(report["first"]["email"], "ana@example.com");
    assert_eq!(report["refreshed"], true);
    assert_eq!(report["sso_skipped_the_form"], true, "{report}");
    assert_eq!(report["prompt_login_asks_again"], true);
}

#[apply(backends)]
#[tokio::test]
async fn a_third_party_client_gets_the_totp_step_and_consent_once(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let client = code_client(&app, false).await;
    app.user("bo@example.com").await;
    let secret = app.enrol_totp("bo@example.com", &clock).await;
    // the enrolment used this time step's code: the sign-in needs the next one
    clock.advance(std::time::Duration::from_secs(30));
    let report = relying_party(
        &app.public,
        &client,
        "bo@example.com",
        Some((&secret, &clock)),
    )
    .await;
    assert_eq!(
        report["pages"],
        json!(["signin", "mfa", "consent"]),
        "{report}"
    );
    assert_eq!(report["first"]["amr"], json!(["pwd", "otp"]));
    // the consent is remembered: the SSO authorization asked nothing
    assert_eq!(report["sso_skipped_the_form"], true, "{report}");

    // the user sees it in the account API and can take it back
    clock.advance(std::time::Duration::from_secs(30));
    let challenge: Value = app
        .password_grant("bo@example.com", STRONG_PASSWORD, "openid")
        .await
        .json()
        .await
        .unwrap();
    let signed_in: Value = app
        .token(&[
            ("grant_type", "urn:tessera:grant-type:mfa-otp"),
            ("client_id", "spa"),
            ("mfa_token", challenge["mfa_token"].as_str().unwrap()),
            ("otp", &crate::helpers::pyotp_code(&secret, &clock)),
        ])
        .await
        .json()
        .await
        .unwrap();
    let access = signed_in["access_token"].as_str().unwrap();
    let listed: Value = app
        .http
        .get(app.url("/api/v1/me/consents"))
        .bearer_auth(access)
        .fetch_json()
        .await;
    assert_eq!(listed["consents"][0]["client_id"], client.as_str());
    assert_eq!(listed["consents"][0]["scopes"], json!(["email", "openid"]));
    let revoke = |status: StatusCode| {
        let request = app
            .http
            .delete(app.url(&format!("/api/v1/me/consents/{client}")))
            .bearer_auth(access);
        async move { assert_eq!(request.fetch().await.status(), status) }
    };
    revoke(StatusCode::NO_CONTENT).await;
    revoke(StatusCode::NOT_FOUND).await;
    let listed: Value = app
        .http
        .get(app.url("/api/v1/me/consents"))
        .bearer_auth(access)
        .fetch_json()
        .await;
    assert_eq!(listed["consents"], json!([]));
}

/// Runs `tests/browser/flow.mjs`: headless Chromium (JavaScript off) with openid-client as
/// the relying party. Its screenshots go to `target/browser-pages/<backend>/`.
async fn in_chromium(
    app: &TestApp,
    client_id: &str,
    back_at: &str,
    email: &str,
    code: &str,
    shots: &str,
) -> Value {
    let args = ["flow.mjs", &app.public, client_id, back_at, email];
    let args = [&args[..], &[STRONG_PASSWORD, code, shots]].concat();
    browser_script(&args, "node (the browser flow)").await
}

/// The relying party's pages, where the browser lands after the flow: a server on a port of
/// its own that answers every request; returns its origin.
pub(super) async fn the_app() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = socket.read(&mut request).await;
                let body = "<!doctype html><title>App</title><p>back at the app</p>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    origin
}

/// A third-party client of the code flow whose URIs are on `origin`; returns its id.
async fn client_at(app: &TestApp, origin: &str) -> String {
    let (status, body) = app
        .admin_json(
            reqwest::Method::POST,
            "/admin/clients",
            Some(json!({
                "name": "Example App",
                "public": true,
                "first_party": false,
                "grant_types": ["authorization_code", "refresh_token"],
                "scopes": ["openid", "email"],
                "redirect_uris": [format!("{origin}/cb")],
                "post_logout_redirect_uris": [format!("{origin}/signed-out")],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["client_id"].as_str().unwrap().to_owned()
}

#[apply(backends)]
#[tokio::test]
async fn openid_client_in_chromium_signs_in_with_totp_and_consent_then_sso_prompt_none_refresh_and_logout(
    backend: Backend,
) {
    // half a minute behind: the TOTP enrolment uses one time step, the sign-in the next
    let clock = Arc::new(FixedClock::new(
        tessera::clock::SystemClock.now() - std::time::Duration::from_secs(30),
    ));
    let app = try_spawn_on(Arc::new(TestDb::on(backend).await), &[], clock.clone())
        .await
        .unwrap();
    let back_at = the_app().await;
    let client = client_at(&app, &back_at).await;
    app.user("dee@example.com").await;
    let secret = app.enrol_totp("dee@example.com", &clock).await;
    clock.advance(std::time::Duration::from_secs(30));
    let code = crate::helpers::pyotp_code(&secret, &clock);
    let shots = shots_dir(&format!("{backend:?}"));

    let report = in_chromium(&app, &client, &back_at, "dee@example.com", &code, &shots).await;
    assert_eq!(
        report["pages"],
        json!([
            "error",
            "signin",
            "signin-refused",
            "mfa",
            "consent",
            "signed-out"
        ]),
        "{report}"
    );
    assert_eq!(report["console"], json!([]), "CSP or page errors: {report}");
    assert_eq!(
        report["wrong_password_says"],
        "The email or password is not right."
    );
    assert_eq!(report["first"]["amr"], json!(["pwd", "otp"]), "{report}");
    assert_eq!(report["first"]["email"], "dee@example.com");
    for key in ["has_sid", "has_at_hash", "has_refresh_token"] {
        assert_eq!(report["first"][key], true, "{key}: {report}");
    }
    assert_eq!(report["sso_skipped_the_form"], true, "{report}");
    assert_eq!(report["same_auth_time"], true, "{report}");
    assert_eq!(report["new_sid"], true, "{report}");
    assert_eq!(report["prompt_none_with_session"], true);
    assert_eq!(report["prompt_none_without_session"], "login_required");
    assert_eq!(report["prompt_none_state_echoed"], true);
    assert_eq!(report["refreshed"], true);
    assert_eq!(report["logout_returned"], true, "{report}");
    assert_eq!(report["prompt_none_after_logout"], "login_required");
    assert_eq!(report["refresh_after_logout"], "invalid_grant");
}

/// An app whose issuer is its own address on `localhost` (WebAuthn refuses IP addresses,
/// and the browser's origin must be the issuer's): a free port is found first, then the
/// app is started on it; a port taken in between is another try, never a failure.
pub(super) async fn spawn_on_localhost(backend: Backend) -> (TestApp, String) {
    spawn_on_localhost_with(backend, &[]).await
}

/// The same, with `overrides` of the settings.
pub(super) async fn spawn_on_localhost_with(
    backend: Backend,
    overrides: &[(&str, &str)],
) -> (TestApp, String) {
    let db = Arc::new(TestDb::on(backend).await);
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let issuer = format!("http://localhost:{port}");
        let addr = format!("127.0.0.1:{port}");
        let mut settings = vec![("issuer", issuer.as_str()), ("public_addr", addr.as_str())];
        settings.extend_from_slice(overrides);
        let clock = Arc::new(tessera::clock::SystemClock);
        if let Ok(app) = try_spawn_on(db.clone(), &settings, clock).await {
            return (app, issuer);
        }
    }
    panic!("no free port on loopback for the app after five tries");
}

/// book § Passkeys: in Chromium with a virtual authenticator, a passkey added from the
/// account API signs the user in to openid-client with nothing else typed, by the sign-in
/// page's button and by autofill (a conditional request), and stands in for the TOTP code
/// after the password.
#[apply(backends)]
#[tokio::test]
async fn a_passkey_from_the_account_api_signs_in_to_openid_client_in_chromium(backend: Backend) {
    let (app, issuer) = spawn_on_localhost(backend).await;
    let back_at = the_app().await;
    let client = client_at(&app, &back_at).await;
    // a user with TOTP, signed in with the next time step's code (the app runs on the
    // system clock; enrolment used this step's)
    let email = "pia@example.com";
    app.user(email).await;
    let clock = tessera::clock::FixedClock::starting_now();
    let secret = app.enrol_totp(email, &clock).await;
    clock.advance(std::time::Duration::from_secs(30));
    let first = app
        .password_grant(email, STRONG_PASSWORD, "openid email")
        .await;
    let first: Value = first.json().await.unwrap();
    let mfa_token = first["mfa_token"].as_str().unwrap();
    let tokens: Value = app
        .mfa_otp(mfa_token, &crate::helpers::pyotp_code(&secret, &clock))
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let shots = shots_dir(&format!("passkey-{backend:?}"));
    let args = [
        "passkey.mjs",
        &issuer,
        &client,
        &back_at,
        access,
        &shots,
        email,
    ];
    let report = browser_script(
        &[&args[..], &[STRONG_PASSWORD]].concat(),
        "node (the passkey flow)",
    )
    .await;

    assert_eq!(report["registered"]["body"]["name"], "Chromium", "{report}");
    assert_eq!(
        report["resident_credentials"], 1,
        "a discoverable credential: {report}"
    );
    assert_eq!(
        report["email_autocomplete"], "username webauthn",
        "{report}"
    );
    assert_eq!(
        report["cancelled_says"],
        "The passkey request was cancelled or timed out. Try again, or sign in with your password.",
        "{report}"
    );
    assert_eq!(report["password_form_remains"], true, "{report}");
    assert_eq!(report["signed_in"]["email"], "pia@example.com", "{report}");
    assert_eq!(
        report["signed_in"]["amr"],
        json!(["hwk", "mfa"]),
        "{report}"
    );
    assert_eq!(report["code_field_remains"], true, "{report}");
    assert_eq!(
        report["refused_second_says"],
        "That passkey was not accepted. Try again, or enter a code from your authenticator app.",
        "{report}"
    );
    assert_eq!(
        report["second_factor_signed_in"]["amr"],
        json!(["pwd", "hwk", "mfa"]),
        "{report}"
    );
    assert_eq!(
        report["console"],
        json!([]),
        "no script error, no CSP violation: {report}"
    );
}
