"""tea-tasting (PyPI `tea-tasting`) behind the abforge engine protocol.

Each item is analysed as a tea-tasting user analyses an experiment: a table of units with a
variant column, handed to the metric's `analyze(data, control, treatment, variant)`; tea-tasting
aggregates it itself (count, means, variances, covariances) and runs its test on the aggregates.
Options not named below keep tea-tasting's global defaults (tea_tasting.config): two-sided
alternative, equal_var=False, use_t=True, correction=True. confidence_level is set to 1 − alpha.

Tests (all fixed-horizon; reject = p_value < alpha):
  mean             tt.Mean(value): Welch's t-test (equal_var=False: unpooled variances;
                   use_t=True: Student's t with Welch–Satterthwaite dof). Estimand difference:
                   effect_size with effect_size_ci_lower/upper.
  mean_lift        the same analysis read as its relative effect: rel_effect_size
                   = mean_t / mean_c − 1, CI from the delta method on the LOG of the means ratio
                   (so it is asymmetric). The p-value is still the difference's t-test, so the
                   lift CI and p-value can disagree near the boundary. Estimand lift.
  mean_cuped       tt.Mean(value, covariate): CUPED, theta = cov(y, x) / var(x) over both
                   variants pooled, each variant's mean shifted by theta × (its covariate mean −
                   the pooled covariate mean); then the same Welch t. Estimand difference.
  mean_cuped_lift  its relative effect, as mean_lift. Estimand lift.
  proportion       tt.Proportion(value) for 0/1 metrics, method="auto" (its default): Barnard's
                   exact test (pooled Wald statistic) when the two variants together have fewer
                   than 1000 units, otherwise the two-proportion z-test with pooled variance
                   (equal_var=True, its default) and continuity correction (correction=True).
                   The exact test gives no CI: ci_low/ci_high are null then. Estimand difference.
RatioOfMeans is not offered: its numerator and denominator are two columns per unit, and a
protocol-1 metric is one value per customer (RatioOfMeans(numer) with no denominator is Mean).
"""

from __future__ import annotations

import math
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import tea_tasting as tt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from abforge_engine import Adapter, TestSpec, serve  # noqa: E402

VARIANT, VALUE, COVARIATE = "variant", "value", "covariate"
CONTROL, TREATMENT = "control", "treatment"


def units(t: np.ndarray, c: np.ndarray, t_cov: np.ndarray | None, c_cov: np.ndarray | None) -> pa.Table:
    """One row per customer: variant, value (and covariate): what tea-tasting analyses."""
    cols = {
        VARIANT: pa.array([TREATMENT] * len(t) + [CONTROL] * len(c), pa.utf8()),
        VALUE: pa.array(np.concatenate([t, c]), pa.float64()),
    }
    if t_cov is not None and c_cov is not None:
        cols[COVARIATE] = pa.array(np.concatenate([t_cov, c_cov]), pa.float64())
    return pa.table(cols)


def metric(test: str, alpha: float):
    level = 1 - alpha
    if test == "proportion":
        return tt.Proportion(VALUE, confidence_level=level)
    covariate = COVARIATE if test.startswith("mean_cuped") else None
    return tt.Mean(VALUE, covariate, confidence_level=level)


def _maybe(v: float, allow_nan: bool) -> float | None:
    if allow_nan and math.isnan(v):
        return None
    return v


def read_result(test: str, res: Any, alpha: float) -> dict[str, Any]:
    p = float(res.pvalue)
    if test.endswith("_lift"):
        est, low, high = res.rel_effect_size, res.rel_effect_size_ci_lower, res.rel_effect_size_ci_upper
    else:
        est, low, high = res.effect_size, res.effect_size_ci_lower, res.effect_size_ci_upper
    exact = test == "proportion"  # its exact methods give no interval (nan by design)
    return {"estimate": est, "ci_low": _maybe(low, exact), "ci_high": _maybe(high, exact),
            "p_value": p, "reject": p < alpha}


class TeaTastingAdapter(Adapter):
    engine = "tea-tasting"
    version = version("tea-tasting")
    tests = (
        TestSpec("mean", estimand="difference"),
        TestSpec("mean_lift", estimand="lift"),
        TestSpec("mean_cuped", needs_covariate=True, estimand="difference"),
        TestSpec("mean_cuped_lift", needs_covariate=True, estimand="lift"),
        TestSpec("proportion", kinds=("binary",), estimand="difference"),
    )

    def run(self, test, metric_kind, treatment_values, control_values, treatment_cov,
            control_cov, alpha, look, looks):
        data = units(treatment_values, control_values, treatment_cov, control_cov)
        res = metric(test, alpha).analyze(data, control=CONTROL, treatment=TREATMENT, variant=VARIANT)
        return read_result(test, res, alpha)


if __name__ == "__main__":
    serve(TeaTastingAdapter())
