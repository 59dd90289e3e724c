//! `tessera export` / `tessera import` (SPEC S16): the way from the embedded store up to
//! Postgres + Redis (or back) without logging anybody out or un-revoking anything.
//!
//! The stream is JSON lines: a header naming the format, one line per row
//! (`{"type": <table>, <column>: <value>, ...}`), and a trailer with the row count, so a
//! truncated stream is refused rather than half imported. Import reads and checks the
//! whole stream first (every line, the KEK against every sealed item, the target holding
//! nothing but its bootstrap client) and only then writes, all or nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::crypto::{Kek, Purpose};
use crate::store::transfer::{table, Cell, Row, Transfer, TransferError};

pub const FORMAT: &str = "tessera-export";
pub const VERSION: u64 = 1;

/// Rows per table.
pub type Counts = BTreeMap<&'static str, u64>;

/// Writes the whole store to `out`; returns the rows written per table.
pub async fn export(
    transfer: &dyn Transfer,
    now: OffsetDateTime,
    out: &mut (dyn Write + Send),
) -> Result<Counts, TransferError> {
    let header = json!({ "type": "header", "format": FORMAT, "version": VERSION,
        "exported_at": Cell::Time(now).to_json() });
    writeln!(out, "{header}")?;
    let mut counts = Counts::new();
    let mut sink = |row: Row| {
        *counts.entry(row.table.name).or_default() += 1;
        writeln!(out, "{}", row.to_json())
    };
    let rows = transfer.export(now, &mut sink).await?;
    writeln!(out, "{}", json!({ "type": "end", "rows": rows }))?;
    out.flush()?;
    Ok(counts)
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}; nothing was imported")]
    Line { line: usize, message: String },
    #[error("{0}; nothing was imported")]
    Stream(String),
    #[error("{item} does not open with this KEK: set TESSERA_KEK to the KEK of the store that was exported (the `kek` file of its data directory); nothing was imported")]
    Kek { item: String },
    #[error("the target store is not empty ({}); import needs a migrated store holding nothing but the bootstrap `spa` client; nothing was imported", .0.join(", "))]
    NotEmpty(Vec<String>),
    #[error(transparent)]
    Transfer(#[from] TransferError),
}

/// Reads and checks every line of an export.
pub fn read(input: impl BufRead) -> Result<Vec<Row>, ImportError> {
    let mut rows = Vec::new();
    let mut header = false;
    let mut end = None;
    for (i, line) in input.lines().enumerate() {
        let at = |message: String| ImportError::Line {
            line: i + 1,
            message,
        };
        let line = line.map_err(|e| ImportError::Stream(format!("cannot read the input: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        if end.is_some() {
            return Err(at("nothing may follow the end line".into()));
        }
        let object: Map<String, Value> =
            serde_json::from_str(&line).map_err(|e| at(format!("not a JSON object ({e})")))?;
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match (kind, header) {
            ("header", false) => {
                if object.get("format") != Some(&json!(FORMAT))
                    || object.get("version") != Some(&json!(VERSION))
                {
                    return Err(at(format!("not a {FORMAT} version {VERSION} header")));
                }
                header = true;
            }
            (_, false) => return Err(at(format!("the first line must be the {FORMAT} header"))),
            ("end", true) => {
                end = Some(
                    object
                        .get("rows")
                        .and_then(Value::as_u64)
                        .unwrap_or(u64::MAX),
                )
            }
            (name, true) => {
                let table = table(name).ok_or_else(|| at(format!("unknown type `{name}`")))?;
                rows.push(Row::from_json(table, object).map_err(at)?);
            }
        }
    }
    match end {
        Some(n) if n == rows.len() as u64 => Ok(rows),
        Some(n) => Err(ImportError::Stream(format!(
            "the end line announces {n} rows but {} were read",
            rows.len()
        ))),
        None => Err(ImportError::Stream(
            "the input ends without the end line: it is truncated".into(),
        )),
    }
}

/// Every sealed item must open with `kek` before anything is written.
fn check_kek(kek: &Kek, rows: &[Row]) -> Result<(), ImportError> {
    for row in rows {
        let (purpose, sealed, aad, item) = match row.table.name {
            "signing_keys" => {
                let kid = row.get("kid").as_text().unwrap_or_default();
                (
                    Purpose::SigningKey,
                    row.get("private_sealed"),
                    kid.as_bytes().to_vec(),
                    format!("signing key {kid}"),
                )
            }
            "user_totp" => {
                let user = row.get("user_id").as_uuid().unwrap_or_default();
                (
                    Purpose::TotpSecret,
                    row.get("secret_sealed"),
                    user.as_bytes().to_vec(),
                    format!("the TOTP secret of user {user}"),
                )
            }
            _ => continue,
        };
        let opened = sealed.as_bytes().map(|s| kek.open(purpose, s, &aad));
        if !matches!(opened, Some(Ok(_))) {
            return Err(ImportError::Kek { item });
        }
    }
    Ok(())
}

/// Imports an export read from `input` into an empty store; returns the rows per table.
pub async fn import(
    transfer: &dyn Transfer,
    kek: &Kek,
    input: impl BufRead,
    now: OffsetDateTime,
) -> Result<Counts, ImportError> {
    let rows = read(input)?;
    check_kek(kek, &rows)?;
    let holdings = transfer.holdings().await.map_err(TransferError::from)?;
    if !holdings.is_empty() {
        return Err(ImportError::NotEmpty(holdings));
    }
    let mut counts = Counts::new();
    for row in &rows {
        *counts.entry(row.table.name).or_default() += 1;
    }
    transfer.import(rows, now).await?;
    Ok(counts)
}
