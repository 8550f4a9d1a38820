//! The one migration runner of the stores' SQL schemas, on SQLite and on PostgreSQL.
//!
//! Each component (the relational store, the run log) lists its migrations in order: version
//! `i + 1` is `migrations[i]`. Opening a store applies the pending ones in one transaction
//! and records each in `abforge_migrations(component, version, applied_at)`, shared by the
//! components; a schema newer than the code is refused, naming both versions. On
//! PostgreSQL the transaction first takes an advisory lock, so that processes opening the
//! same database at once apply each migration exactly once; on SQLite an immediate
//! transaction does the same.

use crate::{Error, Result};

/// A component's schema and its migrations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schema {
    /// Its name in `abforge_migrations.component`: `relational`, `runlog`.
    pub component: &'static str,
    /// What it is, in messages: `the relational store`, `the run log`.
    pub what: &'static str,
    /// The migrations, oldest first.
    pub migrations: &'static [&'static str],
}

impl Schema {
    /// The version this code writes.
    pub(crate) fn latest(&self) -> u32 {
        u32::try_from(self.migrations.len()).unwrap_or(u32::MAX)
    }

    /// The migrations to apply to a schema at `current`, each with the version it makes;
    /// an error when `current` is newer than this code (`place`: where, for the message).
    pub(crate) fn pending(&self, current: u32, place: &str) -> Result<Vec<(i32, &'static str)>> {
        if current > self.latest() {
            return Err(Error::Data(format!(
                "{}'s schema{place} is at version {current}, newer than this abforge knows \
                 ({}): upgrade abforge",
                self.what,
                self.latest()
            )));
        }
        Ok(self
            .migrations
            .iter()
            .enumerate()
            .skip(current as usize)
            .map(|(i, sql)| (i32::try_from(i + 1).unwrap_or(i32::MAX), *sql))
            .collect())
    }
}

/// The runner on SQLite.
pub(crate) mod sqlite {
    use super::Schema;
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
}

/// The runner on PostgreSQL.
pub(crate) mod postgres {
    use super::Schema;
    use crate::{Error, Result};
    use tokio_postgres::error::SqlState;
    use tokio_postgres::{Client, GenericClient};

    const TABLE: &str = "CREATE TABLE IF NOT EXISTS abforge_migrations (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)";

    /// Serialises the migrations of every component.
    const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('abforge_migrations'))";

    /// The component's version (0 before any migration).
    pub(crate) async fn version(client: &impl GenericClient, schema: &Schema) -> Result<u32> {
        let err = |e: tokio_postgres::Error| Error::postgres("schema version", &e);
        let exists: bool = client
            .query_one("SELECT to_regclass('abforge_migrations') IS NOT NULL", &[])
            .await
            .map_err(err)?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let v: i32 = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM abforge_migrations WHERE component = $1",
                &[&schema.component],
            )
            .await
            .map_err(err)?
            .get(0);
        Ok(u32::try_from(v).unwrap_or(0))
    }

    /// Applies the pending migrations in one transaction under the migrations' lock. A
    /// process that takes no lock (an older abforge) may create the migrations table at the
    /// same moment, a unique violation on the catalog: then the table is there and a second
    /// try passes.
    pub(crate) async fn migrate(client: &mut Client, schema: &Schema) -> Result<()> {
        if version(client, schema).await? == schema.latest() {
            return Ok(());
        }
        let mut tries = 0;
        loop {
            tries += 1;
            match migrate_once(client, schema).await {
                Err(Failed::Pg(e)) if tries < 3 && raced(&e) => {}
                Err(Failed::Pg(e)) => return Err(Error::postgres("migrate", &e)),
                Err(Failed::Other(e)) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
    }

    /// Whether creating the migrations table lost a race with another process.
    fn raced(e: &tokio_postgres::Error) -> bool {
        matches!(
            e.code(),
            Some(&SqlState::UNIQUE_VIOLATION | &SqlState::DUPLICATE_TABLE)
        )
    }

    enum Failed {
        Pg(tokio_postgres::Error),
        Other(Error),
    }

    impl From<tokio_postgres::Error> for Failed {
        fn from(e: tokio_postgres::Error) -> Self {
            Failed::Pg(e)
        }
    }

    async fn migrate_once(client: &mut Client, schema: &Schema) -> Result<(), Failed> {
        let tx = client.transaction().await?;
        tx.batch_execute(LOCK).await?;
        tx.batch_execute(TABLE).await?;
        let current = version(&tx, schema).await.map_err(Failed::Other)?;
        for (v, sql) in schema.pending(current, "").map_err(Failed::Other)? {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO abforge_migrations (component, version, applied_at) \
                 VALUES ($1, $2, now())",
                &[&schema.component, &v],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
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
    fn pending_migrations_follow_the_stored_version() {
        let all: Vec<i32> = SCHEMA.pending(0, "").unwrap().iter().map(|p| p.0).collect();
        assert_eq!(all, [1, 2]);
        assert_eq!(SCHEMA.pending(1, "").unwrap(), [(2, SCHEMA.migrations[1])]);
        assert!(SCHEMA.pending(2, "").unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused_with_both_versions() {
        let e = SCHEMA.pending(3, " in x.sqlite").unwrap_err().to_string();
        assert!(
            e.contains("the test store's schema in x.sqlite is at version 3")
                && e.contains("knows (2)"),
            "{e}"
        );
    }

    #[test]
    fn sqlite_applies_each_migration_once_and_records_it() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        sqlite::migrate(&mut conn, &SCHEMA, ":memory:").unwrap();
        sqlite::migrate(&mut conn, &SCHEMA, ":memory:").unwrap();
        assert_eq!(sqlite::version(&conn, &SCHEMA).unwrap(), 2);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM abforge_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
        let newer = Schema {
            migrations: &["CREATE TABLE a (x INTEGER)"],
            ..SCHEMA
        };
        let e = sqlite::migrate(&mut conn, &newer, ":memory:").unwrap_err();
        assert!(
            e.to_string().contains("newer than this abforge knows (1)"),
            "{e}"
        );
    }
}
