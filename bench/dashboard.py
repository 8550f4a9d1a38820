#!/usr/bin/env python3
"""The dashboard on a large lake (issue: the dashboard): how long its pages take.

Makes (once, kept in --lake) a lake of N runs: `abforge pipeline backfill` of examples/seed.toml
with 2 000 customers a run, one run a day — every run a commit of each gold table, so the
dashboard reads Delta logs of N commits and N data files per table. Then, for each of --reps
fresh `abforge serve` processes: the first request of the first page (`/`, cold: the server
loads gold/ab_results from the lake), then each page and JSON twin 20 times (warm: the tables
are in memory, and each request still lists the Delta log for new commits). Prints one JSON
line per measurement and a summary of medians, and appends them to bench/results/dashboard.jsonl.

usage: bench/dashboard.py [--runs 1000] [--reps 5] [--lake DIR]
There is no baseline to run beside it (the seed's Streamlit dashboard was never built); the
issue's target is absolute: the first page of a 1 000-run lake well under a second.
"""
import argparse, datetime, json, os, statistics, subprocess, sys, time, urllib.request

from common import ROOT, build_abforge


def make_lake(bin_, lake, runs):
    os.makedirs(lake, exist_ok=True)
    bp = os.path.join(lake, "seed.toml")
    src = open(os.path.join(ROOT, "examples", "seed.toml")).read()
    open(bp, "w").write(src.replace("customers = 200000", "customers = 2000"))
    start = datetime.date(2024, 1, 1)
    end = start + datetime.timedelta(days=runs - 1)
    print(f"making a lake of {runs} runs in {lake} (minutes; kept for the next time)", file=sys.stderr)
    subprocess.run([bin_, "pipeline", "backfill", "-b", bp, "--from", str(start), "--to", str(end),
                    "--every", "1d", "--quiet", "--data-dir", os.path.join(lake, "abforge-data")], check=True)


def get(url):
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        status = r.status
    return time.perf_counter() - t0, status, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lake", default=os.path.expanduser("~/.cache/abforge-bench/dashboard-lake"))
    a = ap.parse_args()
    bin_ = build_abforge()
    data = os.path.join(a.lake, "abforge-data")
    if not os.path.isdir(os.path.join(data, "objects", "lake", "gold", "ab_results")):
        make_lake(bin_, a.lake, a.runs)
    rows = []
    for rep in range(a.reps):
        p = subprocess.Popen([bin_, "serve", "--addr", "127.0.0.1:0", "--data-dir", data],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "RUST_LOG": "warn"})
        try:
            base = p.stdout.readline().split()[-1]
            cold, status, body = get(base + "/")
            assert status == 200, status
            ov = json.loads(get(base + "/v1/results")[2])
            exp = ov["experiments"][0]
            runs = exp["runs"]
            pages = {
                "/": "/",
                "/v1/results": "/v1/results",
                "/experiments/{e}": f"/experiments/{exp['experiment_id']}",
                "/experiments/{e}/runs/{r}": f"/experiments/{exp['experiment_id']}/runs/{exp['latest_run_id']}",
                "/calibration": "/calibration",
            }
            rows.append({"bench": "dashboard", "rep": rep, "runs": runs, "page": "/ (first request, cold)",
                         "seconds": round(cold, 4), "bytes": len(body)})
            for name, path in pages.items():
                times = [get(base + path)[0] for _ in range(20)]
                rows.append({"bench": "dashboard", "rep": rep, "runs": runs, "page": name,
                             "seconds": round(statistics.median(times), 4)})
        finally:
            p.terminate()
            p.wait()
    with open(os.path.join(ROOT, "bench", "results", "dashboard.jsonl"), "a") as f:
        for r in rows:
            r["date"] = datetime.date.today().isoformat()
            print(json.dumps(r))
            f.write(json.dumps(r) + "\n")
    print("\nmedian over the serve processes (warm pages: each a median of 20 requests):")
    for page in dict.fromkeys(r["page"] for r in rows):
        s = [r["seconds"] for r in rows if r["page"] == page]
        print(f"  {page:32} {1000 * statistics.median(s):8.1f} ms   ({len(s)} processes)")


if __name__ == "__main__":
    main()
