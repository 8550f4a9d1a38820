"""The generator's speed, before and after a change: one 65,536-row chunk per blueprint from
two builds of `cargo bench -p abforge-synth --bench generate`, run alternately.

    python3 bench/gen_chunk.py OLD_BENCH_BINARY NEW_BENCH_BINARY [--rounds R] [--groups G,...]

Each binary is a criterion bench executable (cargo prints its path after `--no-run`; build
the old one from a worktree of the old commit with its own CARGO_TARGET_DIR). Each round runs
old then new (then new then old, alternating), each under /usr/bin/time -v after the
baseline's quiet.py says the machine is idle, criterion measuring 3 s per group. Prints per
group the median of the rounds' criterion point estimates (ns per chunk, rows per second),
the new/old ratio and each process's peak RSS; appends the rows to
bench/results/gen_chunk.jsonl. A group the old build lacks is measured for the new one only.
"""
import argparse, json, os, re, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HERE, SHARED  # noqa: E402

ROWS = 65536
GROUPS = ["seed_schema", "correlated_metrics_schema", "clustered_stores_schema", "novelty_effect_schema"]
UNIT = {"ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}


def run(binary, group):
    """One criterion run of `group/generate_chunk`: (ns per chunk or None, peak RSS MiB)."""
    quiet = os.path.join(SHARED, "quiet.py")
    if os.path.exists(quiet):
        subprocess.run([sys.executable, quiet, "60", "90"], capture_output=True)
    cmd = ["/usr/bin/time", "-v", binary, "--bench", "--noplot", "--warm-up-time", "1",
           "--measurement-time", "3", f"^{group}/generate_chunk$"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", p.stdout)
    return (float(m.group(1)) * UNIT[m.group(2)] if m else None), round(rss, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--groups", default=",".join(GROUPS))
    a = ap.parse_args()
    rows = []
    for group in a.groups.split(","):
        times = {"old": [], "new": []}
        rss = {"old": [], "new": []}
        for r in range(a.rounds):
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            for who in order:
                t, m = run(getattr(a, who), group)
                if t is not None:
                    times[who].append(t)
                    rss[who].append(m)
        med = {k: statistics.median(v) if v else None for k, v in times.items()}
        row = {"group": group, "rounds": a.rounds, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               **{f"{k}_ns": v for k, v in med.items()},
               **{f"{k}_rows_per_s": (ROWS / v * 1e9 if v else None) for k, v in med.items()},
               **{f"{k}_peak_rss_mib": (max(v) if v else None) for k, v in rss.items()},
               "new_over_old": (med["new"] / med["old"]) if med["old"] and med["new"] else None}
        rows.append(row)
        ratio = f"{row['new_over_old']:.3f}" if row["new_over_old"] else "-"
        fmt = lambda v: f"{v / 1e6:8.3f} ms" if v else "       -   "
        print(f"{group:28} old {fmt(med['old'])}  new {fmt(med['new'])}  new/old {ratio}  "
              f"peak RSS old {row['old_peak_rss_mib']} MiB new {row['new_peak_rss_mib']} MiB", flush=True)
    with open(os.path.join(HERE, "results", "gen_chunk.jsonl"), "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
