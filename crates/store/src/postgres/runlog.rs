//! The PostgreSQL run log: table `run_log` in the database a `postgres://` URL names.
//!
//! ```text
//! run_log(run_id TEXT, step TEXT, shard TEXT ('' for none), attempt INTEGER,
//!         experiment_id TEXT, status TEXT, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ,
//!         duration_ms BIGINT, row_count BIGINT, byte_count BIGINT, message TEXT, error TEXT,
//!         PRIMARY KEY (run_id, step, shard, attempt))
//! ```
//!
//! Migrations are versioned in `abforge_migrations(component, version, applied_at)`
//! (component `runlog`; the relational store records its own there as `relational`),
//! applied in one transaction under `pg_advisory_xact_lock(hashtext('abforge_migrations'))`
//! (the relational store's lock too), so concurrent opens apply each migration once.
//!
//! Attempt numbers: `INSERT … SELECT COALESCE(MAX(attempt), 0) + 1 … ON CONFLICT DO NOTHING
//! RETURNING attempt`; when a concurrent writer took the number (no row returned) it runs
//! again and reads the new maximum. Text is ordered byte-wise (`COLLATE "C"`), as the other
//! backends order it.
//!
//! One connection per handle (tokio-postgres pipelines concurrent calls on it), opened
//! again when it drops; over TLS as libpq's `sslmode` says ([`crate::postgres`]). A
//! connect timeout of 10 s applies unless the URL sets `connect_timeout`.

use super::PgConnector;
use super::migrate;
use crate::migrations::Schema;
use crate::redact_url;
use crate::runlog::{
    RunLog, RunLogSummary, StepAttempt, StepStatus, check_finish, check_start, count_to_i64,
    now_millis,
};
use crate::{Error, Result};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{Client, Row};

/// The `runlog` component's schema: its migrations, in order (version `i + 1` is the
/// `i`-th), applied by [`crate::migrations`].
const SCHEMA: Schema = Schema {
    component: "runlog",
    what: "the run log",
    migrations: MIGRATIONS,
};

