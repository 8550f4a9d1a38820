#!/usr/bin/env python3
"""Side-by-side benchmark: `abforge generate` of the seed schema to Parquet against the
Python baseline `../shared/bench/gen_parquet.py` (numpy + pandas + pyarrow), in one
session, alternating A B C A B C ..., each run preceded by the baseline's `quiet.py`
(waits until the shared machine is idle).

Every figure is whole-process (interpreter start and imports included for Python; process
start for abforge), measured by /usr/bin/time -v: wall time and peak RSS. Prints one JSON
line per run to stderr, then a table of medians and ratios, and one JSON summary line.

usage: bench/gen_parquet.py [N=1e7] [--reps 5] [--threads T]
needs: ../shared/bench/setup.sh run once (its venv), and a built abforge
       (this script builds it with `cargo build --profile bench-release`).
"""
import argparse, json, os, statistics, sys, tempfile

from common import ROOT, SHARED, VENV_PY, build_abforge, timed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", default="1e7")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    n = int(float(a.n))
    abforge = build_abforge()
    out_dir = tempfile.mkdtemp(prefix="abforge-bench-")
    gen = os.path.join(SHARED, "gen_parquet.py")
    threads = ["--threads", str(a.threads)] if a.threads else []
    contenders = {
        "python_str": [VENV_PY, gen, str(n), "--out", os.path.join(out_dir, "py_str.parquet")],
        "python_cat": [VENV_PY, gen, str(n), "--cat", "--out", os.path.join(out_dir, "py_cat.parquet")],
        "abforge": [abforge, "-q", "generate", "-b", os.path.join(ROOT, "examples", "seed.toml"), "-n", str(n),
                    "-o", os.path.join(out_dir, "abforge.parquet")] + threads,
    }
    runs = {k: [] for k in contenders}
    for rep in range(a.reps):
        for name, cmd in contenders.items():
            r = timed(cmd)
            r.pop("stdout")
            r["bytes"] = os.path.getsize(cmd[cmd.index("--out") + 1] if "--out" in cmd else cmd[cmd.index("-o") + 1])
            runs[name].append(r)
            sys.stderr.write(json.dumps({"rep": rep, "contender": name, **r}) + "\n")
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("wall_s", "peak_rss_mib", "cpu_s", "bytes")} for k, v in runs.items()}
    for k in med:
        med[k]["rows_per_s"] = n / med[k]["wall_s"]
    ab = med["abforge"]
    print(f"\nN = {n:,} rows, {a.reps} alternating reps, medians, whole process")
    print(f"{'contender':<12} {'wall s':>8} {'rows/s':>14} {'peak RSS MiB':>13} {'CPU s':>7} {'file MB':>8}  abforge speed-up")
    for k, m in med.items():
        ratio = m["wall_s"] / ab["wall_s"]
        print(f"{k:<12} {m['wall_s']:>8.2f} {m['rows_per_s']:>14,.0f} {m['peak_rss_mib']:>13.0f} {m['cpu_s']:>7.2f} {m['bytes'] / 1e6:>8.1f}  {ratio:.2f}x")
    print(json.dumps({"bench": "gen_parquet", "n": n, "reps": a.reps, "medians": med,
                      "speedup_vs_python_str": med["python_str"]["wall_s"] / ab["wall_s"],
                      "speedup_vs_python_cat": med["python_cat"]["wall_s"] / ab["wall_s"]}))
    for f in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, f))
    os.rmdir(out_dir)


if __name__ == "__main__":
    main()
