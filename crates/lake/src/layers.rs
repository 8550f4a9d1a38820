//! The layers of one run: bronze ← the relational store, silver (and its quarantine) ←
//! bronze, gold ← silver, and the analysis's decisions → gold.
//!
//! Every write replaces the run's rows of the table in one Delta commit (`replaceWhere` on
//! the run, so a rerun never appends twice), carries the run id, experiment id, blueprint
//! hash and step in its commit metadata (`abforge.run_id`, …) and an application
//! transaction (`txn`) whose app id is `abforge.<table>.<run id>` and whose version counts
//! the run's writes to the table: a commit retried after it had in fact landed conflicts
//! with itself instead of being applied twice.

use crate::error::{Error, Result};
use crate::gate::GateReport;
use crate::lake::{Lake, Table};
use crate::sql;
use abforge_store::relational::{RelationalStore, ResultRow};
use abforge_synth::blueprint::Resolved;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{NaiveDate, Utc};
use deltalake::arrow::compute::cast;
use deltalake::datafusion::catalog::streaming::StreamingTable;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::error::DataFusionError;
use deltalake::datafusion::execution::{SendableRecordBatchStream, TaskContext};
use deltalake::datafusion::logical_expr::{Expr, LogicalPlan};
use deltalake::datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use deltalake::datafusion::physical_plan::streaming::PartitionStream;
use deltalake::datafusion::prelude::{SessionContext, col, lit};
use deltalake::datafusion::scalar::ScalarValue;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use futures_util::TryStreamExt;
use serde::Serialize;
use std::sync::Arc;

/// What the lake needs to know of a run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The experiment id.
    pub experiment_id: String,
    /// The run id.
    pub run_id: String,
    /// The run date (the start of its purchase window).
    pub run_date: NaiveDate,
    /// SHA-256 of the resolved blueprint.
    pub blueprint_hash: String,
    /// The resolved blueprint: its columns and the rules of the quality gate.
    pub resolved: Resolved,
}

impl RunInfo {
    pub(crate) fn stamp(&self) -> Stamp<'_> {
        Stamp {
            experiment_id: &self.experiment_id,
            run_id: &self.run_id,
            blueprint_hash: &self.blueprint_hash,
        }
    }
}

/// What a commit records of the write it makes: its metadata and its transaction's app id
/// (`abforge.<table>.<run_id>`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp<'a> {
    pub experiment_id: &'a str,
    pub run_id: &'a str,
    pub blueprint_hash: &'a str,
}

/// What a layer wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The table.
    pub table: Table,
    /// The table version the commit made.
    pub version: u64,
    /// Rows written for the run.
    pub rows: u64,
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows in {} (version {})",
            self.rows,
            self.table.path(),
            self.version
        )
    }
}

/// What the silver step did: the gate's counts and the two tables it wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilverReport {
    /// The quality gate's counts.
    pub gate: GateReport,
    /// silver/customers.
    pub customers: Written,
    /// silver/quarantine.
    pub quarantine: Written,
}

/// What the gold step wrote: its two tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoldReport {
    /// gold/group_daily.
    pub group_daily: Written,
    /// gold/group_quantiles.
    pub quantiles: Written,
}

impl std::fmt::Display for GoldReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.group_daily, self.quantiles)
    }
}

/// Rows per batch read from the relational store.
const BATCH_ROWS: usize = 65_536;

fn days(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    (d - epoch).num_days() as i32
}

fn date_lit(d: NaiveDate) -> Expr {
    lit(ScalarValue::Date32(Some(days(d))))
}

/// The generator's schema with every column nullable and text as plain Utf8: what bronze
/// reads from the relational store (bad values included).
fn landed_schema(generator: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        generator
            .fields()
            .iter()
            .map(|f| {
                let t = match f.data_type() {
                    DataType::Dictionary(_, v) => v.as_ref().clone(),
                    t => t.clone(),
                };
                Field::new(f.name(), t, true)
            })
            .collect::<Vec<_>>(),
    ))
}

/// The run's customers in the relational store, as a DataFusion stream (read again on every
/// execution).
#[derive(Debug)]
struct Landed {
    db: Arc<dyn RelationalStore>,
    run_id: String,
    schema: SchemaRef,
}

