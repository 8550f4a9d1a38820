//! The SQLite relational store: tables `customers`, `runs` and `ab_results` in one SQLite file
//! (the one the run log keeps its `run_log` table in by default; this module touches only its
//! own tables and its rows of `abforge_migrations`).
//!
//! ```text
//! customers(experiment_id TEXT, run_id TEXT, customer_id INTEGER, "group" TEXT,
//!           <one column per attribute and metric, added when a load first has it>,
//!           PRIMARY KEY (run_id, customer_id, experiment_id)) WITHOUT ROWID
//! runs(run_id TEXT PRIMARY KEY, experiment_id, run_date TEXT (YYYY-MM-DD), blueprint_hash,
//!      blueprint TEXT (JSON), status, started_at TEXT, finished_at TEXT, "rows" INTEGER)
//! ab_results(run_id, position INTEGER, <the fields of ResultRow>, PRIMARY KEY (run_id, position))
//! locks(name TEXT PRIMARY KEY, owner, acquired_at TEXT, expires_at TEXT)
//! schedule_ticks(schedule, tick TEXT, status, message, recorded_at TEXT, PRIMARY KEY (schedule, tick))
//! ```
//!
//! Column types: strings TEXT, Int64 INTEGER, Float64 REAL, Date32 DATE holding `YYYY-MM-DD`
//! text (what SQLite's date functions read); timestamps are RFC 3339 text in UTC to the
//! microsecond (`2026-11-23T08:00:00.123456Z`, which sorts as it reads); booleans 0/1. The
//! key of `customers` has the three columns (experiment, run, customer) with `run_id` first,
//! because every access is by run: the table is clustered on it (`WITHOUT ROWID`), so a load
//! appends at the end of the B-tree, and a run's rows are read in `customer_id` order
//! without a sort.
//!
//! The file is opened in WAL mode (readers never wait for the writer) with
//! `synchronous=NORMAL` and a 30 s busy timeout. Calls run on tokio's blocking pool, each on
//! a connection of a small pool.
//!
//! ## Loads
//! A load runs on a thread of its own, fed batches by a bounded channel (two batches), in one
//! `BEGIN IMMEDIATE` transaction: it adds missing columns (`ALTER TABLE … ADD COLUMN`),
//! deletes the run's rows in the id range (all of them for a whole-run load), inserts every row with prepared statements of 32
//! rows each (multi-row `VALUES` with numbered parameters, `experiment_id` and `run_id` bound
//! once: about 1.25 times as fast as one row per statement), and commits on
//! [`commit`](CustomerLoad::commit); dropping or aborting the load rolls back. Its connection
//! has a 256 MiB page cache (so a big load does not spill to the WAL before it commits) and
//! checkpoints the WAL itself once the commit has been answered. It holds the file's write
//! lock from [`begin_load`](RelationalStore::begin_load) to its end, so other writers of the
//! file (a second load, the run log) wait for it, up to their busy timeout. Errors of a batch
//! surface on a later `write` or on `commit`.
//!
//! Its speed is measured by `bench/land.py` (figures in docs/performance.md).
//!
//! ## Migrations
//! Versioned in `abforge_migrations(component, version, applied_at)` with component
//! `relational`, applied by [`SqliteStore::open`] in one `BEGIN IMMEDIATE` transaction (the
//! write lock is taken first, so concurrent opens apply each migration once).

use super::migrate;
use crate::locks::{Lease, Locks, TickRecord, TickStatus, Ticks, check_lock};
use crate::migrations::Schema;
use crate::redact_url;
use crate::relational::columns::{
    Layout, ScanPlan, SqlType, Strings, Values, check_ids, check_name, format_date, parse_date,
    quote_ident,
};
use crate::relational::{CustomerLoad, LoadSpec, RelationalStore, ResultRow, RunRecord, RunStatus};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The `relational` component's schema: its migrations, in order (version `i + 1` is the
/// `i`-th), applied by [`crate::migrations`].
const SCHEMA: Schema = Schema {
    component: "relational",
    what: "the relational store",
    migrations: MIGRATIONS,
};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE customers (
    experiment_id TEXT    NOT NULL,
    run_id        TEXT    NOT NULL,
    customer_id   INTEGER NOT NULL,
    "group"       TEXT    NOT NULL,
    PRIMARY KEY (run_id, customer_id, experiment_id)
) WITHOUT ROWID;
CREATE TABLE runs (
    run_id         TEXT    NOT NULL PRIMARY KEY,
    experiment_id  TEXT    NOT NULL,
    run_date       TEXT    NOT NULL,
    blueprint_hash TEXT    NOT NULL,
    blueprint      TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at     TEXT    NOT NULL,
    finished_at    TEXT,
    "rows"         INTEGER CHECK ("rows" >= 0)
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, run_date);
CREATE TABLE ab_results (
    run_id        TEXT    NOT NULL,
    position      INTEGER NOT NULL,
    experiment_id TEXT    NOT NULL,
    metric        TEXT    NOT NULL,
    control       TEXT    NOT NULL,
    treatment     TEXT    NOT NULL,
    test          TEXT    NOT NULL,
    "primary"     INTEGER NOT NULL,
    estimate      REAL,
    ci_low        REAL,
    ci_high       REAL,
    p_value       REAL,
    p_adjusted    REAL,
    reject        INTEGER,
    true_effect   REAL,
    null_true     INTEGER,
    outcome       TEXT,
    PRIMARY KEY (run_id, position)
);
"#,
    r#"
