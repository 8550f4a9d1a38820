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
use abforge_lab::{Calibration, SweepReport};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::{col, lit};
use std::sync::Arc;

/// A calibration to publish: a single one, or a sweep's points.
#[derive(Debug, Clone)]
pub struct CalibrationRecord<'a> {
    /// Identifies the publication (see the module's documentation).
    pub calibration_id: String,
    /// SHA-256 of the blueprint calibrated (as written, `choose` included).
    pub blueprint_hash: String,
    /// The swept parameter, when a sweep.
    pub sweep_param: Option<String>,
    /// The calibrations, each with its sweep value (`None` without a sweep).
    pub points: Vec<(Option<f64>, &'a Calibration)>,
}

impl<'a> CalibrationRecord<'a> {
    /// A single calibration.
    pub fn one(calibration_id: String, blueprint_hash: String, c: &'a Calibration) -> Self {
        CalibrationRecord {
            calibration_id,
            blueprint_hash,
            sweep_param: None,
            points: vec![(None, c)],
        }
    }

    /// Every point of a sweep.
    pub fn sweep(calibration_id: String, blueprint_hash: String, s: &'a SweepReport) -> Self {
        CalibrationRecord {
            calibration_id,
            blueprint_hash,
            sweep_param: Some(s.param.clone()),
            points: s
                .points
                .iter()
                .map(|p| (Some(p.value), &p.calibration))
                .collect(),
        }
    }

    fn batch(&self) -> Result<RecordBatch> {
        let rows: Vec<(Option<f64>, &Calibration, &abforge_lab::TestResult)> = self
            .points
            .iter()
            .flat_map(|(v, c)| c.results.iter().map(move |r| (*v, *c, r)))
            .collect();
        let n = rows.len();
        type Row<'r> = (Option<f64>, &'r Calibration, &'r abforge_lab::TestResult);
        let text = |f: &dyn Fn(&Row) -> String| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let real = |f: &dyn Fn(&Row) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let int = |f: &dyn Fn(&Row) -> i64| -> ArrayRef {
            Arc::new(Int64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let flag = |f: &dyn Fn(&Row) -> Option<bool>| -> ArrayRef {
            Arc::new(BooleanArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        // The lab's enums serialise to their snake_case names.
        let name = |v: &dyn erased::Named| v.name();
        let published = chrono::Utc::now().timestamp_micros();
        let u = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        let schema = Arc::new(Schema::new(vec![
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
        ]));
        let columns: Vec<ArrayRef> = vec![
            text(&|r| r.1.experiment_id.clone()),
            Arc::new(StringArray::from(vec![self.calibration_id.as_str(); n])),
            Arc::new(StringArray::from(vec![self.blueprint_hash.as_str(); n])),
            Arc::new(TimestampMicrosecondArray::from(vec![published; n]).with_timezone("UTC")),
            Arc::new(StringArray::from(vec![self.sweep_param.as_deref(); n])),
            real(&|r| r.0),
            int(&|r| u(r.2.replications)),
            int(&|r| u(r.1.customers)),
            real(&|r| Some(r.1.alpha)),
            // A u64 seed does not fit Delta's signed integers: kept exactly, as text.
            text(&|r| r.1.seed.to_string()),
            int(&|r| i64::from(r.1.peeks)),
            text(&|r| r.2.metric.clone()),
            text(&|r| r.2.arm.clone()),
            text(&|r| name(&r.2.test)),
            text(&|r| name(&r.2.kind)),
            text(&|r| name(&r.2.null)),
            flag(&|r| r.2.null_true),
            int(&|r| u(r.2.failed)),
            real(&|r| Some(r.2.rejection_rate)),
            real(&|r| Some(r.2.ci_low)),
            real(&|r| Some(r.2.ci_high)),
            real(&|r| r.2.type_i_error),
            real(&|r| r.2.power),
            real(&|r| r.2.analytic_power),
            real(&|r| r.2.ci_coverage),
            real(&|r| r.2.p_value_ks),
            flag(&|r| Some(r.2.miscalibrated)),
            int(&|r| u(r.2.confusion.correct_accept)),
            int(&|r| u(r.2.confusion.correct_reject)),
            int(&|r| u(r.2.confusion.type_i)),
            int(&|r| u(r.2.confusion.type_ii)),
        ];
        RecordBatch::try_new(schema, columns)
            .map_err(|e| Error::Other(format!("calibration {}: {e}", self.calibration_id)))
    }
}

mod erased {
    /// A lab enum's snake_case name, as its `Serialize` spells it.
    pub trait Named {
        fn name(&self) -> String;
    }
    impl<T: serde::Serialize> Named for T {
        fn name(&self) -> String {
            match serde_json::to_value(self) {
                Ok(serde_json::Value::String(s)) => s,
                Ok(v) => v.to_string(),
                Err(e) => format!("<{e}>"),
            }
        }
    }
}

impl Lake {
    /// Writes a calibration to `gold/calibration`, replacing the rows of an earlier
    /// publication with the same `calibration_id`.
    ///
    /// # Errors
    /// [`Error::Usage`] for a calibration without results; Delta errors.
    pub async fn calibration(&self, record: &CalibrationRecord<'_>) -> Result<Written> {
        let Some((_, first)) = record.points.first() else {
            return Err(Error::Usage(
                "a calibration with no results to publish".into(),
            ));
        };
        let experiment_id = first.experiment_id.clone();
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
