//! Claim sets: RFC 9068 access tokens and OpenID Connect ID tokens.

use crate::domain::FamilyId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

/// `aud`: a single string when there is one audience (what most verifiers expect), an
/// array otherwise; either form is accepted when reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(pub Vec<String>);

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(a) => Audience(vec![a]),
            OneOrMany::Many(v) => Audience(v),
        })
    }
}

/// RFC 9068 access-token claims (RFC 9068, book § Endpoints).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// Session (refresh family) id; present only for user tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<FamilyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The upstream provider the user signed in through (book § Upstream providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// The key the token is bound to (RFC 9449 §6): only a DPoP proof signed by it
    /// presents the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 `cnf` with the RFC 9449 §6.1 `jkt` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Confirmation {
    /// The SHA-256 JWK thumbprint (RFC 7638) of the DPoP key.
    pub jkt: String,
}

impl AccessClaims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// OpenID Connect Core §2 ID-token claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// OIDC Core §3.1.3.6: binds the access token issued with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    pub amr: Vec<String>,
    /// The upstream provider the user signed in through (book § Upstream providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    pub sid: FamilyId,
    /// `sub` and the user claims the scope grants, exactly as userinfo answers them.
    #[serde(flatten)]
    pub user: UserInfo,
}

/// The event a logout token announces (OpenID Connect Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` of a logout token (OpenID Connect Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// Logout-token claims (OpenID Connect Back-Channel Logout 1.0 §2.4): never a `nonce`,
/// always `sid` and `sub`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: String,
    pub sid: FamilyId,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
    pub events: serde_json::Value,
}

impl LogoutClaims {
    /// The claims telling `aud` that session `sid` of `sub` ended, issued at `now` (Unix
    /// seconds) and good for two minutes; `jti` stays the same when one logout is
    /// delivered again.
    pub fn new(iss: &str, aud: &str, sub: &str, sid: FamilyId, jti: &str, now: i64) -> Self {
        LogoutClaims {
            iss: iss.to_owned(),
            aud: aud.to_owned(),
            iat: now,
            exp: now + 120,
            jti: jti.to_owned(),
            sub: sub.to_owned(),
            sid,
            events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        }
    }
}

/// Standard claims; `email*` with scope `email`, `name` with scope `profile`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl UserInfo {
    /// The claims about `user` that the granted scope allows (OIDC Core §5.4).
    pub fn new(user: &crate::domain::User, has_scope: impl Fn(&str) -> bool) -> Self {
        let (email, profile) = (has_scope("email"), has_scope("profile"));
        UserInfo {
            sub: user.id.to_string(),
            email: email.then(|| user.email.as_str().to_owned()),
            email_verified: email.then_some(user.email_verified),
            name: if profile { user.name.clone() } else { None },
        }
    }
}
