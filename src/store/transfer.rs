//! `tessera export` / `tessera import` (book § Run the service): everything that must survive a move
//! between the embedded store and Postgres + Redis, as rows of named tables in one
//! backend-neutral encoding. Both SQL backends hold the durable tables with the same
//! columns; the session tables are SQLite's own, which the Redis backend reads from and
//! writes to its keys.
//!
//! Not moved: pending password-reset links, MFA logins and authorization codes (minutes
//! long; users ask again), browser sign-in (SSO) sessions (users sign in again on the
//! hosted page; the refresh families they started are moved), rate-limit and lockout
//! counters (they start over).

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::StoreError;

/// How a column's values are encoded in the export and stored by each backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uuid,
    Text,
    Bool,
    /// 64-bit integer.
    Int,
    /// 32-bit integer (Postgres `integer`).
    Int32,
    /// RFC 3339 in the export; `timestamptz` in Postgres, Unix µs in SQLite.
    Time,
    /// RFC 3339 in the export; Unix seconds in SQLite and Redis.
    Secs,
    /// Base64 in the export.
    Bytes,
    TextList,
    Json,
}

/// One column: name, kind, whether it may be null.
pub type Column = (&'static str, Kind, bool);

/// A table the export holds, in the order import writes them (referenced rows first).
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// Held by Redis, not Postgres, in the Postgres + Redis mode.
    pub session_state: bool,
}

mod tables;
pub use tables::{HOLDINGS, NOT_MOVED, TABLES};

/// The table named `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// One value of a row, typed by its column's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Uuid(uuid::Uuid),
    Text(String),
    Bool(bool),
    Int(i64),
    Time(OffsetDateTime),
    Bytes(Vec<u8>),
    TextList(Vec<String>),
    Json(Value),
}

/// A row of `table`, cells in column order.
#[derive(Debug, Clone)]
pub struct Row {
    pub table: &'static Table,
    pub cells: Vec<Cell>,
}

impl Row {
    /// The cell of column `name` (the column lists are static, so a miss is a bug).
    pub fn get(&self, name: &str) -> &Cell {
        let at = self.table.columns.iter().position(|(c, _, _)| *c == name);
        at.and_then(|i| self.cells.get(i)).unwrap_or(&Cell::Null)
    }

    /// The export line: `{"type": <table>, <column>: <value>, ...}`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), Value::String(self.table.name.into()));
        for ((name, _, _), cell) in self.table.columns.iter().zip(&self.cells) {
            object.insert((*name).into(), cell.to_json());
        }
        Value::Object(object)
    }

    /// Reads an export line of `table`: every column present, nothing else, each value
    /// of its column's kind.
    pub fn from_json(table: &'static Table, mut object: Map<String, Value>) -> Result<Row, String> {
        object.remove("type");
        let mut cells = Vec::with_capacity(table.columns.len());
        for (name, kind, nullable) in table.columns {
            let value = object
                .remove(*name)
                .ok_or_else(|| format!("{}: `{name}` is missing", table.name))?;
            let cell = Cell::from_json(*kind, &value)
                .map_err(|expected| format!("{}.{name}: expected {expected}", table.name))?;
            if cell == Cell::Null && !nullable {
                return Err(format!("{}.{name}: must not be null", table.name));
            }
            cells.push(cell);
        }
        if let Some(extra) = object.keys().next() {
            return Err(format!("{}: unknown column `{extra}`", table.name));
        }
        Ok(Row { table, cells })
    }
}

impl Cell {
    pub fn to_json(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Uuid(u) => Value::String(u.to_string()),
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Int(i) => Value::from(*i),
            Cell::Time(t) => Value::String(t.format(&Rfc3339).unwrap_or_default()),
            Cell::Bytes(b) => Value::String(STANDARD.encode(b)),
            Cell::TextList(items) => Value::from(items.clone()),
            Cell::Json(v) => v.clone(),
        }
    }

    /// A cell of `kind` from its export encoding; the error names what was expected.
    pub fn from_json(kind: Kind, value: &Value) -> Result<Cell, &'static str> {
        if value.is_null() {
            return Ok(Cell::Null);
        }
        let text = || value.as_str().ok_or("a string");
        Ok(match kind {
            Kind::Uuid => Cell::Uuid(text()?.parse().map_err(|_| "a UUID")?),
            Kind::Text => Cell::Text(text()?.to_owned()),
            Kind::Bool => Cell::Bool(value.as_bool().ok_or("true or false")?),
            Kind::Int => Cell::Int(value.as_i64().ok_or("an integer")?),
            Kind::Int32 => {
                let int = value.as_i64().ok_or("an integer")?;
                i32::try_from(int).map_err(|_| "a 32-bit integer")?;
                Cell::Int(int)
            }
            Kind::Time | Kind::Secs => Cell::Time(
                OffsetDateTime::parse(text()?, &Rfc3339).map_err(|_| "an RFC 3339 time")?,
            ),
            Kind::Bytes => Cell::Bytes(STANDARD.decode(text()?).map_err(|_| "base64")?),
            Kind::TextList => Cell::TextList(
                serde_json::from_value(value.clone()).map_err(|_| "a list of strings")?,
            ),
            Kind::Json => Cell::Json(value.clone()),
        })
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_time(&self) -> Option<OffsetDateTime> {
        match self {
            Cell::Time(t) => Some(*t),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Cell::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_uuid(&self) -> Option<uuid::Uuid> {
        match self {
            Cell::Uuid(u) => Some(*u),
            _ => None,
        }
    }
}

/// The rows an import writes, in `TABLES` order, read as they are written.
pub type Rows = Box<dyn Iterator<Item = Result<Row, TransferError>> + Send>;

/// Receives exported rows one at a time (so an export never holds a whole store).
pub type Sink<'a> = dyn FnMut(Row) -> std::io::Result<()> + Send + 'a;

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Output(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
}

/// A backend that can hand over, and take over, everything the export moves.
#[async_trait]
pub trait Transfer: Send + Sync {
    /// Every live row of every table, table by table in `TABLES` order, from one
    /// consistent read where the backend has one.
    async fn export(&self, now: OffsetDateTime, sink: &mut Sink<'_>) -> Result<u64, TransferError>;

    /// What this store holds beyond a migrated, never-used store with its bootstrap
    /// `spa` client, one line per table (empty: it can take an import).
    async fn holdings(&self) -> Result<Vec<String>, StoreError>;

    /// Writes every row, replacing the bootstrap `spa` client: all or nothing (a row that
    /// comes as an error undoes what was written). Holds a bounded batch of rows at a
    /// time, whatever the number of rows.
    async fn import(&self, rows: Rows, now: OffsetDateTime) -> Result<(), TransferError>;
}
