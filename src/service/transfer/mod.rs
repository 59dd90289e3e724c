//! `tessera export` / `tessera import` (book § Moving up from one machine (or back)): the way from the embedded store up to
//! Postgres + Redis (or back) without logging anybody out or un-revoking anything.
//!
//! The stream is JSON lines: a header naming the format, one line per row
//! (`{"type": <table>, <column>: <value>, ...}`), and an end line with the row count and
//! a MAC under a KEK-derived key (`stream`), so a truncated or edited stream is refused
//! rather than imported. Import reads and checks the whole stream first (every line, the
//! MAC, the KEK against every sealed item, every key, client and user as creating it
//! would, the target holding nothing but its bootstrap client) and only then writes, all
//! or nothing.

mod checks;
mod stream;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde_json::json;
use time::OffsetDateTime;

use crate::crypto::Kek;
use crate::store::transfer::{Cell, Row, Transfer, TransferError};
pub use stream::{read, Stream};

pub const FORMAT: &str = "tessera-export";
pub const VERSION: u64 = 1;

/// Rows per table.
pub type Counts = BTreeMap<&'static str, u64>;

/// Writes the whole store to `out`; returns the rows written per table.
pub async fn export(
    transfer: &dyn Transfer,
    kek: &Kek,
    now: OffsetDateTime,
    out: &mut (dyn Write + Send),
) -> Result<Counts, TransferError> {
    let mut out = stream::Signed::new(out, kek);
    let header = json!({ "type": "header", "format": FORMAT, "version": VERSION,
        "exported_at": Cell::Time(now).to_json() });
    writeln!(out, "{header}")?;
    let mut counts = Counts::new();
    let mut sink = |row: Row| {
        *counts.entry(row.table.name).or_default() += 1;
        writeln!(out, "{}", row.to_json())
    };
    let rows = transfer.export(now, &mut sink).await?;
    out.finish(rows)?;
    Ok(counts)
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}; nothing was imported")]
    Line { line: usize, message: String },
    #[error("{0}; nothing was imported")]
    Stream(String),
    #[error("{0}; nothing was imported")]
    Invalid(String),
    #[error("{item} does not open with this KEK: set TESSERA_KEK to the KEK of the store that was exported (the `kek` file of its data directory); nothing was imported")]
    Kek { item: String },
    #[error("the target store is not empty ({}); import needs a migrated store holding nothing but the bootstrap `spa` client; nothing was imported", .0.join(", "))]
    NotEmpty(Vec<String>),
    #[error(transparent)]
    Transfer(#[from] TransferError),
}

/// Imports an export read from `input` into an empty store; returns the rows per table.
pub async fn import(
    transfer: &dyn Transfer,
    kek: &Kek,
    input: impl BufRead,
    now: OffsetDateTime,
) -> Result<Counts, ImportError> {
    let Stream { rows, authentic } = read(input, kek)?;
    checks::kek_opens_everything(kek, &rows)?;
    authentic?;
    checks::rows_are_valid(kek, &rows)?;
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
