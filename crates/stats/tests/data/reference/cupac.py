"""Reference values for CUPAC (abforge-stats `cupac`), written to cupac.json.

Run from this folder, with Python 3.11 and numpy 2.4.6, scipy 1.17.1:

    python3 -m venv /tmp/venv-cupac
    /tmp/venv-cupac/bin/pip install numpy==2.4.6 scipy==1.17.1
    /tmp/venv-cupac/bin/python cupac.py      # writes cupac.json; two runs are byte-identical

The procedure, computed independently of the Rust code: rows of both arms pooled, row i of
each arm in fold i mod 2; each fold predicted by `numpy.linalg.lstsq` of y on [1, features]
fitted on the other fold; then CUPED on the prediction: theta the pooled within-group slope
of y on the prediction, y_adj = y - theta (pred - mean(pred over both arms)), and
`scipy.stats.ttest_ind(equal_var=False)` on y_adj with its confidence interval.
"""

import json

import numpy as np
import scipy
from scipy import stats


def predict(y, x, fold):
    pred = np.empty_like(y)
    for f in (0, 1):
        train, test = fold != f, fold == f
        design = np.column_stack([np.ones(train.sum()), x[train]])
        beta, *_ = np.linalg.lstsq(design, y[train], rcond=None)
        pred[test] = np.column_stack([np.ones(test.sum()), x[test]]) @ beta
    return pred


def case(name, yt, xt, yc, xc, alpha=0.05):
    y = np.concatenate([yt, yc])
    x = np.vstack([xt, xc])
    fold = np.concatenate([np.arange(len(yt)) % 2, np.arange(len(yc)) % 2])
    pred = predict(y, x, fold)
    pt, pc = pred[: len(yt)], pred[len(yt):]
    cxy = np.sum((yt - yt.mean()) * (pt - pt.mean())) + np.sum((yc - yc.mean()) * (pc - pc.mean()))
    cxx = np.sum((pt - pt.mean()) ** 2) + np.sum((pc - pc.mean()) ** 2)
    theta = cxy / cxx
    center = pred.mean()
    at, ac = yt - theta * (pt - center), yc - theta * (pc - center)
    r = stats.ttest_ind(at, ac, equal_var=False)
    ci = r.confidence_interval(1 - alpha)
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    return {
        "name": name,
        "treatment": yt.tolist(),
        "control": yc.tolist(),
        "treatment_features": xt.T.tolist(),
        "control_features": xc.T.tolist(),
        "alpha": alpha,
        "r_squared": float(r2),
        "theta": float(theta),
        "estimate": float(at.mean() - ac.mean()),
        "statistic": float(r.statistic),
        "df": float(r.df),
        "p_value": float(r.pvalue),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
    }


def main():
    rng = np.random.default_rng(9200001)
    cases = []
    # Three features, a linear truth, unequal arms.
    for name, n_t, n_c, effect in [("linear_3", 301, 257, 0.4), ("linear_3_null", 180, 222, 0.0)]:
        xt, xc = rng.normal(size=(n_t, 3)), rng.normal(size=(n_c, 3))
        w = np.array([1.5, -0.7, 0.3])
        yt = 10 + xt @ w + effect + rng.normal(size=n_t)
        yc = 10 + xc @ w + rng.normal(size=n_c)
        cases.append(case(name, yt, xt, yc, xc))
    # Skewed spend predicted by pre-period visits and spend (lognormal, nonlinear truth).
    n_t, n_c = 400, 390
    vt, vc = rng.poisson(3, n_t) + 1.0, rng.poisson(3, n_c) + 1.0
    st, sc = rng.lognormal(3, 0.8, n_t), rng.lognormal(3, 0.8, n_c)
    yt = 0.6 * st + 4 * vt + rng.gamma(2, 10, n_t) * 1.05
    yc = 0.6 * sc + 4 * vc + rng.gamma(2, 10, n_c)
    cases.append(case("spend_visits", yt, np.column_stack([vt, st]), yc, np.column_stack([vc, sc]), 0.1))
    # One feature.
    xt, xc = rng.normal(5, 2, 60), rng.normal(5, 2, 71)
    cases.append(case("one_feature", 2 * xt + rng.normal(size=60) + 0.5, xt[:, None],
                      2 * xc + rng.normal(size=71), xc[:, None]))
    out = {"numpy": np.__version__, "scipy": scipy.__version__, "cases": cases}
    with open("cupac.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
