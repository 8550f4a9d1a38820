//! Shared helpers: a blueprint's rows as plain vectors, sample statistics, and bounds.

use abforge_synth::truth::MetricTruth;
use abforge_synth::{Blueprint, Generator, Resolved, Truth};
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int16Type, Int64Type};
use arrow_schema::DataType;
use std::collections::HashMap;

/// How many standard errors a realised statistic may stray from its truth.
pub const Z: f64 = 5.0;

/// Parses and resolves a TOML blueprint, panicking with every problem.
pub fn resolve(toml: &str) -> Resolved {
    let bp = Blueprint::from_toml(toml).unwrap_or_else(|e| panic!("blueprint does not parse: {e}"));
    bp.resolve()
        .unwrap_or_else(|e| panic!("blueprint does not resolve: {e}"))
}

/// A categorical column: the dictionary values and each row's index into them.
#[derive(Debug, Default)]
pub struct Categorical {
    pub values: Vec<String>,
    pub rows: Vec<usize>,
}

impl Categorical {
    /// Whether each row's value is among `accepted`.
    pub fn is_in(&self, accepted: &[&str]) -> Vec<bool> {
        let ok: Vec<bool> = self
            .values
            .iter()
            .map(|v| accepted.contains(&v.as_str()))
            .collect();
        self.rows.iter().map(|i| ok[*i]).collect()
    }
}

/// Every row of a generated dataset, column by column.
#[derive(Debug)]
pub struct Rows {
    /// Group names in the truth's order.
    pub groups: Vec<String>,
    /// Each row's index into `groups`.
    pub group: Vec<usize>,
    /// Attribute columns by name.
    pub attrs: HashMap<String, Categorical>,
    /// Metric (and `pre_`) columns by name, as reals.
    pub cols: HashMap<String, Vec<f64>>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.group.len()
    }

    pub fn col(&self, name: &str) -> &[f64] {
        self.cols
            .get(name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    pub fn attr(&self, name: &str) -> &Categorical {
        self.attrs
            .get(name)
            .unwrap_or_else(|| panic!("no attribute {name}"))
    }

    /// Values of `col` in group `g` on the rows where `keep` holds (all rows when `None`).
    pub fn select(&self, col: &str, g: usize, keep: Option<&[bool]>) -> Vec<f64> {
        let c = self.col(col);
        (0..self.len())
            .filter(|i| self.group[*i] == g && keep.is_none_or(|k| k[*i]))
            .map(|i| c[i])
            .collect()
    }

    /// Index of group `name`.
    pub fn group_index(&self, name: &str) -> usize {
        self.groups
            .iter()
            .position(|g| g == name)
            .unwrap_or_else(|| panic!("no group {name}"))
    }
}

/// Resolves `toml`, computes its truth and generates every chunk with [`Generator::chunk`].
pub fn generate(toml: &str) -> (Truth, Rows) {
    let resolved = resolve(toml);
    let truth = resolved.truth();
    let groups: Vec<String> = truth.allocation.iter().map(|a| a.group.clone()).collect();
    let generator = Generator::new(resolved);
    let schema = generator.schema();
    let customers = generator.resolved().blueprint.customers;
    let mut rows = Rows {
        groups,
        group: Vec::new(),
        attrs: HashMap::new(),
        cols: HashMap::new(),
    };
    for c in 0..generator.chunk_count() {
        let batch = generator.chunk(c);
        assert_eq!(batch.schema(), schema, "chunk {c} has another schema");
        for (field, col) in schema.fields().iter().zip(batch.columns()) {
            assert_eq!(col.null_count(), 0, "column {} has nulls", field.name());
            let name = field.name().as_str();
            match field.data_type() {
                DataType::Dictionary(..) if name == "experiment_id" => {}
                DataType::Dictionary(..) => {
                    let d = col.as_dictionary::<Int16Type>();
                    let values: Vec<String> = d
                        .values()
                        .as_string::<i32>()
                        .iter()
                        .map(|v| v.expect("value").to_string())
                        .collect();
                    let keys = d
                        .keys()
                        .values()
                        .iter()
                        .map(|k| usize::try_from(*k).expect("key >= 0"));
                    if name == "group" {
                        let map: Vec<usize> = values.iter().map(|v| rows.group_index(v)).collect();
                        rows.group.extend(keys.map(|k| map[k]));
                    } else {
                        let a = rows.attrs.entry(name.to_string()).or_default();
                        if a.values.is_empty() {
                            a.values.clone_from(&values);
                        }
                        assert_eq!(a.values, values, "attribute {name} changes its dictionary");
                        a.rows.extend(keys);
                    }
                }
                DataType::Int64 if name == "customer_id" => {}
                DataType::Int64 => {
                    let v = col
                        .as_primitive::<Int64Type>()
                        .values()
                        .iter()
                        .map(|x| *x as f64);
                    rows.cols.entry(name.to_string()).or_default().extend(v);
                }
                DataType::Float64 => {
                    let v = col.as_primitive::<Float64Type>().values().iter().copied();
                    rows.cols.entry(name.to_string()).or_default().extend(v);
                }
                _ => {}
            }
        }
    }
    assert_eq!(rows.len() as u64, customers, "row count");
    (truth, rows)
}

/// The truth of column `name`.
pub fn metric<'t>(truth: &'t Truth, name: &str) -> &'t MetricTruth {
    truth
        .metrics
        .iter()
        .find(|m| m.metric == name)
        .unwrap_or_else(|| panic!("no truth for {name}"))
}