impl PartitionStream for Landed {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let db = Arc::clone(&self.db);
        let run_id = self.run_id.clone();
        let schema = Arc::clone(&self.schema);
        let stream = futures_util::stream::once(async move {
            db.scan_customers(&run_id, schema, BATCH_ROWS)
                .await
                .map(|s| s.map_err(|e| DataFusionError::External(Box::new(e))))
                .map_err(|e| DataFusionError::External(Box::new(e)))
        })
        .try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        ))
    }
}

/// The memory a session's operators may hold (hash aggregates, sorts, joins' hash tables)
/// before those that can spill to disk do: the lake's memory stays bounded whatever the size
/// of a run. 2 GiB, shared fairly between the operators that spill (with 1 GiB the hash
/// aggregate of a run of 10^7 customers spilled, and silver took 0.8 s longer).
pub const MEMORY_LIMIT: usize = 2 << 30;

/// A DataFusion session with deltalake's planner (its writes need it) and a memory pool of
/// [`MEMORY_LIMIT`] bytes, spilling to the system's temporary folder past it.
pub(crate) fn session() -> SessionContext {
    let runtime = deltalake::delta_datafusion::DeltaRuntimeEnvBuilder::new()
        .with_max_spill_size(MEMORY_LIMIT)
        .build();
    deltalake::delta_datafusion::DeltaSessionContext::with_runtime_env(runtime).into_inner()
}

/// Registers a small table, `columns` (name, its values; arrays of one length), as `name`:
/// the run's own values, for the transforms to join with.
fn register_values(ctx: &SessionContext, name: &str, columns: Vec<(&str, ArrayRef)>) -> Result<()> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .map_err(|e| Error::Other(format!("the run's values for {name}: {e}")))?;
    let table =
        MemTable::try_new(schema, vec![vec![batch]]).map_err(sql_error("registering a row"))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(sql_error("registering a row"))?;
    Ok(())
}

/// Runs `silver_repeated.sql` over the `bronze` of `ctx` and registers its (small) result
/// as `repeated`, collected, for `silver.sql` to join with.
async fn register_repeated(ctx: &SessionContext) -> Result<()> {
    let df = ctx
        .sql(sql::SILVER_REPEATED)
        .await
        .map_err(sql_error("planning silver_repeated.sql"))?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df
        .collect()
        .await
        .map_err(sql_error("finding the repeated customers"))?;
    let table =
        MemTable::try_new(schema, vec![batches]).map_err(sql_error("registering repeated"))?;
    ctx.register_table("repeated", Arc::new(table))
        .map_err(sql_error("registering repeated"))?;
    Ok(())
}

fn sql_error(op: &str) -> impl FnOnce(DataFusionError) -> Error + '_ {
    move |source| Error::Sql {
        op: op.to_string(),
        source,
    }
}

impl Lake {
    /// Replaces the run's rows of `table` (those `predicate` selects) with what `plan`
    /// yields, in one commit.
    pub(crate) async fn replace(
        &self,
        table: Table,
        run: &Stamp<'_>,
        step: &str,
        ctx: &SessionContext,
        plan: LogicalPlan,
        predicate: Expr,
    ) -> Result<Written> {
        let t = self.for_write(table).await?;
        let app_id = format!("abforge.{}.{}", table.name(), run.run_id);
        let previous = match t.snapshot() {
            Ok(s) => s
                .transaction_version(t.log_store().as_ref(), &app_id)
                .await
                .map_err(Error::delta(format!("reading the transactions of {table}")))?,
            Err(_) => None,
        };
        let props = CommitProperties::default()
            .with_metadata([
                ("abforge.run_id".to_string(), run.run_id.into()),
                (
                    "abforge.experiment_id".to_string(),
                    run.experiment_id.into(),
                ),
                (
                    "abforge.blueprint_hash".to_string(),
                    run.blueprint_hash.into(),
                ),
                ("abforge.step".to_string(), step.into()),
            ])
            .with_application_transaction(Transaction::new(&app_id, previous.unwrap_or(0) + 1));
        let t = t
            .write(Vec::new())
            .with_input_plan(plan)
            .with_session_state(Arc::new(ctx.state()))
            .with_save_mode(SaveMode::Overwrite)
            .with_replace_where(predicate)
            .with_partition_columns(table.partition_columns().iter().copied())
            .with_schema_mode(SchemaMode::Merge)
            .with_table_name(table.name())
            .with_commit_properties(props)
            .await
            .map_err(Error::delta(format!(
                "writing run {} to {table}",
                run.run_id
            )))?;
        let version = t.version().unwrap_or_default();
        let last: Vec<_> = t
            .history(Some(1))
            .try_collect()
            .await
            .map_err(Error::delta(format!("reading the last commit of {table}")))?;
        let rows = last
            .first()
            .and_then(|c| c.info.get("operationMetrics"))
            .and_then(|m| m.get("num_added_rows"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_default();
        Ok(Written {
            table,
            version,
            rows,
        })
    }

    /// Registers the run's rows of `table` in `ctx` as `name`; `None` when the table was
    /// never written.
    async fn register_run(
        &self,
        ctx: &SessionContext,
        table: Table,
        name: &str,
        run: &RunInfo,
    ) -> Result<Option<()>> {
        let Some(t) = self.open(table).await? else {
            return Ok(None);
        };
        let all = format!("{name}_all");
        self.register(ctx, &all, &t).await?;
        let mut filter = col("run_date")
            .eq(date_lit(run.run_date))
            .and(col("run_id").eq(lit(run.run_id.as_str())));
        if table.partition_columns().contains(&"experiment_id") && table != Table::BronzeCustomers {
            filter = col("experiment_id")
                .eq(lit(run.experiment_id.as_str()))
                .and(filter);
        }
        let df = ctx
            .table(all.as_str())
            .await
            .map_err(sql_error("reading the table"))?
            .filter(filter)
            .map_err(sql_error("selecting the run"))?;
        ctx.register_table(name, df.into_view())
            .map_err(sql_error("registering the run's rows"))?;
        Ok(Some(()))
    }

    async fn count(ctx: &SessionContext, name: &str) -> Result<u64> {
        let batches = ctx
            .sql(&format!("SELECT COUNT(*) AS n FROM {name}"))
            .await
            .map_err(sql_error("counting"))?
            .collect()
            .await
            .map_err(sql_error("counting"))?;
        Ok(batches
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .map(|a| a.value(0))
            })
            .unwrap_or(0) as u64)
    }

