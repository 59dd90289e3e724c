//! The export's list of tables (`tessera::store::transfer::TABLES`) against the schema the
//! migrations build, on both SQL backends: every migrated table is exported or named in
//! `NOT_MOVED` with a reason, and every exported table has exactly the migrated columns.
//! A migration that adds a table or a column fails here until the export learns it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tessera::store::transfer::{NOT_MOVED, TABLES};

use crate::helpers::{TempDir, TestDb};

type Schema = BTreeMap<String, BTreeSet<String>>;

/// Checks `schema` (a backend's migrated tables and their columns) against the export.
fn check(backend: &str, schema: &Schema, session_state_here: bool) {
    let not_moved: BTreeSet<&str> = NOT_MOVED.iter().map(|(name, _)| *name).collect();
    for (table, columns) in schema {
        if not_moved.contains(table.as_str()) {
            continue;
        }
        let exported = TABLES.iter().find(|t| t.name == table).unwrap_or_else(|| {
            panic!("{backend}: table {table} is neither exported (TABLES) nor in NOT_MOVED")
        });
        let named: BTreeSet<String> = exported
            .columns
            .iter()
            .map(|(c, _, _)| (*c).to_owned())
            .collect();
        assert_eq!(
            &named, columns,
            "{backend}: the export's columns of {table} differ from the migrated ones"
        );
    }
    for table in TABLES {
        if table.session_state && !session_state_here {
            continue;
        }
        assert!(
            schema.contains_key(table.name),
            "{backend}: the export names {}, which no migration creates",
            table.name
        );
    }
}

#[tokio::test]
async fn the_export_names_every_migrated_table_and_column_of_the_embedded_store() {
    let dir = TempDir::new();
    let file = dir.0.join("tessera.db");
    let backend = tessera::store::embedded(&file, 1, Duration::ZERO)
        .await
        .unwrap();
    backend.migrator.migrate().await.unwrap();
    let db = rusqlite::Connection::open(&file).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut schema = Schema::new();
    for table in tables {
        let columns = db
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        schema.insert(table, columns);
    }
    assert!(schema.contains_key("users"), "no schema read: {schema:?}");
    check("embedded", &schema, true);
}

#[tokio::test]
async fn the_export_names_every_migrated_table_and_column_of_postgres() {
    let db = TestDb::new().await;
    let rows = db
        .connect()
        .await
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap();
    let mut schema = Schema::new();
    for row in rows {
        schema
            .entry(row.get(0))
            .or_default()
            .insert(row.get::<_, String>(1));
    }
    assert!(schema.contains_key("users"), "no schema read: {schema:?}");
    check("postgres", &schema, false);
}
