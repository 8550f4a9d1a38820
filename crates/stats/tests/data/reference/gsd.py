"""Reference values for abforge-stats' group-sequential designs (`group_sequential.rs`).

Run:  python3 gsd.py > gsd.json      (from this folder; a few minutes)
With: Python 3.11+, numpy 2.4.6, scipy 1.17.1. Two runs give byte-identical output.

Two computations, both independent of the Rust code:

1. `critical_values`, `alpha_spent` and the operating characteristics come from a recursive
   integration of the canonical joint law (Z_k ~ N(theta*sqrt(t_k), 1), independent
   increments) with *composite Gauss-Legendre* quadrature on the continuation regions
   (panels of width 0.25 with 16 nodes, truncated 12 sd from the mean), where the Rust code
   uses Jennison & Turnbull's Simpson grid. Each case is recomputed with panels of 0.125
   and 24 nodes; `gl_self_check` is the largest difference between the two (a bound on
   this reference's own error).
2. `mvn_alpha_spent` / `mvn_rejection_probability` integrate the same law directly with
   `scipy.stats.multivariate_normal.cdf` (Genz's quasi-Monte Carlo, seeded), correlation
   sqrt(t_i/t_j): P(reject by look k) = 1 - P(no crossing at looks 1..k), requested to
   `mvn_abseps` = 1e-7 (designs of at most 10 looks; `null` above); it checks that the
   boundaries spend alpha(t_k).

Spending convention: a two-sided design at level alpha spends f(t; alpha/2) per side
(ldbounds, gsDesign test.type=2, rpact sided=2); one-sided designs spend f(t; alpha).
"""

import json
import math
import sys

import numpy as np
import scipy
from scipy import optimize, special, stats

TRUNC = 12.0  # sd; the mass beyond is below 1e-32


def spending(kind, param, a, t):
    if kind == "lan_demets_obrien_fleming":
        return 2.0 * stats.norm.sf(stats.norm.isf(a / 2.0) / math.sqrt(t))
    if kind == "lan_demets_pocock":
        return a * math.log(1.0 + (math.e - 1.0) * t)
    if kind == "hwang_shih_decani":
        g = param
        return a * t if g == 0 else a * math.expm1(-g * t) / math.expm1(-g)
    if kind == "power_family":
        return a * t**param
    raise ValueError(kind)


def gl_nodes(lo, hi, panel, q):
    """Composite Gauss-Legendre nodes and weights on [lo, hi]."""
    if not hi > lo:
        return np.zeros(0), np.zeros(0)
    x, w = np.polynomial.legendre.leggauss(q)
    n = max(1, math.ceil((hi - lo) / panel))
    edges = np.linspace(lo, hi, n + 1)
    half = (edges[1:] - edges[:-1]) / 2.0
    mid = (edges[1:] + edges[:-1]) / 2.0
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    return nodes, weights


class Recursion:
    """Sub-densities of Z_k on the continuation regions, look by look."""

    def __init__(self, t, theta, panel, q):
        self.t, self.theta, self.panel, self.q = t, theta, panel, q
        self.nodes = None  # (z, w*h) of the previous look

    def exits(self, k, lo, hi):
        t, th = self.t, self.theta
        if k == 0:
            mu = th * math.sqrt(t[0])
            return stats.norm.sf(hi - mu), stats.norm.cdf(lo - mu)
        z, wh = self.nodes
        d = t[k] - t[k - 1]
        m = (z * math.sqrt(t[k - 1]) + th * d) / math.sqrt(d)
        a = math.sqrt(t[k] / d)
        above = float(np.sum(wh * special.ndtr(m - a * hi))) if np.isfinite(hi) else 0.0
        below = float(np.sum(wh * special.ndtr(a * lo - m))) if np.isfinite(lo) else 0.0
        return above, below

    def advance(self, k, lo, hi):
        t, th = self.t, self.theta
        mu = th * math.sqrt(t[k])
        z, w = gl_nodes(max(lo, mu - TRUNC), min(hi, mu + TRUNC), self.panel, self.q)
        if k == 0:
            h = stats.norm.pdf(z - mu)
        else:
            zp, whp = self.nodes
            d = t[k] - t[k - 1]
            a = math.sqrt(t[k] / d)
            x = a * z[:, None] - (zp[None, :] * math.sqrt(t[k - 1]) + th * d) / math.sqrt(d)
            h = a * (stats.norm.pdf(x) @ whp)
        self.nodes = (z, w * h)


def region(sides, c):
    return (-c, c) if sides == 2 else (-math.inf, c)


