//! One call that runs every test that applies to a metric: what the CLI prints.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bayes::{BayesOptions, BayesResult, beta_binomial, normal_means};
use crate::bootstrap::{BootstrapOptions, BootstrapResult, bootstrap};
use crate::confidence_sequence::{AsymptoticCsOptions, AsymptoticCsResult, asymptotic_cs};
use crate::cuped::{CupedResult, cuped};
use crate::error::{Error, Group, Result};
use crate::gsd_means::GsdMeansResult;
use crate::hypothesis::{Hypothesis, finite_or_null};
use crate::lift::{LiftResult, relative_lift};
use crate::mann_whitney::{
    self, MannWhitneyMethod, MannWhitneyOptions, MannWhitneyResult, RankSums,
};
use crate::permutation::{PermutationOptions, PermutationResult, permutation_test};
use crate::poisson::{PoissonRateResult, RateCompare, RateMethod, poisson_rate};
use crate::proportions::{
    ChiSquareResult, FisherResult, ProportionZResult, chi_square_2x2, fisher_exact,
    two_proportion_z,
};
use crate::quantile::{QuantileTestResult, quantile_test};
use crate::regression::LinResult;
use crate::sequential::{MsprtOptions, MsprtResult, msprt};
use crate::summary::{Scan, Summary, scan};
use crate::ttest::{TTestResult, student_t, welch_t};
use crate::winsorize::WinsorResult;

/// Count metrics whose largest value is at most this are ranked by a histogram instead of a
/// sort.
const HISTOGRAM_MAX: f64 = (1 << 20) as f64;

/// What kind of values a metric holds, which decides the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Every value is 0 or 1 (a conversion).
    Binary,
    /// Every value is a non-negative integer, not all 0/1 (items, sessions).
    Count,
    /// Anything else (revenue, durations).
    Continuous,
}

/// Options of [`analyze_metric`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AnalyzeOptions {
    /// Alternative, α and null value. The null value (for example a non-inferiority margin)
    /// is on the **difference of means** scale and applies to the tests on that scale:
    /// Welch, Student, the two-proportion z test and the Poisson test, which then compares the
    /// rate *difference* (equal to the difference of means, the exposure being the number of
    /// customers). Mann–Whitney, chi-square, Fisher and the relative lift then test "no
    /// effect" with the same alternative and α.
    pub hypothesis: Hypothesis,
    /// How the Mann–Whitney `p_value` is computed: asymptotic by default (the references'
    /// convention); `p_value_exact` is added whenever scipy's `'auto'` would use the exact
    /// law.
    pub mann_whitney_method: MannWhitneyMethod,
    /// Run Fisher's exact test on binary metrics.
    pub fisher: bool,
    /// The Bayesian comparison ([`beta_binomial`] for binary metrics, [`normal_means`]
    /// otherwise), at the hypothesis's α; on by default.
    pub bayes: bool,
    /// The mSPRT ([`msprt`]) of the whole sample as one look, at the hypothesis's α and
    /// null value; on by default (`None` turns it off).
    pub msprt: Option<MsprtOptions>,
    /// The asymptotic confidence sequence ([`asymptotic_cs`]) of the whole sample as one
    /// look, at the hypothesis's α, alternative and null value, its ρ tuned to the sample's
    /// own size `n_t + n_c` (the boundary is then tightest at this look); on by default.
    pub confidence_sequence: bool,
    /// The test of the difference of the medians ([`quantile_test`] at `p = 0.5`) for
    /// continuous metrics (the median of 0/1 or count values sits on an atom, where the
    /// test refuses); on by default.
    pub median: bool,
    /// Bootstrap intervals ([`bootstrap`]) at the hypothesis's α; off by default, as
    /// resampling costs time.
    pub bootstrap: Option<BootstrapOptions>,
    /// The permutation test ([`permutation_test`]) with the hypothesis's alternative and α;
    /// off by default.
    pub permutation: Option<PermutationOptions>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            hypothesis: Hypothesis::default(),
            mann_whitney_method: MannWhitneyMethod::Asymptotic,
            fisher: true,
            bayes: true,
            msprt: Some(MsprtOptions::default()),
            confidence_sequence: true,
            median: true,
            bootstrap: None,
            permutation: None,
        }
    }
}

