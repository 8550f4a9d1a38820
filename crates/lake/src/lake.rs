//! [`Lake`]: the Delta tables under `lake/` of an object store, and what one does with them
//! as tables — list, history, query (with time travel), vacuum, optimize.

use crate::error::{Error, Result};
use crate::layers::session;
use abforge_store::Objects;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::logstore::{LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig};
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures_util::TryStreamExt;
use object_store::ObjectStore;
use serde::Serialize;
use std::str::FromStr;
use std::sync::{Arc, Once};
use url::Url;

/// A table of the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// `lake/bronze/customers`: what landed in the relational store, per run.
    BronzeCustomers,
    /// `lake/silver/customers`: typed, conformed, checked and de-duplicated.
    SilverCustomers,
    /// `lake/silver/quarantine`: the rows that broke a rule, with the rule.
    SilverQuarantine,
    /// `lake/gold/group_daily`: per run, group, purchase date and metric: n, sum, sum of
    /// squares, mean, variance.
    GoldGroupDaily,
    /// `lake/gold/group_quantiles`: per run, group, metric and probability: the observed
    /// quantile (the smallest value whose share at or below it is at least p) and n.
    GoldGroupQuantiles,
    /// `lake/gold/ab_results`: every decision of the analysis against the truth.
    GoldAbResults,
    /// `lake/gold/calibration`: what `abforge calibrate --publish` measured, per test.
    GoldCalibration,
}

impl Table {
    /// Every table, from bronze to gold.
    pub const ALL: [Table; 7] = [
        Table::BronzeCustomers,
        Table::SilverCustomers,
        Table::SilverQuarantine,
        Table::GoldGroupDaily,
        Table::GoldGroupQuantiles,
        Table::GoldAbResults,
        Table::GoldCalibration,
    ];

    /// The name a query uses: `bronze_customers`, `silver_customers`, `silver_quarantine`,
    /// `gold_group_daily`, `gold_group_quantiles`, `gold_ab_results`, `gold_calibration`.
    pub fn name(self) -> &'static str {
        match self {
            Table::BronzeCustomers => "bronze_customers",
            Table::SilverCustomers => "silver_customers",
            Table::SilverQuarantine => "silver_quarantine",
            Table::GoldGroupDaily => "gold_group_daily",
            Table::GoldGroupQuantiles => "gold_group_quantiles",
            Table::GoldAbResults => "gold_ab_results",
            Table::GoldCalibration => "gold_calibration",
        }
    }

    /// Its folder in the object store, e.g. `lake/bronze/customers`.
    pub fn path(self) -> &'static str {
        match self {
            Table::BronzeCustomers => "lake/bronze/customers",
            Table::SilverCustomers => "lake/silver/customers",
            Table::SilverQuarantine => "lake/silver/quarantine",
            Table::GoldGroupDaily => "lake/gold/group_daily",
            Table::GoldGroupQuantiles => "lake/gold/group_quantiles",
            Table::GoldAbResults => "lake/gold/ab_results",
            Table::GoldCalibration => "lake/gold/calibration",
        }
    }

    /// Its partition columns.
    pub fn partition_columns(self) -> &'static [&'static str] {
        match self {
            Table::BronzeCustomers
            | Table::SilverCustomers
            | Table::GoldGroupDaily
            | Table::GoldGroupQuantiles => &["experiment_id", "run_date"],
            Table::SilverQuarantine => &["run_date"],
            Table::GoldAbResults | Table::GoldCalibration => &["experiment_id"],
        }
    }

    /// The names, comma-separated (for messages).
    pub fn names() -> String {
        Table::ALL.map(Table::name).join(", ")
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;
    /// A name ([`Table::name`]) or a path (`bronze/customers`, `lake/bronze/customers`).
    fn from_str(s: &str) -> std::result::Result<Table, String> {
        let t = s.trim().trim_matches('/');
        Table::ALL
            .into_iter()
            .find(|x| x.name() == t || x.path() == t || x.path().strip_prefix("lake/") == Some(t))
            .ok_or_else(|| format!("{s:?} is not a table; expected one of {}", Table::names()))
    }
}

