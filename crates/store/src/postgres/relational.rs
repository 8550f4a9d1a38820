//! The PostgreSQL relational store: tables `customers`, `runs` and `ab_results` in the
//! database a `postgres://` URL names (in the schema first on its `search_path`), reached
//! with tokio-postgres over TLS as libpq's `sslmode` says (see [`crate::postgres`]:
//! `verify-full` by default unless the server is on the loopback).
//!
//! ```text
//! customers(experiment_id text, run_id text, customer_id bigint, "group" text,
//!           <one column per attribute and metric, added when a load first has it>,
//!           PRIMARY KEY (run_id, customer_id, experiment_id))   PARTITION BY LIST (run_id)
//!   └─ customers_<hash of the run id>   FOR VALUES IN (run)     PARTITION BY RANGE (customer_id)
//!        └─ customers_<hash>_<load id>  FOR VALUES FROM (lo) TO (hi)  (one per load)
//! runs(run_id text PRIMARY KEY, experiment_id, run_date date, blueprint_hash,
//!      blueprint json, status, started_at timestamptz, finished_at timestamptz, "rows" bigint)
//! ab_results(run_id, position integer, <the fields of ResultRow>, PRIMARY KEY (run_id, position))
//! locks(name text PRIMARY KEY, owner, acquired_at timestamptz, expires_at timestamptz)
//! schedule_ticks(schedule, tick timestamptz, status, message, recorded_at timestamptz,
//!                PRIMARY KEY (schedule, tick))
//! ```
//!
//! Lock leases are timed by the server's `clock_timestamp()`, so schedulers on hosts whose
//! clocks disagree still agree on when a lease ends.
//!
//! Column types: strings `text`, Int64 `bigint`, Float64 `double precision`, Date32 `date`.
//! The blueprint is `json`, not `jsonb`: `json` keeps the text as written, and the order of a
//! blueprint's keys matters (it orders groups and attribute values). Timestamps are kept to
//! the microsecond. The key of `customers` has the three columns (experiment, run,
//! customer) with `run_id` first, so that an index scan of a run partition returns its rows
//! in `customer_id` order.
//!
//! ## Loads: binary COPY into fresh tables, swapped in as partitions
//! [`begin_load`](RelationalStore::begin_load) adds the columns `customers` lacks (`ALTER
//! TABLE … ADD COLUMN`, nullable: no rewrite), then splits the id range into *lanes*: two
//! equal halves for a load of 1 000 customers or more, else one. Each lane opens a
//! transaction on a connection of its own, creates a plain table there (the columns of
//! `customers`, and a `CHECK` that `run_id` is the run's and `customer_id` lies in the
//! lane's range), and starts `COPY … FROM STDIN (FORMAT binary, FREEZE)` into it. Each batch
//! is encoded straight from its Arrow arrays into COPY's binary format (no per-value `ToSql`
//! calls, as `BinaryCopyInWriter` would make), each row into its lane's COPY, and handed to
//! the lane's sending task (two batches queued), so that encoding the next batch overlaps
//! sending this one. The lanes' server processes copy, and then index, at the same time:
//! one COPY keeps one server core busy, and the client needs little (on the 2-core
//! development box two lanes cut the server's time for 10^7 rows from 14.7 to 8.4 s). A
//! writer that has each lane's rows at hand writes them in turn
//! ([`CustomerLoad::lanes`]; the pipeline's land step reads each lane's rows of the Parquet
//! with a reader of its own).
//!
//! [`commit`] ends every lane's COPY and builds its primary-key index by sorting (the lanes
//! at once; about a third cheaper than maintaining it row by row; with `maintenance_work_mem
//! = 1GB` and no parallel workers for the transaction only, so that the already sorted rows
//! are sorted in memory, in one pass: memory is taken as needed, about 90 bytes per row).
//! The lanes past the first then commit their tables — *not attached*: no customer is
//! visible yet — and lane 0's transaction, under an advisory lock that serialises changes
//! of `customers`, creates the run's partition if needed, drops the run's partitions that
//! the range covers (every one of them for a [`LoadSpec::whole_run`] load) and attaches
//! every lane's table as the partition for its range. Because
//! each `CHECK` implies its partition bound, `ATTACH PARTITION` does not scan the table;
//! because the index exists, it does not build one. The swap is metadata only.
//!
//! **Why it is atomic.** The swap is one transaction, lane 0's, open since the load began:
//! until it commits, the old partitions are still attached and none of the new tables is.
//! At `COMMIT` the run's rows in the range switch from the old set to the new set at once; a
//! rerun replaces them the same way. A dropped or aborted load, an error, a lost connection
//! or a server crash before the lanes commit roll everything back: nothing partial is ever
//! visible, and there is nothing to clean up. Between the lanes' commits and the swap's (a
//! few milliseconds, after the indexes are built), a crash leaves the committed lane
//! tables behind: never visible as customers, and dropped by the next load's swap. To tell
//! those from the lane tables of a load still going on, lane 0's transaction holds an
//! advisory lock on the load's name from its start to its end: a swap drops a lane table
//! only when it can take that lock (its load is gone). If the swap itself fails, the load
//! drops its committed lane tables at once. Rows are written once (no staging copy followed
//! by `INSERT … SELECT`), and `FREEZE` (allowed because each table was created in the same
//! transaction) writes them frozen, so no later hint-bit or freeze pass rewrites them. Plain
//! logged tables, not `UNLOGGED`: they become partitions, so they must survive a crash.
//!
//! A load whose range cuts through an existing partition (a shard layout different from the
//! previous load's, e.g. reloading one shard of a run that was loaded whole) keeps that
//! partition's rows outside the range by copying them into the first lane's table (those
//! below the range) or the last's (those above), which then take the union of the ranges:
//! correct, but that one case writes the kept rows again.
//!
//! Locks: the load holds no lock on `customers` while it copies; the swap takes `ACCESS
//! EXCLUSIVE` on the run's partition for the moments of its `DROP`/`ATTACH` (readers of that
//! run wait that long). The swaps of all loads take turns under
//! `pg_advisory_xact_lock(hashtext('abforge_customers'))`, so the shards of one run can be
//! loaded at the same time, each on its own connections.
//!
//! The new partitions are not analyzed by the load (autovacuum does it soon, the load
//! having counted as inserts into them); scans do not need statistics (below).
//!
//! `bench/land.py` measures the load beside the `psql \copy` anchor of `../shared/bench`
//! (figures in docs/performance.md).
//!
//! ## Scans
//! `COPY (SELECT … WHERE run_id = … ORDER BY customer_id) TO STDOUT (FORMAT binary)` in a
//! read-only transaction with `enable_sort = off`, so that the rows come from the primary-key
//! index of each partition in order (an ordered append), never from a sort; decoded as it
//! streams. The connection returns to the pool when the stream ends (a stream dropped early
//! closes it).
//!
//! ## Migrations
//! Versioned in `abforge_migrations(component, version, applied_at)` with component
//! `relational`, applied by [`PostgresStore::open`] in one transaction under
//! `pg_advisory_xact_lock(hashtext('abforge_migrations'))`, so concurrent opens apply each
//! migration once.
//!
//! [`commit`]: CustomerLoad::commit

use super::PgConnector;
use super::migrate;
use crate::locks::{Lease, Locks, TickRecord, TickStatus, Ticks, check_lock};
use crate::migrations::Schema;
use crate::redact_url;
use crate::relational::columns::{
    FIXED, Layout, PG_EPOCH_DAYS, ScanPlan, SqlType, Strings, Values, check_ids, check_name,
    quote_ident, quote_literal,
};
use crate::relational::{CustomerLoad, LoadSpec, RelationalStore, ResultRow, RunRecord, RunStatus};
use crate::{Error, Result};
use arrow_array::{Array, RecordBatch};
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use chrono::NaiveDate;
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, CopyInSink, GenericClient};

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
    experiment_id text   NOT NULL,
    run_id        text   NOT NULL,
    customer_id   bigint NOT NULL,
    "group"       text   NOT NULL,
    PRIMARY KEY (run_id, customer_id, experiment_id)
) PARTITION BY LIST (run_id);
CREATE TABLE runs (
    run_id         text        NOT NULL PRIMARY KEY,
    experiment_id  text        NOT NULL,
    run_date       date        NOT NULL,
    blueprint_hash text        NOT NULL,
    blueprint      json        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    "rows"         bigint      CHECK ("rows" >= 0)
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, run_date);
CREATE TABLE ab_results (
    run_id        text             NOT NULL,
    position      integer          NOT NULL,
    experiment_id text             NOT NULL,
    metric        text             NOT NULL,
    control       text             NOT NULL,
    treatment     text             NOT NULL,
    test          text             NOT NULL,
    "primary"     boolean          NOT NULL,
    estimate      double precision,
    ci_low        double precision,
    ci_high       double precision,
    p_value       double precision,
    p_adjusted    double precision,
    reject        boolean,
    true_effect   double precision,
    null_true     boolean,
    outcome       text,
    PRIMARY KEY (run_id, position)
);
"#,
    r#"
CREATE TABLE locks (
    name        text        NOT NULL PRIMARY KEY,
    owner       text        NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE TABLE schedule_ticks (
    schedule    text        NOT NULL,
    tick        timestamptz NOT NULL,
    status      text        NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped')),
    message     text,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (schedule, tick)
);
"#,
];

/// Serialises changes of the `customers` table: new columns, swaps, run deletions.
const CUSTOMERS_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('abforge_customers'))";

