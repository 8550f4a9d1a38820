//! The gold tables the dashboard reads, kept in memory and brought up to date on each
//! request: a table is loaded once, and afterwards only the log entries committed since are
//! read (`update_incremental`, one listing of `_delta_log`); its rows are read again only
//! when its version moved. At most one refresh of a table is in flight: requests arriving
//! meanwhile are answered from the last refresh, never queued behind a listing. A lake of
//! a thousand runs is a few tens of thousands of gold rows, so every page is computed from
//! memory.

use crate::model::Decision;
use abforge_lake::arrow::array::RecordBatch;
use abforge_lake::rows::{Columns, required};
use abforge_lake::{CalibrationRow, DeltaTable, Lake, Table};
use abforge_stats::Verdict;
use chrono::NaiveDate;
use std::sync::{Arc, PoisonError, RwLock};
use tokio::sync::Mutex;

/// Why a table could not be read.
pub type LoadError = String;

/// Rows of one kind, from a query's batches.
pub(crate) trait FromBatches: Sized + Send + Sync + 'static {
    /// The rows of the query's batches.
    fn from_batches(batches: &[RecordBatch]) -> Result<Vec<Self>, Box<abforge_lake::Error>>;
}

/// A gold table read whole.
pub(crate) trait Rows: FromBatches {
    /// The table.
    const TABLE: Table;
    /// The query reading it, the table being registered as `t`.
    const SQL: &'static str;
}

/// A table's rows and the version they were read at.
type Snapshot<R> = (Option<u64>, Arc<Vec<R>>);

/// One table kept up to date. At most one request refreshes it at a time; the others are
/// answered from the rows of the last refresh instead of waiting behind its listing (a
/// request waits only when there are no rows yet).
pub(crate) struct Cached<R> {
    /// The table as of the last refresh; held by the request refreshing it.
    table: Mutex<Option<DeltaTable>>,
    /// The rows of the last refresh, with the table version they were read at.
    last: RwLock<Option<Snapshot<R>>>,
}

impl<R: Rows> Cached<R> {
    pub(crate) fn new() -> Self {
        Cached {
            table: Mutex::new(None),
            last: RwLock::new(None),
        }
    }

    fn last(&self) -> Option<Snapshot<R>> {
        self.last
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The table's rows at its latest version (or at the last refresh, while another
    /// request refreshes it); `None` when it was never written.
    pub(crate) async fn rows(&self, lake: &Lake) -> Result<Option<Arc<Vec<R>>>, LoadError> {
        let mut slot = match self.table.try_lock() {
            Ok(slot) => slot,
            Err(_) => match self.last() {
                Some((_, rows)) => return Ok(Some(rows)),
                None => self.table.lock().await,
            },
        };
        let table = R::TABLE;
        if let Some(t) = slot.as_mut() {
            t.update_incremental(None)
                .await
                .map_err(|e| format!("reading the log of {table}: {e}"))?;
        } else {
            let Some(t) = lake.open(table).await.map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            *slot = Some(t);
        }
        let t = slot.as_ref().expect("opened above");
        let version = t.version();
        if let Some((v, rows)) = self.last()
            && v == version
        {
            return Ok(Some(rows));
        }
        let rows = Arc::new(read::<R>(lake, t).await?);
        *self.last.write().unwrap_or_else(PoisonError::into_inner) =
            Some((version, Arc::clone(&rows)));
        Ok(Some(rows))
    }
}

/// A table whose log is kept up to date, read with a filter on each request (the runs'
/// gold/group_daily and gold/group_quantiles: one partition, so one file, per run —
/// reading them all would cost a file per run). As with [`Cached`], one request at a time reads the log; the others
/// query the table as of the last read.
pub(crate) struct Live {
    table: Table,
    slot: Mutex<Option<DeltaTable>>,
    last: RwLock<Option<DeltaTable>>,
}

impl Live {
    pub(crate) fn new(table: Table) -> Self {
        Live {
            table,
            slot: Mutex::new(None),
            last: RwLock::new(None),
        }
    }