    /// **bronze**: the run's customers as they are in the relational store, with `run_id`,
    /// `run_date`, `loaded_at` and `source` (the store's URL without its password), into
    /// `lake/bronze/customers` (partitioned by `experiment_id`, `run_date`), replacing the
    /// run's earlier rows.
    ///
    /// # Errors
    /// [`Error::Usage`] when fewer customers than the blueprint's have landed; the store's,
    /// SQL or Delta errors.
    pub async fn bronze(&self, run: &RunInfo, db: &Arc<dyn RelationalStore>) -> Result<Written> {
        let customers = run.resolved.blueprint.customers;
        let landed = db.count_customers(&run.run_id).await?;
        if landed < customers {
            return Err(Error::Usage(format!(
                "run {}: {landed} of {customers} customers have landed; land every shard \
                 before bronze",
                run.run_id
            )));
        }
        if landed > customers {
            return Err(Error::Usage(format!(
                "run {}: {landed} customers have landed but its blueprint has {customers}; \
                 land the run again (`abforge pipeline run`, or generate and land every shard)",
                run.run_id
            )));
        }
        let generator = abforge_synth::Generator::new(run.resolved.clone());
        let schema = landed_schema(&generator.schema());
        let ctx = session();
        let source = StreamingTable::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Landed {
                db: Arc::clone(db),
                run_id: run.run_id.clone(),
                schema: Arc::clone(&schema),
            })],
        )
        .map_err(sql_error("streaming the relational store"))?;
        ctx.register_table("landed", Arc::new(source))
            .map_err(sql_error("registering landed"))?;
        let now = Utc::now().timestamp_micros();
        register_values(
            &ctx,
            "run",
            vec![
                (
                    "run_id",
                    Arc::new(StringArray::from(vec![run.run_id.as_str()])),
                ),
                (
                    "run_date",
                    Arc::new(Date32Array::from(vec![days(run.run_date)])),
                ),
                (
                    "loaded_at",
                    Arc::new(TimestampMicrosecondArray::from(vec![now]).with_timezone("UTC")),
                ),
                ("source", Arc::new(StringArray::from(vec![db.url()]))),
            ],
        )?;
        let df = ctx
            .sql(sql::BRONZE)
            .await
            .map_err(sql_error("planning bronze.sql"))?;
        let predicate = col("run_date")
            .eq(date_lit(run.run_date))
            .and(col("run_id").eq(lit(run.run_id.as_str())));
        self.replace(
            Table::BronzeCustomers,
            &run.stamp(),
            "bronze",
            &ctx,
            df.into_unoptimized_plan(),
            predicate,
        )
        .await
    }

    /// **silver**: the run's bronze rows typed, conformed and checked against the rules of
    /// its blueprint ([`crate::sql::rules`]) and de-duplicated on (experiment_id, run_id,
    /// customer_id). Rows that broke a rule replace the run's rows of `silver/quarantine`,
    /// with the rule; when they are more than `quarantine_max` of the run's rows the gate
    /// fails ([`Error::Gate`], with every count) and `silver/customers` is left as it was;
    /// otherwise the rows that passed replace the run's rows there.
    ///
    /// # Errors
    /// [`Error::Usage`] when bronze has no rows of the run; [`Error::Gate`]; SQL or Delta
    /// errors.
    pub async fn silver(&self, run: &RunInfo, quarantine_max: f64) -> Result<SilverReport> {
        let ctx = session();
        let no_bronze = || {
            Error::Usage(format!(
                "bronze/customers holds no customers of run {}; run the bronze step first",
                run.run_id
            ))
        };
        self.register_run(&ctx, Table::BronzeCustomers, "bronze", run)
            .await?
            .ok_or_else(no_bronze)?;
        let rows = Self::count(&ctx, "bronze").await?;
        if rows == 0 {
            return Err(no_bronze());
        }
        let checked = ctx
            .sql(&sql::silver_checked(&run.resolved, &run.experiment_id))
            .await
            .map_err(sql_error("planning silver_checked.sql"))?;
        ctx.register_table("checked", checked.into_view())
            .map_err(sql_error("registering checked"))?;
        // The repeated customers are few (none in a clean run): collected once, so that the
        // two passes below (quarantine, then silver/customers) stream the run's rows through
        // a join with them rather than each aggregating every row again. Nothing else of the
        // run is held in memory: each pass reads bronze anew (the operating system's page
        // cache keeps it, and a pass is cheaper than holding the run).
        register_repeated(&ctx).await?;
        let classified = ctx
            .sql(&sql::silver(&run.resolved))
            .await
            .map_err(sql_error("planning silver.sql"))?;
        ctx.register_table("classified", classified.into_view())
            .map_err(sql_error("registering classified"))?;
        let plan = |q: &'static str| {
            let ctx = &ctx;
            async move {
                ctx.sql(q)
                    .await
                    .map(|df| df.into_unoptimized_plan())
                    .map_err(sql_error("planning the silver outputs"))
            }
        };
        let run_rows = col("run_date")
            .eq(date_lit(run.run_date))
            .and(col("run_id").eq(lit(run.run_id.as_str())));
        let quarantine = self
            .replace(
                Table::SilverQuarantine,
                &run.stamp(),
                "silver",
                &ctx,
                plan(sql::SILVER_QUARANTINE).await?,
                run_rows,
            )
            .await?;
        let by_rule = self.quarantine_counts(run).await?;
        let quarantined: u64 = by_rule.iter().map(|(_, n)| n).sum();
        let gate = GateReport {
            run_id: run.run_id.clone(),
            rows,
            passed: rows.saturating_sub(quarantined),
            quarantined,
            by_rule,
            threshold: quarantine_max,
        };
        if !gate.passes() {
            return Err(Error::Gate(Box::new(gate)));
        }
        let customers = self
            .replace(
                Table::SilverCustomers,
                &run.stamp(),
                "silver",
                &ctx,
                plan(sql::SILVER_CUSTOMERS).await?,
                col("experiment_id")
                    .eq(lit(run.experiment_id.as_str()))
                    .and(col("run_date").eq(date_lit(run.run_date))),
            )
            .await?;
        Ok(SilverReport {
            gate,
            customers,
            quarantine,
        })
    }

    /// The run's rows of `silver/quarantine` counted by the rule they broke.
    async fn quarantine_counts(&self, run: &RunInfo) -> Result<Vec<(String, u64)>> {
        let qctx = session();
        self.register_run(&qctx, Table::SilverQuarantine, "quarantine", run)
            .await?;
        let counts = qctx
            .sql(sql::QUARANTINE_COUNTS)
            .await
            .map_err(sql_error("planning quarantine_counts.sql"))?
            .collect()
            .await
            .map_err(sql_error("counting the quarantine"))?;
        let mut by_rule = Vec::new();
        for b in &counts {
            // Text comes back from Parquet as Utf8View; the counts as Int64.
            let rules = cast(b.column(0), &DataType::Utf8)
                .map_err(|e| Error::Other(format!("the quarantine's rules: {e}")))?;
            let rules = rules.as_any().downcast_ref::<StringArray>();
            let ns = b.column(1).as_any().downcast_ref::<Int64Array>();
            if let (Some(rules), Some(ns)) = (rules, ns) {
                for i in 0..b.num_rows() {
                    by_rule.push((rules.value(i).to_string(), ns.value(i) as u64));
                }
            }
        }
        Ok(by_rule)
    }

    /// The run's customers from `silver/customers`, with the blueprint's columns in order,
    /// ordered by customer.
    ///
    /// # Errors
    /// [`Error::Usage`] when silver has no rows of the run; SQL or Delta errors.
    pub async fn read_silver(&self, run: &RunInfo) -> Result<Vec<RecordBatch>> {
        let ctx = session();
        let none = || {
            Error::Usage(format!(
                "silver/customers holds no customers of run {}; run the bronze and silver \
                 steps first",
                run.run_id
            ))
        };
        self.register_run(&ctx, Table::SilverCustomers, "silver", run)
            .await?
            .ok_or_else(none)?;
        let batches = ctx
            .sql(&sql::silver_read(&run.resolved))
            .await
            .map_err(sql_error("planning silver_read.sql"))?
            .collect()
            .await
            .map_err(sql_error("reading silver"))?;
        // The generator's types: text read from Parquet is Utf8View, dictionaries are Utf8.
        let schema = landed_schema(&abforge_synth::Generator::new(run.resolved.clone()).schema());
        let mut out = Vec::new();
        for b in batches.into_iter().filter(|b| b.num_rows() > 0) {
            let columns = schema
                .fields()
                .iter()
                .zip(b.columns())
                .map(|(f, c)| cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .and_then(|cols| RecordBatch::try_new(Arc::clone(&schema), cols))
                .map_err(|e| Error::Other(format!("reading silver: {e}")))?;
            out.push(columns);
        }
        if out.is_empty() {
            return Err(none());
        }
        Ok(out)
    }

    /// **gold**: from the run's silver rows, `gold/group_daily` (per group, purchase date
    /// and metric: n, sum, sum of squares, mean and sample variance), then
    /// `gold/group_quantiles` (per group, metric and probability of the blueprint's
    /// `quantiles`: the observed quantile, `gold_group_quantiles.sql`); each replaces the
    /// run's rows of its table in one commit.
    ///
    /// # Errors
    /// [`Error::Usage`] when silver has no rows of the run; SQL or Delta errors.
    pub async fn gold(&self, run: &RunInfo) -> Result<GoldReport> {
        let ctx = session();
        let none = || {
            Error::Usage(format!(
                "silver/customers holds no customers of run {}; run the silver step first",
                run.run_id
            ))
        };
        self.register_run(&ctx, Table::SilverCustomers, "silver", run)
            .await?
            .ok_or_else(none)?;
        if Self::count(&ctx, "silver").await? == 0 {
            return Err(none());
        }
        register_values(
            &ctx,
            "run",
            vec![
                (
                    "experiment_id",
                    Arc::new(StringArray::from(vec![run.experiment_id.as_str()])),
                ),
                (
                    "run_id",
                    Arc::new(StringArray::from(vec![run.run_id.as_str()])),
                ),
                (
                    "run_date",
                    Arc::new(Date32Array::from(vec![days(run.run_date)])),
                ),
            ],
        )?;
        register_values(
            &ctx,
            "probs",
            vec![(
                "p",
                Arc::new(Float64Array::from(run.resolved.blueprint.quantiles.clone())),
            )],
        )?;
        let the_run = col("experiment_id")
            .eq(lit(run.experiment_id.as_str()))
            .and(col("run_date").eq(date_lit(run.run_date)));
        let mut written = Vec::new();
        for (table, template, sql) in [
            (
                Table::GoldGroupDaily,
                "gold_group_daily.sql",
                sql::gold_group_daily(&run.resolved),
            ),
            (
                Table::GoldGroupQuantiles,
                "gold_group_quantiles.sql",
                sql::gold_group_quantiles(&run.resolved),
            ),
        ] {
            let df = ctx
                .sql(&sql)
                .await
                .map_err(sql_error(&format!("planning {template}")))?;
            let plan = df.into_unoptimized_plan();
            written.push(
                self.replace(table, &run.stamp(), "gold", &ctx, plan, the_run.clone())
                    .await?,
            );
        }
        let quantiles = written.pop().expect("two tables");
        let group_daily = written.pop().expect("two tables");
        Ok(GoldReport {
            group_daily,
            quantiles,
        })
    }

    /// `gold/ab_results`: the run's decisions (every metric × test, as the relational
    /// `ab_results` has them, with their position), replacing the run's earlier ones.
    ///
    /// # Errors
    /// Delta errors.
    pub async fn ab_results(&self, run: &RunInfo, rows: &[ResultRow]) -> Result<Written> {
        let n = rows.len();
        let text = |f: &dyn Fn(&ResultRow) -> String| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let real = |f: &dyn Fn(&ResultRow) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let flag = |f: &dyn Fn(&ResultRow) -> Option<bool>| -> ArrayRef {
            Arc::new(BooleanArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("experiment_id", DataType::Utf8, false),
            Field::new("run_id", DataType::Utf8, false),
            Field::new("run_date", DataType::Date32, false),
            Field::new("blueprint_hash", DataType::Utf8, false),
            Field::new("position", DataType::Int64, false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("control", DataType::Utf8, false),
            Field::new("treatment", DataType::Utf8, false),
            Field::new("test", DataType::Utf8, false),
            Field::new("primary", DataType::Boolean, true),
            Field::new("estimate", DataType::Float64, true),
            Field::new("ci_low", DataType::Float64, true),
            Field::new("ci_high", DataType::Float64, true),
            Field::new("p_value", DataType::Float64, true),
            Field::new("p_adjusted", DataType::Float64, true),
            Field::new("reject", DataType::Boolean, true),
            Field::new("true_effect", DataType::Float64, true),
            Field::new("null_true", DataType::Boolean, true),
            Field::new("outcome", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            text(&|r| r.experiment_id.clone()),
            text(&|r| r.run_id.clone()),
            Arc::new(Date32Array::from(vec![days(run.run_date); n])),
            Arc::new(StringArray::from(vec![run.blueprint_hash.as_str(); n])),
            Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())),
            text(&|r| r.metric.clone()),
            text(&|r| r.control.clone()),
            text(&|r| r.treatment.clone()),
            text(&|r| r.test.clone()),
            flag(&|r| Some(r.primary)),
            real(&|r| r.estimate),
            real(&|r| r.ci_low),
            real(&|r| r.ci_high),
            real(&|r| r.p_value),
            real(&|r| r.p_adjusted),
            flag(&|r| r.reject),
            real(&|r| r.true_effect),
            flag(&|r| r.null_true),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.outcome.clone()).collect::<Vec<_>>(),
            )),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)
            .map_err(|e| Error::Other(format!("the decisions of run {}: {e}", run.run_id)))?;
        let ctx = session();
        let source =
            MemTable::try_new(schema, vec![vec![batch]]).map_err(sql_error("the decisions"))?;
        let plan = ctx
            .read_table(Arc::new(source))
            .map_err(sql_error("the decisions"))?
            .into_unoptimized_plan();
        let written = self
            .replace(
                Table::GoldAbResults,
                &run.stamp(),
                "analyze",
                &ctx,
                plan,
                col("experiment_id")
                    .eq(lit(run.experiment_id.as_str()))
                    .and(col("run_id").eq(lit(run.run_id.as_str()))),
            )
            .await?;
        self.compact_if_fragmented(Table::GoldAbResults).await;
        Ok(written)
    }

    /// Compacts `table` when it holds more than [`COMPACT_AT_FILES`] data files (Delta's
    /// bin-packing `optimize`, one commit that rewrites no row): `gold/ab_results` gets one
    /// small file per run, and a reader of a thousand runs (the dashboard) would otherwise
    /// open a thousand files. Best effort: a failure (a concurrent writer, say) is logged and
    /// left for the next run, the write it follows stands.
    pub(crate) async fn compact_if_fragmented(&self, table: Table) {
        let t = match self.open(table).await {
            Ok(Some(t)) => t,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%table, error = %e, "cannot check the table's files");
                return;
            }
        };
        let files = t.snapshot().map_or(0, |s| s.log_data().num_files());
        if files <= COMPACT_AT_FILES {
            return;
        }
        match t.optimize().await {
            Ok((_, m)) => tracing::info!(
                %table,
                removed = m.num_files_removed,
                added = m.num_files_added,
                "compacted"
            ),
            Err(e) => {
                tracing::warn!(%table, error = %e, "compaction failed; the next write tries again")
            }
        }
    }
}