/// How long a connection attempt may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept for later calls.
const POOL_IDLE: usize = 4;
/// Memory for building a load's primary-key index (`maintenance_work_mem`, this
/// transaction only).
const INDEX_MEMORY: &str = "1GB";

/// The columns of a run, in [`run_of_row`]'s order.
const RUN_COLUMNS: &str = "run_id, experiment_id, run_date, blueprint_hash, blueprint, status, \
                           started_at, finished_at, \"rows\"";

/// The columns of a result, in [`result_of_row`]'s order.
const RESULT_COLUMNS: &str = "experiment_id, run_id, metric, control, treatment, test, \
                              \"primary\", estimate, ci_low, ci_high, p_value, p_adjusted, \
                              reject, true_effect, null_true, outcome";

/// The PostgreSQL relational store (see the module docs).
#[derive(Clone)]
pub struct PostgresStore {
    url: String,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Connections: a few idle ones kept, new ones opened as needed.
struct Pool {
    connector: PgConnector,
    idle: Mutex<Vec<Client>>,
}

impl Pool {
    /// An idle connection, or a new one.
    async fn get(&self) -> Result<Client> {
        loop {
            let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match taken {
                Some(c) if c.is_closed() => continue,
                Some(c) => return Ok(c),
                None => break,
            }
        }
        self.connector.connect().await
    }

    /// Returns a connection that is idle (not in a transaction, not copying).
    fn put(&self, client: Client) {
        if client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_IDLE {
            idle.push(client);
        }
    }
}

impl PostgresStore {
    /// Connects to the database `postgres://user:password@host:port/database` (or
    /// `postgresql://`, or any connection string tokio-postgres reads) names and applies
    /// the pending migrations. Without `connect_timeout` in the URL, a connection attempt
    /// gives up after 10 s.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL tokio-postgres cannot read; [`Error::Service`] when the
    /// server cannot be reached (naming its `host:port`; transient when the connection was
    /// refused, reset or timed out) or the migrations fail; [`Error::Data`] when the
    /// database's schema is newer than this code.
    pub async fn open(url: &str) -> Result<PostgresStore> {
        let redacted = redact_url(url);
        let mut connector = PgConnector::new(url)?;
        let config = connector.config_mut();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("abforge");
        }
        let pool = Arc::new(Pool {
            connector,
            idle: Mutex::new(Vec::new()),
        });
        let mut client = pool.get().await?;
        migrate::migrate(&mut client, &SCHEMA).await?;
        pool.put(client);
        Ok(PostgresStore {
            url: redacted,
            pool,
        })
    }

    /// Runs `f` on a pooled connection; the connection goes back to the pool unless `f`
    /// failed (it may be inside a broken transaction).
    async fn with<T>(&self, f: impl AsyncFnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut client = self.pool.get().await?;
        let out = f(&mut client).await;
        if out.is_ok() {
            self.pool.put(client);
        }
        out
    }
}

/// A column of `customers`: name, SQL type (when one the store knows) and declared type.
type TableColumn = (String, Option<SqlType>, String);

/// The columns of `customers`, in table order.
async fn table_columns(client: &impl GenericClient) -> Result<Vec<TableColumn>> {
    let rows = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = 'customers'::regclass AND attnum > 0 AND NOT attisdropped \
             ORDER BY attnum",
            &[],
        )
        .await
        .map_err(|e| Error::postgres("read the columns of customers", &e))?;
    Ok(rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            let decl: String = r.get(1);
            let ty = match decl.as_str() {
                "text" => Some(SqlType::Text),
                "bigint" => Some(SqlType::BigInt),
                "double precision" => Some(SqlType::Double),
                "date" => Some(SqlType::Date),
                _ => None,
            };
            (name, ty, decl)
        })
        .collect())
}

/// The load's columns `customers` lacks; an error for one whose type differs.
fn missing_columns<'a>(
    have: &[TableColumn],
    layout: &'a Layout,
) -> Result<Vec<&'a crate::relational::columns::LoadColumn>> {
    let mut missing = Vec::new();
    for c in &layout.columns {
        match have.iter().find(|(n, _, _)| *n == c.name) {
            Some((_, ty, decl)) if *ty != Some(c.ty) => {
                return Err(Error::Data(format!(
                    "column {:?} of the customers table is {decl}, but the load's is {}",
                    c.name,
                    c.ty.name()
                )));
            }
            Some(_) => {}
            None => missing.push(c),
        }
    }
    Ok(missing)
}

/// Adds the load's columns `customers` lacks (nullable); returns the table's columns.
async fn ensure_columns(client: &mut Client, layout: &Layout) -> Result<Vec<TableColumn>> {
    let have = table_columns(client).await?;
    if missing_columns(&have, layout)?.is_empty() {
        return Ok(have);
    }
    let op = "add columns to customers";
    let err = |e: tokio_postgres::Error| Error::postgres(op, &e);
    let tx = client.transaction().await.map_err(err)?;
    tx.batch_execute(CUSTOMERS_LOCK).await.map_err(err)?;
    let have = table_columns(&tx).await?;
    let missing = missing_columns(&have, layout)?;
    if !missing.is_empty() {
        let adds: Vec<String> = missing
            .iter()
            .map(|c| {
                check_name(&c.name)?;
                Ok(format!(
                    "ADD COLUMN IF NOT EXISTS {} {}",
                    quote_ident(&c.name),
                    c.ty.name()
                ))
            })
            .collect::<Result<_>>()?;
        tx.batch_execute(&format!("ALTER TABLE customers {}", adds.join(", ")))
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)?;
    table_columns(client).await
}

