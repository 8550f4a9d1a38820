//! `gold/calibration`: what `abforge calibrate --publish` measured — one row per sweep
//! value × metric × arm × test, with the settings that produced it.
//!
//! A publication is identified by its `calibration_id`, a digest of the blueprint and of
//! every setting that changes the numbers (replications, customers, α, seed, peeks,
//! resamples, the sweep): publishing the same calibration again replaces its rows in one
//! commit, and a different one sits beside it.
//!
//! [`CalibrationRow`] is the table's row, for writing and reading alike: [`Lake::calibration`]
//! writes a publication's rows, [`CalibrationRow::from_batches`] reads rows back from the
//! batches a query of the table returns.

use crate::error::{Error, Result};
use crate::lake::{Lake, Table};
use crate::layers::{Stamp, Written, session};
use crate::rows::{Columns, required};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, Utc};
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::{col, lit};
use std::sync::Arc;

/// One row of `gold/calibration`: one test's calibration on one metric and arm (at one sweep
/// value), the publication it belongs to, the settings that produced it and what it
/// measured. The lab's enums are written as their snake_case names.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationRow {
    /// The experiment (the blueprint's `id`).
    pub experiment_id: String,
    /// Identifies the publication (see the module's documentation).
    pub calibration_id: String,
    /// SHA-256 of the blueprint calibrated (as written, `choose` included).
    pub blueprint_hash: String,
    /// When the publication was written; [`Lake::calibration`] sets it for a row that has
    /// none.
    pub published_at: Option<DateTime<Utc>>,
    /// The swept parameter, when a sweep.
    pub sweep_param: Option<String>,
    /// The sweep's value at this point (`None` without a sweep).
    pub sweep_value: Option<f64>,
    /// Simulated experiments.
    pub replications: u64,
    /// Customers per experiment.
    pub customers: u64,
    /// The tests' significance level.
    pub alpha: f64,
    /// The calibration's seed.
    pub seed: u64,
    /// Looks at the data per experiment.
    pub peeks: u32,
    /// The metric.
    pub metric: String,
    /// The treatment arm compared with the control.
    pub arm: String,
    /// The test (`welch_t`, …).
    pub test: String,
    /// The metric's class (`binary`, `count`, `continuous`).
    pub kind: String,
    /// The null judged against (`mean`, `superiority`).
    pub null: String,
    /// Whether the test's null holds in truth (`None`: it varies across replications).
    pub null_true: Option<bool>,
    /// Replications where the test could not run.
    pub failed: u64,
    /// Share of replications that rejected.
    pub rejection_rate: f64,
    /// Lower end of the rate's 95 % Wilson interval.
    pub rejection_ci_low: f64,
    /// Upper end of the rate's 95 % Wilson interval.
    pub rejection_ci_high: f64,
    /// The rejection rate under a true null.
    pub type_i_error: Option<f64>,
    /// The rejection rate under a false null.
    pub power: Option<f64>,
    /// The power a formula gives, where one exists.
    pub analytic_power: Option<f64>,
    /// Share of intervals that held the true effect.
    pub ci_coverage: Option<f64>,
    /// Kolmogorov–Smirnov distance of the p-values from uniform, under true nulls.
    pub p_value_ks: Option<f64>,
    /// α lies outside the Wilson interval of the type I error (only below it for the mSPRT).
    pub miscalibrated: bool,
    /// True nulls kept.
    pub correct_accept: u64,
    /// False nulls rejected.
    pub correct_reject: u64,
    /// True nulls rejected.
    pub type_i: u64,
    /// False nulls kept.
    pub type_ii: u64,
    /// The mean of estimate − truth (NULL for a test without an estimate, and in rows
    /// written before the column existed).
    pub bias: Option<f64>,
    /// The Monte Carlo standard error of `bias`.
    pub bias_se: Option<f64>,
    /// A sequential test's mean customers at stopping, with several looks.
    pub mean_customers_at_stop: Option<f64>,
    /// The external engine (`name version`) whose test this is; `None` for abforge's own.
    /// Its `test` is then `engine:test`.
    pub engine: Option<String>,
}

