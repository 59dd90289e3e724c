//! SPEC S11: the authorization-code flow with PKCE and the hosted pages, driven end to end
//! by a certified relying-party library (Authlib), and every refusal at request level:
//! open-redirect attempts, PKCE, CSRF, code reuse, the page's headers and its lockout.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tessera::clock::{Clock, FixedClock};

use crate::helpers::{backends, try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD};

const REDIRECT: &str = "https://app.example.com/cb";
const SIGNED_OUT: &str = "https://app.example.com/signed-out";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A client of the code flow with `REDIRECT` and a loopback URI; returns its id.
async fn code_client(app: &TestApp, first_party: bool) -> String {
    let new = tessera::domain::NewClient {
        name: "Example App".into(),
        public: true,
        first_party,
        grant_types: ["authorization_code", "refresh_token"]
            .iter()
            .map(|g| g.parse().unwrap())
            .collect(),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        audiences: vec![],
        redirect_uris: vec![REDIRECT.into(), "http://127.0.0.1/native".into()],
        post_logout_redirect_uris: vec![SIGNED_OUT.into()],
    };
    let operator = tessera::service::admin::Operator {
        actor: "test".into(),
        now: app.state.clock.now(),
    };
    let (client, _) = tessera::service::admin::create_client(&app.state.stores, new, &operator)
        .await
        .unwrap();
    client.id.to_string()
}

async fn spawn(backend: Backend) -> (TestApp, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(Arc::new(TestDb::on(backend).await), &[], clock.clone())
        .await
        .unwrap();
    (app, clock)
}

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
    let out = tokio::process::Command::new("python3")
        .args(&args)
        .output()
        .await
        .expect("python3 is needed for interop tests");
    assert!(
        out.status.success(),
        "the relying party failed: {}{}",
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

/// A browser: cookies kept, redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn authorize_url(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(existing, _)| existing != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// The value of the hidden input `name` on a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&#43;", "+")
        .replace("&#x2b;", "+")
}

