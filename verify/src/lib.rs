//! Verify [tessera](https://github.com/) access tokens offline, in a downstream Rust service.
//!
//! A [`Verifier`] discovers the issuer's JWKS, keeps its keys as long as the issuer's
//! `Cache-Control: max-age` says (at least 30 s, at most 24 h), revalidates them with
//! `ETag`, serves them stale while the issuer is unreachable and drops keys the issuer no
//! longer publishes. A token signed with a key it does not hold makes it refetch once —
//! one fetch for every request that misses at the same time, at most one per 10 s — and a
//! `kid` still unknown after that is remembered for those 10 s. Nothing else on the
//! verification path touches the network.
//!
//! Each token is checked for: a signature by a published key, with that key's own
//! algorithm from an allowlist; `typ: at+jwt`; `iss`; the configured audience; `exp` and
//! `nbf` with leeway. With client credentials (a confidential client of tessera), the
//! verifier also follows tessera's revocation feed in the background (every 5 s by
//! default) and refuses revoked tokens, ended sessions, tokens issued before their user's
//! cut-off (a password change, say) and tokens of revoked keys. While the feed is
//! unreachable it keeps the revocations it has; [`Verifier::feed_staleness`] says for how
//! long, and [`Builder::max_staleness`] makes it refuse tokens beyond that.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! let verifier = tessera_verify::Verifier::builder("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .client_credentials("orders-api", "its-secret")
//!     .poll_interval(Duration::from_secs(5))
//!     .build()
//!     .await?;
//! # let token = "";
//! match verifier.verify(token).await {
//!     Ok(claims) => println!("{} may proceed (scope {:?})", claims.sub, claims.scope),
//!     Err(refused) => println!("401: {}", refused.reason()),
//! }
//! # Ok(()) }
//! ```
//!
//! With the `actix` feature, [`actix::BearerToken`] is an extractor that answers `401`
//! with `WWW-Authenticate: Bearer error="invalid_token"` for a refused token.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use josekit::jwk::Jwk;
use josekit::jws::{
    EdDSA, JwsVerifier, ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512,
};
use serde::{Deserialize, Serialize};

mod error;
mod feed;
mod keys;

#[cfg(feature = "actix")]
pub mod actix;

pub use error::{Error, Revocation, SetupError};
pub use keys::Refresh;

/// A signature algorithm a verifier may accept (never `none`, never an HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl Algorithm {
    /// Every asymmetric algorithm tessera can sign with: the default allowlist.
    pub const ALL: [Algorithm; 10] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    fn verifier(self, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, josekit::JoseError> {
        Ok(match self {
            Algorithm::RS256 => Box::new(RS256.verifier_from_jwk(jwk)?),
            Algorithm::RS384 => Box::new(RS384.verifier_from_jwk(jwk)?),
            Algorithm::RS512 => Box::new(RS512.verifier_from_jwk(jwk)?),
            Algorithm::PS256 => Box::new(PS256.verifier_from_jwk(jwk)?),
            Algorithm::PS384 => Box::new(PS384.verifier_from_jwk(jwk)?),
            Algorithm::PS512 => Box::new(PS512.verifier_from_jwk(jwk)?),
            Algorithm::ES256 => Box::new(ES256.verifier_from_jwk(jwk)?),
            Algorithm::ES384 => Box::new(ES384.verifier_from_jwk(jwk)?),
            Algorithm::ES512 => Box::new(ES512.verifier_from_jwk(jwk)?),
            Algorithm::EdDSA => Box::new(EdDSA.verifier_from_jwk(jwk)?),
        })
    }
}

/// The claims of a verified access token (RFC 9068, as tessera issues them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    pub jti: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: Option<String>,
    /// The session (refresh family) of a user's token.
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub auth_time: Option<i64>,
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// The signing key (from the header).
    #[serde(skip)]
    pub kid: String,
    /// Any other claims.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// Whether the token's `scope` includes `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == scope))
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The crate's one reading of the wall clock (tessera's clippy.toml bans it elsewhere).
#[allow(clippy::disallowed_methods)]
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What a [`Verifier`] checks, and how it follows the issuer.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    client: Option<(String, String)>,
    poll_interval: Duration,
    max_staleness: Option<Duration>,
    background: bool,
    timeout: Duration,
}

impl Config {
    fn leeway_secs(&self) -> i64 {
        i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX)
    }
}

/// Sets a [`Verifier`] up: [`Verifier::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    config: Config,
}

