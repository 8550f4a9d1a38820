"""Reference values of abforge-stats' regression adjustment (`lin_regression`) and
cluster-level comparison (`cluster_mean_difference`) -> regadj.json.

Run (from this folder):

    python3 -m venv /tmp/venv-regadj
    /tmp/venv-regadj/bin/pip install numpy==2.4.6 scipy==1.17.1 statsmodels==0.15.0
    apt-get install -y r-base-core r-cran-sandwich r-cran-clubsandwich   # Debian bookworm
    /tmp/venv-regadj/bin/python regadj.py

Built with Python 3.11.7, numpy 2.4.6, scipy 1.17.1, statsmodels 0.15.0, R 4.2.2 and
clubSandwich 0.5.8 (Debian r-cran-clubsandwich 0.5.8-1). Two runs give byte-identical
output. Without R the script stops: the CR2 values are clubSandwich's.

What is computed, per dataset (rows: treatment first, then control):

* The design of Lin (2013): [1, T, x - xbar, T*(x - xbar)] with xbar the pooled mean of
  each covariate (`lin`), and the ANCOVA design [1, T, x - xbar] (`ancova`).
* statsmodels `OLS(y, X).fit(cov_type=..., use_t=...)` for cov_type 'nonrobust', 'HC0',
  'HC1', 'HC2', 'HC3' and 'cluster' (groups = the cluster ids; statsmodels' CR1 with
  G/(G-1)*(n-1)/(n-k)): params, bse, and for the treatment coefficient the p-value and the
  95 % interval with use_t=True (t with n-k df, or G-1 for 'cluster') and use_t=False
  (normal).
* CR2: R clubSandwich `vcovCR(lm, cluster, type = "CR2")` and
  `coef_test(..., test = "Satterthwaite")` (the Bell-McCaffrey df), cross-checked here
  against a direct dense numpy implementation of the Bell-McCaffrey formulas (adjustment
  matrices (I - H_gg)^(-1/2) by eigh, the G x G matrix P of the df); the script asserts
  they agree to 1e-10 relative. The interval is beta +- t_{df, 0.975} * SE (scipy).
* Every fit (statsmodels, clubSandwich, numpy) runs on the column-scaled design
  X / ||X_j||, and params and standard errors are mapped back (divided by ||X_j||): an
  exact reparametrisation that leaves leverages, residuals, t statistics and the
  Bell-McCaffrey df unchanged. It matters for `ill_scaled`: statsmodels on the raw design
  (pinv of a matrix with condition number ~1e12) is off by ~1e-4 relative, recorded as
  `raw_design_params_rel_error` (about 1e-13 for the other datasets). The script asserts
  the scaled params agree with numpy lstsq to 1e-10 relative.
* For datasets whose clusters are nested in the arms, the delta-method difference of
  per-observation means computed from cluster totals (Deng, Knoblich & Lu 2018): the
  ratio variance (s_Y^2 - 2 R s_YN + R^2 s_N^2) / (G Nbar^2), normal p-value and interval.

Data values are rounded to 6 significant digits before use, so the JSON holds exactly the
floats the references were computed from (shortest round-trip repr). The data are passed
to R as raw float64 (no decimal parsing) and read back the same way.
"""

import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import stats

ALPHA = 0.05


def r6(a):
    return np.array([float(f"{v:.6g}") for v in np.asarray(a, dtype=float).ravel()]).reshape(
        np.shape(a)
    )


# ----------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------


def arm(y, x, clusters):
    return {"y": r6(y), "x": [r6(c) for c in x], "clusters": np.asarray(clusters, dtype=np.int64)}


def hetero_two_covariates(rng):
    nt, nc = 150, 120
    def make(n, treated):
        x1 = rng.normal(10, 3, n)
        x2 = rng.exponential(2.0, n)
        slope = 1.8 if treated else 1.2
        y = 3 + (0.7 if treated else 0) + slope * x1 - 0.5 * x2 + rng.normal(0, 0.3 + 0.2 * x2, n)
        return y, [x1, x2], rng.integers(0, 30, n)
    return make(nt, True), make(nc, False), ["pre_spend", "tenure"], (
        "heteroskedastic errors, different slopes per arm, 30 clusters crossing both arms")


