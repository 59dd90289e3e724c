//! The scale benchmark's data generator (BENCHMARKS.md, § Cost as the data grows): builds
//! a signed export stream that `tessera import` loads into either store, the way an
//! operator moving a real user base would fill one.
//!
//! `datagen BASE OUT [--users N] [--sessions M] [--clients K] [--audit A] [--tokens FILE]
//! [--token-count T]`, with the target's TESSERA_* settings in the environment (the KEK
//! signs the stream; the password hashing parameters are the server's).
//!
//! - `BASE` is an export of a fresh store (`tessera export`): its signing keys and its
//!   bootstrap client are kept, so the stream opens with the KEK the target uses.
//! - N users `user<i>@datagen.test`, all with one real argon2id hash of the password
//!   `datagen-password` (hashed once: a million hashes would take hours, and every hash
//!   costs the same to check).
//! - K confidential clients `dg-<i>` with the secret `dg-secret-<i>`: even ones use
//!   `client_credentials`, odd ones the code flow with refresh tokens.
//! - M live refresh families (sessions) spread over the users and over `spa` and the
//!   code-flow clients, created over the last week, idle-expiring a day from now.
//! - A audit events (sign-ins, refreshes, failures) spread over the users.
//! - `--tokens FILE`: the current refresh tokens of the first T sessions on `spa` (a public
//!   client, so a load can refresh them with no secret), one per line (default T: 10,000).
//!
//! `datagen feed E CURSORS` fills the revocation feed of the store the TESSERA_* settings
//! name with E events written now, and writes to CURSORS up to 1,000 cursors spread evenly
//! over the feed, for the feed-read load. One event in 100 is a user cut-off, which every
//! confidential client sees; the rest are revoked access tokens of `dg-2` for the audience
//! `https://api.datagen.test`, which `dg-2` sees and `dg-0` does not.

use std::cell::RefCell;
use std::io::{BufReader, BufWriter, Write};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tessera::store::transfer::{table, Cell, Row, TABLES};
use tessera::tokens::refresh::Handle;
use time::OffsetDateTime;

type Failure = Box<dyn std::error::Error>;

/// How many of each thing to generate.
struct Sizes {
    users: u64,
    sessions: u64,
    clients: u64,
    audit: u64,
    token_count: u64,
}

