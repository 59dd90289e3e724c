//! Email over SMTP (book § Email), against a real SMTP server on loopback (aiosmtpd, run by
//! `tests/interop/smtp_sink.py`): a reset link arrives over STARTTLS with AUTH, checked
//! against a private CA, as plain text and HTML, and the reset's security notice after it; a relay that does not offer STARTTLS gets
//! no message, which waits in the outbox; a relay that is down delays the message until
//! it is back; one that refuses the recipient for good (5xx) is not asked again; wrong SMTP settings stop the start with a clear message.

use std::sync::Arc;

use reqwest::StatusCode;
use tessera::clock::FixedClock;

use rstest_reuse::apply;

use crate::helpers::{
    backends, free_port, spawn_on_clock, Backend, SmtpSink, TestApp, TestCa, TestDb, SMTP_PASSWORD,
};
use crate::reset::{forgot, reset, NEW_PASSWORD};

const RESET_PAGE: &str = "https://app.example.com/reset";

fn smtp_settings(port: u16, ca: &TestCa) -> Vec<(&'static str, String)> {
    vec![
        (
            "smtp_url",
            format!("smtp://bob:{SMTP_PASSWORD}@127.0.0.1:{port}"),
        ),
        ("mail_from", "Tessera <no-reply@example.com>".into()),
        ("smtp_ca_file", ca.file("ca.crt")),
        ("password_reset_url", RESET_PAGE.into()),
        // registrations here send no verification link: each test counts its own messages
        ("email_verification", "off".into()),
    ]
}

async fn app_with(settings: &[(&'static str, String)], clock: Arc<FixedClock>) -> TestApp {
    app_on(Backend::Embedded, settings, clock).await
}

async fn app_on(
    backend: Backend,
    settings: &[(&'static str, String)],
    clock: Arc<FixedClock>,
) -> TestApp {
    let db = Arc::new(TestDb::on(backend).await);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_on_clock(db, &settings, clock).await
}

/// The token of the reset link in `text`.
fn token_in(text: &str) -> String {
    let start = text.find("#token=").expect("a reset link") + "#token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

#[tokio::test]
async fn a_reset_link_arrives_by_smtp_over_starttls_as_text_and_html() {
    let ca = TestCa::new("DNS:localhost,IP:127.0.0.1");
    let port = free_port();
    let sink = SmtpSink::secure(port, &ca);
    let app = app_with(
        &smtp_settings(port, &ca),
        Arc::new(FixedClock::starting_now()),
    )
    .await;
    app.user("mia@example.com").await;
    assert_eq!(
        forgot(&app, "mia@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail["tls"], true, "{mail}");
    assert_eq!(mail["mail_from"], "no-reply@example.com");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["mia@example.com"]));
    assert_eq!(mail["content_type"], "multipart/alternative");
    assert!(mail["subject"]
        .as_str()
        .unwrap()
        .starts_with("Reset your password for"));
    let (text, html) = (
        mail["text"].as_str().unwrap(),
        mail["html"].as_str().unwrap(),
    );
    for part in [text, html] {
        assert!(part.contains("mia@example.com"), "{part}");
        assert!(part.contains("expires in 15 minutes"), "{part}");
        assert!(part.contains(&format!("{RESET_PAGE}#token=tsp_")), "{part}");
    }
    assert!(!html.contains("<img"), "no tracking pixel");
    // kept for a look at phone and desktop width (book § Running the tests)
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/browser-pages");
    std::fs::create_dir_all(shots).unwrap();
    std::fs::write(format!("{shots}/mail-password-reset.html"), html).unwrap();
    let token = token_in(text);
    assert_eq!(token, token_in(html));
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT,
        "the mailed link works"
    );

    // the reset's security notice follows, to the same address
    let notice = &sink.wait_for(2).await[1];
    assert_eq!(notice["rcpt_tos"], serde_json::json!(["mia@example.com"]));
    assert!(notice["subject"]
        .as_str()
        .unwrap()
        .starts_with("Your password was reset"));
    let html = notice["html"].as_str().unwrap();
    for part in [notice["text"].as_str().unwrap(), html] {
        assert!(part.contains("If it was not you"), "{part}");
        assert!(!part.contains("tsp_"), "no token in a notice: {part}");
    }
    std::fs::write(format!("{shots}/mail-notice.html"), html).unwrap();
}

#[apply(backends)]
#[tokio::test]
async fn a_relay_without_starttls_gets_no_message_and_one_that_was_down_gets_it_later(
    backend: Backend,
) {
    let ca = TestCa::new("DNS:localhost,IP:127.0.0.1");
    let clock = Arc::new(FixedClock::starting_now());

    // a relay that does not offer STARTTLS: no AUTH, no message; it waits in the outbox
    let port = free_port();
    let plain = SmtpSink::start(port, &["--user", "bob", SMTP_PASSWORD]);
    let app = app_on(backend, &smtp_settings(port, &ca), clock.clone()).await;
    app.user("noa@example.com").await;
    forgot(&app, "noa@example.com").await;
    wait_for_failures(&app, 1).await;
    assert!(plain.received().is_empty());
    drop(plain);

    // the relay is down: the next attempt fails too; back up, the message arrives
    clock.advance(tessera::service::outbox::backoff(1));
    wait_for_failures(&app, 2).await;
    let sink = SmtpSink::secure(port, &ca);
    clock.advance(tessera::service::outbox::backoff(2));
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["noa@example.com"]));
    assert_eq!(mail["tls"], true);
}

#[tokio::test]
async fn a_relay_that_refuses_the_recipient_for_good_is_not_asked_again() {
    let ca = TestCa::new("DNS:localhost,IP:127.0.0.1");
    let port = free_port();
    let (cert, key) = (ca.file("server.crt"), ca.file("server.key"));
    let args = [
        "--tls",
        &cert,
        &key,
        "--user",
        "bob",
        SMTP_PASSWORD,
        "--reject",
    ];
    let sink = SmtpSink::start(port, &args);
    let clock = Arc::new(FixedClock::starting_now());
    let app = app_with(&smtp_settings(port, &ca), clock.clone()).await;
    app.user("gus@example.com").await;
    forgot(&app, "gus@example.com").await;
    app.wait_for_metric(
        r#"tessera_outbox_failures_total{kind="password_reset",outcome="gave_up"} 1"#,
    )
    .await;
    let (_, view) = app
        .admin_json(reqwest::Method::GET, "/admin/outbox", None)
        .await;
    assert_eq!(view["failures"][0]["attempts"], 1, "{view}");
    let error = view["failures"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("550"), "{error}");
    assert!(sink.received().is_empty());
}

/// Waits until the outbox counted `n` failed attempts (recorded after the store write).
async fn wait_for_failures(app: &TestApp, n: u32) {
    let series =
        format!(r#"tessera_outbox_failures_total{{kind="password_reset",outcome="retrying"}} {n}"#);
    app.wait_for_metric(&series).await;
}
