"""Reference values for abforge-stats' asymptotic confidence sequences and sequential SRM.

Writes `avcs.json` beside this script. Deterministic: two runs give byte-identical output.

How to run (Python 3.11):

    python3 -m venv /tmp/venv-avcs
    /tmp/venv-avcs/bin/pip install numpy==2.4.6 scipy==1.17.1 mpmath==1.4.1 \
        pydantic==2.14.4 pandas==3.1.1 packaging==26.4 toolz==1.2.0
    /tmp/venv-avcs/bin/pip install --no-deps ssrm-test==0.1.5
    # gbstats: the source of GrowthBook's packages/stats at commit
    # 8f1db4456915a8e7b7faf23d5632ca7219d2f469 (2026-08-21; its pyproject still says 0.8.0,
    # but PyPI's gbstats 0.8.0 predates the one-sided sequential tests and the `rho` option).
    git -C growthbook archive 8f1db44 packages/stats/gbstats | tar -x -C /tmp/gbstats-src
    GBSTATS_SRC=/tmp/gbstats-src/packages/stats /tmp/venv-avcs/bin/python avcs.py

Sources of the reference values:

* `confidence_sequence`: GrowthBook's own classes `SequentialTwoSidedTTest`,
  `SequentialOneSidedTreatmentGreaterTTest` and `...LesserTTest` on `SampleMeanStatistic`s
  (gbstats/frequentist/tests.py), absolute and relative differences. gbstats finds the
  one-sided p-value by bisection (tolerance 1e-6 on the bound, clamped to [1e-5, 0.4999]),
  so the script also records the exact root of gbstats' own
  `sequential_interval_halfwidth_one_sided(α) = estimate − null` (scipy brentq, xtol 1e-300,
  rtol 8.9e-16, capped at 1) as `p_value_root`.
* `srm`: (1) Lindon's published code, Optimizely's `ssrm-test` 0.1.5
  (`sequential_bayes_factors`, `sequential_p_values`, which accumulate Dirichlet-multinomial
  posterior predictives batch by batch); it uses `np.Inf`, removed in numpy 2, so the script
  sets `np.Inf = np.inf` first. (2) A direct numpy/scipy implementation of the closed-form
  Bayes factor (`gammaln`) on the cumulative counts. (3) The same closed form in mpmath at 60
  digits, the exact value for the given floats, for the large-count cases.
"""

import json
import os
import sys

import numpy as np

np.Inf = np.inf  # ssrm-test 0.1.5 still uses the numpy 1 alias

import mpmath
import scipy
from scipy.optimize import brentq
from scipy.special import gammaln

sys.path.insert(0, os.environ.get("GBSTATS_SRC", "/tmp/gbstats-src/packages/stats"))
from gbstats.frequentist.tests import (  # noqa: E402
    SequentialConfig,
    SequentialOneSidedTreatmentGreaterTTest,
    SequentialOneSidedTreatmentLesserTTest,
    SequentialTwoSidedTTest,
    sequential_interval_halfwidth_one_sided,
)
from gbstats.models.statistics import SampleMeanStatistic  # noqa: E402
from ssrm_test import ssrm_test as ssrm  # noqa: E402

mpmath.mp.dps = 60

# ---------------------------------------------------------------------------------------
# Confidence sequences (gbstats)
# ---------------------------------------------------------------------------------------

# (n, sum, sum_squares) of each group; sums chosen exactly representable.
GROUPS = {
    "means_gap": ((5000, 52000.0, 665775.0), (5000, 50000.0, 624975.0)),
    "conversions_unequal": ((20000, 2400.0, 2400.0), (2000, 200.0, 200.0)),
    "small_groups": ((30, 45.5, 101.25), (25, 30.0, 61.5)),
    "no_effect": ((800, 1000.0, 2250.0), (800, 1000.0, 2250.0)),
    "negative_means": ((400, -600.0, 10875.0), (400, -800.0, 11575.0)),
    "large_n": ((1_000_000, 2_030_000.0, 9_140_000.0), (1_000_000, 2_000_000.0, 8_900_000.0)),
}