CREATE TABLE locks (
    name        TEXT NOT NULL PRIMARY KEY,
    owner       TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE TABLE schedule_ticks (
    schedule    TEXT NOT NULL,
    tick        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped')),
    message     TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (schedule, tick)
);
"#,
];

/// Idle connections kept for later calls.
const POOL_IDLE: usize = 4;
/// Batches queued for a load's thread.
const LOAD_QUEUE: usize = 2;
/// Rows per INSERT statement of a load (multi-row VALUES, numbered parameters): measured
/// against one row per statement, see `insert_sql`.
const ROWS_PER_INSERT: usize = 32;
/// The page cache of a load's connection (negative: KiB), 256 MiB.
const LOAD_CACHE_KIB: i64 = -262_144;

/// The columns of a run, in [`run_of_row`]'s order.
const RUN_COLUMNS: &str = "run_id, experiment_id, run_date, blueprint_hash, blueprint, status, \
                           started_at, finished_at, \"rows\"";

/// The columns of a result, in [`result_of_row`]'s order.
const RESULT_COLUMNS: &str = "experiment_id, run_id, metric, control, treatment, test, \
                              \"primary\", estimate, ci_low, ci_high, p_value, p_adjusted, \
                              reject, true_effect, null_true, outcome";

/// The SQLite relational store (see the module docs).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    url: String,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl SqliteStore {
    /// Opens `sqlite:///absolute/path` or `sqlite://relative/path` (`sqlite:path` too),
    /// creating the file and its parent folders, and applies the pending migrations.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL without a path; [`Error::Service`] when the file cannot
    /// be opened or migrated; [`Error::Data`] when its schema is newer than this code.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let path = path_of_url(url)?;
        let p = path.clone();
        let conn = blocking("open", move || {
            let mut conn = connect(&p)?;
            migrate(&mut conn, &p)?;
            Ok(conn)
        })
        .await?;
        Ok(SqliteStore {
            url: redact_url(url),
            path,
            idle: Arc::new(Mutex::new(vec![conn])),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled connection, on the blocking pool.
    async fn call<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let idle = Arc::clone(&self.idle);
        let path = self.path.clone();
        blocking(op, move || {
            let taken = idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut conn = match taken {
                Some(c) => c,
                None => connect(&path)?,
            };
            let out = f(&mut conn);
            // A connection left inside a transaction (it cannot be, rusqlite rolls back on
            // drop) is not pooled.
            if conn.is_autocommit() {
                let mut idle = idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < POOL_IDLE {
                    idle.push(conn);
                }
            }
            out
        })
        .await
    }
}

/// Runs `f` on tokio's blocking pool.
async fn blocking<T, F>(op: &'static str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Error::service(
            "sqlite",
            op,
            format!("the blocking task failed: {e}"),
            false,
        )
    })?
}

/// The path a `sqlite:` URL names.
fn path_of_url(url: &str) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| Error::Config(format!("not a sqlite: URL: {url:?}")))?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    if rest.is_empty() || rest.ends_with('/') {
        return Err(Error::Config(format!(
            "relational store URL {url:?} names no file: expected \
             sqlite:///absolute/path.sqlite or sqlite://relative/path.sqlite"
        )));
    }
    Ok(PathBuf::from(rest))
}

/// Opens a connection to the file (creating it and its folders) with the store's settings.
fn connect(path: &Path) -> Result<Connection> {
    let conn = super::conn::connect(path)?;
    let op = |what: &str| format!("{what} {}", path.display());
    conn.pragma_update(None, "cache_size", "-65536")
        .map_err(|e| Error::sqlite(op("configure"), &e))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Applies the pending migrations of the `relational` component.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    migrate::migrate(conn, &SCHEMA, &path.display().to_string())
}

/// A timestamp as stored: RFC 3339, UTC, microseconds.
fn format_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })
}

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn run_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let run_date: String = r.get(2)?;
    let blueprint: String = r.get(4)?;
    let status: String = r.get(5)?;
    let finished: Option<String> = r.get(7)?;
    let rows: Option<i64> = r.get(8)?;
    Ok(RunRecord {
        run_id: r.get(0)?,
        experiment_id: r.get(1)?,
        run_date: NaiveDate::parse_from_str(&run_date, "%Y-%m-%d").map_err(conversion)?,
        blueprint_hash: r.get(3)?,
        blueprint: serde_json::from_str(&blueprint).map_err(conversion)?,
        status: RunStatus::parse(&status).ok_or_else(|| {
            conversion(std::io::Error::other(format!(
                "unknown run status {status:?}"
            )))
        })?,
        started_at: parse_ts(&r.get::<_, String>(6)?)?,
        finished_at: finished.as_deref().map(parse_ts).transpose()?,
        rows: rows.map(|n| n as u64),
    })
}

