//! What DPoP costs (book § DPoP and PAR): `client_credentials` and refresh with a DPoP
//! proof against the same without, in the same run, and `tessera-verify`'s rate of
//! verifying a DPoP-bound token with its proof against a bearer token.
//!
//! Usage: `dpop_load BASE_URL ISSUER CLIENT_ID CLIENT_SECRET [seconds] [workers] [server_pid]`
//! against a running tessera (`benches/dpop_load.sh` starts one and makes the client and
//! the user `bench@example.com`). Proofs are signed before each timed phase (ES256, fresh
//! `jti`s), so the load process spends its CPU on requests, not on signatures: what is
//! measured is the server's cost of checking them (ES256 proofs; `DPOP_ALG=EdDSA` for
//! Ed25519). Phases run in the order without, with, with, without, and each rate is the
//! mean of its two phases.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use josekit::jws::{EdDSA, JwsHeader, JwsSigner, ES256};
use josekit::jwt::JwtPayload;
use serde_json::{json, Value};

#[path = "proc_cpu.rs"]
mod proc_cpu;

use proc_cpu::cpu_ticks;

type Failed = Box<dyn std::error::Error + Send + Sync>;

const PASSWORD: &str = "correct-Horse-battery-staple-42";

/// A client's DPoP key: signs proofs ahead of the load.
struct Key {
    signer: Box<dyn JwsSigner>,
    header: JwsHeader,
}

impl Key {
    /// An ES256 key, or an Ed25519 one with `eddsa`.
    fn new(eddsa: bool) -> Result<Self, Failed> {
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        let signer: Box<dyn JwsSigner> = if eddsa {
            let pair = EdDSA.generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)?;
            header.set_jwk(pair.to_jwk_public_key());
            Box::new(EdDSA.signer_from_der(pair.to_der_private_key())?)
        } else {
            let pair = ES256.generate_key_pair()?;
            header.set_jwk(pair.to_jwk_public_key());
            Box::new(ES256.signer_from_der(pair.to_der_private_key())?)
        };
        Ok(Key { signer, header })
    }

    fn proofs(&self, n: usize, htm: &str, htu: &str, ath: Option<&str>) -> Result<Proofs, Failed> {
        let now = unix_now();
        let mut all = VecDeque::with_capacity(n);
        for _ in 0..n {
            let mut claims = json!({ "htm": htm, "htu": htu, "iat": now, "jti": uuid::Uuid::new_v4().to_string() });
            if let Some(ath) = ath {
                claims["ath"] = json!(ath);
            }
            let Value::Object(map) = claims else {
                return Err("claims".into());
            };
            let payload = JwtPayload::from_map(map)?;
            all.push_back(josekit::jwt::encode_with_signer(
                &payload,
                &self.header,
                self.signer.as_ref(),
            )?);
        }
        Ok(Arc::new(Mutex::new(all)))
    }
}

type Proofs = Arc<Mutex<VecDeque<String>>>;

fn next(proofs: &Option<Proofs>) -> Option<Option<String>> {
    match proofs {
        None => Some(None),
        Some(queue) => queue.lock().ok()?.pop_front().map(Some),
    }
}

#[allow(clippy::disallowed_methods)]
fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

struct Load {
    base: String,
    htu: String,
    client: (String, String),
    http: reqwest::Client,
}

