//! The tests the lab runs, what each applies to, and what each is judged against.

use abforge_stats::{NullKind, TestName};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of values a metric holds, from its blueprint law (not from the data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricClass {
    /// Bernoulli without offset: 0/1 conversions.
    Binary,
    /// Poisson or negative binomial (with a whole, non-negative offset): counts.
    Count,
    /// Anything else.
    Continuous,
}

/// The null hypothesis a test is judged against (each test against **its own** null).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Null {
    /// Equal means (t, z, Poisson rate, lift, Fieller, CUPED, regression, Bayesian, mSPRT,
    /// confidence sequence, group-sequential, cluster-robust, capped (judged against the
    /// means, not the capped means), bootstrap, permutation, chi-square).
    Mean,
    /// `P(T > C) + ½P(T = C) = ½` (Mann–Whitney).
    Superiority,
    /// Equal medians: the true `p = 0.5` quantiles of the two laws are equal (the median
    /// test, `quantile_median`).
    Median,
}

/// What a test's interval estimates, for its coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// `mean(T) − mean(C)`.
    Difference,
    /// `mean(T) / mean(C)`.
    Ratio,
    /// `mean(T) / mean(C) − 1`.
    Lift,
    /// `median(T) − median(C)`: the difference of the true `p = 0.5` quantiles.
    MedianDifference,
    /// No interval.
    None,
}

/// One test (or interval) the lab runs on every replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Welch's t-test.
    WelchT,
    /// Welch's t-test on values capped at the pooled 99th percentile (GrowthBook's
    /// percentile capping): it tests the capped means, so it is judged against the true
    /// difference of means to show the bias the caps bring.
    WinsorizedWelch,
    /// The difference of means with CR2 cluster-robust errors and Bell–McCaffrey degrees of
    /// freedom (as `abforge analyze`), for blueprints with clusters.
    ClusterRobust,
    /// Student's pooled t-test.
    StudentT,
    /// Mann–Whitney U (asymptotic, tie-corrected).
    MannWhitneyU,
    /// The difference of the medians with the order-statistic standard error of Deng,
    /// Knoblich & Lu (continuous metrics); refused (failed) when a median sits on an atom.
    QuantileMedian,
    /// The percentile bootstrap interval of the difference of the medians (resampling each
    /// arm's order statistic exactly; continuous metrics), rejecting equal medians when it
    /// excludes 0.
    QuantileBootstrap,
    /// Two-proportion z test (binary metrics).
    TwoProportionZ,
    /// Chi-square with Yates' correction (binary metrics).
    ChiSquareYates,
    /// Poisson rate-ratio score test (count metrics).
    PoissonRate,
    /// Relative lift, delta-method z test.
    RelativeLift,
    /// Fieller's confidence set for `mean(T) / mean(C)` (an interval, the complement of one,
    /// or the whole line) and its test of a ratio of 1.
    Fieller,
    /// CUPED-adjusted Welch test (metrics with a `pre_period` twin).
    Cuped,
    /// CUPAC: CUPED on a cross-fitted least-squares prediction of the metric from every
    /// calibrated metric's pre-period twin (metrics with a `pre_period` twin).
    Cupac,
    /// Lin's (2013) interacted regression on every calibrated metric's pre-period twin (as
    /// `abforge analyze` takes every `pre_` column), HC2 standard error, Student t (metrics
    /// with a `pre_period` twin).
    RegressionHc2,
    /// Bayesian: beta-binomial for binary metrics, normal model otherwise; decides when
    /// `P(T > C)` is beyond `1 − α/2` or `α/2`.
    Bayes,
    /// mSPRT always-valid p-value and confidence sequence.
    Msprt,
    /// GrowthBook's asymptotic confidence sequence (Waudby-Smith et al.), tuned to the
    /// planned size of the two arms.
    ConfidenceSequence,
    /// Group-sequential z test with Lan–DeMets O'Brien–Fleming-like α-spending over the
    /// `--peeks` looks, and its repeated confidence intervals.
    GroupSequentialObf,
    /// Group-sequential z test with Lan–DeMets Pocock-like α-spending over the `--peeks`
    /// looks, and its repeated confidence intervals.
    GroupSequentialPocock,
    /// Bootstrap percentile interval of the mean difference.
    BootstrapPercentile,
    /// Bootstrap BCa interval of the mean difference.
    BootstrapBca,
    /// Bootstrap percentile interval of the relative lift.
    BootstrapLiftPercentile,
    /// Bootstrap BCa interval of the relative lift.
    BootstrapLiftBca,
    /// Permutation test of the mean difference.
    Permutation,
}

