//! The relational store (the seed's RDS): a `customers` table whose columns follow the
//! blueprint, a `runs` table, and an `ab_results` table — in a SQLite file by default
//! ([`crate::sqlite`]), in PostgreSQL when `ABFORGE_DATABASE_URL=postgres://…`
//! ([`crate::postgres`]); each backend is built with the cargo feature of its name, and
//! [`open`] says which feature a URL needs when this build lacks it.
//!
//! Every backend implements [`RelationalStore`] and passes one conformance suite
//! (`crate::conformance::relational`, feature `testing`).
//!
//! ## Loading customers
//! [`RelationalStore::begin_load`] opens a [`CustomerLoad`] for the rows of one run whose
//! `customer_id` lies in [`LoadSpec::ids`] (the whole run, or one shard of it). Batches are
//! written as the generator makes them; nothing is visible until [`CustomerLoad::commit`],
//! which replaces that run's rows in the id range (every row of the run, for a
//! [`LoadSpec::whole_run`] load) with the new ones in one transaction.
//! Dropping or [`abort`](CustomerLoad::abort)ing a load leaves the table as it was.
//!
//! ## Tables
//! `customers` has `experiment_id`, `run_id`, `customer_id` and `group`, then one column per
//! other column of the loads' schemas, added (nullable) the first time a load has it:
//! strings (Utf8 or a dictionary of Utf8) as text, Int64 as a 64-bit integer, Float64 as a
//! double, Date32 as a date. A column whose type differs from the table's is an
//! [`Error::Data`] naming it and both types. Its key is the three ids, `run_id` first (every
//! access is by run). `runs` holds [`RunRecord`]s (the blueprint as JSON text, its keys in
//! their order), `ab_results` the [`ResultRow`]s of each run with their position, `locks` the
//! [`Lease`](crate::locks::Lease)s and `schedule_ticks` the
//! [`TickRecord`](crate::locks::TickRecord)s (both since schema version 2; see [`crate::locks`]). Both
//! backends keep timestamps to the microsecond. The schema is versioned: [`open`] applies
//! the pending migrations, recorded in `abforge_migrations` (component `relational`; the run
//! log records its own there).
//!
//! ## Scanning customers
//! [`RelationalStore::scan_customers`] streams a run's rows in `customer_id` order with the
//! columns of the schema asked, in that order: every string column comes back as Utf8, even
//! when the schema says dictionary (the store keeps no dictionaries), dates as Date32,
//! metrics as Int64/Float64; names, nullability and metadata are kept. A NULL in a column
//! the schema says is not nullable (rows loaded before the column existed) is an
//! [`Error::Data`], as is a column the table does not have.
//!
//! ```no_run
//! # async fn demo() -> abforge_store::Result<()> {
//! use abforge_store::relational;
//!
//! let store = relational::open("sqlite:///var/lib/abforge/abforge.sqlite").await?;
//! store.check().await?;
//! println!("{} at schema version {}", store.url(), store.schema_version().await?);
//! # Ok(())
//! # }
//! ```

pub(crate) mod columns;

use crate::locks::{Locks, Ticks};
use crate::{Error, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

/// The status of a run in the `runs` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Steps are being executed (or the process running them died).
    Running,
    /// Every step succeeded.
    Succeeded,
    /// A step failed; the next run of the same id resumes from it.
    Failed,
}