/// A table written a file per run is compacted when it has more data files than this.
pub const COMPACT_AT_FILES: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ab_results_are_compacted_past_the_threshold() {
        let objects = abforge_store::Objects::memory();
        let lake = Lake::new(&objects).unwrap();
        let bp = abforge_synth::Blueprint::from_toml(
            r#"
id = "c"
customers = 10
start_date = 2026-01-05
days = 7
[groups]
control = 1
treatment = 1
[metrics.x]
distribution = "poisson"
control = { lambda = 1 }
treatment = { lambda = 1 }
"#,
        )
        .unwrap();
        let resolved = bp.resolve().unwrap();
        let runs = COMPACT_AT_FILES + 6;
        for k in 0..runs {
            let date =
                NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + chrono::Duration::days(k as i64);
            let run = RunInfo {
                experiment_id: "c".into(),
                run_id: format!("c-{k}"),
                run_date: date,
                blueprint_hash: "h".into(),
                resolved: resolved.clone(),
            };
            let row = ResultRow {
                experiment_id: "c".into(),
                run_id: run.run_id.clone(),
                metric: "x".into(),
                control: "control".into(),
                treatment: "treatment".into(),
                test: "welch_t".into(),
                primary: true,
                estimate: Some(k as f64),
                ci_low: None,
                ci_high: None,
                p_value: Some(0.5),
                p_adjusted: None,
                reject: Some(false),
                true_effect: Some(0.0),
                null_true: Some(true),
                outcome: Some("correct".into()),
            };
            lake.ab_results(&run, &[row]).await.unwrap();
        }
        let t = lake.open(Table::GoldAbResults).await.unwrap().unwrap();
        let files = t.snapshot().unwrap().log_data().num_files();
        assert!(files <= COMPACT_AT_FILES, "{files} files");
        // Nothing lost, nothing doubled.
        let rows = lake
            .query(
                "SELECT COUNT(*) AS n, SUM(estimate) AS s FROM gold_ab_results",
                None,
            )
            .await
            .unwrap();
        let n = rows[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(n, runs as i64);
        let s = rows[0]
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(0);
        assert_eq!(s, (0..runs).map(|k| k as f64).sum::<f64>());
    }

    /// silver.sql through the Delta writer, as `silver` runs it: one copy of each repeated
    /// customer kept (the first in the order of its values), broken rows quarantined with
    /// their rule, and every clean row in silver/customers. (A clean row lost here once:
    /// DataFusion pushed the join's `IS NULL` filter to the wrong side when both sides had a
    /// `customer_id`.)
    #[tokio::test]
    async fn silver_sql_keeps_one_copy_and_every_clean_row() {
        let objects = abforge_store::Objects::memory();
        let lake = Lake::new(&objects).unwrap();
        let ctx = session();
        let bronze = ctx
            .sql(
                "SELECT customer_id, 'c' AS experiment_id, g, 'r' AS run_id, \
                 DATE '2026-01-05' AS run_date \
                 FROM (VALUES (1, 'a'), (2, 'b'), (2, 'a'), (3, 'z'), (3, 'c'), (4, 'z'), \
                 (5, 'e'), (6, 'z'), (6, 'z')) AS t(customer_id, g)",
            )
            .await
            .unwrap();
        ctx.register_table("bronze", bronze.into_view()).unwrap();
        let checked = ctx
            .sql("SELECT bronze.*, CASE WHEN g = 'z' THEN 'bad' END AS broken FROM bronze")
            .await
            .unwrap();
        ctx.register_table("checked", checked.into_view()).unwrap();
        register_repeated(&ctx).await.unwrap();
        let silver = sql::render(
            sql::SILVER,
            &[("columns", "customer_id, experiment_id, g".to_string())],
        )
        .replace("loaded_at,", "");
        let classified = ctx.sql(&silver).await.unwrap();
        ctx.register_table("classified", classified.into_view())
            .unwrap();
        let stamp = Stamp {
            experiment_id: "c",
            run_id: "r",
            blueprint_hash: "h",
        };
        let day = date_lit(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap());
        for (table, q) in [
            (Table::SilverCustomers, sql::SILVER_CUSTOMERS),
            (Table::SilverQuarantine, sql::SILVER_QUARANTINE),
        ] {
            let plan = ctx.sql(q).await.unwrap().into_unoptimized_plan();
            lake.replace(
                table,
                &stamp,
                "silver",
                &ctx,
                plan,
                col("run_date").eq(day.clone()),
            )
            .await
            .unwrap();
        }
        let text = |sql: &str| {
            let lake = &lake;
            let sql = sql.to_string();
            async move {
                let b = lake.query(&sql, None).await.unwrap();
                deltalake::arrow::util::pretty::pretty_format_batches(&b)
                    .unwrap()
                    .to_string()
            }
        };
        let kept = text("SELECT customer_id, g FROM silver_customers ORDER BY customer_id").await;
        assert_eq!(
            kept.lines()
                .filter(|l| l.starts_with("| "))
                .skip(1)
                .collect::<Vec<_>>(),
            [
                "| 1           | a |",
                "| 2           | a |",
                "| 3           | c |",
                "| 5           | e |"
            ],
            "{kept}"
        );
        let out =
            text("SELECT customer_id, g, rule FROM silver_quarantine ORDER BY customer_id, g")
                .await;
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with("| "))
                .skip(1)
                .collect::<Vec<_>>(),
            [
                "| 2           | b | duplicate |",
                "| 3           | z | bad       |",
                "| 4           | z | bad       |",
                "| 6           | z | bad       |",
                "| 6           | z | bad       |"
            ],
            "{out}"
        );
    }

    /// gold_group_quantiles.sql gives each group's smallest value whose share at or below it
    /// is at least p: on ties and atoms, on a share of exactly p (the lower value, not the
    /// next), and at p = 0.07 of 100 rows, where 100 · 0.07 is 7.000000000000001 in doubles
    /// but 7 / 100 ≥ 0.07 holds.
    #[tokio::test]
    async fn quantiles_are_the_smallest_value_with_enough_at_or_below() {
        let ctx = session();
        let mut rows: Vec<String> = (0..100)
            .map(|i| format!("('a', {})", (i * 37) % 100 + 1))
            .collect();
        rows.extend((0..100).map(|i| {
            let v = match i {
                0..30 => 0,
                30..80 => 5,
                _ => 9,
            };
            format!("('b', {v})")
        }));
        let silver = ctx
            .sql(&format!(
                "SELECT * FROM (VALUES {}) AS t(\"group\", x)",
                rows.join(", ")
            ))
            .await
            .unwrap();
        ctx.register_table("silver", silver.into_view()).unwrap();
        register_values(
            &ctx,
            "run",
            vec![
                ("experiment_id", Arc::new(StringArray::from(vec!["e"]))),
                ("run_id", Arc::new(StringArray::from(vec!["r"]))),
                ("run_date", Arc::new(Date32Array::from(vec![0]))),
            ],
        )
        .unwrap();
        let probs = [0.07, 0.3, 0.5, 0.8, 0.99, 0.995];
        register_values(
            &ctx,
            "probs",
            vec![("p", Arc::new(Float64Array::from(probs.to_vec())))],
        )
        .unwrap();
        let sql = sql::render(sql::GOLD_GROUP_QUANTILES, &[("metric", "x".into())]);
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let mut got = Vec::new();
        for b in &batches {
            let c = crate::rows::Columns::new(b);
            let (g, p, n, v) = (
                c.text("group").unwrap(),
                c.real("p").unwrap(),
                c.int("n").unwrap(),
                c.real("value").unwrap(),
            );
            for i in 0..b.num_rows() {
                assert_eq!(n[i], Some(100));
                got.push((g[i].clone().unwrap(), p[i].unwrap(), v[i].unwrap()));
            }
        }
        got.sort_by(|a, b| (&a.0, a.1).partial_cmp(&(&b.0, b.1)).unwrap());
        let want: Vec<(String, f64, f64)> = probs
            .iter()
            .zip([7.0, 30.0, 50.0, 80.0, 99.0, 100.0])
            .map(|(&p, v)| ("a".to_string(), p, v))
            .chain(
                probs
                    .iter()
                    .zip([0.0, 0.0, 5.0, 5.0, 9.0, 9.0])
                    .map(|(&p, v)| ("b".to_string(), p, v)),
            )
            .collect();
        assert_eq!(got, want);
    }

    /// The pipeline runs the layers on a multi-threaded runtime: their futures must be Send.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn layers_are_send(l: &Lake, r: &RunInfo, db: &Arc<dyn RelationalStore>) {
        fn is_send<T: Send>(_: T) {}
        is_send(l.bronze(r, db));
        is_send(l.silver(r, 0.0));
        is_send(l.gold(r));
        is_send(l.read_silver(r));
        is_send(l.ab_results(r, &[]));
    }
}