fn location(response: &reqwest::Response) -> url::Url {
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap()
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Signs in on the page `page` answered; returns the response to the form post.
async fn submit_sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    page: reqwest::Response,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let html = page.text().await.unwrap();
    browser
        .post(app.url("/oauth2/authorize/signin"))
        .form(&[
            ("flow", hidden(&html, "flow").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("email", email),
            ("password", password),
        ])
        .fetch()
        .await
}

/// A code for `client` from a browser that signs in (or is signed in already).
async fn code_for(app: &TestApp, browser: &reqwest::Client, client: &str) -> String {
    let page = browser.get(authorize_url(app, client, &[])).fetch().await;
    let answer = if page.status() == StatusCode::OK {
        submit_sign_in(app, browser, page, "cy@example.com", STRONG_PASSWORD).await
    } else {
        page
    };
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let back = location(&answer);
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    query(&back, "code").unwrap()
}

async fn redeem(
    app: &TestApp,
    client: &str,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    app.token(&form).await
}

#[apply(backends)]
#[tokio::test]
async fn unknown_clients_and_unregistered_redirect_uris_get_an_error_page_never_a_redirect(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    let http = browser();
    let mut attempts: Vec<String> = vec![
        authorize_url(&app, "no-such-client", &[]),
        authorize_url(&app, "spa", &[]),
        authorize_url(&app, &client, &[("client_id", "")]),
    ];
    for uri in [
        "https://evil.example/cb",
        "https://app.example.com.evil.example/cb",
        "https://app.example.com/cb/../evil",
        "https://app.example.com/cb#fragment",
        "https://user@app.example.com/cb",
        "https://app.example.com@evil.example/cb",
        "https://app.example.com/cb?next=https://evil.example",
        "http://app.example.com/cb",
        "http://127.0.0.1:9999/other",
        "http://localhost:9999/native",
    ] {
        attempts.push(authorize_url(&app, &client, &[("redirect_uri", uri)]));
    }
    for attempt in attempts {
        let page = http.get(&attempt).fetch().await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{attempt}");
        assert!(page.headers().get("location").is_none(), "{attempt}");
        let kind = page.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/html"), "{kind}");
        assert!(page.text().await.unwrap().contains("Cannot continue"));
    }
    // a loopback redirect URI matches on any port (RFC 8252)
    app.user("cy@example.com").await;
    let native = http
        .get(authorize_url(
            &app,
            &client,
            &[("redirect_uri", "http://127.0.0.1:51234/native")],
        ))
        .fetch()
        .await;
    assert_eq!(native.status(), StatusCode::OK);
}

#[apply(backends)]
#[tokio::test]
async fn every_other_refusal_goes_back_to_the_client_with_state_and_iss(backend: Backend) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    let http = browser();
    for (extra, error) in [
        (
            vec![("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("prompt", "none")], "login_required"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("max_age", "soon")], "invalid_request"),
        (vec![("response_mode", "fragment")], "invalid_request"),
    ] {
        let answer = http.get(authorize_url(&app, &client, &extra)).fetch().await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{extra:?}");
        let back = location(&answer);
        assert_eq!(
            format!(
                "{}://{}{}",
                back.scheme(),
                back.host_str().unwrap(),
                back.path()
            ),
            REDIRECT
        );
        assert_eq!(query(&back, "error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(query(&back, "state").as_deref(), Some("st-123"));
        assert_eq!(
            query(&back, "iss").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert!(query(&back, "code").is_none());
    }
}

#[apply(backends)]
#[tokio::test]
async fn the_sign_in_page_is_framed_by_nothing_needs_no_inline_code_and_suits_password_managers(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    let http = browser();
    let page = http.get(authorize_url(&app, &client, &[])).fetch().await;
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["x-frame-options"], "DENY");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{csp}"
    );
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("tessera_csrf=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(
        cookie.contains("SameSite=Lax") && cookie.contains("Path=/oauth2"),
        "{cookie}"
    );
    let html = page.text().await.unwrap();
    for needed in [
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
        r#"<label for="email">"#,
        r#"id="email" name="email" type="email" autocomplete="username""#,
        r#"<label for="password">"#,
        r#"name="password" type="password" autocomplete="current-password""#,
        r#"type="hidden" name="csrf_token""#,
        r#"<button type="submit">"#,
    ] {
        assert!(html.contains(needed), "missing {needed} in {html}");
    }
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "no inline code or style"
    );
    let sheet = html.split("rel=\"stylesheet\" href=\"").nth(1).unwrap();
    let sheet = &sheet[..sheet.find('"').unwrap()];
    let css = http.get(app.url(sheet)).fetch().await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
}

#[apply(backends)]
#[tokio::test]
async fn a_form_without_this_browsers_csrf_token_is_refused(backend: Backend) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let (victim, attacker) = (browser(), browser());
    let page = attacker
        .get(authorize_url(&app, &client, &[]))
        .fetch()
        .await;
    let html = page.text().await.unwrap();
    let (flow, token) = (hidden(&html, "flow"), hidden(&html, "csrf_token"));
    for form in [
        vec![
            ("flow", flow.as_str()),
            ("email", "cy@example.com"),
            ("password", STRONG_PASSWORD),
        ],
        vec![
            ("flow", flow.as_str()),
            ("csrf_token", token.as_str()),
            ("email", "cy@example.com"),
            ("password", STRONG_PASSWORD),
        ],
    ] {
        // the victim's browser has no (or another) CSRF cookie: a cross-site post fails
        let _ = victim.get(authorize_url(&app, &client, &[])).fetch().await;
        let answer = victim
            .post(app.url("/oauth2/authorize/signin"))
            .form(&form)
            .fetch()
            .await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        assert!(answer
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("tessera_sso")));
    }
    // a tampered flow is refused too
    let answer = attacker
        .post(app.url("/oauth2/authorize/signin"))
        .form(&[
            ("flow", format!("{flow}x").as_str()),
            ("csrf_token", token.as_str()),
            ("email", "cy@example.com"),
            ("password", STRONG_PASSWORD),
        ])
        .fetch()
        .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
}

#[apply(backends)]
#[tokio::test]
async fn a_code_is_single_use_and_bound_to_its_verifier_and_a_replay_revokes_what_it_issued(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let http = browser();
    let resource = app.resource_server().await;

    let code = code_for(&app, &http, &client).await;
    let missing = redeem(&app, &client, &code, None).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let tokens: Value = redeem(&app, &client, &code, Some(VERIFIER))
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let id = crate::helpers::claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n-456");
    assert!(id["at_hash"].is_string() && id["sid"].is_string() && id["auth_time"].is_i64());
    assert_eq!(app.introspect_as(&resource, access).await["active"], true);

    let replay = redeem(&app, &client, &code, Some(VERIFIER)).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(
        app.introspect_as(&resource, access).await["active"],
        false,
        "revoked by the replay"
    );
    let refresh = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        refresh.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // the SSO session answers the next request without a form; a wrong verifier spends it
    let code = code_for(&app, &http, &client).await;
    let wrong = redeem(&app, &client, &code, Some(&format!("{VERIFIER}x"))).await;
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let right = redeem(&app, &client, &code, Some(VERIFIER)).await;
    assert_eq!(
        right.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "spent"
    );

    // another client cannot redeem it, and neither can anyone once it expired
    let other = code_client(&app, true).await;
    let code = code_for(&app, &http, &client).await;
    let foreign = redeem(&app, &other, &code, Some(VERIFIER)).await;
    assert_eq!(
        foreign.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

#[apply(backends)]
#[tokio::test]
async fn the_page_never_tells_an_unknown_email_from_a_wrong_password_and_locks_out(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let http = browser();
    let message = |html: &str| {
        let start = html.find("role=\"alert\"").unwrap();
        html[start..start + 80].to_owned()
    };
    let page = http.get(authorize_url(&app, &client, &[])).fetch().await;
    let unknown = submit_sign_in(
        &app,
        &http,
        page,
        "nobody@example.com",
        "Wrong-password-123",
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let unknown = message(&unknown.text().await.unwrap());
    let mut last = None;
    for _ in 0..6 {
        let page = http.get(authorize_url(&app, &client, &[])).fetch().await;
        let wrong = submit_sign_in(&app, &http, page, "cy@example.com", "Wrong-password-123").await;
        let status = wrong.status();
        let html = wrong.text().await.unwrap();
        if status == StatusCode::BAD_REQUEST {
            assert_eq!(message(&html), unknown, "the same words for both");
        }
        last = Some((status, html));
    }
    let (status, html) = last.unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("Too many attempts"), "{html}");
}

#[apply(backends)]
#[tokio::test]
async fn form_post_answers_with_a_form_that_submits_itself_under_its_script_hash(backend: Backend) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let http = browser();
    let page = http
        .get(authorize_url(
            &app,
            &client,
            &[("response_mode", "form_post")],
        ))
        .fetch()
        .await;
    let answer = submit_sign_in(&app, &http, page, "cy@example.com", STRONG_PASSWORD).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let csp = answer.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    let html = answer.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")), "{html}");
    let code = hidden(&html, "code");
    assert_eq!(hidden(&html, "state"), "st-123");
    let tokens = redeem(&app, &client, &code, Some(VERIFIER)).await;
    assert_eq!(tokens.status(), StatusCode::OK);
}

#[apply(backends)]
#[tokio::test]
async fn logout_ends_the_browser_sign_in_and_its_sessions_and_returns_only_to_a_registered_uri(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let http = browser();
    let resource = app.resource_server().await;
    let code = code_for(&app, &http, &client).await;
    let tokens: Value = redeem(&app, &client, &code, Some(VERIFIER))
        .await
        .json()
        .await
        .unwrap();
    let (id_token, access) = (
        tokens["id_token"].as_str().unwrap(),
        tokens["access_token"].as_str().unwrap(),
    );
    let logout = |extra: Vec<(&str, String)>| {
        let mut url = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
        url.query_pairs_mut().extend_pairs(extra);
        http.get(url.to_string()).fetch()
    };

    // refused before anything ends: a foreign return address, a forged hint
    let foreign = logout(vec![
        ("id_token_hint", id_token.to_owned()),
        ("post_logout_redirect_uri", "https://evil.example/".into()),
    ])
    .await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    assert!(foreign.headers().get("location").is_none());
    let mut forged = id_token.to_owned();
    forged.pop();
    let forged = logout(vec![
        ("id_token_hint", forged),
        ("post_logout_redirect_uri", SIGNED_OUT.into()),
    ])
    .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.introspect_as(&resource, access).await["active"],
        true,
        "nothing ended"
    );
    let still = http.get(authorize_url(&app, &client, &[])).fetch().await;
    assert_eq!(still.status(), StatusCode::SEE_OTHER, "still signed in");

    let out = logout(vec![
        ("id_token_hint", id_token.to_owned()),
        ("post_logout_redirect_uri", SIGNED_OUT.into()),
        ("state", "st-9".into()),
    ])
    .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out).as_str(), format!("{SIGNED_OUT}?state=st-9"));
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("tessera_sso=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );

    assert_eq!(app.introspect_as(&resource, access).await["active"], false);
    let refresh = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        refresh.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let again = http.get(authorize_url(&app, &client, &[])).fetch().await;
    assert_eq!(again.status(), StatusCode::OK, "the sign-in page again");

    let bare = http.get(app.url("/oauth2/logout")).fetch().await;
    assert_eq!(bare.status(), StatusCode::OK);
    assert!(bare.text().await.unwrap().contains("Signed out"));
}

