"""Reference values for quantile differences, Fieller's sets and multiplicity-adjusted
intervals (abforge-stats modules `quantile`, `fieller`, `simultaneous`), written to qfm.json.

Run from this folder, with Python 3.11 and numpy 2.4.6, scipy 1.17.1, statsmodels 0.15.0:

    python3 -m venv /tmp/venv-qfm
    /tmp/venv-qfm/bin/pip install numpy==2.4.6 scipy==1.17.1 statsmodels==0.15.0
    /tmp/venv-qfm/bin/python qfm.py        # writes qfm.json; two runs are byte-identical

Every value is computed independently of the Rust code: the type-1 quantile by the lake's
rule and by numpy's `method='inverted_cdf'`, order-statistic ranks by `scipy.stats.binom`,
the order-statistic standard error of Deng, Knoblich & Lu (KDD 2018) directly in numpy,
the percentile bootstrap by `scipy.stats.bootstrap`, Fieller's set by the textbook
`g`-formula (and `numpy.roots` when `g ≥ 1`), adjusted p-values by statsmodels
`multipletests` and the intervals by their defining formulas.
"""

import json
import math

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.multitest import multipletests

Z95 = float(stats.norm.isf(0.025))


def lake_rank(n, p):
    """Smallest k >= 1 with k / n >= p, the ratio in double precision (the lake's rule)."""
    k = min(max(math.ceil(n * p), 1), n)
    while k > 1 and (k - 1) / n >= p:
        k -= 1
    while k < n and k / n < p:
        k += 1
    return k


def fl(x):
    """A float for JSON: infinities become null."""
    x = float(x)
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------- quantile definition


def quantile_definition():
    rng = np.random.default_rng(7300001)
    out = []
    data = {
        "ints_1_100": np.arange(1.0, 101.0),
        "ties": np.round(rng.gamma(2.0, 1.0, 37), 1),
        "lognormal_250": rng.lognormal(0.0, 1.0, 250),
    }
    for name, x in data.items():
        xs = np.sort(x)
        n = len(xs)
        for p in [0.01, 0.07, 0.1, 0.25, 0.3, 0.5, 0.9, 0.95, 0.99]:
            k = lake_rank(n, p)
            npq = float(np.quantile(x, p, method="inverted_cdf"))
            out.append(
                {
                    "data": name,
                    "values": [float(v) for v in x],
                    "p": p,
                    "rank": k,
                    "value": float(xs[k - 1]),
                    "numpy_inverted_cdf": npq,
                    "numpy_agrees": npq == float(xs[k - 1]),
                }
            )
    # Keep each data set once.
    seen = set()
    for case in out:
        if case["data"] in seen:
            del case["values"]
        seen.add(case["data"])
    return out


# ---------------------------------------------------------------- order statistics


def order_statistic_ranks():
    cases = [
        (100, 0.9, 0.05),
        (10, 0.5, 0.05),
        (5, 0.5, 0.05),
        (381, 0.99, 0.05),
        (1000, 0.99, 0.05),
        (20000, 0.5, 0.01),
        (123457, 0.37, 0.1),
        (1000000, 0.999, 0.05),
        (1000000000, 0.5, 0.05),
        (4000000000, 0.9, 0.001),
    ]
    out = []
    for n, p, a in cases:
        b = stats.binom(n, p)
        l = int(b.ppf(a / 2))
        u = int(b.ppf(1 - a / 2)) + 1
        cov = float(b.cdf(u - 1) - (b.cdf(l - 1) if l >= 1 else 0.0))
        out.append({"n": n, "p": p, "alpha": a, "l": l, "u": u, "coverage": cov})
    # Hahn & Meeker (Statistical Intervals, 1991), via the answer quoted on
    # stats.stackexchange.com/q/99829: n = 100, p = 0.90, 95 %: l = 85, u = 97 "will work",
    # i.e. B(96; 100, 0.9) - B(84; 100, 0.9) >= 0.95.
    b = stats.binom(100, 0.9)
    hm = {"n": 100, "p": 0.9, "l": 85, "u": 97, "coverage": float(b.cdf(96) - b.cdf(84))}
    return out, hm