fn result_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ResultRow> {
    Ok(ResultRow {
        experiment_id: r.get(0)?,
        run_id: r.get(1)?,
        metric: r.get(2)?,
        control: r.get(3)?,
        treatment: r.get(4)?,
        test: r.get(5)?,
        primary: r.get(6)?,
        estimate: r.get(7)?,
        ci_low: r.get(8)?,
        ci_high: r.get(9)?,
        p_value: r.get(10)?,
        p_adjusted: r.get(11)?,
        reject: r.get(12)?,
        true_effect: r.get(13)?,
        null_true: r.get(14)?,
        outcome: r.get(15)?,
    })
}

/// The columns of `customers`: name, SQL type (when one the store knows) and declared type.
fn table_columns(conn: &Connection) -> rusqlite::Result<Vec<(String, Option<SqlType>, String)>> {
    let mut stmt = conn.prepare_cached("SELECT name, type FROM pragma_table_info('customers')")?;
    let rows = stmt.query_map([], |r| {
        let name: String = r.get(0)?;
        let decl: String = r.get(1)?;
        Ok((name, decl))
    })?;
    rows.map(|r| {
        r.map(|(name, decl)| {
            let ty = match decl.to_ascii_uppercase().as_str() {
                "TEXT" => Some(SqlType::Text),
                "INTEGER" => Some(SqlType::BigInt),
                "REAL" => Some(SqlType::Double),
                "DATE" => Some(SqlType::Date),
                _ => None,
            };
            (name, ty, decl)
        })
    })
    .collect()
}

/// SQLite's declared type for a column.
fn decl_of(ty: SqlType) -> &'static str {
    match ty {
        SqlType::Text => "TEXT",
        SqlType::BigInt => "INTEGER",
        SqlType::Double => "REAL",
        SqlType::Date => "DATE",
    }
}

/// Adds the load's columns the table lacks; a column whose type differs is an error.
fn ensure_columns(conn: &Connection, layout: &Layout) -> Result<()> {
    let op = "add columns to customers";
    let have = table_columns(conn).map_err(|e| Error::sqlite(op, &e))?;
    for c in &layout.columns {
        match have.iter().find(|(n, _, _)| *n == c.name) {
            Some((_, ty, decl)) if *ty != Some(c.ty) => {
                return Err(Error::Data(format!(
                    "column {:?} of the customers table is {decl}, but the load's is {} ({})",
                    c.name,
                    decl_of(c.ty),
                    c.ty.name()
                )));
            }
            Some(_) => {}
            None => {
                check_name(&c.name)?;
                conn.execute_batch(&format!(
                    "ALTER TABLE customers ADD COLUMN {} {}",
                    quote_ident(&c.name),
                    decl_of(c.ty)
                ))
                .map_err(|e| Error::sqlite(op, &e))?;
            }
        }
    }
    Ok(())
}

/// The INSERT of `rows` rows: `?1` is the experiment id, `?2` the run id (bound once), then
/// per row `customer_id`, `group` and the other columns.
fn insert_sql(layout: &Layout, rows: usize) -> String {
    let mut cols = vec!["experiment_id", "run_id", "customer_id", "\"group\""]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    cols.extend(layout.columns.iter().map(|c| quote_ident(&c.name)));
    let per_row = 2 + layout.columns.len();
    let mut sql = format!("INSERT INTO customers ({}) VALUES ", cols.join(", "));
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?1, ?2");
        for k in 0..per_row {
            sql.push_str(&format!(", ?{}", 3 + r * per_row + k));
        }
        sql.push(')');
    }
    sql
}

/// What a load's thread is sent.
enum LoadMessage {
    /// Rows to insert.
    Batch(RecordBatch),
    /// Commit and report the rows written.
    Commit,
}

/// The thread of a load: one connection, one transaction.
fn load_thread(
    path: PathBuf,
    spec: LoadSpec,
    layout: Layout,
    ready: oneshot::Sender<Result<()>>,
    rx: mpsc::Receiver<LoadMessage>,
    done: oneshot::Sender<Result<u64>>,
) {
    let op = format!("load customers of run {:?}", spec.run_id);
    let mut conn = match open_load_connection(&path, &op) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let _ = ready.send(Err(Error::sqlite(op, &e)));
            return;
        }
    };
    if let Err(e) = clear_load_range(&tx, &spec, &layout, &op) {
        let _ = ready.send(Err(e));
        return;
    }
    if ready.send(Ok(())).is_err() {
        return;
    }
    let outcome = insert_until_commit(&tx, &spec, &layout, rx, &op);
    let result = end_load(tx, outcome, op);
    let committed = result.is_ok();
    let _ = done.send(result);
    if committed {
        // Copy the load's pages from the WAL into the file now, after the caller has its
        // answer (the rows are committed and visible already), rather than in its commit.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
}

/// Opens the load's connection, with a page cache for a big load and no automatic
/// checkpoints.
fn open_load_connection(path: &Path, op: &str) -> Result<Connection> {
    connect(path).and_then(|c| {
        // A large page cache, so that a big load does not spill pages to the WAL before it
        // commits (memory is taken only as pages are used).
        c.pragma_update(None, "cache_size", LOAD_CACHE_KIB)
            .and_then(|()| c.pragma_update(None, "wal_autocheckpoint", 0))
            .map_err(|e| Error::sqlite(op, &e))?;
        Ok(c)
    })
}

