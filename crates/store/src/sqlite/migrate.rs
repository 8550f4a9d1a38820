//! The migration runner ([`crate::migrations`]) on SQLite.

use crate::migrations::Schema;
use crate::{Error, Result};
use chrono::{SecondsFormat, Utc};
use rusqlite::{Connection, TransactionBehavior, params};

const TABLE: &str = "CREATE TABLE IF NOT EXISTS abforge_migrations (
    component  TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    applied_at TEXT    NOT NULL,
    PRIMARY KEY (component, version)
)";

/// The component's version (0 before any migration).
pub(crate) fn version(conn: &Connection, schema: &Schema) -> rusqlite::Result<u32> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' \
         AND name = 'abforge_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM abforge_migrations WHERE component = ?1",
        [schema.component],
        |r| r.get(0),
    )
}

/// Applies the pending migrations in one immediate transaction (`place`: the file, for
/// messages).
pub(crate) fn migrate(conn: &mut Connection, schema: &Schema, place: &str) -> Result<()> {
    let op = format!("migrate {place}");
    let err = |e: rusqlite::Error| Error::sqlite(op.clone(), &e);
    if version(conn, schema).map_err(err)? == schema.latest() {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    tx.execute_batch(TABLE).map_err(err)?;
    // Read again under the write lock: another connection may have migrated meanwhile.
    let current = version(&tx, schema).map_err(err)?;
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    for (v, sql) in schema.pending(current, &format!(" in {place}"))? {
        tx.execute_batch(sql).map_err(err)?;
        tx.execute(
            "INSERT INTO abforge_migrations (component, version, applied_at) \
             VALUES (?1, ?2, ?3)",
            params![schema.component, v, now],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: Schema = Schema {
        component: "test",
        what: "the test store",
        migrations: &["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)"],
    };

    #[test]
    fn sqlite_applies_each_migration_once_and_records_it() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrate(&mut conn, &SCHEMA, ":memory:").unwrap();
        migrate(&mut conn, &SCHEMA, ":memory:").unwrap();
        assert_eq!(version(&conn, &SCHEMA).unwrap(), 2);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM abforge_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
        let newer = Schema {
            migrations: &["CREATE TABLE a (x INTEGER)"],
            ..SCHEMA
        };
        let e = migrate(&mut conn, &newer, ":memory:").unwrap_err();
        assert!(
            e.to_string().contains("newer than this abforge knows (1)"),
            "{e}"
        );
    }
}