# ---------------------------------------------------------------- Deng et al.


def deng_group(x, p, alpha):
    xs = np.sort(np.asarray(x, dtype=float))
    n = len(xs)
    at = lambda k: (-math.inf if k == 0 else (math.inf if k > n else float(xs[k - 1])))
    half = Z95 * math.sqrt(p * (1 - p) / n)
    if not (p - half > 0 and p + half <= 1):
        return {"error": "too_few"}
    lo_r, hi_r = lake_rank(n, p - half), lake_rank(n, p + half)
    lo, hi = at(lo_r), at(hi_r)
    if lo == hi:
        return {"error": "atom", "value": lo}
    se = (hi - lo) / (2 * Z95)
    b = stats.binom(n, p)
    l = int(b.ppf(alpha / 2))
    u = int(b.ppf(1 - alpha / 2)) + 1
    k = lake_rank(n, p)
    return {
        "n": n,
        "rank": k,
        "estimate": at(k),
        "bracket_rank_low": lo_r,
        "bracket_rank_high": hi_r,
        "bracket_low": lo,
        "bracket_high": hi,
        "std_error": se,
        "density": math.sqrt(p * (1 - p) / n) / se,
        "ci_rank_low": l,
        "ci_rank_high": u,
        "ci_low": fl(at(l)),
        "ci_high": fl(at(u)),
        "ci_coverage": float(b.cdf(u - 1) - (b.cdf(l - 1) if l >= 1 else 0.0)),
    }


def deng_cases():
    rng = np.random.default_rng(7300002)
    sets = {
        "lognormal": (1.15 * rng.lognormal(0, 1, 400), rng.lognormal(0, 1, 300)),
        "normal_small": (rng.normal(10.4, 2, 60), rng.normal(10, 2, 50)),
        "rounded_gamma": (
            np.round(rng.gamma(2, 10, 500), 0),
            np.round(rng.gamma(2.2, 10, 500), 0),
        ),
        "zero_inflated": (
            np.where(rng.random(400) < 0.5, 0.0, rng.lognormal(0, 1, 400)),
            np.where(rng.random(400) < 0.2, 0.0, rng.lognormal(0, 1, 400)),
        ),
    }
    plan = [
        ("lognormal", 0.5, 0.05),
        ("lognormal", 0.9, 0.05),
        ("lognormal", 0.95, 0.1),
        ("normal_small", 0.5, 0.05),
        ("normal_small", 0.25, 0.01),
        ("rounded_gamma", 0.25, 0.05),
        ("rounded_gamma", 0.75, 0.05),
        ("zero_inflated", 0.3, 0.05),
        ("zero_inflated", 0.15, 0.05),
        ("zero_inflated", 0.9, 0.05),
        ("normal_small", 0.99, 0.05),
    ]
    data = {k: {"treatment": [float(v) for v in t], "control": [float(v) for v in c]}
            for k, (t, c) in sets.items()}
    out = []
    for name, p, a in plan:
        t, c = sets[name]
        gt, gc = deng_group(t, p, a), deng_group(c, p, a)
        case = {"data": name, "p": p, "alpha": a, "treatment": gt, "control": gc}
        if "error" not in gt and "error" not in gc:
            est = gt["estimate"] - gc["estimate"]
            se = math.hypot(gt["std_error"], gc["std_error"])
            z = est / se
            q = stats.norm.isf(a / 2)
            case.update(
                {
                    "estimate": est,
                    "std_error": se,
                    "statistic": z,
                    "p_value": float(2 * stats.norm.sf(abs(z))),
                    "p_value_greater": float(stats.norm.sf(z)),
                    "ci_low": est - q * se,
                    "ci_high": est + q * se,
                }
            )
        out.append(case)
    return data, out