/// Adds the load's columns `customers` lacks and deletes the run's rows the load replaces
/// (those in its id range, or all of them for a whole-run load).
fn clear_load_range(tx: &Connection, spec: &LoadSpec, layout: &Layout, op: &str) -> Result<()> {
    ensure_columns(tx, layout)?;
    // Customer ids are below i64::MAX (the generator's ids are at most 10^10).
    let (lo, hi) = match spec.whole_run {
        true => (i64::MIN, i64::MAX),
        false => id_bounds(&spec.ids),
    };
    tx.execute(
        "DELETE FROM customers WHERE run_id = ?1 AND customer_id >= ?2 AND customer_id < ?3",
        params![spec.run_id, lo, hi],
    )
    .map_err(|e| Error::sqlite(op, &e))?;
    Ok(())
}

/// Inserts the batches that arrive on `rx` until it says commit (the rows inserted) or is
/// dropped (`None`: the load was dropped or aborted).
fn insert_until_commit(
    tx: &Connection,
    spec: &LoadSpec,
    layout: &Layout,
    mut rx: mpsc::Receiver<LoadMessage>,
    op: &str,
) -> Result<Option<u64>> {
    let (mut stmt_many, mut stmt_one) = prepare_inserts(tx, spec, layout, op)?;
    let mut dates = DateCache::default();
    let mut rows = 0u64;
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            LoadMessage::Commit => return Ok(Some(rows)),
            LoadMessage::Batch(batch) => {
                insert_batch(
                    &mut stmt_many,
                    &mut stmt_one,
                    layout,
                    spec,
                    &batch,
                    &mut dates,
                )
                .map_err(|e| match e {
                    InsertError::Sql(e) => Error::sqlite(op, &e),
                    InsertError::Data(e) => e,
                })?;
                rows += batch.num_rows() as u64;
            }
        }
    }
    Ok(None)
}

/// The load's two INSERTs, of [`ROWS_PER_INSERT`] rows and of one, with the experiment and
/// run ids bound.
fn prepare_inserts<'c>(
    tx: &'c Connection,
    spec: &LoadSpec,
    layout: &Layout,
    op: &str,
) -> Result<(rusqlite::Statement<'c>, rusqlite::Statement<'c>)> {
    let many = insert_sql(layout, ROWS_PER_INSERT);
    let one = insert_sql(layout, 1);
    let mut stmt_many = tx.prepare(&many).map_err(|e| Error::sqlite(op, &e))?;
    let mut stmt_one = tx.prepare(&one).map_err(|e| Error::sqlite(op, &e))?;
    for s in [&mut stmt_many, &mut stmt_one] {
        s.raw_bind_parameter(1, &spec.experiment_id)
            .and_then(|()| s.raw_bind_parameter(2, &spec.run_id))
            .map_err(|e| Error::sqlite(op, &e))?;
    }
    Ok((stmt_many, stmt_one))
}

/// Ends the load's transaction: commits it after a commit message (the rows written),
/// else rolls it back (the load was aborted, or failed).
fn end_load(
    tx: rusqlite::Transaction<'_>,
    outcome: Result<Option<u64>>,
    op: String,
) -> Result<u64> {
    match outcome {
        Ok(Some(rows)) => tx
            .commit()
            .map(|()| rows)
            .map_err(|e| Error::sqlite(op, &e)),
        // The load was dropped or aborted: the transaction rolls back as it drops.
        Ok(None) => {
            drop(tx);
            Err(Error::Data("the load was aborted".into()))
        }
        Err(e) => {
            drop(tx);
            Err(e)
        }
    }
}

/// The `[lo, hi)` bounds of an id range as SQLite integers (saturated at `i64::MAX`).
fn id_bounds(ids: &std::ops::Range<u64>) -> (i64, i64) {
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    (clamp(ids.start), clamp(ids.end))
}

/// The last few dates formatted and parsed (a run spans a few days: nearly every lookup
/// hits).
#[derive(Default)]
struct DateCache {
    entries: Vec<(i32, String)>,
}

impl DateCache {
    /// Days since 1970-01-01 of a `YYYY-MM-DD` text.
    fn parse(&mut self, text: &[u8]) -> Option<i32> {
        if let Some((d, _)) = self.entries.iter().find(|(_, t)| t.as_bytes() == text) {
            return Some(*d);
        }
        let t = std::str::from_utf8(text).ok()?;
        let days = parse_date(t)?;
        if self.entries.len() >= 64 {
            self.entries.clear();
        }
        self.entries.push((days, t.to_string()));
        Some(days)
    }

    fn get(&mut self, days: i32) -> Option<&str> {
        if let Some(i) = self.entries.iter().position(|(d, _)| *d == days) {
            return Some(&self.entries[i].1);
        }
        let text = format_date(days)?;
        if self.entries.len() >= 64 {
            self.entries.clear();
        }
        self.entries.push((days, text));
        self.entries.last().map(|(_, t)| t.as_str())
    }
}

