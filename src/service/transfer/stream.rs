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

use super::{ImportError, FORMAT, VERSION};
use crate::crypto::Kek;
use crate::store::transfer::{table, Row};

/// Longest line import reads (a row is far shorter; this bounds memory on hostile input).
const MAX_LINE: usize = 1 << 20;

/// A writer that authenticates every byte it passes on.
pub(super) struct Signed<'a> {
    out: &'a mut (dyn Write + Send),
    mac: Hmac<Sha256>,
}

impl<'a> Signed<'a> {
    pub(super) fn new(out: &'a mut (dyn Write + Send), kek: &Kek) -> Self {
        Signed {
            out,
            mac: kek.export_mac(),
        }
    }

    /// Writes the end line with the row count and the MAC of everything before it.
    pub(super) fn finish(self, rows: u64) -> std::io::Result<()> {
        let mac = URL_SAFE_NO_PAD.encode(self.mac.finalize().into_bytes());
        writeln!(
            self.out,
            "{}",
            json!({ "type": "end", "rows": rows, "mac": mac })
        )?;
        self.out.flush()
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

/// Reads and checks every line of an export, and the stream's MAC under `kek`.
pub fn read(mut input: impl BufRead, kek: &Kek) -> Result<Stream, ImportError> {
    let mut rows = Vec::new();
    let mut mac = kek.export_mac();
    let mut header = false;
    let mut end: Option<Map<String, Value>> = None;
    let mut raw = Vec::new();
    let mut number = 0;
    while next_line(&mut input, &mut raw)? {
        number += 1;
        let at = |message: String| ImportError::Line {
            line: number,
            message,
        };
        let text = std::str::from_utf8(&raw).map_err(|_| at("not UTF-8".into()))?;
        if text.trim().is_empty() {
            mac.update(&raw);
            continue;
        }
        if end.is_some() {
            return Err(at("nothing may follow the end line".into()));
        }
        let object: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| at(format!("not a JSON object ({e})")))?;
        let kind = object.get("type").and_then(Value::as_str);
        match (kind, header) {
            (Some("header"), false) => {
                if object.get("format") != Some(&json!(FORMAT))
                    || object.get("version") != Some(&json!(VERSION))
                {
                    return Err(at(format!("not a {FORMAT} version {VERSION} header")));
                }
                header = true;
            }
            (_, false) => return Err(at(format!("the first line must be the {FORMAT} header"))),
            (Some("end"), true) => {
                end = Some(object);
                continue;
            }
            (name, true) => {
                let name = name.unwrap_or_default();
                let table = table(name).ok_or_else(|| at(format!("unknown type `{name}`")))?;
                rows.push(Row::from_json(table, object).map_err(at)?);
            }
        }
        mac.update(&raw);
    }
    let end = end.ok_or_else(|| {
        ImportError::Stream("the input ends without the end line: it is truncated".into())
    })?;
    let announced = end.get("rows").and_then(Value::as_u64);
    if announced != Some(rows.len() as u64) {
        return Err(ImportError::Stream(format!(
            "the end line announces {} rows but {} were read",
            announced.map_or("no".into(), |n| n.to_string()),
            rows.len()
        )));
    }
    Ok(Stream {
        rows,
        authentic: verify(mac, end.get("mac")),
    })
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
