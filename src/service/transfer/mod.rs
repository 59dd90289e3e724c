//! `tessera export` / `tessera import` (book § Moving up from one machine (or back)): the way from the embedded store up to
//! Postgres + Redis (or back) without logging anybody out or un-revoking anything.
//!
//! The stream is JSON lines: a header naming the format, one line per row
//! (`{"type": <table>, <column>: <value>, ...}`), and an end line with the row count and
//! a MAC under a KEK-derived key (`stream`), so a truncated or edited stream is refused
//! rather than imported. Import reads and checks the whole stream first (every line, the
//! MAC, the KEK against every sealed item, every key, client and user as creating it
//! would, the target holding nothing but its bootstrap client) and only then writes, all
//! or nothing. It holds a line at a time, not the stream: the first reading checks, a
//! second one (`Replay`, which checks the MAC again) feeds the store's writes.

mod checks;
mod stream;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use time::OffsetDateTime;

use crate::crypto::Kek;
use crate::store::transfer::{Row, Transfer, TransferError};
pub use stream::{read, scan, Replay, Stream};

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
    let mut out = stream::Signed::start(out, kek, now)?;
    let rows = transfer.export(now, &mut |row| out.row(&row)).await?;
    Ok(out.finish(rows)?)
}

/// Writes `rows` (in `TABLES` order) as a signed export stream, framed as `export` frames
/// it: for a tool that builds a store's contents itself (the scale benchmark's data
/// generator, `benches/datagen.rs`), which `tessera import` then loads into either store.
pub fn write_rows(
    kek: &Kek,
    exported_at: OffsetDateTime,
    rows: impl IntoIterator<Item = Row>,
    out: &mut (dyn Write + Send),
) -> std::io::Result<Counts> {
    let mut out = stream::Signed::start(out, kek, exported_at)?;
    let mut written = 0u64;
    for row in rows {
        out.row(&row)?;
        written += 1;
    }
    out.finish(written)
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

/// Where an import reads its export from.
pub enum Source {
    /// A file, read twice: once to check it, once to write it.
    File(std::fs::File),
    /// A stream read once (standard input): copied to an unnamed temporary file
    /// (`TMPDIR`) as it is checked, and written from there.
    Stream(Box<dyn Read + Send>),
}

/// Imports an export into an empty store; returns the rows per table. The stream is read
/// twice, a line at a time: first every line, the MAC and every row are checked, then
/// the rows are written in the store's one transaction. Memory stays the same whatever
/// the stream's size.
pub async fn import(
    transfer: &dyn Transfer,
    kek: &Kek,
    source: Source,
    now: OffsetDateTime,
) -> Result<Counts, ImportError> {
    let cannot = |e: std::io::Error| ImportError::Stream(format!("cannot read the input: {e}"));
    let (mut copy, checked) = match source {
        Source::File(file) => {
            let again = file.try_clone().map_err(cannot)?;
            (again, check(BufReader::with_capacity(1 << 16, file), kek)?)
        }
        Source::Stream(input) => {
            let spool = tempfile::tempfile().map_err(cannot)?;
            let tee = Tee {
                input,
                copy: BufWriter::with_capacity(1 << 16, spool.try_clone().map_err(cannot)?),
            };
            (spool, check(BufReader::with_capacity(1 << 16, tee), kek)?)
        }
    };
    let holdings = transfer.holdings().await.map_err(TransferError::from)?;
    if !holdings.is_empty() {
        return Err(ImportError::NotEmpty(holdings));
    }
    copy.seek(SeekFrom::Start(0)).map_err(cannot)?;
    let rows = Replay::new(BufReader::with_capacity(1 << 16, copy), kek);
    transfer.import(Box::new(rows), now).await?;
    Ok(checked)
}

/// The first reading: every line, the MAC, every sealed item under `kek`, every row that
/// has rules; the rows per table.
fn check(input: impl BufRead, kek: &Kek) -> Result<Counts, ImportError> {
    let mut counts = Counts::new();
    // a stream from another KEK is named by its sealed items, before its MAC; a row
    // that breaks a rule only counts in an authentic stream
    let mut invalid = None;
    let authentic = scan(input, kek, |row| {
        checks::kek_opens(kek, &row)?;
        if invalid.is_none() {
            invalid = checks::row_is_valid(kek, &row).err();
        }
        *counts.entry(row.table.name).or_default() += 1;
        Ok(())
    })?;
    authentic?;
    invalid.map_or(Ok(counts), Err)
}

/// A reader that copies what it reads to `copy` (flushed when the input ends).
struct Tee<W: Write> {
    input: Box<dyn Read + Send>,
    copy: W,
}

impl<W: Write> Read for Tee<W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        if n == 0 {
            self.copy.flush()?;
        }
        Ok(n)
    }
}