def ill_scaled(rng):
    def make(n, treated):
        x1 = rng.normal(0, 1e-6, n)
        x2 = rng.normal(0, 1e6, n)
        x3 = 1e4 + rng.normal(0, 1, n)
        y = (5 + (0.3 if treated else 0) + 2e5 * x1 + (1.5e-6 if treated else 1e-6) * x2
             + 0.8 * (x3 - 1e4) + rng.normal(0, 1, n))
        return y, [x1, x2, x3], rng.integers(0, 40, n)
    return make(200, True), make(180, False), ["tiny", "huge", "offset"], (
        "covariates of scale 1e-6, 1e6 and 1e4 + N(0,1): a raw cross-product would have "
        "condition number near 1e24")


def unequal_groups(rng):
    def make(n, treated):
        x = [rng.normal(0, 1, n), rng.gamma(2.0, 1.0, n), rng.binomial(1, 0.3, n).astype(float)]
        eta = 1 + (0.2 if treated else 0) + 0.4 * x[0] + 0.1 * x[1] + 0.3 * x[2]
        y = np.exp(eta + rng.normal(0, 0.8, n))
        return y, x, rng.integers(0, 50, n)
    return make(30, True), make(500, False), ["z", "visits", "mobile"], (
        "30 treated vs 500 control, lognormal outcome, a binary covariate, 50 clusters")


def cluster_randomised(rng):
    def make(n_clusters, first_id, treated):
        sizes = rng.integers(1, 41, n_clusters)
        sizes[0] = 1  # a singleton cluster
        ids = np.repeat(np.arange(first_id, first_id + n_clusters), sizes)
        u = rng.normal(0, 1.0, n_clusters)[ids - first_id]
        z = rng.normal(0, 1, n_clusters)[ids - first_id]  # a cluster-level covariate
        x = rng.normal(0, 1, len(ids))
        y = 2 + (0.5 if treated else 0) + 0.6 * z + 0.9 * x + u + rng.normal(0, 1, len(ids))
        return y, [z, x], ids
    return make(14, 100, True), make(20, 200, False), ["cluster_z", "x"], (
        "cluster-randomised: 14 treated and 20 control clusters of sizes 1..40, random "
        "cluster effects, one cluster-level covariate")


def one_covariate(rng):
    def make(n, treated):
        x = rng.normal(50, 10, n)
        y = 10 + (2 if treated else 0) + (0.9 if treated else 0.7) * x + rng.normal(0, 5, n)
        return y, [x], rng.integers(0, 20, n)
    return make(80, True), make(100, False), ["pre_metric"], (
        "one covariate, different slopes per arm (the CUPED case)")


def many_covariates(rng):
    k = 12
    def make(n, treated):
        x = [rng.normal(0, 1 + j, n) for j in range(k)]
        y = 1 + (0.25 if treated else 0) + sum((0.1 * (j + 1)) * x[j] / (1 + j) for j in range(k))
        y = y + rng.standard_t(5, n)
        return y, x, rng.integers(0, 25, n)
    return make(210, True), make(190, False), [f"c{j + 1}" for j in range(k)], (
        "12 covariates (26 columns), t(5) errors, 25 clusters")


def no_covariates(rng):
    def make(n_clusters, first_id, treated):
        sizes = rng.integers(5, 30, n_clusters)
        ids = np.repeat(np.arange(first_id, first_id + n_clusters), sizes)
        u = rng.normal(0, 0.7, n_clusters)[ids - first_id]
        y = 1 + (0.3 if treated else 0) + u + rng.exponential(1.0, len(ids))
        return y, [], ids
    return make(12, 0, True), make(15, 50, False), [], (
        "no covariates (difference of means), cluster-randomised 12 vs 15 clusters")


def few_large_clusters(rng):
    def make(n_clusters, first_id, treated):
        sizes = rng.integers(40, 80, n_clusters)
        ids = np.repeat(np.arange(first_id, first_id + n_clusters), sizes)
        u = rng.normal(0, 0.5, n_clusters)[ids - first_id]
        x1 = rng.normal(0, 1, len(ids)) + u
        x2 = rng.uniform(0, 10, len(ids))
        y = (0.4 if treated else 0) + x1 + 0.2 * x2 + u + rng.normal(0, 1, len(ids))
        return y, [x1, x2], ids
    return make(6, 10, True), make(6, 20, False), ["x1", "x2"], (
        "6 + 6 clusters of 40..79 rows (larger than the 6 columns), so CR2's df are small")


