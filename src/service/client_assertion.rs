//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): the
//! client signs a short JWT with its own key; tessera checks it against the keys the
//! client registered (`jwks`) or publishes (`jwks_uri`, read with the upstream call's
//! limits and cached per `Cache-Control`).
//!
//! Checks: an asymmetric algorithm (never `none`, never an HMAC) matching the key;
//! `iss` = `sub` = the client id; `aud` naming the issuer identifier or the token
//! endpoint; `exp` in the future and at most five minutes ahead; a `jti` used once until
//! the assertion expires, on every instance (the replay store).

use std::sync::Arc;
use std::time::Duration;

use josekit::jwk::Jwk;
use serde_json::Value;
use tessera_verify::dpop::thumbprint;
use tessera_verify::verifiers::Verifiers;
use tessera_verify::Algorithm;

use crate::clock::Clock;
use crate::crypto::record_digest;
use crate::domain::client_keys::public_key_set;
use crate::domain::{Client, OAuthError};
use crate::service::upstream::UpstreamHttp;
use crate::store::MfaTokenStore;

/// The `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The furthest ahead an assertion's `exp` may be.
const MAX_LIFETIME: i64 = 300;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const LEEWAY: i64 = 30;
/// The longest assertion read.
const MAX_ASSERTION_BYTES: usize = 8 * 1024;
/// How long fetched keys are kept without `Cache-Control` (and the bounds of what it says).
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const MIN_MAX_AGE: Duration = Duration::from_secs(60);
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// A `kid` missing from cached keys refetches them, at most this often per URI.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// Fetched key sets: the keys, when they were read and when they go stale.
type Fetched = (Arc<Vec<Jwk>>, time::OffsetDateTime, time::OffsetDateTime);

/// Checks client assertions: the replay store, the clock, the audiences accepted and the
/// client for `jwks_uri`.
#[derive(Clone)]
pub struct ClientAssertions {
    seen: Arc<dyn MfaTokenStore>,
    clock: Arc<dyn Clock>,
    audiences: Vec<String>,
    http: UpstreamHttp,
    fetched: moka::sync::Cache<String, Fetched>,
    /// The verifiers of the keys seen, by algorithm and thumbprint.
    verifiers: Arc<Verifiers>,
}

impl ClientAssertions {
    pub fn new(
        seen: Arc<dyn MfaTokenStore>,
        clock: Arc<dyn Clock>,
        issuer: &str,
        http: UpstreamHttp,
    ) -> Self {
        let base = issuer.trim_end_matches('/');
        ClientAssertions {
            seen,
            clock,
            audiences: vec![
                issuer.to_owned(),
                format!("{base}/oauth2/token"),
                format!("{base}/oauth2/par"),
            ],
            http,
            fetched: moka::sync::Cache::builder().max_capacity(10_000).build(),
            verifiers: Arc::default(),
        }
    }

    /// Whether `assertion` authenticates `client` (`invalid_client` otherwise; the reason
    /// is logged, never answered).
    pub async fn verify(&self, client: &Client, assertion: &str) -> Result<(), OAuthError> {
        match self.check(client, assertion).await {
            Ok(()) => Ok(()),
            Err(Refusal::Store(e)) => Err(e.into()),
            Err(Refusal::Bad(why)) => {
                tracing::info!(client_id = %client.id, reason = why, "client assertion refused");
                Err(OAuthError::InvalidClient)
            }
        }
    }

