//! The hosted pages' refusals: a request refused for its own sake (an error page, or an
//! error sent back to the client), and a failure's kind as a page (book § Endpoints).

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

use super::pages::{answer, error_page};
use crate::domain::Failure;
use crate::service::authorize::Refusal;
use crate::state::AppState;

pub(super) fn refused(state: &AppState, refusal: Refusal) -> HttpResponse {
    match refusal {
        Refusal::Page(message) => error_page(StatusCode::BAD_REQUEST, &message),
        Refusal::Redirect {
            back,
            error,
            description,
        } => answer(state, &back, Err((error, &description))),
        Refusal::Forged => error_page(
            StatusCode::FORBIDDEN,
            "This form was not sent from the page tessera showed this browser, or it has expired. Go back to the application and start again.",
        ),
        Refusal::Expired => error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired. Go back to the application and start again.",
        ),
        Refusal::Store(e) => failed(e.into()),
    }
}

/// The hosted pages' mapping of a failure's kind: a backend that cannot serve is 503 with
/// the one Retry-After, a fault of tessera's is 500 (its cause logged, never shown).
/// Requests refused for their own sake never get here: they are `Refusal`s with a message.
fn failed(failure: Failure) -> HttpResponse {
    match failure {
        Failure::Throttled(t) => {
            let mut response = error_page(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many attempts. Try again in {} seconds.", t.retry_after),
            );
            crate::http::error::throttle_page(&mut response, &t);
            response
        }
        Failure::Unavailable(_) => {
            let mut response = error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is busy. Try again in a moment.",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_static(crate::http::error::RETRY_AFTER_UNAVAILABLE),
            );
            response
        }
        other => {
            tracing::error!(
                error = format!("{other:#}"),
                "authorization: internal error"
            );
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. Go back to the application and try again.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Throttled;

    /// The pages map the kinds as the JSON API does: 503 with the one Retry-After for a
    /// backend, 429 with the limit's own time, 500 (no detail) for a fault.
    #[test]
    fn each_failure_kind_has_one_status_on_the_hosted_pages() {
        let retry = |r: &HttpResponse| {
            r.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let down = failed(Failure::Unavailable("redis"));
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            retry(&down).as_deref(),
            Some(crate::http::error::RETRY_AFTER_UNAVAILABLE)
        );
        let limited = failed(Failure::Throttled(Throttled {
            limit: 5,
            retry_after: 17,
            reset: 30,
        }));
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry(&limited).as_deref(), Some("17"));
        let header = |name: &str| limited.headers().get(name).and_then(|v| v.to_str().ok());
        assert_eq!(header("ratelimit-limit"), Some("5"));
        assert_eq!(header("ratelimit-remaining"), Some("0"));
        assert_eq!(header("ratelimit-reset"), Some("30"));
        let fault = failed(Failure::Internal(anyhow::anyhow!("row 7 is corrupt")));
        assert_eq!(fault.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry(&fault), None);
    }
}