def cluster_indicator(rng):
    def make(n_clusters, first_id, treated):
        sizes = rng.integers(3, 25, n_clusters)
        ids = np.repeat(np.arange(first_id, first_id + n_clusters), sizes)
        u = rng.normal(0, 0.8, n_clusters)[ids - first_id]
        x = rng.normal(0, 1, len(ids))
        y = 1 + (0.4 if treated else 0) + 0.7 * x + u + rng.normal(0, 1, len(ids))
        return y, [x, (ids == 204).astype(float)], ids
    return make(10, 100, True), make(12, 200, False), ["x", "in_cluster_204"], (
        "cluster-randomised, with the indicator of control cluster 204 as a covariate (ANCOVA "
        "only): I - H_gg of that cluster is singular, so CR2 inverts its zero eigenvalue as 0")


# Datasets fitted without interactions only (the interaction of a covariate that is
# constant within the treatment arm is collinear with the treatment).
ANCOVA_ONLY = {"cluster_indicator"}

DATASETS = [
    ("hetero_two_covariates", hetero_two_covariates),
    ("ill_scaled", ill_scaled),
    ("unequal_groups", unequal_groups),
    ("cluster_randomised", cluster_randomised),
    ("one_covariate", one_covariate),
    ("many_covariates", many_covariates),
    ("no_covariates", no_covariates),
    ("few_large_clusters", few_large_clusters),
    ("cluster_indicator", cluster_indicator),
]


# ----------------------------------------------------------------------------------------
# Designs and fits
# ----------------------------------------------------------------------------------------


def design(t, c, names, interact):
    nt, nc = len(t["y"]), len(c["y"])
    n = nt + nc
    treat = np.r_[np.ones(nt), np.zeros(nc)]
    cols, cnames = [np.ones(n), treat], ["intercept", "treatment"]
    centred = []
    for j, name in enumerate(names):
        v = np.r_[t["x"][j], c["x"][j]]
        xc = v - math.fsum(v) / n
        centred.append(xc)
        cols.append(xc)
        cnames.append(name)
    if interact:
        for name, xc in zip(names, centred):
            cols.append(treat * xc)
            cnames.append(f"treatment:{name}")
    return np.column_stack(cols), np.r_[t["y"], c["y"]], np.r_[t["clusters"], c["clusters"]], cnames


def inference(est, se, df):
    """p-value and 95 % interval, t with df or normal when df is None."""
    stat = est / se
    if df is None:
        p, q = 2 * stats.norm.sf(abs(stat)), stats.norm.isf(ALPHA / 2)
    else:
        p, q = 2 * stats.t.sf(abs(stat), df), stats.t.isf(ALPHA / 2, df)
    return {"pvalue": float(p), "ci_low": float(est - q * se), "ci_high": float(est + q * se)}


def statsmodels_fits(X, y, g):
    """statsmodels on the column-scaled design X / s, mapped back (params / s, bse / s)."""
    s = np.sqrt((X * X).sum(axis=0))
    Xs = X / s
    out = {}
    for name, cov, kw in [("classical", "nonrobust", {}), ("hc0", "HC0", {}), ("hc1", "HC1", {}),
                          ("hc2", "HC2", {}), ("hc3", "HC3", {}),
                          ("cr1", "cluster", {"groups": g})]:
        rt = sm.OLS(y, Xs).fit(cov_type=cov, cov_kwds=kw or None, use_t=True)
        rn = sm.OLS(y, Xs).fit(cov_type=cov, cov_kwds=kw or None, use_t=False)
        ct, cn = rt.conf_int(ALPHA) / s[1], rn.conf_int(ALPHA) / s[1]
        df = float(rt.df_resid_inference if cov == "cluster" else rt.df_resid)
        if cov == "cluster":
            assert df == len(np.unique(g)) - 1
        assert np.allclose(rt.bse, rn.bse, rtol=1e-14, atol=0)
        out[name] = {
            "bse": [float(v) for v in rt.bse / s],
            "t": {"df": df, "pvalue": float(rt.pvalues[1]),
                  "ci_low": float(ct[1, 0]), "ci_high": float(ct[1, 1])},
            "normal": {"pvalue": float(rn.pvalues[1]),
                       "ci_low": float(cn[1, 0]), "ci_high": float(cn[1, 1])},
        }
    raw = sm.OLS(y, X).fit().params
    return rt.params / s, out, raw


