//! `abforge.calibrate` (`abforge_lab`: many simulated experiments, every test's decisions
//! judged against the truth) and `abforge.power` (`abforge_analysis::power`).

use crate::analysis::{alternative, priors, strings};
use crate::blueprint::{Blueprint, json_to_py, with_overrides};
use crate::{errors, interrupt};
use abforge_analysis::power::{PowerRequest, PowerTest};
use abforge_lab::{LabOptions, Method, Reporter};
use abforge_synth::Cancel;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The report of `abforge.calibrate`: per metric × arm × test, the rejection rate with its
/// Wilson interval, the type I error or the power, the coverage of the true effect, the
/// Kolmogorov–Smirnov distance of null p-values from uniform, and whether the test is
/// miscalibrated.
#[pyclass(module = "abforge", frozen)]
#[derive(Debug)]
pub struct Calibration(abforge_lab::Calibration);

/// Stops the lab's run when the call is interrupted.
struct Stop(Cancel);

impl Reporter for Stop {
    fn on_replications(&self, _n: u64) {}
    fn cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// Simulates `replications` experiments from `blueprint` and judges every test's
/// decisions against the known truth (see the package's `calibrate`).
#[pyfunction]
#[pyo3(signature = (blueprint, replications=1000, *, customers=None, seed=None, alpha=0.05,
    peeks=1, tests=None, metrics=None, bootstrap=None, permutations=None, priors=None,
    srm_alpha=abforge_lab::DEFAULT_SRM_ALPHA))]
#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    py: Python<'_>,
    blueprint: PyRef<'_, Blueprint>,
    replications: u64,
    customers: Option<u64>,
    seed: Option<u64>,
    alpha: f64,
    peeks: u32,
    tests: Option<&Bound<'_, PyAny>>,
    metrics: Option<&Bound<'_, PyAny>>,
    bootstrap: Option<u32>,
    permutations: Option<u32>,
    priors: Option<&Bound<'_, PyAny>>,
    srm_alpha: f64,
) -> PyResult<Calibration> {
    let methods = strings("tests", tests)?
        .iter()
        .map(|t| {
            t.parse::<Method>()
                .map_err(|e| PyValueError::new_err(format!("tests {t:?}: {e}")))
        })
        .collect::<PyResult<Vec<Method>>>()?;
    let opts = LabOptions {
        replications,
        customers,
        alpha,
        // The seed replaces the blueprint's, as `abforge calibrate --seed` does.
        seed: None,
        peeks,
        methods: (!methods.is_empty()).then_some(methods),
        bootstrap_resamples: bootstrap,
        permutation_resamples: permutations,
        metrics: strings("metrics", metrics)?,
        priors: self::priors(priors)?,
        srm_alpha,
        ..LabOptions::default()
    };
    let bp = with_overrides(py, blueprint.inner(), customers, seed)?;
    interrupt::run(py, move |cancel| {
        abforge_lab::calibrate(&bp, &opts, &Stop(cancel))
    })?
    .map(Calibration)
    .map_err(|e| errors::lab(py, e))
}

#[pymethods]
impl Calibration {
    /// The report as a dict: the same document as `abforge calibrate --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.0)
    }

    /// One dict per metric × arm × test (the report's `results`).
    fn results<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.0.results)
    }

    /// The results as a `pandas.DataFrame`, one row per metric × arm × test (the confusion
    /// matrix flattened into `confusion.*` columns).
    fn to_pandas<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rows = self.results(py)?;
        py.import("pandas")?
            .getattr("json_normalize")?
            .call1((rows,))
    }

    /// The calibration plot as SVG text: each test's rejection rate with its interval
    /// against α (type I error) or the analytic power.
    fn svg(&self, py: Python<'_>) -> PyResult<String> {
        abforge_lab::calibration_svg(&self.0).map_err(|e| errors::lab(py, e))
    }

    fn _repr_svg_(&self, py: Python<'_>) -> PyResult<String> {
        self.svg(py)
    }

    /// Simulated experiments.
    #[getter]
    fn replications(&self) -> u64 {
        self.0.replications
    }

    fn __repr__(&self) -> String {
        let bad = self.0.results.iter().filter(|r| r.miscalibrated).count();
        format!(
            "Calibration(experiment {:?}, {} replications of {} customers, {} results, {bad} miscalibrated)",
            self.0.experiment_id,
            self.0.replications,
            self.0.customers,
            self.0.results.len()
        )
    }
}

/// Sample size, power or minimum detectable effect (see the package's `power`).
#[pyfunction]
#[pyo3(signature = (test, *, effect_size=None, diff=None, sd=None, control=None,
    treatment=None, n=None, power=None, ratio=1.0, alpha=0.05, alternative="two-sided"))]
#[allow(clippy::too_many_arguments)]
pub fn power<'py>(
    py: Python<'py>,
    test: &str,
    effect_size: Option<f64>,
    diff: Option<f64>,
    sd: Option<f64>,
    control: Option<f64>,
    treatment: Option<f64>,
    n: Option<f64>,
    power: Option<f64>,
    ratio: f64,
    alpha: f64,
    alternative: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let needs_control = || {
        control.ok_or_else(|| {
            PyValueError::new_err(format!(
                "control: the {test} test needs the control's value"
            ))
        })
    };
    let unused = |name: &str, v: Option<f64>| match v {
        Some(_) => Err(PyValueError::new_err(format!(
            "{name}: not a parameter of the {test} test"
        ))),
        None => Ok(()),
    };
    let test = match test {
        "t" => {
            unused("control", control)?;
            unused("treatment", treatment)?;
            if effect_size.is_some() && (diff.is_some() || sd.is_some()) {
                return Err(PyValueError::new_err(
                    "effect_size: give either effect_size or diff with sd, not both",
                ));
            }
            if diff.is_some() && sd.is_none() {
                return Err(PyValueError::new_err("diff: needs sd"));
            }
            PowerTest::T {
                effect_size,
                diff,
                sd,
            }
        }
        "proportions" | "poisson" => {
            for (name, v) in [("effect_size", effect_size), ("diff", diff), ("sd", sd)] {
                unused(name, v)?;
            }
            let control = needs_control()?;
            if test == "poisson" {
                PowerTest::Poisson { control, treatment }
            } else {
                PowerTest::Proportions { control, treatment }
            }
        }
        other => {
            return Err(errors::not_one_of(
                "test",
                other,
                &["t", "proportions", "poisson"],
            ));
        }
    };
    let req = PowerRequest {
        test,
        n,
        power,
        ratio,
        alpha,
        alternative: self::alternative(alternative)?,
    };
    let report = abforge_analysis::power::plan(&req).map_err(|e| {
        if e.is_usage() {
            errors::analysis(e)
        } else {
            // No sample size or effect reaches the target: still the caller's input.
            PyValueError::new_err(e.to_string())
        }
    })?;
    json_to_py(py, &report)
}