fn usage() -> Failure {
    "usage: datagen BASE OUT [--users N] [--sessions M] [--clients K] [--audit A] [--tokens FILE] [--token-count T]\n       datagen feed E CURSORS".into()
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(out)) = (args.next(), args.next()) else {
        return Err(usage());
    };
    if base == "feed" {
        let events = out.replace('_', "").parse::<u64>()?;
        return fill_feed(events, &args.next().ok_or_else(usage)?).await;
    }
    let mut sizes = Sizes {
        users: 10_000,
        sessions: 10_000,
        clients: 100,
        audit: 10_000,
        token_count: 10_000,
    };
    let mut tokens_file = None;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(usage)?;
        let number = || value.replace('_', "").parse::<u64>();
        match flag.as_str() {
            "--users" => sizes.users = number()?.max(1),
            "--sessions" => sizes.sessions = number()?,
            "--clients" => sizes.clients = number()?,
            "--audit" => sizes.audit = number()?,
            "--token-count" => sizes.token_count = number()?,
            "--tokens" => tokens_file = Some(value),
            _ => return Err(usage()),
        }
    }
    let settings = tessera::config::Settings::load(None).map_err(|e| format!("{e:?}"))?;
    let kek = &settings.kek;
    let base = tessera::service::transfer::read(BufReader::new(std::fs::File::open(&base)?), kek)
        .map_err(|e| format!("{base}: {e}"))?;
    base.authentic
        .map_err(|e| format!("the base export is not this KEK's: {e}"))?;

    let started = Instant::now();
    let hasher = tessera::auth::hashing::PasswordHasher::start(settings.password.hash, 1, 1)?;
    let password = tessera::domain::Password::new("datagen-password".into());
    let hash = hasher.hash(password).await?;

    let now = tessera::clock::Clock::now(&tessera::clock::SystemClock);
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let tokens = match &tokens_file {
        Some(path) => Some(BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    let generated = Generated {
        sizes: &sizes,
        hash: &hash,
        now,
        tokens: RefCell::new((tokens, 0)),
    };
    let mut out = BufWriter::new(std::fs::File::create(&out)?);
    let rows = TABLES.iter().flat_map(|t| {
        let kept = base.rows.iter().filter(|r| r.table.name == t.name).cloned();
        kept.chain(generated.rows(t.name))
    });
    let counts = tessera::service::transfer::write_rows(kek, now, rows, &mut out)?;
    out.flush()?;
    let (tokens, written) = generated.tokens.into_inner();
    if let Some(mut file) = tokens {
        file.flush()?;
    }
    eprintln!(
        "{}",
        serde_json::json!({
            "generated": counts,
            "tokens": written,
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

/// The rows generated for each table.
struct Generated<'a> {
    sizes: &'a Sizes,
    hash: &'a str,
    now: OffsetDateTime,
    /// Where the sessions' refresh tokens go, and how many went.
    tokens: RefCell<(Option<BufWriter<std::fs::File>>, u64)>,
}

/// User `i`'s id: fixed, so sessions and audit events can name users without a table.
fn user_id(i: u64) -> uuid::Uuid {
    uuid::Uuid::from_u128(0xda7a_0000_0000_4000_8000_0000_0000_0000 | u128::from(i))
}

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}

fn list(items: &[&str]) -> Cell {
    Cell::TextList(items.iter().map(|s| (*s).to_owned()).collect())
}

/// A row of `name`, which is one of the export's tables.
fn row(name: &'static str, cells: Vec<Cell>) -> Row {
    let Some(table) = table(name) else {
        unreachable!("{name} is a table of the export")
    };
    Row { table, cells }
}

impl Generated<'_> {
    /// `name`'s generated rows, lazily.
    fn rows(&self, name: &str) -> Box<dyn Iterator<Item = Row> + '_> {
        let Sizes {
            users,
            sessions,
            clients,
            audit,
            ..
        } = *self.sizes;
        match name {
            "users" => Box::new((0..users).map(|i| self.user(i))),
            "clients" => Box::new((0..clients).map(|i| self.client(i))),
            "audit_events" => Box::new((0..audit).map(|i| self.audit(i))),
            "refresh_families" => Box::new((0..sessions).map(|i| {
                let (row, token) = self.session(i);
                if self.client_of(i) == "spa" {
                    self.keep(&token);
                }
                row
            })),
            _ => Box::new(std::iter::empty()),
        }
    }

    /// Writes a refresh token to the tokens file while it wants more.
    fn keep(&self, token: &str) {
        let mut kept = self.tokens.borrow_mut();
        let (file, written) = &mut *kept;
        if let Some(file) = file.as_mut().filter(|_| *written < self.sizes.token_count) {
            // a failed write shows as a short count in the summary
            if writeln!(file, "{token}").is_ok() {
                *written += 1;
            }
        }
    }

    fn ago(&self, seconds: u64) -> OffsetDateTime {
        self.now - Duration::from_secs(seconds)
    }

    fn user(&self, i: u64) -> Row {
        let created = self.ago(86_400 * 365 * (i % 3) + i % 86_400);
        row(
            "users",
            vec![
                Cell::Uuid(user_id(i)),
                text(format!("user{i}@datagen.test")),
                Cell::Bool(!i.is_multiple_of(5)),
                if i.is_multiple_of(2) {
                    text(format!("User {i}"))
                } else {
                    Cell::Null
                },
                text(self.hash),
                Cell::Time(created),
                Cell::Time(created),
            ],
        )
    }

    fn client(&self, i: u64) -> Row {
        let secret: [u8; 32] = Sha256::digest(format!("dg-secret-{i}").as_bytes()).into();
        let code_flow = i % 2 == 1;
        let (grants, redirects) = if code_flow {
            (
                list(&["authorization_code", "refresh_token"]),
                Cell::TextList(vec![format!("https://app{i}.datagen.test/callback")]),
            )
        } else {
            (list(&["client_credentials"]), list(&[]))
        };
        row(
            "clients",
            vec![
                text(format!("dg-{i}")),
                text(format!("Datagen client {i}")),
                Cell::Bytes(secret.to_vec()),
                Cell::Bool(false),
                Cell::Bool(false),
                grants,
                list(&["openid", "email", "profile"]),
                list(&[]),
                redirects,
                list(&[]),
                text("ES256"),
                Cell::Null,
                Cell::Time(self.ago(86_400 * 30)),
                Cell::Time(self.ago(86_400 * 30)),
            ],
        )
    }

    /// Session `i`'s client.
    fn client_of(&self, i: u64) -> String {
        let code_clients = self.sizes.clients / 2;
        if i % 4 == 3 && code_clients > 0 {
            format!("dg-{}", 2 * (i / 4 % code_clients) + 1)
        } else {
            "spa".to_owned()
        }
    }

    /// Session `i` and its current refresh token: on `spa` for most, on the code-flow
    /// clients for every fourth (when there are any).
    fn session(&self, i: u64) -> (Row, String) {
        let handle = Handle::generate();
        let issued = handle.issue();
        let client = self.client_of(i);
        let created = self.ago(i % (7 * 86_400));
        let secs = |t: OffsetDateTime| Cell::Time(t);
        let row = row(
            "refresh_families",
            vec![
                text(handle.sid().to_string()),
                Cell::Uuid(user_id(i % self.sizes.users)),
                text(client),
                text("openid email"),
                secs(created),
                list(&["pwd"]),
                secs(created),
                secs(created + Duration::from_secs(30 * 86_400)),
                Cell::Bytes(issued.sha256.to_vec()),
                Cell::Null,
                Cell::Null,
                secs(created),
                Cell::Time(self.now + Duration::from_secs(86_400)),
                text(format!("203.0.113.{}", i % 250)),
                text("Mozilla/5.0 (datagen)"),
            ],
        );
        (row, issued.expose().to_owned())
    }

    fn audit(&self, i: u64) -> Row {
        let (event, outcome) = match i % 10 {
            0 => ("login", "denied"),
            1..=4 => ("login", "ok"),
            _ => ("token_refreshed", "ok"),
        };
        row(
            "audit_events",
            vec![
                Cell::Int(i as i64 + 1),
                Cell::Time(self.ago(self.sizes.audit - i)),
                text(event),
                Cell::Null,
                Cell::Uuid(user_id(i % self.sizes.users)),
                text("spa"),
                text(format!("203.0.113.{}", i % 250)),
                text(outcome),
                Cell::Json(serde_json::json!({})),
            ],
        )
    }
}

/// `datagen feed E CURSORS` (see the header).
async fn fill_feed(events: u64, cursors: &str) -> Result<(), Failure> {
    use tessera::store::{FeedRead, FeedRecord, Revocation};
    let started = Instant::now();
    let settings = tessera::config::Settings::load(None).map_err(|e| format!("{e:?}"))?;
    let backend = tessera::store::connect((&settings).into()).await?;
    let feed = backend.stores.feed;
    let keep = tessera::service::feed::retention(&settings);
    let now = tessera::clock::Clock::now(&tessera::clock::SystemClock);
    let exp = now.unix_timestamp() + 3600;
    let mut written = 0;
    while written < events {
        let batch: Vec<FeedRecord> = (written..events.min(written + 1000))
            .map(|i| match i % 100 {
                0 => FeedRecord::public(Revocation::User {
                    sub: user_id(i).to_string(),
                    not_before: now.unix_timestamp(),
                }),
                _ => FeedRecord {
                    event: Revocation::Jti {
                        jti: format!("dg-jti-{i}"),
                        exp,
                    },
                    client_id: Some("dg-2".into()),
                    aud: vec!["https://api.datagen.test".into()],
                },
            })
            .collect();
        written += batch.len() as u64;
        feed.append(&batch, now, keep).await?;
    }
    // every (E / 1000)th event's cursor, read back through the store
    let step = (events / 1000).max(1) as usize;
    let mut out = BufWriter::new(std::fs::File::create(cursors)?);
    let (mut after, mut seen, mut kept) = (None, 0usize, 0);
    loop {
        let FeedRead::Page { records, .. } = feed.read(after, 1000).await? else {
            return Err("the feed expired while it was read".into());
        };
        let Some((last, _)) = records.last() else {
            break;
        };
        after = Some(*last);
        for (cursor, _) in &records {
            if seen.is_multiple_of(step) {
                writeln!(out, "{}", cursor.encode())?;
                kept += 1;
            }
            seen += 1;
        }
    }
    out.flush()?;
    eprintln!(
        "{}",
        serde_json::json!({
            "feed_events": written,
            "read_back": seen,
            "cursors": kept,
            "seconds": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}
