//! The flows tests share instead of writing them out: register, log in, refresh,
//! introspect, enrol TOTP, create a client, read claims.

use base64::Engine;
use tessera::clock::Clock;

use super::app::TestApp;

pub const STRONG_PASSWORD: &str = "correct-Horse-battery-staple-42";

/// The code pyotp (an independent TOTP implementation) computes for `secret` at `clock`'s
/// current time.
pub fn pyotp_code(secret: &str, clock: &tessera::clock::FixedClock) -> String {
    let at = clock.now().unix_timestamp().to_string();
    let code = super::app::interop_python("totp_code.py", &[secret, &at]);
    String::from_utf8(code).unwrap().trim().to_owned()
}

/// The claims of a JWT, unverified (for assertions on what was issued).
pub fn claims(token: &str) -> serde_json::Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public)
    }

    /// Turns TOTP on for `email` (a user with `STRONG_PASSWORD`) and returns its secret;
    /// the code is pyotp's at `clock`'s time, so advance the clock before the next one.
    pub async fn enrol_totp(&self, email: &str, clock: &tessera::clock::FixedClock) -> String {
        let login = self.login(email, "openid").await;
        let access = login["access_token"].as_str().unwrap();
        let setup: serde_json::Value = self
            .http
            .post(self.url("/api/v1/me/mfa/totp"))
            .bearer_auth(access)
            .fetch_json()
            .await;
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let confirmed = self
            .http
            .post(self.url("/api/v1/me/mfa/totp/confirm"))
            .bearer_auth(access)
            .json(&serde_json::json!({"code": pyotp_code(&secret, clock)}))
            .fetch()
            .await;
        assert_eq!(confirmed.status(), reqwest::StatusCode::OK);
        secret
    }

    pub async fn register(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/accounts"))
            .json(&serde_json::json!({ "email": email, "password": password, "name": "Test User" }))
            .fetch()
            .await
    }

    /// A registered user with `STRONG_PASSWORD` (`202` with email verification on, the
    /// default; `201` with it off).
    pub async fn user(&self, email: &str) {
        let response = self.register(email, STRONG_PASSWORD).await;
        let status = response.status();
        assert!(
            status == reqwest::StatusCode::ACCEPTED || status == reqwest::StatusCode::CREATED,
            "{status} {:?}",
            response.text().await
        );
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth2/token"))
            .form(form)
            .fetch()
            .await
    }

    /// The second step of a password sign-in with MFA (client `spa`): `mfa_token` and a
    /// one-time code.
    pub async fn mfa_otp(&self, mfa_token: &str, otp: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "urn:tessera:grant-type:mfa-otp"),
            ("client_id", "spa"),
            ("mfa_token", mfa_token),
            ("otp", otp),
        ])
        .await
    }

    /// The discovery document.
    pub async fn discovery(&self) -> serde_json::Value {
        self.http
            .get(self.url("/.well-known/openid-configuration"))
            .fetch_json()
            .await
    }

    /// A token request's JSON body, whatever its status.
    pub async fn token_json(&self, form: &[(&str, &str)]) -> serde_json::Value {
        self.token(form).await.json().await.unwrap()
    }

    /// A password grant for `email` (with `STRONG_PASSWORD`, client `spa`) that must
    /// succeed: its token response.
    pub async fn login(&self, email: &str, scope: &str) -> serde_json::Value {
        let response = self.password_grant(email, STRONG_PASSWORD, scope).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        response.json().await.unwrap()
    }

    /// A new user (`STRONG_PASSWORD`) signed in with scope `openid email`: the token response.
    pub async fn new_user_tokens(&self, email: &str) -> serde_json::Value {
        self.user(email).await;
        self.login(email, "openid email").await
    }

    /// A confidential client that may introspect and revoke (a resource server).
    pub async fn resource_server(&self) -> (String, Option<String>) {
        self.client(&["client_credentials"], false, false).await
    }

    /// `grant_type=refresh_token` for the public `spa` client.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// The status of a refresh with `refresh_token`.
    pub async fn refresh_status(&self, refresh_token: &str) -> reqwest::StatusCode {
        self.refresh(refresh_token).await.status()
    }

    pub async fn password_grant(
        &self,
        email: &str,
        password: &str,
        scope: &str,
    ) -> reqwest::Response {
        self.token(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", email),
            ("password", password),
            ("scope", scope),
        ])
        .await
    }

    /// The password grant for `email` (with `STRONG_PASSWORD`) as the confidential client
    /// `id`: its token response.
    pub async fn client_password_grant(
        &self,
        id: &str,
        secret: &str,
        email: &str,
        scope: &str,
    ) -> serde_json::Value {
        self.http
            .post(self.url("/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", STRONG_PASSWORD),
                ("scope", scope),
            ])
            .fetch_json()
            .await
    }

    /// Creates a confidential client through the admin API from its JSON; (id, secret).
    pub async fn admin_client(&self, body: serde_json::Value) -> (String, String) {
        let (status, body) = self
            .admin_json(reqwest::Method::POST, "/admin/clients", Some(body))
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
        (
            body["client_id"].as_str().unwrap().to_owned(),
            body["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Registers the upstream OpenID provider `corp` with the client secret `corp-secret`.
    pub async fn corp_provider(&self) {
        let (status, body) = self
            .admin_json(
                reqwest::Method::POST,
                "/admin/providers",
                Some(serde_json::json!({"id": "corp", "kind": "oidc", "name": "Corp",
                    "issuer": "https://idp.example.com", "client_id": "t", "client_secret": "corp-secret"})),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    }

    /// The provider `corp` as stored, and its client secret opened with this app's KEK.
    pub async fn corp_as_stored(&self) -> (tessera::domain::Provider, Vec<u8>) {
        let corp = tessera::domain::ProviderId::parse("corp").unwrap();
        let stored = self.state.stores.providers.find_provider(&corp).await;
        let provider = stored.unwrap().expect("provider corp is stored");
        let sealed = provider
            .client_secret_sealed
            .clone()
            .expect("with a secret");
        let kek = &self.state.settings.kek;
        let opened = kek.open(tessera::crypto::Purpose::ProviderSecret, &sealed, b"corp");
        (provider, opened.expect("the secret opens with this KEK"))
    }

    /// The id of the user with `email`, as the admin API finds it.
    pub async fn user_id(&self, email: &str) -> String {
        let mut url = url::Url::parse(&format!("{}/admin/users", self.admin)).unwrap();
        url.query_pairs_mut().append_pair("email", email);
        let found = self.admin_get(&format!("/admin/users?{}", url.query().unwrap()));
        let found = found.fetch_json().await;
        found["users"][0]["id"]
            .as_str()
            .expect("a user with this email")
            .to_owned()
    }

    /// An operator ends every session of `user` (the admin API); the answer.
    pub async fn revoke_user_sessions(&self, user: &str) -> serde_json::Value {
        let (status, body) = self
            .admin_json(
                reqwest::Method::POST,
                &format!("/admin/users/{user}/revoke-sessions"),
                None,
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        body
    }

    /// Creates a client directly through the domain layer; returns (id, secret).
    pub async fn client(
        &self,
        grants: &[&str],
        public: bool,
        first_party: bool,
    ) -> (String, Option<String>) {
        let new = tessera::domain::NewClient {
            name: "test client".into(),
            public,
            first_party,
            grant_types: grants.iter().map(|g| g.parse().unwrap()).collect(),
            scopes: vec![
                "openid".into(),
                "email".into(),
                "profile".into(),
                "api.read".into(),
            ],
            audiences: vec!["https://api.example.com".into()],
            ..Default::default()
        };
        self.create_client(new).await
    }

    /// A confidential `client_credentials` client whose tokens name only `audiences` (the
    /// default audience when empty) and carry `scopes`; returns (id, secret).
    pub async fn machine_client(
        &self,
        audiences: &[&str],
        scopes: &[&str],
    ) -> (String, Option<String>) {
        self.create_client(tessera::domain::NewClient {
            name: "machine".into(),
            public: false,
            first_party: false,
            grant_types: vec!["client_credentials".parse().unwrap()],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
            ..Default::default()
        })
        .await
    }

    /// Creates `new` through the domain layer, as the admin API would; returns (id, secret).
    pub async fn create_client(&self, new: tessera::domain::NewClient) -> (String, Option<String>) {
        let operator = tessera::service::admin::Operator {
            actor: "test".into(),
            now: self.state.clock.now(),
        };
        let (client, secret) =
            tessera::service::admin::create_client(&self.state.stores, new, &operator)
                .await
                .unwrap();
        (client.id.to_string(), secret)
    }
}

/// Sending a request the way every test does: a transport error fails the test.
#[allow(async_fn_in_trait)]
pub trait Fetch {
    /// The response, whatever its status.
    async fn fetch(self) -> reqwest::Response;
    /// The response body as JSON.
    async fn fetch_json(self) -> serde_json::Value;
}

impl Fetch for reqwest::RequestBuilder {
    async fn fetch(self) -> reqwest::Response {
        self.send().await.unwrap()
    }

    async fn fetch_json(self) -> serde_json::Value {
        self.fetch().await.json().await.unwrap()
    }
}

impl TestApp {
    /// A call to the cookie API (`/api/v1/session*`) from `origin`, with the refresh cookie
    /// (`name=value`) when given.
    pub fn spa_call(
        &self,
        method: reqwest::Method,
        path: &str,
        origin: &str,
        cookie: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, self.url(path))
            .header("origin", origin);
        match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }
}

impl TestApp {
    /// `POST /api/v1/session/refresh` from the SPA's origin with `cookie`.
    pub async fn spa_refresh(&self, origin: &str, cookie: &str) -> reqwest::Response {
        self.spa_call(
            reqwest::Method::POST,
            "/api/v1/session/refresh",
            origin,
            Some(cookie),
        )
        .fetch()
        .await
    }
}

/// The `name=value` pair of the response's first `Set-Cookie`.
pub fn cookie_pair(response: &reqwest::Response) -> String {
    let header = response.headers()["set-cookie"].to_str().unwrap();
    header.split(';').next().unwrap().to_owned()
}

impl TestApp {
    /// Waits (up to 10 s) until the admin listener's metrics show `series`.
    pub async fn wait_for_metric(&self, series: &str) {
        let started = std::time::Instant::now();
        loop {
            let text = self
                .http
                .get(format!("{}/metrics", self.admin))
                .fetch()
                .await
                .text()
                .await
                .unwrap();
            if text.contains(series) {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{series} not in\n{text}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
