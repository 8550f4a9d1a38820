#!/usr/bin/env python3
"""Baseline of `abforge analyze`: what a data scientist runs with pandas + scipy on the same
file — every numeric metric (ids and pre_ covariates excluded), treatment vs control:
Welch and Student t (with the Welch CI), Mann–Whitney U (asymptotic, continuity and tie
correction), for 0/1 metrics the pooled two-proportion z, chi-square with and without Yates
and Fisher's exact, for non-negative integer metrics the two-sample Poisson rate test
(score and Wald, statsmodels' test_poisson_2indep formulas written in numpy, since the
benchmark venv has no statsmodels), the relative lift with a delta-method CI, and the
sample-ratio chi-square. Prints one JSON document of the results, so the benchmark can also
check that both tools found the same numbers.

usage: analyze_scipy.py FILE.parquet [--group-column group] [--control control] [--treatment treatment]
"""
import argparse, json, sys

import numpy as np
import pandas as pd
from scipy import stats


def poisson(t, c):
    yt, yc, nt, nc = float(t.sum()), float(c.sum()), len(t), len(c)
    d = nc / nt
    score = (yt - yc / d) / np.sqrt((yt + yc) / d)
    wald = (yt - yc / d) / np.sqrt(yt + yc / d ** 2)
    return {"rate_ratio": (yt / nt) / (yc / nc),
            "score": {"statistic": score, "p_value": 2 * stats.norm.sf(abs(score))},
            "wald": {"statistic": wald, "p_value": 2 * stats.norm.sf(abs(wald))}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--group-column", default="group")
    ap.add_argument("--control", default="control")
    ap.add_argument("--treatment", default="treatment")
    a = ap.parse_args()
    df = pd.read_parquet(a.file)
    g = df[a.group_column].astype(str)
    is_t, is_c = (g == a.treatment).to_numpy(), (g == a.control).to_numpy()
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c != a.group_column
               and not (c == "id" or c.endswith("_id"))]
    metrics = [c for c in numeric if not (c.startswith("pre_") and c[4:] in numeric)]
    out = []
    for m in metrics:
        col = df[m].to_numpy(dtype=np.float64)
        t, c = col[is_t], col[is_c]
        welch = stats.ttest_ind(t, c, equal_var=False)
        ci = welch.confidence_interval(0.95)
        student = stats.ttest_ind(t, c, equal_var=True)
        mw = stats.mannwhitneyu(t, c, use_continuity=True, alternative="two-sided", method="asymptotic")
        mt, mc = t.mean(), c.mean()
        vt, vc = t.var(ddof=1), c.var(ddof=1)
        lift = mt / mc - 1
        se = np.sqrt(vt / len(t) / mc ** 2 + mt ** 2 * vc / len(c) / mc ** 4)
        tests = {
            "welch_t": {"statistic": welch.statistic, "df": welch.df, "p_value": welch.pvalue,
                        "ci_low": ci.low, "ci_high": ci.high},
            "student_t": {"statistic": student.statistic, "df": student.df, "p_value": student.pvalue},
            "mann_whitney_u": {"u_treatment": mw.statistic, "p_value": mw.pvalue},
            "relative_lift": {"estimate": lift, "ci_low": lift - 1.959963984540054 * se,
                              "ci_high": lift + 1.959963984540054 * se},
        }
        both = np.concatenate([t, c])
        if np.all((both == 0) | (both == 1)):
            xt, xc = t.sum(), c.sum()
            table = [[xt, len(t) - xt], [xc, len(c) - xc]]
            chi = stats.chi2_contingency(table, correction=False)
            yates = stats.chi2_contingency(table, correction=True)
            p = (xt + xc) / (len(t) + len(c))
            z = (xt / len(t) - xc / len(c)) / np.sqrt(p * (1 - p) * (1 / len(t) + 1 / len(c)))
            tests["two_proportion_z"] = {"statistic": z, "p_value": 2 * stats.norm.sf(abs(z))}
            tests["chi_square"] = {"statistic": chi.statistic, "p_value": chi.pvalue,
                                   "yates_statistic": yates.statistic, "yates_p_value": yates.pvalue}
            tests["fisher_exact"] = {"p_value": stats.fisher_exact(table).pvalue}
        if np.all(both >= 0) and np.all(both == np.floor(both)):
            tests["poisson_rate"] = poisson(t, c)
        out.append({"metric": m,
                    "groups": {a.control: {"n": len(c), "mean": mc, "variance": vc},
                               a.treatment: {"n": len(t), "mean": mt, "variance": vt}},
                    "tests": tests})
    counts = [int(is_c.sum()), int(is_t.sum())]
    srm = stats.chisquare(counts)
    json.dump({"metrics": out, "srm": {"statistic": srm.statistic, "p_value": srm.pvalue}},
              sys.stdout, default=float)
    print()


if __name__ == "__main__":
    main()