impl Method {
    /// Every method, in report order.
    pub const ALL: [Method; 25] = [
        Method::WelchT,
        Method::WinsorizedWelch,
        Method::ClusterRobust,
        Method::StudentT,
        Method::MannWhitneyU,
        Method::QuantileMedian,
        Method::QuantileBootstrap,
        Method::TwoProportionZ,
        Method::ChiSquareYates,
        Method::PoissonRate,
        Method::RelativeLift,
        Method::Fieller,
        Method::Cuped,
        Method::Cupac,
        Method::RegressionHc2,
        Method::Bayes,
        Method::Msprt,
        Method::ConfidenceSequence,
        Method::GroupSequentialObf,
        Method::GroupSequentialPocock,
        Method::BootstrapPercentile,
        Method::BootstrapBca,
        Method::BootstrapLiftPercentile,
        Method::BootstrapLiftBca,
        Method::Permutation,
    ];

    /// The methods run when none are named: every cheap one (not the resampling ones).
    pub const DEFAULT: [Method; 10] = [
        Method::WelchT,
        Method::StudentT,
        Method::MannWhitneyU,
        Method::TwoProportionZ,
        Method::ChiSquareYates,
        Method::PoissonRate,
        Method::RelativeLift,
        Method::Cuped,
        Method::Bayes,
        Method::Msprt,
    ];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Method::WelchT => "welch_t",
            Method::WinsorizedWelch => "winsorized_welch",
            Method::ClusterRobust => "cluster_robust",
            Method::StudentT => "student_t",
            Method::MannWhitneyU => "mann_whitney_u",
            Method::QuantileMedian => "quantile_median",
            Method::QuantileBootstrap => "quantile_bootstrap",
            Method::TwoProportionZ => "two_proportion_z",
            Method::ChiSquareYates => "chi_square_yates",
            Method::PoissonRate => "poisson_rate",
            Method::RelativeLift => "relative_lift",
            Method::Fieller => "fieller",
            Method::Cuped => "cuped",
            Method::Cupac => "cupac",
            Method::RegressionHc2 => "regression_hc2",
            Method::Bayes => "bayes",
            Method::Msprt => "msprt",
            Method::ConfidenceSequence => "confidence_sequence",
            Method::GroupSequentialObf => "group_sequential_obf",
            Method::GroupSequentialPocock => "group_sequential_pocock",
            Method::BootstrapPercentile => "bootstrap_percentile",
            Method::BootstrapBca => "bootstrap_bca",
            Method::BootstrapLiftPercentile => "bootstrap_lift_percentile",
            Method::BootstrapLiftBca => "bootstrap_lift_bca",
            Method::Permutation => "permutation",
        }
    }

    /// Every name, comma-separated (for error messages).
    pub fn names() -> String {
        Method::ALL.map(Method::name).join(", ")
    }

    /// Whether the method applies to a metric of this class (with or without a pre-period
    /// covariate), in a blueprint with clusters or not.
    pub fn applies(self, class: MetricClass, has_covariate: bool, has_clusters: bool) -> bool {
        match self {
            Method::ClusterRobust => has_clusters,
            Method::TwoProportionZ | Method::ChiSquareYates => class == MetricClass::Binary,
            Method::PoissonRate => class == MetricClass::Count,
            Method::Cuped | Method::Cupac | Method::RegressionHc2 => has_covariate,
            // Every 0/1 or whole-number median sits on an atom, where the test refuses.
            Method::QuantileMedian | Method::QuantileBootstrap => class == MetricClass::Continuous,
            _ => true,
        }
    }

    /// What the method is applicable to, in words.
    pub(crate) fn applies_to(self) -> &'static str {
        match self {
            Method::TwoProportionZ | Method::ChiSquareYates => "binary (bernoulli) metrics",
            Method::PoissonRate => "count (poisson, negative_binomial) metrics",
            Method::Cuped | Method::Cupac | Method::RegressionHc2 => {
                "metrics with a pre_period twin"
            }
            Method::QuantileMedian | Method::QuantileBootstrap => {
                "continuous metrics (not 0/1 or count metrics)"
            }
            Method::ClusterRobust => "blueprints with [clusters]",
            _ => "every metric",
        }
    }

    /// The test of the analysis ([`TestName`], the one list of tests) this method is, under
    /// the same name; `None` for the lab's own variants (Yates' chi-square, the percentile
    /// and lift bootstraps, the median's bootstrap, Fieller, CUPAC and the group-sequential
    /// tests of one named boundary each).
    pub fn test_name(self) -> Option<TestName> {
        // A match, not a lookup by name: `null()` asks on every replication.
        Some(match self {
            Method::WelchT => TestName::WelchT,
            Method::StudentT => TestName::StudentT,
            Method::MannWhitneyU => TestName::MannWhitneyU,
            Method::TwoProportionZ => TestName::TwoProportionZ,
            Method::PoissonRate => TestName::PoissonRate,
            Method::RelativeLift => TestName::RelativeLift,
            Method::Cuped => TestName::Cuped,
            Method::Bayes => TestName::Bayes,
            Method::Msprt => TestName::Msprt,
            Method::BootstrapBca => TestName::BootstrapBca,
            Method::Permutation => TestName::Permutation,
            Method::QuantileMedian => TestName::QuantileMedian,
            Method::RegressionHc2 => TestName::RegressionHc2,
            Method::ClusterRobust => TestName::ClusterRobust,
            Method::ConfidenceSequence => TestName::ConfidenceSequence,
            Method::WinsorizedWelch => TestName::WinsorizedWelch,
            Method::ChiSquareYates
            | Method::BootstrapPercentile
            | Method::BootstrapLiftPercentile
            | Method::BootstrapLiftBca
            | Method::Fieller
            | Method::Cupac
            | Method::QuantileBootstrap
            | Method::GroupSequentialObf
            | Method::GroupSequentialPocock => return None,
        })
    }

    /// The null it is judged against: the one its test decides on ([`TestName::null`]);
    /// equal medians for the median test, equal means for the lab's other variants.
    pub fn null(self) -> Null {
        if matches!(self, Method::QuantileMedian | Method::QuantileBootstrap) {
            return Null::Median;
        }
        match self.test_name().map(TestName::null) {
            Some(NullKind::EvenSuperiority) => Null::Superiority,
            _ => Null::Mean,
        }
    }

    pub(crate) fn target(self) -> Target {
        match self {
            Method::WelchT
            | Method::WinsorizedWelch
            | Method::ClusterRobust
            | Method::StudentT
            | Method::TwoProportionZ
            | Method::Cuped
            | Method::Cupac
            | Method::RegressionHc2
            | Method::Bayes
            | Method::Msprt
            | Method::ConfidenceSequence
            | Method::GroupSequentialObf
            | Method::GroupSequentialPocock
            | Method::BootstrapPercentile
            | Method::BootstrapBca => Target::Difference,
            Method::PoissonRate | Method::Fieller => Target::Ratio,
            Method::QuantileMedian | Method::QuantileBootstrap => Target::MedianDifference,
            Method::RelativeLift | Method::BootstrapLiftPercentile | Method::BootstrapLiftBca => {
                Target::Lift
            }
            Method::MannWhitneyU | Method::ChiSquareYates | Method::Permutation => Target::None,
        }
    }

    /// Whether the method's guarantee holds at every look (always valid), so that at a
    /// fixed horizon it is conservative by design. Not the group-sequential tests: their
    /// guarantee is for the planned looks, which spend exactly α (see
    /// [`Method::is_group_sequential`]).
    pub fn is_always_valid(self) -> bool {
        matches!(self, Method::Msprt | Method::ConfidenceSequence)
    }

    /// Whether the method can stop an experiment before its end (always valid or
    /// group-sequential): the lab reports its mean sample size at stopping.
    pub fn is_sequential(self) -> bool {
        self.is_always_valid() || self.is_group_sequential()
    }

    /// Whether the method is a group-sequential design over the `--peeks` looks (the lab's
    /// looks at `k/K` of the customers are its planned looks, so it spends all of α: exact,
    /// not conservative, and judged like a fixed-horizon test).
    pub fn is_group_sequential(self) -> bool {
        matches!(
            self,
            Method::GroupSequentialObf | Method::GroupSequentialPocock
        )
    }

    /// Whether the method resamples (bootstrap).
    pub fn is_bootstrap(self) -> bool {
        matches!(
            self,
            Method::BootstrapPercentile
                | Method::BootstrapBca
                | Method::BootstrapLiftPercentile
                | Method::BootstrapLiftBca
                | Method::QuantileBootstrap
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| format!("{s:?} is not a test; expected one of {}", Method::names()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>(), Ok(m));
        }
        let e = "welch".parse::<Method>().unwrap_err();
        assert!(e.contains("welch_t") && e.contains("permutation"), "{e}");
    }

    /// The lab's methods are the analysis's tests under the same names, but for its own
    /// variants; and each is judged against the null its test decides on.
    #[test]
    fn methods_are_the_analysis_tests_but_the_lab_variants() {
        let own: Vec<Method> = Method::ALL
            .into_iter()
            .filter(|m| m.test_name().is_none())
            .collect();
        assert_eq!(
            own,
            [
                Method::QuantileBootstrap,
                Method::ChiSquareYates,
                Method::Fieller,
                Method::Cupac,
                Method::GroupSequentialObf,
                Method::GroupSequentialPocock,
                Method::BootstrapPercentile,
                Method::BootstrapLiftPercentile,
                Method::BootstrapLiftBca,
            ]
        );
        assert_eq!(Method::MannWhitneyU.null(), Null::Superiority);
        assert_eq!(Method::QuantileMedian.null(), Null::Median);
        assert_eq!(Method::QuantileBootstrap.null(), Null::Median);
        for m in Method::ALL.into_iter().filter(|m| {
            !matches!(
                m,
                Method::MannWhitneyU | Method::QuantileMedian | Method::QuantileBootstrap
            )
        }) {
            assert_eq!(m.null(), Null::Mean, "{m}");
        }
    }
}