impl Builder {
    /// The audience a token must name (`aud`); several calls accept any of them. Required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.config.audiences.push(audience.into());
        self
    }

    /// The algorithms accepted (default: every asymmetric one, [`Algorithm::ALL`]).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.config.algorithms = algorithms.to_vec();
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.config.leeway = leeway;
        self
    }

    /// A confidential client's credentials: the verifier follows the revocation feed.
    pub fn client_credentials(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.config.client = Some((id.into(), secret.into()));
        self
    }

    /// How often the feed is read (default 5 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval.max(Duration::from_millis(100));
        self
    }

    /// Refuse every token ([`Error::FeedStale`]) while the feed has not answered for
    /// longer than this (default: never; the revocations held keep applying).
    pub fn max_staleness(mut self, staleness: Duration) -> Self {
        self.config.max_staleness = Some(staleness);
        self
    }

    /// Whether background tasks keep keys fresh and follow the feed (default `true`;
    /// they need a Tokio runtime). Without them, keys and revocations are read once at
    /// `build`, and again only by [`Verifier::refresh_keys`] / [`Verifier::sync_feed`]
    /// (and a key refetch on an unknown kid).
    pub fn background(mut self, on: bool) -> Self {
        self.config.background = on;
        self
    }

    /// The time limit of every request to the issuer (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Reads the discovery document and the JWKS (both must answer), and the
    /// revocation feed once when credentials are given (a failure there is only logged:
    /// [`Verifier::feed_staleness`] tells), then starts the background tasks.
    pub async fn build(self) -> Result<Verifier, SetupError> {
        let config = self.config;
        if config.audiences.is_empty() {
            return Err(SetupError::Config("an audience is required".into()));
        }
        if config.algorithms.is_empty() {
            return Err(SetupError::Config("no algorithm is allowed".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("tessera-verify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SetupError::Config(e.to_string()))?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let fetch_error = |what: &'static str, url: &str| {
            let url = url.to_owned();
            move |reason: String| SetupError::Fetch { what, url, reason }
        };
        let discovery: serde_json::Value = async {
            let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("answered {}", response.status()));
            }
            response.json().await.map_err(|e| e.to_string())
        }
        .await
        .map_err(fetch_error("the discovery document", &url))?;
        if discovery["issuer"].as_str() != Some(config.issuer.as_str()) {
            return Err(SetupError::Config(format!(
                "the discovery document names issuer {} (expected {})",
                discovery["issuer"], config.issuer
            )));
        }
        let jwks_uri = discovery["jwks_uri"]
            .as_str()
            .ok_or_else(|| SetupError::Config("the discovery document has no jwks_uri".into()))?
            .to_owned();
        let keys = keys::KeyCache::new(jwks_uri.clone(), config.algorithms.clone());
        keys.refresh(&http)
            .await
            .map_err(fetch_error("the JWKS", &jwks_uri))?;
        let feed = match &config.client {
            None => None,
            Some((id, secret)) => {
                let endpoint = discovery["revocation_feed_endpoint"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| {
                        format!("{}/oauth2/revocations", config.issuer.trim_end_matches('/'))
                    });
                let follower = feed::Follower::new(endpoint, id.clone(), secret.clone());
                if let Err(e) = follower.sync(&http, config.leeway_secs()).await {
                    tracing::warn!(error = %e, "revocation feed unreachable at start");
                }
                Some(follower)
            }
        };
        let inner = Arc::new(Inner {
            config,
            http,
            keys,
            feed,
        });
        if inner.config.background {
            let weak = Arc::downgrade(&inner);
            tokio::spawn(keys::KeyCache::keep_fresh(weak.clone()));
            if inner.feed.is_some() {
                tokio::spawn(feed::Follower::follow(weak, inner.config.poll_interval));
            }
        }
        Ok(Verifier { inner })
    }
}

pub(crate) struct Inner {
    config: Config,
    http: reqwest::Client,
    keys: keys::KeyCache,
    feed: Option<feed::Follower>,
}

/// Verifies access tokens offline. Cheap to clone (one shared cache); the background
/// tasks stop when the last clone is dropped.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.config.issuer)
            .field("audiences", &self.inner.config.audiences)
            .finish_non_exhaustive()
    }
}

/// The longest token accepted: tessera's are well under 2 KB.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

impl Verifier {
    /// A builder for tokens of `issuer` (exactly as its discovery document names it).
    pub fn builder(issuer: impl Into<String>) -> Builder {
        Builder {
            config: Config {
                issuer: issuer.into(),
                audiences: Vec::new(),
                algorithms: Algorithm::ALL.to_vec(),
                leeway: Duration::from_secs(30),
                client: None,
                poll_interval: Duration::from_secs(5),
                max_staleness: None,
                background: true,
                timeout: Duration::from_secs(5),
            },
        }
    }

