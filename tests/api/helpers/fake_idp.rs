//! An upstream provider on loopback that the test scripts (book § Upstream providers):
//! an OpenID provider (discovery, JWKS, token endpoint with PKCE and client_secret_basic,
//! userinfo) and, at other paths, GitHub's shape (a token endpoint that answers a form
//! unless JSON is asked for, `/user` with a numeric id and no email, `/user/emails`).
//! The test reads the authorization URL tessera made and hands the provider what the
//! code it "issues" stands for: the ID token's claims and the key that signs them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

pub const FAKE_CLIENT_ID: &str = "tessera-at-fake";
pub const FAKE_CLIENT_SECRET: &str = "fake-secret-0123456789";

/// What a code stands for.
#[derive(Clone)]
pub struct Grant {
    /// The PKCE challenge the authorization URL carried.
    pub challenge: String,
    /// The ID token's claims (`oidc`) or `/user`'s document (GitHub's shape).
    pub claims: Map<String, Value>,
    /// Sign with a key the JWKS does not publish.
    pub evil_key: bool,
    /// GitHub's `/user/emails` document.
    pub emails: Value,
}

#[derive(Default)]
struct Book {
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Grant>,
}

pub struct FakeIdp {
    pub base: String,
    book: Arc<Mutex<Book>>,
    _server: actix_web::dev::ServerHandle,
}

struct Keys {
    good: Jwk,
    evil: Jwk,
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let pair = |kid: &str| {
            let mut jwk = RS256.generate_key_pair(2048).unwrap().to_jwk_key_pair();
            jwk.set_key_id(kid);
            jwk
        };
        Keys {
            good: pair("k1"),
            evil: pair("k1"),
        }
    })
}

impl FakeIdp {
    pub async fn start() -> FakeIdp {
        Self::start_on(0, 1).await
    }

    /// On `port` (0: any free one), with `workers` threads.
    pub async fn start_on(port: u16, workers: usize) -> FakeIdp {
        let book = Arc::new(Mutex::new(Book::default()));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let data = web::Data::new((book.clone(), base.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo))
                .route("/login/oauth/access_token", web::post().to(token))
                .route("/user", web::get().to(userinfo))
                .route("/user/emails", web::get().to(emails))
                .route(
                    "/redirect/.well-known/openid-configuration",
                    web::get().to(redirect),
                )
                .route(
                    "/huge/.well-known/openid-configuration",
                    web::get().to(huge),
                )
        })
        .workers(workers)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeIdp {
            base,
            book,
            _server: handle,
        }
    }

    /// Claims as a well-behaved provider would sign them for `nonce`.
    pub fn claims(
        &self,
        nonce: &str,
        sub: &str,
        email: &str,
        verified: bool,
    ) -> Map<String, Value> {
        let now = tessera::clock::Clock::now(&tessera::clock::SystemClock).unix_timestamp();
        let Value::Object(claims) = json!({
            "iss": self.base, "aud": FAKE_CLIENT_ID, "sub": sub, "nonce": nonce,
            "iat": now, "exp": now + 300, "email": email, "email_verified": verified,
            "name": "Upstream User", "amr": ["pwd"],
        }) else {
            unreachable!()
        };
        claims
    }

    /// Makes `code` stand for `grant`.
    pub fn issue(&self, code: &str, grant: Grant) {
        self.book
            .lock()
            .unwrap()
            .codes
            .insert(code.to_owned(), grant);
    }

    /// The settings document of an `oidc` provider `id` here.
    pub fn oidc_provider(&self, id: &str) -> Value {
        json!({
            "id": id, "kind": "oidc", "name": "Fake SSO", "issuer": self.base,
            "client_id": FAKE_CLIENT_ID, "client_secret": FAKE_CLIENT_SECRET,
            "scopes": ["openid", "email", "profile"],
        })
    }

    /// The settings document of a GitHub-shaped provider `id` here.
    pub fn github_provider(&self, id: &str) -> Value {
        json!({
            "id": id, "kind": "oauth2", "name": "GitHub",
            "authorization_endpoint": format!("{}/login/oauth/authorize", self.base),
            "token_endpoint": format!("{}/login/oauth/access_token", self.base),
            "userinfo_endpoint": format!("{}/user", self.base),
            "emails_endpoint": format!("{}/user/emails", self.base),
            "client_id": FAKE_CLIENT_ID, "client_secret": FAKE_CLIENT_SECRET,
            "scopes": ["read:user", "user:email"],
            "claims": {"subject": "id", "email": "email", "email_verified": "email_verified", "name": "name"},
            "trust_email": true,
        })
    }
}