/// Descriptive statistics of one group.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GroupStats {
    /// Number of observations.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// Sample variance (`ddof = 1`); `null` for fewer than 2 observations.
    pub variance: Option<f64>,
    /// Sum of the values.
    pub sum: f64,
}

impl GroupStats {
    fn of(s: &Summary) -> Self {
        GroupStats {
            n: s.n,
            mean: s.mean,
            variance: (s.n >= 2).then(|| s.variance()),
            sum: s.sum(),
        }
    }
}

/// Both groups' statistics.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Groups {
    /// The control group.
    pub control: GroupStats,
    /// The treatment group.
    pub treatment: GroupStats,
}

/// The Mann–Whitney result with the exact p-value where scipy's `'auto'` would use it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MannWhitneyAnalysis {
    /// The test (its `p_value` by [`AnalyzeOptions::mann_whitney_method`]).
    #[serde(flatten)]
    pub result: MannWhitneyResult,
    /// The exact p-value, when a group has at most 8 observations and there are no ties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value_exact: Option<f64>,
}

/// Both Poisson tests of a count metric.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PoissonAnalysis {
    /// `rate_t / rate_c` (JSON `null` when the control count is 0).
    #[serde(serialize_with = "finite_or_null")]
    pub rate_ratio: f64,
    /// `rate_t − rate_c`.
    pub rate_diff: f64,
    /// The score test (statsmodels' default).
    pub score: PoissonRateResult,
    /// The Wald test.
    pub wald: PoissonRateResult,
}

/// The tests that applied; the others are absent from the JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Tests {
    /// Welch's t-test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub welch_t: Option<TTestResult>,
    /// Student's t-test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_t: Option<TTestResult>,
    /// Welch's t-test on values capped at pooled quantiles, when the caller asks for it
    /// ([`crate::winsorized_welch`]); it tests equal *capped* means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub winsorized_welch: Option<WinsorResult>,
    /// The Mann–Whitney U test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mann_whitney_u: Option<MannWhitneyAnalysis>,
    /// Continuous metrics: the difference of the medians ([`quantile_test`] at `p = 0.5`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantile_median: Option<QuantileTestResult>,
    /// Further quantile tests asked for by the caller (the analysis's `--quantile`), in
    /// increasing `p`, each named `quantile_<p>` in `errors` when it fails. They are not in
    /// [`Tests::outcomes`], whose tests have fixed names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<QuantileTestResult>,
    /// Binary metrics: the pooled two-proportion z test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_proportion_z: Option<ProportionZResult>,
    /// Binary metrics: chi-square with and without Yates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chi_square: Option<ChiSquareResult>,
    /// Binary metrics: Fisher's exact test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fisher_exact: Option<FisherResult>,
    /// Count metrics: the Poisson rate tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poisson_rate: Option<PoissonAnalysis>,
    /// The relative lift with its delta-method interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_lift: Option<LiftResult>,
    /// CUPED on the `pre_<metric>` covariate, when there is one
    /// ([`analyze_metric_with_covariate`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuped: Option<CupedResult>,
    /// Lin's interacted regression on every pre-period covariate (HC2, Student t), when the
    /// caller has covariates ([`crate::lin_regression`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regression_hc2: Option<LinResult>,
    /// The difference of means with a cluster-robust (CR2) standard error, when the caller
    /// has cluster ids ([`crate::lin_regression`] without covariates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_robust: Option<LinResult>,
    /// The Bayesian comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bayes: Option<BayesResult>,
    /// The mSPRT at the whole sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msprt: Option<MsprtResult>,
    /// The asymptotic confidence sequence at the whole sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_sequence: Option<AsymptoticCsResult>,
    /// A group-sequential test replayed over the values in their order of arrival, when the
    /// caller asks for one ([`crate::gsd_means`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_sequential: Option<GsdMeansResult>,
    /// Bootstrap intervals of the mean difference and the lift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapResult>,
    /// The permutation test of the mean difference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permutation: Option<PermutationResult>,
}

