//! `GET|POST /oauth2/userinfo` (OIDC Core §5.3): claims about the token's user, by scope.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::bearer::{Bearer, BearerUser};
use super::error::{ApiError, ResourceError};
use super::form::Form;
use crate::state::AppState;
use crate::tokens::UserInfo;

/// The user behind a bearer access token.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oauth2",
    security(("bearer" = [])),
    params(("DPoP" = Option<String>, Header, description = "With `Authorization: DPoP <token>` for a DPoP-bound token: a proof for this request carrying the token's hash (`ath`)")),
    responses(
        (status = 200, description = "Claims about the user", body = UserInfo),
        crate::http::error::responses::BearerRefused))]
pub async fn userinfo(Bearer(session): BearerUser) -> Result<HttpResponse, ResourceError> {
    let claims = &session.claims;
    let info = UserInfo::new(&session.user, |scope| claims.has_scope(scope));
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(info))
}

/// The token of a userinfo POST (RFC 6750 §2.2): form-encoded `access_token`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UserinfoForm {
    /// The access token, when it is not in the `Authorization` header (never both).
    access_token: Option<String>,
}

/// The same, by POST (OIDC Core §5.3.1), with the token in the `Authorization` header or
/// as the form-encoded `access_token` body parameter (RFC 6750 §2.2), never both.
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "oauth2",
    security(("bearer" = []), ()),
    params(("DPoP" = Option<String>, Header, description = "With `Authorization: DPoP <token>` for a DPoP-bound token: a proof for this request carrying the token's hash (`ath`)")),
    request_body(content = UserinfoForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Claims about the user", body = UserInfo),
        (status = 400, description = "invalid_request: the token in both places, or a malformed form", body = crate::http::error::ErrorBody),
        crate::http::error::responses::BearerRefused))]
pub async fn userinfo_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ResourceError> {
    let in_header = req.headers().contains_key(header::AUTHORIZATION);
    let in_body = if body.is_empty() {
        None
    } else {
        let form = Form::parse(&req, &body).map_err(|e| bad_request(e.description()))?;
        form.get("access_token").map(str::to_owned)
    };
    let presented = match (in_header, in_body) {
        (true, Some(_)) => {
            return Err(bad_request(
                "send the access token in the Authorization header or the body, not both".into(),
            ))
        }
        (false, Some(token)) => super::bearer::Presented::Bearer(token),
        (_, None) => super::bearer::presented_token(&req)?,
    };
    let session = state.access.token_user(presented.token()).await?;
    super::bearer::check_binding(&req, &state, &presented, &session.claims).await?;
    userinfo(Bearer(session)).await
}

fn bad_request(description: String) -> ResourceError {
    ApiError::BadRequest {
        code: "invalid_request",
        description,
        fields: Vec::new(),
    }
    .into()
}