    /// Verifies an access token; waits on the network only when its `kid` is unknown.
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        let (kid, alg) = self.header(token)?;
        let key = match self.inner.keys.get(&kid) {
            Some(key) => key,
            None => self
                .inner
                .keys
                .on_miss(&self.inner.http, &kid)
                .await
                .ok_or(Error::UnknownKid)?,
        };
        self.finish(token, kid, alg, &key)
    }

    /// Verifies with the keys held only (never touches the network): a token signed by a
    /// key the cache does not hold is [`Error::UnknownKid`].
    pub fn verify_cached(&self, token: &str) -> Result<Claims, Error> {
        let (kid, alg) = self.header(token)?;
        let key = self.inner.keys.get(&kid).ok_or(Error::UnknownKid)?;
        self.finish(token, kid, alg, &key)
    }

    /// The header's `kid` and `alg`, checked before any key is looked up.
    fn header(&self, token: &str) -> Result<(String, Algorithm), Error> {
        if token.len() > MAX_TOKEN_BYTES || token.split('.').count() != 3 {
            return Err(Error::Malformed);
        }
        let header = josekit::jwt::decode_header(token).map_err(|_| Error::Malformed)?;
        let typ = header
            .claim("typ")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if !typ.eq_ignore_ascii_case("at+jwt") && !typ.eq_ignore_ascii_case("application/at+jwt") {
            return Err(Error::WrongType);
        }
        let alg = header
            .claim("alg")
            .and_then(|v| v.as_str())
            .ok_or(Error::Malformed)?;
        let alg = Algorithm::parse(alg)
            .filter(|a| self.inner.config.algorithms.contains(a))
            .ok_or(Error::DisallowedAlgorithm)?;
        let kid = header
            .claim("kid")
            .and_then(|v| v.as_str())
            .filter(|k| !k.is_empty() && k.len() <= 256)
            .ok_or(Error::Malformed)?;
        Ok((kid.to_owned(), alg))
    }

    fn finish(
        &self,
        token: &str,
        kid: String,
        alg: Algorithm,
        key: &keys::Key,
    ) -> Result<Claims, Error> {
        if key.alg != alg {
            return Err(Error::DisallowedAlgorithm);
        }
        let (payload, _) = josekit::jwt::decode_with_verifier(token, key.verifier.as_ref())
            .map_err(|e| match e {
                josekit::JoseError::InvalidSignature(_) => Error::BadSignature,
                _ => Error::Malformed,
            })?;
        let map = serde_json::Value::Object(payload.claims_set().clone());
        let mut claims: Claims = serde_json::from_value(map).map_err(|_| Error::Malformed)?;
        claims.kid = kid;
        let config = &self.inner.config;
        if claims.iss != config.issuer {
            return Err(Error::WrongIssuer);
        }
        if !claims.aud.iter().any(|a| config.audiences.contains(a)) {
            return Err(Error::WrongAudience);
        }
        let (now, leeway) = (unix_now(), config.leeway_secs());
        if now > claims.exp.saturating_add(leeway) {
            return Err(Error::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        {
            return Err(Error::NotYetValid);
        }
        if let Some(feed) = &self.inner.feed {
            if config
                .max_staleness
                .is_some_and(|max| feed.staleness() > max)
            {
                return Err(Error::FeedStale);
            }
            if let Some(why) = feed.check(&claims) {
                return Err(Error::Revoked(why));
            }
        }
        Ok(claims)
    }

    /// How long since the revocation feed last answered (`None` without credentials).
    pub fn feed_staleness(&self) -> Option<Duration> {
        self.inner.feed.as_ref().map(feed::Follower::staleness)
    }

    /// Reads the revocation feed now; how many events were applied.
    pub async fn sync_feed(&self) -> Result<usize, String> {
        match &self.inner.feed {
            Some(feed) => {
                feed.sync(&self.inner.http, self.inner.config.leeway_secs())
                    .await
            }
            None => Err("no client credentials: the verifier does not follow the feed".into()),
        }
    }

    /// Fetches the JWKS now (with `ETag`); on failure the keys held stay in use.
    pub async fn refresh_keys(&self) -> Result<Refresh, String> {
        self.inner.keys.refresh(&self.inner.http).await
    }

    /// The kids of the keys held.
    pub fn kids(&self) -> Vec<String> {
        self.inner.keys.kids()
    }
}