def bootstrap_case(data):
    """scipy's percentile bootstrap of q_T - q_C (lake-rank quantiles) on the lognormal set."""
    t = np.asarray(data["lognormal"]["treatment"])
    c = np.asarray(data["lognormal"]["control"])
    out = []
    for p in [0.5, 0.9]:
        kt, kc = lake_rank(len(t), p), lake_rank(len(c), p)

        def stat(x, y, axis=-1):
            return np.sort(x, axis=axis)[..., kt - 1] - np.sort(y, axis=axis)[..., kc - 1]

        def run(b, seed):
            r = stats.bootstrap(
                (t, c), stat, n_resamples=b, method="percentile", vectorized=True,
                confidence_level=0.95, rng=np.random.default_rng(seed),
            )
            return r.confidence_interval.low, r.confidence_interval.high, r.standard_error

        ref = run(200_000, 7300003)
        # Monte Carlo spread of the endpoints with 20 000 resamples (what the test draws).
        reps = np.array([run(20_000, 7300100 + i) for i in range(20)])
        out.append(
            {
                "p": p,
                "resamples": 200_000,
                "estimate": float(stat(t, c)),
                "ci_low": float(ref[0]),
                "ci_high": float(ref[1]),
                "std_error": float(ref[2]),
                "sd_at_20000": [float(v) for v in reps.std(axis=0, ddof=1)],
            }
        )
    return out


# ---------------------------------------------------------------- Fieller


def fieller_direct(a, b, va, vb, c, q):
    """Fieller's set by the textbook g-formula (g < 1) or the roots of the quadratic."""
    g = q * q * vb / (b * b)
    rho = a / b
    if g < 1:
        root = va - 2 * rho * c + rho * rho * vb - g * (va - c * c / vb)
        centre = rho - g * c / vb
        half = (q / abs(b)) * math.sqrt(max(root, 0.0))
        return {"kind": "interval", "low": (centre - half) / (1 - g), "high": (centre + half) / (1 - g)}
    coef = [b * b - q * q * vb, -2 * (a * b - q * q * c), a * a - q * q * va]
    disc = coef[1] ** 2 - 4 * coef[0] * coef[2]
    if disc <= 0:
        return {"kind": "unbounded"}
    r = sorted(np.roots(coef).real)
    return {"kind": "exclusive", "below": float(r[0]), "above": float(r[1])}


def fieller_case(name, a, b, va, vb, c, df, alpha, null):
    q = float(stats.norm.isf(alpha / 2) if df is None else stats.t.isf(alpha / 2, df))
    out = {"name": name, "numerator": a, "denominator": b, "var_numerator": va,
           "var_denominator": vb, "covariance": c, "df": df, "alpha": alpha, "null": null,
           "critical": q}
    out["set"] = fieller_direct(a, b, va, vb, c, q)
    rho = a / b
    half = q * math.sqrt(va - 2 * rho * c + rho * rho * vb) / abs(b)
    out["delta_low"], out["delta_high"] = rho - half, rho + half
    s = (a - null * b) / math.sqrt(va - 2 * null * c + null * null * vb)
    out["statistic"] = s
    out["p_value"] = float(2 * (stats.norm.sf(abs(s)) if df is None else stats.t.sf(abs(s), df)))
    return out


