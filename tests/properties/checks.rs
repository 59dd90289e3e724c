// Properties of the code that parses hostile input (issue 24, item 8): JWS verification in
// tessera and in tessera-verify, the token endpoint's form parsing, the revocation-feed
// cursor, the export stream, redirect-URI matching and the PKCE verifier. Each check takes
// raw bytes and panics only when a property fails. This file is included by the cargo-fuzz
// targets (fuzz/fuzz_targets/*.rs) and by the suite's bounded run (tests/api/properties.rs),
// so the two check the same things.

use std::sync::{Arc, LazyLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Splits `data` at the first `sep` byte (the rest is empty when there is none).
fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == sep) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The form parser never panics, and what it accepts is bounded and found again.
pub fn form(data: &[u8]) {
    let text = text(data);
    if let Ok(parsed) = tessera::http::form::Form::parse_text(&text) {
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            let decoded = percent_encoding::percent_decode_str(&name.replace('+', " "))
                .decode_utf8()
                .map(|n| n.into_owned());
            if let Ok(name) = decoded {
                assert!(parsed.get(&name).is_none_or(|v| v.len() <= 2048), "{text:?}");
            }
        }
    }
}

/// A cursor that decodes encodes back to itself.
pub fn cursor(data: &[u8]) {
    use tessera::store::Cursor;
    if let Some(c) = Cursor::decode(&text(data)) {
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
    }
}

static KEK: LazyLock<tessera::crypto::Kek> = LazyLock::new(|| {
    tessera::crypto::Kek::from_base64("MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXY=")
        .unwrap_or_else(|e| panic!("{e}"))
});

/// The export reader never panics on any stream, signed or not; a stream it reads as
/// authentic is one whose end line carries the MAC of everything before it.
pub fn export_stream(data: &[u8]) {
    if let Ok(stream) = tessera::service::transfer::read(data, &KEK) {
        if stream.authentic.is_ok() {
            let body_end = data[..data.len().saturating_sub(1)]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |at| at + 1);
            assert!(body_end > 0, "an authentic stream has lines before its end line");
        }
    }
    // the same bytes, signed as the format says, read as authentic when they parse
    let body: Vec<u8> = data.iter().copied().filter(|b| *b != b'\r').collect();
    if let Ok(stream) = tessera::service::transfer::read(&signed(&body)[..], &KEK) {
        assert!(stream.authentic.is_ok());
    }
}

/// `body` (its lines, up to the first end line) followed by a correct end line.
fn signed(body: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut out: Vec<u8> = body
        .split(|b| *b == b'\n')
        .take_while(|line| !line.windows(12).any(|w| w == b"\"type\":\"end\""))
        .filter(|line| !line.is_empty())
        .flat_map(|line| line.iter().copied().chain([b'\n']))
        .collect();
    let rows = out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    let mut mac = KEK.export_mac();
    mac.update(&out);
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let end = serde_json::json!({"type": "end", "rows": rows.saturating_sub(1), "mac": tag});
    out.extend_from_slice(format!("{end}\n").as_bytes());
    out
}

/// A requested URI matches a registered one only as itself or, for an http loopback
/// registration, as the same URI on another port.
pub fn redirect(data: &[u8]) {
    use tessera::domain::redirect::{matches, registrable, resolve};
    let (registered, requested) = split(data, 0);
    let (registered, requested) = (text(registered), text(requested));
    let _ = registrable(&registered);
    assert!(matches(&registered, &registered));
    if matches(&registered, &requested) && registered != requested {
        let (r, q) = (
            url::Url::parse(&registered).unwrap_or_else(|e| panic!("{e}")),
            url::Url::parse(&requested).unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!((r.scheme(), q.scheme()), ("http", "http"));
        assert_eq!(r.host(), q.host());
        assert_eq!((r.path(), r.query()), (q.path(), q.query()));
        assert!(q.fragment().is_none() && q.username().is_empty() && q.password().is_none());
        assert_eq!(q.as_str(), requested, "only a canonical URI matches by the loopback rule");
    }
    let list = [registered.clone()];
    match resolve(&list, Some(&requested)) {
        Some(found) => assert!(matches(&registered, found)),
        None => assert!(!matches(&registered, &requested)),
    }
}

/// A verifier matches exactly the challenge that is its S256, and only when it is one
/// RFC 7636 allows.
pub fn pkce(data: &[u8]) {
    use sha2::Digest;
    use tessera::service::authorize::pkce_matches;
    let (verifier, challenge) = split(data, 0);
    let (verifier, challenge) = (text(verifier), text(challenge));
    let s256 = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    assert_eq!(pkce_matches(&verifier, &challenge), valid && challenge == s256);
    assert_eq!(pkce_matches(&verifier, &s256), valid);
}

pub const ISSUER: &str = "https://auth.example.com";

/// One ES256 key, as tessera's key ring and tessera-verify's cache hold it.
pub struct Keys {
    kid: String,
    signer: Box<dyn josekit::jws::JwsSigner>,
    ring: Arc<tessera::tokens::KeyVerifier>,
    downstream: tessera_verify::Verifier,
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    use tessera::crypto::{KeyMaterial, SigningAlg};
    let material =
        KeyMaterial::generate(SigningAlg::Es256, 2048).unwrap_or_else(|e| panic!("{e}"));
    let verifier = KeyMaterial::verifier(SigningAlg::Es256, &material.public_jwk)
        .unwrap_or_else(|e| panic!("{e}"));
    let jwks = serde_json::json!({ "keys": [material.public_jwk] });
    Keys {
        kid: material.kid.to_string(),
        signer: material.signer().unwrap_or_else(|e| panic!("{e}")),
        ring: Arc::new(tessera::tokens::KeyVerifier {
            alg: SigningAlg::Es256,
            verifier,
        }),
        downstream: tessera_verify::Verifier::offline(ISSUER, "api", &jwks)
            .unwrap_or_else(|e| panic!("{e}")),
    }
});