def spending_boundary(t, alpha, sides, kind, param, panel, q):
    rec = Recursion(t, 0.0, panel, q)
    per_side = alpha / sides
    spent = lambda x: sides * spending(kind, param, per_side, x)
    cs = []
    for k in range(len(t)):
        inc = spent(t[k]) - (spent(t[k - 1]) if k else 0.0)
        if inc <= 1e-300:
            c = math.inf
        else:
            f = lambda c: sum(rec.exits(k, *region(sides, c))) - inc
            c = optimize.brentq(f, 0.0 if sides == 2 else -40.0, 40.0, xtol=1e-14, rtol=1e-15)
        cs.append(c)
        if k + 1 < len(t):
            rec.advance(k, *region(sides, c))
    return cs


def exit_probs(t, cs, sides, theta, panel, q):
    rec = Recursion(t, theta, panel, q)
    out = []
    for k, c in enumerate(cs):
        out.append(rec.exits(k, *region(sides, c)))
        if k + 1 < len(t):
            rec.advance(k, *region(sides, c))
    return out


def wang_tsiatis(t, alpha, sides, delta, panel, q):
    shape = lambda C: [C * x ** (delta - 0.5) for x in t]
    size = lambda C: sum(a + b for a, b in exit_probs(t, shape(C), sides, 0.0, panel, q)) - alpha
    last = t[-1] ** (delta - 0.5)
    lo = stats.norm.isf(alpha / sides) / last
    hi = stats.norm.isf(alpha / sides / len(t)) / last
    if len(t) == 1:
        return shape(lo)
    return shape(optimize.brentq(size, lo * (1 - 1e-9), hi * (1 + 1e-9), xtol=1e-14, rtol=1e-15))


def design(case, panel, q):
    t, alpha, sides = case["fractions"], case["alpha"], case["sides"]
    kind, param = case["kind"], case.get("param")
    if kind == "wang_tsiatis":
        return wang_tsiatis(t, alpha, sides, param, panel, q)
    return spending_boundary(t, alpha, sides, kind, param, panel, q)


MVN_ABSEPS = 1e-7
MVN_MAX_LOOKS = 10


def mvn_cumulative(t, cs, sides, theta):
    """1 - P(no crossing at looks 1..k) for each k, by scipy's multivariate normal cdf."""
    out = []
    for k in range(1, len(t) + 1):
        tt = np.array(t[:k])
        cov = np.sqrt(np.minimum.outer(tt, tt) / np.maximum.outer(tt, tt))
        mean = theta * np.sqrt(tt)
        upper = np.array(cs[:k])
        lower = -upper if sides == 2 else np.full(k, -np.inf)
        if k == 1:
            p = stats.norm.cdf(upper[0] - mean[0]) - stats.norm.cdf(lower[0] - mean[0])
        else:
            p = stats.multivariate_normal.cdf(
                upper, mean=mean, cov=cov, lower_limit=lower, maxpts=4_000_000 * k,
                abseps=MVN_ABSEPS, releps=0, rng=np.random.default_rng(20240611 + k))
        out.append(float(1.0 - p))
    return out


FINE = (0.125, 24)
COARSE = (0.25, 16)


def one_case(case):
    cs = design(case, *COARSE)
    cs_fine = design(case, *FINE)
    sides, t = case["sides"], case["fractions"]
    finite = [(a, b) for a, b in zip(cs, cs_fine) if math.isfinite(a)]
    check = max(abs(a - b) for a, b in finite)
    ex = exit_probs(t, cs, sides, 0.0, *COARSE)
    out = dict(case)
    out["critical_values"] = [c if math.isfinite(c) else None for c in cs]
    out["alpha_spent"] = list(np.cumsum([a + b for a, b in ex]))
    # Genz's algorithm in 20 or 50 dimensions is too slow at this accuracy.
    use_mvn = len(t) <= MVN_MAX_LOOKS
    out["mvn_alpha_spent"] = mvn_cumulative(t, cs, sides, 0.0) if use_mvn else None
    ops = []
    for theta in case.get("drifts", []):
        e = exit_probs(t, cs, sides, theta, *COARSE)
        e_fine = exit_probs(t, cs, sides, theta, *FINE)
        check = max([check] + [abs(a - c) + abs(b - d) for (a, b), (c, d) in zip(e, e_fine)])
        stop = [a + b for a, b in e]
        expected = sum(x * p for x, p in zip(t, stop)) + t[-1] * (1.0 - sum(stop))
        # Power: rejections in the direction of the drift (the only side when one-sided).
        side = 1 if sides == 2 and theta < 0 else 0
        ops.append({
            "drift": theta,
            "reject_above": [a for a, _ in e],
            "reject_below": [b for _, b in e],
            "power": sum(x[side] for x in e),
            "rejection_probability": sum(stop),
            "expected_fraction": expected,
            "mvn_rejection_probability": (
                mvn_cumulative(t, cs, sides, theta)[-1] if use_mvn else None),
        })
    out["operating"] = ops
    out["gl_self_check"] = check
    return out


