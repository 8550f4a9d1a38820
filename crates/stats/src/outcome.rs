//! The one list of abforge's tests. [`TestName`] names each test a metric's [`Tests`] can
//! hold, says what its estimate is about ([`Estimand`]) and which null hypothesis it tests
//! ([`NullKind`]); [`Tests::outcomes`] walks a metric's tests as uniform [`Outcome`]s, in
//! the order every table shows them. The analysis judges each outcome against the truth, the
//! pipeline stores it and the CLI prints it, all from this list: adding a test is a field of
//! [`Tests`], a variant here and its arm in [`Tests::outcomes`].

use crate::analyze::Tests;
use crate::poisson::RateCompare;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A test whose decision abforge records, named as in the JSON's `tests` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestName {
    /// Welch's t-test.
    WelchT,
    /// Student's t-test.
    StudentT,
    /// Welch's t-test on values capped at pooled quantiles (asked for per analysis).
    WinsorizedWelch,
    /// The Mann–Whitney U test.
    MannWhitneyU,
    /// The difference of the medians with the order-statistic standard error of Deng,
    /// Knoblich & Lu (continuous metrics).
    QuantileMedian,
    /// The pooled two-proportion z test.
    TwoProportionZ,
    /// Pearson's chi-square test of the 2×2 table (without Yates' correction).
    ChiSquare,
    /// Fisher's exact test.
    FisherExact,
    /// The Poisson rate test (the score test).
    PoissonRate,
    /// The relative lift with its delta-method interval.
    RelativeLift,
    /// The t-test on CUPED-adjusted values.
    Cuped,
    /// Lin's interacted regression on every pre-period covariate, HC2 standard error,
    /// Student t.
    RegressionHc2,
    /// The difference of means with the cluster-robust (CR2) standard error and
    /// Bell–McCaffrey degrees of freedom.
    ClusterRobust,
    /// The Bayesian comparison.
    Bayes,
    /// The mSPRT at the whole sample.
    Msprt,
    /// GrowthBook's asymptotic confidence sequence at the whole sample.
    ConfidenceSequence,
    /// A group-sequential test replayed over the data in its order of arrival (asked for
    /// per analysis).
    GroupSequential,
    /// The BCa bootstrap interval of the mean difference.
    BootstrapBca,
    /// The permutation test of the mean difference.
    Permutation,
}

/// What a test's estimate, and the truth it is judged against, measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimand {
    /// The difference of means, treatment − control.
    MeanDifference,
    /// P(T > C) + ½·P(T = C).
    ProbSuperiority,
    /// The odds ratio of a 0/1 metric.
    OddsRatio,
    /// The ratio of the rates (means) of a count metric.
    RateRatio,
    /// The difference of the rates of a count metric (the Poisson test under a margin).
    RateDifference,
    /// The relative lift, mean(T) / mean(C) − 1.
    RelativeLift,
    /// The difference of the medians (the `p = 0.5` quantiles), treatment − control.
    MedianDifference,
}

/// The null hypothesis a test decides on, as the truth is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NullKind {
    /// The means are equal, or with a margin the difference is on the null side of it, under
    /// the analysis's alternative.
    MeansWithMargin,
    /// The means are equal (no margin), under the analysis's alternative.
    NoEffect,
    /// The means are equal, two-sided whatever the alternative (the test's rule is).
    NoEffectTwoSided,
    /// P(T > C) + ½·P(T = C) is ½, under the analysis's alternative.
    EvenSuperiority,
    /// The medians are equal (no margin), under the analysis's alternative.
    EqualMedians,
}

impl TestName {
    /// Every test, in the order of the tables.
    pub const ALL: [TestName; 19] = [
        TestName::WelchT,
        TestName::StudentT,
        TestName::WinsorizedWelch,
        TestName::MannWhitneyU,
        TestName::QuantileMedian,
        TestName::TwoProportionZ,
        TestName::ChiSquare,
        TestName::FisherExact,
        TestName::PoissonRate,
        TestName::RelativeLift,
        TestName::Cuped,
        TestName::RegressionHc2,
        TestName::ClusterRobust,
        TestName::Bayes,
        TestName::Msprt,
        TestName::ConfidenceSequence,
        TestName::GroupSequential,
        TestName::BootstrapBca,
        TestName::Permutation,
    ];