type Data = web::Data<(Arc<Mutex<Book>>, String)>;

async fn discovery(data: Data) -> HttpResponse {
    let base = &data.1;
    HttpResponse::Ok().json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

/// An issuer whose discovery document redirects (to this provider's own).
async fn redirect(data: Data) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((
            "location",
            format!("{}/.well-known/openid-configuration", data.1),
        ))
        .finish()
}

/// An issuer whose discovery document is larger than tessera reads.
async fn huge() -> HttpResponse {
    let padding = "x".repeat(600 * 1024);
    HttpResponse::Ok().json(json!({ "issuer": "padding", "padding": padding }))
}

async fn jwks() -> HttpResponse {
    let mut public = keys().good.to_public_key().unwrap();
    public.set_key_id("k1");
    HttpResponse::Ok().json(json!({ "keys": [Value::from(public.as_ref().clone())] }))
}

fn refused(error: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error }))
}

/// The token endpoint: the code once, its PKCE verifier, the client's credentials.
async fn token(
    req: HttpRequest,
    data: Data,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{FAKE_CLIENT_ID}:{FAKE_CLIENT_SECRET}"))
    );
    let in_body = form.get("client_id").map(String::as_str) == Some(FAKE_CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(FAKE_CLIENT_SECRET);
    let authorized = req
        .headers()
        .get("authorization")
        .is_some_and(|h| h.to_str().unwrap_or_default() == basic);
    if !authorized && !in_body {
        return HttpResponse::Unauthorized().json(json!({ "error": "invalid_client" }));
    }
    let grant = {
        let mut book = data.0.lock().unwrap();
        let code = form.get("code").cloned().unwrap_or_default();
        book.codes.remove(&code)
    };
    let Some(grant) = grant else {
        return refused("invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return refused("invalid_grant");
    }
    let access = format!("at-{}", uuid::Uuid::new_v4().simple());
    data.0
        .lock()
        .unwrap()
        .tokens
        .insert(access.clone(), grant.clone());
    let github = req.path().starts_with("/login");
    let mut answer = json!({ "access_token": access, "token_type": "bearer", "expires_in": 300 });
    if !github {
        let payload = JwtPayload::from_map(grant.claims.clone()).unwrap();
        let key = if grant.evil_key {
            &keys().evil
        } else {
            &keys().good
        };
        let mut header = JwsHeader::new();
        header.set_key_id("k1");
        header.set_token_type("JWT");
        let signer = RS256.signer_from_jwk(key).unwrap();
        answer["id_token"] = json!(jwt::encode_with_signer(&payload, &header, &signer).unwrap());
    }
    let wants_json = req
        .headers()
        .get("accept")
        .is_some_and(|a| a.to_str().unwrap_or_default().contains("json"));
    if github && !wants_json {
        return HttpResponse::Ok()
            .content_type("application/x-www-form-urlencoded")
            .body(format!("access_token={access}&token_type=bearer"));
    }
    HttpResponse::Ok().json(answer)
}

fn bearer_grant(req: &HttpRequest, data: &Data) -> Option<Grant> {
    let token = req
        .headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .to_owned();
    data.0.lock().unwrap().tokens.get(&token).cloned()
}

async fn userinfo(req: HttpRequest, data: Data) -> HttpResponse {
    match bearer_grant(&req, &data) {
        Some(grant) => HttpResponse::Ok().json(Value::Object(grant.claims)),
        None => HttpResponse::Unauthorized().finish(),
    }
}

async fn emails(req: HttpRequest, data: Data) -> HttpResponse {
    match bearer_grant(&req, &data) {
        Some(grant) => HttpResponse::Ok().json(grant.emails),
        None => HttpResponse::Unauthorized().finish(),
    }
}
