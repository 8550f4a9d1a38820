//! `gold/calibration`: what `abforge calibrate --publish` measured — one row per sweep
//! value × metric × arm × test, with the settings that produced it.
//!
//! A publication is identified by its `calibration_id`, a digest of the blueprint and of
//! every setting that changes the numbers (replications, customers, α, seed, peeks,
//! resamples, the sweep): publishing the same calibration again replaces its rows in one
//! commit, and a different one sits beside it.

use crate::error::{Error, Result};
use crate::lake::{Lake, Table};
use crate::layers::{Stamp, Written, session};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::{col, lit};
use std::sync::Arc;

/// A calibration to publish: its rows, one per sweep value × metric × arm × test.
#[derive(Debug, Clone)]
pub struct CalibrationRecord {
    /// Identifies the publication (see the module's documentation).
    pub calibration_id: String,
    /// SHA-256 of the blueprint calibrated (as written, `choose` included).
    pub blueprint_hash: String,
    /// The swept parameter, when a sweep.
    pub sweep_param: Option<String>,
    /// The rows; all of one experiment.
    pub rows: Vec<CalibrationRow>,
}

/// One test's calibration on one metric and arm (at one sweep value): the settings that
/// produced it and what it measured. The lab's enums are written as their snake_case names.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationRow {
    /// The experiment (the blueprint's `id`).
    pub experiment_id: String,
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
}

impl CalibrationRecord {
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
        ])
    }

    fn batch(&self) -> Result<RecordBatch> {
        let rows = &self.rows;
        let n = rows.len();
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
        let published = chrono::Utc::now().timestamp_micros();
        let columns: Vec<ArrayRef> = vec![
            text(&|r| r.experiment_id.clone()),
            Arc::new(StringArray::from(vec![self.calibration_id.as_str(); n])),
            Arc::new(StringArray::from(vec![self.blueprint_hash.as_str(); n])),
            Arc::new(TimestampMicrosecondArray::from(vec![published; n]).with_timezone("UTC")),
            Arc::new(StringArray::from(vec![self.sweep_param.as_deref(); n])),
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
        ];
        RecordBatch::try_new(Arc::new(Self::schema()), columns)
            .map_err(|e| Error::Other(format!("calibration {}: {e}", self.calibration_id)))
    }
}

impl Lake {
    /// Writes a calibration to `gold/calibration`, replacing the rows of an earlier
    /// publication with the same `calibration_id`.
    ///
    /// # Errors
    /// [`Error::Usage`] for a calibration without results, or with rows of more than one
    /// experiment; Delta errors.
    pub async fn calibration(&self, record: &CalibrationRecord) -> Result<Written> {
        let Some(first) = record.rows.first() else {
            return Err(Error::Usage(
                "a calibration with no results to publish".into(),
            ));
        };
        let experiment_id = first.experiment_id.clone();
        if let Some(other) = record
            .rows
            .iter()
            .find(|r| r.experiment_id != experiment_id)
        {
            return Err(Error::Usage(format!(
                "calibration {} has rows of experiments {experiment_id:?} and {:?}; a \
                 publication is of one experiment",
                record.calibration_id, other.experiment_id
            )));
        }
        let batch = record.batch()?;
        let ctx = session();
        let source = MemTable::try_new(batch.schema(), vec![vec![batch]])
            .map_err(Error::sql("the calibration"))?;
        let plan = ctx
            .read_table(Arc::new(source))
            .map_err(Error::sql("the calibration"))?
            .into_unoptimized_plan();
        let stamp = Stamp {
            experiment_id: &experiment_id,
            run_id: &record.calibration_id,
            blueprint_hash: &record.blueprint_hash,
        };
        self.replace(
            Table::GoldCalibration,
            &stamp,
            "calibrate",
            &ctx,
            plan,
            col("experiment_id")
                .eq(lit(experiment_id.as_str()))
                .and(col("calibration_id").eq(lit(record.calibration_id.as_str()))),
        )
        .await
    }
}
