//! book § Integrating (Back-channel logout): Apache httpd with Debian's mod_auth_openidc, a
//! relying party that is not tessera's, signs a user in through the hosted pages (code flow
//! with PKCE, its own session cookie), and forgets that session when tessera tells its back
//! channel that the session ended.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::json;

use super::{browser, hidden, location, relying_parties::spawn_on_localhost};
use crate::helpers::{backends, free_port, Backend, Fetch, TempDir, TestApp, STRONG_PASSWORD};

const MODULES: &str = "/usr/lib/apache2/modules";

/// `apache2 -X` (one process) on `port`, protecting `/protected` with mod_auth_openidc for
/// the client `id`; stopped when dropped.
struct Apache {
    child: Child,
    dir: TempDir,
}

impl Apache {
    fn start(port: u16, issuer: &str, id: &str, secret: &str) -> Apache {
        assert!(
            std::path::Path::new(MODULES)
                .join("mod_auth_openidc.so")
                .exists(),
            "this test needs Apache httpd and mod_auth_openidc: `bash scripts/setup` installs \
             them (apt-get install apache2-bin libapache2-mod-auth-openidc)"
        );
        let dir = TempDir::new();
        let www = dir.0.join("www/protected");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("page.txt"), "the app's own page\n").unwrap();
        // readable by the user Apache runs as when the suite runs as root
        for path in [&dir.0, &dir.0.join("www"), &www] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let root = dir.0.display();
        let config = format!(
            r#"ServerRoot {root}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn auth_openidc:info
DocumentRoot {root}/www
User nobody
Group nogroup
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule authz_user_module {MODULES}/mod_authz_user.so
LoadModule authn_core_module {MODULES}/mod_authn_core.so
LoadModule auth_openidc_module {MODULES}/mod_auth_openidc.so
OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {id}
OIDCClientSecret {secret}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase a-passphrase-for-this-test-only
OIDCScope "openid email"
OIDCPKCEMethod S256
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
"#
        );
        let conf = dir.0.join("httpd.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new("apache2")
            .arg("-X")
            .arg("-f")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("apache2 is needed by this test");
        Apache { child, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A confidential first-party code client for the Apache app on `port`: (id, secret).
async fn apache_client(app: &TestApp, port: u16) -> (String, String) {
    let redirect = format!("http://127.0.0.1:{port}/protected/redirect_uri");
    app.admin_client(json!({
        "name": "Apache app",
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "email"],
        "first_party": true,
        "redirect_uris": [redirect],
        // mod_auth_openidc's back channel is its redirect URI with `logout=backchannel`
        "backchannel_logout_uri": format!("{redirect}?logout=backchannel"),
    }))
    .await
}

#[apply(backends)]
#[tokio::test]
async fn apache_mod_auth_openidc_forgets_a_session_tessera_ended(backend: Backend) {
    let (app, issuer) = spawn_on_localhost(backend).await;
    app.user("rui@example.com").await;
    let port = free_port();
    let (id, secret) = apache_client(&app, port).await;
    let apache = Apache::start(port, &issuer, &id, &secret);
    let page = format!("http://127.0.0.1:{port}/protected/page.txt");
    let browser = browser();
    let deadline = Instant::now() + Duration::from_secs(20);
    // Apache up: its first answer sends the browser to tessera
    let to_tessera = loop {
        match browser.get(&page).send().await {
            Ok(answer) => break answer,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("Apache did not answer: {e}\n{}", apache.log()),
        }
    };
    assert_eq!(to_tessera.status(), StatusCode::FOUND, "{}", apache.log());
    let authorize = location(&to_tessera);
    assert!(authorize.as_str().starts_with(&issuer), "{authorize}");
    let sign_in = browser.get(authorize.as_str()).fetch().await;
    assert_eq!(sign_in.status(), StatusCode::OK);
    let html = sign_in.text().await.unwrap();
    let signed_in = browser
        .post(format!("{issuer}/oauth2/authorize/signin"))
        .form(&[
            ("flow", hidden(&html, "flow").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("email", "rui@example.com"),
            ("password", STRONG_PASSWORD),
        ])
        .fetch()
        .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    // Apache redeems the code, checks the ID token, and keeps its own session
    let callback = browser.get(location(&signed_in).as_str()).fetch().await;
    assert_eq!(callback.status(), StatusCode::FOUND, "{}", apache.log());
    let shown = browser.get(&page).fetch().await;
    assert_eq!(shown.status(), StatusCode::OK, "{}", apache.log());
    assert_eq!(shown.text().await.unwrap(), "the app's own page\n");

    // an operator ends the user's sessions at tessera; Apache hears it and forgets its own
    app.revoke_user_sessions(&app.user_id("rui@example.com").await)
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = browser.get(&page).fetch().await;
        if answer.status() == StatusCode::FOUND {
            assert!(location(&answer).as_str().starts_with(&issuer));
            break;
        }
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "Apache still shows the page 15 s after the session ended\n{}",
            apache.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_for_metric(r#"tessera_outbox_sent_total{kind="backchannel_logout"} 1"#)
        .await;
}