/// The analysis of one metric, serialised as the CLI's JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricAnalysis {
    /// The metric's name.
    pub metric: String,
    /// The kind of its values.
    pub kind: MetricKind,
    /// Descriptive statistics.
    pub groups: Groups,
    /// The tests that applied.
    pub tests: Tests,
    /// Tests that applied but could not be computed (for example a relative lift with a
    /// control mean of 0), with the reason; absent when empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
}

/// Runs every test that applies to one metric of treatment against control.
///
/// * Always: Welch's and Student's t-tests, Mann–Whitney U, the relative lift, and (as
///   [`AnalyzeOptions`] says) the Bayesian comparison, the mSPRT and the asymptotic
///   confidence sequence.
/// * Continuous metrics ([`MetricKind::Continuous`]): the difference of the medians
///   ([`AnalyzeOptions::median`]); a median on an atom is recorded in `errors`.
/// * All values 0/1 ([`MetricKind::Binary`]): the two-proportion z test, chi-square with and
///   without Yates, and Fisher's exact test.
/// * All values non-negative integers, not all 0/1 ([`MetricKind::Count`]): the Poisson
///   score and Wald tests of the rate ratio (exposure = number of customers).
///
/// Each group is summarised in one parallel two-pass scan that also classifies its values.
/// Mann–Whitney ranks small counts by a histogram (no sort) and anything else by one
/// parallel sort of integer keys per group; the rank merge runs alongside the other tests
/// with `rayon::join`. A test that applies but fails (say a lift with a control mean of 0)
/// is recorded in `errors` instead of failing the whole analysis.
///
/// ```
/// use abforge_stats::{AnalyzeOptions, MetricKind, analyze_metric};
///
/// let control = [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
/// let treatment = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
/// let a = analyze_metric("converted", &control, &treatment, &AnalyzeOptions::default())?;
/// assert_eq!(a.kind, MetricKind::Binary);
/// assert!(a.tests.chi_square.is_some() && a.tests.poisson_rate.is_none());
/// let json = serde_json::to_value(&a).unwrap();
/// assert_eq!(json["groups"]["treatment"]["n"], 8);
/// assert!(json["tests"]["welch_t"]["p_value"].is_number());
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] for a NaN or infinite value, [`Error::TooFewObservations`] for an
/// empty group, [`Error::Overflow`], [`Error::InvalidParameter`] for a bad α.
pub fn analyze_metric(
    name: &str,
    control: &[f64],
    treatment: &[f64],
    opts: &AnalyzeOptions,
) -> Result<MetricAnalysis> {
    let h = opts.hypothesis;
    h.checked_null(0.0)?;
    let (sc, st) = rayon::join(|| scan(control), || scan(treatment));
    let sc = sc.checked(control, Group::Control)?;
    let st = st.checked(treatment, Group::Treatment)?;
    if st.summary.n == 0 {
        return Err(Error::TooFewObservations {
            group: Group::Treatment,
            n: 0,
            needed: 1,
        });
    }
    if sc.summary.n == 0 {
        return Err(Error::TooFewObservations {
            group: Group::Control,
            n: 0,
            needed: 1,
        });
    }
    let kind = if sc.binary && st.binary {
        MetricKind::Binary
    } else if sc.counts && st.counts {
        MetricKind::Count
    } else {
        MetricKind::Continuous
    };
    let no_null = Hypothesis { null: None, ..h };
    let run_median = opts.median && kind == MetricKind::Continuous;
    let ((ranks, median), (tests, errors)) = rayon::join(
        || {
            rayon::join(
                || rank(control, treatment, &sc, &st),
                || run_median.then(|| quantile_test(treatment, control, 0.5, &no_null)),
            )
        },
        || summary_tests(kind, &st, &sc, opts),
    );
    let mut tests = tests;
    let mut errors = errors;
    if let Some(m) = median {
        record(
            &mut tests.quantile_median,
            &mut errors,
            "quantile_median",
            m,
        );
    }
    let mw_opts = MannWhitneyOptions {
        hypothesis: no_null,
        method: opts.mann_whitney_method,
        continuity: true,
    };
    let mw = ranks.and_then(|r| {
        let result = mann_whitney::from_rank_sums(&r, &mw_opts)?;
        let auto = MannWhitneyOptions {
            method: MannWhitneyMethod::Auto,
            ..mw_opts
        };
        let p_value_exact = match mann_whitney::from_rank_sums(&r, &auto) {
            Ok(e) if e.method == MannWhitneyMethod::Exact => Some(e.p_value),
            _ => None,
        };
        Ok(MannWhitneyAnalysis {
            result,
            p_value_exact,
        })
    });
    record(&mut tests.mann_whitney_u, &mut errors, "mann_whitney_u", mw);
    resampling(control, treatment, opts, &mut tests, &mut errors);
    Ok(MetricAnalysis {
        metric: name.to_owned(),
        kind,
        groups: Groups {
            control: GroupStats::of(&sc.summary),
            treatment: GroupStats::of(&st.summary),
        },
        tests,
        errors,
    })
}