CS_CASES = [
    # name, groups, difference_type, alternative, alpha, planned_n, rho, test_value
    ("means_gap_abs", "means_gap", "absolute", "two_sided", 0.05, 5000, None, 0.0),
    ("means_gap_rel", "means_gap", "relative", "two_sided", 0.05, 5000, None, 0.0),
    ("means_gap_abs_alpha10_planned20000", "means_gap", "absolute", "two_sided", 0.10, 20000, None, 0.0),
    ("means_gap_abs_null", "means_gap", "absolute", "two_sided", 0.05, 5000, None, 0.2),
    ("conversions_abs", "conversions_unequal", "absolute", "two_sided", 0.05, 5000, None, 0.0),
    ("conversions_rel", "conversions_unequal", "relative", "two_sided", 0.05, 5000, None, 0.0),
    ("conversions_rel_rho", "conversions_unequal", "relative", "two_sided", 0.05, 5000, 0.1, 0.0),
    ("small_groups_abs", "small_groups", "absolute", "two_sided", 0.05, 1000, None, 0.0),
    ("small_groups_rel", "small_groups", "relative", "two_sided", 0.01, 1000, None, 0.0),
    ("no_effect_abs", "no_effect", "absolute", "two_sided", 0.05, 5000, None, 0.0),
    ("negative_means_abs", "negative_means", "absolute", "two_sided", 0.05, 5000, None, 0.0),
    ("negative_means_rel", "negative_means", "relative", "two_sided", 0.05, 5000, None, 0.0),
    ("large_n_abs", "large_n", "absolute", "two_sided", 0.05, 2_000_000, None, 0.0),
    ("means_gap_abs_greater", "means_gap", "absolute", "greater", 0.05, 5000, None, 0.0),
    ("means_gap_abs_less", "means_gap", "absolute", "less", 0.05, 5000, None, 0.0),
    ("conversions_rel_greater", "conversions_unequal", "relative", "greater", 0.05, 5000, None, 0.0),
    ("small_groups_abs_greater", "small_groups", "absolute", "greater", 0.10, 1000, None, 0.0),
    ("small_groups_abs_less", "small_groups", "absolute", "less", 0.10, 1000, None, 0.0),
]

TESTS = {
    "two_sided": SequentialTwoSidedTTest,
    "greater": SequentialOneSidedTreatmentGreaterTTest,
    "less": SequentialOneSidedTreatmentLesserTTest,
}


def finite_or_none(x):
    x = float(x)
    return x if np.isfinite(x) else None


def cs_case(name, groups, diff_type, alternative, alpha, planned_n, rho, test_value):
    (nt, st, sst), (nc, sc, ssc) = GROUPS[groups]
    treatment = SampleMeanStatistic(n=nt, sum=st, sum_squares=sst)
    control = SampleMeanStatistic(n=nc, sum=sc, sum_squares=ssc)
    config = SequentialConfig(
        difference_type=diff_type,
        alpha=alpha,
        sequential_tuning_parameter=planned_n,
        rho=rho,
        test_value=test_value,
    )
    # gbstats takes control (stat_a) first, treatment (stat_b) second.
    test = TESTS[alternative]([(control, treatment)], config)
    res = test.compute_result()
    assert res.errorMessage is None and res.pValueErrorMessage is None, res
    expected = {
        "estimate": float(res.expected),
        "std_error": float(res.uplift.stddev),
        "rho": float(test.rho),
        "n": int(test.n),
        "ci_low": finite_or_none(res.ci[0]),
        "ci_high": finite_or_none(res.ci[1]),
        "p_value": float(res.pValue),
    }
    if alternative != "two_sided":
        expected["p_value_root"] = one_sided_root(test, alternative, res.expected, test_value)
    return {
        "name": name,
        # The summaries exactly as gbstats sees them: mean = sum/n,
        # variance = (sum_squares − sum²/n)/(n − 1).
        "treatment": {"n": nt, "mean": float(treatment.mean), "variance": float(treatment.variance)},
        "control": {"n": nc, "mean": float(control.mean), "variance": float(control.variance)},
        "scale": "relative_lift" if diff_type == "relative" else "difference",
        "alternative": alternative,
        "alpha": alpha,
        "planned_n": planned_n,
        "rho": rho,
        "null": test_value,
        "expected": expected,
    }