impl CalibrationRow {
    /// The rows in `batches`, the result of a query of `gold/calibration` that selects every
    /// column (in any order). A NULL in a column the table declares non-null is read as
    /// empty, zero, NaN, false or, for `peeks`, 1; a count below zero as 0.
    ///
    /// # Errors
    /// [`Error::Other`] for a missing column, one that does not cast to the table's type, or a
    /// NULL `experiment_id` or `calibration_id`.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Vec<CalibrationRow>> {
        let mut rows = Vec::new();
        for b in batches {
            rows.extend(Self::from_batch(b)?);
        }
        Ok(rows)
    }

    fn from_batch(b: &RecordBatch) -> Result<Vec<CalibrationRow>> {
        let c = Columns::new(b);
        let text = |n: &str| c.text(n);
        let (exp, id, hash, published, param, value) = (
            text("experiment_id")?,
            text("calibration_id")?,
            text("blueprint_hash")?,
            c.time("published_at")?,
            text("sweep_param")?,
            c.real("sweep_value")?,
        );
        let (reps, customers, alpha, seed, peeks) = (
            c.int("replications")?,
            c.int("customers")?,
            c.real("alpha")?,
            text("seed")?,
            c.int("peeks")?,
        );
        let (metric, arm, test, kind, null, null_true, failed) = (
            text("metric")?,
            text("arm")?,
            text("test")?,
            text("kind")?,
            text("null")?,
            c.flag("null_true")?,
            c.int("failed")?,
        );
        let (rate, lo, hi, t1, power, analytic, coverage, ks, mis) = (
            c.real("rejection_rate")?,
            c.real("rejection_ci_low")?,
            c.real("rejection_ci_high")?,
            c.real("type_i_error")?,
            c.real("power")?,
            c.real("analytic_power")?,
            c.real("ci_coverage")?,
            c.real("p_value_ks")?,
            c.flag("miscalibrated")?,
        );
        let (ca, cr, ti, tii) = (
            c.int("correct_accept")?,
            c.int("correct_reject")?,
            c.int("type_i")?,
            c.int("type_ii")?,
        );
        let (bias, bias_se, stop) = (
            c.real_or_absent("bias")?,
            c.real_or_absent("bias_se")?,
            c.real_or_absent("mean_customers_at_stop")?,
        );
        let engine = c.text_or_absent("engine")?;
        let count = |v: Option<i64>| u64::try_from(v.unwrap_or_default()).unwrap_or_default();
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        (0..b.num_rows())
            .map(|i| {
                Ok(CalibrationRow {
                    experiment_id: required(exp[i].clone(), "experiment_id")?,
                    calibration_id: required(id[i].clone(), "calibration_id")?,
                    blueprint_hash: or_empty(&hash[i]),
                    published_at: published[i],
                    sweep_param: param[i].clone(),
                    sweep_value: value[i],
                    replications: count(reps[i]),
                    customers: count(customers[i]),
                    alpha: alpha[i].unwrap_or(f64::NAN),
                    seed: seed[i]
                        .as_deref()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_default(),
                    peeks: peeks[i].map_or(1, |p| u32::try_from(p).unwrap_or(1)),
                    metric: or_empty(&metric[i]),
                    arm: or_empty(&arm[i]),
                    test: or_empty(&test[i]),
                    kind: or_empty(&kind[i]),
                    null: or_empty(&null[i]),
                    null_true: null_true[i],
                    failed: count(failed[i]),
                    rejection_rate: rate[i].unwrap_or(f64::NAN),
                    rejection_ci_low: lo[i].unwrap_or(f64::NAN),
                    rejection_ci_high: hi[i].unwrap_or(f64::NAN),
                    type_i_error: t1[i],
                    power: power[i],
                    analytic_power: analytic[i],
                    ci_coverage: coverage[i],
                    p_value_ks: ks[i],
                    miscalibrated: mis[i].unwrap_or(false),
                    correct_accept: count(ca[i]),
                    correct_reject: count(cr[i]),
                    type_i: count(ti[i]),
                    type_ii: count(tii[i]),
                    bias: bias[i],
                    bias_se: bias_se[i],
                    mean_customers_at_stop: stop[i],
                    engine: engine[i].clone(),
                })
            })
            .collect()
    }

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("experiment_id", DataType::Utf8, false),
            Field::new("calibration_id", DataType::Utf8, false),
            Field::new("blueprint_hash", DataType::Utf8, false),
            Field::new(
                "published_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("sweep_param", DataType::Utf8, true),
            Field::new("sweep_value", DataType::Float64, true),
            Field::new("replications", DataType::Int64, false),
            Field::new("customers", DataType::Int64, false),
            Field::new("alpha", DataType::Float64, false),
            Field::new("seed", DataType::Utf8, false),
            Field::new("peeks", DataType::Int64, false),
            Field::new("metric", DataType::Utf8, false),
            Field::new("arm", DataType::Utf8, false),
            Field::new("test", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("null", DataType::Utf8, false),
            Field::new("null_true", DataType::Boolean, true),
            Field::new("failed", DataType::Int64, false),
            Field::new("rejection_rate", DataType::Float64, false),
            Field::new("rejection_ci_low", DataType::Float64, false),
            Field::new("rejection_ci_high", DataType::Float64, false),
            Field::new("type_i_error", DataType::Float64, true),
            Field::new("power", DataType::Float64, true),
            Field::new("analytic_power", DataType::Float64, true),
            Field::new("ci_coverage", DataType::Float64, true),
            Field::new("p_value_ks", DataType::Float64, true),
            Field::new("miscalibrated", DataType::Boolean, false),
            Field::new("correct_accept", DataType::Int64, false),
            Field::new("correct_reject", DataType::Int64, false),
            Field::new("type_i", DataType::Int64, false),
            Field::new("type_ii", DataType::Int64, false),
            Field::new("bias", DataType::Float64, true),
            Field::new("bias_se", DataType::Float64, true),
            Field::new("mean_customers_at_stop", DataType::Float64, true),
            Field::new("engine", DataType::Utf8, true),
        ])
    }

    /// The rows of a publication as one batch; `published_at` is `now` where a row has none.
    fn batch(rows: &[CalibrationRow], now: DateTime<Utc>) -> Result<RecordBatch> {
        let text = |f: &dyn Fn(&CalibrationRow) -> String| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let real = |f: &dyn Fn(&CalibrationRow) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        // Delta has signed integers only: a count beyond i64 (never in practice) saturates.
        let int = |f: &dyn Fn(&CalibrationRow) -> u64| -> ArrayRef {
            let v = rows.iter().map(|r| i64::try_from(f(r)).unwrap_or(i64::MAX));
            Arc::new(Int64Array::from(v.collect::<Vec<_>>()))
        };
        let flag = |f: &dyn Fn(&CalibrationRow) -> Option<bool>| -> ArrayRef {
            Arc::new(BooleanArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let published = rows
            .iter()
            .map(|r| r.published_at.unwrap_or(now).timestamp_micros());
        let columns: Vec<ArrayRef> = vec![
            text(&|r| r.experiment_id.clone()),
            text(&|r| r.calibration_id.clone()),
            text(&|r| r.blueprint_hash.clone()),
            Arc::new(
                TimestampMicrosecondArray::from(published.collect::<Vec<_>>()).with_timezone("UTC"),
            ),
            Arc::new(StringArray::from(
                rows.iter()
                    .map(|r| r.sweep_param.as_deref())
                    .collect::<Vec<_>>(),
            )),
            real(&|r| r.sweep_value),
            int(&|r| r.replications),
            int(&|r| r.customers),
            real(&|r| Some(r.alpha)),
            // A u64 seed does not fit Delta's signed integers: kept exactly, as text.
            text(&|r| r.seed.to_string()),
            int(&|r| u64::from(r.peeks)),
            text(&|r| r.metric.clone()),
            text(&|r| r.arm.clone()),
            text(&|r| r.test.clone()),
            text(&|r| r.kind.clone()),
            text(&|r| r.null.clone()),
            flag(&|r| r.null_true),
            int(&|r| r.failed),
            real(&|r| Some(r.rejection_rate)),
            real(&|r| Some(r.rejection_ci_low)),
            real(&|r| Some(r.rejection_ci_high)),
            real(&|r| r.type_i_error),
            real(&|r| r.power),
            real(&|r| r.analytic_power),
            real(&|r| r.ci_coverage),
            real(&|r| r.p_value_ks),
            flag(&|r| Some(r.miscalibrated)),
            int(&|r| r.correct_accept),
            int(&|r| r.correct_reject),
            int(&|r| r.type_i),
            int(&|r| r.type_ii),
            real(&|r| r.bias),
            real(&|r| r.bias_se),
            real(&|r| r.mean_customers_at_stop),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.engine.as_deref()).collect::<Vec<_>>(),
            )),
        ];
        RecordBatch::try_new(Arc::new(Self::schema()), columns).map_err(|e| {
            let id = rows.first().map_or("", |r| r.calibration_id.as_str());
            Error::Other(format!("calibration {id}: {e}"))
        })
    }
}

