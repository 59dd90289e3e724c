//! The token issuer (RFC 9068 access tokens, OpenID Connect Core §2 ID tokens): signs
//! the tokens a grant decided on with the key ring's active key, under the lifetimes and
//! audience of the issuance policy. It reads no store and knows no HTTP, so a grant that
//! only signs (`client_credentials`) runs in a unit test or a command with nothing else.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::{Kek, SigningAlg};
use crate::domain::{Client, OAuthError, Scope, User};
use crate::store::Family;
use crate::tokens::ACCESS_TOKEN_TYP;
use crate::tokens::{self, refresh, AccessClaims, Audience, IdClaims, KeyRing, UserInfo};

use super::TokenResponse;

/// The longest access-token lifetime a client may be configured with.
const MAX_ACCESS_TTL: Duration = Duration::from_secs(3600);

/// What the issuance policy fixes (book § Configuration).
#[derive(Clone)]
pub struct TokenPolicy {
    /// `iss` of every token.
    pub issuer: String,
    /// The algorithm access tokens are signed with.
    pub signing_alg: SigningAlg,
    /// `aud` of a client's access tokens when the client names none.
    pub default_audience: String,
    /// A client's access-token lifetime when it sets none.
    pub access_token_ttl: Duration,
    /// How long a session without refresh tokens outlives its access token.
    pub clock_leeway: Duration,
    /// A refresh token unused this long expires.
    pub refresh_idle_ttl: Duration,
    /// A session ends this long after it started, however it is used.
    pub refresh_absolute_ttl: Duration,
    /// How long the token a rotation retired is still answered with the same successor.
    pub refresh_grace: Duration,
}

impl TokenPolicy {
    pub fn new(settings: &Settings) -> Self {
        TokenPolicy {
            issuer: settings.issuer.clone(),
            signing_alg: settings.signing_alg,
            default_audience: settings.default_audience.clone(),
            access_token_ttl: settings.access_token_ttl,
            clock_leeway: settings.clock_leeway,
            refresh_idle_ttl: settings.refresh_idle_ttl,
            refresh_absolute_ttl: settings.refresh_absolute_ttl,
            refresh_grace: settings.refresh_grace,
        }
    }
}

/// What a user's token set carries besides the session: the refresh token, the
/// authorization request's `nonce` and the DPoP key the access token is bound to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Issued<'a> {
    pub refresh: Option<&'a refresh::RefreshToken>,
    pub nonce: Option<&'a str>,
    pub jkt: Option<&'a str>,
}

/// Signs tokens: the key ring, the clock and the policy, nothing else.
#[derive(Clone)]
pub struct TokenIssuer {
    pub keyring: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    pub policy: TokenPolicy,
    /// Keys the derivation of a rotation's next refresh token.
    kek: Kek,
}