def one_sided_root(test, alternative, estimate, null):
    """The α at which gbstats' own one-sided bound passes through the null value."""
    s2 = test.moments_result.standard_error ** 2 * test.n
    d = estimate - null if alternative == "greater" else null - estimate
    if d <= 0:
        return 1.0

    def gap(a):
        return sequential_interval_halfwidth_one_sided(s2, test.n, None, a, test.rho) - d

    # The bound is defined for every α > 0 (gbstats refuses α ≥ 0.5 only as a level); the
    # p-value is the root, capped at 1.
    root = brentq(gap, 1e-300, 1e6, xtol=1e-300, rtol=8.9e-16, maxiter=500)
    return float(min(1.0, root))


# ---------------------------------------------------------------------------------------
# Sequential SRM
# ---------------------------------------------------------------------------------------


def log_bf_numpy(counts, theta0, alpha0):
    y = np.asarray(counts, dtype=float)
    a = np.asarray(alpha0, dtype=float)
    th = np.asarray(theta0, dtype=float)
    return float(
        gammaln(a.sum())
        - gammaln(a).sum()
        + gammaln(a + y).sum()
        - gammaln(a.sum() + y.sum())
        - np.sum(scipy.special.xlogy(y, th))
    )


def log_bf_mpmath(counts, theta0, alpha0):
    y = [mpmath.mpf(int(c)) for c in counts]
    a = [mpmath.mpf(float(x)) for x in alpha0]
    th = [mpmath.mpf(float(x)) for x in theta0]
    out = mpmath.loggamma(sum(a)) - mpmath.loggamma(sum(a) + sum(y))
    for yi, ai, ti in zip(y, a, th):
        out += mpmath.loggamma(ai + yi) - mpmath.loggamma(ai)
        if yi > 0:
            out -= yi * mpmath.log(ti)
    return float(out)


def srm_case(name, weights, concentration, batches, prior_mean=None, source=None):
    """`batches`: counts per arm added at each look (ssrm-test's time-aggregated data)."""
    w = np.asarray(weights, dtype=float)
    theta0 = w / w.sum()
    m = theta0 if prior_mean is None else np.asarray(prior_mean, float) / np.sum(prior_mean)
    alpha0 = m * concentration
    batches = np.asarray(batches, dtype=np.int64)
    cumulative = np.cumsum(batches, axis=0)
    # ssrm-test multiplies its `dirichlet_probability` by the concentration without
    # normalising it; pass the normalised mean so both describe the same prior.
    bfs = ssrm.sequential_bayes_factors(
        batches, theta0, dirichlet_probability=m, dirichlet_concentration=concentration
    )
    pvals = ssrm.sequential_p_values(
        batches, theta0, dirichlet_probability=m, dirichlet_concentration=concentration
    )
    with np.errstate(divide="ignore"):
        log_bf_ssrm = [float(np.log(b)) if np.isfinite(b) else None for b in bfs]
    out = {
        "name": name,
        "weights": [float(x) for x in weights],
        "concentration": float(concentration),
        "prior_mean": None if prior_mean is None else [float(x) for x in prior_mean],
        "cumulative": cumulative.tolist(),
        "expected": {
            "log_bayes_factor": [log_bf_numpy(c, theta0, alpha0) for c in cumulative],
            "log_bayes_factor_ssrm": log_bf_ssrm,
            "p_value_ssrm": [float(p) for p in pvals],
        },
    }
    if source:
        out["source"] = source
    return out


