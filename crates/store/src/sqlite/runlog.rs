//! The SQLite run log: table `run_log` in a SQLite file (the one the relational store uses
//! by default; this module touches only its own table and its rows of the migrations table).
//!
//! ```text
//! run_log(run_id TEXT, step TEXT, shard TEXT ('' for none), attempt INTEGER,
//!         experiment_id TEXT, status TEXT, started_at TEXT, ended_at TEXT,
//!         duration_ms INTEGER, row_count INTEGER, byte_count INTEGER, message TEXT, error TEXT,
//!         PRIMARY KEY (run_id, step, shard, attempt))
//! ```
//!
//! Timestamps are RFC 3339 text in UTC with milliseconds (`2026-11-23T08:00:00.123Z`), which
//! sorts as it reads. The file is opened in WAL mode with a busy timeout, so several
//! processes can share it. Calls run on tokio's blocking pool, one at a time per handle.
//!
//! Migrations are versioned in `abforge_migrations(component, version, applied_at)`
//! (component `runlog`; the relational store records its own there as `relational`), applied
//! under `BEGIN IMMEDIATE` so that concurrent opens do not race. Attempt numbers are
//! assigned by `INSERT … SELECT COALESCE(MAX(attempt), 0) + 1` in an immediate transaction
//! (the write lock is held from its start, so no other writer can take the same number).

use super::migrate;
use crate::migrations::Schema;
use crate::runlog::{
    RunLog, RunLogSummary, StepAttempt, StepStatus, check_finish, check_start, count_to_i64,
    format_ts, now_millis, parse_ts,
};
use crate::{Error, Result};
use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The `runlog` component's schema: its migrations, in order (version `i + 1` is the
/// `i`-th), applied by [`crate::migrations`].
const SCHEMA: Schema = Schema {
    component: "runlog",
    what: "the run log",
    migrations: MIGRATIONS,
};

const MIGRATIONS: &[&str] = &["
CREATE TABLE run_log (
    run_id        TEXT    NOT NULL,
    step          TEXT    NOT NULL,
    shard         TEXT    NOT NULL DEFAULT '',
    attempt       INTEGER NOT NULL CHECK (attempt >= 1),
    experiment_id TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('started', 'succeeded', 'failed')),
    started_at    TEXT    NOT NULL,
    ended_at      TEXT,
    duration_ms   INTEGER,
    row_count     INTEGER,
    byte_count    INTEGER,
    message       TEXT,
    error         TEXT,
    PRIMARY KEY (run_id, step, shard, attempt)
);
CREATE INDEX run_log_by_start ON run_log (started_at);
"];

/// The columns of an attempt, in [`row_to_attempt`]'s order.
const COLUMNS: &str = "run_id, experiment_id, step, shard, attempt, status, started_at, \
                       ended_at, duration_ms, row_count, byte_count, message, error";

/// The SQLite run log (see the module docs).
#[derive(Debug, Clone)]
pub struct SqliteRunLog {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl SqliteRunLog {
    /// Opens `sqlite:///absolute/path` or `sqlite://relative/path` (`sqlite:path` too),
    /// creating the file and its parent folders, and applies the pending migrations.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL without a path; [`Error::Service`] when the file cannot
    /// be opened or migrated.
    pub async fn open(url: &str) -> Result<SqliteRunLog> {
        SqliteRunLog::open_path(path_of_url(url)?).await
    }