def accurate_params(X, y):
    s = np.sqrt((X * X).sum(axis=0))
    b, *_ = np.linalg.lstsq(X / s, y, rcond=None)
    return b / s


# ----------------------------------------------------------------------------------------
# CR2: clubSandwich, and a dense numpy Bell-McCaffrey for a cross-check
# ----------------------------------------------------------------------------------------

R_SCRIPT = r"""
suppressMessages(library(clubSandwich))
a <- commandArgs(trailingOnly = TRUE)
n <- as.integer(a[2]); k <- as.integer(a[3])
rd <- function(f, m) readBin(file.path(a[1], f), "double", m, size = 8, endian = "little")
X <- matrix(rd("X.bin", n * k), n, k)
y <- rd("y.bin", n)
g <- rd("g.bin", n)
fit <- lm(y ~ 0 + X)
V <- vcovCR(fit, cluster = g, type = "CR2")
ct <- coef_test(fit, vcov = V, test = "Satterthwaite")
out <- c(coef(fit), sqrt(diag(as.matrix(V))), ct$df_Satt, ct$p_Satt)
writeBin(as.double(out), file.path(a[1], "out.bin"), size = 8, endian = "little")
"""


def club_sandwich(X, y, g):
    """clubSandwich on the column-scaled design, mapped back."""
    s = np.sqrt((X * X).sum(axis=0))
    X = X / s
    n, k = X.shape
    with tempfile.TemporaryDirectory() as d:
        for name, arr in [("X.bin", X.T.ravel()), ("y.bin", y), ("g.bin", g.astype(float))]:
            np.asarray(arr, dtype="<f8").tofile(os.path.join(d, name))
        script = os.path.join(d, "cr2.R")
        with open(script, "w") as f:
            f.write(R_SCRIPT)
        subprocess.run(["Rscript", script, d, str(n), str(k)], check=True)
        out = np.fromfile(os.path.join(d, "out.bin"), dtype="<f8")
    return {"params": out[:k] / s, "bse": out[k:2 * k] / s, "df": out[2 * k:3 * k],
            "p": out[3 * k:]}


def matrix_power(m, power, tol=1e-12):
    w, v = np.linalg.eigh(m)
    wp = np.array([x**power if x > tol else 0.0 for x in w])
    return (v * wp) @ v.T


def bell_mccaffrey(X, y, g):
    """Dense CR2 covariance and the Satterthwaite df of every coefficient, computed on the
    column-scaled design and mapped back."""
    s = np.sqrt((X * X).sum(axis=0))
    X = X / s
    n, k = X.shape
    M = np.linalg.inv(X.T @ X)
    beta = M @ X.T @ y
    e = y - X @ beta
    groups = [np.flatnonzero(g == v) for v in np.unique(g)]
    A = [matrix_power(np.eye(len(ix)) - X[ix] @ M @ X[ix].T, -0.5) for ix in groups]
    meat = np.zeros((k, k))
    for ix, a in zip(groups, A):
        u = X[ix].T @ a @ e[ix]
        meat += np.outer(u, u)
    V = M @ meat @ M
    IH = np.eye(n) - X @ M @ X.T
    dfs = []
    for j in range(k):
        c = np.zeros(k)
        c[j] = 1
        # G_g = (I - H)_{g,.}^T A_g X_g M c  (n-vector), P = G^T G.
        Gm = np.column_stack([IH[ix].T @ (a @ (X[ix] @ (M @ c))) for ix, a in zip(groups, A)])
        P = Gm.T @ Gm
        dfs.append(np.trace(P) ** 2 / (P * P).sum())
    return np.sqrt(np.diag(V)) / s, np.array(dfs)


def cr2(X, y, g, params):
    cs = club_sandwich(X, y, g)
    se_np, df_np = bell_mccaffrey(X, y, g)
    for name, a, b in [("se", cs["bse"], se_np), ("df", cs["df"], df_np)]:
        rel = np.max(np.abs(a - b) / np.abs(b))
        assert rel < 1e-10, f"clubSandwich vs numpy {name}: {rel}"
    assert np.max(np.abs(cs["params"] - params) / np.abs(params)) < 1e-9
    est, se, df = float(params[1]), float(cs["bse"][1]), float(cs["df"][1])
    t = inference(est, se, df)
    assert abs(t["pvalue"] - cs["p"][1]) <= 1e-12 + 1e-9 * cs["p"][1]
    return {"bse": [float(v) for v in cs["bse"]], "t": {"df": df, **t},
            "normal": inference(est, se, None), "df_all": [float(v) for v in cs["df"]]}


