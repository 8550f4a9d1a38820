//! The calibration charts: the rows of a publication turned back into the lab's
//! [`Calibration`] (or [`SweepReport`]) and drawn by the lab's own plotting code, the one
//! `abforge calibrate --plot` uses, as SVG.

use crate::tables::CalRow;
use abforge_lab::{Calibration, Confusion, SweepPoint, SweepReport, TestResult};
use serde_json::Value;

fn named<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(Value::String(s.to_owned())).ok()
}

fn result(r: &CalRow) -> Option<TestResult> {
    let u = |v: i64| u64::try_from(v).unwrap_or_default();
    Some(TestResult {
        metric: r.metric.clone(),
        arm: r.arm.clone(),
        test: named(&r.test)?,
        kind: named(&r.kind)?,
        null: named(&r.null)?,
        null_true: r.null_true,
        replications: u(r.replications),
        failed: u(r.failed),
        rejection_rate: r.rejection_rate,
        ci_low: r.rejection_ci_low,
        ci_high: r.rejection_ci_high,
        type_i_error: r.type_i_error,
        power: r.power,
        analytic_power: r.analytic_power,
        ci_coverage: r.ci_coverage,
        p_value_ks: r.p_value_ks,
        p_value_ks_p: None,
        miscalibrated: r.miscalibrated,
        confusion: Confusion {
            correct_accept: u(r.correct_accept),
            correct_reject: u(r.correct_reject),
            type_i: u(r.type_i),
            type_ii: u(r.type_ii),
        },
    })
}

fn calibration(rows: &[&CalRow]) -> Option<Calibration> {
    let first = rows.first()?;
    Some(Calibration {
        experiment_id: first.experiment_id.clone(),
        replications: u64::try_from(first.replications).unwrap_or_default(),
        customers: u64::try_from(first.customers).unwrap_or_default(),
        group_sizes: Vec::new(),
        alpha: first.alpha,
        seed: first.seed.parse().unwrap_or_default(),
        peeks: u32::try_from(first.peeks).unwrap_or(1),
        choices_per_replication: false,
        bootstrap_resamples: None,
        permutation_resamples: None,
        // Rows of tests this version does not know are left out of the chart (they stay in
        // the table).
        results: rows.iter().filter_map(|r| result(r)).collect(),
    })
}

/// The chart of a publication's rows (already filtered): a power curve for a sweep, the
/// rejection rates against α otherwise. `None` when there is nothing to draw.
pub(crate) fn svg(rows: &[CalRow]) -> Option<Result<String, String>> {
    let first = rows.first()?;
    let draw = match &first.sweep_param {
        None => {
            let all: Vec<&CalRow> = rows.iter().collect();
            let cal = calibration(&all)?;
            if cal.results.is_empty() {
                return None;
            }
            abforge_lab::calibration_svg(&cal)
        }
        Some(param) => {
            let mut values: Vec<f64> = rows.iter().filter_map(|r| r.sweep_value).collect();
            values.sort_by(f64::total_cmp);
            values.dedup();
            let points: Vec<SweepPoint> = values
                .iter()
                .filter_map(|v| {
                    let at: Vec<&CalRow> =
                        rows.iter().filter(|r| r.sweep_value == Some(*v)).collect();
                    calibration(&at).map(|calibration| SweepPoint {
                        value: *v,
                        calibration,
                    })
                })
                .collect();
            if points.iter().all(|p| p.calibration.results.is_empty()) {
                return None;
            }
            abforge_lab::sweep_svg(&SweepReport {
                param: param.clone(),
                values,
                points,
            })
        }
    };
    Some(draw.map_err(|e| e.to_string()))
}