/// A table as `abforge lake tables` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TableInfo {
    /// The table.
    pub table: Table,
    /// Its URL (`file:///…/lake/bronze/customers/`, `s3://bucket/prefix/lake/…`).
    pub url: String,
    /// Its latest version (`None`: not written yet).
    pub version: Option<u64>,
    /// Data files in the latest version.
    pub files: Option<usize>,
    /// Partition columns.
    pub partition_columns: Vec<String>,
    /// Delta protocol: minimum reader version.
    pub min_reader_version: Option<i32>,
    /// Delta protocol: minimum writer version.
    pub min_writer_version: Option<i32>,
}

/// One commit of a table's history.
#[derive(Debug, Clone, Serialize)]
pub struct Commit {
    /// The table version it made.
    pub version: u64,
    /// When, in milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
    /// `WRITE`, `OPTIMIZE`, `VACUUM START`, …
    pub operation: Option<String>,
    /// The run it wrote (`abforge.run_id` in the commit's metadata).
    pub run_id: Option<String>,
    /// The hash of the run's resolved blueprint (`abforge.blueprint_hash`).
    pub blueprint_hash: Option<String>,
    /// The step that wrote it (`abforge.step`).
    pub step: Option<String>,
    /// The operation's parameters (the replace-where predicate, the mode, …).
    pub parameters: serde_json::Value,
    /// The operation's metrics (rows and files added and removed, …).
    pub metrics: serde_json::Value,
}

/// The lake: Delta tables under `lake/` in the object store every other part of abforge
/// uses. Cheap to clone.
#[derive(Clone)]
pub struct Lake {
    root: Url,
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("root", &self.root.as_str())
            .finish_non_exhaustive()
    }
}

/// deltalake knows `file://` and `memory://`; S3 tables are committed with the same log
/// store (a commit is a put-if-absent of the next log entry), on abforge's own S3 client.
#[derive(Debug)]
struct PutIfAbsentLogStores;

impl LogStoreFactory for PutIfAbsentLogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn LogStore>> {
        Ok(deltalake::logstore::default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

fn register_s3() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        deltalake::logstore::logstore_factories().insert(
            Url::parse("s3://").expect("a URL"),
            Arc::new(PutIfAbsentLogStores),
        );
    });
}

impl Lake {
    /// The lake in `objects`: its tables are under `lake/` there. A local folder's tables are
    /// plain folders (read with a local file system rooted at `/`, as every Delta reader
    /// does); an S3 store's are read and written with the store's own client.
    ///
    /// # Errors
    /// [`Error::Other`] for a store whose location cannot be a table URL.
    pub fn new(objects: &Objects) -> Result<Lake> {
        let name = objects.to_string();
        let bad = |e: String| Error::Other(format!("the lake in {name}: {e}"));
        let (root, store): (Url, Arc<dyn ObjectStore>) =
            if let Some(path) = name.strip_prefix("file://") {
                let url = Url::from_directory_path(path)
                    .map_err(|()| bad("not an absolute folder".into()))?;
                (url, Arc::new(object_store::local::LocalFileSystem::new()))
            } else if let Some(rest) = name.strip_prefix("s3://") {
                register_s3();
                let bucket = rest.split('/').next().unwrap_or(rest);
                let prefix = objects.prefix();
                let url = if prefix.is_empty() {
                    format!("s3://{bucket}/")
                } else {
                    format!("s3://{bucket}/{prefix}/")
                };
                (
                    Url::parse(&url).map_err(|e| bad(e.to_string()))?,
                    Arc::clone(objects.store()),
                )
            } else if name.starts_with("memory:") {
                let prefix = objects.prefix();
                let url = if prefix.is_empty() {
                    "memory:///".to_string()
                } else {
                    format!("memory:///{prefix}/")
                };
                (
                    Url::parse(&url).map_err(|e| bad(e.to_string()))?,
                    Arc::clone(objects.store()),
                )
            } else {
                return Err(bad("an object store the lake does not know".into()));
            };
        Ok(Lake { root, store })
    }

    /// The URL of the folder holding `lake/`.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The URL of a table (a folder: it ends in `/`).
    pub fn url(&self, table: Table) -> Url {
        self.root
            .join(&format!("{}/", table.path()))
            .expect("a relative path joins")
    }

    fn builder(&self, table: Table) -> Result<DeltaTableBuilder> {
        let url = self.url(table);
        Ok(DeltaTableBuilder::from_url(url.clone())
            .map_err(Error::delta(format!("opening {table}")))?
            .with_storage_backend(Arc::clone(&self.store), url))
    }