def fieller_cases():
    cases = [
        fieller_case("graphpad_95", 14.0, 7.0, 9 / 6, 4 / 6, 0.0, 10, 0.05, 1.0),
        fieller_case("graphpad_90", 14.0, 7.0, 9 / 6, 4 / 6, 0.0, 10, 0.10, 1.0),
        fieller_case("graphpad_99", 14.0, 7.0, 9 / 6, 4 / 6, 0.0, 10, 0.01, 1.0),
        fieller_case("dcstats", 14.0, 7.0, 9.0, 4.0, 0.0, 10, 0.10, 1.0),
        fieller_case("correlated", 3.2, 1.6, 0.09, 0.04, 0.03, None, 0.05, 1.5),
        fieller_case("negative_cov", -2.0, 0.8, 0.3, 0.05, -0.08, None, 0.05, -3.0),
        fieller_case("weak_denominator", 1.0, 0.1, 0.01, 0.01, 0.0, None, 0.05, 1.0),
        fieller_case("nothing_known", 0.1, 0.1, 0.01, 0.01, 0.0, None, 0.05, 1.0),
        fieller_case("t_small_df", 5.0, -2.5, 1.0, 0.25, 0.1, 4.5, 0.05, -1.0),
    ]
    # Published (GraphPad QuickCalcs "CI of a quotient", quoted in the DCPROGS/DCSTATS README):
    # means 14 and 7, SD 3 and 2, N 6 each: 90 % 1.54 to 2.64, 95 % 1.46 to 2.83,
    # 99 % 1.27 to 3.36. DCSTATS' own example (a = 14, b = 7, SD 3 and 2 used as the
    # estimates' SDs, t(10) at 90 %): lower 1.051413, upper 4.414296.
    published = {
        "graphpad_90": [1.54, 2.64],
        "graphpad_95": [1.46, 2.83],
        "graphpad_99": [1.27, 3.36],
        "dcstats": [1.051413, 4.414296],
    }
    # From data: mean(T)/mean(C) of two normal samples, and ratio metrics with covariance.
    rng = np.random.default_rng(7300004)
    t, c = rng.normal(0.8, 1, 30), rng.normal(0.5, 1, 30)
    means = fieller_case("means", t.mean(), c.mean(), t.var(ddof=1) / 30, c.var(ddof=1) / 30,
                         0.0, None, 0.05, 1.0)
    means["treatment"] = [float(v) for v in t]
    means["control"] = [float(v) for v in c]
    y = rng.poisson(3, 40).astype(float) + 1
    x = np.round(y * rng.gamma(2, 2, 40), 2)
    n = len(x)
    cov = np.cov(x, y, ddof=1)
    metric = fieller_case("ratio_metric", x.mean(), y.mean(), cov[0, 0] / n, cov[1, 1] / n,
                          cov[0, 1] / n, None, 0.05, 1.0)
    metric["x"] = [float(v) for v in x]
    metric["y"] = [float(v) for v in y]
    # R_T / R_C with delta-method variances (ratio.rs) of two ratio metrics.
    y2 = rng.poisson(3, 50).astype(float) + 1
    x2 = np.round(y2 * rng.gamma(2, 2.4, 50), 2)

    def ratio_var(x, y):
        n = len(x)
        cv = np.cov(x, y, ddof=1)
        r = x.mean() / y.mean()
        return (cv[0, 0] - 2 * r * cv[0, 1] + r * r * cv[1, 1]) / (n * y.mean() ** 2)

    metrics = fieller_case("ratio_metrics", x2.mean() / y2.mean(), x.mean() / y.mean(),
                           ratio_var(x2, y2), ratio_var(x, y), 0.0, None, 0.05, 1.0)
    metrics["treatment_x"] = [float(v) for v in x2]
    metrics["treatment_y"] = [float(v) for v in y2]
    return cases + [means, metric, metrics], published


# ---------------------------------------------------------------- multiplicity


def p_values(est, se, null, df, alt):
    z = (np.asarray(est) - null) / np.asarray(se)
    sf = (lambda s: stats.norm.sf(s)) if df is None else (lambda s: stats.t.sf(s, df))
    if alt == "greater":
        return sf(z)
    if alt == "less":
        return sf(-z)
    return 2 * sf(np.abs(z))


def isf(a, df):
    return stats.norm.isf(a) if df is None else stats.t.isf(a, df)


def sb_lower(est, se, null, df, adj, level):
    """Strassburger & Bretz (2008) lower bounds for Holm at `level`, written out directly."""
    m = len(est)
    rej = adj <= level
    r = int(rej.sum())
    if r == m:
        return np.maximum(null, est - isf(level / m, df) * se)
    return np.where(rej, null, est - isf(level / (m - r), df) * se)


