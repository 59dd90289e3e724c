//! What can go wrong: a token refused (with a stable kebab-case reason), or the set-up.

/// Why a token was refused. [`Error::reason`] is a stable kebab-case name for logs and
/// for the `check` example's output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a compact JWS, or its header or claims are not what an access token carries.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// Signed with a key the issuer does not publish (after one refetch at most).
    #[error("the token's key is not published by the issuer")]
    UnknownKid,
    /// The header names an algorithm outside the allowlist, or not the key's own.
    #[error("the token's algorithm is not allowed")]
    DisallowedAlgorithm,
    #[error("the signature does not verify")]
    BadSignature,
    /// `typ` is not `at+jwt` (RFC 9068): an ID token, say.
    #[error("the token is not an access token (typ)")]
    WrongType,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token is not for this audience")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Revoked at the issuer: its `jti`, its session, its user's cut-off or its key.
    #[error("the token was revoked ({0})")]
    Revoked(Revocation),
    /// The revocation feed has not answered for longer than the configured maximum.
    #[error("the revocation feed is stale")]
    FeedStale,
    /// A DPoP-bound token presented as a bearer token.
    #[error("the token is DPoP-bound: present it with a DPoP proof")]
    DpopBound,
    /// A DPoP presentation of a token bound to no key.
    #[error("the token is not DPoP-bound")]
    NotDpopBound,
    /// The DPoP proof fails a check, is not by the token's key, or was seen before.
    #[error("{0}")]
    Dpop(crate::dpop::ProofError),
}

/// What revoked a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    Token,
    Session,
    User,
    Key,
    /// The client it was issued to was deleted, or its tokens revoked by an admin.
    Client,
}

impl std::fmt::Display for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Revocation::Token => "token",
            Revocation::Session => "session",
            Revocation::User => "user",
            Revocation::Key => "key",
            Revocation::Client => "client",
        })
    }
}

impl Error {
    /// A stable kebab-case name: `malformed`, `unknown-kid`, `disallowed-algorithm`,
    /// `bad-signature`, `wrong-type`, `wrong-issuer`, `wrong-audience`, `expired`,
    /// `not-yet-valid`, `revoked`, `feed-stale`, `dpop-bound`, `not-dpop-bound`,
    /// `invalid-dpop-proof`.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Malformed => "malformed",
            Error::UnknownKid => "unknown-kid",
            Error::DisallowedAlgorithm => "disallowed-algorithm",
            Error::BadSignature => "bad-signature",
            Error::WrongType => "wrong-type",
            Error::WrongIssuer => "wrong-issuer",
            Error::WrongAudience => "wrong-audience",
            Error::Expired => "expired",
            Error::NotYetValid => "not-yet-valid",
            Error::Revoked(_) => "revoked",
            Error::FeedStale => "feed-stale",
            Error::DpopBound => "dpop-bound",
            Error::NotDpopBound => "not-dpop-bound",
            Error::Dpop(_) => "invalid-dpop-proof",
        }
    }
}

/// Why a [`Verifier`](crate::Verifier) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The discovery document or the JWKS could not be fetched or read.
    #[error("{what} at {url}: {reason}")]
    Fetch {
        what: &'static str,
        url: String,
        reason: String,
    },
}