    /// Opens (creating) the SQLite file at `path` and applies the pending migrations.
    ///
    /// # Errors
    /// [`Error::Service`] when the file cannot be opened or migrated.
    pub async fn open_path(path: impl Into<PathBuf>) -> Result<SqliteRunLog> {
        let path = path.into();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_connection(&p))
            .await
            .map_err(|e| join_error("open", e))??;
        Ok(SqliteRunLog {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `runlog` component's schema version in this file (the last migration applied).
    ///
    /// # Errors
    /// [`Error::Service`] when the file cannot be read.
    pub async fn schema_version(&self) -> Result<u32> {
        self.call("schema version", |c| {
            migrate::version(c, &SCHEMA).map_err(|e| Error::sqlite("schema version", &e))
        })
        .await
    }

    /// Runs `f` on the connection, on the blocking pool.
    async fn call<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction open (rusqlite rolls
            // back on drop), so a poisoned lock is still a usable connection.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| join_error(op, e))?
    }
}

/// The path a `sqlite:` URL names.
fn path_of_url(url: &str) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| Error::Config(format!("not a sqlite: URL: {url:?}")))?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    if rest.is_empty() || rest == "/" {
        return Err(Error::Config(format!(
            "run log URL {url:?} names no file: expected sqlite:///absolute/path.sqlite or \
             sqlite://relative/path.sqlite"
        )));
    }
    Ok(PathBuf::from(rest))
}

fn open_connection(path: &Path) -> Result<Connection> {
    let mut conn = super::conn::connect(path)?;
    migrate::migrate(&mut conn, &SCHEMA, &path.display().to_string())?;
    Ok(conn)
}

fn join_error(op: &str, e: tokio::task::JoinError) -> Error {
    Error::Service {
        backend: "sqlite",
        op: op.to_string(),
        message: format!("the blocking task failed: {e}"),
        transient: false,
    }
}

fn opt_count(v: Option<u64>, what: &str) -> Result<Option<i64>> {
    v.map(|v| count_to_i64(v, what)).transpose()
}

fn count_of(v: Option<i64>, what: &str) -> Result<Option<u64>> {
    v.map(|v| u64::try_from(v).map_err(|_| Error::Data(format!("run log: negative {what} {v}"))))
        .transpose()
}

fn status_of(s: &str) -> Result<StepStatus> {
    StepStatus::parse(s).ok_or_else(|| Error::Data(format!("run log: unknown status {s:?}")))
}

/// The raw columns of one row, in [`COLUMNS`]' order.
type RawRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

fn row_to_attempt(raw: RawRow) -> Result<StepAttempt> {
    let (
        run_id,
        experiment_id,
        step,
        shard,
        attempt,
        status,
        started_at,
        ended_at,
        duration_ms,
        rows,
        bytes,
        message,
        error,
    ) = raw;
    Ok(StepAttempt {
        run_id,
        experiment_id,
        step,
        shard: Some(shard).filter(|s| !s.is_empty()),
        attempt: u32::try_from(attempt)
            .map_err(|_| Error::Data(format!("run log: bad attempt number {attempt}")))?,
        status: status_of(&status)?,
        started_at: parse_ts(&started_at)?,
        ended_at: ended_at.as_deref().map(parse_ts).transpose()?,
        duration_ms: count_of(duration_ms, "duration_ms")?,
        rows: count_of(rows, "rows")?,
        bytes: count_of(bytes, "bytes")?,
        message,
        error,
    })
}

#[async_trait]
impl RunLog for SqliteRunLog {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn url(&self) -> String {
        // `sqlite:///abs` for an absolute path, `sqlite://rel` for a relative one.
        format!("sqlite://{}", self.path.display())
    }