const MIGRATIONS: &[&str] = &["
CREATE TABLE run_log (
    run_id        TEXT        NOT NULL,
    step          TEXT        NOT NULL,
    shard         TEXT        NOT NULL DEFAULT '',
    attempt       INTEGER     NOT NULL CHECK (attempt >= 1),
    experiment_id TEXT        NOT NULL,
    status        TEXT        NOT NULL CHECK (status IN ('started', 'succeeded', 'failed')),
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ,
    duration_ms   BIGINT,
    row_count     BIGINT,
    byte_count    BIGINT,
    message       TEXT,
    error         TEXT,
    PRIMARY KEY (run_id, step, shard, attempt)
);
CREATE INDEX run_log_by_start ON run_log (started_at);
"];

/// Connect timeout unless the URL sets one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Inserts that lost the race for an attempt number before [`RunLog::start`] gives up.
const MAX_START_TRIES: u32 = 200;

/// The columns of an attempt, in [`row_to_attempt`]'s order.
const COLUMNS: &str = "run_id, experiment_id, step, shard, attempt, status, started_at, \
                       ended_at, duration_ms, row_count, byte_count, message, error";

/// The PostgreSQL run log (see the module docs).
#[derive(Debug)]
pub struct PostgresRunLog {
    url: String,
    connector: PgConnector,
    client: tokio::sync::Mutex<Arc<Client>>,
}

impl PostgresRunLog {
    /// Connects to `postgres://user:password@host:port/db` (`postgresql://` too) and applies
    /// the pending migrations.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL tokio-postgres cannot parse; [`Error::Service`] when the
    /// server cannot be reached or refuses.
    pub async fn open(url: &str) -> Result<PostgresRunLog> {
        let mut connector = PgConnector::new(url)?;
        let config = connector.config_mut();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let mut client = connector.connect().await?;
        migrate::migrate(&mut client, &SCHEMA).await?;
        Ok(PostgresRunLog {
            url: redact_url(url),
            connector,
            client: tokio::sync::Mutex::new(Arc::new(client)),
        })
    }

    /// The `runlog` component's schema version (the last migration applied).
    ///
    /// # Errors
    /// [`Error::Service`] when the database cannot be read.
    pub async fn schema_version(&self) -> Result<u32> {
        let client = self.client().await?;
        migrate::version(&*client, &SCHEMA).await
    }

    /// The connection, opened again if it dropped.
    async fn client(&self) -> Result<Arc<Client>> {
        let mut guard = self.client.lock().await;
        if guard.is_closed() {
            *guard = Arc::new(self.connector.connect().await?);
        }
        Ok(Arc::clone(&guard))
    }
}

fn count_of(v: Option<i64>, what: &str) -> Result<Option<u64>> {
    v.map(|v| u64::try_from(v).map_err(|_| Error::Data(format!("run log: negative {what} {v}"))))
        .transpose()
}

fn status_of(s: &str) -> Result<StepStatus> {
    StepStatus::parse(s).ok_or_else(|| Error::Data(format!("run log: unknown status {s:?}")))
}

fn row_to_attempt(r: &Row) -> Result<StepAttempt> {
    let data = |e: tokio_postgres::Error| Error::Data(format!("run log: bad row: {e}"));
    let shard: String = r.try_get(3).map_err(data)?;
    let attempt: i32 = r.try_get(4).map_err(data)?;
    let status: String = r.try_get(5).map_err(data)?;
    Ok(StepAttempt {
        run_id: r.try_get(0).map_err(data)?,
        experiment_id: r.try_get(1).map_err(data)?,
        step: r.try_get(2).map_err(data)?,
        shard: Some(shard).filter(|s| !s.is_empty()),
        attempt: u32::try_from(attempt)
            .map_err(|_| Error::Data(format!("run log: bad attempt number {attempt}")))?,
        status: status_of(&status)?,
        started_at: r.try_get(6).map_err(data)?,
        ended_at: r.try_get(7).map_err(data)?,
        duration_ms: count_of(r.try_get(8).map_err(data)?, "duration_ms")?,
        rows: count_of(r.try_get(9).map_err(data)?, "rows")?,
        bytes: count_of(r.try_get(10).map_err(data)?, "bytes")?,
        message: r.try_get(11).map_err(data)?,
        error: r.try_get(12).map_err(data)?,
    })
}

#[async_trait]
impl RunLog for PostgresRunLog {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    async fn check(&self) -> Result<()> {
        let client = self.client().await?;
        client
            .query_one("SELECT COUNT(*) FROM run_log WHERE false", &[])
            .await
            .map(drop)
            .map_err(|e| Error::postgres("check", &e))
    }

    async fn start(
        &self,
        experiment_id: &str,
        run_id: &str,
        step: &str,
        shard: Option<&str>,
    ) -> Result<StepAttempt> {
        check_start(experiment_id, run_id, step, shard)?;
        let client = self.client().await?;
        let started_at = now_millis();
        let shard_key = shard.unwrap_or("");
        let stmt = client
            .prepare(
                "INSERT INTO run_log (run_id, step, shard, attempt, experiment_id, status, \
                 started_at) \
                 SELECT $1, $2, $3, COALESCE(MAX(attempt), 0) + 1, $4::TEXT, 'started', \
                 $5::TIMESTAMPTZ \
                 FROM run_log WHERE run_id = $1::TEXT AND step = $2::TEXT AND shard = $3::TEXT \
                 ON CONFLICT (run_id, step, shard, attempt) DO NOTHING \
                 RETURNING attempt",
            )
            .await
            .map_err(|e| Error::postgres("start", &e))?;
        for _ in 0..MAX_START_TRIES {
            let row = client
                .query_opt(
                    &stmt,
                    &[&run_id, &step, &shard_key, &experiment_id, &started_at],
                )
                .await
                .map_err(|e| Error::postgres("start", &e))?;
            if let Some(row) = row {
                let attempt: i32 = row.get(0);
                return Ok(StepAttempt {
                    run_id: run_id.to_string(),
                    experiment_id: experiment_id.to_string(),
                    step: step.to_string(),
                    shard: shard.map(str::to_string),
                    attempt: u32::try_from(attempt).map_err(|_| {
                        Error::Data(format!("run log: bad attempt number {attempt}"))
                    })?,
                    status: StepStatus::Started,
                    started_at,
                    ended_at: None,
                    duration_ms: None,
                    rows: None,
                    bytes: None,
                    message: None,
                    error: None,
                });
            }
            // Another writer took that number: read the maximum again.
        }
        Err(Error::Service {
            backend: "postgres",
            op: "start".into(),
            message: format!("no free attempt number after {MAX_START_TRIES} tries"),
            transient: true,
        })
    }

    async fn finish(&self, attempt: &StepAttempt) -> Result<()> {
        let a = check_finish(attempt)?;
        let attempt_no = i32::try_from(a.attempt)
            .map_err(|_| Error::Data(format!("run log: attempt {} too large", a.attempt)))?;
        let count = |v: Option<u64>, what| v.map(|v| count_to_i64(v, what)).transpose();
        let duration_ms = count(a.duration_ms, "duration_ms")?;
        let rows = count(a.rows, "rows")?;
        let bytes = count(a.bytes, "bytes")?;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO run_log (run_id, step, shard, attempt, experiment_id, status, \
                 started_at, ended_at, duration_ms, row_count, byte_count, message, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (run_id, step, shard, attempt) DO UPDATE SET \
                 experiment_id = excluded.experiment_id, status = excluded.status, \
                 started_at = excluded.started_at, ended_at = excluded.ended_at, \
                 duration_ms = excluded.duration_ms, row_count = excluded.row_count, \
                 byte_count = excluded.byte_count, message = excluded.message, \
                 error = excluded.error",
                &[
                    &a.run_id,
                    &a.step,
                    &a.shard.as_deref().unwrap_or(""),
                    &attempt_no,
                    &a.experiment_id,
                    &a.status.as_str(),
                    &a.started_at,
                    &a.ended_at,
                    &duration_ms,
                    &rows,
                    &bytes,
                    &a.message,
                    &a.error,
                ],
            )
            .await
            .map(drop)
            .map_err(|e| Error::postgres("finish", &e))
    }

    async fn attempts(&self, run_id: &str) -> Result<Vec<StepAttempt>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM run_log WHERE run_id = $1 \
                     ORDER BY started_at, step COLLATE \"C\", shard COLLATE \"C\", attempt"
                ),
                &[&run_id],
            )
            .await
            .map_err(|e| Error::postgres("attempts", &e))?;
        rows.iter().map(row_to_attempt).collect()
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunLogSummary>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH r AS ( \
                   SELECT run_id, MIN(started_at) AS first_start, MAX(ended_at) AS last_end, \
                          COUNT(*) AS n, COUNT(*) FILTER (WHERE status = 'failed') AS failed \
                   FROM run_log GROUP BY run_id \
                   ORDER BY first_start DESC, run_id COLLATE \"C\" DESC LIMIT $1) \
                 SELECT r.run_id, r.first_start, r.last_end, r.n, r.failed, \
                        l.experiment_id, l.step, l.status \
                 FROM r CROSS JOIN LATERAL ( \
                   SELECT x.experiment_id, x.step, x.status FROM run_log x \
                   WHERE x.run_id = r.run_id \
                   ORDER BY x.started_at DESC, x.step COLLATE \"C\" DESC, \
                            x.shard COLLATE \"C\" DESC, x.attempt DESC \
                   LIMIT 1) l \
                 ORDER BY r.first_start DESC, r.run_id COLLATE \"C\" DESC",
                &[&limit],
            )
            .await
            .map_err(|e| Error::postgres("runs", &e))?;
        rows.iter()
            .map(|r| {
                let data = |e: tokio_postgres::Error| Error::Data(format!("run log: bad row: {e}"));
                let n: i64 = r.try_get(3).map_err(data)?;
                let failed: i64 = r.try_get(4).map_err(data)?;
                let status: String = r.try_get(7).map_err(data)?;
                Ok(RunLogSummary {
                    run_id: r.try_get(0).map_err(data)?,
                    experiment_id: r.try_get(5).map_err(data)?,
                    started_at: r.try_get(1).map_err(data)?,
                    ended_at: r.try_get(2).map_err(data)?,
                    attempts: u32::try_from(n).unwrap_or(u32::MAX),
                    failed: u32::try_from(failed).unwrap_or(u32::MAX),
                    last_step: r.try_get(6).map_err(data)?,
                    last_status: status_of(&status)?,
                })
            })
            .collect()
    }
}
