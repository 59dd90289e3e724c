//! Export and import for the embedded store: every table from one read transaction (a
//! consistent snapshot, streamed while the server keeps serving), every row back in one
//! write transaction, read from the stream as it is written.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::types::{Value as SqlValue, ValueRef};
use time::OffsetDateTime;

use super::{from_micros, micros, refusal, SqliteStore};
use crate::store::transfer::{
    Cell, Kind, Row, Rows, Sink, Table, Transfer, TransferError, HOLDINGS, TABLES,
};
use crate::store::StoreError;

/// Live rows only: what has expired is not moved.
fn live_clause(table: &Table) -> &'static str {
    match table.name {
        "refresh_families" => " WHERE expires_at > ?1 AND abs_exp > ?2",
        "jti_blocklist" | "user_cutoffs" => " WHERE expires_at > ?1",
        _ => "",
    }
}

fn column_list(table: &Table) -> String {
    let names: Vec<&str> = table.columns.iter().map(|(name, _, _)| *name).collect();
    names.join(", ")
}

fn cell(kind: Kind, value: ValueRef<'_>) -> Result<Cell, String> {
    let wrong = || format!("unexpected {:?} for a {kind:?} column", value.data_type());
    Ok(match (kind, value) {
        (_, ValueRef::Null) => Cell::Null,
        (Kind::Uuid, ValueRef::Text(t)) => Cell::Uuid(
            std::str::from_utf8(t)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(wrong)?,
        ),
        (Kind::Text, ValueRef::Text(t)) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        (Kind::Bool, ValueRef::Integer(i)) => Cell::Bool(i != 0),
        (Kind::Int | Kind::Int32, ValueRef::Integer(i)) => Cell::Int(i),
        (Kind::Time, ValueRef::Integer(us)) => Cell::Time(from_micros(us)),
        (Kind::Secs, ValueRef::Integer(s)) => {
            Cell::Time(OffsetDateTime::from_unix_timestamp(s).map_err(|_| wrong())?)
        }
        (Kind::Bytes, ValueRef::Blob(b)) => Cell::Bytes(b.to_vec()),
        (Kind::TextList, ValueRef::Text(t)) => {
            Cell::TextList(serde_json::from_slice(t).map_err(|_| wrong())?)
        }
        (Kind::Json, ValueRef::Text(t)) => {
            Cell::Json(serde_json::from_slice(t).map_err(|_| wrong())?)
        }
        _ => return Err(wrong()),
    })
}

fn sql_value(kind: Kind, cell: &Cell) -> SqlValue {
    match cell {
        Cell::Null => SqlValue::Null,
        Cell::Uuid(u) => SqlValue::Text(u.to_string()),
        Cell::Text(s) => SqlValue::Text(s.clone()),
        Cell::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Cell::Int(i) => SqlValue::Integer(*i),
        Cell::Time(t) if kind == Kind::Secs => SqlValue::Integer(t.unix_timestamp()),
        Cell::Time(t) => SqlValue::Integer(micros(*t)),
        Cell::Bytes(b) => SqlValue::Blob(b.clone()),
        Cell::TextList(items) => SqlValue::Text(serde_json::to_string(items).unwrap_or_default()),
        Cell::Json(v) => SqlValue::Text(v.to_string()),
    }
}

/// Reads every live row in one transaction, sending each to `rows`.
fn read_all(
    c: &mut rusqlite::Connection,
    now: OffsetDateTime,
    rows: &tokio::sync::mpsc::Sender<Row>,
) -> rusqlite::Result<()> {
    let tx = c.transaction()?;
    for table in TABLES {
        let sql = format!(
            "SELECT {} FROM {}{}",
            column_list(table),
            table.name,
            live_clause(table)
        );
        let mut stmt = tx.prepare(&sql)?;
        let mut params: Vec<SqlValue> = Vec::new();
        if !live_clause(table).is_empty() {
            params.push(SqlValue::Integer(micros(now)));
        }
        if table.name == "refresh_families" {
            params.push(SqlValue::Integer(now.unix_timestamp()));
        }
        let mut found = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(r) = found.next()? {
            let mut cells = Vec::with_capacity(table.columns.len());
            for (i, (name, kind, _)) in table.columns.iter().enumerate() {
                let value = cell(*kind, r.get_ref(i)?)
                    .map_err(|e| refusal(format!("{}.{name}: {e}", table.name)))?;
                cells.push(value);
            }
            if rows.blocking_send(Row { table, cells }).is_err() {
                return Ok(()); // the reader stopped (its output failed)
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Transfer for SqliteStore {
    async fn export(&self, now: OffsetDateTime, sink: &mut Sink<'_>) -> Result<u64, TransferError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let reading = self.run(move |c| read_all(c, now, &tx));
        let writing = async {
            let mut written = 0u64;
            while let Some(row) = rx.recv().await {
                sink(row)?;
                written += 1;
            }
            Ok::<_, std::io::Error>(written)
        };
        let (read, written) = tokio::join!(reading, writing);
        let written = written?;
        read?;
        Ok(written)
    }

    async fn holdings(&self) -> Result<Vec<String>, StoreError> {
        self.run(|c| {
            let mut found = Vec::new();
            for (table, filter) in HOLDINGS {
                let n: i64 =
                    c.query_row(&format!("SELECT count(*) FROM {table}{filter}"), [], |r| {
                        r.get(0)
                    })?;
                if n > 0 {
                    found.push(format!("{table}: {n} rows"));
                }
            }
            Ok(found)
        })
        .await
    }

    async fn import(&self, rows: Rows, _now: OffsetDateTime) -> Result<(), TransferError> {
        // a row that comes as an error rolls the transaction back; it is kept here
        let refused = Arc::new(Mutex::new(None));
        let keep = refused.clone();
        let written = self
            .write(move |tx| {
                tx.execute("DELETE FROM clients WHERE id = 'spa'", [])?;
                for row in rows {
                    let row = match row {
                        Ok(row) => row,
                        Err(e) => {
                            *keep.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            return Err(rusqlite::Error::ExecuteReturnedResults);
                        }
                    };
                    let table = row.table;
                    let marks: Vec<String> =
                        (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
                    let sql = format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        table.name,
                        column_list(table),
                        marks.join(", ")
                    );
                    let values = table
                        .columns
                        .iter()
                        .zip(&row.cells)
                        .map(|((_, kind, _), cell)| sql_value(*kind, cell));
                    tx.prepare_cached(&sql)?
                        .execute(rusqlite::params_from_iter(values))?;
                }
                tx.execute("UPDATE keyring_version SET version = version + 1", [])?;
                // a new store as far as the revocation feed's readers are concerned
                super::epoch::renew(tx)?;
                Ok(())
            })
            .await;
        let refused = refused.lock().unwrap_or_else(|p| p.into_inner()).take();
        match refused {
            Some(e) => Err(e),
            None => Ok(written?),
        }
    }
}
