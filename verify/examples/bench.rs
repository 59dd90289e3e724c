//! Benchmark (BENCHMARKS.md, `benches/verify_load.sh`): verifications per second through
//! the crate against raw josekit verification of the same token on the same core, with the
//! revocation feed followed every second; then the time from a revocation at tessera (RFC
//! 7009 answered) to the crate's refusal, at the default 5 s poll interval.
//!
//! `bench ISSUER CLIENT_ID CLIENT_SECRET [ITERATIONS] [REVOCATIONS]` — a confidential
//! client_credentials client; its tokens' audience is the issuer's default audience.

#![allow(clippy::disallowed_methods)] // a benchmark reads the wall clock

use std::time::{Duration, Instant};

use josekit::jwk::Jwk;
use tessera_verify::Verifier;

type Failure = Box<dyn std::error::Error>;

async fn client_token(
    http: &reqwest::Client,
    endpoint: &str,
    id: &str,
    secret: &str,
) -> Result<String, Failure> {
    let body: serde_json::Value = http
        .post(endpoint)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    Ok(body["access_token"]
        .as_str()
        .ok_or("no access_token")?
        .to_owned())
}

fn claim(token: &str, name: &str) -> Result<serde_json::Value, Failure> {
    use base64::Engine;
    let payload = token.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)?;
    Ok(claims[name].clone())
}

/// Runs `f` `n` times; calls per second.
fn rate(n: u32, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [issuer, id, secret, ..] = args.as_slice() else {
        return Err(
            "usage: bench ISSUER CLIENT_ID CLIENT_SECRET [ITERATIONS] [REVOCATIONS]".into(),
        );
    };
    let n: u32 = args.get(3).map_or(Ok(20_000), |a| a.parse())?;
    let rounds: u32 = args.get(4).map_or(Ok(10), |a| a.parse())?;
    let http = reqwest::Client::new();
    let discovery: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await?
        .json()
        .await?;
    let token_endpoint = discovery["token_endpoint"]
        .as_str()
        .ok_or("no token endpoint")?;
    let revoke_endpoint = discovery["revocation_endpoint"]
        .as_str()
        .ok_or("no revocation endpoint")?;
    let token = client_token(&http, token_endpoint, id, secret).await?;
    let audience = match claim(&token, "aud")? {
        serde_json::Value::Array(list) => list[0].as_str().unwrap_or_default().to_owned(),
        other => other.as_str().unwrap_or_default().to_owned(),
    };

    // raw josekit: the token's key from the JWKS, its verifier, one decode per token
    let jwks: serde_json::Value = http
        .get(discovery["jwks_uri"].as_str().ok_or("no jwks_uri")?)
        .send()
        .await?
        .json()
        .await?;
    let header = josekit::jwt::decode_header(&token)?;
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .ok_or("no kid")?;
    let alg = header
        .claim("alg")
        .and_then(|v| v.as_str())
        .ok_or("no alg")?
        .to_owned();
    let jwk = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid)
        .and_then(|k| k.as_object())
        .ok_or("the token's key is not in the JWKS")?;
    let jwk = Jwk::from_map(jwk.clone())?;
    let raw: Box<dyn josekit::jws::JwsVerifier> = match alg.as_str() {
        "RS256" => Box::new(josekit::jws::RS256.verifier_from_jwk(&jwk)?),
        "ES256" => Box::new(josekit::jws::ES256.verifier_from_jwk(&jwk)?),
        "PS256" => Box::new(josekit::jws::PS256.verifier_from_jwk(&jwk)?),
        "EdDSA" => Box::new(josekit::jws::EdDSA.verifier_from_jwk(&jwk)?),
        other => return Err(format!("no raw verifier for {other}").into()),
    };

    let verifier = Verifier::builder(issuer.as_str())
        .audience(&audience)
        .client_credentials(id.as_str(), secret.as_str())
        .poll_interval(Duration::from_secs(1))
        .build()
        .await?;
    verifier.verify(&token).await?;
    // warm both, then alternate rounds so neither gets the quieter moment
    let (mut raw_rates, mut crate_rates) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        raw_rates.push(rate(n / 5, || {
            let verified = josekit::jwt::decode_with_verifier(&token, raw.as_ref());
            assert!(verified.is_ok());
        }));
        crate_rates.push(rate(n / 5, || {
            let verified = verifier.verify_cached(&token);
            assert!(verified.is_ok());
        }));
        // let the feed follower run between rounds
        tokio::task::yield_now().await;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (raw_rate, crate_rate) = (median(&mut raw_rates), median(&mut crate_rates));
    println!("alg={alg}");
    println!("raw_josekit_per_second={raw_rate:.0}");
    println!("crate_per_second={crate_rate:.0}");
    println!("crate_to_raw_ratio={:.3}", crate_rate / raw_rate);
    let started = Instant::now();
    for _ in 0..n / 10 {
        verifier.verify(&token).await?;
    }
    println!(
        "crate_async_per_second={:.0}",
        f64::from(n / 10) / started.elapsed().as_secs_f64()
    );

    // revocation to refusal, at the default poll interval
    let watcher = Verifier::builder(issuer.as_str())
        .audience(&audience)
        .client_credentials(id.as_str(), secret.as_str())
        .build()
        .await?;
    let mut latencies = Vec::new();
    for _ in 0..rounds {
        let token = client_token(&http, token_endpoint, id, secret).await?;
        watcher.verify(&token).await?;
        // at a random point of the poll cycle, not right after the poll that just refused
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos();
        tokio::time::sleep(Duration::from_millis(u64::from(nanos % 5000))).await;
        let response = http
            .post(revoke_endpoint)
            .basic_auth(id, Some(secret))
            .form(&[("token", token.as_str())])
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("revocation answered {}", response.status()).into());
        }
        let revoked = Instant::now();
        while watcher.verify_cached(&token).is_ok() {
            if revoked.elapsed() > Duration::from_secs(30) {
                return Err("a revoked token was still accepted after 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(revoked.elapsed().as_secs_f64());
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "revocation_to_refusal_seconds min={:.3} median={:.3} max={:.3} (poll interval 5 s, {} revocations)",
        latencies[0],
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
        latencies.len()
    );
    Ok(())
}
