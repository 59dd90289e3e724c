//! The backends' settings (book § Run the service, book § Running many instances): the embedded store or PostgreSQL + Redis,
//! their URLs (never echoed in errors) and Redis's TLS trust.

use secrecy::SecretString;

use super::parse::Parser;
use super::StoreSettings;

impl Parser {
    /// The embedded store, or PostgreSQL + Redis when both URLs are set (book § Run the service).
    pub(super) fn store(&mut self) -> StoreSettings {
        let database_url = self.opt_secret_url("database_url", &["postgres", "postgresql"]);
        let redis_cluster = self.boolean("redis_cluster", false);
        let (redis_url, seeds) = self.redis_urls(redis_cluster).unzip();
        let data_dir = self.opt_string("data_dir");
        let redis_ca = self.redis_ca(seeds.as_deref().unwrap_or_default());
        self.postgres_tls(database_url.as_ref());
        match (database_url, redis_url) {
            (Some(database_url), Some(redis_url)) => StoreSettings::External {
                database_url,
                redis_url,
                redis_cluster,
                redis_ca,
            },
            (None, None) if redis_cluster => {
                self.error(
                    "redis_cluster",
                    "needs REDIS_URL (the cluster's seed nodes) and DATABASE_URL",
                );
                StoreSettings::Embedded {
                    data_dir: "".into(),
                }
            }
            (None, None) => StoreSettings::Embedded {
                data_dir: data_dir.unwrap_or_else(|| "./tessera-data".into()).into(),
            },
            (Some(_), None) => {
                self.error("redis_url", "is required when DATABASE_URL is set: PostgreSQL and Redis run together; unset DATABASE_URL for the embedded store");
                StoreSettings::Embedded {
                    data_dir: "".into(),
                }
            }
            (None, Some(_)) => {
                self.error("database_url", "is required when REDIS_URL is set: PostgreSQL and Redis run together; unset REDIS_URL for the embedded store");
                StoreSettings::Embedded {
                    data_dir: "".into(),
                }
            }
        }
    }

    /// `sslmode` and `sslrootcert` in `DATABASE_URL` (libpq's meaning, book § Running many instances): an unknown
    /// mode or an unreadable root certificate is a configuration error, not a retry loop.
    fn postgres_tls(&mut self, database_url: Option<&SecretString>) {
        use secrecy::ExposeSecret;
        let Some(url) = database_url else {
            return;
        };
        match crate::store::postgres::tls::split(url.expose_secret()) {
            Err(e) => self.error("database_url", e),
            Ok(split) => {
                if let Err(e) = crate::store::postgres::tls::client_config(
                    split.mode,
                    split.root_cert.as_deref(),
                ) {
                    self.error("database_url", e);
                }
            }
        }
    }

    /// `REDIS_URL`: one URL, or with `TESSERA_REDIS_CLUSTER` the cluster's seed nodes as
    /// comma-separated URLs, all `redis://` or all `rediss://` (never echoed in errors);
    /// with the seeds that parse, for the TLS checks.
    fn redis_urls(&mut self, cluster: bool) -> Option<(SecretString, Vec<url::Url>)> {
        let urls = self.secret("redis_url")?;
        let seeds: Vec<Option<url::Url>> = urls
            .split(',')
            .map(|seed| {
                url::Url::parse(seed.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "redis" | "rediss") && u.host().is_some())
            })
            .collect();
        let several = seeds.len() > 1;
        let message = if seeds.iter().any(Option::is_none) {
            Some(if several {
                "every seed node must be an absolute URL with scheme redis or rediss"
            } else {
                "must be an absolute URL with scheme redis or rediss"
            })
        } else if several && !cluster {
            Some("lists several servers: set TESSERA_REDIS_CLUSTER=true for a Redis Cluster's seed nodes")
        } else if seeds
            .windows(2)
            .any(|w| w[0].as_ref().map(url::Url::scheme) != w[1].as_ref().map(url::Url::scheme))
        {
            Some("mixes redis:// and rediss:// seed nodes")
        } else if cluster
            && seeds
                .iter()
                .flatten()
                .any(|u| !matches!(u.path(), "" | "/" | "/0"))
        {
            Some("names a database, but a Redis Cluster has only database 0")
        } else {
            None
        };
        if let Some(message) = message {
            self.error("redis_url", message);
        }
        let seeds = seeds.into_iter().flatten().collect();
        Some((SecretString::from(urls), seeds))
    }

    /// The private CA for `rediss://` (`TESSERA_REDIS_CA_FILE`), read now so a missing file
    /// is a configuration error; TLS that skips verification (`#insecure`) is refused.
    fn redis_ca(&mut self, seeds: &[url::Url]) -> Option<Vec<u8>> {
        if seeds.iter().any(|u| u.fragment().is_some()) {
            self.error(
                "redis_url",
                "must not have a fragment (#insecure would skip certificate verification)",
            );
        }
        let file = self.opt_string("redis_ca_file")?;
        if seeds.first().is_some_and(|u| u.scheme() != "rediss") {
            self.error(
                "redis_ca_file",
                "applies to rediss:// URLs only (REDIS_URL is not TLS)",
            );
        }
        self.pem_certificates("redis_ca_file", &file)
    }

    /// The PEM certificates in `file`, named by setting `key`: read now, so a missing or
    /// empty file is a configuration error.
    pub(super) fn pem_certificates(&mut self, key: &str, file: &str) -> Option<Vec<u8>> {
        match std::fs::read(file) {
            Ok(pem) if String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") => {
                Some(pem)
            }
            Ok(_) => {
                self.error(key, format!("{file} holds no PEM certificate"));
                None
            }
            Err(e) => {
                self.error(key, format!("{file} cannot be read: {e}"));
                None
            }
        }
    }

    /// An optional URL that may carry credentials (never echoed in errors).
    pub(super) fn opt_secret_url(&mut self, key: &str, schemes: &[&str]) -> Option<SecretString> {
        let v = self.secret(key)?;
        match url::Url::parse(&v) {
            Ok(url) if schemes.contains(&url.scheme()) && url.host().is_some() => {}
            _ => self.error(
                key,
                format!(
                    "must be an absolute URL with scheme {}",
                    schemes.join(" or ")
                ),
            ),
        }
        Some(SecretString::from(v))
    }
}
