//! Upstream sign-ins per second on the hosted pages (book § Upstream providers), against
//! the same flow without the provider (a browser already signed in: a code at once), in
//! the same run.
//!
//! Usage: `upstream_load BASE_URL CLIENT_ID IDP_PORT [seconds] [workers] [server_pid]`,
//! against a running tessera whose provider `bench` is an `oidc` provider with issuer
//! `http://127.0.0.1:IDP_PORT` (`benches/upstream_load.sh` sets both up). This process
//! serves that provider (the tests' scripted OpenID provider: discovery, JWKS, an RS256 ID
//! token per code, PKCE checked) on the same machine.
//!
//! One upstream sign-in: the sign-in page (`prompt=login`), its "Continue with" link
//! (tessera keeps state, nonce and verifier; discovery cached), the provider's answer at the
//! callback (the code redeemed at the provider, its ID token verified, the linked account
//! found, a browser sign-in started, a code issued), back at the client with a code.
//! The ceiling: the same workers asking for codes with a browser sign-in already made.

use std::time::{Duration, Instant};

use serde_json::Value;

#[allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
#[path = "../tests/api/helpers/fake_idp.rs"]
mod fake_idp;

use fake_idp::{FakeIdp, Grant};

#[path = "proc_cpu.rs"]
mod proc_cpu;

use proc_cpu::cpu_ticks;

type Failed = Box<dyn std::error::Error + Send + Sync>;

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn main() -> Result<(), Failed> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: upstream_load BASE_URL CLIENT_ID IDP_PORT [seconds] [workers] [pid]";
    let base = args.next().ok_or(usage)?;
    let client = args.next().ok_or(usage)?;
    let port: u16 = args.next().and_then(|p| p.parse().ok()).ok_or(usage)?;
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let workers: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    let server: Option<u32> = args.next().and_then(|s| s.parse().ok());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let idp = FakeIdp::start_on(port, 1).await;
        let load = Load { base, client, idp };
        let duration = Duration::from_secs(seconds);
        let upstream = load
            .run("upstream", workers, duration, server, false)
            .await?;
        let sso = load
            .run("sso_code", workers, duration, server, true)
            .await?;
        println!(
            "upstream_over_sso_code={:.3}",
            upstream / sso.max(f64::MIN_POSITIVE)
        );
        Ok(())
    })
}

struct Load {
    base: String,
    client: String,
    idp: FakeIdp,
}

fn browser() -> Result<reqwest::Client, Failed> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn param(url: &url::Url, key: &str) -> Result<String, Failed> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("no {key} in {url}").into())
}

fn location(response: &reqwest::Response) -> Result<url::Url, Failed> {
    let to = response
        .headers()
        .get("location")
        .ok_or_else(|| format!("no redirect but {}", response.status()))?;
    Ok(url::Url::parse(to.to_str()?)?)
}

impl Load {
    fn authorize(&self, prompt_login: bool) -> String {
        let mut url = format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={REDIRECT}&scope=openid%20email&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s",
            self.base, self.client
        );
        if prompt_login {
            url.push_str("&prompt=login");
        }
        url
    }

    /// One sign-in through the provider as user `who`: the code back at the client.
    async fn upstream(&self, http: &reqwest::Client, who: usize, n: u64) -> Result<(), Failed> {
        let page = http.get(self.authorize(true)).send().await?.text().await?;
        let marker = "href=\"/oauth2/upstream/bench/start?";
        let start = page.find(marker).ok_or("no Continue with link")? + 6;
        let end = page[start..].find('"').ok_or("unterminated link")? + start;
        let link = page[start..end].replace("&amp;", "&");
        let to_idp = http.get(format!("{}{link}", self.base)).send().await?;
        let at = location(&to_idp)?;
        let nonce = param(&at, "nonce")?;
        let code = format!("c{who}-{n}");
        let claims = self.idp.claims(
            &nonce,
            &format!("bench-{who}"),
            &format!("bench{who}@example.com"),
            true,
        );
        self.idp.issue(
            &code,
            Grant {
                challenge: param(&at, "code_challenge")?,
                claims,
                evil_key: false,
                emails: Value::Null,
            },
        );
        let callback = format!(
            "{}/oauth2/upstream/bench/callback?state={}&code={code}",
            self.base,
            param(&at, "state")?
        );
        let back = http.get(callback).send().await?;
        let to = location(&back)?;
        param(&to, "code").map(|_| ())
    }

    /// A code for a browser that is signed in already.
    async fn sso(&self, http: &reqwest::Client) -> Result<(), Failed> {
        let back = http.get(self.authorize(false)).send().await?;
        param(&location(&back)?, "code").map(|_| ())
    }

    async fn run(
        &self,
        name: &str,
        workers: usize,
        duration: Duration,
        server: Option<u32>,
        sso: bool,
    ) -> Result<f64, Failed> {
        let mut browsers = Vec::new();
        for who in 0..workers {
            let http = browser()?;
            // each worker's account exists (and, for the ceiling, its browser is signed in)
            self.upstream(&http, who, 0).await?;
            browsers.push(http);
        }
        let cpu_before = server.map(|pid| cpu_ticks(Some(pid)));
        let started = Instant::now();
        let deadline = started + duration;
        let jobs = browsers.iter().enumerate().map(|(who, http)| async move {
            let (mut done, mut failures, mut latencies) = (0u64, 0u64, Vec::new());
            while Instant::now() < deadline {
                let at = Instant::now();
                let one = match sso {
                    true => self.sso(http).await,
                    false => self.upstream(http, who, done + failures + 1).await,
                };
                match one {
                    Ok(()) => {
                        done += 1;
                        latencies.push(at.elapsed());
                    }
                    Err(e) => {
                        failures += 1;
                        if failures == 1 {
                            eprintln!("{name}: {e}");
                        }
                    }
                }
            }
            (done, failures, latencies)
        });
        let results = futures_util::future::join_all(jobs).await;
        let elapsed = started.elapsed().as_secs_f64();
        let (mut n, mut failures, mut latencies) = (0u64, 0u64, Vec::new());
        for (d, f, mut l) in results {
            n += d;
            failures += f;
            latencies.append(&mut l);
        }
        latencies.sort();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
            latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        let rate = n as f64 / elapsed;
        let server_us = match (server, cpu_before) {
            (Some(pid), Some(before)) => {
                let ticks = cpu_ticks(Some(pid)).saturating_sub(before);
                format!("{:.0}", ticks as f64 * 1e4 / n.max(1) as f64)
            }
            _ => "n/a".into(),
        };
        println!(
            "{name}_per_s={rate:.1} n={n} failures={failures} p50_ms={:.1} p99_ms={:.1} server_cpu_us_each={server_us}",
            at(0.5),
            at(0.99)
        );
        Ok(rate)
    }
}
