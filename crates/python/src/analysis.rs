//! `abforge.analyze`: `abforge_analysis` on Arrow tabular data (a pyarrow Table, a polars
//! DataFrame, anything with `__arrow_c_stream__`; the Python side turns pandas frames into
//! Arrow), and its result, `Analysis`.

use crate::blueprint::{Blueprint, json_to_py};
use crate::{errors, interrupt};
use abforge_analysis::{
    Alternative, Correction, Dataset, Decision, MetricPrior, Options, RatioSpec, Report,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3_arrow::PyTable;
use std::sync::Arc;

/// The result of `abforge.analyze`: every test on every metric × treatment arm, the
/// sample-ratio check and, when the blueprint is known, each decision judged against the
/// truth.
#[pyclass(module = "abforge", frozen)]
#[derive(Debug)]
pub struct Analysis {
    report: Report,
    opts: Options,
    data: Arc<Dataset>,
    tests: Option<Vec<String>>,
}

/// A `str` or a sequence of them, as a list.
pub fn strings(param: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match v.filter(|v| !v.is_none()) {
        None => Ok(Vec::new()),
        Some(v) if v.is_instance_of::<PyString>() => Ok(vec![v.extract()?]),
        Some(v) => v
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("{param}: expected a str or a list of str"))),
    }
}

/// `two-sided` (or `two_sided`), `greater`, `less`.
pub fn alternative(s: &str) -> PyResult<Alternative> {
    match s {
        "two-sided" | "two_sided" => Ok(Alternative::TwoSided),
        "greater" => Ok(Alternative::Greater),
        "less" => Ok(Alternative::Less),
        _ => Err(errors::not_one_of(
            "alternative",
            s,
            &["two-sided", "greater", "less"],
        )),
    }
}

fn correction(s: &str) -> PyResult<Correction> {
    match s {
        "holm" => Ok(Correction::Holm),
        "bonferroni" => Ok(Correction::Bonferroni),
        "bh" | "benjamini_hochberg" => Ok(Correction::BenjaminiHochberg),
        "none" => Ok(Correction::None),
        _ => Err(errors::not_one_of(
            "correction",
            s,
            &["holm", "bonferroni", "bh", "none"],
        )),
    }
}

/// Ratio metrics as `"NUM/DEN"` or `(NUM, DEN)`.
fn ratios(v: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<RatioSpec>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    let bad = || PyTypeError::new_err("ratios: expected a list of \"NUM/DEN\" or (NUM, DEN)");
    let mut out = Vec::new();
    for item in v.try_iter().map_err(|_| bad())? {
        let item = item?;
        let (numerator, denominator) = if let Ok(s) = item.extract::<String>() {
            let (n, d) = s.split_once('/').ok_or_else(|| {
                PyValueError::new_err(format!(
                    "ratios {s:?}: expected NUM/DEN, e.g. revenue/items"
                ))
            })?;
            (n.to_string(), d.to_string())
        } else {
            item.extract::<(String, String)>().map_err(|_| bad())?
        };
        out.push(RatioSpec {
            numerator,
            denominator,
        });
    }
    Ok(out)
}

/// Priors as `{metric: "normal:MEAN,SD" | "beta:A,B"}`.
pub fn priors(v: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<MetricPrior>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    let d = v.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err("priors: expected a dict {metric: \"normal:MEAN,SD\" or \"beta:A,B\"}")
    })?;
    let mut out = Vec::new();
    for (k, law) in d.iter() {
        let spec = format!("{}={}", k.extract::<String>()?, law.extract::<String>()?);
        out.push(
            spec.parse::<MetricPrior>()
                .map_err(|e| PyValueError::new_err(format!("priors {spec:?}: {e}")))?,
        );
    }
    Ok(out)
}

/// Planned allocation weights as `{group: weight}`.
fn allocation(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<(String, f64)>>> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let d = v
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("allocation: expected a dict {group: weight}"))?;
    d.iter()
        .map(|(k, w)| Ok((k.extract::<String>()?, w.extract::<f64>()?)))
        .collect::<PyResult<Vec<_>>>()
        .map(Some)
}

/// Reads `data` and analyses it, with the GIL released.
fn run(
    py: Python<'_>,
    table: PyTable,
    opts: Options,
    blueprint: Option<abforge_analysis::Blueprint>,
) -> PyResult<(Report, Dataset, Options)> {
    let (batches, schema) = table.into_inner();
    interrupt::run(py, move |_| {
        let ds = Dataset::from_batches(&opts.input, &schema, &batches, &opts.columns(), blueprint)?;
        let report = abforge_analysis::analyze(&opts, &ds)?;
        Ok((report, ds, opts))
    })?
    .map_err(errors::analysis)
}

/// Runs every applicable A/B test on every metric of `data` (see the package's `analyze`).
#[pyfunction]
#[pyo3(signature = (data, metrics=None, group="group", control="control", alpha=0.05,
    tests=None, *, treatment=None, alternative="two-sided", margin=None, correction="holm",
    bootstrap=None, permutations=None, seed=0, ratios=None, allocation=None, quantiles=None,
    cluster=None, priors=None, blueprint=None, name="data"))]