enum InsertError {
    Sql(rusqlite::Error),
    Data(Error),
}

impl From<rusqlite::Error> for InsertError {
    fn from(e: rusqlite::Error) -> Self {
        InsertError::Sql(e)
    }
}

/// Inserts a batch: [`ROWS_PER_INSERT`] rows per statement, the rest one by one.
fn insert_batch(
    many: &mut rusqlite::Statement<'_>,
    one: &mut rusqlite::Statement<'_>,
    layout: &Layout,
    spec: &LoadSpec,
    batch: &RecordBatch,
    dates: &mut DateCache,
) -> std::result::Result<(), InsertError> {
    layout.check_batch(batch).map_err(InsertError::Data)?;
    let ids = layout.ids(batch);
    check_ids(ids, &spec.ids).map_err(InsertError::Data)?;
    let group = Strings::of(batch.column(layout.group));
    let values: Vec<Values<'_>> = layout
        .columns
        .iter()
        .map(|c| Values::of(batch.column(c.index), c.ty))
        .collect();
    let per_row = 2 + values.len();
    let n = batch.num_rows();
    let full = n - n % ROWS_PER_INSERT;
    let bind_row = |stmt: &mut rusqlite::Statement<'_>,
                    slot: usize,
                    i: usize,
                    dates: &mut DateCache|
     -> std::result::Result<(), InsertError> {
        let base = 3 + slot * per_row;
        stmt.raw_bind_parameter(base, ids.value(i))?;
        stmt.raw_bind_parameter(base + 1, group.get(i))?;
        for (k, v) in values.iter().enumerate() {
            let at = base + 2 + k;
            match v {
                Values::Text(s) => stmt.raw_bind_parameter(at, s.get(i))?,
                Values::BigInt(a) => {
                    stmt.raw_bind_parameter(at, (!a.is_null(i)).then(|| a.value(i)))?
                }
                Values::Double(a) => {
                    stmt.raw_bind_parameter(at, (!a.is_null(i)).then(|| a.value(i)))?
                }
                Values::Date(a) => {
                    let text = if a.is_null(i) {
                        None
                    } else {
                        Some(dates.get(a.value(i)).ok_or_else(|| {
                            InsertError::Data(Error::Data(format!(
                                "date {} (days since 1970-01-01) is out of range",
                                a.value(i)
                            )))
                        })?)
                    };
                    stmt.raw_bind_parameter(at, text)?
                }
            }
        }
        Ok(())
    };
    use arrow_array::Array as _;
    let mut i = 0;
    while i < full {
        for slot in 0..ROWS_PER_INSERT {
            bind_row(many, slot, i + slot, dates)?;
        }
        many.raw_execute()?;
        i += ROWS_PER_INSERT;
    }
    while i < n {
        bind_row(one, 0, i, dates)?;
        one.raw_execute()?;
        i += 1;
    }
    Ok(())
}

/// An open load (see the module docs).
struct SqliteLoad {
    tx: Option<mpsc::Sender<LoadMessage>>,
    done: Option<oneshot::Receiver<Result<u64>>>,
}

impl std::fmt::Debug for SqliteLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLoad").finish_non_exhaustive()
    }
}

impl SqliteLoad {
    /// The thread's outcome, once it has ended.
    async fn outcome(&mut self) -> Result<u64> {
        self.tx = None;
        match self.done.take() {
            Some(done) => done.await.unwrap_or_else(|_| {
                Err(Error::service(
                    "sqlite",
                    "load customers",
                    "the load's thread ended without a result",
                    false,
                ))
            }),
            None => Err(Error::Data("the load has already ended".into())),
        }
    }
}