    /// The name in JSON, in tables and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TestName::WelchT => "welch_t",
            TestName::StudentT => "student_t",
            TestName::WinsorizedWelch => "winsorized_welch",
            TestName::MannWhitneyU => "mann_whitney_u",
            TestName::QuantileMedian => "quantile_median",
            TestName::TwoProportionZ => "two_proportion_z",
            TestName::ChiSquare => "chi_square",
            TestName::FisherExact => "fisher_exact",
            TestName::PoissonRate => "poisson_rate",
            TestName::RelativeLift => "relative_lift",
            TestName::Cuped => "cuped",
            TestName::RegressionHc2 => "regression_hc2",
            TestName::ClusterRobust => "cluster_robust",
            TestName::Bayes => "bayes",
            TestName::Msprt => "msprt",
            TestName::ConfidenceSequence => "confidence_sequence",
            TestName::GroupSequential => "group_sequential",
            TestName::BootstrapBca => "bootstrap_bca",
            TestName::Permutation => "permutation",
        }
    }

    /// The test named `name`, if any.
    pub fn parse(name: &str) -> Option<TestName> {
        TestName::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The null hypothesis the test decides on.
    pub fn null(self) -> NullKind {
        match self {
            TestName::WelchT
            | TestName::StudentT
            | TestName::WinsorizedWelch
            | TestName::TwoProportionZ
            | TestName::PoissonRate
            | TestName::Cuped
            | TestName::RegressionHc2
            | TestName::ClusterRobust
            | TestName::Msprt
            | TestName::ConfidenceSequence => NullKind::MeansWithMargin,
            TestName::FisherExact
            | TestName::RelativeLift
            | TestName::GroupSequential
            | TestName::Permutation => NullKind::NoEffect,
            TestName::ChiSquare | TestName::Bayes | TestName::BootstrapBca => {
                NullKind::NoEffectTwoSided
            }
            TestName::MannWhitneyU => NullKind::EvenSuperiority,
            TestName::QuantileMedian => NullKind::EqualMedians,
        }
    }
}

impl fmt::Display for TestName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision against the truth. Typed everywhere until written out (JSON, a table's
/// `outcome` column); [`Verdict::parse`] reads it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The decision matches the truth.
    Correct,
    /// A true null was rejected.
    TypeI,
    /// A false null was kept.
    TypeIi,
}

impl Verdict {
    /// Every verdict, in the order of the tallies.
    pub const ALL: [Verdict; 3] = [Verdict::Correct, Verdict::TypeI, Verdict::TypeIi];

    /// The verdict on rejecting (or not) a null that holds (or not).
    pub fn of(null_true: bool, reject: bool) -> Self {
        match (null_true, reject) {
            (true, true) => Verdict::TypeI,
            (false, false) => Verdict::TypeIi,
            _ => Verdict::Correct,
        }
    }