impl Load {
    /// Token requests of `grant` for `duration` from `workers`, each with the next proof
    /// when `proofs` is set; (successes per second, server CPU ms per success).
    async fn phase(
        &self,
        grant: Grant,
        workers: usize,
        duration: Duration,
        proofs: Option<Proofs>,
        server: Option<u32>,
        key: &Key,
    ) -> Result<(f64, f64), Failed> {
        // the refresh grant: one session per worker, bound to the key when proofs are sent
        let mut sessions = Vec::new();
        if grant == Grant::Refresh {
            for _ in 0..workers {
                let proof = match proofs {
                    Some(_) => Some(
                        key.proofs(1, "POST", &self.htu, None)?
                            .lock()
                            .map_err(|_| "lock")?
                            .pop_front()
                            .ok_or("proof")?,
                    ),
                    None => None,
                };
                let form = [
                    ("grant_type", "password"),
                    ("client_id", "spa"),
                    ("username", "bench@example.com"),
                    ("password", PASSWORD),
                    ("scope", "openid"),
                ];
                let mut request = self
                    .http
                    .post(format!("{}/oauth2/token", self.base))
                    .form(&form);
                if let Some(proof) = proof {
                    request = request.header("DPoP", proof);
                }
                let tokens: Value = request.send().await?.json().await?;
                sessions.push(
                    tokens["refresh_token"]
                        .as_str()
                        .ok_or("no refresh token")?
                        .to_owned(),
                );
            }
        }
        let before = server.map(|pid| cpu_ticks(Some(pid)));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..workers {
            let (http, base, client, proofs) = (
                self.http.clone(),
                self.base.clone(),
                self.client.clone(),
                proofs.clone(),
            );
            let mut refresh = sessions.get(w).cloned();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0u64;
                while started.elapsed() < duration {
                    let Some(proof) = next(&proofs) else { break };
                    let mut request = http.post(format!("{base}/oauth2/token"));
                    request = match &refresh {
                        Some(token) => request.form(&[
                            ("grant_type", "refresh_token"),
                            ("client_id", "spa"),
                            ("refresh_token", token),
                        ]),
                        None => request
                            .basic_auth(&client.0, Some(&client.1))
                            .form(&[("grant_type", "client_credentials")]),
                    };
                    if let Some(proof) = proof {
                        request = request.header("DPoP", proof);
                    }
                    let Ok(answer) = request.send().await else {
                        continue;
                    };
                    if answer.status().is_success() {
                        ok += 1;
                        if refresh.is_some() {
                            let tokens: Value = answer.json().await.unwrap_or_default();
                            refresh = tokens["refresh_token"].as_str().map(str::to_owned);
                        }
                    }
                }
                ok
            }));
        }
        let mut ok = 0;
        for task in tasks {
            ok += task.await?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let ms_each = match (before, server) {
            (Some(before), Some(pid)) => {
                cpu_ticks(Some(pid)).saturating_sub(before) as f64 * 10.0 / ok.max(1) as f64
            }
            _ => f64::NAN,
        };
        Ok((ok as f64 / elapsed, ms_each))
    }

    /// Without, with, with, without: each rate the mean of its two phases.
    async fn pair(
        &self,
        grant: Grant,
        workers: usize,
        duration: Duration,
        server: Option<u32>,
        key: &Key,
    ) -> Result<(), Failed> {
        let mut plain = Vec::new();
        let mut bound = Vec::new();
        for with in [false, true, true, false] {
            let proofs = if with {
                Some(key.proofs(60_000, "POST", &self.htu, None)?)
            } else {
                None
            };
            let result = self
                .phase(grant, workers, duration, proofs, server, key)
                .await?;
            if with {
                bound.push(result)
            } else {
                plain.push(result)
            }
        }
        let mean = |v: &[(f64, f64)], i: usize| {
            v.iter()
                .map(|r| if i == 0 { r.0 } else { r.1 })
                .sum::<f64>()
                / v.len() as f64
        };
        let (p, b) = (mean(&plain, 0), mean(&bound, 0));
        println!(
            "{grant:?}: without_per_s={p:.0} with_dpop_per_s={b:.0} ratio={:.3} server_cpu_ms_without={:.3} server_cpu_ms_with={:.3} (phases without {:?}, with {:?})",
            b / p, mean(&plain, 1), mean(&bound, 1),
            plain.iter().map(|r| r.0.round()).collect::<Vec<_>>(), bound.iter().map(|r| r.0.round()).collect::<Vec<_>>()
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    ClientCredentials,
    Refresh,
}

/// tessera-verify: bearer verifications and DPoP verifications (token and proof) per
/// second on one thread, with the issuer's keys held.
async fn verifier_rates(load: &Load, key: &Key, seconds: u64) -> Result<(), Failed> {
    let jwks: Value = load
        .http
        .get(format!("{}/.well-known/jwks.json", load.base))
        .send()
        .await?
        .json()
        .await?;
    let token = |proof: Option<String>| {
        let mut request = load
            .http
            .post(format!("{}/oauth2/token", load.base))
            .basic_auth(&load.client.0, Some(&load.client.1))
            .form(&[("grant_type", "client_credentials")]);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        async move {
            Ok::<_, Failed>(
                request.send().await?.json::<Value>().await?["access_token"]
                    .as_str()
                    .ok_or("no token")?
                    .to_owned(),
            )
        }
    };
    let bearer = token(None).await?;
    let first = key
        .proofs(1, "POST", &load.htu, None)?
        .lock()
        .map_err(|_| "lock")?
        .pop_front();
    let bound = token(first).await?;
    let payload = bound.split('.').nth(1).ok_or("not a JWT")?;
    let claims: Value = serde_json::from_slice(&base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        payload,
    )?)?;
    let (issuer, audience) = (
        claims["iss"].as_str().ok_or("iss")?,
        claims["aud"].as_str().ok_or("aud")?,
    );
    let verifier = tessera_verify::Verifier::offline(issuer, audience, &jwks)?;
    let budget = Duration::from_secs(seconds);
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < budget {
        verifier.verify(&bearer).await?;
        n += 1;
    }
    let bearer_rate = n as f64 / started.elapsed().as_secs_f64();
    let url = "https://api.example.com/orders";
    let proofs = key.proofs(
        (bearer_rate as usize * seconds as usize).min(150_000),
        "GET",
        url,
        Some(&tessera_verify::dpop::ath(&bound)),
    )?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < budget {
        let Some(proof) = proofs.lock().map_err(|_| "lock")?.pop_front() else {
            break;
        };
        verifier.verify_dpop(&bound, &proof, "GET", url).await?;
        n += 1;
    }
    let dpop_rate = n as f64 / started.elapsed().as_secs_f64();
    println!("tessera_verify: bearer_per_s={bearer_rate:.0} dpop_per_s={dpop_rate:.0} ratio={:.3} (one thread)", dpop_rate / bearer_rate);
    Ok(())
}

fn main() -> Result<(), Failed> {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: dpop_load BASE_URL ISSUER CLIENT_ID CLIENT_SECRET [seconds] [workers] [pid]";
    let base = args.next().ok_or(usage)?;
    let issuer = args.next().ok_or(usage)?;
    let client = (args.next().ok_or(usage)?, args.next().ok_or(usage)?);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let workers: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(32);
    let server: Option<u32> = args.next().and_then(|s| s.parse().ok());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let load = Load {
            htu: format!("{issuer}/oauth2/token"),
            base,
            client,
            http: reqwest::Client::new(),
        };
        // DPOP_ALG=EdDSA signs the proofs with Ed25519 instead of ES256
        let eddsa = std::env::var("DPOP_ALG").is_ok_and(|a| a == "EdDSA");
        println!(
            "proofs signed with {}",
            if eddsa { "EdDSA" } else { "ES256" }
        );
        let key = Key::new(eddsa)?;
        let duration = Duration::from_secs(seconds);
        load.pair(Grant::ClientCredentials, workers, duration, server, &key)
            .await?;
        load.pair(Grant::Refresh, workers, duration, server, &key)
            .await?;
        verifier_rates(&load, &key, seconds.min(5)).await
    })
}
