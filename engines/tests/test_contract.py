"""Contract tests: a seeded data set through each engine process, end to end, against the same
library called directly here the way its users call it. Same numbers to 1e-9."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import ARMS, METRICS, look_rows, run_engine, values

ALPHA = 0.05
LOOKS = 3
COV = {m["name"]: m["covariate"] for m in METRICS}


def close(got: dict, want: dict) -> None:
    assert "error" not in got, got
    for k, v in want.items():
        if v is None or isinstance(v, bool):
            assert got[k] == v, (k, got, want)
        else:
            assert got[k] == pytest.approx(v, rel=1e-9, abs=1e-12), (k, got, want)


def items(data, kinds=("continuous", "binary", "count"), cov=False):
    for rep in data:
        for m in METRICS:
            if m["kind"] in kinds and (not cov or m["covariate"]):
                for arm in ARMS:
                    yield rep, m["name"], arm


# ---------------------------------------------------------------------------------- scipy


def test_scipy_matches_scipy_and_statsmodels(data):
    import scipy.stats
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    _, got, done = run_engine("scipy", data, ["welch", "proportions_ztest"])
    for rep, m, arm in items(data):
        t, c = values(data, rep, arm, m), values(data, rep, "control", m)
        r = scipy.stats.ttest_ind(t, c, equal_var=False)
        ci = r.confidence_interval(0.95)
        close(got[(rep, m, arm, "welch", None)], {"estimate": t.mean() - c.mean(), "ci_low": ci.low,
              "ci_high": ci.high, "p_value": r.pvalue, "reject": bool(r.pvalue < ALPHA)})
        if m == "converted":
            _, p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)])
            lo, hi = confint_proportions_2indep(t.sum(), len(t), c.sum(), len(c), compare="diff", method="wald")
            close(got[(rep, m, arm, "proportions_ztest", None)], {"estimate": t.mean() - c.mean(), "ci_low": lo,
                  "ci_high": hi, "p_value": p, "reject": bool(p < ALPHA)})
        else:
            assert "binary" in got[(rep, m, arm, "proportions_ztest", None)]["error"]
    assert done["items"] == 3 * 3 * 2 * 2


# ---------------------------------------------------------------------------- tea-tasting


def test_tea_tasting_matches_tea_tasting(data):
    import tea_tasting as tt

    tests = ["mean", "mean_lift", "mean_cuped", "mean_cuped_lift", "proportion"]
    _, got, _ = run_engine("tea_tasting", data, tests)
    for rep, m, arm in items(data):
        frame = pd.DataFrame({
            "variant": ["control"] * len(values(data, rep, "control", m)) + [arm] * len(values(data, rep, arm, m)),
            m: np.concatenate([values(data, rep, "control", m), values(data, rep, arm, m)]),
        })
        if COV[m]:
            frame[COV[m]] = np.concatenate([values(data, rep, "control", COV[m]), values(data, rep, arm, COV[m])])
        exp = tt.Experiment(plain=tt.Mean(m), cuped=tt.Mean(m, COV[m]) if COV[m] else tt.Mean(m),
                            prop=tt.Proportion(m) if m == "converted" else tt.Mean(m))
        res = exp.analyze(frame, control="control")  # the frame holds control and this arm only
        for name, key in (("mean", "plain"), ("mean_cuped", "cuped")):
            if name == "mean_cuped" and not COV[m]:
                continue
            r = res[key]
            close(got[(rep, m, arm, name, None)], {"estimate": r.effect_size, "ci_low": r.effect_size_ci_lower,
                  "ci_high": r.effect_size_ci_upper, "p_value": r.pvalue, "reject": bool(r.pvalue < ALPHA)})
            close(got[(rep, m, arm, name + "_lift", None)], {"estimate": r.rel_effect_size,
                  "ci_low": r.rel_effect_size_ci_lower, "ci_high": r.rel_effect_size_ci_upper, "p_value": r.pvalue})
        if m == "converted":
            r = res["prop"]
            # 580-620 units together: "auto" picks Barnard's exact test, which gives no CI
            want_ci = {"ci_low": r.effect_size_ci_lower, "ci_high": r.effect_size_ci_upper}
            if np.isnan(r.effect_size_ci_lower):
                want_ci = {"ci_low": None, "ci_high": None}
            close(got[(rep, m, arm, "proportion", None)], {"estimate": r.effect_size, "p_value": r.pvalue, **want_ci})


# -------------------------------------------------------------------------------- gbstats


def gb_stat(kind, y, x=None):
    from gbstats.models.statistics import ProportionStatistic, RegressionAdjustedStatistic, SampleMeanStatistic

    def base(v):
        if kind == "binary":
            return ProportionStatistic(n=len(v), sum=float(np.sum(v)))
        return SampleMeanStatistic(n=len(v), sum=float(np.sum(v)), sum_squares=float(np.sum(v**2)))
    if x is None:
        return base(y)
    return RegressionAdjustedStatistic(n=len(y), post_statistic=base(y), pre_statistic=base(x),
                                       post_pre_sum_of_products=float(np.sum(y * x)), theta=0)


def test_gbstats_matches_gbstats(data):
    from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
    from gbstats.frequentist.tests import FrequentistConfig, SequentialConfig, SequentialTwoSidedTTest, TwoSidedTTest

    tests = ["ttest", "ttest_absolute", "ttest_cuped", "sequential", "sequential_cuped", "bayesian", "bayesian_cuped"]
    _, got, _ = run_engine("gbstats", data, tests, looks=LOOKS)
    kinds = {m["name"]: m["kind"] for m in METRICS}
    for rep, m, arm in items(data):
        t, c = values(data, rep, arm, m), values(data, rep, "control", m)
        tx = values(data, rep, arm, COV[m]) if COV[m] else None
        cx = values(data, rep, "control", COV[m]) if COV[m] else None
        k = kinds[m]
        for name, diff, cuped in (("ttest", "relative", False), ("ttest_absolute", "absolute", False), ("ttest_cuped", "relative", True)):
            if cuped and tx is None:
                continue
            r = TwoSidedTTest(gb_stat(k, c, cx if cuped else None), gb_stat(k, t, tx if cuped else None),
                              FrequentistConfig(difference_type=diff, alpha=ALPHA)).compute_result()
            close(got[(rep, m, arm, name, None)], {"estimate": r.expected, "ci_low": r.ci[0], "ci_high": r.ci[1],
                  "p_value": r.p_value, "reject": bool(r.p_value < ALPHA)})
        for name, cuped in (("sequential", False), ("sequential_cuped", True)):
            if cuped and tx is None:
                continue
            for look in range(1, LOOKS + 1):
                nt, nc = look_rows(len(t), look, LOOKS), look_rows(len(c), look, LOOKS)
                r = SequentialTwoSidedTTest(
                    gb_stat(k, c[:nc], cx[:nc] if cuped else None), gb_stat(k, t[:nt], tx[:nt] if cuped else None),
                    SequentialConfig(alpha=ALPHA)).compute_result()  # defaults: relative, tuning 5000
                close(got[(rep, m, arm, name, look)], {"estimate": r.expected, "ci_low": r.ci[0], "ci_high": r.ci[1],
                      "p_value": r.p_value, "reject": bool(r.p_value < ALPHA)})
        for name, cuped in (("bayesian", False), ("bayesian_cuped", True)):
            if cuped and tx is None:
                continue
            # EffectBayesianConfig's own default prior: improper, as GrowthBook's metric default
            r = EffectBayesianABTest(gb_stat(k, c, cx if cuped else None), gb_stat(k, t, tx if cuped else None),
                                     EffectBayesianConfig(alpha=ALPHA)).compute_result()
            close(got[(rep, m, arm, name, None)], {"estimate": r.expected, "ci_low": r.ci[0], "ci_high": r.ci[1],
                  "p_value": None, "prob_better": r.chance_to_win,
                  "reject": bool(r.chance_to_win > 1 - ALPHA or r.chance_to_win < ALPHA)})


# --------------------------------------------------------------------- spotify-confidence


def sc_frame(data, rep, m, arm, cov=None, looks=None):
    rows = []
    for look in (range(1, looks + 1) if looks else [None]):
        for g in ("control", arm):
            y = values(data, rep, g, m)
            if look:
                y = y[: look_rows(len(y), look, looks)]
            row = {"group": g, "sum": y.sum(), "sum_sq": (y**2).sum(), "n": len(y)}
            if look:
                row["look"] = look
            if cov:
                x = values(data, rep, g, cov)
                row.update(x=x.sum(), xx=(x**2).sum(), xy=(x * y).sum())
            rows.append(row)
    df = pd.DataFrame(rows)
    if looks:
        df["final"] = df[df.look == looks]["n"].sum()
    return df


def test_spotify_confidence_matches_confidence(data):
    import spotify_confidence as sc

    tests = ["ztest", "ztest_lift", "ztest_linreg", "ztest_sequential"]
    _, got, _ = run_engine("spotify_confidence", data, tests, looks=LOOKS)
    for rep, m, arm in items(data):
        z = sc.ZTest(sc_frame(data, rep, m, arm), "sum", "sum_sq", "n", categorical_group_columns="group")
        for name, absolute in (("ztest", True), ("ztest_lift", False)):
            r = z.difference("control", arm, absolute=absolute).iloc[0]
            close(got[(rep, m, arm, name, None)], {"estimate": r["difference"], "ci_low": r["ci_lower"],
                  "ci_high": r["ci_upper"], "p_value": r["p-value"], "reject": bool(r["is_significant"])})
        if COV[m]:
            zl = sc.ZTestLinreg(sc_frame(data, rep, m, arm, COV[m]), "sum", "sum_sq", "n", feature_column="x",
                                feature_sum_squares_column="xx", feature_cross_sum_column="xy",
                                categorical_group_columns="group")
            r = zl.difference("control", arm).iloc[0]
            close(got[(rep, m, arm, "ztest_linreg", None)], {"estimate": r["difference"], "ci_low": r["ci_lower"],
                  "ci_high": r["ci_upper"], "p_value": r["p-value"], "reject": bool(r["is_significant"])})
        zs = sc.ZTest(sc_frame(data, rep, m, arm, looks=LOOKS), "sum", "sum_sq", "n",
                      categorical_group_columns="group", ordinal_group_column="look")
        res = zs.difference("control", arm, groupby="look", final_expected_sample_size_column="final").set_index("look")
        for look in range(1, LOOKS + 1):
            r = res.loc[look]
            close(got[(rep, m, arm, "ztest_sequential", look)], {"estimate": r["difference"],
                  "ci_low": r["adjusted ci_lower"], "ci_high": r["adjusted ci_upper"], "p_value": None,
                  "reject": bool(r["is_significant"])})