/// The first of `rows`, checked to be of one publication: rows of one experiment sharing
/// their calibration id, blueprint hash and sweep parameter.
fn publication(rows: &[CalibrationRow]) -> Result<&CalibrationRow> {
    let Some(first) = rows.first() else {
        return Err(Error::Usage(
            "a calibration with no results to publish".into(),
        ));
    };
    if let Some(other) = rows.iter().find(|r| r.experiment_id != first.experiment_id) {
        return Err(Error::Usage(format!(
            "calibration {} has rows of experiments {:?} and {:?}; a publication is of one \
             experiment",
            first.calibration_id, first.experiment_id, other.experiment_id
        )));
    }
    fn shared(r: &CalibrationRow) -> (&str, &str, Option<&str>) {
        (
            &r.calibration_id,
            &r.blueprint_hash,
            r.sweep_param.as_deref(),
        )
    }
    if let Some(other) = rows.iter().find(|r| shared(r) != shared(first)) {
        return Err(Error::Usage(format!(
            "rows of calibrations {} and {} (blueprints {} and {}, sweeps {:?} and {:?}); a \
             publication's rows share its id, blueprint hash and sweep parameter",
            first.calibration_id,
            other.calibration_id,
            first.blueprint_hash,
            other.blueprint_hash,
            first.sweep_param,
            other.sweep_param
        )));
    }
    Ok(first)
}

