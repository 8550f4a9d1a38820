//! A/B/n experiments: several treatment arms against one control, over several metrics,
//! with a multiple-testing correction across the whole family of arms × metrics.

use serde::Serialize;

use crate::analyze::{AnalyzeOptions, MetricAnalysis, MetricKind, analyze_metric};
use crate::error::Result;
use crate::multiple::{Correction, adjust};

/// Which test's p-value represents a metric in the family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryTest {
    /// The two-proportion z test for binary metrics, the Poisson score test for counts and
    /// Welch's t-test otherwise.
    #[default]
    ByKind,
    /// Welch's t-test for every metric.
    WelchT,
    /// Mann–Whitney U for every metric.
    MannWhitneyU,
}

/// Options of [`analyze_arms`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct AbnOptions {
    /// The per-comparison analysis (α is also the family's level).
    pub analyze: AnalyzeOptions,
    /// The correction across all arms × metrics.
    pub correction: Correction,
    /// The test whose p-value enters the family.
    pub primary: PrimaryTest,
}

/// One metric's control sample and its treatment arms.
#[derive(Clone, Copy, Debug)]
pub struct MetricSamples<'a> {
    /// The metric's name.
    pub metric: &'a str,
    /// The control values.
    pub control: &'a [f64],
    /// `(arm name, values)` of each treatment arm.
    pub arms: &'a [(&'a str, &'a [f64])],
}

/// One arm × metric comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArmComparison {
    /// The arm's name.
    pub arm: String,
    /// The full analysis of the arm against control.
    pub analysis: MetricAnalysis,
    /// The test used for the family (`welch_t`, `two_proportion_z`, `poisson_rate`,
    /// `mann_whitney_u`).
    pub primary_test: &'static str,
    /// Its raw p-value; `None` when it could not be computed (then it enters the family as 1).
    pub p_value: Option<f64>,
    /// The adjusted p-value.
    pub p_adjusted: f64,
    /// Whether H0 is rejected after the correction (`p_adjusted ≤ α`).
    pub reject: bool,
}

/// The result of [`analyze_arms`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AbnReport {
    /// The correction applied.
    pub correction: Correction,
    /// The number of comparisons in the family.
    pub family_size: usize,
    /// The comparisons, by metric then arm in the input order.
    pub comparisons: Vec<ArmComparison>,
}

/// Analyses every arm of every metric against its control with [`analyze_metric`], then
/// adjusts the primary p-values of the whole family (arms × metrics) with `correction`
/// (see [`adjust`]).
///
/// ```
/// use abforge_stats::{AbnOptions, MetricSamples, analyze_arms};
///
/// let control = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let b = [2.0, 3.0, 4.0, 5.0, 6.0, 7.5];
/// let c = [1.5, 2.5, 2.0, 4.5, 5.0, 6.0];
/// let arms = [("b", &b[..]), ("c", &c[..])];
/// let report = analyze_arms(
///     &[MetricSamples { metric: "value", control: &control, arms: &arms }],
///     &AbnOptions::default(),
/// )?;
/// assert_eq!(report.family_size, 2);
/// assert!(report.comparisons.iter().all(|c| c.p_adjusted >= c.p_value.unwrap()));
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// The errors of [`analyze_metric`] (a non-finite value, an empty group, a bad α).
pub fn analyze_arms(metrics: &[MetricSamples<'_>], opts: &AbnOptions) -> Result<AbnReport> {
    let mut comparisons = Vec::new();
    for m in metrics {
        for &(arm, values) in m.arms {
            let analysis = analyze_metric(m.metric, m.control, values, &opts.analyze)?;
            let (primary_test, p_value) = primary(&analysis, opts.primary);
            comparisons.push(ArmComparison {
                arm: arm.to_owned(),
                analysis,
                primary_test,
                p_value,
                p_adjusted: 1.0,
                reject: false,
            });
        }
    }
    let raw: Vec<f64> = comparisons
        .iter()
        .map(|c| c.p_value.unwrap_or(1.0))
        .collect();
    let adjusted = adjust(&raw, opts.correction)?;
    let alpha = opts.analyze.hypothesis.alpha;
    for (c, p) in comparisons.iter_mut().zip(adjusted) {
        c.p_adjusted = p;
        c.reject = p <= alpha;
    }
    Ok(AbnReport {
        correction: opts.correction,
        family_size: raw.len(),
        comparisons,
    })
}

fn primary(a: &MetricAnalysis, which: PrimaryTest) -> (&'static str, Option<f64>) {
    let t = &a.tests;
    match (which, a.kind) {
        (PrimaryTest::MannWhitneyU, _) => {
            ("mann_whitney_u", t.mann_whitney_u.map(|m| m.result.p_value))
        }
        (PrimaryTest::ByKind, MetricKind::Binary) => {
            ("two_proportion_z", t.two_proportion_z.map(|z| z.p_value))
        }
        (PrimaryTest::ByKind, MetricKind::Count) => {
            ("poisson_rate", t.poisson_rate.map(|p| p.score.p_value))
        }
        _ => ("welch_t", t.welch_t.map(|w| w.p_value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_spans_arms_and_metrics() {
        let control = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        let arm = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let items_c = [1.0, 2.0, 0.0, 3.0];
        let items_t = [2.0, 2.0, 4.0, 3.0];
        let arms_bin = [("b", &arm[..]), ("c", &control[..])];
        let arms_items = [("b", &items_t[..])];
        let metrics = [
            MetricSamples {
                metric: "converted",
                control: &control,
                arms: &arms_bin,
            },
            MetricSamples {
                metric: "items",
                control: &items_c,
                arms: &arms_items,
            },
        ];
        let opts = AbnOptions {
            correction: Correction::Bonferroni,
            ..AbnOptions::default()
        };
        let r = analyze_arms(&metrics, &opts).unwrap();
        assert_eq!(r.family_size, 3);
        assert_eq!(r.comparisons[0].primary_test, "two_proportion_z");
        assert_eq!(r.comparisons[2].primary_test, "poisson_rate");
        for c in &r.comparisons {
            let p = c.p_value.unwrap();
            assert!((c.p_adjusted - (3.0 * p).min(1.0)).abs() < 1e-15);
        }
        // The control against itself: p = 1.
        assert_eq!(r.comparisons[1].p_value, Some(1.0));
    }
}
