//! book § Email: with verification required, the hosted sign-in page refuses a right
//! password for an unverified address with a sentence and a "Send the link again" button,
//! whose post (with the page's CSRF token) sends a new link and says so, and the sign-in
//! goes through once the link is followed.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tessera::clock::FixedClock;

use super::{authorize_url, browser, code_client, hidden, submit_sign_in};
use crate::helpers::{try_spawn_on, Backend, Fetch, TestDb, Webhook, STRONG_PASSWORD};

#[tokio::test]
async fn the_sign_in_page_offers_a_new_link_to_an_unverified_address_and_lets_it_in_after() {
    let hook = Webhook::start(Duration::ZERO).await;
    let settings = [
        ("notify_webhook_url", hook.url.as_str()),
        ("email_verification", "required"),
    ];
    let db = Arc::new(TestDb::on(Backend::Embedded).await);
    let app = try_spawn_on(db, &settings, Arc::new(FixedClock::starting_now()))
        .await
        .unwrap();
    let client = code_client(&app, true).await;
    app.user("una@example.com").await;
    let browser = browser();

    let page = browser.get(authorize_url(&app, &client, &[])).fetch().await;
    let refused = submit_sign_in(&app, &browser, page, "una@example.com", STRONG_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Confirm your email address first"), "{html}");
    assert!(
        html.contains("action=\"/oauth2/authorize/resend\""),
        "{html}"
    );
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/browser-pages");
    std::fs::create_dir_all(shots).unwrap();
    std::fs::write(format!("{shots}/signin-email-not-verified.html"), &html).unwrap();

    // the resend form, as the page sends it
    let resend = |html: String| {
        let browser = browser.clone();
        let url = app.url("/oauth2/authorize/resend");
        async move {
            browser
                .post(url)
                .form(&[
                    ("flow", hidden(&html, "flow").as_str()),
                    ("csrf_token", hidden(&html, "csrf_token").as_str()),
                    ("email", hidden(&html, "email").as_str()),
                ])
                .fetch()
                .await
        }
    };
    let sent = resend(html.clone()).await;
    assert_eq!(sent.status(), StatusCode::OK);
    let page = sent.text().await.unwrap();
    assert!(page.contains("a new link is on its way"), "{page}");
    assert!(
        page.contains("class=\"error news\" role=\"status\""),
        "news, not a refusal"
    );
    let bodies = hook.wait_for(2).await;
    let links: Vec<&str> = bodies
        .iter()
        .filter(|b| b["event"] == "email_verification")
        .map(|b| b["link"].as_str().unwrap())
        .collect();
    assert_eq!(links.len(), 2, "the registration's link and the new one");

    // without this browser's CSRF token, nothing is sent
    let forged = reqwest::Client::new()
        .post(app.url("/oauth2/authorize/resend"))
        .form(&[
            ("flow", hidden(&html, "flow").as_str()),
            ("csrf_token", "forged"),
            ("email", "una@example.com"),
        ])
        .fetch()
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let path = &links[1][links[1].find("/email/").unwrap()..];
    assert_eq!(
        app.http.get(app.url(path)).fetch().await.status(),
        StatusCode::OK
    );
    let page = browser.get(authorize_url(&app, &client, &[])).fetch().await;
    let signed_in = submit_sign_in(&app, &browser, page, "una@example.com", STRONG_PASSWORD).await;
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "on to the client with a code"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook.received(), 2);
}