/// Picks one of `options` by a byte, or (for the last byte values) the raw text.
fn pick(choice: u8, options: &[serde_json::Value], raw: &str) -> serde_json::Value {
    options
        .get(usize::from(choice))
        .cloned()
        .unwrap_or_else(|| serde_json::Value::String(raw.to_owned()))
}

/// A token from `data`: header and claims chosen field by field (near-valid ones are
/// likely), or raw; signed by the key, or not. Neither verifier accepts a token the key did
/// not sign, and what either accepts has the expected issuer, type and a future `exp`.
pub fn jws(data: &[u8]) {
    let keys = &*KEYS;
    let (choices, raw) = data.split_at(data.len().min(8));
    let mut c = [0u8; 8];
    c[..choices.len()].copy_from_slice(choices);
    let raw = text(raw);
    let now = tessera::clock::Clock::now(&tessera::clock::SystemClock).unix_timestamp();
    let header = serde_json::json!({
        "alg": pick(c[0] % 5, &["ES256".into(), "none".into(), "HS256".into(), "RS256".into()], &raw),
        "typ": pick(c[1] % 4, &["at+jwt".into(), "JWT".into(), "application/at+jwt".into()], &raw),
        "kid": pick(c[2] % 3, &[keys.kid.clone().into(), "".into()], &raw),
    });
    let claims = serde_json::json!({
        "iss": pick(c[3] % 3, &[ISSUER.into(), format!("{ISSUER}/").into()], &raw),
        "sub": "s", "client_id": "c", "jti": "j", "scope": "",
        "aud": pick(c[4] % 4, &["api".into(), serde_json::json!(["x", "api"]), serde_json::json!([])], &raw),
        "iat": now, "nbf": now - i64::from(c[5] % 4) * 100 + 100,
        "exp": now + i64::from(c[6]) * 10 - 600,
    });
    let (header, claims) = if c[7] & 2 == 0 {
        (header.to_string().into_bytes(), claims.to_string().into_bytes())
    } else {
        let (h, p) = split(raw.as_bytes(), b'.');
        (h.to_vec(), p.to_vec())
    };
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&header),
        URL_SAFE_NO_PAD.encode(&claims)
    );
    let signed = c[7] & 1 == 0;
    let signature = if signed {
        keys.signer.sign(input.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    } else {
        raw.as_bytes().to_vec()
    };
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    for token in [token.as_str(), raw.as_str()] {
        let expected = tessera::tokens::Expected {
            issuer: ISSUER,
            nbf_leeway_secs: 30,
            now,
        };
        let own = tessera::tokens::verify_with_key(keys.ring.clone(), &keys.kid, token, &expected);
        let downstream = keys.downstream.verify_cached(token);
        if !signed || token == raw {
            assert!(own.is_err() && downstream.is_err(), "an unsigned token verified: {token}");
        }
        if let Ok(claims) = own {
            assert!(claims.iss == ISSUER && claims.exp > now, "{token}");
            assert!(header_says(token, "typ", &["at+jwt", "application/at+jwt"]));
        }
        if let Ok(claims) = downstream {
            assert!(claims.iss == ISSUER && claims.aud.iter().any(|a| a == "api"), "{token}");
            assert!(header_says(token, "alg", &["ES256"]));
        }
    }
}

fn header_says(token: &str, claim: &str, allowed: &[&str]) -> bool {
    let header = token.split('.').next().unwrap_or_default();
    let value: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .unwrap_or_default();
    value[claim]
        .as_str()
        .is_some_and(|v| allowed.iter().any(|a| a.eq_ignore_ascii_case(v)))
}