#[async_trait]
impl CustomerLoad for SqliteLoad {
    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some(tx) = &self.tx else {
            return Err(Error::Data("the load has already ended".into()));
        };
        if tx.send(LoadMessage::Batch(batch.clone())).await.is_err() {
            // The thread stopped on an error: report it.
            return Err(match self.outcome().await {
                Err(e) => e,
                Ok(_) => Error::Data("the load has already ended".into()),
            });
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<u64> {
        if let Some(tx) = &self.tx {
            // A send error means the thread has ended: its outcome says why.
            let _ = tx.send(LoadMessage::Commit).await;
        }
        self.outcome().await
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        // Closing the channel makes the thread roll back; wait until it has.
        let _ = self.outcome().await;
        Ok(())
    }
}

#[async_trait]
impl RelationalStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    async fn check(&self) -> Result<()> {
        self.call("check", |c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
                .map_err(|e| Error::sqlite("check", &e))
        })
        .await
    }

    async fn schema_version(&self) -> Result<u32> {
        self.call("schema version", |c| {
            migrate::version(c, &SCHEMA).map_err(|e| Error::sqlite("schema version", &e))
        })
        .await
    }

    async fn put_run(&self, run: &RunRecord) -> Result<()> {
        let run = run.clone();
        let rows = run
            .rows
            .map(|n| i64::try_from(n).map_err(|_| Error::Data(format!("rows {n} exceed 2^63 - 1"))))
            .transpose()?;
        let blueprint = serde_json::to_string(&run.blueprint)
            .map_err(|e| Error::Data(format!("the blueprint is not JSON: {e}")))?;
        self.call("put run", move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (run_id) DO UPDATE SET experiment_id = excluded.experiment_id, \
                 run_date = excluded.run_date, blueprint_hash = excluded.blueprint_hash, \
                 blueprint = excluded.blueprint, status = excluded.status, \
                 started_at = excluded.started_at, finished_at = excluded.finished_at, \
                 \"rows\" = excluded.\"rows\""
            ))
            .and_then(|mut s| {
                s.execute(params![
                    run.run_id,
                    run.experiment_id,
                    run.run_date.format("%Y-%m-%d").to_string(),
                    run.blueprint_hash,
                    blueprint,
                    run.status.as_str(),
                    format_ts(&run.started_at),
                    run.finished_at.as_ref().map(format_ts),
                    rows,
                ])
            })
            .map(|_| ())
            .map_err(|e| Error::sqlite("put run", &e))
        })
        .await
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        let run_id = run_id.to_string();
        self.call("get run", move |c| {
            c.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1"))
                .and_then(|mut s| s.query_row([&run_id], run_of_row).optional())
                .map_err(|e| Error::sqlite("get run", &e))
        })
        .await
    }

    async fn runs(&self, experiment_id: Option<&str>) -> Result<Vec<RunRecord>> {
        let experiment_id = experiment_id.map(str::to_string);
        self.call("list runs", move |c| {
            c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR experiment_id = ?1 \
                 ORDER BY run_date DESC, run_id"
            ))
            .and_then(|mut s| {
                s.query_map([&experiment_id], run_of_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| Error::sqlite("list runs", &e))
        })
        .await
    }

    async fn begin_load(&self, spec: LoadSpec) -> Result<Box<dyn CustomerLoad>> {
        let layout = Layout::of(&spec.schema)?;
        let (ready_tx, ready_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(LOAD_QUEUE);
        let path = self.path.clone();
        std::thread::Builder::new()
            .name("abforge-sqlite-load".into())
            .spawn(move || load_thread(path, spec, layout, ready_tx, rx, done_tx))
            .map_err(|e| {
                Error::service(
                    "sqlite",
                    "load customers",
                    format!("spawn a thread: {e}"),
                    true,
                )
            })?;
        ready_rx.await.unwrap_or_else(|_| {
            Err(Error::service(
                "sqlite",
                "load customers",
                "the load's thread ended before it began",
                false,
            ))
        })?;
        Ok(Box::new(SqliteLoad {
            tx: Some(tx),
            done: Some(done_rx),
        }))
    }

    async fn count_customers(&self, run_id: &str) -> Result<u64> {
        let run_id = run_id.to_string();
        self.call("count customers", move |c| {
            c.prepare_cached("SELECT COUNT(*) FROM customers WHERE run_id = ?1")
                .and_then(|mut s| s.query_row([&run_id], |r| r.get::<_, i64>(0)))
                .map(|n| n as u64)
                .map_err(|e| Error::sqlite("count customers", &e))
        })
        .await
    }

    async fn scan_customers(
        &self,
        run_id: &str,
        schema: SchemaRef,
        batch_rows: usize,
    ) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let plan = ScanPlan::of(&schema)?;
        let batch_rows = batch_rows.max(1);
        let check = plan.clone();
        self.call("scan customers", move |c| {
            let table = table_columns(c).map_err(|e| Error::sqlite("scan customers", &e))?;
            check.check_table(&table)
        })
        .await?;
        let (tx, mut rx) = mpsc::channel::<Result<RecordBatch>>(2);
        let path = self.path.clone();
        let run_id = run_id.to_string();
        tokio::task::spawn_blocking(move || {
            let result = scan(&path, &run_id, &plan, batch_rows, &tx);
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed())
    }

    async fn delete_run(&self, run_id: &str) -> Result<()> {
        let run_id = run_id.to_string();
        self.call("delete run", move |c| {
            let err = |e: rusqlite::Error| Error::sqlite("delete run", &e);
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            for table in ["customers", "ab_results", "runs"] {
                tx.execute(&format!("DELETE FROM {table} WHERE run_id = ?1"), [&run_id])
                    .map_err(err)?;
            }
            tx.commit().map_err(err)
        })
        .await
    }

    async fn put_results(&self, run_id: &str, rows: &[ResultRow]) -> Result<()> {
        let run_id = run_id.to_string();
        let rows = rows.to_vec();
        self.call("put results", move |c| {
            let err = |e: rusqlite::Error| Error::sqlite("put results", &e);
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            tx.execute("DELETE FROM ab_results WHERE run_id = ?1", [&run_id])
                .map_err(err)?;
            {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO ab_results (position, {RESULT_COLUMNS}) VALUES \
                         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                         ?17)"
                    ))
                    .map_err(err)?;
                for (i, r) in rows.iter().enumerate() {
                    stmt.execute(params![
                        i as i64,
                        r.experiment_id,
                        run_id,
                        r.metric,
                        r.control,
                        r.treatment,
                        r.test,
                        r.primary,
                        r.estimate,
                        r.ci_low,
                        r.ci_high,
                        r.p_value,
                        r.p_adjusted,
                        r.reject,
                        r.true_effect,
                        r.null_true,
                        r.outcome,
                    ])
                    .map_err(err)?;
                }
            }
            tx.commit().map_err(err)
        })
        .await
    }

    async fn results(&self, run_id: &str) -> Result<Vec<ResultRow>> {
        let run_id = run_id.to_string();
        self.call("get results", move |c| {
            c.prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM ab_results WHERE run_id = ?1 ORDER BY position"
            ))
            .and_then(|mut s| {
                s.query_map([&run_id], result_of_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| Error::sqlite("get results", &e))
        })
        .await
    }
}