#[allow(clippy::too_many_arguments)]
pub fn analyze(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    metrics: Option<&Bound<'_, PyAny>>,
    group: &str,
    control: &str,
    alpha: f64,
    tests: Option<&Bound<'_, PyAny>>,
    treatment: Option<&Bound<'_, PyAny>>,
    alternative: &str,
    margin: Option<f64>,
    correction: &str,
    bootstrap: Option<u32>,
    permutations: Option<u32>,
    seed: u64,
    ratios: Option<&Bound<'_, PyAny>>,
    allocation: Option<&Bound<'_, PyAny>>,
    quantiles: Option<Vec<f64>>,
    cluster: Option<String>,
    priors: Option<&Bound<'_, PyAny>>,
    blueprint: Option<PyRef<'_, Blueprint>>,
    name: &str,
) -> PyResult<Analysis> {
    let table: PyTable = data.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "data: expected a pandas or polars DataFrame or a pyarrow Table (anything with \
             __arrow_c_stream__), not {}",
            data.get_type().name().map_or("?".into(), |n| n.to_string())
        ))
    })?;
    let opts = Options {
        metrics: strings("metrics", metrics)?,
        group_column: group.to_string(),
        control: control.to_string(),
        treatment: strings("treatment", treatment)?,
        alpha,
        alternative: self::alternative(alternative)?,
        margin,
        correction: self::correction(correction)?,
        bootstrap,
        permutations,
        seed,
        ratios: self::ratios(ratios)?,
        allocation: self::allocation(allocation)?,
        quantiles: quantiles.unwrap_or_default(),
        cluster_column: cluster,
        priors: self::priors(priors)?,
        ..Options::new(name)
    };
    let tests = tests
        .filter(|t| !t.is_none())
        .map(|t| strings("tests", Some(t)))
        .transpose()?;
    let bp = match blueprint {
        Some(b) => Some(b.generator(py)?.resolved().blueprint.clone()),
        None => None,
    };
    let (report, ds, opts) = run(py, table, opts, bp)?;
    let analysis = Analysis {
        report,
        opts,
        data: Arc::new(ds),
        tests,
    };
    analysis.check_tests()?;
    Ok(analysis)
}

impl Analysis {
    /// The decisions kept by `tests`.
    fn kept(&self) -> Vec<Decision> {
        let all = self.report.decisions();
        match &self.tests {
            None => all,
            Some(t) => all.into_iter().filter(|d| t.contains(&d.test)).collect(),
        }
    }

    /// Every name of `tests` is a test that ran.
    fn check_tests(&self) -> PyResult<()> {
        let Some(tests) = &self.tests else {
            return Ok(());
        };
        let mut ran: Vec<String> = self
            .report
            .decisions()
            .into_iter()
            .map(|d| d.test)
            .collect();
        ran.sort();
        ran.dedup();
        match tests.iter().find(|t| !ran.contains(t)) {
            Some(t) => Err(PyValueError::new_err(format!(
                "tests {t:?}: no such test ran on this data; the tests that ran are {}",
                ran.join(", ")
            ))),
            None => Ok(()),
        }
    }
}

#[pymethods]
impl Analysis {
    /// The report as a dict: the same document as `abforge analyze --json` (`input` is
    /// the `name` given to `analyze`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.report)
    }

    /// One dict per metric × arm × test (the tests kept by `tests`): `metric`, `control`,
    /// `treatment`, `test`, `estimate`, `ci_low`, `ci_high`, `p_value`, `p_adjusted`,
    /// `reject`, `primary`, and against the truth `true_effect`, `null_true`, `outcome`
    /// (`None` without a blueprint).
    fn decisions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.kept())
    }

    /// The decisions as a `pandas.DataFrame`, one row per metric × arm × test.
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rows = self.decisions(py)?;
        py.import("pandas")?.getattr("DataFrame")?.call1((rows,))
    }

    /// The same analysis judged against the truth of `blueprint`: each decision's
    /// `true_effect`, `null_true` and `outcome` (`correct`, `type_i`, `type_ii`). The
    /// blueprint's control group must be the analysis's.
    fn judge(&self, py: Python<'_>, blueprint: PyRef<'_, Blueprint>) -> PyResult<Analysis> {
        let bp = blueprint.generator(py)?.resolved().blueprint.clone();
        let (data, opts) = (Arc::clone(&self.data), self.opts.clone());
        let (report, ds, opts) = interrupt::run(py, move |_| {
            let ds = Dataset {
                blueprint: Some(bp),
                ..(*data).clone()
            };
            abforge_analysis::analyze(&opts, &ds).map(|r| (r, ds, opts))
        })?
        .map_err(errors::analysis)?;
        Ok(Analysis {
            report,
            opts,
            data: Arc::new(ds),
            tests: self.tests.clone(),
        })
    }

    /// Rows read.
    #[getter]
    fn rows(&self) -> u64 {
        self.report.rows
    }

    /// Whether the sample-ratio check found a mismatch (p < 0.001).
    #[getter]
    fn srm_mismatch(&self) -> bool {
        self.report.srm.mismatch
    }

    fn __repr__(&self) -> String {
        let rejected = self.report.metrics.iter().filter(|e| e.reject).count();
        format!(
            "Analysis({} rows, {} metric × arm comparisons, {rejected} rejected at alpha {}{})",
            self.report.rows,
            self.report.metrics.len(),
            self.report.alpha,
            if self.report.srm.mismatch {
                ", SAMPLE-RATIO MISMATCH"
            } else {
                ""
            }
        )
    }

    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        self.to_pandas(py)?.call_method0("_repr_html_")?.extract()
    }
}