/// [`analyze_metric`] plus [`cuped`] on a pre-period covariate (`pre_<metric>`), paired
/// value by value with each group's metric.
///
/// ```
/// use abforge_stats::{AnalyzeOptions, analyze_metric_with_covariate};
///
/// let (c, cx) = ([20.5, 24.0, 18.5, 28.5, 22.0], [10.0, 12.0, 9.0, 14.0, 11.0]);
/// let (t, tx) = ([23.5, 20.0, 27.0, 21.5, 26.0], [11.0, 9.5, 13.0, 10.0, 12.5]);
/// let a = analyze_metric_with_covariate("spend", &c, &cx, &t, &tx, &AnalyzeOptions::default())?;
/// assert!(a.tests.cuped.unwrap().variance_reduction > 0.5);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// As [`analyze_metric`]; a CUPED failure (such as a length mismatch) is recorded in
/// `errors` under `cuped`.
pub fn analyze_metric_with_covariate(
    name: &str,
    control: &[f64],
    control_covariate: &[f64],
    treatment: &[f64],
    treatment_covariate: &[f64],
    opts: &AnalyzeOptions,
) -> Result<MetricAnalysis> {
    let mut a = analyze_metric(name, control, treatment, opts)?;
    let c = cuped(
        treatment,
        treatment_covariate,
        control,
        control_covariate,
        &opts.hypothesis,
    );
    record(&mut a.tests.cuped, &mut a.errors, "cuped", c);
    Ok(a)
}

/// The bootstrap and the permutation test, when asked for.
fn resampling(
    control: &[f64],
    treatment: &[f64],
    opts: &AnalyzeOptions,
    tests: &mut Tests,
    errors: &mut BTreeMap<String, String>,
) {
    let h = opts.hypothesis;
    if let Some(b) = opts.bootstrap {
        let b = BootstrapOptions {
            alpha: h.alpha,
            ..b
        };
        record(
            &mut tests.bootstrap,
            errors,
            "bootstrap",
            bootstrap(treatment, control, &b),
        );
    }
    if let Some(p) = opts.permutation {
        let p = PermutationOptions {
            hypothesis: Hypothesis { null: None, ..h },
            ..p
        };
        record(
            &mut tests.permutation,
            errors,
            "permutation",
            permutation_test(treatment, control, &p),
        );
    }
}

/// The Mann–Whitney rank sums: by histogram for small counts, else by sorting.
fn rank(control: &[f64], treatment: &[f64], sc: &Scan, st: &Scan) -> Result<RankSums> {
    if sc.counts && st.counts {
        let max = sc.max.max(st.max);
        if max <= HISTOGRAM_MAX {
            let max = max as usize;
            let (hc, ht) = rayon::join(
                || mann_whitney::count_histogram(control, max),
                || mann_whitney::count_histogram(treatment, max),
            );
            return mann_whitney::rank_sums_from_histograms(&ht, &hc);
        }
    }
    let (kc, kt) = rayon::join(
        || mann_whitney::sorted_keys(control, Group::Control),
        || mann_whitney::sorted_keys(treatment, Group::Treatment),
    );
    mann_whitney::rank_sums(&kt?, &kc?)
}