#[async_trait]
impl Locks for SqliteStore {
    async fn try_lock(&self, name: &str, owner: &str, lease: Duration) -> Result<Option<Lease>> {
        let ms = check_lock(name, owner, lease)?;
        let (name, owner) = (name.to_string(), owner.to_string());
        self.call("take lock", move |c| {
            // The process's clock: SQLite is one machine's file. A lease expires at its end
            // (`expires_at <= now`), so a lease of 0 can be taken over at once.
            let now = Utc::now();
            let until = now + chrono::Duration::milliseconds(ms);
            c.prepare_cached(
                "INSERT INTO locks (name, owner, acquired_at, expires_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, \
                 acquired_at = CASE WHEN locks.owner = excluded.owner \
                 AND locks.expires_at > excluded.acquired_at \
                 THEN locks.acquired_at ELSE excluded.acquired_at END, \
                 expires_at = excluded.expires_at \
                 WHERE locks.owner = excluded.owner OR locks.expires_at <= excluded.acquired_at \
                 RETURNING name, owner, acquired_at, expires_at",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![name, owner, format_ts(&now), format_ts(&until)],
                    lease_of_row,
                )
                .optional()
            })
            .map_err(|e| Error::sqlite("take lock", &e))
        })
        .await
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<bool> {
        let (name, owner) = (name.to_string(), owner.to_string());
        self.call("release lock", move |c| {
            c.prepare_cached("DELETE FROM locks WHERE name = ?1 AND owner = ?2")
                .and_then(|mut s| s.execute(params![name, owner]))
                .map(|n| n > 0)
                .map_err(|e| Error::sqlite("release lock", &e))
        })
        .await
    }

    async fn lock_holder(&self, name: &str) -> Result<Option<Lease>> {
        let name = name.to_string();
        self.call("read lock", move |c| {
            c.prepare_cached(
                "SELECT name, owner, acquired_at, expires_at FROM locks WHERE name = ?1",
            )
            .and_then(|mut s| s.query_row([&name], lease_of_row).optional())
            .map_err(|e| Error::sqlite("read lock", &e))
        })
        .await
    }

    async fn live_locks(&self, prefix: &str) -> Result<Vec<Lease>> {
        let prefix = prefix.to_string();
        self.call("read locks", move |c| {
            let now = format_ts(&Utc::now());
            c.prepare_cached(
                "SELECT name, owner, acquired_at, expires_at FROM locks \
                 WHERE substr(name, 1, length(?1)) = ?1 AND expires_at > ?2 ORDER BY name",
            )
            .and_then(|mut s| {
                s.query_map(params![prefix, now], lease_of_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| Error::sqlite("read locks", &e))
        })
        .await
    }
}

#[async_trait]
impl Ticks for SqliteStore {
    async fn put_tick(&self, tick: &TickRecord) -> Result<()> {
        let t = tick.clone();
        self.call("record tick", move |c| {
            c.prepare_cached(
                "INSERT INTO schedule_ticks (schedule, tick, status, message, recorded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (schedule, tick) DO UPDATE SET \
                 status = excluded.status, message = excluded.message, \
                 recorded_at = excluded.recorded_at",
            )
            .and_then(|mut s| {
                s.execute(params![
                    t.schedule,
                    format_ts(&t.tick),
                    t.status.as_str(),
                    t.message,
                    format_ts(&t.recorded_at),
                ])
            })
            .map(|_| ())
            .map_err(|e| Error::sqlite("record tick", &e))
        })
        .await
    }

    async fn last_tick(&self, schedule: &str) -> Result<Option<TickRecord>> {
        let schedule = schedule.to_string();
        self.call("read the last tick", move |c| {
            c.prepare_cached(
                "SELECT schedule, tick, status, message, recorded_at FROM schedule_ticks \
                 WHERE schedule = ?1 ORDER BY tick DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([&schedule], tick_of_row).optional())
            .map_err(|e| Error::sqlite("read the last tick", &e))
        })
        .await
    }
}

fn lease_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Lease> {
    Ok(Lease {
        name: r.get(0)?,
        owner: r.get(1)?,
        acquired_at: parse_ts(&r.get::<_, String>(2)?)?,
        expires_at: parse_ts(&r.get::<_, String>(3)?)?,
    })
}

fn tick_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TickRecord> {
    let status: String = r.get(2)?;
    Ok(TickRecord {
        schedule: r.get(0)?,
        tick: parse_ts(&r.get::<_, String>(1)?)?,
        status: TickStatus::parse(&status).ok_or_else(|| {
            conversion(std::io::Error::other(format!(
                "unknown tick status {status:?}"
            )))
        })?,
        message: r.get(3)?,
        recorded_at: parse_ts(&r.get::<_, String>(4)?)?,
    })
}

/// Reads a run's rows in `customer_id` order and sends them in batches; stops early when the
/// receiver is gone.
fn scan(
    path: &Path,
    run_id: &str,
    plan: &ScanPlan,
    batch_rows: usize,
    tx: &mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let op = "scan customers";
    let err = |e: rusqlite::Error| Error::sqlite(op, &e);
    let conn = connect(path)?;
    let cols: Vec<String> = plan.columns.iter().map(|(n, _)| quote_ident(n)).collect();
    let sql = format!(
        "SELECT {} FROM customers WHERE run_id = ?1 ORDER BY customer_id",
        if cols.is_empty() {
            "1".to_string()
        } else {
            cols.join(", ")
        }
    );
    let mut stmt = conn.prepare(&sql).map_err(err)?;
    let mut rows = stmt.query([run_id]).map_err(err)?;
    let mut builder = plan.builder(batch_rows);
    let mut dates = DateCache::default();
    while let Some(row) = rows.next().map_err(err)? {
        for (k, col) in builder.columns.iter_mut().enumerate() {
            let v = row.get_ref(k).map_err(err)?;
            append(col, v, &plan.columns[k].0, &mut dates)?;
        }
        builder.rows += 1;
        if builder.rows >= batch_rows && tx.blocking_send(builder.finish()).is_err() {
            return Ok(());
        }
    }
    if builder.rows > 0 {
        let _ = tx.blocking_send(builder.finish());
    }
    Ok(())
}

/// Appends a value read from SQLite to a column builder.
fn append(
    col: &mut crate::relational::columns::ColumnBuilder,
    v: ValueRef<'_>,
    name: &str,
    dates: &mut DateCache,
) -> Result<()> {
    use crate::relational::columns::ColumnBuilder as B;
    let kind = col_kind(col);
    let bad = |v: ValueRef<'_>| {
        Error::Data(format!(
            "column {name:?} holds a {:?} value where the schema wants {}",
            v.data_type(),
            match kind {
                SqlType::Text => "text",
                SqlType::BigInt => "an integer",
                SqlType::Double => "a real",
                SqlType::Date => "a date",
            }
        ))
    };
    match (&mut *col, v) {
        (B::Text(b), ValueRef::Null) => b.append_null(),
        (B::BigInt(b), ValueRef::Null) => b.append_null(),
        (B::Double(b), ValueRef::Null) => b.append_null(),
        (B::Date(b), ValueRef::Null) => b.append_null(),
        (B::Text(b), ValueRef::Text(t)) => b.append_value(
            std::str::from_utf8(t).map_err(|e| Error::Data(format!("column {name:?}: {e}")))?,
        ),
        (B::BigInt(b), ValueRef::Integer(i)) => b.append_value(i),
        (B::Double(b), ValueRef::Real(x)) => b.append_value(x),
        (B::Double(b), ValueRef::Integer(i)) => b.append_value(i as f64),
        (B::Date(b), ValueRef::Text(t)) => {
            let days = dates.parse(t).ok_or_else(|| {
                Error::Data(format!(
                    "column {name:?} holds {:?}, not a YYYY-MM-DD date",
                    String::from_utf8_lossy(t)
                ))
            })?;
            b.append_value(days)
        }
        (_, v) => return Err(bad(v)),
    }
    Ok(())
}

fn col_kind(col: &crate::relational::columns::ColumnBuilder) -> SqlType {
    use crate::relational::columns::ColumnBuilder as B;
    match col {
        B::Text(_) => SqlType::Text,
        B::BigInt(_) => SqlType::BigInt,
        B::Double(_) => SqlType::Double,
        B::Date(_) => SqlType::Date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_files() {
        assert_eq!(
            path_of_url("sqlite:///tmp/a/b.sqlite").unwrap(),
            PathBuf::from("/tmp/a/b.sqlite")
        );
        assert_eq!(
            path_of_url("sqlite://data/b.sqlite").unwrap(),
            PathBuf::from("data/b.sqlite")
        );
        assert_eq!(
            path_of_url("sqlite:b.sqlite?mode=rwc").unwrap(),
            PathBuf::from("b.sqlite")
        );
        for bad in [
            "sqlite://",
            "sqlite:///",
            "sqlite://dir/",
            "postgres://h/db",
        ] {
            assert!(matches!(path_of_url(bad), Err(Error::Config(_))), "{bad}");
        }
    }

    #[test]
    fn a_locked_file_is_a_transient_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite");
        let mut a = connect(&path).unwrap();
        migrate(&mut a, &path).unwrap();
        let tx = a
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let b = connect(&path).unwrap();
        b.busy_timeout(Duration::ZERO).unwrap();
        let e = b
            .execute("DELETE FROM runs", [])
            .map_err(|e| Error::sqlite("delete", &e))
            .unwrap_err();
        assert!(e.is_transient(), "{e:?}");
        drop(tx);
    }
}
