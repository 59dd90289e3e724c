//! Error responses several endpoints document alike (book § Layout), each declared once as a
//! utoipa `IntoResponses` type and named in the handlers' `responses(...)`.

use utoipa::IntoResponses;

use super::{ErrorBody, OAuthErrorBody};

/// 401 on the admin listener.
#[derive(IntoResponses)]
#[response(status = 401, description = "Missing or wrong admin token")]
pub struct AdminTokenRefused(#[allow(dead_code)] ErrorBody);

/// 503 while hashing or a backend is saturated.
#[derive(IntoResponses)]
#[response(status = 503, description = "Busy; retry after Retry-After")]
pub struct Busy(#[allow(dead_code)] ErrorBody);

/// 404 for an unknown user id.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such user")]
pub struct NoSuchUser(#[allow(dead_code)] ErrorBody);

/// 404 for an unknown provider id.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such provider")]
pub struct NoSuchProvider(#[allow(dead_code)] ErrorBody);

/// 404 for an unknown client id.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such client")]
pub struct NoSuchClient(#[allow(dead_code)] ErrorBody);

/// 403 when a second-factor change needs a fresh sign-in.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "`reauthentication_required`: the sign-in is older than five minutes; send `password`"
)]
pub struct ReauthenticationRequired(#[allow(dead_code)] ErrorBody);

/// 429 after too many wrong passwords at a step-up.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many wrong passwords: the account is locked"
)]
pub struct AccountLocked(#[allow(dead_code)] ErrorBody);

/// 403 from the cookie API for a foreign origin.
#[derive(IntoResponses)]
#[response(status = 403, description = "Origin not allowed")]
pub struct OriginNotAllowed(#[allow(dead_code)] ErrorBody);

/// 401 from the account API when a password may be checked.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "Missing or invalid token, a token not for the account API, or a wrong password"
)]
pub struct AccountTokenOrPasswordRefused(#[allow(dead_code)] ErrorBody);

/// 401 from the account API.
#[derive(IntoResponses)]
#[response(status = 401, description = "Missing or invalid token")]
pub struct AccountTokenRefused(#[allow(dead_code)] ErrorBody);

/// 400 from the OAuth endpoints.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "RFC 6749 §5.2 error; `invalid_dpop_proof` for a bad DPoP proof, `use_dpop_nonce` (with a `DPoP-Nonce` header) when the proof lacks the server's nonce (RFC 9449)"
)]
pub struct OAuthInvalidRequest(#[allow(dead_code)] OAuthErrorBody);

/// 503 from the OAuth endpoints.
#[derive(IntoResponses)]
#[response(status = 503, description = "Retry after Retry-After")]
pub struct OAuthUnavailable(#[allow(dead_code)] OAuthErrorBody);

/// 429 after too many wrong codes.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many wrong codes: the account is locked"
)]
pub struct TooManyWrongCodes(#[allow(dead_code)] ErrorBody);

/// 429 after too many failed client authentications.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many failed client authentications from this address: retry after Retry-After"
)]
pub struct ClientAuthThrottled(#[allow(dead_code)] OAuthErrorBody);

/// 409 when the user has no TOTP.
#[derive(IntoResponses)]
#[response(status = 409, description = "TOTP is not enabled")]
pub struct TotpNotEnabled(#[allow(dead_code)] ErrorBody);

/// 401 for a client that did not authenticate.
#[derive(IntoResponses)]
#[response(status = 401, description = "invalid_client")]
pub struct InvalidClient(#[allow(dead_code)] OAuthErrorBody);

/// 401 from userinfo.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "Missing or invalid token; see WWW-Authenticate (`Bearer error=\"invalid_token\"`, or `DPoP error=\"invalid_dpop_proof\"`/`\"invalid_token\"` for a DPoP-bound token presented without a good proof or as a bearer token)"
)]
pub struct BearerRefused(#[allow(dead_code)] ErrorBody);

/// 400 for a wrong second-factor code.
#[derive(IntoResponses)]
#[response(status = 400, description = "Wrong code (`invalid_code`)")]
pub struct WrongCode(#[allow(dead_code)] ErrorBody);

/// 400 for a body the endpoint cannot use.
#[derive(IntoResponses)]
#[response(status = 400, description = "Invalid input")]
pub struct InvalidInput(#[allow(dead_code)] ErrorBody);
