//! Baseline for the JWKS benchmark: a bare actix-web handler returning fixed bytes, with no
//! middleware. Usage: `bare_jwks <addr> <file> [workers] [headers-file]`; with a headers
//! file (`name: value` lines, as tessera sent them) it also sends those headers, so the
//! bytes on the wire match tessera's response exactly.

use actix_web::web::Bytes;
use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18180".into());
    let body = Bytes::from(std::fs::read(
        args.next().unwrap_or_else(|| "jwks.json".into()),
    )?);
    let workers = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    let headers: Vec<(String, String)> = match args.next() {
        Some(file) => std::fs::read_to_string(file)?
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .filter(|(n, _)| !matches!(n.as_str(), "content-length" | "date" | "content-type"))
            .collect(),
        None => Vec::new(),
    };
    HttpServer::new(move || {
        let (body, headers) = (body.clone(), headers.clone());
        App::new().route(
            "/.well-known/jwks.json",
            web::get().to(move || {
                let (body, headers) = (body.clone(), headers.clone());
                async move {
                    let mut response = HttpResponse::Ok();
                    for header in headers {
                        response.insert_header(header);
                    }
                    response.content_type("application/json").body(body)
                }
            }),
        )
    })
    .workers(workers)
    .bind(addr)?
    .run()
    .await
}
