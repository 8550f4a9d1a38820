"""Reference values for winsorised (capped) Welch tests (abforge-stats `winsorize`), written
to winsor.json.

Run from this folder, with Python 3.11 and numpy 2.4.6, scipy 1.17.1:

    python3 -m venv /tmp/venv-winsor
    /tmp/venv-winsor/bin/pip install numpy==2.4.6 scipy==1.17.1
    /tmp/venv-winsor/bin/python winsor.py      # writes winsor.json; two runs are byte-identical

The caps are the pooled sample's type-1 quantiles (the order statistic of rank ceil(n p),
by the lake's rule in double precision) and, as a cross-check, numpy's
`quantile(method='inverted_cdf')`; the clipped values go through `np.clip` and
`scipy.stats.ttest_ind(equal_var=False)` with its `confidence_interval`.
"""

import json
import math

import numpy as np
import scipy
from scipy import stats


def lake_rank(n, p):
    """Smallest k >= 1 with k / n >= p, the ratio in double precision (the lake's rule)."""
    k = min(max(math.ceil(n * p), 1), n)
    while k > 1 and (k - 1) / n >= p:
        k -= 1
    while k < n and k / n < p:
        k += 1
    return k


def cap(pooled, p):
    if p is None:
        return None
    xs = np.sort(pooled)
    return float(xs[lake_rank(len(xs), p) - 1])


def case(name, t, c, lower, upper, alpha=0.05):
    pooled = np.concatenate([t, c])
    lo, hi = cap(pooled, lower), cap(pooled, upper)
    for p, v in [(lower, lo), (upper, hi)]:
        if p is not None:
            assert float(np.quantile(pooled, p, method="inverted_cdf")) == v, name
    a = -np.inf if lo is None else lo
    b = np.inf if hi is None else hi
    tc, cc = np.clip(t, a, b), np.clip(c, a, b)
    r = stats.ttest_ind(tc, cc, equal_var=False)
    ci = r.confidence_interval(1 - alpha)
    return {
        "name": name,
        "treatment": [float(v) for v in t],
        "control": [float(v) for v in c],
        "lower": lower,
        "upper": upper,
        "alpha": alpha,
        "lower_cap": lo,
        "upper_cap": hi,
        "capped_treatment": int(np.sum(tc != t)),
        "capped_control": int(np.sum(cc != c)),
        "estimate": float(tc.mean() - cc.mean()),
        "statistic": float(r.statistic),
        "df": float(r.df),
        "p_value": float(r.pvalue),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
    }


def main():
    rng = np.random.default_rng(9100001)
    cases = [
        case("lognormal_upper_99", rng.lognormal(0.1, 1.5, 333), rng.lognormal(0.0, 1.5, 401),
             None, 0.99),
        case("pareto_upper_95", rng.pareto(1.5, 250) * 10, rng.pareto(1.5, 260) * 10, None, 0.95),
        case("normal_both_tails", rng.normal(1.0, 2.0, 97), rng.normal(0.5, 3.0, 123), 0.05,
             0.95, alpha=0.1),
        case("zero_inflated_upper_90",
             np.where(rng.random(301) < 0.6, 0.0, rng.gamma(2.0, 30.0, 301)),
             np.where(rng.random(299) < 0.6, 0.0, rng.gamma(2.0, 25.0, 299)), None, 0.9),
        case("lower_only_10", rng.normal(0.0, 1.0, 50), rng.normal(0.2, 1.0, 61), 0.1, None),
    ]
    out = {"numpy": np.__version__, "scipy": scipy.__version__, "cases": cases}
    with open("winsor.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
