"""GrowthBook's stats engine (PyPI `gbstats`) behind the abforge engine protocol.

gbstats works on summary statistics, as GrowthBook's SQL hands them over: per variation the unit
count n, sum and sum of squares (SampleMeanStatistic; ProportionStatistic, n and sum only, for
binary metrics), plus the metric × covariate sum of products for CUPED
(RegressionAdjustedStatistic, its theta pooled over both variations by gbstats). This adapter
computes exactly those sums from the rows and calls the test classes GrowthBook's own runner
(gbstats.gbstats.get_configured_test) calls, with the options that runner uses by default.

Estimand: GrowthBook's default difference_type is "relative", so every test below but
`ttest_absolute` estimates the LIFT (mean_t − mean_c) / mean_c with a delta-method variance
(gbstats.frequentist.tests.frequentist_variance). With CUPED the lift divides the adjusted
difference by the unadjusted control mean.

Tests:
  ttest            TwoSidedTTest: Welch t on the lift, Welch–Satterthwaite dof; reject p < alpha.
  ttest_absolute   the same with difference_type="absolute": estimand difference.
  ttest_cuped      TwoSidedTTest on RegressionAdjustedStatistic (CUPED); lift.
  sequential       SequentialTwoSidedTTest, GrowthBook's "sequential testing": an always-valid
                   (Waudby-Smith et al. 2023, asymptotic confidence sequence) interval and
                   p-value, valid at every look. sequential_tuning_parameter = 5000 (GrowthBook's
                   default: the total sample size at which the sequence is tightest). Answers
                   every look; reject p < alpha. Lift.
  sequential_cuped the same on the CUPED statistic.
  bayesian         EffectBayesianABTest with GrowthBook's default prior: GaussianPrior(mean 0,
                   sd 0.1 on the lift, proper=False), and an improper prior is ignored, so the
                   posterior of the lift is Normal(estimate, delta-method variance).
                   estimate = posterior mean, CI = equal-tailed (1 − alpha) credible interval,
                   p_value null, prob_better = chance to win P(lift > 0).
                   reject = chance to win > 1 − alpha or < alpha: GrowthBook's default decision
                   thresholds (95 % win / 5 % lose at alpha 0.05). Two-sided, this rejects a true
                   null about 2·alpha of the time: that is GrowthBook's rule, not a bug here.
  bayesian_cuped   the same on the CUPED statistic.

gbstats returns a neutral default result with an error_message (baseline mean 0, zero
variance, ...) instead of raising; the adapter turns that message into the item's error.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.settings import MetricSettingsForStatsEngine
from gbstats.models.statistics import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from abforge_engine import Adapter, TestSpec, serve  # noqa: E402

# GrowthBook's defaults (gbstats.models.settings): sequential_tuning_parameter 5000; metric prior
# mean 0, stddev 0.1, proper False; priors are stated on the relative scale.
SEQUENTIAL_TUNING_PARAMETER = 5000.0
_METRIC_DEFAULTS = MetricSettingsForStatsEngine(
    id="m", name="m", statistic_type="mean", main_metric_type="count"
)
DEFAULT_PRIOR = GaussianPrior(
    mean=_METRIC_DEFAULTS.prior_mean,
    variance=_METRIC_DEFAULTS.prior_stddev**2,
    proper=_METRIC_DEFAULTS.prior_proper,
)


def base_statistic(kind: str, y: np.ndarray) -> ProportionStatistic | SampleMeanStatistic:
    """GrowthBook's metric types: "binomial" -> ProportionStatistic, others -> SampleMeanStatistic."""
    if kind == "binary":
        return ProportionStatistic(n=len(y), sum=float(y.sum()))
    return SampleMeanStatistic(n=len(y), sum=float(y.sum()), sum_squares=float(np.dot(y, y)))


def cuped_statistic(kind: str, y: np.ndarray, x: np.ndarray) -> RegressionAdjustedStatistic:
    """statistic_type "mean_ra": the covariate is the same metric before the experiment, so it
    takes the metric's own type; theta=0 here is overwritten by gbstats (compute_theta)."""
    return RegressionAdjustedStatistic(
        n=len(y),
        post_statistic=base_statistic(kind, y),
        pre_statistic=base_statistic(kind, x),
        post_pre_sum_of_products=float(np.dot(y, x)),
        theta=0,
    )


def statistics(kind: str, t, c, t_cov, c_cov, cuped: bool):
    """(control, treatment) statistics: gbstats' stat_a is the baseline, stat_b the variation."""
    if cuped:
        return cuped_statistic(kind, c, c_cov), cuped_statistic(kind, t, t_cov)
    return base_statistic(kind, c), base_statistic(kind, t)


def frequentist(test: str, stat_a, stat_b, alpha: float) -> dict[str, Any]:
    relative = "relative" if test != "ttest_absolute" else "absolute"
    if test.startswith("sequential"):
        cfg = SequentialConfig(
            difference_type=relative, alpha=alpha,
            sequential_tuning_parameter=SEQUENTIAL_TUNING_PARAMETER,
        )
        res = SequentialTwoSidedTTest(stat_a, stat_b, cfg).compute_result()
    else:
        res = TwoSidedTTest(stat_a, stat_b, FrequentistConfig(difference_type=relative, alpha=alpha)).compute_result()
    if res.error_message:
        raise ValueError(res.error_message)
    p = float(res.p_value)
    return {"estimate": res.expected, "ci_low": res.ci[0], "ci_high": res.ci[1], "p_value": p, "reject": p < alpha}


def bayesian(stat_a, stat_b, alpha: float) -> dict[str, Any]:
    cfg = EffectBayesianConfig(
        difference_type="relative", alpha=alpha, inverse=False,
        prior_effect=DEFAULT_PRIOR, prior_type="relative",
    )
    res = EffectBayesianABTest(stat_a, stat_b, cfg).compute_result()
    if res.error_message:
        raise ValueError(res.error_message)
    ctw = float(res.chance_to_win)
    return {"estimate": res.expected, "ci_low": res.ci[0], "ci_high": res.ci[1], "p_value": None,
            "prob_better": ctw, "reject": ctw > 1 - alpha or ctw < alpha}


class GbstatsAdapter(Adapter):
    engine = "gbstats"
    version = version("gbstats")
    tests = (
        TestSpec("ttest", estimand="lift"),
        TestSpec("ttest_absolute", estimand="difference"),
        TestSpec("ttest_cuped", needs_covariate=True, estimand="lift"),
        TestSpec("sequential", sequential=True, estimand="lift"),
        TestSpec("sequential_cuped", sequential=True, needs_covariate=True, estimand="lift"),
        TestSpec("bayesian", estimand="lift"),
        TestSpec("bayesian_cuped", needs_covariate=True, estimand="lift"),
    )

    def run(self, test, metric_kind, treatment_values, control_values, treatment_cov,
            control_cov, alpha, look, looks):
        stat_a, stat_b = statistics(
            metric_kind, treatment_values, control_values, treatment_cov, control_cov,
            cuped=test.endswith("_cuped"),
        )
        if test.startswith("bayesian"):
            return bayesian(stat_a, stat_b, alpha)
        return frequentist(test, stat_a, stat_b, alpha)


if __name__ == "__main__":
    serve(GbstatsAdapter())
