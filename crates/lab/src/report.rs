//! What a calibration reports, and the statistics of the report: Wilson intervals and the
//! Kolmogorov–Smirnov distance of p-values from uniform.

pub use crate::claims::{ClaimBin, ClaimCalibration};
use crate::method::{Method, MetricClass, Null};
pub use crate::srm::{SrmCalibration, SrmCheck, SrmCheckResult};
use serde::{Serialize, Serializer};

/// `z_{0.975}`: the Wilson intervals are 95 %.
const Z95: f64 = 1.959_963_984_540_054;

/// The confusion matrix of one test over the replications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// True null kept.
    pub correct_accept: u64,
    /// False null rejected.
    pub correct_reject: u64,
    /// True null rejected.
    pub type_i: u64,
    /// False null kept.
    pub type_ii: u64,
}

/// One metric × treatment arm × test: one of abforge's ([`Method`]) or, in an engine's
/// report, the engine's test by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult<T = Method> {
    /// The metric.
    pub metric: String,
    /// The treatment arm (against the blueprint's control).
    pub arm: String,
    /// The test.
    pub test: T,
    /// The metric's kind of values.
    pub kind: MetricClass,
    /// The null the test is judged against.
    pub null: Null,
    /// Whether that null is true; `null` when the replications mix true and false nulls
    /// (a blueprint with `choose`).
    pub null_true: Option<bool>,
    /// Replications where the test ran.
    pub replications: u64,
    /// Replications where it could not be computed (for example zero variance); not in the
    /// rates.
    pub failed: u64,
    /// Share of replications that rejected.
    pub rejection_rate: f64,
    /// Wilson 95 % interval of the rejection rate.
    pub ci_low: f64,
    /// Upper bound.
    pub ci_high: f64,
    /// The rejection rate among replications whose null is true.
    pub type_i_error: Option<f64>,
    /// The rejection rate among replications whose null is false (type II = 1 − power).
    pub power: Option<f64>,
    /// The power by formula at the final look (mean over the false-null replications):
    /// noncentral t for t-tests and CUPED, Cohen's h for proportions, the log-rate-ratio
    /// normal test for Poisson, Noether's formula for Mann–Whitney on continuous laws, the
    /// normal test for the lift and the Bayesian rule under its flat prior (none under a
    /// blueprint's prior).
    pub analytic_power: Option<f64>,
    /// Share of replications whose interval covered the true effect (at every look).
    pub ci_coverage: Option<f64>,
    /// The mean of `estimate − truth` at the final look, on the scale of the test's
    /// interval (difference, ratio, lift or median difference); absent for tests without an
    /// estimate. A test of another estimand (the capped means of `winsorized_welch`) shows
    /// here how far it lands from the true effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<f64>,
    /// The Monte Carlo standard error of `bias`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias_se: Option<f64>,
    /// For tests that may stop early (always valid or group-sequential) with more than one
    /// look: the mean number of customers (both arms) when the experiment stops — at the
    /// first look that rejects, else at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_customers_at_stop: Option<f64>,
    /// The Kolmogorov–Smirnov distance of the p-values from uniform, over the replications
    /// whose null is true.
    pub p_value_ks: Option<f64>,
    /// The asymptotic p-value of that distance (Kolmogorov's law with Stephens'
    /// correction). Discrete statistics (counts, ties) are never exactly uniform.
    pub p_value_ks_p: Option<f64>,
    /// α lies outside the Wilson interval of the type I error (for the mSPRT, whose
    /// guarantee is "at most α", only below it).
    pub miscalibrated: bool,
    /// Correct and wrong decisions.
    pub confusion: Confusion,
}

/// The result of a calibration run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// The blueprint's id.
    pub experiment_id: String,
    /// Replications (simulated experiments).
    pub replications: u64,
    /// Customers per experiment.
    pub customers: u64,
    /// Customers per group (fixed sizes from the realised allocation).
    #[serde(serialize_with = "as_map")]
    pub group_sizes: Vec<(String, u64)>,
    /// Significance level.
    pub alpha: f64,
    /// The seed of the run.
    pub seed: u64,
    /// Looks at the data per experiment (1: fixed horizon).
    pub peeks: u32,
    /// Whether each replication drew its own `choose` parameters.
    pub choices_per_replication: bool,
    /// Bootstrap resamples, when bootstrap intervals ran.
    pub bootstrap_resamples: Option<u32>,
    /// Permutations, when the permutation test ran.
    pub permutation_resamples: Option<u32>,
    /// One entry per metric × arm × test.
    pub results: Vec<TestResult>,
    /// How calibrated the Bayesian test's `P(T > C)` is against the true effects, per
    /// metric × arm, when the truth varies across replications (a `choose` or a lift drawn
    /// from a prior) and the Bayesian test ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<ClaimCalibration>,
    /// Per test run on two or more metric × arm pairs: its multiple testing judged over the
    /// family (family-wise error rate, false discovery rate and power of each correction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<FamilyResult>,
    /// The external engine judged beside abforge's tests, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<crate::engine::EngineReport>,
    /// The sample-ratio checks (χ² at the last look, χ² at every look, the sequential test)
    /// judged against the blueprint's `[actual_groups]`; `null` for a single group.
    pub srm: Option<SrmCalibration>,
}

