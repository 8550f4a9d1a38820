//! The calibration charts: the lab's results written as the rows of `gold/calibration`
//! ([`calibration_rows`], what `abforge calibrate --publish` writes), and those rows turned
//! back into the lab's [`Calibration`] (or [`SweepReport`]) and drawn by the lab's own
//! plotting code, the one `abforge calibrate --plot` uses, as SVG; an engine's publication
//! ([`engine_svg`]) is drawn the same way, its tests beside abforge's.

use abforge_lab::{Calibration, Confusion, SweepPoint, SweepReport, TestResult};
use abforge_lake::CalibrationRow;
use serde_json::Value;

fn named<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(Value::String(s.to_owned())).ok()
}

/// A lab enum's snake_case name, as its `Serialize` spells it (the inverse of [`named`]).
fn name_of<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(e) => format!("<{e}>"),
    }
}

/// The publication of calibrations as rows of `gold/calibration`: `points` are the
/// calibrations with their sweep values (one point, valued `None`, without a sweep). The
/// rows have no `published_at`: the lake stamps them as it writes them.
pub fn calibration_rows(
    calibration_id: String,
    blueprint_hash: String,
    sweep_param: Option<String>,
    points: &[(Option<f64>, &Calibration)],
) -> Vec<CalibrationRow> {
    let shared = Shared {
        calibration_id,
        blueprint_hash,
        sweep_param,
    };
    let mut rows: Vec<CalibrationRow> = points
        .iter()
        .flat_map(|&(v, c)| c.results.iter().map(move |r| (v, c, r)))
        .map(|(v, c, r)| row_of(&shared, v, c, r))
        .collect();
    for &(v, c) in points {
        let Some(e) = &c.engine else { continue };
        for r in &e.results {
            let mut row = row_of(&shared, v, c, r);
            row.test = format!("{}:{}", e.engine, r.test);
            row.engine = Some(format!("{} {}", e.engine, e.version));
            rows.push(row);
        }
    }
    rows
}

/// What every row of a publication shares.
struct Shared {
    calibration_id: String,
    blueprint_hash: String,
    sweep_param: Option<String>,
}

/// One result of a calibration as a row of publication `p`.
fn row_of<T: std::fmt::Display>(
    p: &Shared,
    sweep_value: Option<f64>,
    c: &Calibration,
    r: &TestResult<T>,
) -> CalibrationRow {
    CalibrationRow {
        experiment_id: c.experiment_id.clone(),
        calibration_id: p.calibration_id.clone(),
        blueprint_hash: p.blueprint_hash.clone(),
        published_at: None,
        sweep_param: p.sweep_param.clone(),
        sweep_value,
        replications: r.replications,
        customers: c.customers,
        alpha: c.alpha,
        seed: c.seed,
        peeks: c.peeks,
        metric: r.metric.clone(),
        arm: r.arm.clone(),
        test: r.test.to_string(),
        kind: name_of(&r.kind),
        null: name_of(&r.null),
        null_true: r.null_true,
        failed: r.failed,
        rejection_rate: r.rejection_rate,
        rejection_ci_low: r.ci_low,
        rejection_ci_high: r.ci_high,
        type_i_error: r.type_i_error,
        power: r.power,
        analytic_power: r.analytic_power,
        ci_coverage: r.ci_coverage,
        p_value_ks: r.p_value_ks,
        miscalibrated: r.miscalibrated,
        correct_accept: r.confusion.correct_accept,
        correct_reject: r.confusion.correct_reject,
        type_i: r.confusion.type_i,
        type_ii: r.confusion.type_ii,
        bias: r.bias,
        bias_se: r.bias_se,
        mean_customers_at_stop: r.mean_customers_at_stop,
        engine: None,
    }
}

fn result(r: &CalibrationRow) -> Option<TestResult> {
    result_of(r, named(&r.test)?)
}