# ----------------------------------------------------------------------------------------
# The cluster-level difference of means (delta method on cluster totals)
# ----------------------------------------------------------------------------------------


def cluster_mean_difference(t, c):
    def arm_stats(a):
        ids = np.unique(a["clusters"])
        Y = np.array([math.fsum(a["y"][a["clusters"] == i]) for i in ids])
        N = np.array([float((a["clusters"] == i).sum()) for i in ids])
        G = len(ids)
        R = Y.sum() / N.sum()
        sy, sn = np.var(Y, ddof=1), np.var(N, ddof=1)
        syn = np.cov(Y, N, ddof=1)[0, 1]
        var = (sy - 2 * R * syn + R * R * sn) / (G * N.mean() ** 2)
        return R, var, G
    rt, vt, gt = arm_stats(t)
    rc, vc, gc = arm_stats(c)
    est, se = rt - rc, math.sqrt(vt + vc)
    return {"clusters_treatment": gt, "clusters_control": gc, "ratio_treatment": float(rt),
            "ratio_control": float(rc), "estimate": float(est), "std_error": float(se),
            "statistic": float(est / se), **inference(est, se, None)}


# ----------------------------------------------------------------------------------------


def main():
    datasets = {}
    for index, (name, make) in enumerate(DATASETS):
        rng = np.random.default_rng(7300000 + index)
        (yt, xt, gt), (yc, xc, gc), names, description = make(rng)
        t, c = arm(yt, xt, gt), arm(yc, xc, gc)
        fits = {}
        for fit_name, interact in [("lin", True), ("ancova", False)]:
            if (fit_name == "ancova" and not names) or (interact and name in ANCOVA_ONLY):
                continue
            X, y, g, cnames = design(t, c, names, interact)
            params, covs, raw = statsmodels_fits(X, y, g)
            exact = accurate_params(X, y)
            rel = np.max(np.abs(params - exact) / np.abs(exact))
            assert rel < 1e-10, f"{name}/{fit_name}: statsmodels params off by {rel}"
            raw_rel = float(np.max(np.abs(raw - exact) / np.abs(exact)))
            covs["cr2"] = cr2(X, y, g, params)
            fits[fit_name] = {"names": cnames, "params": [float(v) for v in params],
                              "raw_design_params_rel_error": float(f"{raw_rel:.2g}"),
                              "covariances": covs}
        entry = {
            "description": description,
            "seed": 7300000 + index,
            "covariate_names": names,
            "treatment": {"y": t["y"].tolist(), "x": [v.tolist() for v in t["x"]],
                          "clusters": t["clusters"].tolist()},
            "control": {"y": c["y"].tolist(), "x": [v.tolist() for v in c["x"]],
                        "clusters": c["clusters"].tolist()},
            "fits": fits,
        }
        if not set(t["clusters"].tolist()) & set(c["clusters"].tolist()):
            entry["cluster_mean_difference"] = cluster_mean_difference(t, c)
        datasets[name] = entry
        print(f"{name}: n = {len(yt)} + {len(yc)}, k = {len(names)}", file=sys.stderr)
    r_version = subprocess.run(
        ["Rscript", "-e", "cat(R.version.string, format(packageVersion('clubSandwich')))"],
        check=True, capture_output=True, text=True).stdout
    root = {
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                     "scipy": scipy.__version__, "statsmodels": statsmodels.__version__,
                     "R clubSandwich": r_version},
        "conventions": (
            "Rows: treatment first, then control. Columns: intercept, treatment, the "
            "covariates centred at their pooled mean, then (lin) treatment:NAME. "
            "Two-sided, alpha = 0.05. 't' uses Student t with 'df' (n-k; G-1 for cr1; "
            "Bell-McCaffrey for cr2), 'normal' the normal law. cr2 is clubSandwich's."),
        "datasets": datasets,
    }
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "regadj.json"), "w") as f:
        json.dump(root, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
