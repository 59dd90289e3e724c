//! book § DPoP and PAR: a client with the `fapi2` profile (FAPI 2.0 Security Profile,
//! without mTLS) completes PAR + `private_key_jwt` + DPoP, gets tokens signed with ES256,
//! and is refused whatever the profile forbids, with no other flag set.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::helpers::dpop::{keyed_dpop_token, ClientKey};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn header_alg(jwt: &str) -> String {
    let header = URL_SAFE_NO_PAD
        .decode(jwt.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice::<Value>(&header).unwrap()["alg"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_fapi2_client_signs_in_through_par_with_private_key_jwt_and_dpop() {
    let (app, _) = spawn(Backend::Postgres).await;
    app.user("cy@example.com").await;
    let key = ClientKey::es256();
    let (status, created) = app
        .admin_json(reqwest::Method::POST, "/admin/clients", Some(json!({
            "name": "bank", "first_party": true,
            "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "email"],
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
            "jwks": key.jwks("bank-1"), "profile": "fapi2",
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let client = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(created["profile"], "fapi2");
    let browser = browser();

    // the profile alone requires PAR
    let answer = browser.get(authorize_url(&app, &client, &[])).fetch().await;
    assert_eq!(
        query(&location(&answer), "error").as_deref(),
        Some("invalid_request")
    );

    let dpop = ClientKey::ed25519();
    let url = url::Url::parse(&authorize_url(&app, &client, &[])).unwrap();
    let mut form: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form.push(("client_assertion_type".into(), JWT_BEARER.into()));
    form.push(("client_assertion".into(), key.assertion(&client, "bank-1")));
    let pushed = app
        .http
        .post(app.url("/oauth2/par"))
        .header("DPoP", dpop.proof("POST", "/oauth2/par", None))
        .form(&form)
        .fetch()
        .await;
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let uri = pushed.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &client)
        .append_pair("request_uri", &uri);
    let page = browser.get(url.as_str()).fetch().await;
    let answer = submit_sign_in(&app, &browser, page, "cy@example.com", STRONG_PASSWORD).await;
    let back = location(&answer);
    assert!(
        query(&back, "iss").is_some(),
        "RFC 9207 iss in the response"
    );
    let code = query(&back, "code").unwrap();

    let redeem = |proof: Option<String>, form: Vec<(&'static str, String)>| {
        let mut form = form;
        form.push(("client_assertion_type", JWT_BEARER.into()));
        form.push(("client_assertion", key.assertion(&client, "bank-1")));
        let mut request = app.http.post(app.url("/oauth2/token")).form(&form);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.fetch()
    };
    let answer = redeem(
        Some(dpop.proof("POST", "/oauth2/token", None)),
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", VERIFIER.into()),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let tokens: Value = answer.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(header_alg(access), "ES256");
    assert_eq!(header_alg(tokens["id_token"].as_str().unwrap()), "ES256");
    assert_eq!(crate::helpers::claims(access)["cnf"]["jkt"], dpop.jkt());

    // every token request of the client needs a proof, a refresh too
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let answer = redeem(
        None,
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh.clone()),
        ],
    )
    .await;
    assert_eq!(
        answer.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let answer = redeem(
        Some(dpop.proof("POST", "/oauth2/token", None)),
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_fapi2_profile_refuses_what_it_forbids() {
    let (app, _) = spawn(Backend::Embedded).await;
    let key = ClientKey::es256();
    for (case, body, says) in [
        (
            "a secret",
            json!({ "grant_types": ["authorization_code"] }),
            "private_key_jwt",
        ),
        (
            "the password grant",
            json!({ "grant_types": ["authorization_code", "password"], "token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks("k") }),
            "password",
        ),
    ] {
        let mut full = json!({ "name": "bank", "profile": "fapi2", "redirect_uris": [REDIRECT] });
        full.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let (status, answer) = app
            .admin_json(reqwest::Method::POST, "/admin/clients", Some(full))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        assert!(
            answer["error_description"].as_str().unwrap().contains(says),
            "{case}: {answer}"
        );
    }
    // an RS256-only key ring cannot sign for a fapi2 client
    let rs_only = try_spawn_on(
        Arc::new(TestDb::on(Backend::Embedded).await),
        &[("signing_algs", "RS256"), ("signing_alg", "RS256")],
        Arc::new(FixedClock::starting_now()),
    )
    .await
    .unwrap();
    let (status, created) = rs_only
        .admin_json(
            reqwest::Method::POST,
            "/admin/clients",
            Some(json!({
                "name": "bank", "grant_types": ["client_credentials"], "profile": "fapi2",
                "token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks("k"),
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let client = created["client_id"].as_str().unwrap();
    let dpop = ClientKey::es256();
    let answer = keyed_dpop_token(&rs_only, &key, client, "k", &dpop).await;
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client", "{body}");
}

#[apply(backends)]
#[tokio::test]
async fn openid_client_completes_par_dpop_and_private_key_jwt_as_a_fapi2_client(backend: Backend) {
    let (app, issuer) = super::relying_parties::spawn_on_localhost_with(backend, &[]).await;
    let back_at = super::relying_parties::the_app().await;
    let key = ClientKey::es256();
    let (status, created) = app
        .admin_json(
            reqwest::Method::POST,
            "/admin/clients",
            Some(json!({
                "name": "Bank", "first_party": true,
                "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "email"],
                "redirect_uris": [format!("{back_at}/cb")], "token_endpoint_auth_method": "private_key_jwt",
                "jwks": key.jwks("bank-1"), "profile": "fapi2",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let client = created["client_id"].as_str().unwrap();
    app.user("fay@example.com").await;
    let mut private = key.private.clone();
    private.set_key_id("bank-1");
    let shots = super::relying_parties::shots_dir(&format!("fapi2-{backend:?}"));
    let private = private.to_string();
    let args = [
        "fapi2.mjs",
        &issuer,
        client,
        &private,
        &back_at,
        "fay@example.com",
    ];
    let args = [&args[..], &[STRONG_PASSWORD, &shots]].concat();
    let report = super::relying_parties::browser_script(&args, "node (the FAPI 2.0 client)").await;
    assert_eq!(report["pushed"], true, "{report}");
    assert_eq!(
        report["front_channel"],
        json!(["client_id", "request_uri"]),
        "{report}"
    );
    assert_eq!(report["token_type"], "dpop", "{report}");
    assert_eq!(report["email"], "fay@example.com", "{report}");
    assert_eq!(report["access_token_alg"], "ES256", "{report}");
    assert_eq!(report["id_token_alg"], "ES256", "{report}");
    assert_eq!(report["userinfo_email"], "fay@example.com", "{report}");
    assert_eq!(report["refreshed_token_type"], "dpop", "{report}");
    assert_eq!(
        report["introspected"],
        json!({ "active": true, "token_type": "DPoP", "has_jkt": true }),
        "{report}"
    );
}
