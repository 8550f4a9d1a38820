#!/usr/bin/env python3
"""Prints the report cards of docs/report-cards.md: each shipped engine adapter judged by
`abforge calibrate --engine` on example blueprints, beside abforge's own Welch test on the
same replications (standard library only).

    ABFORGE_BIN=target/release/abforge python3 scripts/report-cards.py > /tmp/cards.md
    ABFORGE_BIN=... python3 scripts/report-cards.py correlated_metrics.toml  # only its card

The engines run in the venv of scripts/engines-venv.sh. Every figure comes from the
commands printed under each card; the runs are seeded by the blueprints.
"""

import json
import os
import subprocess
import sys
import time

BIN = os.environ.get("ABFORGE_BIN", "abforge")
ENGINES = ["scipy", "tea-tasting", "gbstats", "spotify-confidence"]

# (title, example, flags)
CARDS = [
    ("A/A: every null true", "aa_null.toml", "-r 400 -n 4000 --tests welch_t"),
    ("A/A, looked at 7 times", "aa_null.toml", "-r 400 -n 4000 --peeks 7 --tests welch_t,msprt"),
    ("Heavy tails: 70 % zeros, a lognormal tail, a lift", "heavy_tailed_revenue.toml",
     "-r 400 -n 20000 --tests welch_t"),
    ("A sample-ratio mismatch (52/48 for a planned 50/50), no effect", "srm.toml",
     "-r 400 -n 20000 --tests welch_t"),
    ("400 stores randomised whole", "clustered_stores.toml", "-r 200 -n 20000 --tests welch_t,cluster_robust"),
    ("Four correlated metrics, a 4 % lift on orders only", "correlated_metrics.toml",
     "-r 200 -n 4000 --tests welch_t"),
]


def fmt(x):
    return "–" if x is None else f"{x:.3f}"


def run(example, flags, engine):
    cmd = [BIN, "-q", "calibrate", "--blueprint", f"examples/{example}", *flags.split(),
           "--engine", engine, "--json"]
    t0 = time.monotonic()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out), time.monotonic() - t0, "abforge " + " ".join(cmd[2:-1])


def rows(cal, engine_results, label):
    for r in engine_results:
        t1 = r["type_i_error"]
        verdict = "MISCALIBRATED" if r["miscalibrated"] and t1 and t1 > cal["alpha"] else (
            "conservative" if r["miscalibrated"] else "")
        interval = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        stop = r.get("mean_customers_at_stop")
        yield (f"| {label} `{r['test']}` | {r['metric']} | {fmt(t1)} {interval if t1 is not None else ''} "
               f"| {fmt(r['power'])} | {fmt(r['ci_coverage'])} | "
               f"{'–' if stop is None else f'{stop:.0f}'} | {r['failed']} | {verdict} |")


def main():
    only = sys.argv[1:]
    for title, example, flags in CARDS:
        if only and example not in only:
            continue
        print(f"### {title} (`{example}`)\n")
        print("| test | metric | type I [95 %] | power | coverage | customers at stop | failed | verdict |")
        print("|---|---|---|---|---|---|---|---|")
        commands = []
        own_done = False
        for engine in ENGINES:
            cal, secs, command = run(example, flags, engine)
            commands.append((command, secs, cal["replications"]))
            if not own_done:
                for line in rows(cal, cal["results"], "abforge"):
                    print(line)
                own_done = True
            e = cal["engine"]
            # A version that names its own libraries ("scipy 1.17.1, statsmodels 0.15.0") stands alone.
            label = e["version"] if e["version"].startswith(e["engine"]) else f"{e['engine']} {e['version']}"
            for line in rows(cal, e["results"], label):
                print(line)
            for f in e["failures"]:
                print(f"| {e['engine']} `{f['test']}` | failed {f['items']}×: {f['reason'][:120]} | | | | | | |")
        print()
        for command, secs, reps in commands:
            print(f"`{command}` ({reps / secs:.0f} experiments/s)  ")
        print()


if __name__ == "__main__":
    sys.exit(main())