#[apply(backends)]
#[tokio::test]
async fn browser_sign_ins_are_listed_with_the_sessions_and_ending_one_ends_its_sessions(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let http = browser();
    let code = code_for(&app, &http, &client).await;
    let tokens: Value = redeem(&app, &client, &code, Some(VERIFIER))
        .await
        .json()
        .await
        .unwrap();
    // a separate password login, to act through the account API
    let account = app.login("cy@example.com", "openid").await;
    let access = account["access_token"].as_str().unwrap();
    let listed: Value = app
        .http
        .get(app.url("/api/v1/me/sessions"))
        .bearer_auth(access)
        .fetch_json()
        .await;
    let sign_ins = listed["browser_sign_ins"].as_array().unwrap();
    assert_eq!(sign_ins.len(), 1, "{listed}");
    assert_eq!(sign_ins[0]["amr"], json!(["pwd"]));
    let id = sign_ins[0]["id"].as_str().unwrap();

    let ended = app
        .http
        .delete(app.url(&format!("/api/v1/me/sessions/{id}")))
        .bearer_auth(access)
        .fetch()
        .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    let refresh = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        refresh.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let again = http.get(authorize_url(&app, &client, &[])).fetch().await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "signed out: the sign-in page"
    );
    let listed: Value = app
        .http
        .get(app.url("/api/v1/me/sessions"))
        .bearer_auth(access)
        .fetch_json()
        .await;
    assert_eq!(listed["browser_sign_ins"], json!([]));
}
