//! form_post, logout, and browser sign-ins among the account's sessions.

use super::*;

#[apply(backends)]
#[tokio::test]
async fn form_post_answers_with_a_form_that_submits_itself_under_its_script_hash(backend: Backend) {
    let (app, client, http) = signed_up(backend).await;
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
    let (app, client, http) = signed_up(backend).await;
    let resource = app.resource_server().await;
    let tokens = tokens_for(&app, &http, &client).await;
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
    let (app, client, http) = signed_up(backend).await;
    let tokens = tokens_for(&app, &http, &client).await;
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

#[apply(backends)]
#[tokio::test]
async fn a_logout_nothing_vouches_for_ends_nothing_until_the_user_confirms_it(backend: Backend) {
    let (app, client, http) = signed_up(backend).await;
    let resource = app.resource_server().await;
    let tokens = tokens_for(&app, &http, &client).await;
    let access = tokens["access_token"].as_str().unwrap();
    let mut url = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", client.as_str()),
        ("post_logout_redirect_uri", SIGNED_OUT),
        ("state", "st-7"),
    ]);

    // a cross-site link: a page asks, nothing ends
    let asked = http.get(url.to_string()).fetch().await;
    assert_eq!(asked.status(), StatusCode::OK);
    // the confirmed form ends in a redirect to the client, which form-action must allow
    let csp = asked.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    let html = asked.text().await.unwrap();
    assert!(
        html.contains("Sign out?") && html.contains("cy@example.com"),
        "{html}"
    );
    assert_eq!(app.introspect_as(&resource, access).await["active"], true);
    let still = http.get(authorize_url(&app, &client, &[])).fetch().await;
    assert_eq!(still.status(), StatusCode::SEE_OTHER, "still signed in");

    // a cross-site form post (no CSRF token of this browser's) is asked about too
    let forged = http
        .post(app.url("/oauth2/logout"))
        .form(&[("client_id", client.as_str()), ("confirm", "yes")])
        .fetch()
        .await;
    assert_eq!(forged.status(), StatusCode::OK);
    assert!(forged.text().await.unwrap().contains("Sign out?"));
    assert_eq!(app.introspect_as(&resource, access).await["active"], true);

    // the user confirms on tessera's page
    let confirmed = http
        .post(app.url("/oauth2/logout"))
        .form(&[
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("confirm", "yes"),
            ("client_id", hidden(&html, "client_id").as_str()),
            (
                "post_logout_redirect_uri",
                hidden(&html, "post_logout_redirect_uri").as_str(),
            ),
            ("state", hidden(&html, "state").as_str()),
        ])
        .fetch()
        .await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&confirmed).as_str(),
        format!("{SIGNED_OUT}?state=st-7")
    );
    assert_eq!(app.introspect_as(&resource, access).await["active"], false);
}

#[apply(backends)]
#[tokio::test]
async fn an_id_token_hint_for_another_user_is_not_answered_from_this_browsers_session(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    app.user("dee@example.com").await;
    // dee signs in in one browser; cy in another, which asks silently with dee's hint
    let other = browser();
    let page = other.get(authorize_url(&app, &client, &[])).fetch().await;
    let back = submit_sign_in(&app, &other, page, "dee@example.com", STRONG_PASSWORD).await;
    let code = query(&location(&back), "code").unwrap();
    let dee = redeeming(&app, &client, &code).await;
    let http = browser();
    let cy = tokens_for(&app, &http, &client).await;

    let hint = |tokens: &Value| tokens["id_token"].as_str().unwrap().to_owned();
    let silent = |id_token: String| {
        let url = authorize_url(
            &app,
            &client,
            &[("prompt", "none"), ("id_token_hint", id_token.as_str())],
        );
        http.get(url).fetch()
    };
    let answered = silent(hint(&dee)).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        query(&location(&answered), "error").as_deref(),
        Some("login_required"),
        "cy's session must not answer for dee"
    );
    let own = silent(hint(&cy)).await;
    assert!(
        query(&location(&own), "code").is_some(),
        "the hinted user's own session answers"
    );
}