    /// The table at its latest version, `None` when nothing was written to it yet.
    ///
    /// # Errors
    /// [`Error::Delta`] when the store fails or the log cannot be read.
    pub async fn open(&self, table: Table) -> Result<Option<DeltaTable>> {
        self.open_at(table, None).await
    }

    /// The table at `version` (the latest when `None`); `None` when it has no log yet.
    ///
    /// # Errors
    /// [`Error::Usage`] for a version the table does not have; [`Error::Delta`] otherwise.
    pub async fn open_at(&self, table: Table, version: Option<u64>) -> Result<Option<DeltaTable>> {
        let t = self
            .builder(table)?
            .build()
            .map_err(Error::delta(format!("opening {table}")))?;
        if !t
            .verify_deltatable_existence()
            .await
            .map_err(Error::delta(format!("looking for {table}")))?
        {
            return Ok(None);
        }
        let mut b = self.builder(table)?;
        if let Some(v) = version {
            b = b.with_version(v);
        }
        match b.load().await {
            Ok(t) => Ok(Some(t)),
            Err(e) if version.is_some() => Err(Error::Usage(format!(
                "{table} has no version {}: {e}",
                version.unwrap_or_default()
            ))),
            Err(e) => Err(Error::Delta {
                op: format!("loading {table}"),
                source: e,
            }),
        }
    }

    /// The table to write: its latest version, or an empty handle that the first write
    /// creates.
    pub(crate) async fn for_write(&self, table: Table) -> Result<DeltaTable> {
        match self.open(table).await? {
            Some(t) => Ok(t),
            None => self
                .builder(table)?
                .build()
                .map_err(Error::delta(format!("opening {table}"))),
        }
    }

