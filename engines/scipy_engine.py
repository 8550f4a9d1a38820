"""The plain baseline: scipy's Welch t-test and statsmodels' two-proportion z-test.

Tests (estimand: difference = mean(treatment) − mean(control), both fixed-horizon):
  welch              binary, count, continuous. scipy.stats.ttest_ind(t, c, equal_var=False):
                     Welch's t with Welch–Satterthwaite degrees of freedom, two-sided; the CI is
                     the result's own confidence_interval(1 − alpha) (same t distribution).
  proportions_ztest  binary. statsmodels.stats.proportion.proportions_ztest([x_t, x_c], [n_t, n_c])
                     with its defaults: two-sided, value 0, prop_var=False, i.e. the standard
                     error pooled under the null. proportions_ztest gives no interval; the CI is
                     statsmodels' confint_proportions_2indep(compare="diff", method="wald"),
                     the unpooled Wald interval, so CI and p-value can disagree at the margin.
reject is p_value < alpha for both.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import scipy.stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from abforge_engine import Adapter, TestSpec, serve  # noqa: E402


def welch(t: np.ndarray, c: np.ndarray, alpha: float) -> dict:
    res = scipy.stats.ttest_ind(t, c, equal_var=False)
    ci = res.confidence_interval(confidence_level=1 - alpha)
    p = float(res.pvalue)
    return {"estimate": float(np.mean(t) - np.mean(c)), "ci_low": float(ci.low),
            "ci_high": float(ci.high), "p_value": p, "reject": p < alpha}


def two_proportion_z(t: np.ndarray, c: np.ndarray, alpha: float) -> dict:
    if not (np.isin(t, (0.0, 1.0)).all() and np.isin(c, (0.0, 1.0)).all()):
        raise ValueError("proportions_ztest needs 0/1 values")
    xt, xc, nt, nc = float(t.sum()), float(c.sum()), len(t), len(c)
    _, p = proportions_ztest([xt, xc], [nt, nc])
    low, high = confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff", alpha=alpha)
    p = float(p)
    return {"estimate": xt / nt - xc / nc, "ci_low": float(low), "ci_high": float(high),
            "p_value": p, "reject": p < alpha}


class ScipyAdapter(Adapter):
    engine = "scipy"
    version = f"scipy {version('scipy')}, statsmodels {version('statsmodels')}"
    tests = (TestSpec("welch"), TestSpec("proportions_ztest", kinds=("binary",)))

    def run(self, test, metric_kind, treatment_values, control_values, treatment_cov,
            control_cov, alpha, look, looks):
        if test == "welch":
            return welch(treatment_values, control_values, alpha)
        return two_proportion_z(treatment_values, control_values, alpha)


if __name__ == "__main__":
    serve(ScipyAdapter())