/// A short hex name for a run: the first 16 hex digits of SHA-256 of its id.
fn run_hash(run_id: &str) -> String {
    let digest = Sha256::digest(run_id.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The name of a run's partition of `customers`.
fn run_table(run_id: &str) -> String {
    format!("customers_{}", run_hash(run_id))
}

/// A fresh name for a load's table: the run's partition name, `_`, 12 hex digits unique to
/// this load (time, process, counter).
fn load_table(run_id: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!(
        "{nanos}/{}/{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let digest = Sha256::digest(seed.as_bytes());
    let tail: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}_{tail}", run_table(run_id))
}

/// A range partition bound: `i128::MIN` is `MINVALUE`, `i128::MAX` is `MAXVALUE`.
type Bound = i128;

fn bound_sql(b: Bound) -> String {
    match b {
        i128::MIN => "MINVALUE".into(),
        i128::MAX => "MAXVALUE".into(),
        b => b.to_string(),
    }
}

/// The `CHECK` that implies a leaf's partition constraint.
fn range_check(run_id: &str, lo: Bound, hi: Bound) -> String {
    let mut parts = vec![format!("run_id = {}", quote_literal(run_id))];
    if lo != i128::MIN {
        parts.push(format!("customer_id >= '{lo}'::bigint"));
    }
    if hi != i128::MAX {
        parts.push(format!("customer_id < '{hi}'::bigint"));
    }
    parts.join(" AND ")
}

/// Parses `FOR VALUES FROM ('0') TO ('100')` (or `MINVALUE`/`MAXVALUE`).
fn parse_range_bound(expr: &str) -> Option<(Bound, Bound)> {
    let rest = expr.trim().strip_prefix("FOR VALUES FROM (")?;
    let (from, rest) = rest.split_once(") TO (")?;
    let to = rest.strip_suffix(')')?;
    let one = |s: &str| -> Option<Bound> {
        match s.trim() {
            "MINVALUE" => Some(i128::MIN),
            "MAXVALUE" => Some(i128::MAX),
            v => v.trim_matches('\'').parse().ok(),
        }
    };
    Some((one(from)?, one(to)?))
}

/// The load's id range as partition bounds (`MAXVALUE` past `i64::MAX`).
fn bounds_of(ids: &std::ops::Range<u64>) -> (Bound, Bound) {
    let hi = if ids.end > i64::MAX as u64 {
        i128::MAX
    } else {
        i128::from(ids.end)
    };
    (i128::from(ids.start), hi)
}

/// Loads of this many customers or more are split in [`LANES`] lanes (below, one). Low, so
/// that the conformance suite's loads of 1 000 rows and more go through lanes, and its
/// smaller ones through a single table: both paths are tested.
const LANE_MIN_ROWS: u64 = 1_000;
/// Lanes of a big load: each a connection, a transaction and a table of its own, loaded and
/// indexed at the same time as the others (each keeps a server core busy).
const LANES: u64 = 2;

/// Serialises nothing: the key space of the locks a load holds on its own name, so that
/// a swap can tell a lane table whose load is still going on (locked) from one a dead load
/// left behind (free).
const LOAD_LOCK_SPACE: &str = "abforge_load";

/// One lane of a load: its ids, its table, its connection and COPY.
struct Lane {
    /// The customer ids the lane takes.
    ids: std::ops::Range<u64>,
    /// The lane's table.
    table: String,
    /// The connection, inside the lane's transaction.
    client: Option<Client>,
    /// Encoded batches on their way into the COPY: a task of its own sends them, so that
    /// the next batch is encoded while this one goes out (`None` once ended or failed).
    queue: Option<tokio::sync::mpsc::Sender<Bytes>>,
    /// That task: it gives the COPY back once the queue is closed and drained.
    copier: Option<tokio::task::JoinHandle<CopyResult>>,
    header_sent: bool,
}

impl Drop for Lane {
    fn drop(&mut self) {
        // A lane dropped before its commit: stop sending (the connection, closed with it,
        // rolls the transaction back).
        if let Some(c) = self.copier.take() {
            c.abort();
        }
    }
}

/// What a lane's sending task gives back: the COPY, or the error that broke it.
type CopyResult = std::result::Result<Pin<Box<CopyInSink<Bytes>>>, tokio_postgres::Error>;

/// Encoded batches queued for a lane's sending task (a batch of 65 536 customers of the
/// seed blueprint is about 7 MiB).
const SEND_QUEUE: usize = 2;

/// Sends what arrives on `queue` into the COPY until the queue is closed; gives the COPY
/// back, or the first error.
async fn copier(
    mut sink: Pin<Box<CopyInSink<Bytes>>>,
    mut queue: tokio::sync::mpsc::Receiver<Bytes>,
) -> CopyResult {
    while let Some(buf) = queue.recv().await {
        sink.send(buf).await?;
    }
    Ok(sink)
}

/// An open load (see the module docs).
struct PgLoad {
    pool: Arc<Pool>,
    spec: LoadSpec,
    layout: Layout,
    /// The load's name: lane 0's table; lane `k > 0`'s is this name and `_l{k}`.
    table: String,
    /// The lanes, in id order; none for an empty id range. Lane 0's transaction is the
    /// load's: it swaps every lane's table in.
    lanes: Vec<Lane>,
    rows: u64,
    /// The first error: the load cannot go on after it.
    failed: Option<String>,
}

impl std::fmt::Debug for PgLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLoad")
            .field("table", &self.table)
            .field("lanes", &self.lanes.len())
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

/// COPY's binary signature, flags and header extension length.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The lanes' id ranges: [`LANES`] equal parts of a big range, else the range.
fn lane_ranges(ids: &std::ops::Range<u64>) -> Vec<std::ops::Range<u64>> {
    let n = ids.end.saturating_sub(ids.start);
    if n < LANE_MIN_ROWS || ids.end > i64::MAX as u64 {
        return vec![ids.clone()];
    }
    (0..LANES)
        .map(|k| ids.start + n * k / LANES..ids.start + n * (k + 1) / LANES)
        .collect()
}

/// The table of lane `k` of the load named `table`.
fn lane_table(table: &str, k: usize) -> String {
    if k == 0 {
        table.to_string()
    } else {
        format!("{table}_l{k}")
    }
}

/// The load a lane table `name` (of a lane past the first) belongs to.
fn load_of_lane_table(name: &str) -> Option<&str> {
    let (load, k) = name.rsplit_once("_l")?;
    (!k.is_empty() && k.bytes().all(|b| b.is_ascii_digit())).then_some(load)
}

/// The statements that open lane `k`'s transaction and create its table `name` for the
/// ids `ids` of run `run`: the columns of `customers` (`have`) and a `CHECK` of the range.
/// Lane 0's also takes the lock of the load named `load`.
fn lane_begin_sql(
    have: &[TableColumn],
    run: &str,
    load: &str,
    k: usize,
    name: &str,
    ids: &std::ops::Range<u64>,
) -> String {
    let (lo, hi) = bounds_of(ids);
    let mut defs: Vec<String> = have
        .iter()
        .map(|(name, _, decl)| {
            let not_null = if FIXED.contains(&name.as_str()) {
                " NOT NULL"
            } else {
                ""
            };
            format!("{} {decl}{not_null}", quote_ident(name))
        })
        .collect();
    defs.push(format!(
        "CONSTRAINT {} CHECK ({})",
        quote_ident(&format!("{name}_range")),
        range_check(run, lo, hi)
    ));
    // Lane 0's transaction holds the load's lock until it ends: while it does, no
    // other swap takes this load's committed lane tables for strays.
    let lock = if k == 0 {
        format!(
            "SELECT pg_advisory_xact_lock(hashtext({}), hashtext({}));",
            quote_literal(LOAD_LOCK_SPACE),
            quote_literal(load)
        )
    } else {
        String::new()
    };
    format!(
        "BEGIN; {lock} CREATE TABLE {} ({});",
        quote_ident(name),
        defs.join(", ")
    )
}

/// Opens a lane on `client`: runs `begin` (see [`lane_begin_sql`]), starts the COPY of
/// the columns `cols` into the lane's table `name`, and the task that sends it.
async fn open_lane(
    client: Client,
    begin: &str,
    cols: &str,
    ids: std::ops::Range<u64>,
    name: String,
    op: &str,
) -> Result<Lane> {
    let err = |e: tokio_postgres::Error| Error::postgres(op, &e);
    client.batch_execute(begin).await.map_err(err)?;
    let sink = client
        .copy_in::<_, Bytes>(&format!(
            "COPY {} ({cols}) FROM STDIN (FORMAT binary, FREEZE)",
            quote_ident(&name)
        ))
        .await
        .map_err(err)?;
    let (queue, rx) = tokio::sync::mpsc::channel(SEND_QUEUE);
    Ok(Lane {
        ids,
        table: name,
        client: Some(client),
        queue: Some(queue),
        copier: Some(tokio::spawn(copier(Box::pin(sink), rx))),
        header_sent: false,
    })
}

impl PgLoad {
    fn op(&self) -> String {
        format!("load customers of run {:?}", self.spec.run_id)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.failed = Some(e.to_string());
        // The transactions are broken: close the connections, which rolls them back.
        self.lanes.clear();
        e
    }

    /// Encodes the rows of a batch whose ids lie in `ids` in COPY's binary format (with
    /// COPY's header first when `header`).
    fn encode(&self, batch: &RecordBatch, ids_in: &std::ops::Range<u64>, header: bool) -> BytesMut {
        let layout = &self.layout;
        let ids = layout.ids(batch);
        let group = Strings::of(batch.column(layout.group));
        let values: Vec<Values<'_>> = layout
            .columns
            .iter()
            .map(|c| Values::of(batch.column(c.index), c.ty))
            .collect();
        let n = batch.num_rows();
        let exp = self.spec.experiment_id.as_bytes();
        let run = self.spec.run_id.as_bytes();
        let fields = (FIXED.len() + values.len()) as i16;
        let mut buf = BytesMut::with_capacity(
            COPY_HEADER.len() + n * (2 + 4 * fields as usize + exp.len() + run.len() + 32),
        );
        if header {
            buf.put_slice(COPY_HEADER);
        }
        let text = |buf: &mut BytesMut, s: Option<&str>| match s {
            Some(s) => {
                buf.put_i32(s.len() as i32);
                buf.put_slice(s.as_bytes());
            }
            None => buf.put_i32(-1),
        };
        for i in 0..n {
            if !ids_in.contains(&(ids.value(i) as u64)) {
                continue;
            }
            buf.put_i16(fields);
            buf.put_i32(exp.len() as i32);
            buf.put_slice(exp);
            buf.put_i32(run.len() as i32);
            buf.put_slice(run);
            buf.put_i32(8);
            buf.put_i64(ids.value(i));
            text(&mut buf, group.get(i));
            for v in &values {
                match v {
                    Values::Text(s) => text(&mut buf, s.get(i)),
                    Values::BigInt(a) if a.is_valid(i) => {
                        buf.put_i32(8);
                        buf.put_i64(a.value(i));
                    }
                    Values::Double(a) if a.is_valid(i) => {
                        buf.put_i32(8);
                        buf.put_f64(a.value(i));
                    }
                    Values::Date(a) if a.is_valid(i) => {
                        buf.put_i32(4);
                        buf.put_i32(a.value(i).wrapping_sub(PG_EPOCH_DAYS));
                    }
                    _ => buf.put_i32(-1),
                }
            }
        }
        buf
    }

    /// Ends every lane's COPY and builds its index (the lanes at once), commits the lanes
    /// past the first, and swaps every lane's table in within lane 0's transaction (see
    /// the module docs).
    async fn finish(&mut self) -> Result<u64> {
        let op = self.op();
        let copied = futures_util::future::try_join_all(self.lanes.iter_mut().enumerate().map(
            |(k, lane)| {
                let op = op.clone();
                async move { finish_lane(lane, k, &op).await }
            },
        ))
        .await?;
        let copied: u64 = copied.iter().sum();
        let err = |e: tokio_postgres::Error| Error::postgres(op.clone(), &e);
        let (first, rest) = self
            .lanes
            .split_first()
            .ok_or_else(|| Error::Data("no lane".into()))?;
        let main = first
            .client
            .as_ref()
            .ok_or_else(|| Error::Data("no connection".into()))?;
        // The lanes past the first commit their tables (not attached: no customer is
        // visible yet); lane 0's transaction, which holds the load's lock since it began,
        // attaches them all at once.
        for lane in rest {
            if let Some(c) = &lane.client {
                c.batch_execute("COMMIT").await.map_err(err)?;
            }
        }
        let ranges: Vec<_> = self
            .lanes
            .iter()
            .map(|l| (l.table.clone(), l.ids.clone()))
            .collect();
        let swapped = match swap(main, &self.spec, &self.table, &ranges).await {
            Ok(()) => main.batch_execute("COMMIT").await.map_err(err),
            Err(e) => Err(e),
        };
        if let Err(e) = swapped {
            // Lane 0 rolls back with its connection; the committed lane tables are dropped
            // here (else the next swap drops them, once this load's lock is gone).
            for lane in rest {
                if let Some(c) = &lane.client {
                    let _ = c
                        .batch_execute(&format!(
                            "DROP TABLE IF EXISTS {}",
                            quote_ident(&lane.table)
                        ))
                        .await;
                }
            }
            return Err(e);
        }
        Ok(copied)
    }
}

/// Ends a lane's COPY and builds its primary-key index; returns the rows copied. The index's
/// pages are filled (`fillfactor = 100`, not the default 90): a lane's rows are never updated,
/// and rows join it later only when a reload keeps the rows of a partition it cuts through
/// (rare, and correct either way), so the room would mostly be written, logged and read for
/// nothing (the index is 10 % smaller, its build 3 to 7 % quicker at 5 * 10^6 rows).
async fn finish_lane(lane: &mut Lane, k: usize, op: &str) -> Result<u64> {
    let err = |e: tokio_postgres::Error| Error::postgres(op.to_string(), &e);
    lane.queue = None;
    let copier = lane
        .copier
        .take()
        .ok_or_else(|| Error::Data("no COPY".into()))?;
    let mut sink = copier
        .await
        .map_err(|e| Error::Data(format!("{op}: lane {k}'s sending task failed: {e}")))?
        .map_err(err)?;
    if !lane.header_sent {
        sink.send(Bytes::from_static(COPY_HEADER))
            .await
            .map_err(err)?;
    }
    sink.send(Bytes::from_static(&[0xff, 0xff]))
        .await
        .map_err(err)?;
    let copied = sink.as_mut().finish().await.map_err(err)?;
    let client = lane
        .client
        .as_ref()
        .ok_or_else(|| Error::Data("no connection".into()))?;
    client
        .batch_execute(&format!(
            "SET LOCAL maintenance_work_mem = '{INDEX_MEMORY}';
             SET LOCAL max_parallel_maintenance_workers = 0;
             ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (run_id, customer_id, experiment_id) \
             WITH (fillfactor = 100);",
            quote_ident(&lane.table),
            quote_ident(&format!("{}_pkey", lane.table)),
        ))
        .await
        .map_err(err)?;
    Ok(copied)
}

/// A lane as the swap sees it: its table and its id range.
type LaneRange = (String, std::ops::Range<u64>);

/// The swap, inside lane 0's transaction: see the module docs. `lanes` are the lane
/// tables and their id ranges, in order; `load` names the load (lane 0's table). What it
/// reads of the database is I/O here; what it then does to the run's partitions is a
/// [`SwapPlan`], worked out without I/O.
async fn swap(client: &Client, spec: &LoadSpec, load: &str, lanes: &[LaneRange]) -> Result<()> {
    let op = format!("swap in the customers of run {:?}", spec.run_id);
    client
        .batch_execute(CUSTOMERS_LOCK)
        .await
        .map_err(|e| Error::postgres(op.clone(), &e))?;
    drop_stray_lane_tables(client, load, &op).await?;
    let parent = run_table(&spec.run_id);
    ensure_run_partition(client, &spec.run_id, &parent, &op).await?;
    // Columns added to customers since the lanes' tables were made.
    let have = table_columns(client).await?;
    add_missing_lane_columns(client, lanes, &have, &op).await?;
    let leaves = run_partitions(client, &parent, &op).await?;
    let columns: Vec<String> = have.into_iter().map(|(name, _, _)| name).collect();
    let plan = SwapPlan::new(spec, &parent, lanes, &columns, &leaves)?;
    execute_swap_plan(client, &plan, &op).await
}

/// Drops the lane tables that loads which died between committing their lanes and
/// swapping them in left behind: those whose load's lock is free.
async fn drop_stray_lane_tables(client: &Client, load: &str, op: &str) -> Result<()> {
    let err = |e: tokio_postgres::Error| Error::postgres(op, &e);
    let strays = client
        .query(
            "SELECT c.relname::text FROM pg_class c WHERE c.relkind = 'r' \
             AND NOT c.relispartition AND c.relname LIKE 'customers\\_%\\_l%' \
             AND c.relnamespace = (SELECT relnamespace FROM pg_class \
             WHERE oid = 'customers'::regclass)",
            &[],
        )
        .await
        .map_err(err)?;
    for stray in &strays {
        let name: String = stray.get(0);
        let Some(owner) = stray_owner(&name, load) else {
            continue;
        };
        let free: bool = client
            .query_one(
                "SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2))",
                &[&LOAD_LOCK_SPACE, &owner],
            )
            .await
            .map_err(err)?
            .get(0);
        if free {
            client
                .batch_execute(&format!("DROP TABLE IF EXISTS {}", quote_ident(&name)))
                .await
                .map_err(err)?;
        }
    }
    Ok(())
}

/// The load a lane table `name` belongs to, when that is another load than `load`: the
/// table is a stray if that load's lock is free.
fn stray_owner<'a>(name: &'a str, load: &str) -> Option<&'a str> {
    load_of_lane_table(name).filter(|owner| *owner != load)
}

