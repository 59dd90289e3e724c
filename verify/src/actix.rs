//! An actix-web extractor (feature `actix`): the verified claims of the request's access
//! token, or `401` with `WWW-Authenticate`. `Authorization: Bearer` takes tokens bound to
//! no key; `Authorization: DPoP` takes a DPoP-bound token with its proof in the `DPoP`
//! header, checked against this request's method and URL (scheme and host as the
//! connection info gives them: behind a proxy, configure actix's forwarded headers).
//!
//! ```no_run
//! use actix_web::{get, web, App, HttpServer, Responder};
//! use tessera_verify::actix::BearerToken;
//!
//! #[get("/orders")]
//! async fn orders(token: BearerToken) -> impl Responder {
//!     format!("orders of {}", token.0.sub)
//! }
//!
//! # async fn run(verifier: tessera_verify::Verifier) -> std::io::Result<()> {
//! let verifier = web::Data::new(verifier);
//! HttpServer::new(move || App::new().app_data(verifier.clone()).service(orders))
//!     .bind(("127.0.0.1", 8081))?
//!     .run()
//!     .await
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::{Claims, Error, Verifier};

/// A request's verified access token. Needs `web::Data<Verifier>` in the app data.
#[derive(Debug, Clone)]
pub struct BearerToken(pub Claims);

/// Why the extractor refused: answered `401` (`500` if no verifier is configured).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("a bearer access token is required")]
    Missing,
    #[error("{}", .0.reason())]
    Invalid(Error),
    #[error("no tessera_verify::Verifier in the app data")]
    NotConfigured,
}

/// The DPoP challenge, with the proof algorithms taken (RFC 9449 §7.1).
const DPOP_CHALLENGE: &str = "DPoP algs=\"ES256 EdDSA PS256 RS256\"";

impl ResponseError for Refused {
    fn status_code(&self) -> StatusCode {
        match self {
            Refused::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (scheme, error) = match self {
            Refused::Missing => ("Bearer", None),
            Refused::Invalid(Error::Dpop(_)) => (DPOP_CHALLENGE, Some("invalid_dpop_proof")),
            Refused::Invalid(Error::DpopBound) => (DPOP_CHALLENGE, Some("invalid_token")),
            Refused::Invalid(_) => ("Bearer", Some("invalid_token")),
            Refused::NotConfigured => return HttpResponse::InternalServerError().finish(),
        };
        let challenge = match (self, error) {
            (Refused::Invalid(e), Some(error)) => format!(
                "{scheme}{}error=\"{error}\", error_description=\"{}\"",
                if scheme == "Bearer" { " " } else { ", " },
                e.reason()
            ),
            _ => scheme.to_owned(),
        };
        let mut response = HttpResponse::Unauthorized();
        response.insert_header((header::WWW_AUTHENTICATE, challenge));
        if matches!(self, Refused::Missing) {
            response.append_header((header::WWW_AUTHENTICATE, DPOP_CHALLENGE));
        }
        response.json(serde_json::json!({
            "error": error.unwrap_or("invalid_token"),
            "error_description": self.to_string(),
        }))
    }
}

impl FromRequest for BearerToken {
    type Error = Refused;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Refused>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .map(|(scheme, token)| (scheme.to_ascii_lowercase(), token.trim().to_owned()))
            .filter(|(_, token)| !token.is_empty());
        let proofs: Vec<String> = req
            .headers()
            .get_all("dpop")
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let method = req.method().as_str().to_owned();
        let info = req.connection_info();
        let url = format!("{}://{}{}", info.scheme(), info.host(), req.path());
        Box::pin(async move {
            let verifier = verifier.ok_or(Refused::NotConfigured)?;
            let claims = match presented {
                Some((scheme, token)) if scheme == "bearer" => verifier.verify(&token).await,
                Some((scheme, token)) if scheme == "dpop" => match proofs.as_slice() {
                    [proof] => verifier.verify_dpop(&token, proof, &method, &url).await,
                    _ => Err(Error::Dpop(crate::dpop::ProofError::Malformed)),
                },
                _ => return Err(Refused::Missing),
            };
            claims.map(BearerToken).map_err(Refused::Invalid)
        })
    }
}
