//! Export and import of the durable tables in Postgres: one `REPEATABLE READ` snapshot
//! streamed out; rows written in a transaction the caller commits (after Redis took the
//! session state), so the two stores change together or not at all.

use futures_util::{pin_mut, TryStreamExt};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;

use super::{unavailable, PgStore};
use crate::store::transfer::{Cell, Kind, Row, Sink, Table, TransferError, TABLES};
use crate::store::StoreError;

type Param = Box<dyn ToSql + Sync + Send>;

fn durable() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(|t| !t.session_state)
}

fn column_list(table: &Table) -> String {
    let names: Vec<&str> = table.columns.iter().map(|(name, _, _)| *name).collect();
    names.join(", ")
}

fn cell(row: &tokio_postgres::Row, i: usize, kind: Kind) -> Result<Cell, tokio_postgres::Error> {
    fn opt<T>(value: Option<T>, wrap: impl FnOnce(T) -> Cell) -> Cell {
        value.map_or(Cell::Null, wrap)
    }
    Ok(match kind {
        Kind::Uuid => opt(row.try_get(i)?, Cell::Uuid),
        Kind::Text => opt(row.try_get(i)?, Cell::Text),
        Kind::Bool => opt(row.try_get(i)?, Cell::Bool),
        Kind::Int => opt(row.try_get(i)?, Cell::Int),
        Kind::Int32 => opt(row.try_get::<_, Option<i32>>(i)?, |v| {
            Cell::Int(i64::from(v))
        }),
        Kind::Time | Kind::Secs => opt(row.try_get(i)?, Cell::Time),
        Kind::Bytes => opt(row.try_get(i)?, Cell::Bytes),
        Kind::TextList => opt(row.try_get(i)?, Cell::TextList),
        Kind::Json => opt(row.try_get(i)?, Cell::Json),
    })
}

fn param(kind: Kind, cell: &Cell) -> Param {
    match (kind, cell) {
        (Kind::Int32, Cell::Int(v)) => Box::new(i32::try_from(*v).ok()),
        (Kind::Int32, _) => Box::new(None::<i32>),
        (_, Cell::Null) => match kind {
            Kind::Uuid => Box::new(None::<uuid::Uuid>),
            Kind::Bool => Box::new(None::<bool>),
            Kind::Int => Box::new(None::<i64>),
            Kind::Time | Kind::Secs => Box::new(None::<OffsetDateTime>),
            Kind::Bytes => Box::new(None::<Vec<u8>>),
            Kind::TextList => Box::new(None::<Vec<String>>),
            Kind::Json => Box::new(None::<serde_json::Value>),
            Kind::Text | Kind::Int32 => Box::new(None::<String>),
        },
        (_, Cell::Uuid(v)) => Box::new(*v),
        (_, Cell::Text(v)) => Box::new(v.clone()),
        (_, Cell::Bool(v)) => Box::new(*v),
        (_, Cell::Int(v)) => Box::new(*v),
        (_, Cell::Time(v)) => Box::new(*v),
        (_, Cell::Bytes(v)) => Box::new(v.clone()),
        (_, Cell::TextList(v)) => Box::new(v.clone()),
        (_, Cell::Json(v)) => Box::new(v.clone()),
    }
}

impl PgStore {
    /// Streams every row of the durable tables, from one snapshot, to `sink`.
    pub(crate) async fn export_durable(&self, sink: &mut Sink<'_>) -> Result<u64, TransferError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(unavailable)?;
        let mut written = 0;
        for table in durable() {
            let sql = format!(
                "SELECT {} FROM {} ORDER BY 1",
                column_list(table),
                table.name
            );
            let rows = tx
                .query_raw(&sql, std::iter::empty::<i32>())
                .await
                .map_err(unavailable)?;
            pin_mut!(rows);
            while let Some(row) = rows.try_next().await.map_err(unavailable)? {
                let mut cells = Vec::with_capacity(table.columns.len());
                for (i, (name, kind, _)) in table.columns.iter().enumerate() {
                    cells.push(
                        cell(&row, i, *kind).map_err(|e| {
                            StoreError::Corrupt(format!("{}.{name}: {e}", table.name))
                        })?,
                    );
                }
                sink(Row { table, cells })?;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Starts an import in `tx`: the bootstrap `spa` client goes (the import brings its
    /// own); the caller then inserts the rows and finishes, and commits.
    pub(crate) async fn start_import(
        tx: &deadpool_postgres::Transaction<'_>,
    ) -> Result<(), StoreError> {
        tx.execute("DELETE FROM clients WHERE id = 'spa'", &[])
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Inserts `rows`, all of one durable table and at most `import_batch` of it, with
    /// one statement.
    pub(crate) async fn import_rows(
        tx: &deadpool_postgres::Transaction<'_>,
        rows: &[Row],
    ) -> Result<(), StoreError> {
        let Some(table) = rows.first().map(|r| r.table) else {
            return Ok(());
        };
        let width = table.columns.len();
        let tuples: Vec<String> = (0..rows.len())
            .map(|r| {
                let marks: Vec<String> =
                    (1..=width).map(|c| format!("${}", r * width + c)).collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            table.name,
            column_list(table),
            tuples.join(", ")
        );
        let params: Vec<Param> = rows
            .iter()
            .flat_map(|row| table.columns.iter().zip(&row.cells))
            .map(|((_, kind, _), cell)| param(*kind, cell))
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        // the full batch repeats: its statement is prepared once
        let statement = tx.prepare_cached(&sql).await.map_err(unavailable)?;
        tx.execute(&statement, &refs).await.map_err(unavailable)?;
        Ok(())
    }

    /// Finishes an import in `tx`: the audit trail's numbering goes on after the imported
    /// events, and every instance reloads its key ring.
    pub(crate) async fn finish_import(
        tx: &deadpool_postgres::Transaction<'_>,
    ) -> Result<(), StoreError> {
        tx.batch_execute(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), coalesce(max(id), 0) + 1, false) FROM audit_events;
             UPDATE keyring_version SET version = version + 1;",
        )
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    /// What the durable tables hold beyond the bootstrap client.
    pub(crate) async fn durable_holdings(&self) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let mut found = Vec::new();
        for (table, filter) in crate::store::transfer::HOLDINGS {
            if crate::store::transfer::table(table).is_some_and(|t| t.session_state) {
                continue;
            }
            let sql = format!("SELECT count(*) FROM {table}{filter}");
            let n: i64 = client
                .query_one(&sql, &[])
                .await
                .map_err(unavailable)?
                .get(0);
            if n > 0 {
                found.push(format!("{table}: {n} rows"));
            }
        }
        Ok(found)
    }
}