impl TokenIssuer {
    /// `kek` keys the derivation of rotated refresh tokens.
    pub fn new(
        keyring: Arc<KeyRing>,
        clock: Arc<dyn Clock>,
        policy: TokenPolicy,
        kek: Kek,
    ) -> Self {
        TokenIssuer {
            keyring,
            clock,
            policy,
            kek,
        }
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// The successor of the refresh token whose hash is `replaced`: the same for every
    /// retry of one rotation.
    pub fn next_refresh(
        &self,
        handle: &refresh::Handle,
        replaced: &[u8; 32],
    ) -> refresh::RefreshToken {
        handle.issue_after(&self.kek, replaced)
    }

    /// The client's access-token lifetime (at most an hour).
    pub fn access_ttl(&self, client: &Client) -> Duration {
        client
            .access_token_ttl
            .unwrap_or(self.policy.access_token_ttl)
            .min(MAX_ACCESS_TTL)
    }

    /// The algorithm of a client's access tokens: the configured one, or for a `fapi2`
    /// client one that profile allows.
    fn access_alg(&self, client: &Client) -> Result<SigningAlg, OAuthError> {
        if client.is_fapi2() {
            self.fapi2_alg()
        } else {
            Ok(self.policy.signing_alg)
        }
    }

    /// What a `fapi2` client's tokens are signed with (FAPI 2.0 §5.4: PS256, ES256 or
    /// EdDSA, never RS256): the configured algorithm when it is one of those, else the
    /// first of them the key ring holds.
    fn fapi2_alg(&self) -> Result<SigningAlg, OAuthError> {
        let allowed = [SigningAlg::Es256, SigningAlg::Ps256, SigningAlg::EdDsa];
        std::iter::once(self.policy.signing_alg)
            .chain(allowed)
            .find(|alg| allowed.contains(alg) && self.keyring.signer(*alg).is_some())
            .ok_or(OAuthError::UnauthorizedClient(
                "the fapi2 profile needs an ES256, PS256 or EdDSA signing key (TESSERA_SIGNING_ALGS)",
            ))
    }

    fn audiences(&self, client: &Client) -> Audience {
        if client.audiences.is_empty() {
            Audience(vec![self.policy.default_audience.clone()])
        } else {
            Audience(client.audiences.clone())
        }
    }

    /// Signs an access token for `sub`; `session` is set for user tokens, `jkt` for a token
    /// bound to a DPoP key. Returns it with its lifetime in seconds.
    pub fn access_token(
        &self,
        client: &Client,
        sub: &str,
        scope: &Scope,
        session: Option<&Family>,
        jkt: Option<&str>,
    ) -> Result<(String, u64), OAuthError> {
        let now = self.now();
        let ttl = self.access_ttl(client).as_secs();
        let methods = session.map(|f| crate::domain::methods::split(&f.amr));
        let claims = AccessClaims {
            iss: self.policy.issuer.clone(),
            sub: sub.to_owned(),
            aud: self.audiences(client),
            exp: now + ttl as i64,
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            client_id: client.id.to_string(),
            scope: scope.to_string(),
            sid: session.map(|f| f.id.clone()),
            auth_time: session.map(|f| f.auth_time.unix_timestamp()),
            amr: methods.as_ref().map(|(amr, _)| amr.clone()),
            idp: methods.and_then(|(_, idp)| idp),
            cnf: jkt.map(|jkt| tokens::Confirmation {
                jkt: jkt.to_owned(),
            }),
        };
        let token = tokens::sign(
            &self.keyring,
            self.access_alg(client)?,
            ACCESS_TOKEN_TYP,
            &claims,
        )?;
        Ok((token, ttl))
    }

    fn id_token(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        family: &Family,
        access_token: &str,
        nonce: Option<&str>,
    ) -> Result<String, OAuthError> {
        let now = self.now();
        let alg = match client.is_fapi2() {
            true => self.fapi2_alg()?,
            false => self.keyring.id_token_alg(client.id_token_alg),
        };
        let (amr, idp) = crate::domain::methods::split(&family.amr);
        let claims = IdClaims {
            iss: self.policy.issuer.clone(),
            aud: client.id.to_string(),
            exp: now + self.access_ttl(client).as_secs() as i64,
            iat: now,
            auth_time: family.auth_time.unix_timestamp(),
            nonce: nonce.map(str::to_owned),
            at_hash: Some(at_hash(alg, access_token)),
            amr,
            idp,
            sid: family.id.clone(),
            user: UserInfo::new(user, |s| scope.contains(s)),
        };
        Ok(tokens::sign(&self.keyring, alg, "JWT", &claims)?)
    }

    /// Tokens for a user session: access token (bound to `with.jkt` when the request
    /// carried a DPoP proof), ID token with `openid` (which needs `user`, and echoes
    /// `with.nonce`), and `with.refresh` when the client may refresh.
    pub fn user_tokens(
        &self,
        client: &Client,
        user: Option<&User>,
        scope: &Scope,
        family: &Family,
        with: Issued<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let Issued {
            refresh,
            nonce,
            jkt,
        } = with;
        let sub = family.user_id.to_string();
        let (access_token, expires_in) =
            self.access_token(client, &sub, scope, Some(family), jkt)?;
        let id_token = match user {
            Some(user) if scope.contains("openid") => {
                Some(self.id_token(client, user, scope, family, &access_token, nonce)?)
            }
            _ => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type: token_type(jkt.is_some()),
            expires_in,
            scope: scope.to_string(),
            refresh_token: refresh.map(|r| r.expose().to_owned()),
            id_token,
        })
    }
}

/// `DPoP` for a token bound to a key (RFC 9449 §5), `Bearer` otherwise.
pub fn token_type(bound: bool) -> &'static str {
    if bound {
        "DPoP"
    } else {
        "Bearer"
    }
}

/// OIDC Core §3.1.3.6 `at_hash`: the left half of the access token's hash, with the hash
/// of the ID token's algorithm (SHA-512 for Ed25519).
fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest: Vec<u8> = match alg {
        SigningAlg::EdDsa => sha2::Sha512::digest(access_token).to_vec(),
        _ => sha2::Sha256::digest(access_token).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}