/// The tests computed from the summaries (and the success and event counts).
fn summary_tests(
    kind: MetricKind,
    st: &Scan,
    sc: &Scan,
    opts: &AnalyzeOptions,
) -> (Tests, BTreeMap<String, String>) {
    let h = opts.hypothesis;
    let no_null = Hypothesis { null: None, ..h };
    let (t, c) = (&st.summary, &sc.summary);
    let mut tests = Tests::default();
    let mut errors = BTreeMap::new();
    record(
        &mut tests.welch_t,
        &mut errors,
        "welch_t",
        welch_t(t, c, &h),
    );
    record(
        &mut tests.student_t,
        &mut errors,
        "student_t",
        student_t(t, c, &h),
    );
    record(
        &mut tests.relative_lift,
        &mut errors,
        "relative_lift",
        relative_lift(t, c, &no_null),
    );
    if let Some(m) = opts.msprt {
        let m = MsprtOptions {
            alpha: h.alpha,
            null: h.null.unwrap_or(0.0),
            ..m
        };
        record(&mut tests.msprt, &mut errors, "msprt", msprt(t, c, &m));
    }
    if opts.confidence_sequence {
        let o = AsymptoticCsOptions {
            hypothesis: h,
            planned_n: (t.n + c.n) as f64,
            rho: None,
        };
        let cs = asymptotic_cs(t, c, &o);
        record(
            &mut tests.confidence_sequence,
            &mut errors,
            "confidence_sequence",
            cs,
        );
    }
    let bayes_opts = BayesOptions {
        alpha: h.alpha,
        ..BayesOptions::default()
    };
    if opts.bayes && kind != MetricKind::Binary {
        record(
            &mut tests.bayes,
            &mut errors,
            "bayes",
            normal_means(t, c, &bayes_opts),
        );
    }
    // The sums of 0/1 and integer values are exact integers (below 2^53).
    let (sum_t, sum_c) = (t.sum().round(), c.sum().round());
    match kind {
        MetricKind::Binary => {
            let (xt, xc) = (sum_t as u64, sum_c as u64);
            let z = two_proportion_z(xt, t.n, xc, c.n, &h);
            record(
                &mut tests.two_proportion_z,
                &mut errors,
                "two_proportion_z",
                z,
            );
            let chi = chi_square_2x2(xt, t.n, xc, c.n, &no_null);
            record(&mut tests.chi_square, &mut errors, "chi_square", chi);
            if opts.fisher {
                let f = fisher_exact(xt, t.n, xc, c.n, &no_null);
                record(&mut tests.fisher_exact, &mut errors, "fisher_exact", f);
            }
            if opts.bayes {
                let b = beta_binomial(xt, t.n, xc, c.n, &bayes_opts);
                record(&mut tests.bayes, &mut errors, "bayes", b);
            }
        }
        MetricKind::Count => {
            let compare = if h.null.is_some() {
                RateCompare::Diff
            } else {
                RateCompare::Ratio
            };
            let run =
                |method| poisson_rate(sum_t, t.n as f64, sum_c, c.n as f64, compare, method, &h);
            let both = run(RateMethod::Score).and_then(|score| {
                Ok(PoissonAnalysis {
                    rate_ratio: score.rate_ratio,
                    rate_diff: score.rate_diff,
                    score,
                    wald: run(RateMethod::Wald)?,
                })
            });
            record(&mut tests.poisson_rate, &mut errors, "poisson_rate", both);
        }
        MetricKind::Continuous => {}
    }
    (tests, errors)
}

