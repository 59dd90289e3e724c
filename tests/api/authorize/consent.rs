//! SPEC S11: a remembered consent, and what revoking it ends.

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