/// One test's family: its metric × arm pairs in each replication, under each correction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyResult {
    /// The test.
    pub test: Method,
    /// Metric × arm pairs in the family.
    pub members: usize,
    /// Replications counted.
    pub replications: u64,
    /// One entry per correction: none, Bonferroni, Holm, Benjamini–Hochberg.
    pub corrections: Vec<CorrectionResult>,
}

/// One multiple-testing correction over a family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrectionResult {
    /// `none`, `bonferroni`, `holm` or `benjamini_hochberg`.
    pub correction: &'static str,
    /// The rate the correction promises to keep at or below α: `fwer`, `fdr` or `none`.
    pub controls: &'static str,
    /// Family-wise error rate: the share of replications with at least one true null
    /// rejected.
    pub fwer: f64,
    /// Wilson 95 % interval of the FWER.
    pub fwer_ci_low: f64,
    /// Upper bound.
    pub fwer_ci_high: f64,
    /// False discovery rate: the mean over replications of (true nulls rejected) / max(1,
    /// rejections).
    pub fdr: f64,
    /// Its Monte Carlo standard error.
    pub fdr_se: f64,
    /// Share of the false nulls rejected (over every replication); absent when every null
    /// is true.
    pub power: Option<f64>,
    /// The promised rate is above α beyond Monte Carlo error (Wilson interval for the FWER,
    /// ±1.96 standard errors for the FDR).
    pub breaks_promise: bool,
}

/// Pairs as a JSON object.
pub(crate) fn as_map<S: Serializer, T: Serialize>(
    v: &[(String, T)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(v.len()))?;
    for (k, x) in v {
        m.serialize_entry(k, x)?;
    }
    m.end()
}

/// The Wilson score interval (Wilson 1927) of `k` successes in `n` trials at 95 %:
/// `(p̂ + z²/2n ± z sqrt(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)`.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// The Kolmogorov–Smirnov distance `D = sup |F_n(p) − p|` of `p` (sorted here) from the
/// uniform law, and its asymptotic p-value `Q_KS((√n + 0.12 + 0.11/√n) D)` with
/// `Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²)` (Stephens 1970; Press et al., *Numerical
/// Recipes*, §14.3).
pub fn ks_uniform(p: &mut [f64]) -> Option<(f64, f64)> {
    if p.is_empty() {
        return None;
    }
    p.sort_unstable_by(f64::total_cmp);
    let n = p.len() as f64;
    let d = p
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let x = x.clamp(0.0, 1.0);
            ((i + 1) as f64 / n - x).max(x - i as f64 / n)
        })
        .fold(0.0, f64::max);
    let sn = n.sqrt();
    let lambda = (sn + 0.12 + 0.11 / sn) * d;
    Some((d, kolmogorov_q(lambda)))
}

fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let a2 = -2.0 * lambda * lambda;
    let (mut sum, mut sign, mut prev) = (0.0, 2.0, 0.0);
    for k in 1..=100 {
        let k = f64::from(k);
        let term = sign * (a2 * k * k).exp();
        sum += term;
        if term.abs() <= 1e-10 * prev || term.abs() <= 1e-16 * sum.abs() {
            return sum.clamp(0.0, 1.0);
        }
        sign = -sign;
        prev = term.abs();
    }
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_known_interval() {
        // statsmodels proportion_confint(5, 100, method="wilson") = (0.0215437, 0.1117505)
        let (lo, hi) = wilson(5, 100);
        assert!((lo - 0.021_543_4).abs() < 1e-6 && (hi - 0.111_750_5).abs() < 1e-6);
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn ks_of_a_uniform_grid_is_small() {
        let mut p: Vec<f64> = (0..1000).map(|i| (i as f64 + 0.5) / 1000.0).collect();
        let (d, q) = ks_uniform(&mut p).unwrap();
        assert!((d - 0.0005).abs() < 1e-12 && q > 0.999);
        let mut low: Vec<f64> = (0..1000).map(|i| i as f64 / 2000.0).collect();
        let (d, q) = ks_uniform(&mut low).unwrap();
        assert!((d - 0.5).abs() < 1e-3 && q < 1e-10);
        // scipy.stats.kstwobign.sf(1.0) = 0.26999967167735456
        assert!((kolmogorov_q(1.0) - 0.269_999_671_677_354_6).abs() < 1e-12);
    }
}
