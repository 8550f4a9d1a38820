#!/usr/bin/env python3
"""The Python package against the numpy + pandas + scipy way, each run a whole process of the
same interpreter and libraries, alternated (A B A B …):

* generate: `Blueprint.generate(customers=N).to_pandas()` of the seed schema
  (examples/seed.toml) against `../shared/bench/abgen.py`'s vectorised numpy generation of the
  same columns into a pandas DataFrame (plain string and categorical text columns);
* analyze: `abforge.analyze(df)` of an N-row pandas frame (read from Parquet) against
  `bench/analyze_scipy.py` (pandas + scipy doing the same tests on the same file).

Prints the medians of wall time and peak RSS (and the in-process phase times), and one JSON
line. Builds the release wheel with maturin and installs it into a venv of its own
($ABFORGE_CACHE_DIR/python-bench-venv, from the test venv's pinned wheels) unless --python
names an interpreter that imports abforge already.

usage: bench/python/bench.py [N=1e7] [--reps 5] [--python PY] [--quiet-max S]
"""
import argparse, glob, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from common import ROOT, SHARED, timed  # noqa: E402

CACHE = os.environ.get("ABFORGE_CACHE_DIR", os.path.expanduser("~/.cache/abforge"))
REQS = os.path.join(ROOT, "crates", "python", "requirements-test.txt")

GEN_OURS = """
import json, sys, time
t0 = time.perf_counter()
import abforge
bp = abforge.Blueprint.from_toml(sys.argv[2])
t1 = time.perf_counter()
table = bp.generate(customers=int(sys.argv[1]))
t2 = time.perf_counter()
df = table.to_pandas()
t3 = time.perf_counter()
print(json.dumps({"rows": len(df), "generate_s": t2 - t1, "to_pandas_s": t3 - t2, "e2e_s": t3 - t0}))
"""

GEN_BASE = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[2])
import abgen
t1 = time.perf_counter()
df = abgen.generate(int(sys.argv[1]), categorical=sys.argv[3] == "cat")
t2 = time.perf_counter()
print(json.dumps({"rows": len(df), "generate_s": t2 - t1, "e2e_s": t2 - t0}))
"""

AN_OURS = """
import json, sys, time
t0 = time.perf_counter()
import abforge, pandas as pd
df = pd.read_parquet(sys.argv[1])
t1 = time.perf_counter()
r = abforge.analyze(df)
t2 = time.perf_counter()
print(json.dumps({"rows": r.rows, "read_s": t1 - t0, "analyze_s": t2 - t1, "e2e_s": t2 - t0}))
"""


def bench_python(py):
    """An interpreter that imports abforge: `py`, or the bench venv with the release wheel."""
    if py:
        return py
    venv = os.path.join(CACHE, "python-bench-venv")
    tools = os.path.join(CACHE, "python-venv", "bin")
    if not os.path.exists(os.path.join(tools, "maturin")):
        sys.exit("no build venv: run scripts/python-test.sh once (it makes ~/.cache/abforge/python-venv)")
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([os.path.join(tools, "maturin"), "build", "--release", "--quiet", "--out", out],
                       cwd=os.path.join(ROOT, "crates", "python"), check=True)
        wheel = glob.glob(os.path.join(out, "abforge_lab-*.whl"))[0]
        if not os.path.exists(os.path.join(venv, "bin", "python")):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        pip = [os.path.join(venv, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
               "--no-index", "--find-links", os.path.join(CACHE, "wheels")]
        subprocess.run(pip + ["-r", REQS], check=True)
        subprocess.run(pip + ["--force-reinstall", "--no-deps", wheel], check=True)
    return os.path.join(venv, "bin", "python")


def run(name, cmd, runs, quiet_max):
    r = timed(cmd, quiet_max=quiet_max)
    inner = json.loads(r.pop("stdout").strip().splitlines()[-1])
    r.update(inner)
    runs.setdefault(name, []).append(r)
    print(json.dumps({"run": name, **r}), file=sys.stderr)


def medians(runs):
    keys = ("wall_s", "peak_rss_mib", "cpu_s", "generate_s", "to_pandas_s", "read_s", "analyze_s")
    return {name: {k: round(statistics.median(r[k] for r in rs), 3) for k in keys if k in rs[0]}
            for name, rs in runs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=float, default=1e7)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--python", default=None)
    ap.add_argument("--quiet-max", type=float, default=60,
                    help="longest wait for an idle machine before each run, s")
    a = ap.parse_args()
    n = int(a.n)
    py = bench_python(a.python)
    seed = os.path.join(ROOT, "examples", "seed.toml")
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "customers.parquet")
        subprocess.run([py, "-c", "import abforge, pyarrow.parquet as pq, sys; "
                        "pq.write_table(abforge.Blueprint.from_toml(sys.argv[1]).generate(customers=int(sys.argv[2])), sys.argv[3])",
                        seed, str(n), data], check=True)
        for _ in range(a.reps):
            run("generate: abforge", [py, "-c", GEN_OURS, str(n), seed], runs, a.quiet_max)
            run("generate: numpy+pandas (str)", [py, "-c", GEN_BASE, str(n), SHARED, "str"], runs, a.quiet_max)
            run("generate: numpy+pandas (categorical)", [py, "-c", GEN_BASE, str(n), SHARED, "cat"], runs, a.quiet_max)
            run("analyze: abforge", [py, "-c", AN_OURS, data], runs, a.quiet_max)
            run("analyze: pandas+scipy", [py, os.path.join(ROOT, "bench", "analyze_scipy.py"), data], runs, a.quiet_max)
    med = medians(runs)
    print(f"{'contender':<40} {'wall s':>8} {'peak RSS MiB':>13} {'phase s':>9}")
    for name, m in med.items():
        phase = m.get("generate_s", m.get("analyze_s", float("nan")))
        print(f"{name:<40} {m['wall_s']:>8.2f} {m['peak_rss_mib']:>13.0f} {phase:>9.2f}")
    gen, an = med["generate: abforge"], med["analyze: abforge"]
    ratios = {
        "generate_vs_str": round(med["generate: numpy+pandas (str)"]["wall_s"] / gen["wall_s"], 2),
        "generate_vs_categorical": round(med["generate: numpy+pandas (categorical)"]["wall_s"] / gen["wall_s"], 2),
        "analyze": round(med["analyze: pandas+scipy"]["wall_s"] / an["wall_s"], 2),
    }
    print("wall-time ratios (baseline / abforge):", ratios)
    print(json.dumps({"bench": "python", "n": n, "reps": a.reps, "medians": med, "ratios": ratios}))


if __name__ == "__main__":
    main()