    /// Every table, written or not.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn tables(&self) -> Result<Vec<TableInfo>> {
        let mut out = Vec::new();
        for table in Table::ALL {
            let t = self.open(table).await?;
            let snapshot = t.as_ref().and_then(|t| t.snapshot().ok());
            let protocol = snapshot.map(|s| s.protocol());
            out.push(TableInfo {
                table,
                url: self.url(table).to_string(),
                version: t.as_ref().and_then(DeltaTable::version),
                files: snapshot.map(|s| s.log_data().num_files()),
                partition_columns: table
                    .partition_columns()
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
                min_reader_version: protocol.map(|p| p.min_reader_version()),
                min_writer_version: protocol.map(|p| p.min_writer_version()),
            });
        }
        Ok(out)
    }

    /// The commits of a table, newest first (at most `limit`).
    ///
    /// # Errors
    /// [`Error::Usage`] when the table was never written; [`Error::Delta`] otherwise.
    pub async fn history(&self, table: Table, limit: Option<usize>) -> Result<Vec<Commit>> {
        let Some(t) = self.open(table).await? else {
            return Err(Error::Usage(format!(
                "{table} has not been written yet; `abforge pipeline run` writes every table"
            )));
        };
        let latest = t.version().unwrap_or_default();
        let infos: Vec<_> = t
            .history(limit)
            .try_collect()
            .await
            .map_err(Error::delta(format!("reading the history of {table}")))?;
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(String::from);
        Ok(infos
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let version = c
                    .info
                    .get("version")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(latest.saturating_sub(i as u64));
                Commit {
                    version,
                    timestamp: c.timestamp,
                    operation: c.operation.clone(),
                    run_id: text(c.info.get("abforge.run_id")),
                    blueprint_hash: text(c.info.get("abforge.blueprint_hash")),
                    step: text(c.info.get("abforge.step")),
                    parameters: serde_json::to_value(&c.operation_parameters).unwrap_or_default(),
                    metrics: c.info.get("operationMetrics").cloned().unwrap_or_default(),
                }
            })
            .collect())
    }

    /// A DataFusion session with every table written so far registered by its
    /// [`name`](Table::name) — at `version` when given (a table without that version is left
    /// out, and a query naming it fails saying so).
    ///
    /// # Errors
    /// As [`open_at`](Self::open_at).
    pub async fn session(&self, version: Option<u64>) -> Result<SessionContext> {
        let ctx = session();
        for table in Table::ALL {
            let t = match self.open_at(table, version).await {
                Ok(Some(t)) => t,
                Ok(None) | Err(Error::Usage(_)) => continue,
                Err(e) => return Err(e),
            };
            self.register(&ctx, table.name(), &t).await?;
        }
        Ok(ctx)
    }

    /// Registers `t` in `ctx` as `name`.
    pub(crate) async fn register(
        &self,
        ctx: &SessionContext,
        name: &str,
        t: &DeltaTable,
    ) -> Result<()> {
        t.update_datafusion_session(&ctx.state())
            .map_err(Error::delta(format!("registering {name}")))?;
        let provider = t
            .table_provider()
            .await
            .map_err(Error::sql(format!("reading {name}")))?;
        ctx.register_table(name, provider)
            .map_err(Error::sql(format!("registering {name}")))?;
        Ok(())
    }

    /// Runs `sql` against one loaded table, registered as `name` in a fresh session: how a
    /// reader that keeps a table open (and [`DeltaTable::update_incremental`]s it) queries
    /// it without reading the other tables' logs.
    ///
    /// # Errors
    /// [`Error::Usage`] for SQL that does not plan; [`Error::Sql`] when it fails while running.
    pub async fn query_table(
        &self,
        table: &DeltaTable,
        name: &str,
        sql: &str,
    ) -> Result<Vec<deltalake::arrow::array::RecordBatch>> {
        let ctx = session();
        // A table written run by run is many small files: read more of them at once than
        // there are cores (the reads wait on the file system more than on the CPU).
        ctx.state_ref()
            .write()
            .config_mut()
            .options_mut()
            .execution
            .target_partitions = 16;
        self.register(&ctx, name, table).await?;
        let df = ctx
            .sql(sql)
            .await
            .map_err(|e| Error::Usage(format!("the query does not plan: {e}")))?;
        df.collect().await.map_err(Error::sql("running the query"))
    }

    /// Runs `sql` against the tables (at `version` when given).
    ///
    /// # Errors
    /// [`Error::Usage`] for SQL that does not parse or plan (naming the tables when one is
    /// missing); [`Error::Sql`] when it fails while running.
    pub async fn query(
        &self,
        sql: &str,
        version: Option<u64>,
    ) -> Result<Vec<deltalake::arrow::array::RecordBatch>> {
        let ctx = self.session(version).await?;
        let df = ctx.sql(sql).await.map_err(|e| {
            let mut msg = format!("the query does not plan: {e}");
            if e.to_string().contains("not found") {
                msg.push_str(&format!(
                    "; the tables are {}{}",
                    Table::names(),
                    if version.is_some() {
                        " (with --version, those that have that version)"
                    } else {
                        " (those written so far)"
                    }
                ));
            }
            Error::Usage(msg)
        })?;
        df.collect().await.map_err(Error::sql("running the query"))
    }

    /// Deletes the data files that no version newer than `retention` ago uses, in every
    /// table; returns the files deleted per table (or that would be, with `dry_run`).
    ///
    /// # Errors
    /// [`Error::Delta`] when a table cannot be vacuumed.
    pub async fn vacuum(
        &self,
        retention: chrono::Duration,
        dry_run: bool,
    ) -> Result<Vec<(Table, usize)>> {
        let mut out = Vec::new();
        for table in Table::ALL {
            let Some(t) = self.open(table).await? else {
                continue;
            };
            let (_, metrics) = t
                .vacuum()
                .with_retention_period(retention)
                .with_enforce_retention_duration(false)
                .with_dry_run(dry_run)
                .await
                .map_err(Error::delta(format!("vacuuming {table}")))?;
            out.push((table, metrics.files_deleted.len()));
        }
        Ok(out)
    }

    /// Compacts the small files of every table into larger ones (one new version per table
    /// that had any); returns (files removed, files added) per table.
    ///
    /// # Errors
    /// [`Error::Delta`] when a table cannot be optimized.
    pub async fn optimize(&self) -> Result<Vec<(Table, u64, u64)>> {
        let mut out = Vec::new();
        for table in Table::ALL {
            let Some(t) = self.open(table).await? else {
                continue;
            };
            let (_, metrics) = t
                .optimize()
                .await
                .map_err(Error::delta(format!("optimizing {table}")))?;
            out.push((table, metrics.num_files_removed, metrics.num_files_added));
        }
        Ok(out)
    }
}