fn record<T>(
    slot: &mut Option<T>,
    errors: &mut BTreeMap<String, String>,
    name: &str,
    r: Result<T>,
) {
    match r {
        Ok(v) => *slot = Some(v),
        Err(e) => {
            errors.insert(name.to_owned(), e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_decide_the_tests() {
        let o = AnalyzeOptions::default();
        let a = analyze_metric("items", &[0.0, 2.0, 3.0, 1.0], &[1.0, 4.0, 2.0, 2.0], &o).unwrap();
        assert_eq!(a.kind, MetricKind::Count);
        assert!(a.tests.poisson_rate.is_some() && a.tests.chi_square.is_none());
        let a = analyze_metric("rev", &[0.5, 2.0, 3.0], &[1.0, 4.25, 2.5], &o).unwrap();
        assert_eq!(a.kind, MetricKind::Continuous);
        assert!(a.tests.poisson_rate.is_none() && a.tests.two_proportion_z.is_none());
        assert!(a.tests.welch_t.is_some() && a.tests.mann_whitney_u.is_some());
        // Tiny samples without ties also get the exact Mann–Whitney p-value.
        assert!(a.tests.mann_whitney_u.unwrap().p_value_exact.is_some());
    }

    #[test]
    fn failing_tests_are_recorded_not_fatal() {
        let o = AnalyzeOptions::default();
        let a = analyze_metric("zero", &[0.0; 5], &[0.0, 1.0, 0.0, 0.0], &o).unwrap();
        assert!(a.errors.contains_key("relative_lift"));
        assert!(a.tests.welch_t.is_some());
        let e = analyze_metric("nan", &[0.0, f64::NAN], &[1.0], &o).unwrap_err();
        assert_eq!(
            e,
            Error::NonFinite {
                group: Group::Control,
                index: 1
            }
        );
        assert!(analyze_metric("empty", &[], &[1.0], &o).is_err());
    }

    #[test]
    fn the_median_and_the_confidence_sequence_are_the_direct_calls() {
        let c: Vec<f64> = (0..400).map(|i| f64::from((i * 37) % 400) + 0.5).collect();
        let t: Vec<f64> = c.iter().map(|x| x * 1.1 + 20.0).collect();
        let h = Hypothesis::non_inferiority(5.0, 0.1);
        let o = AnalyzeOptions {
            hypothesis: h,
            ..AnalyzeOptions::default()
        };
        let a = analyze_metric("spend", &c, &t, &o).unwrap();
        assert_eq!(a.kind, MetricKind::Continuous);
        // The median tests equal medians, without the margin.
        let no_null = Hypothesis { null: None, ..h };
        let want = quantile_test(&t, &c, 0.5, &no_null).unwrap();
        assert_eq!(a.tests.quantile_median, Some(want));
        let (st, sc) = (Summary::from_slice(&t), Summary::from_slice(&c));
        let cs = AsymptoticCsOptions {
            hypothesis: h,
            planned_n: 800.0,
            rho: None,
        };
        let want = asymptotic_cs(&st, &sc, &cs).unwrap();
        assert_eq!(a.tests.confidence_sequence, Some(want));
        assert_eq!(want.null, -5.0);
        // Both can be turned off.
        let off = AnalyzeOptions {
            median: false,
            confidence_sequence: false,
            ..o
        };
        let a = analyze_metric("spend", &c, &t, &off).unwrap();
        assert!(a.tests.quantile_median.is_none() && a.tests.confidence_sequence.is_none());
    }

    #[test]
    fn a_median_on_an_atom_is_recorded_not_fatal() {
        let o = AnalyzeOptions::default();
        // Zero-inflated spend: both medians are 0, an atom.
        let c: Vec<f64> = (0..200)
            .map(|i| if i % 3 == 0 { 1.5 + i as f64 } else { 0.0 })
            .collect();
        let t: Vec<f64> = c.iter().map(|x| x * 1.2).collect();
        let a = analyze_metric("spend", &c, &t, &o).unwrap();
        assert!(a.tests.quantile_median.is_none() && a.tests.welch_t.is_some());
        let want = quantile_test(&t, &c, 0.5, &o.hypothesis).unwrap_err();
        assert!(matches!(want, Error::QuantileOnAtom { .. }), "{want}");
        assert_eq!(a.errors["quantile_median"], want.to_string());
        // Counts and 0/1 values get no median test at all.
        let a = analyze_metric("items", &[0.0, 2.0, 3.0, 1.0], &[1.0, 4.0, 2.0, 2.0], &o).unwrap();
        assert!(a.tests.quantile_median.is_none() && !a.errors.contains_key("quantile_median"));
    }

    #[test]
    fn histogram_and_sort_ranks_agree() {
        let c: Vec<f64> = (0..5000).map(|i| (i % 7) as f64).collect();
        let t: Vec<f64> = (0..4000).map(|i| (i % 9) as f64).collect();
        let (sc, st) = (scan(&c), scan(&t));
        let by_hist = rank(&c, &t, &sc, &st).unwrap();
        let (kc, kt) = (
            mann_whitney::sorted_keys(&c, Group::Control).unwrap(),
            mann_whitney::sorted_keys(&t, Group::Treatment).unwrap(),
        );
        assert_eq!(by_hist, mann_whitney::rank_sums(&kt, &kc).unwrap());
    }
}
