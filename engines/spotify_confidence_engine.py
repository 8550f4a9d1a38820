"""Spotify's Confidence (PyPI `spotify-confidence`) behind the abforge engine protocol.

Confidence analyses summary data: a pandas DataFrame with one row per group (and, for sequential
tests, per group × look) holding the metric's sum (numerator_column), sum of squares
(numerator_sum_squares_column) and unit count (denominator_column). The adapter builds that frame
from the rows and calls `Experiment.difference(level_1=control, level_2=treatment)`.
interval_size = 1 − alpha. correction_method keeps its default, "bonferroni": one comparison per
call (abforge asks one arm at a time), so it changes nothing here. Confidence computes the
variance of a metric whose sum of squares equals its sum (0/1 data) as p(1 − p), else the sample
variance with n − 1.

Tests (estimand difference = mean_t − mean_c unless said; reject = its `is_significant`):
  ztest             ZTest, fixed horizon: two-sided z-test with unpooled variances;
                    ci_lower/ci_upper, p-value.
  ztest_lift        the same with absolute=False: Confidence's relative difference,
                    (mean_t − mean_c) / mean_c, its CI the absolute CI divided by mean_c (the
                    control mean taken as known). Estimand lift.
  ztest_linreg      ZTestLinreg with the covariate as its single feature: regression adjustment
                    (CUPED-like; slope pooled over both groups) from the sums of x, x² and x·y.
  ztest_sequential  ZTest with ordinal_group_column (the look) and
                    final_expected_sample_size_column: Confidence's group-sequential test,
                    alpha spent over the looks by the power family spending function
                    (rho = 2) at information fraction n_look / final n, with
                    final n = the replication's total units at the last look. Every look of the
                    replication is analysed in one call (the bounds at look k depend only on
                    looks 1..k). Answers every look with the adjusted (sequential) interval;
                    Confidence gives no p-value for sequential tests, so p_value is null.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import spotify_confidence as sc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from abforge_engine import Adapter, LookData, TestSpec, serve  # noqa: E402

CONTROL, TREATMENT = "control", "treatment"


def summary_rows(t: np.ndarray, c: np.ndarray, t_cov=None, c_cov=None, **extra) -> list[dict[str, Any]]:
    """One summary row per group: sum, sum of squares, count (and the covariate's sums)."""
    rows = []
    for group, y, x in ((CONTROL, c, c_cov), (TREATMENT, t, t_cov)):
        row = {"group": group, "sum": float(y.sum()), "sum_sq": float(np.dot(y, y)), "n": len(y), **extra}
        if x is not None:
            row.update(x_sum=float(x.sum()), x_sum_sq=float(np.dot(x, x)), xy_sum=float(np.dot(x, y)))
        rows.append(row)
    return rows


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def fixed(test: str, t, c, t_cov, c_cov, alpha: float) -> dict[str, Any]:
    df = pd.DataFrame(summary_rows(t, c, t_cov, c_cov))
    if test == "ztest_linreg":
        exp = sc.ZTestLinreg(
            df, "sum", "sum_sq", "n", feature_column="x_sum", feature_sum_squares_column="x_sum_sq",
            feature_cross_sum_column="xy_sum", categorical_group_columns="group", interval_size=1 - alpha,
        )
    else:
        exp = sc.ZTest(df, "sum", "sum_sq", "n", categorical_group_columns="group", interval_size=1 - alpha)
    r = exp.difference(level_1=CONTROL, level_2=TREATMENT, absolute=test != "ztest_lift").iloc[0]
    return {"estimate": float(r["difference"]), "ci_low": _num(r["ci_lower"]), "ci_high": _num(r["ci_upper"]),
            "p_value": _num(r["p-value"]), "reject": bool(r["is_significant"])}


def sequential(looks_data: list[LookData], alpha: float) -> list[dict[str, Any]]:
    final = looks_data[-1]
    final_n = len(final.treatment) + len(final.control)
    rows = [r for d in looks_data for r in summary_rows(d.treatment, d.control, look=d.look, final_n=final_n)]
    exp = sc.ZTest(
        pd.DataFrame(rows), "sum", "sum_sq", "n", categorical_group_columns="group",
        ordinal_group_column="look", interval_size=1 - alpha,
    )
    res = exp.difference(
        level_1=CONTROL, level_2=TREATMENT, groupby="look", final_expected_sample_size_column="final_n"
    ).set_index("look")
    out = []
    for d in looks_data:
        r = res.loc[d.look]
        out.append({"estimate": float(r["difference"]), "ci_low": _num(r["adjusted ci_lower"]),
                    "ci_high": _num(r["adjusted ci_upper"]), "p_value": _num(r["p-value"]),
                    "reject": bool(r["is_significant"])})
    return out


class SpotifyConfidenceAdapter(Adapter):
    engine = "spotify-confidence"
    version = version("spotify-confidence")
    tests = (
        TestSpec("ztest"),
        TestSpec("ztest_lift", estimand="lift"),
        TestSpec("ztest_linreg", needs_covariate=True),
        TestSpec("ztest_sequential", sequential=True),
    )

    def run(self, test, metric_kind, treatment_values, control_values, treatment_cov,
            control_cov, alpha, look, looks):
        return fixed(test, treatment_values, control_values, treatment_cov, control_cov, alpha)

    def run_looks(self, test, metric_kind, looks_data, alpha, looks):
        return sequential(looks_data, alpha)


if __name__ == "__main__":
    serve(SpotifyConfidenceAdapter())