/// A row as the lab's result of `test` (`None` for a kind or null this version does not
/// know).
fn result_of<T>(r: &CalibrationRow, test: T) -> Option<TestResult<T>> {
    Some(TestResult {
        metric: r.metric.clone(),
        arm: r.arm.clone(),
        test,
        kind: named(&r.kind)?,
        null: named(&r.null)?,
        null_true: r.null_true,
        replications: r.replications,
        failed: r.failed,
        rejection_rate: r.rejection_rate,
        ci_low: r.rejection_ci_low,
        ci_high: r.rejection_ci_high,
        type_i_error: r.type_i_error,
        power: r.power,
        analytic_power: r.analytic_power,
        ci_coverage: r.ci_coverage,
        p_value_ks: r.p_value_ks,
        p_value_ks_p: None,
        bias: r.bias,
        bias_se: r.bias_se,
        mean_customers_at_stop: r.mean_customers_at_stop,
        miscalibrated: r.miscalibrated,
        confusion: Confusion {
            correct_accept: r.correct_accept,
            correct_reject: r.correct_reject,
            type_i: r.type_i,
            type_ii: r.type_ii,
        },
    })
}

fn calibration(rows: &[&CalibrationRow]) -> Option<Calibration> {
    let first = rows.first()?;
    Some(Calibration {
        experiment_id: first.experiment_id.clone(),
        replications: first.replications,
        customers: first.customers,
        group_sizes: Vec::new(),
        alpha: first.alpha,
        seed: first.seed,
        peeks: first.peeks,
        choices_per_replication: false,
        bootstrap_resamples: None,
        permutation_resamples: None,
        // Rows of tests this version does not know are left out of the chart (they stay in
        // the table).
        results: rows.iter().filter_map(|r| result(r)).collect(),
        claims: Vec::new(),
        families: Vec::new(),
        engine: None,
        // The gold table has no sample-ratio rows.
        srm: None,
    })
}

/// The chart of a publication's rows (already filtered): a power curve for a sweep, the
/// rejection rates against α otherwise. `None` when there is nothing to draw.
pub(crate) fn svg(rows: &[CalibrationRow]) -> Option<Result<String, String>> {
    let first = rows.first()?;
    let draw = match &first.sweep_param {
        None => {
            let all: Vec<&CalibrationRow> = rows.iter().collect();
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
                    let at: Vec<&CalibrationRow> =
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

/// The chart of an engine's publication (`rows`, its engine's and abforge's tests): every
/// test's rejection rate with its Wilson interval against α where the null is true, its power
/// where it is false, one panel per metric × arm (× sweep value, for a sweep). `None` when
/// there is nothing to draw.
pub(crate) fn engine_svg(rows: &[CalibrationRow]) -> Option<Result<String, String>> {
    let first = rows.first()?;
    let settings = calibration(&[first])?;
    let results: Vec<TestResult<String>> = rows
        .iter()
        .filter_map(|r| {
            let mut t = result_of(r, r.test.clone())?;
            if let (Some(param), Some(v)) = (&r.sweep_param, r.sweep_value) {
                t.arm = format!("{} at {param} = {v}", t.arm);
            }
            Some(t)
        })
        .collect();
    if results.is_empty() {
        return None;
    }
    Some(abforge_lab::results_svg(&settings, &results).map_err(|e| e.to_string()))
}

/// `svg`, a plotters document, given a `<title>` and a `<desc>` (its text alternative) as
/// its first children and `role="img"` labelled by them; `id` names them on the page.
pub(crate) fn titled(svg: &str, id: &str, title: &str, desc: &str) -> String {
    let Some(open) = svg.find("<svg") else {
        return svg.to_owned();
    };
    let Some(end) = svg[open..].find('>').map(|e| open + e) else {
        return svg.to_owned();
    };
    let esc = |s: &str| maud::html! { (s) }.into_string();
    let (t, d) = (esc(&format!("{id}-title")), esc(&format!("{id}-desc")));
    let (head, tail) = svg.split_at(end);
    format!(
        "{head} id=\"{}\" role=\"img\" aria-labelledby=\"{t} {d}\">\
         <title id=\"{t}\">{}</title><desc id=\"{d}\">{}</desc>{}",
        esc(id),
        esc(title),
        esc(desc),
        &tail[1..]
    )
}