/// Creates the run's partition of `customers`, `parent`, unless it exists.
async fn ensure_run_partition(client: &Client, run: &str, parent: &str, op: &str) -> Result<()> {
    let err = |e: tokio_postgres::Error| Error::postgres(op, &e);
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&parent])
        .await
        .map_err(err)?
        .get(0);
    if !exists {
        client
            .batch_execute(&run_partition_sql(run, parent))
            .await
            .map_err(err)?;
    }
    Ok(())
}

/// The statement that creates the partition `parent` of `customers` for the run `run`.
fn run_partition_sql(run: &str, parent: &str) -> String {
    format!(
        "CREATE TABLE {} PARTITION OF customers FOR VALUES IN ({}) \
         PARTITION BY RANGE (customer_id)",
        quote_ident(parent),
        quote_literal(run)
    )
}

/// Adds to each lane's table the columns of `customers` (`have`) that it lacks.
async fn add_missing_lane_columns(
    client: &Client,
    lanes: &[LaneRange],
    have: &[TableColumn],
    op: &str,
) -> Result<()> {
    let err = |e: tokio_postgres::Error| Error::postgres(op, &e);
    for (table, _) in lanes {
        let qtable = quote_ident(table);
        let mine: Vec<String> = client
            .query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass \
                 AND attnum > 0 AND NOT attisdropped",
                &[&qtable],
            )
            .await
            .map_err(err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for sql in lane_column_adds(table, &mine, have) {
            client.batch_execute(&sql).await.map_err(err)?;
        }
    }
    Ok(())
}

/// The statements that add to the lane table `table`, whose columns are `mine`, the
/// columns of `customers` (`have`) it lacks, in table order.
fn lane_column_adds(table: &str, mine: &[String], have: &[TableColumn]) -> Vec<String> {
    let qtable = quote_ident(table);
    have.iter()
        .filter(|(name, _, _)| !mine.contains(name))
        .map(|(name, _, decl)| {
            format!(
                "ALTER TABLE {qtable} ADD COLUMN {} {decl}",
                quote_ident(name)
            )
        })
        .collect()
}