    async fn check(&self, client: &Client, assertion: &str) -> Result<(), Refusal> {
        if assertion.len() > MAX_ASSERTION_BYTES || assertion.split('.').count() != 3 {
            return Err(Refusal::Bad("malformed"));
        }
        let header =
            josekit::jwt::decode_header(assertion).map_err(|_| Refusal::Bad("malformed"))?;
        let alg = header
            .claim("alg")
            .and_then(Value::as_str)
            .and_then(Algorithm::parse)
            .ok_or(Refusal::Bad("algorithm not allowed"))?;
        let kid = header.claim("kid").and_then(Value::as_str);
        let keys = self.keys(client, kid).await?;
        let payload = keys
            .iter()
            .filter(|k| kid.is_none_or(|kid| k.key_id() == Some(kid)))
            .filter_map(|k| {
                let members = k.as_ref();
                self.verifiers.get(alg, &thumbprint(members)?, members)
            })
            .find_map(|v| josekit::jws::deserialize_compact(assertion, v.as_ref()).ok())
            .map(|(payload, _)| payload)
            .ok_or(Refusal::Bad("no registered key verifies the signature"))?;
        let claims: serde_json::Map<String, Value> =
            serde_json::from_slice(&payload).map_err(|_| Refusal::Bad("claims are not JSON"))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let id = client.id.as_str();
        if text("iss") != Some(id) || text("sub") != Some(id) {
            return Err(Refusal::Bad("iss and sub must be the client id"));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(aud)) => self.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|a| self.audiences.iter().any(|ours| ours == a)),
            _ => false,
        };
        if !aud_ok {
            return Err(Refusal::Bad("aud is not this issuer"));
        }
        let now = self.clock.now().unix_timestamp();
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);
        let exp = number("exp").ok_or(Refusal::Bad("exp is required"))?;
        if exp + LEEWAY < now {
            return Err(Refusal::Bad("expired"));
        }
        if exp > now + MAX_LIFETIME + LEEWAY {
            return Err(Refusal::Bad("exp is more than five minutes ahead"));
        }
        if number("nbf").is_some_and(|nbf| nbf > now + LEEWAY)
            || number("iat").is_some_and(|iat| iat > now + LEEWAY)
        {
            return Err(Refusal::Bad("not valid yet"));
        }
        let jti = text("jti")
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or(Refusal::Bad("jti is required"))?;
        let digest = record_digest("client-assertion", &[id, jti]);
        let ttl = Duration::from_secs(u64::try_from(exp - now + LEEWAY).unwrap_or(1).max(1));
        let first = self
            .seen
            .mark_seen(&digest, ttl, self.clock.now())
            .await
            .map_err(Refusal::Store)?;
        if !first {
            return Err(Refusal::Bad("jti was used before"));
        }
        Ok(())
    }

    /// The client's keys: registered, or read from its `jwks_uri` (again when `kid` is not
    /// among those held and they were read over a minute ago).
    async fn keys(&self, client: &Client, kid: Option<&str>) -> Result<Arc<Vec<Jwk>>, Refusal> {
        if let Some(jwks) = &client.security.jwks {
            return public_key_set(jwks)
                .map(Arc::new)
                .map_err(|_| Refusal::Bad("registered keys unreadable"));
        }
        let uri = client
            .security
            .jwks_uri
            .as_deref()
            .ok_or(Refusal::Bad("the client has no keys"))?;
        let now = self.clock.now();
        if let Some((keys, read, stale)) = self.fetched.get(uri) {
            let known = kid.is_none_or(|kid| keys.iter().any(|k| k.key_id() == Some(kid)));
            if stale > now && (known || now - read < REFETCH_AFTER) {
                return Ok(keys);
            }
        }
        let (keys, max_age) = self.fetch(uri).await?;
        let keys = Arc::new(keys);
        self.fetched
            .insert(uri.to_owned(), (keys.clone(), now, now + max_age));
        Ok(keys)
    }

    async fn fetch(&self, uri: &str) -> Result<(Vec<Jwk>, Duration), Refusal> {
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|_| Refusal::Bad("jwks_uri unusable"))?;
        let answer = self.http.call(request).await.map_err(|e| {
            tracing::info!(error = %e, "client jwks_uri unreachable");
            Refusal::Bad("jwks_uri unreachable")
        })?;
        if !answer.status().is_success() {
            return Err(Refusal::Bad("jwks_uri answered an error"));
        }
        let max_age = tessera_verify::cache_max_age(answer.headers())
            .unwrap_or(DEFAULT_MAX_AGE)
            .clamp(MIN_MAX_AGE, MAX_MAX_AGE);
        let jwks: Value = serde_json::from_slice(answer.body())
            .map_err(|_| Refusal::Bad("jwks_uri is not JSON"))?;
        let keys =
            public_key_set(&jwks).map_err(|_| Refusal::Bad("jwks_uri holds no usable keys"))?;
        Ok((keys, max_age))
    }
}

enum Refusal {
    Bad(&'static str),
    Store(crate::store::StoreError),
}
