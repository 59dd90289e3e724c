//! Extractors for what several handlers compute from the request (kanidm style): the
//! client's address (book § Configuration) and where a session starts from. Each is tested once here
//! instead of being recomputed in every handler.

use std::future::{ready, Ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::state::AppState;
use crate::store::SessionMeta;

/// The client's address as text (book § Configuration), `None` when the peer is unknown.
#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl ClientIp {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl FromRequest for ClientIp {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientIp(peer_ip(req))))
    }
}

/// Where a session is being started from: the client's address and a bounded User-Agent.
#[derive(Debug, Clone)]
pub struct SessionOrigin(pub SessionMeta);

impl FromRequest for SessionOrigin {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(SessionOrigin(session_meta(req))))
    }
}

/// The client's IP (book § Configuration: the socket peer, or what trusted proxies forwarded).
pub fn peer_ip(req: &HttpRequest) -> Option<String> {
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    client_ip(req, trusted).map(|ip| ip.to_string())
}

/// Where a session is being started from (IP and a bounded User-Agent).
pub fn session_meta(req: &HttpRequest) -> SessionMeta {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    SessionMeta {
        ip: peer_ip(req),
        user_agent,
        dpop_jkt: None,
    }
}

/// The client's address (book § Configuration): the socket peer, unless the peer is a trusted proxy;
/// then the right-most `X-Forwarded-For` entry that is not a trusted proxy. Headers from
/// untrusted peers are ignored, so they cannot be spoofed.
fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        // an unparsable hop ends the trusted chain: keep the last address a proxy vouched for
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}