/// The partitions of the run's partition `parent`: each one's name and bound (`FOR VALUES
/// FROM (…) TO (…)`).
async fn run_partitions(client: &Client, parent: &str, op: &str) -> Result<Vec<(String, String)>> {
    let leaves = client
        .query(
            "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::text::regclass",
            &[&quote_ident(parent)],
        )
        .await
        .map_err(|e| Error::postgres(op, &e))?;
    Ok(leaves.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Runs a swap plan's statements, in order.
async fn execute_swap_plan(client: &Client, plan: &SwapPlan, op: &str) -> Result<()> {
    for sql in plan.batches() {
        client
            .batch_execute(sql)
            .await
            .map_err(|e| Error::postgres(op, &e))?;
    }
    Ok(())
}

/// What a swap does to the run's partitions, worked out from the load and the partitions
/// the run has, without I/O (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SwapPlan {
    /// The run's partitions inside the load's range: dropped.
    covered: Vec<String>,
    /// The run's partitions the range cuts through: their rows outside the range are kept
    /// (copied into the first or the last lane's table), then they are dropped.
    cut: Vec<String>,
    /// Each lane's partition bounds, in lane order: the first's and the last's widened to
    /// the cut partitions' union (or `MINVALUE` and `MAXVALUE` for a whole-run load).
    bounds: Vec<(Bound, Bound)>,
    /// The statements that keep the cut partitions' rows outside the range; `None` when
    /// no partition is cut.
    keep: Option<String>,
    /// The statements that drop the covered and cut partitions and attach every lane's
    /// table as the partition for its bounds.
    attach: String,
}

impl SwapPlan {
    /// Plans the swap of `lanes` (tables and id ranges, in order) into `parent`, the run's
    /// partition, whose partitions are `leaves` (name and bound); `columns` are those of
    /// `customers`, in table order.
    fn new(
        spec: &LoadSpec,
        parent: &str,
        lanes: &[LaneRange],
        columns: &[String],
        leaves: &[(String, String)],
    ) -> Result<SwapPlan> {
        // The run's partitions that the range meets (all of them for a whole-run load, whose
        // first and last lanes then take the bounds MINVALUE and MAXVALUE).
        let range = match spec.whole_run {
            true => (i128::MIN, i128::MAX),
            false => bounds_of(&spec.ids),
        };
        let met = Overlap::of(&spec.run_id, range, leaves)?;
        let bounds = lane_bounds(lanes, met.lo, met.hi);
        let keep = (!met.cut.is_empty())
            .then(|| keep_outside_sql(&spec.run_id, range, lanes, &bounds, &met.cut, columns));
        let attach = attach_sql(parent, &met.covered, &met.cut, lanes, &bounds);
        Ok(SwapPlan {
            covered: met.covered,
            cut: met.cut,
            bounds,
            keep,
            attach,
        })
    }

    /// The plan's statements, in the order they run: a batch each.
    fn batches(&self) -> impl Iterator<Item = &str> {
        self.keep
            .as_deref()
            .into_iter()
            .chain(std::iter::once(self.attach.as_str()))
    }
}

/// The run's partitions a load's range meets, and the range they and it span together.
#[derive(Debug)]
struct Overlap {
    /// The partitions inside the range.
    covered: Vec<String>,
    /// The partitions the range cuts through.
    cut: Vec<String>,
    /// The lower bound of the range and the cut partitions together.
    lo: Bound,
    /// Their upper bound.
    hi: Bound,
}

impl Overlap {
    /// Sorts the run's partitions (`leaves`: name and bound) that the range `[lo, hi)`
    /// meets into those inside it and those it cuts through; an error for a bound that is
    /// not a range.
    fn of(run: &str, (lo, hi): (Bound, Bound), leaves: &[(String, String)]) -> Result<Overlap> {
        let mut met = Overlap {
            covered: Vec::new(),
            cut: Vec::new(),
            lo,
            hi,
        };
        for (name, expr) in leaves {
            let (llo, lhi) = parse_range_bound(expr).ok_or_else(|| {
                Error::Data(format!(
                    "partition {name} of run {run:?} has bound {expr:?}"
                ))
            })?;
            if llo >= hi || lhi <= lo {
                continue;
            }
            if llo >= lo && lhi <= hi {
                met.covered.push(name.clone());
            } else {
                met.lo = met.lo.min(llo);
                met.hi = met.hi.max(lhi);
                met.cut.push(name.clone());
            }
        }
        Ok(met)
    }
}

/// Each lane's partition bounds: its id range, the first's lower bound widened to `lo`
/// and the last's upper bound to `hi`.
fn lane_bounds(lanes: &[LaneRange], lo: Bound, hi: Bound) -> Vec<(Bound, Bound)> {
    let mut bounds: Vec<(Bound, Bound)> = lanes.iter().map(|(_, ids)| bounds_of(ids)).collect();
    if let Some(b) = bounds.first_mut() {
        b.0 = lo;
    }
    if let Some(b) = bounds.last_mut() {
        b.1 = hi;
    }
    bounds
}

/// The statements that keep the rows of the `cut` partitions outside the load's `range`:
/// those below it are copied into the first lane's table and those above into the last's,
/// whose `CHECK`s then take their widened `bounds` (the union of the ranges).
fn keep_outside_sql(
    run: &str,
    (lo, hi): (Bound, Bound),
    lanes: &[LaneRange],
    bounds: &[(Bound, Bound)],
    cut: &[String],
    columns: &[String],
) -> String {
    let cols: Vec<String> = columns.iter().map(|n| quote_ident(n)).collect();
    let cols = cols.join(", ");
    let mut sql = String::new();
    let last = lanes.len() - 1;
    let (new_lo, new_hi) = (bounds[0].0, bounds[last].1);
    let mut ends = vec![0, last];
    ends.dedup();
    for k in ends {
        let below = k == 0 && new_lo < lo;
        let above = k == last && new_hi > hi;
        if !below && !above {
            continue;
        }
        let (table, _) = &lanes[k];
        let qtable = quote_ident(table);
        let check = quote_ident(&format!("{table}_range"));
        let outside = match (below, above) {
            (true, true) => format!("NOT ({})", range_check(run, lo, hi)),
            (true, false) => format!("customer_id < '{lo}'::bigint"),
            _ => format!("customer_id >= '{hi}'::bigint"),
        };
        sql.push_str(&format!("ALTER TABLE {qtable} DROP CONSTRAINT {check};"));
        for name in cut {
            sql.push_str(&format!(
                "INSERT INTO {qtable} ({cols}) SELECT {cols} FROM {} WHERE {outside};",
                quote_ident(name),
            ));
        }
        let (keep_lo, keep_hi) = bounds[k];
        sql.push_str(&format!(
            "ALTER TABLE {qtable} ADD CONSTRAINT {check} CHECK ({});",
            range_check(run, keep_lo, keep_hi)
        ));
    }
    sql
}

/// The statements that drop the `covered` and `cut` partitions and attach each lane's
/// table to `parent` as the partition for its bounds.
fn attach_sql(
    parent: &str,
    covered: &[String],
    cut: &[String],
    lanes: &[LaneRange],
    bounds: &[(Bound, Bound)],
) -> String {
    let mut sql = String::new();
    for name in covered.iter().chain(cut) {
        sql.push_str(&format!("DROP TABLE {};", quote_ident(name)));
    }
    for ((table, _), (blo, bhi)) in lanes.iter().zip(bounds) {
        sql.push_str(&format!(
            "ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({});",
            quote_ident(parent),
            quote_ident(table),
            bound_sql(*blo),
            bound_sql(*bhi)
        ));
    }
    sql
}

#[async_trait]
impl CustomerLoad for PgLoad {
    async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if let Some(f) = &self.failed {
            return Err(Error::Data(format!("the load failed earlier: {f}")));
        }
        if self.lanes.is_empty() {
            // An empty id range: any row lies outside it.
            check_ids(self.layout.ids(batch), &self.spec.ids)?;
            return Ok(());
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let checked = self
            .layout
            .check_batch(batch)
            .and_then(|()| check_ids(self.layout.ids(batch), &self.spec.ids));
        if let Err(e) = checked {
            return Err(self.fail(e));
        }
        let ids = self.layout.ids(batch).values();
        let (min, max) = ids
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        for k in 0..self.lanes.len() {
            let lane = &self.lanes[k];
            if lane.ids.end <= min as u64 || lane.ids.start > max as u64 {
                continue;
            }
            let buf = self.encode(batch, &lane.ids, !lane.header_sent);
            let lane = &mut self.lanes[k];
            let sent = match &lane.queue {
                Some(queue) => queue.send(buf.freeze()).await.is_ok(),
                None => return Err(Error::Data("the load has already ended".into())),
            };
            if !sent {
                // The sending task has ended: it failed, and says why.
                let op = self.op();
                let e = match self.lanes[k].copier.take() {
                    Some(c) => match c.await {
                        Ok(Err(e)) => Error::postgres(op, &e),
                        Ok(Ok(_)) => Error::Data(format!("{op}: the COPY ended early")),
                        Err(e) => Error::Data(format!("{op}: the sending task failed: {e}")),
                    },
                    None => Error::Data(format!("{op}: the COPY ended early")),
                };
                return Err(self.fail(e));
            }
            lane.header_sent = true;
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn lanes(&self) -> Vec<std::ops::Range<u64>> {
        self.lanes.iter().map(|l| l.ids.clone()).collect()
    }

    async fn commit(mut self: Box<Self>) -> Result<u64> {
        if let Some(f) = &self.failed {
            return Err(Error::Data(format!("the load failed earlier: {f}")));
        }
        if self.lanes.is_empty() {
            return Ok(0);
        }
        match self.finish().await {
            Ok(rows) => {
                for lane in &mut self.lanes {
                    if let Some(client) = lane.client.take() {
                        self.pool.put(client);
                    }
                }
                Ok(rows)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        // Dropping the connections ends the COPYs and rolls the transactions back.
        Ok(())
    }
}

fn run_of_row(r: &tokio_postgres::Row) -> Result<RunRecord> {
    let status: String = r.get(5);
    let rows: Option<i64> = r.get(8);
    Ok(RunRecord {
        run_id: r.get(0),
        experiment_id: r.get(1),
        run_date: r.get(2),
        blueprint_hash: r.get(3),
        blueprint: r.get(4),
        status: RunStatus::parse(&status)
            .ok_or_else(|| Error::Data(format!("unknown run status {status:?}")))?,
        started_at: r.get(6),
        finished_at: r.get(7),
        rows: rows.map(|n| n as u64),
    })
}

fn result_of_row(r: &tokio_postgres::Row) -> ResultRow {
    ResultRow {
        experiment_id: r.get(0),
        run_id: r.get(1),
        metric: r.get(2),
        control: r.get(3),
        treatment: r.get(4),
        test: r.get(5),
        primary: r.get(6),
        estimate: r.get(7),
        ci_low: r.get(8),
        ci_high: r.get(9),
        p_value: r.get(10),
        p_adjusted: r.get(11),
        reject: r.get(12),
        true_effect: r.get(13),
        null_true: r.get(14),
        outcome: r.get(15),
    }
}

#[async_trait]
impl RelationalStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    async fn check(&self) -> Result<()> {
        self.with(async |c| {
            c.batch_execute("SELECT 1")
                .await
                .map_err(|e| Error::postgres("check", &e))
        })
        .await
    }

    async fn schema_version(&self) -> Result<u32> {
        self.with(async |c| migrate::version(c, &SCHEMA).await)
            .await
    }

    async fn put_run(&self, run: &RunRecord) -> Result<()> {
        let rows = run
            .rows
            .map(|n| i64::try_from(n).map_err(|_| Error::Data(format!("rows {n} exceed 2^63 - 1"))))
            .transpose()?;
        self.with(async |c| {
            c.execute(
                &format!(
                    "INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (run_id) DO UPDATE SET experiment_id = excluded.experiment_id, \
                     run_date = excluded.run_date, blueprint_hash = excluded.blueprint_hash, \
                     blueprint = excluded.blueprint, status = excluded.status, \
                     started_at = excluded.started_at, finished_at = excluded.finished_at, \
                     \"rows\" = excluded.\"rows\""
                ),
                &[
                    &run.run_id,
                    &run.experiment_id,
                    &run.run_date,
                    &run.blueprint_hash,
                    &run.blueprint,
                    &run.status.as_str(),
                    &run.started_at,
                    &run.finished_at,
                    &rows,
                ],
            )
            .await
            .map(|_| ())
            .map_err(|e| Error::postgres("put run", &e))
        })
        .await
    }

    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        self.with(async |c| {
            let row = c
                .query_opt(
                    &format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1"),
                    &[&run_id],
                )
                .await
                .map_err(|e| Error::postgres("get run", &e))?;
            row.as_ref().map(run_of_row).transpose()
        })
        .await
    }

    async fn runs(&self, experiment_id: Option<&str>) -> Result<Vec<RunRecord>> {
        self.with(async |c| {
            c.query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE $1::text IS NULL OR experiment_id = $1 \
                     ORDER BY run_date DESC, run_id"
                ),
                &[&experiment_id],
            )
            .await
            .map_err(|e| Error::postgres("list runs", &e))?
            .iter()
            .map(run_of_row)
            .collect()
        })
        .await
    }

    async fn begin_load(&self, spec: LoadSpec) -> Result<Box<dyn CustomerLoad>> {
        let layout = Layout::of(&spec.schema)?;
        let table = load_table(&spec.run_id);
        let mut load = PgLoad {
            pool: Arc::clone(&self.pool),
            table,
            lanes: Vec::new(),
            rows: 0,
            failed: None,
            layout,
            spec,
        };
        if load.spec.ids.start >= load.spec.ids.end {
            return Ok(Box::new(load));
        }
        if load.spec.ids.start > i64::MAX as u64 {
            return Err(Error::Data(format!(
                "the id range starts at {}, past the largest customer_id (2^63 - 1)",
                load.spec.ids.start
            )));
        }
        let op = load.op();
        let mut first = Some(self.pool.get().await?);
        let have = ensure_columns(first.as_mut().expect("a connection"), &load.layout).await?;
        let mut cols: Vec<String> = FIXED.iter().map(|c| quote_ident(c)).collect();
        cols.extend(load.layout.columns.iter().map(|c| quote_ident(&c.name)));
        let cols = cols.join(", ");
        for (k, ids) in lane_ranges(&load.spec.ids).into_iter().enumerate() {
            let client = match first.take() {
                Some(c) => c,
                None => self.pool.get().await?,
            };
            let name = lane_table(&load.table, k);
            let begin = lane_begin_sql(&have, &load.spec.run_id, &load.table, k, &name, &ids);
            let lane = open_lane(client, &begin, &cols, ids, name, &op).await?;
            load.lanes.push(lane);
        }
        Ok(Box::new(load))
    }

    async fn count_customers(&self, run_id: &str) -> Result<u64> {
        self.with(async |c| {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM customers WHERE run_id = $1",
                    &[&run_id],
                )
                .await
                .map_err(|e| Error::postgres("count customers", &e))?
                .get(0);
            Ok(n as u64)
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
        let op = format!("scan the customers of run {run_id:?}");
        let client = self.pool.get().await?;
        plan.check_table(&table_columns(&client).await?)?;
        // The rows come in customer_id order from the primary-key index of each of the run's
        // partitions (an ordered append): never sorting is the point, even before
        // autovacuum has analyzed a new partition.
        client
            .batch_execute("BEGIN READ ONLY; SET LOCAL enable_sort = off")
            .await
            .map_err(|e| Error::postgres(op.clone(), &e))?;
        let cols: Vec<String> = plan.columns.iter().map(|(n, _)| quote_ident(n)).collect();
        let types: Vec<Type> = plan
            .columns
            .iter()
            .map(|(_, ty)| match ty {
                SqlType::Text => Type::TEXT,
                SqlType::BigInt => Type::INT8,
                SqlType::Double => Type::FLOAT8,
                SqlType::Date => Type::DATE,
            })
            .collect();
        let sql = format!(
            "COPY (SELECT {} FROM customers WHERE run_id = {} ORDER BY customer_id) \
             TO STDOUT (FORMAT binary)",
            if cols.is_empty() {
                "1".to_string()
            } else {
                cols.join(", ")
            },
            quote_literal(run_id)
        );
        let stream = client
            .copy_out(&sql)
            .await
            .map_err(|e| Error::postgres(op.clone(), &e))?;
        let rows = Box::pin(BinaryCopyOutStream::new(stream, &types));
        let state = ScanState {
            rows,
            builder: plan.builder(batch_rows),
            plan,
            batch_rows,
            client: Some(client),
            pool: Arc::clone(&self.pool),
            op,
            done: false,
        };
        Ok(futures_util::stream::unfold(state, |mut s| async move {
            s.next_batch().await.map(|b| (b, s))
        })
        .boxed())
    }

    async fn delete_run(&self, run_id: &str) -> Result<()> {
        self.with(async |c| {
            let err = |e: tokio_postgres::Error| Error::postgres("delete run", &e);
            let tx = c.transaction().await.map_err(err)?;
            tx.batch_execute(CUSTOMERS_LOCK).await.map_err(err)?;
            // The run's partition (named by a hash of the run id): dropped, with every load
            // of the run in it, unless it holds rows of another run (a hash collision).
            let parent = run_table(run_id);
            let is_partition: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1) \
                     AND inhparent = 'customers'::regclass)",
                    &[&parent],
                )
                .await
                .map_err(err)?
                .get(0);
            let ours = is_partition && {
                let others: bool = tx
                    .query_one(
                        &format!(
                            "SELECT EXISTS (SELECT 1 FROM {} WHERE run_id <> $1)",
                            quote_ident(&parent)
                        ),
                        &[&run_id],
                    )
                    .await
                    .map_err(err)?
                    .get(0);
                !others
            };
            if ours {
                tx.batch_execute(&format!("DROP TABLE {}", quote_ident(&parent)))
                    .await
                    .map_err(err)?;
            } else {
                tx.execute("DELETE FROM customers WHERE run_id = $1", &[&run_id])
                    .await
                    .map_err(err)?;
            }
            for table in ["ab_results", "runs"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE run_id = $1"),
                    &[&run_id],
                )
                .await
                .map_err(err)?;
            }
            tx.commit().await.map_err(err)
        })
        .await
    }

    async fn put_results(&self, run_id: &str, rows: &[ResultRow]) -> Result<()> {
        self.with(async |c| {
            let err = |e: tokio_postgres::Error| Error::postgres("put results", &e);
            let tx = c.transaction().await.map_err(err)?;
            tx.execute("DELETE FROM ab_results WHERE run_id = $1", &[&run_id])
                .await
                .map_err(err)?;
            let stmt = tx
                .prepare(&format!(
                    "INSERT INTO ab_results (position, {RESULT_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                ))
                .await
                .map_err(err)?;
            for (i, r) in rows.iter().enumerate() {
                tx.execute(
                    &stmt,
                    &[
                        &(i as i32),
                        &r.experiment_id,
                        &run_id,
                        &r.metric,
                        &r.control,
                        &r.treatment,
                        &r.test,
                        &r.primary,
                        &r.estimate,
                        &r.ci_low,
                        &r.ci_high,
                        &r.p_value,
                        &r.p_adjusted,
                        &r.reject,
                        &r.true_effect,
                        &r.null_true,
                        &r.outcome,
                    ],
                )
                .await
                .map_err(err)?;
            }
            tx.commit().await.map_err(err)
        })
        .await
    }

    async fn results(&self, run_id: &str) -> Result<Vec<ResultRow>> {
        self.with(async |c| {
            Ok(c.query(
                &format!(
                    "SELECT {RESULT_COLUMNS} FROM ab_results WHERE run_id = $1 \
                         ORDER BY position"
                ),
                &[&run_id],
            )
            .await
            .map_err(|e| Error::postgres("get results", &e))?
            .iter()
            .map(result_of_row)
            .collect())
        })
        .await
    }
}

#[async_trait]
impl Locks for PostgresStore {
    async fn try_lock(&self, name: &str, owner: &str, lease: Duration) -> Result<Option<Lease>> {
        let ms = check_lock(name, owner, lease)?;
        self.with(async |c| {
            let row = c
                .query_opt(
                    "WITH now AS (SELECT clock_timestamp() AS t) \
                     INSERT INTO locks AS l (name, owner, acquired_at, expires_at) \
                     SELECT $1, $2, t, t + $3::bigint * interval '1 millisecond' FROM now \
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, \
                     acquired_at = CASE WHEN l.owner = excluded.owner \
                     AND l.expires_at > excluded.acquired_at \
                     THEN l.acquired_at ELSE excluded.acquired_at END, \
                     expires_at = excluded.expires_at \
                     WHERE l.owner = excluded.owner OR l.expires_at <= excluded.acquired_at \
                     RETURNING name, owner, acquired_at, expires_at",
                    &[&name, &owner, &ms],
                )
                .await
                .map_err(|e| Error::postgres("take lock", &e))?;
            Ok(row.as_ref().map(lease_of_row))
        })
        .await
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<bool> {
        self.with(async |c| {
            c.execute(
                "DELETE FROM locks WHERE name = $1 AND owner = $2",
                &[&name, &owner],
            )
            .await
            .map(|n| n > 0)
            .map_err(|e| Error::postgres("release lock", &e))
        })
        .await
    }

    async fn lock_holder(&self, name: &str) -> Result<Option<Lease>> {
        self.with(async |c| {
            let row = c
                .query_opt(
                    "SELECT name, owner, acquired_at, expires_at FROM locks WHERE name = $1",
                    &[&name],
                )
                .await
                .map_err(|e| Error::postgres("read lock", &e))?;
            Ok(row.as_ref().map(lease_of_row))
        })
        .await
    }

    async fn live_locks(&self, prefix: &str) -> Result<Vec<Lease>> {
        self.with(async |c| {
            let rows = c
                .query(
                    "SELECT name, owner, acquired_at, expires_at FROM locks \
                     WHERE left(name, length($1)) = $1 AND expires_at > clock_timestamp() \
                     ORDER BY name",
                    &[&prefix],
                )
                .await
                .map_err(|e| Error::postgres("read locks", &e))?;
            Ok(rows.iter().map(lease_of_row).collect())
        })
        .await
    }
}

#[async_trait]
impl Ticks for PostgresStore {
    async fn put_tick(&self, tick: &TickRecord) -> Result<()> {
        self.with(async |c| {
            c.execute(
                "INSERT INTO schedule_ticks (schedule, tick, status, message, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (schedule, tick) DO UPDATE SET \
                 status = excluded.status, message = excluded.message, \
                 recorded_at = excluded.recorded_at",
                &[
                    &tick.schedule,
                    &tick.tick,
                    &tick.status.as_str(),
                    &tick.message,
                    &tick.recorded_at,
                ],
            )
            .await
            .map(|_| ())
            .map_err(|e| Error::postgres("record tick", &e))
        })
        .await
    }

    async fn last_tick(&self, schedule: &str) -> Result<Option<TickRecord>> {
        self.with(async |c| {
            let row = c
                .query_opt(
                    "SELECT schedule, tick, status, message, recorded_at FROM schedule_ticks \
                     WHERE schedule = $1 ORDER BY tick DESC LIMIT 1",
                    &[&schedule],
                )
                .await
                .map_err(|e| Error::postgres("read the last tick", &e))?;
            row.as_ref().map(tick_of_row).transpose()
        })
        .await
    }
}

fn lease_of_row(r: &tokio_postgres::Row) -> Lease {
    Lease {
        name: r.get(0),
        owner: r.get(1),
        acquired_at: r.get(2),
        expires_at: r.get(3),
    }
}

fn tick_of_row(r: &tokio_postgres::Row) -> Result<TickRecord> {
    let status: String = r.get(2);
    Ok(TickRecord {
        schedule: r.get(0),
        tick: r.get(1),
        status: TickStatus::parse(&status)
            .ok_or_else(|| Error::Data(format!("unknown tick status {status:?}")))?,
        message: r.get(3),
        recorded_at: r.get(4),
    })
}

/// A scan in progress.
struct ScanState {
    rows: Pin<Box<BinaryCopyOutStream>>,
    plan: ScanPlan,
    builder: crate::relational::columns::BatchBuilder,
    batch_rows: usize,
    /// The connection, returned to the pool once the COPY has ended.
    client: Option<Client>,
    pool: Arc<Pool>,
    op: String,
    done: bool,
}

impl ScanState {
    /// The next batch; `None` at the end.
    async fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        use crate::relational::columns::ColumnBuilder as B;
        if self.done {
            return None;
        }
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
        loop {
            match self.rows.next().await {
                Some(Ok(row)) => {
                    for (k, col) in self.builder.columns.iter_mut().enumerate() {
                        let got = match col {
                            B::Text(b) => {
                                row.try_get::<Option<&str>>(k).map(|v| b.append_option(v))
                            }
                            B::BigInt(b) => {
                                row.try_get::<Option<i64>>(k).map(|v| b.append_option(v))
                            }
                            B::Double(b) => {
                                row.try_get::<Option<f64>>(k).map(|v| b.append_option(v))
                            }
                            B::Date(b) => row
                                .try_get::<Option<NaiveDate>>(k)
                                .map(|v| b.append_option(v.map(|d| (d - epoch).num_days() as i32))),
                        };
                        if let Err(e) = got {
                            self.done = true;
                            return Some(Err(Error::Data(format!(
                                "{}: column {:?}: {e}",
                                self.op, self.plan.columns[k].0
                            ))));
                        }
                    }
                    self.builder.rows += 1;
                    if self.builder.rows >= self.batch_rows {
                        return Some(self.builder.finish());
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(Error::postgres(self.op.clone(), &e)));
                }
                None => {
                    self.done = true;
                    if let Some(c) = self.client.take()
                        && c.batch_execute("COMMIT").await.is_ok()
                    {
                        self.pool.put(c);
                    }
                    return (self.builder.rows > 0).then(|| self.builder.finish());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_parse() {
        assert_eq!(
            parse_range_bound("FOR VALUES FROM ('0') TO ('65536')"),
            Some((0, 65_536))
        );
        assert_eq!(
            parse_range_bound("FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"),
            Some((i128::MIN, i128::MAX))
        );
        assert_eq!(parse_range_bound("FOR VALUES IN ('a')"), None);
    }

    #[test]
    fn names_are_short_and_stable() {
        assert_eq!(run_table("r"), run_table("r"));
        assert_ne!(run_table("r"), run_table("s"));
        let a = load_table("r");
        assert!(a.starts_with(&run_table("r")) && a.len() <= 63, "{a}");
        assert_ne!(a, load_table("r"));
    }

    #[test]
    fn big_loads_have_two_lanes_that_cover_the_range() {
        assert_eq!(lane_ranges(&(0..999)), vec![0..999]);
        assert_eq!(lane_ranges(&(10..1_011)), vec![10..510, 510..1_011]);
        assert_eq!(lane_ranges(&(5..u64::MAX)), vec![5..u64::MAX]);
        assert_eq!(lane_table("customers_ab_cd", 0), "customers_ab_cd");
        assert_eq!(lane_table("customers_ab_cd", 1), "customers_ab_cd_l1");
        assert_eq!(
            load_of_lane_table("customers_ab_cd_l1"),
            Some("customers_ab_cd")
        );
        assert_eq!(load_of_lane_table("customers_ab_cd"), None);
        assert_eq!(load_of_lane_table("customers_ab_l"), None);
    }

    #[test]
    fn checks_imply_the_bounds() {
        assert_eq!(
            range_check("it's", 0, 10),
            "run_id = 'it''s' AND customer_id >= '0'::bigint AND customer_id < '10'::bigint"
        );
        assert_eq!(
            range_check("r", 5, i128::MAX),
            "run_id = 'r' AND customer_id >= '5'::bigint"
        );
        assert_eq!(bounds_of(&(3..u64::MAX)), (3, i128::MAX));
    }

    /// A load of `ids` of run `r` (`whole` for a whole-run load).
    fn spec(ids: std::ops::Range<u64>, whole: bool) -> LoadSpec {
        LoadSpec {
            experiment_id: "e".into(),
            run_id: "r".into(),
            schema: Arc::new(arrow_schema::Schema::empty()),
            ids,
            whole_run: whole,
        }
    }

    /// Lane tables `l0`, `l1`, … of the id ranges `[lo, hi)` in `ranges`.
    fn lanes(ranges: &[(u64, u64)]) -> Vec<LaneRange> {
        ranges
            .iter()
            .enumerate()
            .map(|(k, &(lo, hi))| (format!("l{k}"), lo..hi))
            .collect()
    }

    /// Partitions named and bounded as given (`FOR VALUES FROM (…) TO (…)`).
    fn leaves(parts: &[(&str, &str, &str)]) -> Vec<(String, String)> {
        parts
            .iter()
            .map(|(name, lo, hi)| {
                (
                    name.to_string(),
                    format!("FOR VALUES FROM ({lo}) TO ({hi})"),
                )
            })
            .collect()
    }

    fn columns() -> Vec<String> {
        vec!["run_id".into(), "customer_id".into()]
    }

    #[test]
    fn a_first_whole_run_load_attaches_its_lanes_from_minvalue_to_maxvalue() {
        let lanes = lanes(&[(0, 500), (500, 1_000)]);
        let plan = SwapPlan::new(&spec(0..1_000, true), "p", &lanes, &columns(), &[]).unwrap();
        assert_eq!(plan.covered, Vec::<String>::new());
        assert_eq!(plan.cut, Vec::<String>::new());
        assert_eq!(plan.bounds, vec![(i128::MIN, 500), (500, i128::MAX)]);
        assert_eq!(plan.keep, None);
        assert_eq!(
            plan.attach,
            "ALTER TABLE \"p\" ATTACH PARTITION \"l0\" FOR VALUES FROM (MINVALUE) TO (500);\
             ALTER TABLE \"p\" ATTACH PARTITION \"l1\" FOR VALUES FROM (500) TO (MAXVALUE);"
        );
        assert_eq!(
            plan.batches().collect::<Vec<_>>(),
            vec![plan.attach.as_str()]
        );
    }

    #[test]
    fn a_first_shard_load_attaches_its_range_only() {
        let lanes = lanes(&[(100, 200)]);
        let plan = SwapPlan::new(&spec(100..200, false), "p", &lanes, &columns(), &[]).unwrap();
        assert_eq!(plan.bounds, vec![(100, 200)]);
        assert_eq!(plan.keep, None);
        assert_eq!(
            plan.attach,
            "ALTER TABLE \"p\" ATTACH PARTITION \"l0\" FOR VALUES FROM (100) TO (200);"
        );
    }

    #[test]
    fn a_whole_run_reload_drops_every_partition_then_attaches() {
        // The run was loaded before in another layout: every partition goes.
        let old = leaves(&[
            ("old0", "MINVALUE", "'500'"),
            ("old1", "'500'", "'700'"),
            ("old2", "'700'", "MAXVALUE"),
        ]);
        let lanes = lanes(&[(0, 300)]);
        let plan = SwapPlan::new(&spec(0..300, true), "p", &lanes, &columns(), &old).unwrap();
        assert_eq!(plan.covered, ["old0", "old1", "old2"]);
        assert_eq!(plan.cut, Vec::<String>::new());
        assert_eq!(plan.bounds, vec![(i128::MIN, i128::MAX)]);
        assert_eq!(plan.keep, None);
        assert_eq!(
            plan.attach,
            "DROP TABLE \"old0\";DROP TABLE \"old1\";DROP TABLE \"old2\";\
             ALTER TABLE \"p\" ATTACH PARTITION \"l0\" FOR VALUES FROM (MINVALUE) TO (MAXVALUE);"
        );
    }

    #[test]
    fn a_shard_reload_replaces_its_partitions_and_leaves_the_others() {
        let old = leaves(&[
            ("below", "'0'", "'100'"),
            ("same", "'100'", "'200'"),
            ("above", "'200'", "'300'"),
        ]);
        let lanes = lanes(&[(100, 200)]);
        let plan = SwapPlan::new(&spec(100..200, false), "p", &lanes, &columns(), &old).unwrap();
        assert_eq!(plan.covered, ["same"]);
        assert_eq!(plan.cut, Vec::<String>::new());
        assert_eq!(plan.keep, None);
        assert_eq!(
            plan.attach,
            "DROP TABLE \"same\";\
             ALTER TABLE \"p\" ATTACH PARTITION \"l0\" FOR VALUES FROM (100) TO (200);"
        );
    }

    #[test]
    fn a_shard_reload_inside_a_whole_run_partition_keeps_the_rows_around_it() {
        // One lane takes the rows on both sides of its range, and the whole bound.
        let old = leaves(&[("whole", "MINVALUE", "MAXVALUE")]);
        let lanes = lanes(&[(100, 200)]);
        let plan = SwapPlan::new(&spec(100..200, false), "p", &lanes, &columns(), &old).unwrap();
        assert_eq!(plan.covered, Vec::<String>::new());
        assert_eq!(plan.cut, ["whole"]);
        assert_eq!(plan.bounds, vec![(i128::MIN, i128::MAX)]);
        let keep = "ALTER TABLE \"l0\" DROP CONSTRAINT \"l0_range\";\
             INSERT INTO \"l0\" (\"run_id\", \"customer_id\") SELECT \"run_id\", \"customer_id\" \
             FROM \"whole\" WHERE NOT (run_id = 'r' AND customer_id >= '100'::bigint AND \
             customer_id < '200'::bigint);\
             ALTER TABLE \"l0\" ADD CONSTRAINT \"l0_range\" CHECK (run_id = 'r');";
        assert_eq!(plan.keep.as_deref(), Some(keep));
        let attach = "DROP TABLE \"whole\";\
             ALTER TABLE \"p\" ATTACH PARTITION \"l0\" FOR VALUES FROM (MINVALUE) TO (MAXVALUE);";
        assert_eq!(plan.attach, attach);
        // The rows are kept before their partition is dropped.
        assert_eq!(plan.batches().collect::<Vec<_>>(), vec![keep, attach]);
    }

    #[test]
    fn a_two_lane_reload_keeps_the_rows_below_in_the_first_lane_and_above_in_the_last() {
        let old = leaves(&[("a", "'0'", "'1500'"), ("b", "'2500'", "'4000'")]);
        let lanes = lanes(&[(1_000, 2_000), (2_000, 3_000)]);
        let plan =
            SwapPlan::new(&spec(1_000..3_000, false), "p", &lanes, &columns(), &old).unwrap();
        assert_eq!(plan.cut, ["a", "b"]);
        assert_eq!(plan.bounds, vec![(0, 2_000), (2_000, 4_000)]);
        let insert = |lane: &str, from: &str, cond: &str| {
            format!(
                "INSERT INTO \"{lane}\" (\"run_id\", \"customer_id\") SELECT \"run_id\", \
                 \"customer_id\" FROM \"{from}\" WHERE {cond};"
            )
        };
        let keep = [
            "ALTER TABLE \"l0\" DROP CONSTRAINT \"l0_range\";".to_string(),
            insert("l0", "a", "customer_id < '1000'::bigint"),
            insert("l0", "b", "customer_id < '1000'::bigint"),
            "ALTER TABLE \"l0\" ADD CONSTRAINT \"l0_range\" CHECK (run_id = 'r' AND \
             customer_id >= '0'::bigint AND customer_id < '2000'::bigint);"
                .to_string(),
            "ALTER TABLE \"l1\" DROP CONSTRAINT \"l1_range\";".to_string(),
            insert("l1", "a", "customer_id >= '3000'::bigint"),
            insert("l1", "b", "customer_id >= '3000'::bigint"),
            "ALTER TABLE \"l1\" ADD CONSTRAINT \"l1_range\" CHECK (run_id = 'r' AND \
             customer_id >= '2000'::bigint AND customer_id < '4000'::bigint);"
                .to_string(),
        ]
        .concat();
        assert_eq!(plan.keep, Some(keep));
        assert_eq!(
            plan.attach,
            "DROP TABLE \"a\";DROP TABLE \"b\";\
             ALTER TABLE \"p\" ATTACH PARTITION \"l0\" FOR VALUES FROM (0) TO (2000);\
             ALTER TABLE \"p\" ATTACH PARTITION \"l1\" FOR VALUES FROM (2000) TO (4000);"
        );
    }

    #[test]
    fn a_partition_cut_on_one_side_only_widens_that_side() {
        let old = leaves(&[("a", "'0'", "'150'")]);
        let lanes = lanes(&[(100, 200)]);
        let plan = SwapPlan::new(&spec(100..200, false), "p", &lanes, &columns(), &old).unwrap();
        assert_eq!(plan.bounds, vec![(0, 200)]);
        let keep = plan.keep.unwrap();
        assert!(
            keep.contains("WHERE customer_id < '100'::bigint;"),
            "{keep}"
        );
        assert!(!keep.contains(">= '200'"), "{keep}");
    }

    #[test]
    fn a_partition_bound_that_is_not_a_range_is_an_error_naming_it() {
        let old = vec![("odd".to_string(), "FOR VALUES IN ('x')".to_string())];
        let e = SwapPlan::new(
            &spec(0..10, false),
            "p",
            &lanes(&[(0, 10)]),
            &columns(),
            &old,
        )
        .unwrap_err();
        let Error::Data(message) = e else {
            panic!("{e:?}");
        };
        assert_eq!(
            message,
            "partition odd of run \"r\" has bound \"FOR VALUES IN ('x')\""
        );
    }

    #[test]
    fn swap_side_statements_are_planned_without_io() {
        assert_eq!(
            stray_owner("customers_ab_cd_l1", "customers_ab_ef"),
            Some("customers_ab_cd")
        );
        assert_eq!(stray_owner("customers_ab_cd_l1", "customers_ab_cd"), None);
        assert_eq!(stray_owner("customers_ab_cd", "customers_ab_ef"), None);
        assert_eq!(
            run_partition_sql("it's", "customers_ab"),
            "CREATE TABLE \"customers_ab\" PARTITION OF customers FOR VALUES IN ('it''s') \
             PARTITION BY RANGE (customer_id)"
        );
        let have: Vec<TableColumn> = vec![
            ("run_id".into(), Some(SqlType::Text), "text".into()),
            (
                "spend".into(),
                Some(SqlType::Double),
                "double precision".into(),
            ),
            ("visits".into(), Some(SqlType::BigInt), "bigint".into()),
        ];
        assert_eq!(
            lane_column_adds("l1", &["run_id".into(), "visits".into()], &have),
            ["ALTER TABLE \"l1\" ADD COLUMN \"spend\" double precision"]
        );
        let begin = lane_begin_sql(&have[..1], "r", "load", 0, "load", &(0..10));
        assert_eq!(
            begin,
            "BEGIN; SELECT pg_advisory_xact_lock(hashtext('abforge_load'), hashtext('load')); \
             CREATE TABLE \"load\" (\"run_id\" text NOT NULL, CONSTRAINT \"load_range\" CHECK \
             (run_id = 'r' AND customer_id >= '0'::bigint AND customer_id < '10'::bigint));"
        );
        let begin = lane_begin_sql(&have[1..2], "r", "load", 1, "load_l1", &(10..20));
        assert!(
            begin.starts_with("BEGIN;  CREATE TABLE \"load_l1\" (\"spend\" double precision, "),
            "{begin}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_transient_error_naming_it() {
        // A port that was just free: nothing listens there.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("postgres://u:secret@127.0.0.1:{port}/db");
        let e = PostgresStore::open(&url).await.unwrap_err();
        assert!(e.is_transient(), "{e:?}");
        let text = e.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
