//! The migration runner ([`crate::migrations`]) on PostgreSQL.

use crate::migrations::Schema;
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
