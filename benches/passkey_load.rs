//! Passkey sign-ins per second through the JSON API (book § Passkeys), beside password
//! sign-ins and the raw ECDSA P-256 verification rate, all in the same run.
//!
//! Usage: `passkey_load BASE_URL [seconds] [workers] [server_pid]`, against a running
//! tessera whose issuer is BASE_URL on `localhost` (WebAuthn refuses IP addresses) with
//! rate limits and lockout off (`benches/passkey_load.sh` starts one).
//!
//! 1. The ceilings, one thread per core, for `seconds / 2` each: ES256 verifications per
//!    second by `webauthn-rs-core`'s own `COSEKey::verify_signature` (RustCrypto's p256:
//!    what a sign-in runs), and the raw ECDSA P-256 rate of OpenSSL for comparison.
//! 2. `workers` users, each with a password and a passkey of its own (a software
//!    authenticator: a P-256 key and a sign counter, as the API tests use).
//! 3. Passkey sign-ins: each worker loops options → sign → `POST /api/v1/session/passkey`
//!    (discoverable; tokens issued, a session started) for `seconds`.
//! 4. Password sign-ins: each worker loops `POST /api/v1/session` for `seconds`.
//!
//! The client runs on one thread of the same machine and signs every assertion; its CPU
//! and (with `server_pid`) the server's are read from /proc, so the report says how much
//! of each sign-in the server spent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
#[path = "../tests/api/helpers/passkey.rs"]
mod passkey;

use passkey::SoftAuthenticator;

#[path = "proc_cpu.rs"]
mod proc_cpu;

use proc_cpu::cpu_ticks;

const PASSWORD: &str = "correct-Horse-battery-staple-42";

type Failed = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Failed> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .ok_or("usage: passkey_load BASE_URL [seconds] [workers] [pid]")?;
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let workers: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    let server: Option<u32> = args.next().and_then(|s| s.parse().ok());

    let ceiling = Duration::from_secs((seconds / 2).max(2));
    let verify_per_s = webauthn_verify_rate(ceiling)?;
    let openssl_per_s = openssl_verify_rate(ceiling)?;
    println!(
        "webauthn_es256_verify_per_s={verify_per_s:.0} openssl_p256_verify_per_s={openssl_per_s:.0} \
         (one thread per core)"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(workers)
            .build()?;
        let load = Load { http, base };
        let mut users = Vec::new();
        for i in 0..workers {
            users.push(load.user_with_passkey(i).await?);
        }
        let users: Vec<_> = users.into_iter().map(|u| Arc::new(Mutex::new(u))).collect();

        let duration = Duration::from_secs(seconds);
        let passkeys = load
            .run("passkey", &users, duration, server, Load::passkey)
            .await?;
        let passwords = load
            .run("password", &users, duration, server, Load::password)
            .await?;
        println!(
            "passkey_over_password={:.1} passkey_over_webauthn_verify={:.3}",
            passkeys / passwords.max(f64::MIN_POSITIVE),
            passkeys / verify_per_s
        );
        Ok(())
    })
}

/// What an assertion signs: authenticator data and the client data's hash (WebAuthn §6.3.3).
const SIGNED: [u8; 69] = [0x5a; 69];

/// `threads` (one per core) running `verify` until `duration` is over: successes per second.
fn rate_on_every_core(
    duration: Duration,
    verify: impl Fn() -> bool + Send + Sync + 'static,
) -> Result<f64, Failed> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let verify = Arc::new(verify);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (done, verify) = (done.clone(), verify.clone());
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    if verify() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a verifying thread panicked")?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / duration.as_secs_f64())
}

/// A P-256 key and its DER signature over `SIGNED`, by OpenSSL.
fn signed() -> Result<(EcKey<openssl::pkey::Private>, Vec<u8>), Failed> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = EcKey::generate(&group)?;
    let signature = EcdsaSig::sign(&Sha256::digest(SIGNED), &key)?.to_der()?;
    Ok((key, signature))
}

/// ES256 verifications per second through `webauthn-rs-core`'s `COSEKey`, the call its
/// assertion check makes.
fn webauthn_verify_rate(duration: Duration) -> Result<f64, Failed> {
    use webauthn_rs_core::proto::{COSEAlgorithm, COSEEC2Key, COSEKey, COSEKeyType, ECDSACurve};
    let (key, signature) = signed()?;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
    let mut ctx = BigNumContext::new()?;
    key.public_key()
        .affine_coordinates(&group, &mut x, &mut y, &mut ctx)?;
    let cose = COSEKey {
        type_: COSEAlgorithm::ES256,
        key: COSEKeyType::EC_EC2(COSEEC2Key {
            curve: ECDSACurve::SECP256R1,
            x: x.to_vec_padded(32)?,
            y: y.to_vec_padded(32)?,
        }),
    };
    if cose.verify_signature(&signature, &SIGNED).ok() != Some(true) {
        return Err("webauthn-rs-core refused a valid signature".into());
    }
    rate_on_every_core(duration, move || {
        cose.verify_signature(&signature, &SIGNED).unwrap_or(false)
    })
}

