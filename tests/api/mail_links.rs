//! Email links over SMTP (book § Email), against a real SMTP server on loopback:
//! registration's verification link arrives over STARTTLS as text and HTML and works with
//! one GET; and a message committed while the relay is down survives a `kill -9` of the
//! service, arrives once after the restart, and is never sent twice.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tessera::clock::FixedClock;

use crate::embedded::{serve, started};
use rstest_reuse::apply;

use crate::helpers::{
    backends, free_port, spawn_on_clock, Backend, Fetch, SmtpSink, TempDir, TestCa, TestDb,
    SMTP_PASSWORD, STRONG_PASSWORD,
};

/// The verification link in a message's `part`.
fn link_in(part: &str) -> String {
    let start = part.find("http").expect("a link");
    part[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect()
}

#[apply(backends)]
#[tokio::test]
async fn registration_sends_a_verification_link_by_smtp_that_works_with_one_get(backend: Backend) {
    let ca = TestCa::new("DNS:localhost,IP:127.0.0.1");
    let port = free_port();
    let sink = SmtpSink::secure(port, &ca);
    let db = Arc::new(TestDb::on(backend).await);
    let url = format!("smtp://bob:{SMTP_PASSWORD}@127.0.0.1:{port}");
    let settings = [
        ("smtp_url", url.as_str()),
        ("mail_from", "Tessera <no-reply@example.com>"),
        ("smtp_ca_file", &ca.file("ca.crt")),
        ("password_reset_url", "https://app.example.com/reset"),
    ];
    let app = spawn_on_clock(db, &settings, Arc::new(FixedClock::starting_now())).await;
    app.user("lena@example.com").await;
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail["tls"], true, "{mail}");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["lena@example.com"]));
    assert!(mail["subject"]
        .as_str()
        .unwrap()
        .starts_with("Confirm your email address for"));
    let (text, html) = (
        mail["text"].as_str().unwrap(),
        mail["html"].as_str().unwrap(),
    );
    for part in [text, html] {
        assert!(part.contains("lena@example.com"), "{part}");
        assert!(part.contains("expires in 24 hours"), "{part}");
        assert!(part.contains("/email/verify?token=tse_"), "{part}");
    }
    assert!(!html.contains("<img"), "no tracking pixel");
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/browser-pages");
    std::fs::create_dir_all(shots).unwrap();
    std::fs::write(format!("{shots}/mail-verify-email.html"), html).unwrap();

    let link = link_in(text);
    let path = &link[link.find("/email/").unwrap()..];
    let page = app.http.get(app.url(path)).fetch().await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        app.stored_user("lena@example.com")
            .await
            .unwrap()
            .email_verified
    );
}

#[tokio::test]
async fn a_message_committed_while_the_relay_is_down_survives_a_kill_9_and_goes_once() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let (public, admin, relay) = (free_port(), free_port(), free_port());
    let with_relay = |mut cmd: std::process::Command| {
        cmd.env(
            "TESSERA_SMTP_URL",
            format!("smtp://127.0.0.1:{relay}?tls=none"),
        )
        .env("TESSERA_MAIL_FROM", "no-reply@example.com")
        .env(
            "TESSERA_PASSWORD_RESET_URL",
            "https://app.example.com/reset",
        );
        cmd
    };
    // the relay is down: registration commits the account and its message, whose first
    // attempt fails
    let mut first = started(with_relay(serve(&data, public, admin)), public).await;
    let http = reqwest::Client::new();
    let registered = http
        .post(format!("http://127.0.0.1:{public}/api/v1/accounts"))
        .json(&serde_json::json!({"email": "kim@example.com", "password": STRONG_PASSWORD}))
        .fetch()
        .await;
    assert_eq!(registered.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.kill().unwrap(); // SIGKILL: no shutdown of any kind
    first.wait().unwrap();

    let sink = SmtpSink::start(relay, &[]);
    let mut second = started(with_relay(serve(&data, public, admin)), public).await;
    // due again after the first backoff (5 s), then delivered
    let got = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let got = sink.received();
            if !got.is_empty() {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the message arrives after the restart");
    assert_eq!(got[0]["rcpt_tos"], serde_json::json!(["kim@example.com"]));
    assert!(link_in(got[0]["text"].as_str().unwrap()).contains("/email/verify?token=tse_"));
    // delivered once: the worker's next passes find nothing
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.received().len(), 1, "never sent twice");
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let outbox: Value = http
        .get(format!("http://127.0.0.1:{admin}/admin/outbox"))
        .bearer_auth(token.trim())
        .fetch_json()
        .await;
    assert_eq!(outbox["queued"], 0, "{outbox}");
    assert_eq!(outbox["failed"], 0, "{outbox}");
    second.kill().unwrap();
    second.wait().unwrap();
}
