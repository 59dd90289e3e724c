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
//! A token bound to a key (`cnf.jkt`, RFC 9449) is accepted only with a DPoP proof by
//! that key: [`Verifier::verify_dpop`] checks the proof (signature, `htm`, `htu`, `iat`,
//! `ath`, and its `jti` once), and [`Verifier::verify`] refuses such a token presented as
//! a bearer token.
//!
//! With the `actix` feature, [`actix::BearerToken`] is an extractor that takes
//! `Authorization: Bearer` and `Authorization: DPoP` (with the `DPoP` header) and answers
//! `401` with a `WWW-Authenticate` challenge for a refused token.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

mod algorithm;
mod body;
mod builder;
mod claims;
pub mod dpop;
mod error;
mod feed;
mod keys;
mod replay;
pub mod verifiers;

#[cfg(feature = "actix")]
pub mod actix;

pub use algorithm::Algorithm;
pub use builder::Builder;
use builder::Config;
pub use claims::{Claims, Confirmation};
pub use error::{Error, Revocation, SetupError};
pub use keys::{cache_max_age, Refresh};

/// The crate's one reading of the wall clock (tessera's clippy.toml bans it elsewhere).
#[allow(clippy::disallowed_methods)]
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) struct Inner {
    config: Config,
    http: reqwest::Client,
    keys: keys::KeyCache,
    feed: Option<feed::Follower>,
    /// DPoP proofs seen (replay).
    seen: replay::Seen,
    /// Checks DPoP proofs, keeping the verifiers of the keys seen.
    proofs: dpop::Checker,
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

/// How far a DPoP proof's `iat` may be from now, either way (seconds).
const DPOP_WINDOW: i64 = 60;

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

    /// A verifier over the fixed key set `jwks`, with no issuer to ask and no feed: for the
    /// crate's fuzz target and property tests (`verify_cached` is its only use). Not an API.
    #[doc(hidden)]
    pub fn offline(
        issuer: &str,
        audience: &str,
        jwks: &serde_json::Value,
    ) -> Result<Verifier, SetupError> {
        let config = Verifier::builder(issuer)
            .audience(audience)
            .background(false)
            .config;
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| SetupError::Config(e.to_string()))?;
        let keys = keys::KeyCache::fixed(jwks, config.algorithms.clone());
        Ok(Verifier {
            inner: Arc::new(Inner {
                config,
                http,
                keys,
                feed: None,
                seen: Default::default(),
                proofs: Default::default(),
            }),
        })
    }

    /// Verifies an access token presented as a bearer token; waits on the network only
    /// when its `kid` is unknown. A DPoP-bound token is refused ([`Error::DpopBound`]).
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        let claims = self.verify_any(token).await?;
        if claims.cnf.is_some() {
            return Err(Error::DpopBound);
        }
        Ok(claims)
    }

    /// Verifies a DPoP-bound access token (`Authorization: DPoP`) and its proof (the `DPoP`
    /// header) for a request with `method` to `url` (as the client addressed it: scheme,
    /// host and path; the query is ignored). The proof must be signed by the key the token
    /// is bound to, name this request, be at most 60 s from now, carry the token's hash
    /// (`ath`), and not have been seen before.
    pub async fn verify_dpop(
        &self,
        token: &str,
        proof: &str,
        method: &str,
        url: &str,
    ) -> Result<Claims, Error> {
        let claims = self.verify_any(token).await?;
        let bound = claims.cnf.as_ref().ok_or(Error::NotDpopBound)?;
        let now = unix_now();
        let expect = dpop::Expect {
            method,
            url,
            now,
            window: DPOP_WINDOW,
            access_token: Some(token),
        };
        let checked = self
            .inner
            .proofs
            .check(proof, &expect)
            .map_err(Error::Dpop)?;
        if checked.jkt != bound.jkt {
            return Err(Error::Dpop(dpop::ProofError::WrongKey));
        }
        let until = checked.iat + DPOP_WINDOW;
        if !self
            .inner
            .seen
            .first(&checked.jkt, &checked.jti, now, until)
        {
            return Err(Error::Dpop(dpop::ProofError::Replayed));
        }
        Ok(claims)
    }

    async fn verify_any(&self, token: &str) -> Result<Claims, Error> {
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