/// Raw ECDSA P-256 verifications per second by OpenSSL (hash included).
fn openssl_verify_rate(duration: Duration) -> Result<f64, Failed> {
    let (key, signature) = signed()?;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let public = EcKey::from_public_key(&group, key.public_key())?;
    rate_on_every_core(duration, move || {
        EcdsaSig::from_der(&signature)
            .and_then(|sig| sig.verify(&Sha256::digest(SIGNED), &public))
            .unwrap_or(false)
    })
}

struct User {
    email: String,
    authenticator: SoftAuthenticator,
}

struct Load {
    http: reqwest::Client,
    base: String,
}

impl Load {
    async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> Result<Value, Failed> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("{path}: {status} {body}").into());
        }
        Ok(body)
    }

    /// User `i`: registered, signed in with the password, a passkey added.
    async fn user_with_passkey(&self, i: usize) -> Result<User, Failed> {
        let email = format!("passkey{i}@example.com");
        let account = json!({ "email": email, "password": PASSWORD, "name": "Bench" });
        self.post("/api/v1/accounts", account, None).await?;
        let login = json!({ "email": email, "password": PASSWORD });
        let tokens = self.post("/api/v1/session", login, None).await?;
        let access = tokens["access_token"].as_str().ok_or("no access token")?;
        let options = self
            .post("/api/v1/me/passkeys/options", json!({}), Some(access))
            .await?;
        let mut authenticator = SoftAuthenticator::new(&self.base);
        let credential = authenticator.create(&options["publicKey"]);
        let body = json!({ "ceremony": options["ceremony"], "credential": credential });
        self.post("/api/v1/me/passkeys", body, Some(access)).await?;
        Ok(User {
            email,
            authenticator,
        })
    }

    /// A discoverable passkey sign-in: options, the assertion, the finish.
    async fn passkey(&self, user: &Mutex<User>) -> Result<(), Failed> {
        let options = self
            .post("/api/v1/session/passkey/options", json!({}), None)
            .await?;
        let credential = {
            let mut user = user.lock().map_err(|_| "poisoned")?;
            user.authenticator.get(&options["publicKey"])
        };
        let body = json!({ "ceremony": options["ceremony"], "credential": credential });
        self.post("/api/v1/session/passkey", body, None).await?;
        Ok(())
    }

    async fn password(&self, user: &Mutex<User>) -> Result<(), Failed> {
        let email = user.lock().map_err(|_| "poisoned")?.email.clone();
        let body = json!({ "email": email, "password": PASSWORD });
        self.post("/api/v1/session", body, None).await?;
        Ok(())
    }

    /// Every user's worker doing `one` for `duration`: sign-ins per second, printed with
    /// latency percentiles and CPU per sign-in.
    async fn run<'a, F, Fut>(
        &'a self,
        name: &str,
        users: &'a [Arc<Mutex<User>>],
        duration: Duration,
        server: Option<u32>,
        one: F,
    ) -> Result<f64, Failed>
    where
        F: Fn(&'a Load, &'a Mutex<User>) -> Fut + Copy,
        Fut: std::future::Future<Output = Result<(), Failed>> + 'a,
    {
        let cpu_before = (cpu_ticks(None), server.map(|pid| cpu_ticks(Some(pid))));
        let started = Instant::now();
        let deadline = started + duration;
        let workers = users.iter().map(|user| async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            while Instant::now() < deadline {
                let at = Instant::now();
                match one(self, user).await {
                    Ok(()) => latencies.push(at.elapsed()),
                    Err(e) => {
                        failures += 1;
                        if failures == 1 {
                            eprintln!("{name}: {e}");
                        }
                    }
                }
            }
            (latencies, failures)
        });
        let results = futures_util::future::join_all(workers).await;
        let elapsed = started.elapsed().as_secs_f64();
        let mut latencies: Vec<Duration> = Vec::new();
        let mut failures = 0;
        for (mut l, f) in results {
            latencies.append(&mut l);
            failures += f;
        }
        latencies.sort();
        let n = latencies.len();
        let rate = n as f64 / elapsed;
        let at = |q: f64| latencies.get(((n as f64 * q) as usize).min(n.saturating_sub(1)));
        let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e3);
        let per = |ticks: u64| ticks as f64 * 1e6 / CLOCK_TICKS / n.max(1) as f64;
        let client_us = per(cpu_ticks(None).saturating_sub(cpu_before.0));
        let server_us = match (server, cpu_before.1) {
            (Some(pid), Some(before)) => format!("{:.0}", per(cpu_ticks(Some(pid)) - before)),
            _ => "n/a".into(),
        };
        println!(
            "{name}_sign_ins_per_s={rate:.1} n={n} failures={failures} p50_ms={:.1} p99_ms={:.1} \
             server_cpu_us_per_sign_in={server_us} client_cpu_us_per_sign_in={client_us:.0}",
            ms(at(0.5)),
            ms(at(0.99)),
        );
        Ok(rate)
    }
}

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;