def equal(k):
    return [(i + 1) / k for i in range(k)]


CASES = [
    # Lan-DeMets spending, two-sided alpha = 0.05, 5 equally spaced looks.
    dict(name="ldof_two_sided_k5", kind="lan_demets_obrien_fleming", alpha=0.05, sides=2,
         fractions=equal(5), drifts=[0.0, 1.0, 2.8, 3.5]),
    dict(name="ldpocock_two_sided_k5", kind="lan_demets_pocock", alpha=0.05, sides=2,
         fractions=equal(5), drifts=[0.0, 2.0, 3.0]),
    dict(name="hsd_m4_one_sided_k5", kind="hwang_shih_decani", param=-4.0, alpha=0.025,
         sides=1, fractions=equal(5), drifts=[0.0, 2.0, 3.3, -1.0]),
    dict(name="hsd_1_two_sided_k3", kind="hwang_shih_decani", param=1.0, alpha=0.05, sides=2,
         fractions=[0.3, 0.7, 1.0], drifts=[2.5, -2.5]),
    dict(name="power2_two_sided_k4", kind="power_family", param=2.0, alpha=0.05, sides=2,
         fractions=equal(4), drifts=[3.0]),
    # Unequal spacing, a last fraction below 1, close looks, the alpha limits.
    dict(name="ldof_unequal", kind="lan_demets_obrien_fleming", alpha=0.05, sides=2,
         fractions=[0.1, 0.35, 0.6, 0.9, 1.0], drifts=[3.0]),
    dict(name="ldpocock_stops_short", kind="lan_demets_pocock", alpha=0.05, sides=2,
         fractions=[0.3, 0.6, 0.8], drifts=[2.5]),
    dict(name="ldof_close_looks", kind="lan_demets_obrien_fleming", alpha=0.05, sides=2,
         fractions=[0.5, 0.505, 0.8, 0.808, 1.0], drifts=[2.8]),
    dict(name="ldof_tiny_alpha", kind="lan_demets_obrien_fleming", alpha=1e-6, sides=2,
         fractions=equal(4), drifts=[5.0]),
    dict(name="ldpocock_alpha_half_one_sided", kind="lan_demets_pocock", alpha=0.5, sides=1,
         fractions=equal(4), drifts=[1.0]),
    dict(name="ldof_one_sided_k4", kind="lan_demets_obrien_fleming", alpha=0.05, sides=1,
         fractions=equal(4), drifts=[2.5]),
    dict(name="ldof_two_sided_k20", kind="lan_demets_obrien_fleming", alpha=0.05, sides=2,
         fractions=equal(20), drifts=[3.0]),
    dict(name="ldpocock_two_sided_k50", kind="lan_demets_pocock", alpha=0.05, sides=2,
         fractions=equal(50), drifts=[]),
    dict(name="ldof_k1", kind="lan_demets_obrien_fleming", alpha=0.05, sides=2,
         fractions=[1.0], drifts=[2.0]),
    # Classical Wang-Tsiatis boundaries (Pocock: delta = 0.5, O'Brien-Fleming: delta = 0).
    dict(name="pocock_k5", kind="wang_tsiatis", param=0.5, alpha=0.05, sides=2,
         fractions=equal(5), drifts=[3.0]),
    dict(name="obf_k5", kind="wang_tsiatis", param=0.0, alpha=0.05, sides=2,
         fractions=equal(5), drifts=[3.0]),
    dict(name="pocock_k10", kind="wang_tsiatis", param=0.5, alpha=0.05, sides=2,
         fractions=equal(10), drifts=[]),
    dict(name="obf_k10", kind="wang_tsiatis", param=0.0, alpha=0.05, sides=2,
         fractions=equal(10), drifts=[]),
    dict(name="wt_025_unequal_one_sided", kind="wang_tsiatis", param=0.25, alpha=0.025,
         sides=1, fractions=[0.25, 0.5, 0.8, 1.0], drifts=[3.0]),
]


def main():
    cases = [one_case(c) for c in CASES]
    worst = max(c["gl_self_check"] for c in cases)
    assert worst < 1e-9, worst
    doc = {
        "description": __doc__.strip().splitlines()[0],
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "conventions": (
            "critical values c_k: two-sided rejects |Z_k| >= c_k, one-sided (sides = 1) "
            "Z_k >= c_k; drift = mean of Z at t = 1; alpha_spent cumulative; null = +inf"
        ),
        "quadrature": {"coarse": COARSE, "fine": FINE, "truncation_sd": TRUNC},
        "mvn_abseps": MVN_ABSEPS,
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
