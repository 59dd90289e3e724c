//! RFC 6749 §3.3 / OIDC Core §3.1.2.4: a remembered consent, and what revoking it ends.

use super::*;

/// Signs `cy@example.com` in at a third-party `client` in a new browser, allows the
/// consent if asked (a remembered one is not asked again), redeems the code.
async fn consented_tokens(app: &TestApp, client: &str) -> Value {
    let http = browser();
    let page = http.get(authorize_url(app, client, &[])).fetch().await;
    let mut answer = submit_sign_in(app, &http, page, "cy@example.com", STRONG_PASSWORD).await;
    if answer.status() == StatusCode::OK {
        let html = answer.text().await.unwrap();
        assert!(
            html.contains("name=\"decision\""),
            "the consent page: {html}"
        );
        answer = http
            .post(app.url("/oauth2/authorize/consent"))
            .form(&[
                ("flow", hidden(&html, "flow").as_str()),
                ("csrf_token", hidden(&html, "csrf_token").as_str()),
                ("decision", "allow"),
            ])
            .fetch()
            .await;
    }
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let code = query(&location(&answer), "code").unwrap();
    let tokens = redeem(app, client, &code, Some(VERIFIER)).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    tokens.json().await.unwrap()
}

/// Posts "Allow" on the consent page `html`.
async fn allow(app: &TestApp, http: &reqwest::Client, html: &str) -> reqwest::Response {
    http.post(app.url("/oauth2/authorize/consent"))
        .form(&[
            ("flow", hidden(html, "flow").as_str()),
            ("csrf_token", hidden(html, "csrf_token").as_str()),
            ("decision", "allow"),
        ])
        .fetch()
        .await
}

#[apply(backends)]
#[tokio::test]
async fn revoking_a_consent_ends_every_session_of_the_user_at_that_client(backend: Backend) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, false).await;
    app.user("cy@example.com").await;
    let reader = app.resource_server().await;
    let first = consented_tokens(&app, &client).await;
    let second = consented_tokens(&app, &client).await;
    let own = app.login("cy@example.com", "openid").await;
    let own_access = own["access_token"].as_str().unwrap();

    let revoked = app
        .http
        .delete(app.url(&format!("/api/v1/me/consents/{client}")))
        .bearer_auth(own_access)
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);

    for tokens in [&first, &second] {
        let refresh = app
            .token(&[
                ("grant_type", "refresh_token"),
                ("client_id", &client),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ])
            .await;
        assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);
        let body: Value = refresh.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
        let introspected = app
            .introspect_as(&reader, tokens["access_token"].as_str().unwrap())
            .await;
        assert_eq!(introspected["active"], false, "{introspected}");
    }
    // the verifiers hear of both sessions
    let feed: Value = app
        .http
        .get(app.url("/oauth2/revocations"))
        .basic_auth(&reader.0, reader.1.as_deref())
        .fetch_json()
        .await;
    for tokens in [&first, &second] {
        let sid = crate::helpers::claims(tokens["access_token"].as_str().unwrap())["sid"].clone();
        assert!(
            feed["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["type"] == "session" && e["sid"] == sid),
            "{feed}"
        );
    }
    // the user's session at another client is untouched
    let own_refresh = app.refresh(own["refresh_token"].as_str().unwrap()).await;
    assert_eq!(own_refresh.status(), StatusCode::OK);
}

#[apply(backends)]
#[tokio::test]
async fn the_consent_post_rechecks_max_age_against_the_session_it_uses(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let client = code_client(&app, false).await;
    app.user("cy@example.com").await;
    let http = browser();
    let page = http
        .get(authorize_url(&app, &client, &[("max_age", "60")]))
        .fetch()
        .await;
    let consent = submit_sign_in(&app, &http, page, "cy@example.com", STRONG_PASSWORD).await;
    assert_eq!(consent.status(), StatusCode::OK);
    let html = consent.text().await.unwrap();
    assert!(
        html.contains("name=\"decision\""),
        "the consent page: {html}"
    );

    // the page stays open past max_age: allowing now must not issue a code on that sign-in
    clock.advance(std::time::Duration::from_secs(120));
    let answer = allow(&app, &http, &html).await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "the sign-in page, not a code"
    );
    let again = answer.text().await.unwrap();
    assert!(again.contains("name=\"password\""), "{again}");
    assert_eq!(
        app.http
            .get(app.url("/api/v1/me/consents"))
            .bearer_auth(
                app.login("cy@example.com", "openid").await["access_token"]
                    .as_str()
                    .unwrap()
            )
            .fetch_json()
            .await["consents"],
        json!([]),
        "nothing was allowed"
    );
}

#[tokio::test]
async fn with_an_https_issuer_the_browser_cookies_carry_the_host_prefix() {
    let db = Arc::new(TestDb::on(Backend::Embedded).await);
    let app = try_spawn_on(
        db,
        &[("issuer", "https://auth.example.com")],
        Arc::new(FixedClock::starting_now()),
    )
    .await
    .unwrap();
    let client = code_client(&app, true).await;
    let page = browser()
        .get(authorize_url(&app, &client, &[]))
        .fetch()
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-tessera_csrf="), "{cookie}");
    assert!(
        cookie.contains("Path=/;") || cookie.ends_with("Path=/"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Secure") && !cookie.contains("Domain"),
        "{cookie}"
    );
}
