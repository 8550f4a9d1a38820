#!/usr/bin/env python3
"""The newcomer's first build: the README's main command (`cargo run --release`) on a cold,
empty target folder, timed as a whole process (wall, CPU, peak RSS by /usr/bin/time -v), with
the binary's size. No baseline: the figure is compared with earlier lines of
`results/build.jsonl` (the same machine, 2 cores).

usage: bench/build.py [--keep DIR] [--note TEXT]
  --keep DIR   build into DIR (left in place, with cargo's --timings report in
               DIR/cargo-timings/) instead of a temporary folder deleted afterwards
  --note TEXT  stored with the result (what changed)
Appends one JSON line to bench/results/build.jsonl and prints it.
"""
import argparse, datetime, json, os, shutil, subprocess, sys, tempfile

from common import HERE, ROOT, timed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", help="build into this folder and keep it")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    target = args.keep or tempfile.mkdtemp(prefix="abforge-cold-")
    if os.path.exists(os.path.join(target, "release")):
        sys.exit(f"{target} already holds a release build: a cold build needs an empty folder")
    env = {**os.environ, "CARGO_TARGET_DIR": target, "CARGO_INCREMENTAL": "0"}
    try:
        # The README's command, with --version in place of the job so that only the build is timed.
        r = timed(["cargo", "run", "--release", "--locked", "-q", "--timings", "--", "--version"], env=env)
        binary = os.path.join(target, "release", "abforge")
        line = {
            "date": datetime.date.today().isoformat(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True).stdout.strip(),
            "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
            "cores": os.cpu_count(),
            "wall_s": r["wall_s"],
            "cpu_s": r["cpu_s"],
            "peak_rss_mib": r["peak_rss_mib"],
            "binary_mib": round(os.path.getsize(binary) / 2**20, 1),
            "version": r["stdout"].strip(),
            "note": args.note,
        }
    finally:
        if not args.keep:
            shutil.rmtree(target, ignore_errors=True)
    with open(os.path.join(HERE, "results", "build.jsonl"), "a") as f:
        f.write(json.dumps(line) + "\n")
    print(json.dumps(line))


if __name__ == "__main__":
    main()