impl RunStatus {
    /// The name stored in the database: `running`, `succeeded`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    /// Parses [`RunStatus::as_str`]'s names.
    pub fn parse(s: &str) -> Option<RunStatus> {
        match s {
            "running" => Some(RunStatus::Running),
            "succeeded" => Some(RunStatus::Succeeded),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

/// A row of the `runs` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run id (derived from the experiment id and the run date).
    pub run_id: String,
    /// The experiment id.
    pub experiment_id: String,
    /// The run date.
    pub run_date: NaiveDate,
    /// Hex SHA-256 of the resolved blueprint's canonical JSON.
    pub blueprint_hash: String,
    /// The resolved blueprint (JSON).
    pub blueprint: serde_json::Value,
    /// Where the run stands.
    pub status: RunStatus,
    /// When the run was first started.
    pub started_at: DateTime<Utc>,
    /// When its last attempt ended (`None` while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// Customers landed (`None` before the land step).
    pub rows: Option<u64>,
}

/// What [`RelationalStore::begin_load`] loads.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The experiment id (stored in every row).
    pub experiment_id: String,
    /// The run id (stored in every row).
    pub run_id: String,
    /// The generator's Arrow schema: `customer_id` (Int64), `experiment_id`, `group` and the
    /// attributes (Utf8 or Dictionary(Int16, Utf8)), `purchase_date` (Date32), the metrics
    /// (Int64 or Float64) and their `pre_` twins (Float64). Columns the `customers` table
    /// lacks are added (nullable); a column whose type conflicts is an error.
    pub schema: SchemaRef,
    /// The customer ids this load covers: on commit the run's rows with ids in this range
    /// are replaced by the rows written; rows outside it are kept (other shards), unless
    /// [`whole_run`](Self::whole_run).
    pub ids: Range<u64>,
    /// The load holds every customer of the run: on commit *all* the run's rows are
    /// replaced, whatever their ids, so a run whose blueprint now has fewer customers keeps
    /// none of the earlier ones past the new count.
    pub whole_run: bool,
}

/// An open load of customers. Nothing written is visible until [`commit`](Self::commit).
#[async_trait]
pub trait CustomerLoad: Send {
    /// Appends a batch (its schema is [`LoadSpec::schema`]; every `customer_id` lies in
    /// [`LoadSpec::ids`]).
    async fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// The id ranges the load takes in parallel, in order, when it has several lanes
    /// (PostgreSQL splits a big load in two, each lane copied and indexed by a server
    /// process of its own): a writer that has the rows of each lane at hand should write
    /// them in turn (a batch of one, then of another), so that the lanes proceed together.
    /// Every batch may still hold rows of any lane. Empty (the default) when the load has
    /// one lane.
    fn lanes(&self) -> Vec<Range<u64>> {
        Vec::new()
    }
    /// Makes the rows written visible, replacing the run's earlier rows in the id range, in
    /// one transaction. Returns the rows written.
    async fn commit(self: Box<Self>) -> Result<u64>;
    /// Discards everything written.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// One decision of the analysis: a row of the `ab_results` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// The experiment id.
    pub experiment_id: String,
    /// The run id.
    pub run_id: String,
    /// The metric.
    pub metric: String,
    /// Label of the control group.
    pub control: String,
    /// Label of the treatment arm.
    pub treatment: String,
    /// The test (`welch_t`, `mann_whitney_u`, …).
    pub test: String,
    /// Whether this test stands for the comparison in the multiple-testing family.
    pub primary: bool,
    /// Estimate of the effect (the test's own scale).
    pub estimate: Option<f64>,
    /// Lower confidence bound.
    pub ci_low: Option<f64>,
    /// Upper confidence bound.
    pub ci_high: Option<f64>,
    /// Raw p-value.
    pub p_value: Option<f64>,
    /// Adjusted p-value (primary tests only).
    pub p_adjusted: Option<f64>,
    /// The decision: the null rejected.
    pub reject: Option<bool>,
    /// The true effect on the test's scale, from the blueprint.
    pub true_effect: Option<f64>,
    /// Whether the test's null hypothesis is true.
    pub null_true: Option<bool>,
    /// `correct`, `type_i` or `type_ii`.
    pub outcome: Option<String>,
}

/// The relational store: customers, runs and results.
#[async_trait]
pub trait RelationalStore: Locks + Ticks + Send + Sync + std::fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The URL it was opened from, without a password.
    fn url(&self) -> String;
    /// Readiness: the database answers.
    async fn check(&self) -> Result<()>;
    /// The schema version (the last migration applied).
    async fn schema_version(&self) -> Result<u32>;

    /// Inserts or replaces a run (keyed by `run_id`).
    async fn put_run(&self, run: &RunRecord) -> Result<()>;
    /// A run by id.
    async fn run(&self, run_id: &str) -> Result<Option<RunRecord>>;
    /// Every run, newest run date first (then run id), optionally of one experiment.
    async fn runs(&self, experiment_id: Option<&str>) -> Result<Vec<RunRecord>>;

    /// Opens a load of customers.
    async fn begin_load(&self, spec: LoadSpec) -> Result<Box<dyn CustomerLoad>>;
    /// Customers of a run.
    async fn count_customers(&self, run_id: &str) -> Result<u64>;
    /// The customers of a run ordered by `customer_id`, in batches of about `batch_rows`,
    /// with the columns in `schema` (the generator's schema of that run: strings come back
    /// as Utf8, dates as Date32, metrics as Int64/Float64).
    async fn scan_customers(
        &self,
        run_id: &str,
        schema: SchemaRef,
        batch_rows: usize,
    ) -> Result<BoxStream<'static, Result<RecordBatch>>>;
    /// Deletes everything of a run (customers, results, the run row).
    async fn delete_run(&self, run_id: &str) -> Result<()>;

    /// Replaces the results of a run in one transaction.
    async fn put_results(&self, run_id: &str, rows: &[ResultRow]) -> Result<()>;
    /// The results of a run, in the order they were written.
    async fn results(&self, run_id: &str) -> Result<Vec<ResultRow>>;
}

/// Opens the relational store a URL names: `sqlite:///path/file.sqlite` (or
/// `sqlite://relative/path`), `postgres://user:pass@host:port/db` (`postgresql://` too).
/// Applies the pending migrations.
///
/// # Errors
/// [`crate::Error::Config`] for an unknown scheme; backend errors when it cannot connect.
pub async fn open(url: &str) -> Result<Arc<dyn RelationalStore>> {
    let scheme = url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "sqlite" => open_sqlite(url).await,
        "postgres" | "postgresql" => open_postgres(url).await,
        _ => Err(Error::Config(format!(
            "relational store URL {:?}: unknown scheme; expected sqlite:///absolute/path.sqlite, \
             sqlite://relative/path.sqlite, postgres://… or postgresql://…",
            redact_url(url)
        ))),
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(url: &str) -> Result<Arc<dyn RelationalStore>> {
    Ok(Arc::new(crate::sqlite::SqliteStore::open(url).await?))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(url: &str) -> Result<Arc<dyn RelationalStore>> {
    Err(crate::not_built("relational store", url, "sqlite"))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn RelationalStore>> {
    Ok(Arc::new(crate::postgres::PostgresStore::open(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(url: &str) -> Result<Arc<dyn RelationalStore>> {
    Err(crate::not_built("relational store", url, "postgres"))
}

use crate::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_schemes_are_configuration_errors() {
        let e = open("mysql://u:secret@h/db").await.unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("sqlite") && text.contains("postgres"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