    async fn check(&self) -> Result<()> {
        self.call("check", |c| {
            c.query_row("SELECT COUNT(*) FROM run_log WHERE 0", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(drop)
            .map_err(|e| Error::sqlite("check", &e))
        })
        .await
    }

    async fn start(
        &self,
        experiment_id: &str,
        run_id: &str,
        step: &str,
        shard: Option<&str>,
    ) -> Result<StepAttempt> {
        check_start(experiment_id, run_id, step, shard)?;
        let mut a = StepAttempt {
            run_id: run_id.to_string(),
            experiment_id: experiment_id.to_string(),
            step: step.to_string(),
            shard: shard.map(str::to_string),
            attempt: 0,
            status: StepStatus::Started,
            started_at: now_millis(),
            ended_at: None,
            duration_ms: None,
            rows: None,
            bytes: None,
            message: None,
            error: None,
        };
        let row = a.clone();
        let attempt = self
            .call("start", move |c| {
                let op = "start";
                let tx = c
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(|e| Error::sqlite(op, &e))?;
                let attempt: i64 = tx
                    .query_row(
                        "INSERT INTO run_log (run_id, step, shard, attempt, experiment_id, status, \
                         started_at) \
                         SELECT ?1, ?2, ?3, COALESCE(MAX(attempt), 0) + 1, ?4, 'started', ?5 \
                         FROM run_log WHERE run_id = ?1 AND step = ?2 AND shard = ?3 \
                         RETURNING attempt",
                        params![
                            row.run_id,
                            row.step,
                            row.shard.as_deref().unwrap_or(""),
                            row.experiment_id,
                            format_ts(row.started_at),
                        ],
                        |r| r.get(0),
                    )
                    .map_err(|e| Error::sqlite(op, &e))?;
                tx.commit().map_err(|e| Error::sqlite(op, &e))?;
                u32::try_from(attempt)
                    .map_err(|_| Error::Data(format!("run log: bad attempt number {attempt}")))
            })
            .await?;
        a.attempt = attempt;
        Ok(a)
    }

    async fn finish(&self, attempt: &StepAttempt) -> Result<()> {
        let a = check_finish(attempt)?;
        let duration_ms = opt_count(a.duration_ms, "duration_ms")?;
        let rows = opt_count(a.rows, "rows")?;
        let bytes = opt_count(a.bytes, "bytes")?;
        self.call("finish", move |c| {
            c.execute(
                "INSERT INTO run_log (run_id, step, shard, attempt, experiment_id, status, \
                 started_at, ended_at, duration_ms, row_count, byte_count, message, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                 ON CONFLICT (run_id, step, shard, attempt) DO UPDATE SET \
                 experiment_id = excluded.experiment_id, status = excluded.status, \
                 started_at = excluded.started_at, ended_at = excluded.ended_at, \
                 duration_ms = excluded.duration_ms, row_count = excluded.row_count, \
                 byte_count = excluded.byte_count, message = excluded.message, \
                 error = excluded.error",
                params![
                    a.run_id,
                    a.step,
                    a.shard.as_deref().unwrap_or(""),
                    i64::from(a.attempt),
                    a.experiment_id,
                    a.status.as_str(),
                    format_ts(a.started_at),
                    a.ended_at.map(format_ts),
                    duration_ms,
                    rows,
                    bytes,
                    a.message,
                    a.error,
                ],
            )
            .map(drop)
            .map_err(|e| Error::sqlite("finish", &e))
        })
        .await
    }

    async fn attempts(&self, run_id: &str) -> Result<Vec<StepAttempt>> {
        let run_id = run_id.to_string();
        self.call("attempts", move |c| {
            let op = "attempts";
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM run_log WHERE run_id = ?1 \
                     ORDER BY started_at, step, shard, attempt"
                ))
                .map_err(|e| Error::sqlite(op, &e))?;
            let raws = stmt
                .query_map([&run_id], raw_row)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| Error::sqlite(op, &e))?;
            raws.into_iter().map(row_to_attempt).collect()
        })
        .await
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunLogSummary>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call("runs", move |c| {
            let op = "runs";
            // The runs, newest start first; then each one's latest attempt.
            let mut stmt = c
                .prepare_cached(
                    "WITH r AS ( \
                       SELECT run_id, MIN(started_at) AS first_start, MAX(ended_at) AS last_end, \
                              COUNT(*) AS n, SUM(status = 'failed') AS failed \
                       FROM run_log GROUP BY run_id \
                       ORDER BY first_start DESC, run_id DESC LIMIT ?1) \
                     SELECT r.run_id, r.first_start, r.last_end, r.n, r.failed, \
                            l.experiment_id, l.step, l.status \
                     FROM r JOIN run_log l ON l.rowid = ( \
                       SELECT x.rowid FROM run_log x WHERE x.run_id = r.run_id \
                       ORDER BY x.started_at DESC, x.step DESC, x.shard DESC, x.attempt DESC \
                       LIMIT 1) \
                     ORDER BY r.first_start DESC, r.run_id DESC",
                )
                .map_err(|e| Error::sqlite(op, &e))?;
            type Raw = (
                String,
                String,
                Option<String>,
                i64,
                i64,
                String,
                String,
                String,
            );
            let raws: Vec<Raw> = stmt
                .query_map([limit], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })
                .and_then(|rows| rows.collect())
                .map_err(|e| Error::sqlite(op, &e))?;
            raws.into_iter()
                .map(
                    |(run_id, first, last_end, n, failed, experiment_id, step, status)| {
                        Ok(RunLogSummary {
                            run_id,
                            experiment_id,
                            started_at: parse_ts(&first)?,
                            ended_at: last_end.as_deref().map(parse_ts).transpose()?,
                            attempts: u32::try_from(n).unwrap_or(u32::MAX),
                            failed: u32::try_from(failed).unwrap_or(u32::MAX),
                            last_step: step,
                            last_status: status_of(&status)?,
                        })
                    },
                )
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_paths() {
        assert_eq!(
            path_of_url("sqlite:///tmp/x/a.sqlite").unwrap(),
            PathBuf::from("/tmp/x/a.sqlite")
        );
        assert_eq!(
            path_of_url("sqlite://data/a.sqlite").unwrap(),
            PathBuf::from("data/a.sqlite")
        );
        assert_eq!(
            path_of_url("sqlite:a.sqlite").unwrap(),
            PathBuf::from("a.sqlite")
        );
        assert!(matches!(path_of_url("sqlite://"), Err(Error::Config(_))));
        assert!(matches!(path_of_url("sqlite:///"), Err(Error::Config(_))));
    }
}
