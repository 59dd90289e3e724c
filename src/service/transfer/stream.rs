//! The export stream's framing and authentication (book § Moving up from one machine (or back)): a header line, one JSON
//! line per row, and an end line carrying the row count and `mac`, the base64url (no
//! padding) HMAC-SHA-256 of every byte before the end line under `Kek::export_mac`. An
//! edited, reordered or truncated stream is refused before anything is written.

use std::io::{BufRead, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use time::OffsetDateTime;

use super::{Counts, ImportError, FORMAT, VERSION};
use crate::crypto::Kek;
use crate::store::transfer::{table, Cell, Row, TransferError};

/// Longest line import reads (a row is far shorter; this bounds memory on hostile input).
const MAX_LINE: usize = 1 << 20;

/// A writer that authenticates every byte it passes on, and counts the rows per table.
pub(super) struct Signed<'a> {
    out: &'a mut (dyn Write + Send),
    mac: Hmac<Sha256>,
    counts: Counts,
}

impl<'a> Signed<'a> {
    /// Starts a stream exported at `now`: its header line.
    pub(super) fn start(
        out: &'a mut (dyn Write + Send),
        kek: &Kek,
        now: OffsetDateTime,
    ) -> std::io::Result<Self> {
        let mut signed = Signed {
            out,
            mac: kek.export_mac(),
            counts: Counts::new(),
        };
        let header = json!({ "type": "header", "format": FORMAT, "version": VERSION,
            "exported_at": Cell::Time(now).to_json() });
        writeln!(signed, "{header}")?;
        Ok(signed)
    }

    /// One row's line.
    pub(super) fn row(&mut self, row: &Row) -> std::io::Result<()> {
        *self.counts.entry(row.table.name).or_default() += 1;
        writeln!(self, "{}", row.to_json())
    }

    /// Writes the end line with the row count and the MAC of everything before it;
    /// returns the rows written per table.
    pub(super) fn finish(self, rows: u64) -> std::io::Result<Counts> {
        let mac = URL_SAFE_NO_PAD.encode(self.mac.finalize().into_bytes());
        writeln!(
            self.out,
            "{}",
            json!({ "type": "end", "rows": rows, "mac": mac })
        )?;
        self.out.flush()?;
        Ok(self.counts)
    }
}

impl Write for Signed<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.mac.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Reads one line of at most `MAX_LINE` bytes (newline included); `None` at the end.
fn next_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> Result<bool, ImportError> {
    line.clear();
    let read = std::io::Read::take(&mut *input, MAX_LINE as u64 + 1)
        .read_until(b'\n', line)
        .map_err(|e| ImportError::Stream(format!("cannot read the input: {e}")))?;
    if read > MAX_LINE {
        return Err(ImportError::Stream(format!(
            "a line is longer than {MAX_LINE} bytes"
        )));
    }
    Ok(read > 0)
}

/// An export read line by line: its rows, and whether its MAC verified under the KEK
/// (kept apart so that a stream from another KEK is named as such by the sealed items).
pub struct Stream {
    pub rows: Vec<Row>,
    pub authentic: Result<(), ImportError>,
}

/// Reads and checks every line of an export, and the stream's MAC under `kek`, keeping
/// every row (for small streams and tools; import reads twice instead, see `scan`).
pub fn read(input: impl BufRead, kek: &Kek) -> Result<Stream, ImportError> {
    let mut rows = Vec::new();
    let authentic = scan(input, kek, |row| {
        rows.push(row);
        Ok(())
    })?;
    Ok(Stream { rows, authentic })
}

/// Reads and checks every line of an export, handing each row to `visit` (which may
/// refuse it), and answers whether the stream's MAC verified under `kek`. Holds one line
/// at a time, whatever the stream's size.
pub fn scan(
    input: impl BufRead,
    kek: &Kek,
    mut visit: impl FnMut(Row) -> Result<(), ImportError>,
) -> Result<Result<(), ImportError>, ImportError> {
    let mut reader = Reader::new(input, kek);
    while let Some(row) = reader.next_row()? {
        visit(row)?;
    }
    reader.finish()
}

/// The rows of an export that `scan` checked, read again for writing: parsed as before,
/// its MAC computed again, and an error in place of the end if these are not the bytes
/// that were checked (the input changed between the two readings), so that the store's
/// one transaction rolls back.
pub struct Replay<R> {
    reader: Option<Reader<R>>,
}

impl<R: BufRead> Replay<R> {
    pub fn new(input: R, kek: &Kek) -> Self {
        Replay {
            reader: Some(Reader::new(input, kek)),
        }
    }
}

impl<R: BufRead> Iterator for Replay<R> {
    type Item = Result<Row, TransferError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        let changed = |e: ImportError| {
            TransferError::Refused(format!("the input changed while it was imported: {e}"))
        };
        match reader.next_row() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => match self.reader.take().map(Reader::finish) {
                Some(Ok(Ok(()))) | None => None,
                Some(Ok(Err(e)) | Err(e)) => Some(Err(changed(e))),
            },
            Err(e) => {
                self.reader = None;
                Some(Err(changed(e)))
            }
        }
    }
}