impl Lake {
    /// Writes a publication's rows to `gold/calibration`, replacing the rows of an earlier
    /// publication with the same `calibration_id`. Rows without `published_at` get the time
    /// of writing.
    ///
    /// # Errors
    /// [`Error::Usage`] for a calibration without results, or with rows of more than one
    /// experiment or publication; Delta errors.
    pub async fn calibration(&self, rows: &[CalibrationRow]) -> Result<Written> {
        let first = publication(rows)?;
        let batch = CalibrationRow::batch(rows, Utc::now())?;
        let ctx = session();
        let source = MemTable::try_new(batch.schema(), vec![vec![batch]])
            .map_err(Error::sql("the calibration"))?;
        let plan = ctx
            .read_table(Arc::new(source))
            .map_err(Error::sql("the calibration"))?
            .into_unoptimized_plan();
        let stamp = Stamp {
            experiment_id: &first.experiment_id,
            run_id: &first.calibration_id,
            blueprint_hash: &first.blueprint_hash,
        };
        self.replace(
            Table::GoldCalibration,
            &stamp,
            "calibrate",
            &ctx,
            plan,
            col("experiment_id")
                .eq(lit(first.experiment_id.as_str()))
                .and(col("calibration_id").eq(lit(first.calibration_id.as_str()))),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abforge_store::Objects;

    /// A row of publication `id` at sweep value `v`; `full` sets the values that may be
    /// absent.
    fn row(id: &str, v: Option<f64>, test: &str, full: bool) -> CalibrationRow {
        let some = |x: f64| full.then_some(x);
        CalibrationRow {
            experiment_id: "exp".into(),
            calibration_id: id.into(),
            blueprint_hash: "h".into(),
            published_at: None,
            sweep_param: Some("metrics.items.treatment.lambda".into()),
            sweep_value: v,
            replications: 200,
            customers: 1000,
            alpha: 0.05,
            // Beyond Delta's signed integers: kept as text, exactly.
            seed: u64::MAX,
            peeks: 3,
            metric: "items".into(),
            arm: "treatment".into(),
            test: test.into(),
            kind: "count".into(),
            null: "mean".into(),
            null_true: full.then_some(false),
            failed: 1,
            rejection_rate: 0.8,
            rejection_ci_low: 0.74,
            rejection_ci_high: 0.85,
            type_i_error: None,
            power: some(0.8),
            analytic_power: some(0.79),
            ci_coverage: some(0.95),
            p_value_ks: None,
            miscalibrated: full,
            correct_accept: 0,
            correct_reject: 160,
            type_i: 0,
            type_ii: 39,
            bias: some(-0.01),
            bias_se: some(0.002),
            mean_customers_at_stop: None,
            engine: full.then(|| "gbstats 0.8.0".to_string()),
        }
    }

    async fn read(lake: &Lake) -> Vec<CalibrationRow> {
        let batches = lake
            .query("SELECT * FROM gold_calibration ORDER BY sweep_value", None)
            .await
            .unwrap();
        CalibrationRow::from_batches(&batches).unwrap()
    }

    #[tokio::test]
    async fn rows_read_back_as_written() {
        let lake = Lake::new(&Objects::memory()).unwrap();
        let rows = vec![
            row("c1", Some(1.0), "welch_t", true),
            row("c1", Some(2.0), "mann_whitney", false),
        ];
        let before = Utc::now();
        lake.calibration(&rows).await.unwrap();
        let back = read(&lake).await;
        // Written without a time, the rows get the time of writing.
        let at = back[0].published_at;
        assert!(at.is_some_and(|t| t >= before - chrono::Duration::seconds(1)));
        let stamped: Vec<CalibrationRow> = rows
            .into_iter()
            .map(|r| CalibrationRow {
                published_at: at,
                ..r
            })
            .collect();
        assert_eq!(back, stamped);

        // A time given is kept; publishing the same calibration again replaces its rows.
        let t = DateTime::parse_from_rfc3339("2026-11-23T09:00:00.123456Z")
            .unwrap()
            .to_utc();
        let again = vec![CalibrationRow {
            published_at: Some(t),
            ..row("c1", Some(3.0), "welch_t", true)
        }];
        lake.calibration(&again).await.unwrap();
        assert_eq!(read(&lake).await, again);
    }

    #[tokio::test]
    async fn a_publication_is_one_calibration_of_one_experiment() {
        let lake = Lake::new(&Objects::memory()).unwrap();
        let refused = |rows: Vec<CalibrationRow>| {
            let lake = &lake;
            async move {
                let e = lake.calibration(&rows).await.unwrap_err();
                assert!(e.is_usage(), "{e}");
                e.to_string()
            }
        };
        assert!(refused(vec![]).await.contains("no results"));
        let other = CalibrationRow {
            experiment_id: "exp2".into(),
            ..row("c1", None, "welch_t", true)
        };
        let m = refused(vec![row("c1", None, "welch_t", true), other]).await;
        assert!(m.contains("a publication is of one experiment"), "{m}");
        let m = refused(vec![
            row("c1", None, "welch_t", true),
            row("c2", None, "welch_t", true),
        ])
        .await;
        assert!(m.contains("rows of calibrations c1 and c2"), "{m}");
        assert!(lake.open(Table::GoldCalibration).await.unwrap().is_none());
    }
}
