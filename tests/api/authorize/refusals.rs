//! Refusals at request level: open redirects, PKCE, CSRF, code reuse, headers, lockout.

use super::*;

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
    let (app, client, http) = signed_up(backend).await;
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
    let (app, client, http) = signed_up(backend).await;
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
    // the same headers as every other 429
    let page = http.get(authorize_url(&app, &client, &[])).fetch().await;
    let again = submit_sign_in(&app, &http, page, "cy@example.com", "Wrong-password-123").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    for name in [
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(
            again.headers().contains_key(name),
            "{name}: {:?}",
            again.headers()
        );
    }
    assert_eq!(again.headers()["ratelimit-remaining"], "0");
}

#[apply(backends)]
#[tokio::test]
async fn a_code_whose_request_named_its_redirect_uri_needs_the_same_one_at_the_token_endpoint(
    backend: Backend,
) {
    let (app, client, http) = signed_up(backend).await;

    // RFC 6749 §4.1.3: the authorization request carried redirect_uri, so must this one
    let code = code_for(&app, &http, &client).await;
    let without = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(without.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        without.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    let code = code_for(&app, &http, &client).await;
    let other = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://127.0.0.1/native"),
        ])
        .await;
    assert_eq!(
        other.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    let code = code_for(&app, &http, &client).await;
    let same = redeem(&app, &client, &code, Some(VERIFIER)).await;
    assert_eq!(same.status(), StatusCode::OK);
}

#[apply(backends)]
#[tokio::test]
async fn a_wrong_code_on_the_second_factor_page_asks_again_and_does_not_end_the_sign_in(
    backend: Backend,
) {
    let (app, clock) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let secret = app.enrol_totp("cy@example.com", &clock).await;
    clock.advance(std::time::Duration::from_secs(30));
    let http = browser();
    let page = http.get(authorize_url(&app, &client, &[])).fetch().await;
    let mfa = submit_sign_in(&app, &http, page, "cy@example.com", STRONG_PASSWORD).await;
    let html = mfa.text().await.unwrap();
    let post = |html: String, code: String| {
        let http = http.clone();
        let url = app.url("/oauth2/authorize/mfa");
        async move {
            http.post(url)
                .form(&[
                    ("flow", hidden(&html, "flow")),
                    ("csrf_token", hidden(&html, "csrf_token")),
                    ("mfa_token", hidden(&html, "mfa_token")),
                    ("code", code),
                ])
                .fetch()
                .await
        }
    };
    let right = crate::helpers::pyotp_code(&secret, &clock);
    // a code of none of the three steps the server accepts (now, and one either side)
    let at = |offset: i64| {
        let step = FixedClock::new(clock.now() + time::Duration::seconds(offset));
        crate::helpers::pyotp_code(&secret, &step)
    };
    let accepted = [at(-30), right.clone(), at(30)];
    let wrong = (1..)
        .map(|n| format!("{:06}", (right.parse::<u32>().unwrap() + n) % 1_000_000))
        .find(|c| !accepted.contains(c))
        .unwrap();
    let again = post(html, wrong).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let again = again.text().await.unwrap();
    assert!(again.contains("That code is not right"), "{again}");
    let done = post(again, right).await;
    assert_eq!(
        done.status(),
        StatusCode::SEE_OTHER,
        "the same sign-in goes on"
    );
    assert!(query(&location(&done), "code").is_some());
}
