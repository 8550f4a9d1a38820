//! The scipy/statsmodels reference suite (`tests/data/reference`, a copy of the shared one):
//! loading, and comparing computed values to the expected ones field by field.
//!
//! Set `ABFORGE_STATS_REFERENCE` to another folder with the same layout (`expected.json` and
//! `cases/*.csv`) to check an independent set of cases.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use abforge_stats::{AnalyzeOptions, MetricAnalysis, Summary, analyze_metric};
use serde_json::Value;

/// One reference case: its expected values, its samples and our analysis of them.
pub struct Case {
    pub name: String,
    pub expected: Value,
    pub control: Vec<f64>,
    pub treatment: Vec<f64>,
    pub analysis: MetricAnalysis,
}

impl Case {
    pub fn summaries(&self) -> (Summary, Summary) {
        (
            Summary::from_slice(&self.treatment),
            Summary::from_slice(&self.control),
        )
    }

    /// The expected number at a `/`-separated path, if present.
    pub fn get(&self, path: &str) -> Option<f64> {
        lookup(&self.expected, path).and_then(Value::as_f64)
    }
}

pub struct Reference {
    pub root: Value,
    pub cases: Vec<Case>,
}

pub fn dir() -> PathBuf {
    match std::env::var_os("ABFORGE_STATS_REFERENCE") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference"),
    }
}

/// The suite, loaded once per test binary. Case names come from `expected.json`, so no
/// case can be skipped silently.
pub fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = dir();
        let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
        let root: Value = serde_json::from_str(&text).expect("valid JSON");
        let cases = root["cases"]
            .as_object()
            .expect("a `cases` object")
            .iter()
            .map(|(name, expected)| {
                let csv = expected["csv"].as_str().expect("csv path");
                let (control, treatment) = read_csv(&dir.join(csv));
                let analysis =
                    analyze_metric(name, &control, &treatment, &AnalyzeOptions::default())
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                Case {
                    name: name.clone(),
                    expected: expected.clone(),
                    control,
                    treatment,
                    analysis,
                }
            })
            .collect();
        Reference { root, cases }
    })
}

fn read_csv(path: &std::path::Path) -> (Vec<f64>, Vec<f64>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("group,value"), "{}", path.display());
    let (mut c, mut t) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.is_empty()) {
        let (g, v) = line.split_once(',').expect("two columns");
        let v: f64 = v.parse().expect("a float");
        match g {
            "control" => c.push(v),
            "treatment" => t.push(v),
            other => panic!("unknown group {other}"),
        }
    }
    (c, t)
}

pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('/').try_fold(v, |v, key| match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Every leaf of `v` with its `/`-separated path.
pub fn leaves(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}/{k}")
        }
    };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| leaves(x, &join(k), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| leaves(x, &join(&i.to_string()), out)),
        leaf => out.push((prefix.to_owned(), leaf.clone())),
    }
}

/// How closely a value must match.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tol {
    /// Bit-for-bit (integers, and the exact `identical_groups` results).
    Exact,
    /// Statistics, moments, df and CIs: relative 1e-9 (1e-6 for `large_values_1e9`),
    /// absolute 1e-12 near 0.
    Stat,
    /// p-values and probabilities: relative 1e-7, or absolute 1e-15 below 1e-8.
    P,
    /// Root-finder outputs (`solve_power`): relative 1e-6.
    Solve,
}

/// One computed value for a reference path.
pub struct Field {
    pub path: String,
    pub got: f64,
    pub tol: Tol,
}

pub fn field(path: &str, got: f64, tol: Tol) -> Field {
    Field {
        path: path.to_owned(),
        got,
        tol,
    }
}

/// The worst relative error seen per family (for the report).
fn worst() -> &'static Mutex<BTreeMap<String, (f64, String)>> {
    static W: OnceLock<Mutex<BTreeMap<String, (f64, String)>>> = OnceLock::new();
    W.get_or_init(Default::default)
}

/// Compares `fields` with the case's expected values; returns the number compared. Fields
/// whose path is absent from the case are not compared (the caller decides which apply).
pub fn check(case: &Case, family: &str, fields: &[Field]) -> usize {
    let mut compared = 0;
    let mut failures = Vec::new();
    for f in fields {
        let Some(want) = case.get(&f.path) else {
            continue;
        };
        compared += 1;
        let got = f.got;
        let err = (got - want).abs();
        let rel = if want == 0.0 { err } else { err / want.abs() };
        let ok = match f.tol {
            Tol::Exact => got == want,
            Tol::Stat => {
                let r = if case.name == "large_values_1e9" {
                    1e-6
                } else {
                    1e-9
                };
                rel <= r || err <= 1e-12
            }
            Tol::P => {
                if want < 1e-8 {
                    err <= 1e-15
                } else {
                    rel <= 1e-7
                }
            }
            Tol::Solve => rel <= 1e-6,
        };
        if !ok {
            failures.push(format!(
                "{}/{}: got {got:e}, want {want:e} ({:?}, rel {rel:e})",
                case.name, f.path, f.tol
            ));
        }
        // Record the worst relative error (absolute below 1e-8 for p-values).
        let scale = if case.name == "large_values_1e9" {
            " (large_values_1e9)"
        } else {
            ""
        };
        let key = format!("{family} {:?}{scale}", f.tol);
        let score = if f.tol == Tol::P && want < 1e-8 {
            0.0
        } else {
            rel
        };
        let mut w = worst().lock().unwrap();
        let e = w.entry(key).or_insert((0.0, String::new()));
        if score > e.0 {
            *e = (score, format!("{}/{}", case.name, f.path));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    compared
}

/// Prints the worst relative errors seen so far (`cargo test -- --nocapture`).
#[allow(clippy::print_stderr)]
pub fn report(family: &str) {
    let w = worst().lock().unwrap();
    for (k, (rel, at)) in w.iter().filter(|(k, _)| k.starts_with(family)) {
        eprintln!("worst relative error {k}: {rel:.2e} at {at}");
    }
}