/// One pass over an export's lines: the header, the rows, the end line; the MAC of every
/// byte before the end line.
struct Reader<R> {
    input: R,
    mac: Hmac<Sha256>,
    raw: Vec<u8>,
    number: usize,
    header: bool,
    end: Option<Map<String, Value>>,
    rows: u64,
}

impl<R: BufRead> Reader<R> {
    fn new(input: R, kek: &Kek) -> Self {
        Reader {
            input,
            mac: kek.export_mac(),
            raw: Vec::new(),
            number: 0,
            header: false,
            end: None,
            rows: 0,
        }
    }

    /// The next row; `None` once the input is over.
    fn next_row(&mut self) -> Result<Option<Row>, ImportError> {
        while next_line(&mut self.input, &mut self.raw)? {
            self.number += 1;
            let number = self.number;
            let at = |message: String| ImportError::Line {
                line: number,
                message,
            };
            let text = std::str::from_utf8(&self.raw).map_err(|_| at("not UTF-8".into()))?;
            if text.trim().is_empty() {
                self.mac.update(&self.raw);
                continue;
            }
            if self.end.is_some() {
                return Err(at("nothing may follow the end line".into()));
            }
            let object: Map<String, Value> =
                serde_json::from_str(text).map_err(|e| at(format!("not a JSON object ({e})")))?;
            let kind = object.get("type").and_then(Value::as_str);
            match (kind, self.header) {
                (Some("header"), false) => {
                    if object.get("format") != Some(&json!(FORMAT))
                        || object.get("version") != Some(&json!(VERSION))
                    {
                        return Err(at(format!("not a {FORMAT} version {VERSION} header")));
                    }
                    self.header = true;
                    self.mac.update(&self.raw);
                }
                (_, false) => {
                    return Err(at(format!("the first line must be the {FORMAT} header")))
                }
                (Some("end"), true) => self.end = Some(object),
                (name, true) => {
                    let name = name.unwrap_or_default();
                    let table = table(name).ok_or_else(|| at(format!("unknown type `{name}`")))?;
                    let row = Row::from_json(table, object).map_err(at)?;
                    self.mac.update(&self.raw);
                    self.rows += 1;
                    return Ok(Some(row));
                }
            }
        }
        Ok(None)
    }

    /// After the last row: whether the end line is there and counts the rows read, then
    /// whether the MAC verified.
    fn finish(self) -> Result<Result<(), ImportError>, ImportError> {
        let end = self.end.ok_or_else(|| {
            ImportError::Stream("the input ends without the end line: it is truncated".into())
        })?;
        let announced = end.get("rows").and_then(Value::as_u64);
        if announced != Some(self.rows) {
            return Err(ImportError::Stream(format!(
                "the end line announces {} rows but {} were read",
                announced.map_or("no".into(), |n| n.to_string()),
                self.rows
            )));
        }
        Ok(verify(self.mac, end.get("mac")))
    }
}

fn verify(mac: Hmac<Sha256>, given: Option<&Value>) -> Result<(), ImportError> {
    let given = given.and_then(Value::as_str).ok_or_else(|| {
        ImportError::Stream(
            "the end line has no `mac`: the stream is not authenticated (sign it with the KEK as the manual's export format shows)".into(),
        )
    })?;
    let given = URL_SAFE_NO_PAD
        .decode(given)
        .map_err(|_| ImportError::Stream("the end line's `mac` is not base64url".into()))?;
    // verify_slice compares in constant time
    mac.verify_slice(&given).map_err(|_| {
        ImportError::Stream(
            "the stream's `mac` does not match: it was changed after export, or signed under another KEK".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use time::macros::datetime;

    use super::*;

    fn blocklisted(jti: &str) -> Row {
        Row {
            table: table("jti_blocklist").unwrap(),
            cells: vec![
                Cell::Text(jti.into()),
                Cell::Time(datetime!(2026-12-07 12:00 UTC)),
            ],
        }
    }

    fn signed(kek: &Kek) -> Vec<u8> {
        let mut out = Vec::new();
        let rows = ["a", "b", "c"].map(blocklisted);
        crate::service::transfer::write_rows(kek, datetime!(2026-12-07 11:00 UTC), rows, &mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_replay_of_the_checked_bytes_gives_every_row_and_a_changed_one_ends_in_an_error() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(73) ^ 0x5c);
        let kek = Kek::from_base64(&STANDARD.encode(bytes)).unwrap();
        let stream = signed(&kek);
        let checked = scan(&stream[..], &kek, |_| Ok(())).unwrap();
        assert!(checked.is_ok());

        let again: Vec<_> = Replay::new(&stream[..], &kek).collect();
        assert_eq!(again.len(), 3);
        assert!(again.iter().all(Result::is_ok));

        // the same shape, another row: every line parses, the MAC no longer matches
        let changed = String::from_utf8(stream).unwrap().replace("\"b\"", "\"x\"");
        let mut replay = Replay::new(changed.as_bytes(), &kek);
        for _ in 0..3 {
            assert!(replay.next().unwrap().is_ok());
        }
        let end = replay.next().unwrap();
        assert!(
            matches!(&end, Err(TransferError::Refused(why)) if why.contains("changed")),
            "{end:?}"
        );
        assert!(replay.next().is_none());
    }
}
