//! book § Configuration: every bad setting is refused, each named, all reported at once.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tessera::config::{ConfigErrors, Settings};

use crate::helpers::{admin_tokens_setting, run_cli, test_kek};

fn base() -> Vec<(&'static str, String)> {
    vec![
        ("issuer", "https://auth.example.com".into()),
        (
            "database_url",
            "postgres://postgres@127.0.0.1:5432/x".into(),
        ),
        ("redis_url", "redis://127.0.0.1:6379".into()),
        ("kek", test_kek()),
        ("admin_tokens", admin_tokens_setting()),
    ]
}

fn load(overrides: &[(&'static str, &str)]) -> Result<Settings, ConfigErrors> {
    let mut pairs = base();
    for (k, v) in overrides {
        pairs.retain(|(e, _)| e != k);
        pairs.push((k, (*v).to_owned()));
    }
    Settings::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
}

fn refused(overrides: &[(&'static str, &str)], key: &str) -> String {
    let errors = load(overrides).expect_err("setting should be refused");
    assert!(
        errors.mentions(key),
        "expected an error naming {key}, got: {errors}"
    );
    errors.to_string()
}

#[test]
fn valid_settings_load_with_defaults() {
    let s = load(&[]).unwrap();
    assert_eq!(s.issuer, "https://auth.example.com");
    assert_eq!(s.access_token_ttl.as_secs(), 900);
    assert_eq!(s.default_audience, "https://auth.example.com");
    assert_eq!(s.public_addr.to_string(), "0.0.0.0:8080");
    assert_eq!(s.admin_addr.to_string(), "127.0.0.1:8081");
    assert!(s.is_https());
}

#[test]
fn issuer_that_is_not_an_absolute_url_is_refused() {
    refused(&[("issuer", "auth.example.com/path")], "TESSERA_ISSUER");
    refused(&[("issuer", "/relative")], "TESSERA_ISSUER");
}

#[test]
fn http_issuer_on_a_non_loopback_host_is_refused_unless_insecure_http_is_allowed() {
    let message = refused(&[("issuer", "http://auth.example.com")], "TESSERA_ISSUER");
    assert!(message.contains("TESSERA_ALLOW_INSECURE_HTTP"));
    assert!(load(&[
        ("issuer", "http://auth.example.com"),
        ("allow_insecure_http", "true")
    ])
    .is_ok());
    assert!(load(&[("issuer", "http://127.0.0.1:8080")]).is_ok());
    assert!(load(&[("issuer", "http://localhost:8080")]).is_ok());
}

#[test]
fn kek_that_is_not_32_bytes_is_refused() {
    refused(&[("kek", &STANDARD.encode([9u8; 16]))], "TESSERA_KEK");
    refused(&[("kek", "definitely not base64!")], "TESSERA_KEK");
}

#[test]
fn kek_that_is_not_random_is_refused() {
    let message = refused(&[("kek", &STANDARD.encode([b'a'; 32]))], "TESSERA_KEK");
    assert!(message.contains("random"));
}

#[test]
fn missing_kek_is_refused() {
    let pairs: Vec<_> = base().into_iter().filter(|(k, _)| *k != "kek").collect();
    let errors = Settings::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap_err();
    assert!(errors.mentions("TESSERA_KEK"));
}

#[test]
fn admin_token_shorter_than_32_characters_is_refused() {
    let message = refused(
        &[("admin_tokens", "ops:short-token")],
        "TESSERA_ADMIN_TOKENS",
    );
    assert!(message.contains("shorter than 32"), "{message}");
}

#[test]
fn admin_token_given_in_plain_text_is_refused() {
    let plain = "ops:a-perfectly-long-plaintext-admin-token-of-48-chars";
    let message = refused(&[("admin_tokens", plain)], "TESSERA_ADMIN_TOKENS");
    assert!(message.contains("SHA-256"));
    assert!(
        !message.contains("a-perfectly-long"),
        "the token must not be echoed: {message}"
    );
}

#[test]
fn access_token_ttl_over_one_hour_is_refused() {
    refused(&[("access_token_ttl", "3601")], "TESSERA_ACCESS_TOKEN_TTL");
    assert_eq!(
        load(&[("access_token_ttl", "3600")])
            .unwrap()
            .access_token_ttl
            .as_secs(),
        3600
    );
}

#[test]
fn cors_wildcard_with_credentials_is_refused() {
    refused(&[("cors_origins", "*")], "TESSERA_CORS_ORIGINS");
    assert!(load(&[("cors_origins", "*"), ("cors_allow_credentials", "false")]).is_ok());
    refused(
        &[("cors_origins", "https://app.example.com/path")],
        "TESSERA_CORS_ORIGINS",
    );
}

#[test]
fn unsupported_or_inconsistent_signing_algorithms_are_refused() {
    refused(&[("signing_algs", "ES256,HS256")], "TESSERA_SIGNING_ALGS");
    refused(&[("signing_algs", "ES256")], "TESSERA_SIGNING_ALGS");
    refused(&[("signing_alg", "PS256")], "TESSERA_SIGNING_ALG");
    let s = load(&[
        ("signing_algs", "eddsa,RS256,ps256"),
        ("signing_alg", "EdDSA"),
    ])
    .unwrap();
    assert_eq!(s.signing_algs.len(), 3);
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = load(&[
        ("issuer", "nope"),
        ("kek", "short"),
        ("access_token_ttl", "abc"),
        ("public_addr", "not-an-addr"),
        ("database_url", "mysql://x"),
    ])
    .unwrap_err();
    for key in [
        "TESSERA_ISSUER",
        "TESSERA_KEK",
        "TESSERA_ACCESS_TOKEN_TTL",
        "TESSERA_PUBLIC_ADDR",
        "DATABASE_URL",
    ] {
        assert!(errors.mentions(key), "{key} missing from: {errors}");
    }
    assert_eq!(errors.0.len(), 5, "{errors}");
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let s = load(&[("database_url", "postgres://app:hunter2-db-password@db/x")]).unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains(&test_kek()), "{debug}");
    assert!(!debug.contains(&admin_tokens_setting()[4..]), "{debug}");
}

#[test]
fn bad_config_makes_the_binary_exit_non_zero_listing_each_bad_key_and_starting_nothing() {
    let out = run_cli(
        &["serve"],
        &[
            ("TESSERA_ISSUER", "http://auth.example.com"),
            ("TESSERA_KEK", "c2hvcnQ="),
            ("TESSERA_ACCESS_TOKEN_TTL", "7200"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // no DATABASE_URL or REDIS_URL: the embedded store, which needs neither (issue 14)
    for key in ["TESSERA_ISSUER", "TESSERA_KEK", "TESSERA_ACCESS_TOKEN_TTL"] {
        assert!(stderr.contains(key), "{key} missing from: {stderr}");
    }
    assert!(!stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    assert!(
        out.stdout.is_empty(),
        "nothing should have started: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn toml_file_is_read_and_environment_overrides_it() {
    let dir = std::env::temp_dir().join(format!("tessera-cfg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tessera.toml");
    std::fs::write(
        &file,
        "issuer = \"nope\"\naccess_token_ttl = 99999\nsigning_algs = [\"ES256\", \"RS256\"]\n",
    )
    .unwrap();
    let out = run_cli(
        &["--config", file.to_str().unwrap(), "serve"],
        &[("TESSERA_ISSUER", "https://ok.example.com")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("TESSERA_ACCESS_TOKEN_TTL"),
        "the file's bad TTL is reported: {stderr}"
    );
    assert!(
        !stderr.contains("TESSERA_ISSUER"),
        "the env issuer overrides the file's: {stderr}"
    );
    assert!(
        !stderr.contains("TESSERA_SIGNING_ALGS"),
        "TOML lists are accepted: {stderr}"
    );
}

#[test]
fn removed_limits_are_refused_with_what_replaced_them() {
    let text = refused(
        &[("rate_limit_login_account", "10/900")],
        "TESSERA_RATE_LIMIT_LOGIN_ACCOUNT",
    );
    assert!(text.contains("TESSERA_LOCKOUT_ACCOUNT_CEILING"), "{text}");
    let text = refused(
        &[("rate_limit_token_client", "600/60")],
        "TESSERA_RATE_LIMIT_TOKEN_CLIENT",
    );
    assert!(
        text.contains("TESSERA_RATE_LIMIT_CLIENT_AUTH_FAILURES"),
        "{text}"
    );
    let new_kek = refused(&[("new_kek", "short")], "TESSERA_NEW_KEK");
    assert!(!new_kek.contains("short"), "{new_kek}");
    let defaults = load(&[]).unwrap();
    assert_eq!(
        defaults
            .abuse
            .client_auth_failures
            .map(|l| (l.count, l.period.as_secs())),
        Some((20, 60))
    );
    assert_eq!(
        defaults
            .abuse
            .lockout_account_ceiling
            .map(|l| (l.count, l.period.as_secs())),
        Some((100, 3600))
    );
    assert_eq!(defaults.abuse.known_network_ttl.as_secs(), 30 * 86_400);
}

#[test]
fn an_unknown_setting_is_reported_with_the_closest_known_name() {
    let text = refused(&[("acces_token_ttl", "600")], "TESSERA_ACCES_TOKEN_TTL");
    assert!(
        text.contains("did you mean TESSERA_ACCESS_TOKEN_TTL?"),
        "{text}"
    );
    let text = refused(&[("frobnicate", "1")], "TESSERA_FROBNICATE");
    assert!(text.contains("is not a setting"), "{text}");
    // reported with every other problem, not instead of them
    let errors = load(&[("acces_token_ttl", "600"), ("issuer", "not a url")]).unwrap_err();
    assert!(errors.mentions("TESSERA_ISSUER") && errors.mentions("TESSERA_ACCES_TOKEN_TTL"));
    // command-line flags read from the environment are not settings, and not typos
    assert!(load(&[("rotate_alg", "ES256"), ("client_name", "x")]).is_ok());
}

#[test]
fn a_typo_in_the_environment_stops_the_binary_naming_the_variable() {
    let out = run_cli(
        &["migrate"],
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/x"),
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("TESSERA_KEK", &test_kek()),
            ("TESSERA_REFRESH_GRACE_SECS", "5"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("TESSERA_REFRESH_GRACE_SECS") && stderr.contains("TESSERA_REFRESH_GRACE"),
        "{stderr}"
    );
}

#[test]
fn setting_only_one_backend_url_is_refused_saying_why() {
    let errors = load(&[("redis_url", "")]).unwrap_err();
    assert!(errors.mentions("REDIS_URL"), "{errors}");
    assert!(errors.to_string().contains("run together"), "{errors}");
    let errors = load(&[("database_url", "")]).unwrap_err();
    assert!(errors.mentions("DATABASE_URL"), "{errors}");
    assert_eq!(errors.0.len(), 1, "{errors}");
}

/// book § Email: SMTP settings are checked at start, each refusal names its key and never
/// quotes the password; the settings' Debug hides it.
#[test]
fn smtp_settings_are_checked_at_start_and_the_password_is_never_shown() {
    let good = [
        ("smtp_url", "smtp://bob:relay-Secret-9@mail.example.com"),
        ("mail_from", "Example <no-reply@example.com>"),
        ("password_reset_url", "https://app.example.com/reset"),
    ];
    let settings = load(&good).unwrap();
    let smtp = settings.notify.smtp.clone().unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port), ("mail.example.com", 587));
    assert_eq!(smtp.security, tessera::config::SmtpSecurity::StartTls);
    assert!(!format!("{settings:?}").contains("relay-Secret-9"));
    let implicit = load(&[good[1], good[2], ("smtp_url", "smtps://mail.example.com")]).unwrap();
    assert_eq!(implicit.notify.smtp.unwrap().port, 465);

    let with = |extra: (&'static str, &'static str)| {
        let mut pairs = good.to_vec();
        pairs.retain(|(k, _)| *k != extra.0);
        pairs.push(extra);
        pairs
    };
    for (pairs, key) in [
        (
            with(("smtp_url", "http://mail.example.com")),
            "TESSERA_SMTP_URL",
        ),
        (
            with(("smtp_url", "smtp://mail.example.com?tls=none")),
            "TESSERA_SMTP_URL",
        ),
        (
            with(("smtp_url", "smtp://bob:pw@127.0.0.1?tls=none")),
            "TESSERA_SMTP_URL",
        ),
        (with(("mail_from", "not an address")), "TESSERA_MAIL_FROM"),
        (with(("smtp_password", "again")), "TESSERA_SMTP_PASSWORD"),
        (
            with(("smtp_ca_file", "/nonexistent/ca.pem")),
            "TESSERA_SMTP_CA_FILE",
        ),
    ] {
        let message = refused(&pairs, key);
        assert!(!message.contains("relay-Secret-9"), "{message}");
    }
    refused(&[good[0], good[2]], "TESSERA_MAIL_FROM");
    refused(&[good[0], good[1]], "TESSERA_PASSWORD_RESET_URL");
    refused(
        &[("mail_from", "no-reply@example.com")],
        "TESSERA_MAIL_FROM",
    );
}
