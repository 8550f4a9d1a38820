#!/usr/bin/env python3
"""Prints the README's table of how each method fares on the examples, by running
`abforge calibrate --json` on them (standard library only).

    ABFORGE_BIN=target/release/abforge python3 scripts/method-table.py > /tmp/table.md

Every figure comes from the commands in RUNS, which the table's last column repeats; the
runs are seeded by the blueprints, so the table is the same on every machine.
"""

import json
import os
import subprocess
import sys

BIN = os.environ.get("ABFORGE_BIN", "abforge")

# (example, extra flags, [(test, metric, arm or None, what the row shows)])
RUNS = [
    ("aa_null.toml", "-r 1000 -n 4000 --tests welch_t,student_t,mann_whitney_u,two_proportion_z,"
     "chi_square_yates,poisson_rate,relative_lift,fieller,bayes,msprt,winsorized_welch", [
         ("welch_t", "revenue", None, "A/A, gamma revenue"),
         ("mann_whitney_u", "revenue", None, "A/A, gamma revenue"),
         ("two_proportion_z", "converted", None, "A/A, conversions"),
         ("chi_square_yates", "converted", None, "A/A, conversions (Yates: conservative)"),
         ("poisson_rate", "items", None, "A/A, counts"),
         ("relative_lift", "revenue", None, "A/A, gamma revenue"),
         ("relative_lift", "converted", None, "A/A, conversions at 8 %"),
         ("fieller", "revenue", None, "A/A, gamma revenue"),
         ("bayes", "converted", None, "A/A, conversions"),
         ("msprt", "revenue", None, "A/A, gamma revenue (always valid: conservative)"),
         ("winsorized_welch", "revenue", None, "A/A, gamma revenue"),
     ]),
    ("abn_cuped.toml", "-r 1000 -n 4000 --peeks 5 --tests welch_t,cuped,cupac,regression_hc2,msprt,"
     "confidence_sequence,group_sequential_obf,group_sequential_pocock", [
         ("welch_t", "revenue", "free_shipping", "5 peeks, naive"),
         ("welch_t", "revenue", "price_anchor", "5 peeks, naive"),
         ("cuped", "revenue", "price_anchor", "5 peeks, naive"),
         ("msprt", "revenue", "price_anchor", "5 peeks"),
         ("confidence_sequence", "revenue", "price_anchor", "5 peeks"),
         ("group_sequential_obf", "revenue", "free_shipping", "5 planned looks"),
         ("group_sequential_obf", "revenue", "price_anchor", "5 planned looks"),
         ("group_sequential_pocock", "revenue", "price_anchor", "5 planned looks"),
     ]),
    ("pre_period_features.toml", "-r 1000 -n 4000 --tests welch_t,cuped,cupac,regression_hc2", [
        ("welch_t", "spend", None, "no adjustment"),
        ("cuped", "spend", None, "own pre-period (ρ 0.5)"),
        ("regression_hc2", "spend", None, "both pre-period columns, Lin + HC2"),
        ("cupac", "spend", None, "both pre-period columns"),
        ("cupac", "visits", None, "A/A metric"),
    ]),
    ("clustered_stores.toml", "-r 500 -n 20000 --tests welch_t,cluster_robust", [
        ("welch_t", "visits", None, "400 stores randomised whole, naive"),
        ("cluster_robust", "visits", None, "400 stores randomised whole"),
        ("cluster_robust", "spend", None, "400 stores randomised whole"),
    ]),
    ("novelty_effect.toml", "-r 500 -n 28000 --tests welch_t,relative_lift", [
        ("welch_t", "converted", None, "novelty fading: judged on the whole run's effect"),
    ]),
    ("heavy_tailed_revenue.toml", "-r 1000 -n 20000 --tests welch_t,winsorized_welch,mann_whitney_u", [
        ("welch_t", "revenue", None, "70 % zeros, lognormal tail"),
        ("winsorized_welch", "revenue", None, "capped at the pooled 99th percentile"),
    ]),
    ("quantile_effect.toml", "-r 1000 --tests welch_t,quantile_median", [
        ("quantile_median", "revenue", None, "spread out, median unchanged"),
        ("welch_t", "revenue", None, "spread out, mean up"),
    ]),
]


def fmt(x, digits=3):
    if x is None:
        return "–"
    return f"{x:.{digits}f}"


def run(example, flags):
    cmd = [BIN, "-q", "calibrate", "--blueprint", f"examples/{example}", *flags.split(), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out), f"abforge calibrate --blueprint examples/{example} {flags}"


def main():
    print("| test | on | type I | power | coverage | bias (± se) | customers at stop |")
    print("|---|---|---|---|---|---|---|")
    commands = []
    for i, (example, flags, rows) in enumerate(RUNS, 1):
        cal, command = run(example, flags)
        commands.append(command)
        for test, metric, arm, what in rows:
            r = next(
                r for r in cal["results"]
                if r["test"] == test and r["metric"] == metric and (arm is None or r["arm"] == arm)
            )
            t1 = r["type_i_error"]
            flag = " **MISCALIBRATED**" if r["miscalibrated"] and t1 and t1 > cal["alpha"] else ""
            bias = "–" if r.get("bias") is None else f"{r['bias']:+.4g} (± {r['bias_se']:.2g})"
            sizes = cal["group_sizes"]
            both = sizes[r["arm"]] + sizes[next(g for g in sizes if g not in {x["arm"] for x in cal["results"]})]
            stop = "–" if r.get("mean_customers_at_stop") is None else f"{r['mean_customers_at_stop']:.0f} of {both}"
            where = f"`{example}` {metric}{'·' + arm if arm else ''}: {what} [{i}]"
            print(f"| `{test}` | {where} | {fmt(t1)}{flag} | {fmt(r['power'])} | "
                  f"{fmt(r['ci_coverage'])} | {bias} | {stop} |")
    families(commands)
    print()
    for i, c in enumerate(commands, 1):
        print(f"[{i}] `{c}`  ")


def families(commands):
    """The family table: Welch over the four correlated metrics of correlated_metrics.toml."""
    cal, command = run("correlated_metrics.toml", "-r 1000 -n 4000 --tests welch_t")
    commands.append(command)
    f = next(f for f in cal["families"] if f["test"] == "welch_t")
    print()
    print(f"Welch's test over the {f['members']} correlated metrics of `correlated_metrics.toml` "
          f"(one true effect), in {f['replications']} experiments [{len(commands)}]:")
    print()
    print("| correction | promises | FWER [95 %] | FDR (± se) | power | |")
    print("|---|---|---|---|---|---|")
    for c in f["corrections"]:
        verdict = "promises nothing" if c["controls"] == "none" else (
            "**breaks its promise**" if c["breaks_promise"] else "keeps it")
        print(f"| {c['correction']} | {c['controls']} | {c['fwer']:.3f} [{c['fwer_ci_low']:.3f}, "
              f"{c['fwer_ci_high']:.3f}] | {c['fdr']:.3f} (± {c['fdr_se']:.3f}) | {fmt(c['power'])} | {verdict} |")


if __name__ == "__main__":
    sys.exit(main())
