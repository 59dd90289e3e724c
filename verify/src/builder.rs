//! Setting a verifier up: what it checks and how it follows the issuer.

use std::sync::Arc;
use std::time::Duration;

use crate::{feed, keys, Algorithm, Inner, SetupError, Verifier};

/// What a [`Verifier`] checks, and how it follows the issuer.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway: Duration,
    pub(crate) client: Option<(String, String)>,
    pub(crate) poll_interval: Duration,
    pub(crate) max_staleness: Option<Duration>,
    pub(crate) background: bool,
    pub(crate) timeout: Duration,
}

/// Everything but the client secret, which is shown as `REDACTED`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field(
                "client",
                &self.client.as_ref().map(|(id, _)| (id, "REDACTED")),
            )
            .field("poll_interval", &self.poll_interval)
            .field("max_staleness", &self.max_staleness)
            .field("background", &self.background)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Config {
    pub(crate) fn leeway_secs(&self) -> i64 {
        i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX)
    }
}

/// Sets a [`Verifier`] up: [`Verifier::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    pub(crate) config: Config,
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

    /// Refuse every token ([`Error::FeedStale`](crate::Error::FeedStale)) while the feed has not answered for
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
    ///
    /// It needs a Tokio runtime (its HTTP client and background tasks run on one): called
    /// outside one, it answers [`SetupError::Config`] instead of panicking.
    pub async fn build(self) -> Result<Verifier, SetupError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SetupError::Config(
                "tessera-verify needs a Tokio runtime: build the verifier inside one (#[tokio::main], or Runtime::block_on)".into(),
            ));
        }
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
            crate::body::json(response).await
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
            seen: Default::default(),
            proofs: Default::default(),
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