    fn last(&self) -> Option<DeltaTable> {
        self.last
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The table at its latest version (or at the last read, while another request reads
    /// its log); `None` when it was never written.
    async fn table(&self, lake: &Lake) -> Result<Option<DeltaTable>, LoadError> {
        let mut slot = match self.slot.try_lock() {
            Ok(slot) => slot,
            Err(_) => match self.last() {
                Some(t) => return Ok(Some(t)),
                None => self.slot.lock().await,
            },
        };
        let t = match slot.as_mut() {
            Some(t) => {
                t.update_incremental(None)
                    .await
                    .map_err(|e| format!("reading the log of {}: {e}", self.table))?;
                t.clone()
            }
            None => {
                let Some(t) = lake.open(self.table).await.map_err(|e| e.to_string())? else {
                    return Ok(None);
                };
                *slot = Some(t.clone());
                t
            }
        };
        *self.last.write().unwrap_or_else(PoisonError::into_inner) = Some(t.clone());
        Ok(Some(t))
    }

    /// The rows `sql` (with the table registered as `t`) selects; `None` when the table was
    /// never written.
    pub(crate) async fn query<R: FromBatches>(
        &self,
        lake: &Lake,
        sql: &str,
    ) -> Result<Option<Vec<R>>, LoadError> {
        let Some(t) = self.table(lake).await? else {
            return Ok(None);
        };
        let batches = lake
            .query_table(&t, "t", sql)
            .await
            .map_err(|e| format!("reading {}: {e}", self.table))?;
        R::from_batches(&batches)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

async fn read<R: Rows>(lake: &Lake, t: &DeltaTable) -> Result<Vec<R>, LoadError> {
    let batches = lake
        .query_table(t, "t", R::SQL)
        .await
        .map_err(|e| format!("reading {}: {e}", R::TABLE))?;
    R::from_batches(&batches).map_err(|e| e.to_string())
}

/// The verdict a gold row's `outcome` writes (`None` for NULL: not judged); a value that
/// names no verdict is an error, not a decision left out of the tallies.
fn verdict(v: Option<&str>) -> Result<Option<Verdict>, Box<abforge_lake::Error>> {
    v.map(|s| {
        Verdict::parse(s).ok_or_else(|| {
            Box::new(abforge_lake::Error::Other(format!(
                "an outcome {s:?} that names no verdict (allowed: correct, type_i, type_ii)"
            )))
        })
    })
    .transpose()
}

/// One decision of `gold/ab_results`: the run and metric it belongs to, and the decision
/// as the views show it.
#[derive(Debug, Clone)]
pub(crate) struct AbRow {
    pub experiment_id: String,
    pub run_id: String,
    pub run_date: NaiveDate,
    pub blueprint_hash: String,
    pub metric: String,
    pub decision: Decision,
}

impl Rows for AbRow {
    const TABLE: Table = Table::GoldAbResults;
    const SQL: &'static str = "SELECT * FROM t ORDER BY experiment_id, run_date, run_id, position";
}

impl FromBatches for AbRow {
    fn from_batches(batches: &[RecordBatch]) -> Result<Vec<Self>, Box<abforge_lake::Error>> {
        let mut out = Vec::new();
        for b in batches {
            let c = Columns::new(b);
            let (exp, run, date, hash) = (
                c.text("experiment_id")?,
                c.text("run_id")?,
                c.date("run_date")?,
                c.text("blueprint_hash")?,
            );
            let (metric, control, treatment, test) = (
                c.text("metric")?,
                c.text("control")?,
                c.text("treatment")?,
                c.text("test")?,
            );
            let (primary, estimate, lo, hi, p, padj) = (
                c.flag("primary")?,
                c.real("estimate")?,
                c.real("ci_low")?,
                c.real("ci_high")?,
                c.real("p_value")?,
                c.real("p_adjusted")?,
            );
            let (reject, truth, null, outcome) = (
                c.flag("reject")?,
                c.real("true_effect")?,
                c.flag("null_true")?,
                c.text("outcome")?,
            );
            for i in 0..b.num_rows() {
                out.push(AbRow {
                    experiment_id: required(exp[i].clone(), "experiment_id")?,
                    run_id: required(run[i].clone(), "run_id")?,
                    run_date: required(date[i], "run_date")?,
                    blueprint_hash: hash[i].clone().unwrap_or_default(),
                    metric: required(metric[i].clone(), "metric")?,
                    decision: Decision {
                        control: control[i].clone().unwrap_or_default(),
                        treatment: treatment[i].clone().unwrap_or_default(),
                        test: required(test[i].clone(), "test")?,
                        primary: primary[i],
                        estimate: estimate[i],
                        ci_low: lo[i],
                        ci_high: hi[i],
                        p_value: p[i],
                        p_adjusted: padj[i],
                        reject: reject[i],
                        true_effect: truth[i],
                        null_true: null[i],
                        outcome: verdict(outcome[i].as_deref())?,
                    },
                });
            }
        }
        Ok(out)
    }
}

/// One group × metric of a run in `gold/group_daily`, summed over the purchase dates.
#[derive(Debug, Clone)]
pub(crate) struct GroupRow {
    pub group: String,
    pub metric: String,
    pub n: i64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl GroupRow {
    /// The query of one run's rows, summed over its purchase dates. The ids are checked
    /// (`[a-z0-9_-]`) before they get here; the run date, when known, prunes the partitions.
    pub(crate) fn sql(experiment_id: &str, run_id: &str, run_date: Option<NaiveDate>) -> String {
        let safe = |s: &str| abforge_api::input::parse_id(s).is_ok();
        assert!(
            safe(experiment_id) && safe(run_id),
            "ids are checked before"
        );
        let date = run_date.map_or_else(String::new, |d| format!(" AND run_date = DATE '{d}'"));
        format!(
            "SELECT \"group\", metric, SUM(n) AS n, \
             SUM(\"sum\") AS s, SUM(sum_sq) AS ss FROM t \
             WHERE experiment_id = '{experiment_id}' AND run_id = '{run_id}'{date} \
             GROUP BY \"group\", metric ORDER BY metric, \"group\""
        )
    }
}

impl FromBatches for GroupRow {
    fn from_batches(batches: &[RecordBatch]) -> Result<Vec<Self>, Box<abforge_lake::Error>> {
        let mut out = Vec::new();
        for b in batches {
            let c = Columns::new(b);
            let (group, metric) = (c.text("group")?, c.text("metric")?);
            let (n, s, ss) = (c.int("n")?, c.real("s")?, c.real("ss")?);
            for i in 0..b.num_rows() {
                out.push(GroupRow {
                    group: group[i].clone().unwrap_or_default(),
                    metric: required(metric[i].clone(), "metric")?,
                    n: n[i].unwrap_or_default(),
                    sum: s[i].unwrap_or_default(),
                    sum_sq: ss[i].unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }
}

/// One observed quantile of a run in `gold/group_quantiles`: a group's metric at `p`.
#[derive(Debug, Clone)]
pub(crate) struct QuantRow {
    pub group: String,
    pub metric: String,
    pub p: f64,
    pub value: Option<f64>,
}

impl QuantRow {
    /// The query of one run's rows (ids checked as for [`GroupRow::sql`]).
    pub(crate) fn sql(experiment_id: &str, run_id: &str, run_date: Option<NaiveDate>) -> String {
        let safe = |s: &str| abforge_api::input::parse_id(s).is_ok();
        assert!(
            safe(experiment_id) && safe(run_id),
            "ids are checked before"
        );
        let date = run_date.map_or_else(String::new, |d| format!(" AND run_date = DATE '{d}'"));
        format!(
            "SELECT \"group\", metric, p, value FROM t \
             WHERE experiment_id = '{experiment_id}' AND run_id = '{run_id}'{date} \
             ORDER BY metric, \"group\", p"
        )
    }
}

impl FromBatches for QuantRow {
    fn from_batches(batches: &[RecordBatch]) -> Result<Vec<Self>, Box<abforge_lake::Error>> {
        let mut out = Vec::new();
        for b in batches {
            let c = Columns::new(b);
            let (group, metric) = (c.text("group")?, c.text("metric")?);
            let (p, value) = (c.real("p")?, c.real("value")?);
            for i in 0..b.num_rows() {
                out.push(QuantRow {
                    group: group[i].clone().unwrap_or_default(),
                    metric: required(metric[i].clone(), "metric")?,
                    p: required(p[i], "p")?,
                    value: value[i],
                });
            }
        }
        Ok(out)
    }
}

impl Rows for CalibrationRow {
    const TABLE: Table = Table::GoldCalibration;
    const SQL: &'static str = "SELECT * FROM t ORDER BY published_at DESC, calibration_id, \
        sweep_value, metric, arm, test";
}

impl FromBatches for CalibrationRow {
    fn from_batches(batches: &[RecordBatch]) -> Result<Vec<Self>, Box<abforge_lake::Error>> {
        Ok(CalibrationRow::from_batches(batches)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abforge_store::Objects;
    use futures_util::FutureExt;

    /// While one request refreshes a table, another is answered at once from the last
    /// rows: it does not wait for the refresh's lock.
    #[tokio::test]
    async fn readers_do_not_wait_behind_a_refresh() {
        let lake = Lake::new(&Objects::memory()).unwrap();
        let cached: Cached<AbRow> = Cached::new();
        // Never written: the first request reads the (absent) table.
        assert!(cached.rows(&lake).await.unwrap().is_none());
        let rows = Arc::new(Vec::new());
        *cached.last.write().unwrap() = Some((Some(3), Arc::clone(&rows)));
        let refreshing = cached.table.lock().await;
        let served = cached.rows(&lake).now_or_never().expect("answered at once");
        assert!(Arc::ptr_eq(&served.unwrap().unwrap(), &rows));
        drop(refreshing);

        let live = Live::new(Table::GoldGroupDaily);
        assert!(live.table(&lake).await.unwrap().is_none());
        let refreshing = live.slot.lock().await;
        // No snapshot yet: this request has to wait for the refresh.
        assert!(live.table(&lake).now_or_never().is_none());
        drop(refreshing);
    }
}
