//! The abforge lakehouse: each run's customers as Delta Lake tables on the object store,
//! layer by layer, so that Spark, Databricks, Trino, Polars and delta-rs users can read
//! them.
//!
//! | table | from | partitioned by | what |
//! |---|---|---|---|
//! | `lake/bronze/customers` | the relational store | `experiment_id`, `run_date` | what landed, as it landed, with `run_id`, `run_date`, `loaded_at`, `source` |
//! | `lake/silver/customers` | bronze | `experiment_id`, `run_date` | typed, conformed, checked against the blueprint, de-duplicated |
//! | `lake/silver/quarantine` | bronze | `run_date` | the rows that broke a rule, with the `rule` |
//! | `lake/gold/group_daily` | silver | `experiment_id`, `run_date` | per group, purchase date and metric: `n`, `sum`, `sum_sq`, `mean`, `variance` |
//! | `lake/gold/group_quantiles` | silver | `experiment_id`, `run_date` | per group, metric and probability `p` of the blueprint's `quantiles`: the observed quantile `value` (the smallest value whose share at or below it is ≥ p; exact, not interpolated) and the group's `n` |
//! | `lake/gold/ab_results` | the analysis | `experiment_id` | every metric × test: estimate, CI, p, decision, truth, outcome |
//! | `lake/gold/calibration` | `abforge calibrate --publish` | `experiment_id` | per sweep value × metric × arm × test: rejection rate and interval, type I error, power (Monte Carlo and analytic), coverage, the confusion counts |
//!
//! The tables live under `lake/` in the object store every other part of abforge uses (a
//! local folder by default, S3 by URL; [`Lake::new`]). The transforms are SQL run by
//! DataFusion, in `crates/lake/sql/*.sql` ([`sql`]); the few parts that depend on the
//! blueprint (its columns, the quality rules) are filled in from the run's resolved
//! blueprint. Each layer of a run ([`Lake::bronze`], [`Lake::silver`], [`Lake::gold`],
//! [`Lake::ab_results`]) replaces the run's rows of its table in one Delta commit, whose
//! metadata carries the run id and the blueprint hash, so a rerun never appends twice and
//! every number traces back to the parameters that made it. Delta enforces each table's
//! schema on write; a blueprint with new columns adds them (nullable), and a column whose
//! type changed is refused.
//!
//! `gold/ab_results` gets a small file per run; past [`COMPACT_AT_FILES`] files the analyze
//! step compacts it (Delta's `optimize`, rows unchanged), so a reader of a thousand runs
//! opens a few files, not a thousand.
//!
//! The silver step is a **quality gate**: a row breaks a rule when a value is NULL, its
//! experiment is not the run's, its group or an attribute value is not in the blueprint,
//! its purchase date is outside the run's window, a metric value is outside the support of
//! its distribution, or it repeats a customer ([`sql::rules`]). Such rows go to the
//! quarantine with the rule's name; when they are more than a share of the run's rows
//! ([`DEFAULT_QUARANTINE_MAX`], 0.1 %) the step fails with the counts ([`GateReport`]).
//!
//! **Memory is bounded** whatever a run's size: each session's operators share a pool of
//! [`MEMORY_LIMIT`] bytes, past which hash aggregates and sorts spill to disk. Silver keeps
//! nothing of a run in memory but its repeated customers (`silver_repeated.sql`, a hash
//! aggregate of bronze's `customer_id`: none in a clean run); the quarantine and then
//! silver/customers are each written from a pass over bronze (`silver_checked.sql`, then
//! `silver.sql`), which numbers only the rows of those customers to keep the first.
//!
//! ```no_run
//! # async fn demo() -> abforge_lake::Result<()> {
//! use abforge_lake::{Lake, Table};
//!
//! let objects = abforge_store::ObjectStoreConfig::new().build()?;
//! let lake = Lake::new(&objects)?;
//! for t in lake.tables().await? {
//!     println!("{} at {}: version {:?}", t.table, t.url, t.version);
//! }
//! let rows = lake
//!     .query("SELECT \"group\", SUM(n) FROM gold_group_daily GROUP BY 1", None)
//!     .await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod calibration;
mod error;
pub mod gate;
mod lake;
mod layers;
pub mod rows;
pub mod sql;

pub use calibration::CalibrationRow;
pub use error::{Error, Result};
pub use gate::{DEFAULT_QUARANTINE_MAX, GateReport};
pub use lake::{Commit, Lake, Table, TableInfo};
pub use layers::{COMPACT_AT_FILES, GoldReport, MEMORY_LIMIT, RunInfo, SilverReport, Written};

/// The Arrow and DataFusion versions the lake uses (those `deltalake` pins).
pub use deltalake::{DeltaTable, arrow, datafusion};
