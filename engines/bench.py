"""Replications per second through each engine process vs the same library in a plain loop.

    "$(bash scripts/engines-venv.sh)" engines/bench.py [--reps 100] [--n 2000] [--repeat 3]

One batch of REPS replications × 2 groups × N customers (one continuous metric), one test per
engine. "protocol" is the time from writing the request stream to reading its `done` line (the
engine process already started and past its handshake). "loop" is what a user of the library
would write to simulate: per replication a pandas DataFrame (group, y), then the library's own
entry point on it. The noop engine's time per replication is the protocol's own overhead.
The best of --repeat runs is reported.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from abforge_client import EngineProcess, Group, encode, make_table, request  # noqa: E402

ENGINES = {"noop": "noop", "scipy": "welch", "tea_tasting": "mean", "gbstats": "ttest", "spotify_confidence": "ztest"}


def frames(reps: int, n: int, seed: int = 1) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return [
        pd.DataFrame({"group": ["control"] * n + ["treatment"] * n,
                      "y": np.concatenate([rng.normal(10, 3, n), rng.normal(10.2, 3, n)])})
        for _ in range(reps)
    ]


def loop_scipy(df: pd.DataFrame):
    import scipy.stats
    return scipy.stats.ttest_ind(df.loc[df.group == "treatment", "y"], df.loc[df.group == "control", "y"], equal_var=False)


def loop_tea_tasting(df: pd.DataFrame):
    import tea_tasting as tt
    return tt.Experiment(y=tt.Mean("y"), variant="group").analyze(df, control="control")


def loop_gbstats(df: pd.DataFrame):
    from gbstats.frequentist.tests import TwoSidedTTest
    from gbstats.models.statistics import SampleMeanStatistic
    s = df.assign(y2=df.y**2).groupby("group").agg(n=("y", "size"), sum=("y", "sum"), sum_squares=("y2", "sum"))
    stat = {g: SampleMeanStatistic(n=int(r.n), sum=float(r["sum"]), sum_squares=float(r.sum_squares)) for g, r in s.iterrows()}
    return TwoSidedTTest(stat["control"], stat["treatment"]).compute_result()


def loop_spotify_confidence(df: pd.DataFrame):
    import spotify_confidence as sc
    s = df.assign(y2=df.y**2).groupby("group", as_index=False).agg(n=("y", "size"), sum=("y", "sum"), sum_sq=("y2", "sum"))
    return sc.ZTest(s, "sum", "sum_sq", "n", categorical_group_columns="group").difference("control", "treatment")


LOOPS = {"scipy": loop_scipy, "tea_tasting": loop_tea_tasting, "gbstats": loop_gbstats,
         "spotify_confidence": loop_spotify_confidence}


def protocol_seconds(engine: str, test: str, stream: bytes, repeat: int) -> float:
    python = sys.executable
    best = float("inf")
    with EngineProcess(f"{python} {Path(__file__).resolve().parent / (engine + '_engine.py')}") as eng:
        for _ in range(repeat):
            t0 = time.perf_counter()
            lines, done = eng.batch(stream)
            best = min(best, time.perf_counter() - t0)
            errors = [l for l in lines if "error" in l]
            assert done.get("done") and not errors, (done, errors[:1])
    return best


def loop_seconds(engine: str, dfs: list[pd.DataFrame], repeat: int) -> float:
    fn = LOOPS[engine]
    fn(dfs[0])  # imports and first-call set-up out of the timing, as in the engine process
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for df in dfs:
            fn(df)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    dfs = frames(args.reps, args.n)
    groups = {r: [Group(g, {"y": d.loc[d.group == g, "y"].to_numpy()}) for g in ("control", "treatment")] for r, d in enumerate(dfs)}
    table = make_table(groups)
    print(f"{args.reps} replications x 2 groups x {args.n} customers, best of {args.repeat}")
    print(f"{'engine':<20} {'test':<8} {'protocol rep/s':>15} {'loop rep/s':>11} {'protocol ms/rep':>16}")
    for engine, test in ENGINES.items():
        stream = encode(table, request(0, [{"name": "y", "kind": "continuous", "covariate": None}], [test]))
        p = protocol_seconds(engine, test, stream, args.repeat)
        loop = f"{args.reps / loop_seconds(engine, dfs, args.repeat):11.0f}" if engine in LOOPS else f"{'-':>11}"
        print(f"{engine:<20} {test:<8} {args.reps / p:15.0f} {loop} {1000 * p / args.reps:16.3f}")


if __name__ == "__main__":
    main()
