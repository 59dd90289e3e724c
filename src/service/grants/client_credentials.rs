//! `grant_type=client_credentials` (RFC 6749 §4.4): confidential clients only; `sub` is the
//! client id; no refresh token and no ID token.

use super::{resolve_scope, TokenIssuer, TokenResponse};
use crate::domain::OAuthError;
use crate::domain::{Client, GrantType};

/// OpenID Connect scopes that only make sense with a user.
const USER_SCOPES: [&str; 3] = ["openid", "email", "profile"];

pub fn grant(
    issuer: &TokenIssuer,
    client: &Client,
    scope: Option<&str>,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    if client.public || !client.allows(GrantType::ClientCredentials) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use client_credentials",
        ));
    }
    let requested = scope.is_some();
    let mut scope = resolve_scope(client, scope)?;
    if requested && USER_SCOPES.iter().any(|s| scope.contains(s)) {
        return Err(OAuthError::InvalidScope(
            "openid, email and profile need a user; client_credentials has none".into(),
        ));
    }
    // by default: what the client may request, less the scopes that describe a user
    scope = scope.without(&USER_SCOPES);
    let (access_token, expires_in) =
        issuer.access_token(client, client.id.as_str(), &scope, None, jkt)?;
    crate::metrics::token_issued("client_credentials");
    Ok(TokenResponse {
        access_token,
        token_type: super::issuer::token_type(jkt.is_some()),
        expires_in,
        scope: scope.to_string(),
        refresh_token: None,
        id_token: None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use time::macros::datetime;

    use super::*;
    use crate::clock::{Clock, FixedClock};
    use crate::crypto::{Kek, SigningAlg};
    use crate::domain::ClientId;
    use crate::service::grants::TokenPolicy;
    use crate::tokens::{verify_access_token, Expected, KeyRing, KeyRingConfig};

    fn machine(scopes: &[&str]) -> Client {
        Client {
            id: ClientId::parse("reports").unwrap_or_else(|e| unreachable!("{e}")),
            name: "reports".into(),
            secret_sha256: Some([7; 32]),
            public: false,
            first_party: false,
            grant_types: vec![GrantType::ClientCredentials],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            audiences: vec!["https://api.example".into()],
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            id_token_alg: SigningAlg::Es256,
            access_token_ttl: Some(Duration::from_secs(120)),
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            security: Default::default(),
        }
    }

    /// The grant needs a key ring, a clock and the policy: an embedded store file holds
    /// the keys, and nothing else of an application exists.
    #[tokio::test]
    async fn a_client_credentials_grant_runs_on_an_issuer_alone() -> anyhow::Result<()> {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(datetime!(2026-12-06 12:00 UTC)));
        let path = std::env::temp_dir().join(format!("tessera-issuer-{}", uuid::Uuid::new_v4()));
        let backend = crate::store::embedded(&path, 1, Duration::ZERO).await?;
        backend.migrator.migrate().await?;
        let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        let kek = Kek::from_base64(&base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            key,
        ))
        .map_err(anyhow::Error::msg)?;
        let config = KeyRingConfig {
            algs: vec![SigningAlg::Es256],
            rsa_bits: 2048,
            retire_after: Duration::from_secs(3600),
            rotation_interval: None,
            jwks_max_age: Duration::from_secs(300),
            jwks_stale_while_revalidate: Duration::ZERO,
        };
        let keyring = KeyRing::load(
            backend.stores.keys.clone(),
            kek.clone(),
            config,
            clock.clone(),
        )
        .await?;
        keyring.ensure_keys().await?;
        let issuer = TokenIssuer::new(
            Arc::new(keyring),
            clock.clone(),
            TokenPolicy {
                issuer: "https://id.example".into(),
                signing_alg: SigningAlg::Es256,
                default_audience: "https://default.example".into(),
                access_token_ttl: Duration::from_secs(600),
                clock_leeway: Duration::from_secs(30),
                refresh_idle_ttl: Duration::from_secs(3600),
                refresh_absolute_ttl: Duration::from_secs(86_400),
                refresh_grace: Duration::from_secs(10),
            },
            kek,
        );

        let answer = grant(&issuer, &machine(&["reports:read", "openid"]), None, None)?;
        assert_eq!(answer.scope, "reports:read", "the user scopes are left out");
        assert_eq!(answer.expires_in, 120, "the client's own lifetime");
        assert!(answer.refresh_token.is_none() && answer.id_token.is_none());
        let expected = Expected {
            issuer: "https://id.example",
            nbf_leeway_secs: 0,
            now: clock.now().unix_timestamp(),
        };
        let claims = verify_access_token(&issuer.keyring, &answer.access_token, &expected)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        assert_eq!(claims.sub, "reports");
        assert_eq!(claims.aud.0, vec!["https://api.example".to_owned()]);
        assert_eq!(claims.exp, claims.iat + 120);

        let refused = grant(&issuer, &machine(&["reports:read"]), Some("openid"), None);
        assert!(matches!(refused, Err(OAuthError::InvalidScope(_))));
        drop(backend);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        Ok(())
    }
}