def srm_large_case(name, weights, concentration, counts):
    w = np.asarray(weights, dtype=float)
    theta0 = w / w.sum()
    alpha0 = theta0 * concentration
    return {
        "name": name,
        "weights": [float(x) for x in weights],
        "concentration": float(concentration),
        "counts": [int(c) for c in counts],
        "expected": {
            "log_bayes_factor_mpmath": log_bf_mpmath(counts, theta0, alpha0),
            "log_bayes_factor_numpy": log_bf_numpy(counts, theta0, alpha0),
        },
    }


def srm_cases():
    cases = []
    # The worked example of Lindon's published code: ssrm_test/test_ssrm_test.py,
    # test_sequential_posteriors (unit-level data, Dirichlet(1, 1, 1) prior).
    one_hot = [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    cases.append(
        srm_case(
            "ssrm_unit_test_example",
            [0.4, 0.4, 0.2],
            3.0,
            one_hot,
            prior_mean=[1, 1, 1],
            source="optimizely/ssrm ssrm_test/test_ssrm_test.py::test_sequential_posteriors",
        )
    )
    # The time-aggregated example of ssrm's notebooks/introduction.ipynb: seed 0,
    # intended [0.1, 0.5, 0.4], actual [0.1, 0.49, 0.41], 100 buckets of 1000 visitors,
    # default concentration 10000.
    np.random.seed(0)
    data = scipy.stats.multinomial.rvs(1000, [0.1, 0.49, 0.41], size=100)
    cases.append(
        srm_case(
            "ssrm_notebook_time_aggregated",
            [0.1, 0.5, 0.4],
            10000.0,
            data,
            source="optimizely/ssrm notebooks/introduction.ipynb, 'Time Aggregated Data'",
        )
    )
    rng = np.random.default_rng(20240611)
    cases.append(srm_case("h0_two_arms_daily", [1, 1], 10000.0, rng.multinomial(700, [0.5, 0.5], size=30)))
    cases.append(srm_case("mismatch_52_48_daily", [1, 1], 10000.0, rng.multinomial(700, [0.52, 0.48], size=30)))
    cases.append(
        srm_case(
            "five_arms_unequal_k100",
            [4, 1, 1, 1, 1],
            100.0,
            rng.multinomial(250, [0.5, 0.125, 0.125, 0.125, 0.125], size=20),
        )
    )
    cases.append(
        srm_case("three_arms_with_empty_days", [0.2, 0.3, 0.5], 50.0, [[0, 0, 0], [3, 0, 1], [0, 0, 0], [10, 15, 30]])
    )
    large = [
        # 1 637 070 visitors with 50.2 % in control, the example of ssrm's notebook.
        srm_large_case("kohavi_50_2_percent", [1, 1], 10000.0, [821_809, 815_261]),
        srm_large_case("balanced_1e8", [1, 1], 10000.0, [100_004_000, 99_996_000]),
        srm_large_case("three_arms_1e10", [1, 2, 2], 1e6, [2_000_030_000, 4_000_010_000, 3_999_960_000]),
    ]
    return cases, large


def main():
    cs = [cs_case(*c) for c in CS_CASES]
    srm, large = srm_cases()
    out = {
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "mpmath": mpmath.__version__,
            "gbstats": "growthbook/growthbook@8f1db4456915a8e7b7faf23d5632ca7219d2f469 packages/stats",
            "ssrm-test": "0.1.5",
        },
        "conventions": (
            "Treatment first, control second (gbstats takes control first); estimates are "
            "mean_t − mean_c or (mean_t − mean_c)/|mean_c| (gbstats' relative lift). ρ = "
            "sqrt((−2 ln a + ln(1 − 2 ln a)) / planned_n) with a = α two-sided, 2α one-sided; "
            "n = n_t + n_c. "
            "Open bounds are null. SRM: `cumulative` holds the counts per arm after each look; "
            "log Bayes factors are natural logs."
        ),
        "confidence_sequence": cs,
        "srm": srm,
        "srm_large": large,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "avcs.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
