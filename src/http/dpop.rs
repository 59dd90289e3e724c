//! The `DPoP` header of a request (RFC 9449 §4.1), handed to `service::dpop` with the
//! request's method and path.

use actix_web::HttpRequest;

use crate::service::dpop::{DpopError, Proof};
use crate::state::AppState;

/// The request's DPoP proof, checked, with `access_token` where one is presented: `None`
/// when the request carries none.
pub async fn proof(
    req: &HttpRequest,
    state: &AppState,
    access_token: Option<&str>,
) -> Result<Option<Proof>, DpopError> {
    let values = req
        .headers()
        .get_all("dpop")
        .map(|v| v.to_str())
        .collect::<Result<Vec<&str>, _>>()
        .map_err(|_| DpopError::Invalid("the DPoP header is not text".into()))?;
    state
        .dpop
        .proof(&values, req.method().as_str(), req.path(), access_token)
        .await
}
