#!/usr/bin/env python3
"""Side-by-side benchmark: `abforge analyze` against a pandas + scipy script doing the same
tests (`analyze_scipy.py`) on the 10^7-row Parquet of examples/seed.toml, alternating, each
run after `quiet.py` says the machine is idle. Whole-process wall time and peak RSS by
/usr/bin/time -v. Also checks that both found the same numbers (worst relative difference
per field), since a fast wrong answer is worth nothing.

usage: bench/analyze.py [N=1e7] [--reps 5]
needs: ../shared/bench/setup.sh run once (its venv with pandas and scipy).
"""
import argparse, json, os, statistics, sys, tempfile

from common import HERE, ROOT, VENV_PY, build_abforge, timed


def flatten(prefix, v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(f"{prefix}.{k}" if prefix else k, x, out)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        out[prefix] = float(v)


def worst_differences(ours, theirs):
    """Largest relative difference of every numeric field both outputs share, per test."""
    worst = {}
    a_by = {m["metric"]: m for m in ours["metrics"]}
    for m in theirs["metrics"]:
        a, b = {}, {}
        flatten("", a_by[m["metric"]], a)
        flatten("", m, b)
        for k in a.keys() & b.keys():
            den = max(abs(a[k]), abs(b[k]), 1e-300)
            rel = abs(a[k] - b[k]) / den if not (a[k] < 1e-12 and b[k] < 1e-12) else 0.0
            key = k.split(".")[1] if k.startswith("tests.") else k.split(".")[0]
            worst[key] = max(worst.get(key, 0.0), rel)
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", default="1e7")
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    n = int(float(a.n))
    abforge = build_abforge()
    work = tempfile.mkdtemp(prefix="abforge-bench-")
    data = os.path.join(work, "seed.parquet")
    timed([abforge, "-q", "generate", "-b", os.path.join(ROOT, "examples", "seed.toml"), "-n", str(n), "-o", data])
    contenders = {
        "pandas_scipy": [VENV_PY, os.path.join(HERE, "analyze_scipy.py"), data],
        "abforge": [abforge, "-q", "analyze", "--input", data, "--json"],
    }
    runs = {k: [] for k in contenders}
    outputs = {}
    for rep in range(a.reps):
        for name, cmd in contenders.items():
            r = timed(cmd)
            outputs[name] = json.loads(r.pop("stdout"))
            runs[name].append(r)
            sys.stderr.write(json.dumps({"rep": rep, "contender": name, **r}) + "\n")
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("wall_s", "peak_rss_mib", "cpu_s")}
           for k, v in runs.items()}
    ab = med["abforge"]
    print(f"\nN = {n:,} rows, {a.reps} alternating reps, medians, whole process (read + every test)")
    print(f"{'contender':<14} {'wall s':>8} {'peak RSS MiB':>13} {'CPU s':>7}  abforge speed-up")
    for k, m in med.items():
        print(f"{k:<14} {m['wall_s']:>8.2f} {m['peak_rss_mib']:>13.0f} {m['cpu_s']:>7.2f}  "
              f"{m['wall_s'] / ab['wall_s']:.2f}x")
    diff = worst_differences(outputs["abforge"], outputs["pandas_scipy"])
    print("worst relative difference of the numbers, per test:")
    for k, v in sorted(diff.items()):
        print(f"  {k:<18} {v:.1e}")
    print(json.dumps({"bench": "analyze", "n": n, "reps": a.reps, "medians": med,
                      "speedup": med["pandas_scipy"]["wall_s"] / ab["wall_s"],
                      "memory_ratio": med["pandas_scipy"]["peak_rss_mib"] / ab["peak_rss_mib"],
                      "worst_relative_difference": diff}))
    os.remove(data)
    os.rmdir(work)


if __name__ == "__main__":
    main()