def family_case(name, est, se, df, alt, method, alpha):
    est, se = np.asarray(est, float), np.asarray(se, float)
    null = 0.0
    m = len(est)
    p = p_values(est, se, null, df, alt)
    inf = np.full(m, np.inf)
    if method == "holm":
        pu, pd = p_values(est, se, null, df, "greater"), p_values(est, se, null, df, "less")
        au = multipletests(pu, method="holm")[1]
        ad = multipletests(pd, method="holm")[1]
        if alt == "greater":
            adj, lo, hi = au, sb_lower(est, se, null, df, au, alpha), inf
        elif alt == "less":
            adj, lo, hi = ad, -inf, -sb_lower(-est, se, -null, df, ad, alpha)
        else:
            adj = np.minimum(1.0, 2 * np.minimum(au, ad))
            lo = sb_lower(est, se, null, df, au, alpha / 2)
            hi = -sb_lower(-est, se, -null, df, ad, alpha / 2)
    else:
        sm = {"none": None, "bonferroni": "bonferroni", "bh": "fdr_bh"}[method]
        adj = p if sm is None else multipletests(p, method=sm)[1]
        if method == "none":
            level = alpha
        elif method == "bonferroni":
            level = alpha / m
        else:
            level = max(int((adj <= alpha).sum()), 1) * alpha / m
        if alt == "two-sided":
            h = isf(level / 2, df) * se
            lo, hi = est - h, est + h
        elif alt == "greater":
            lo, hi = est - isf(level, df) * se, inf
        else:
            lo, hi = -inf, est + isf(level, df) * se
    return {
        "name": name,
        "estimates": est.tolist(),
        "std_errors": se.tolist(),
        "df": df,
        "alternative": alt,
        "method": method,
        "alpha": alpha,
        "p_value": [float(v) for v in p],
        "p_adjusted": [float(v) for v in adj],
        "statsmodels_two_sided_holm": (
            [float(v) for v in multipletests(p, method="holm")[1]]
            if alt == "two-sided" else None
        ),
        "ci_low": [fl(v) for v in lo],
        "ci_high": [fl(v) for v in hi],
        "reject": [bool(v <= alpha) for v in adj],
    }


def multiple_cases():
    mixed = [3.2, -2.9, 2.4, 0.7, -0.3, 2.05]
    se6 = [1.0, 1.1, 0.9, 1.0, 0.8, 1.0]
    same = [3.1, 2.6, 2.35, 0.4]
    se4 = [1.0] * 4
    allrej = [4.0, 3.6, 3.9]
    gmcp_est = [0.860382, 0.9161474, 0.9732953]
    gmcp_se = [s / math.sqrt(10) for s in [0.8759528, 1.291310, 0.8570892]]
    out = []
    for method in ["none", "bonferroni", "holm", "bh"]:
        for alt in ["two-sided", "greater", "less"]:
            out.append(family_case(f"mixed_{method}_{alt}", mixed, se6, None, alt, method, 0.05))
        out.append(family_case(f"same_sign_{method}", same, se4, None, "two-sided", method, 0.05))
        out.append(family_case(f"all_rejected_{method}", allrej, [1.0] * 3, None, "greater",
                               method, 0.05))
        out.append(family_case(f"t_{method}", mixed, se6, 7.0, "two-sided", method, 0.1))
    out.append(family_case("bh_none_selected", [1.0, -0.5, 1.5], [1.0] * 3, None, "two-sided",
                           "bh", 0.05))
    out.append(family_case("gmcp_vignette", gmcp_est, gmcp_se, 9.0, "greater", "holm", 0.025))
    return out


def main():
    qdata, deng = deng_cases()
    ranks, hm = order_statistic_ranks()
    fieller, published = fieller_cases()
    doc = {
        "generated_by": "qfm.py",
        "versions": {
            "python": "3.11.7",
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__,
        },
        "z95": Z95,
        "quantile_definition": quantile_definition(),
        "order_statistic_ranks": ranks,
        "hahn_meeker": hm,
        "deng_data": qdata,
        "deng": deng,
        "bootstrap": bootstrap_case(qdata),
        "fieller": fieller,
        "fieller_published": published,
        "multiple": multiple_cases(),
    }
    with open("qfm.json", "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")


if __name__ == "__main__":
    main()