/// Sample size, mean, variance and fourth central moment.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: f64,
    pub mean: f64,
    pub var: f64,
    pub m4: f64,
}

impl Summary {
    pub fn of(x: &[f64]) -> Summary {
        assert!(x.len() > 1, "too few values");
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let (mut m2, mut m4) = (0.0, 0.0);
        for v in x {
            let d2 = (v - mean) * (v - mean);
            m2 += d2;
            m4 += d2 * d2;
        }
        Summary {
            n,
            mean,
            var: m2 / (n - 1.0),
            m4: m4 / n,
        }
    }

    /// Standard error of the mean.
    pub fn se_mean(&self) -> f64 {
        (self.var / self.n).sqrt()
    }

    /// Standard error of the sample variance, `sqrt((μ4 − σ⁴)/n)`.
    pub fn se_var(&self) -> f64 {
        ((self.m4 - self.var * self.var).max(0.0) / self.n).sqrt()
    }
}

/// Asserts `|got − want| <= Z·se` (plus float noise).
#[track_caller]
pub fn assert_within(what: &str, got: f64, want: f64, se: f64) {
    let tol = Z * se + 1e-12 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: realised {got}, expected {want}, off by {:.2} SE (SE {se})",
        (got - want) / se
    );
}

/// Asserts `|got − want| <= tol·max(1, |want|)`.
#[track_caller]
pub fn assert_close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{what}: got {got}, expected {want} (difference {})",
        got - want
    );
}

/// Checks the realised mean and variance of every truth column in every group.
pub fn check_moments(truth: &Truth, rows: &Rows) {
    for m in &truth.metrics {
        for (g, gm) in m.groups.iter().enumerate() {
            assert_eq!(gm.group, rows.groups[g]);
            let s = Summary::of(&rows.select(&m.metric, g, None));
            assert_within(
                &format!("mean of {} in {}", m.metric, gm.group),
                s.mean,
                gm.mean,
                s.se_mean(),
            );
            assert_within(
                &format!("variance of {} in {}", m.metric, gm.group),
                s.var,
                gm.variance,
                s.se_var(),
            );
        }
    }
}

/// A mixture's mean and variance from its components `(weight, mean, variance)`.
pub fn mixture(parts: &[(f64, f64, f64)]) -> (f64, f64) {
    let w: f64 = parts.iter().map(|p| p.0).sum();
    assert!((w - 1.0).abs() < 1e-12, "weights sum to {w}");
    let mean: f64 = parts.iter().map(|(w, m, _)| w * m).sum();
    let m2: f64 = parts.iter().map(|(w, m, v)| w * (v + m * m)).sum();
    (mean, m2 - mean * mean)
}

/// Mean and variance of `zi·δ0 + (1 − zi)·(D + offset)` for `D` with mean `m`, variance `v`.
pub fn zero_inflated(zi: f64, offset: f64, m: f64, v: f64) -> (f64, f64) {
    mixture(&[(zi, 0.0, 0.0), (1.0 - zi, m + offset, v)])
}

/// Sample Pearson correlation of `x` and `y` and its standard error from the sample's own
/// moments (the delta method, valid for any law with finite fourth moments):
/// `n·Var(r) ≈ (1 + r²/2)·μ22 + (r²/4)(μ40 + μ04) − r(μ31 + μ13)` on standardised values.
pub fn correlation(x: &[f64], y: &[f64]) -> (f64, f64) {
    assert_eq!(x.len(), y.len());
    let (sx, sy) = (Summary::of(x), Summary::of(y));
    let n = x.len() as f64;
    // Population (n-normalised) standard deviations, so that `r` is the mean of `u·v`.
    let (dx, dy) = (
        (sx.var * (n - 1.0) / n).sqrt(),
        (sy.var * (n - 1.0) / n).sqrt(),
    );
    let (mut m11, mut m22, mut m40, mut m04, mut m31, mut m13) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let u = (a - sx.mean) / dx;
        let v = (b - sy.mean) / dy;
        m11 += u * v;
        m22 += u * u * v * v;
        m40 += u.powi(4);
        m04 += v.powi(4);
        m31 += u.powi(3) * v;
        m13 += u * v.powi(3);
    }
    let r = m11 / n;
    let (m22, m40, m04, m31, m13) = (m22 / n, m40 / n, m04 / n, m31 / n, m13 / n);
    let nvar = (1.0 + r * r / 2.0) * m22 + r * r / 4.0 * (m40 + m04) - r * (m31 + m13);
    (r, (nvar.max(0.0) / n).sqrt())
}

/// `P(T > C) + ½·P(T = C)` estimated from pairs `(t[i], c[i])`, with its standard error.
pub fn superiority(t: &[f64], c: &[f64]) -> (f64, f64) {
    let n = t.len().min(c.len());
    let h: Vec<f64> = t[..n]
        .iter()
        .zip(&c[..n])
        .map(|(a, b)| {
            if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            }
        })
        .collect();
    let s = Summary::of(&h);
    (s.mean, s.se_mean())
}