    /// Its name when written out: `correct`, `type_i` or `type_ii`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Correct => "correct",
            Verdict::TypeI => "type_i",
            Verdict::TypeIi => "type_ii",
        }
    }

    /// The verdict written as `name`, if any.
    pub fn parse(name: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// Whether the decision was wrong (a type I or type II error).
    pub fn is_error(self) -> bool {
        self != Verdict::Correct
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One test's decision on a metric, in the form every consumer shares. Non-finite bounds
/// (one-sided intervals) are kept as they are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The test.
    pub test: TestName,
    /// What `estimate` measures.
    pub estimand: Estimand,
    /// The point estimate (`None` for the chi-square test).
    pub estimate: Option<f64>,
    /// The `1 − α` interval of `estimate` (`None` when the test gives none).
    pub interval: Option<(f64, f64)>,
    /// The raw p-value (`None` for the tests that decide without one: Bayes, BCa).
    pub p_value: Option<f64>,
    /// The test's own decision at α, uncorrected.
    pub reject: bool,
}

impl Tests {
    /// The decision of each test that ran, in the order of [`TestName::ALL`].
    pub fn outcomes(&self) -> Vec<Outcome> {
        use Estimand as E;
        use TestName as T;
        let o = |test, estimand, estimate, interval, p_value, reject| Outcome {
            test,
            estimand,
            estimate,
            interval,
            p_value,
            reject,
        };
        let mut out = Vec::new();
        // Welch and Student: a t-test of the mean difference each.
        let winsorized = self.winsorized_welch.as_ref().map(|w| &w.test);
        for (test, x) in [
            (T::WelchT, self.welch_t.as_ref()),
            (T::StudentT, self.student_t.as_ref()),
            (T::WinsorizedWelch, winsorized),
        ] {
            if let Some(x) = x {
                let ci = Some((x.ci_low, x.ci_high));
                let (est, p) = (Some(x.estimate), Some(x.p_value));
                out.push(o(test, E::MeanDifference, est, ci, p, x.reject));
            }
        }
        if let Some(x) = &self.mann_whitney_u {
            let r = &x.result;
            let est = Some(r.prob_superiority);
            out.push(o(
                T::MannWhitneyU,
                E::ProbSuperiority,
                est,
                None,
                Some(r.p_value),
                r.reject,
            ));
        }
        if let Some(x) = &self.quantile_median {
            out.push(o(
                T::QuantileMedian,
                E::MedianDifference,
                Some(x.estimate),
                Some((x.ci_low, x.ci_high)),
                Some(x.p_value),
                x.reject,
            ));
        }
        if let Some(x) = &self.two_proportion_z {
            let ci = Some((x.ci_low, x.ci_high));
            out.push(o(
                T::TwoProportionZ,
                E::MeanDifference,
                Some(x.estimate),
                ci,
                Some(x.p_value),
                x.reject,
            ));
        }
        if let Some(x) = &self.chi_square {
            out.push(o(
                T::ChiSquare,
                E::MeanDifference,
                None,
                None,
                Some(x.p_value),
                x.reject,
            ));
        }
        if let Some(x) = &self.fisher_exact {
            let est = Some(x.odds_ratio);
            out.push(o(
                T::FisherExact,
                E::OddsRatio,
                est,
                None,
                Some(x.p_value),
                x.reject,
            ));
        }
        if let Some(x) = &self.poisson_rate {
            let s = &x.score;
            let (estimand, est) = match s.compare {
                RateCompare::Diff => (E::RateDifference, s.rate_diff),
                _ => (E::RateRatio, s.rate_ratio),
            };
            let ci = Some((s.ci_low, s.ci_high));
            out.push(o(
                T::PoissonRate,
                estimand,
                Some(est),
                ci,
                Some(s.p_value),
                s.reject,
            ));
        }
        if let Some(x) = &self.relative_lift {
            let ci = Some((x.ci_low, x.ci_high));
            out.push(o(
                T::RelativeLift,
                E::RelativeLift,
                Some(x.estimate),
                ci,
                Some(x.p_value),
                x.reject,
            ));
        }
        self.adjusted_and_resampled(&mut out);
        out
    }

    /// The outcomes of CUPED, the regressions, the Bayesian and sequential tests, the
    /// bootstrap and the permutation test.
    fn adjusted_and_resampled(&self, out: &mut Vec<Outcome>) {
        use Estimand::MeanDifference as D;
        let o = |test, estimate: f64, interval, p_value, reject| Outcome {
            test,
            estimand: D,
            estimate: Some(estimate),
            interval,
            p_value,
            reject,
        };
        if let Some(x) = &self.cuped {
            let r = &x.adjusted;
            let ci = Some((r.ci_low, r.ci_high));
            out.push(o(
                TestName::Cuped,
                r.estimate,
                ci,
                Some(r.p_value),
                r.reject,
            ));
        }
        for (test, x) in [
            (TestName::RegressionHc2, &self.regression_hc2),
            (TestName::ClusterRobust, &self.cluster_robust),
        ] {
            if let Some(x) = x {
                let ci = Some((x.ci_low, x.ci_high));
                out.push(o(test, x.estimate, ci, Some(x.p_value), x.reject));
            }
        }
        if let Some(x) = &self.bayes {
            let ci = Some((x.ci_low, x.ci_high));
            out.push(o(TestName::Bayes, x.estimate, ci, None, x.reject));
        }
        if let Some(x) = &self.msprt {
            let ci = Some((x.ci_low, x.ci_high));
            out.push(o(
                TestName::Msprt,
                x.estimate,
                ci,
                Some(x.p_value),
                x.reject,
            ));
        }
        if let Some(x) = &self.confidence_sequence {
            let ci = Some((x.ci_low, x.ci_high));
            out.push(o(
                TestName::ConfidenceSequence,
                x.estimate,
                ci,
                Some(x.p_value),
                x.reject,
            ));
        }
        if let Some(x) = &self.group_sequential {
            let ci = Some((x.ci_low, x.ci_high));
            out.push(o(TestName::GroupSequential, x.estimate, ci, None, x.reject));
        }
        if let Some(b) = &self.bootstrap {
            let d = &b.mean_difference;
            let ci = Some((d.bca_low, d.bca_high));
            out.push(o(
                TestName::BootstrapBca,
                d.estimate,
                ci,
                None,
                d.bca_rejects(0.0),
            ));
        }
        if let Some(x) = &self.permutation {
            out.push(o(
                TestName::Permutation,
                x.statistic,
                None,
                Some(x.p_value),
                x.reject,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_follow_serde() {
        for t in TestName::ALL {
            assert_eq!(TestName::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().into())
            );
        }
        assert_eq!(TestName::parse("welch"), None);
    }
}
