#!/usr/bin/env python3
"""Side-by-side benchmark: `abforge calibrate` against the numpy/scipy vectorised Monte Carlo
`../shared/bench/mc_ttest.py`, R = 10 000 A/A experiments of n = 1 000 customers per group:
Welch's t-test and Mann-Whitney U on Gamma(2, 10), a test on Poisson(3) + 1 counts (scipy:
Welch; abforge: its Poisson rate test, and Welch too), and the percentile bootstrap of the
mean difference (R = 200, B = 1 000). Alternating, each run after `quiet.py` says the machine
is idle, whole-process wall time by /usr/bin/time -v.

experiments/s: abforge = R / whole-process wall time (start-up, drawing and testing);
scipy = the script's own per-method figures (drawing + testing, interpreter start-up and
imports excluded), so the ratio is conservative for abforge. The empirical type I errors
must agree within Monte Carlo error: |a - b| / sqrt(p(1 - p)(1/R_a + 1/R_b)) is printed.

usage: bench/calibrate.py [--reps 3] [--r 10000] [--n 1000]
needs: ../shared/bench/setup.sh run once (its venv with numpy and scipy).
"""
import argparse, json, math, os, statistics, sys, tempfile

from common import HERE, ROOT, SHARED, VENV_PY, build_abforge, timed

GAMMA = """id = "bench-gamma"
seed = 1
customers = 2000
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
[metrics.value]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { shape = 2, scale = 10 }
"""

POISSON = """id = "bench-poisson"
seed = 2
customers = 2000
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
[metrics.value]
distribution = "poisson"
offset = 1
control = { lambda = 3 }
treatment = { lambda = 3 }
"""

# method: (blueprint, --tests, extra flags, R key, scipy exp/s key, scipy type I key)
METHODS = {
    "welch_t": ("gamma", "welch_t", [], "r", "ttest_exp_per_s", "ttest_type1"),
    "mann_whitney_u": ("gamma", "mann_whitney_u", [], "r", "mwu_exp_per_s", "mwu_type1"),
    "poisson_rate": ("poisson", "poisson_rate", [], "r", "poisson_exp_per_s", "poisson_type1"),
    "poisson_welch_t": ("poisson", "welch_t", [], "r", "poisson_exp_per_s", "poisson_type1"),
    "bootstrap_percentile": ("gamma", "bootstrap_percentile", ["--bootstrap", "1000"], "boot_r",
                             "boot_exp_per_s", "boot_type1"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--r", type=int, default=10000)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--boot-r", type=int, default=200)
    a = ap.parse_args()
    abforge = build_abforge()
    work = tempfile.mkdtemp(prefix="abforge-bench-")
    bps = {}
    for name, text in [("gamma", GAMMA), ("poisson", POISSON)]:
        bps[name] = os.path.join(work, f"{name}.toml")
        with open(bps[name], "w") as f:
            f.write(text)
    reps_of = {"r": a.r, "boot_r": a.boot_r}
    ours = {m: [] for m in METHODS}
    rates = {}
    theirs = []
    for rep in range(a.reps):
        r = timed([VENV_PY, os.path.join(SHARED, "mc_ttest.py"), str(a.r), str(a.n), "--boot-r", str(a.boot_r),
                   "--boot-b", "1000", "--scipy-boot", str(a.boot_r), "--seed", str(rep + 1)])
        out = json.loads(r.pop("stdout"))
        theirs.append(out)
        sys.stderr.write(json.dumps({"rep": rep, "contender": "numpy_scipy", **r}) + "\n")
        for m, (bp, tests, extra, rkey, _, _) in METHODS.items():
            R = reps_of[rkey]
            cmd = [abforge, "-q", "calibrate", "-b", bps[bp], "-r", str(R), "-n", str(2 * a.n),
                   "--seed", str(rep + 1), "--tests", tests, "--json"] + extra
            r = timed(cmd)
            res = json.loads(r.pop("stdout"))["results"][0]
            rates.setdefault(m, []).append(res["rejection_rate"])
            ours[m].append(R / r["wall_s"])
            sys.stderr.write(json.dumps({"rep": rep, "contender": "abforge", "method": m, **r,
                                         "exp_per_s": R / r["wall_s"]}) + "\n")
    print(f"\nR = {a.r:,} (bootstrap {a.boot_r}, B = 1000), n = {a.n:,} per group, {a.reps} alternating reps, medians")
    print(f"{'method':<22} {'abforge exp/s':>14} {'scipy exp/s':>12} {'ratio':>7}   "
          f"{'abforge type I':>14} {'scipy type I':>12} {'z':>6}")
    summary = {}
    for m, (_, _, _, rkey, skey, tkey) in METHODS.items():
        R = reps_of[rkey]
        ab = statistics.median(ours[m])
        sc = statistics.median(t[skey] for t in theirs)
        ra = statistics.mean(rates[m])
        rs = statistics.mean(t[tkey] for t in theirs)
        p = (ra + rs) / 2
        z = (ra - rs) / math.sqrt(max(p * (1 - p), 1e-12) * (2 / (R * a.reps)))
        summary[m] = {"abforge_exp_per_s": round(ab, 1), "scipy_exp_per_s": sc, "ratio": round(ab / sc, 1),
                      "abforge_type1": round(ra, 4), "scipy_type1": round(rs, 4), "z": round(z, 2)}
        print(f"{m:<22} {ab:>14,.0f} {sc:>12,.1f} {ab / sc:>6.1f}x   {ra:>14.4f} {rs:>12.4f} {z:>6.2f}")
    sc_boot = statistics.median(t["scipy_boot_exp_per_s"] for t in theirs)
    ab_boot = summary["bootstrap_percentile"]["abforge_exp_per_s"]
    print(f"(scipy.stats.bootstrap itself: {sc_boot:.1f} exp/s, abforge {ab_boot / sc_boot:.1f}x)")
    line = {"bench": "calibrate", "r": a.r, "n": a.n, "boot_r": a.boot_r, "reps": a.reps, "methods": summary,
            "scipy_stats_bootstrap_exp_per_s": sc_boot, "versions": theirs[0].get("versions")}
    print(json.dumps(line))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "calibrate.jsonl"), "a") as f:
        f.write(json.dumps(line) + "\n")
    for p in bps.values():
        os.remove(p)
    os.rmdir(work)


if __name__ == "__main__":
    main()
