//! An actix-web extractor (feature `actix`): the verified claims of the request's
//! `Authorization: Bearer` access token, or `401` with `WWW-Authenticate`.
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

impl ResponseError for Refused {
    fn status_code(&self) -> StatusCode {
        match self {
            Refused::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let challenge = match self {
            Refused::Missing => "Bearer".to_owned(),
            Refused::Invalid(e) => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                e.reason()
            ),
            Refused::NotConfigured => return HttpResponse::InternalServerError().finish(),
        };
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, challenge))
            .json(serde_json::json!({ "error": "invalid_token", "error_description": self.to_string() }))
    }
}

impl FromRequest for BearerToken {
    type Error = Refused;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Refused>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            });
        Box::pin(async move {
            let verifier = verifier.ok_or(Refused::NotConfigured)?;
            let token = token.filter(|t| !t.is_empty()).ok_or(Refused::Missing)?;
            verifier
                .verify(&token)
                .await
                .map(BearerToken)
                .map_err(Refused::Invalid)
        })
    }
}
