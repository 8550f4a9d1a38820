"""Shared helpers: the engines' command lines and a seeded data set."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ENGINES = HERE.parent
sys.path.insert(0, str(ENGINES))

from abforge_client import EngineProcess, Group, encode, make_table, request  # noqa: E402,F401

ARMS = ("treatment", "treatment_b")
GROUPS = ("control",) + ARMS


def engine_cmd(name: str) -> str:
    """The command abforge would be given: run from the repo root with this Python."""
    path = HERE / "probe_engine.py" if name == "probe" else ENGINES / f"{name}_engine.py"
    return f"{sys.executable} {path}"


def look_rows(n: int, k: int, K: int) -> int:
    """The protocol's look rule, written out independently: ceil(k·n/K), at least 2, at most n."""
    return min(n, max(2, math.ceil(k * n / K)))


def dataset(seed: int = 20240611, reps: int = 3, sizes=(300, 320, 280)) -> dict[int, list[Group]]:
    """Per replication and group: a continuous metric with its pre-period covariate, a binary
    metric with a binary covariate, and a count metric; arms shift the metrics a little."""
    rng = np.random.default_rng(seed)
    out = {}
    for r in range(reps):
        groups = []
        for g, n, lift in zip(GROUPS, sizes, (0.0, 0.15, -0.1)):
            pre = rng.normal(10, 3, n)
            pre_conv = (rng.random(n) < 0.3).astype(float)
            groups.append(Group(g, {
                "revenue": pre * 0.8 + rng.normal(2 + lift, 2, n),
                "pre_revenue": pre,
                "converted": (rng.random(n) < np.where(pre_conv == 1, 0.45, 0.2) + lift / 5).astype(float),
                "pre_converted": pre_conv,
                "orders": rng.poisson(1.5 + lift, n).astype(float),
            }))
        out[r] = groups
    return out


METRICS = [
    {"name": "revenue", "kind": "continuous", "covariate": "pre_revenue"},
    {"name": "converted", "kind": "binary", "covariate": "pre_converted"},
    {"name": "orders", "kind": "count", "covariate": None},
]


def values(data, rep: int, group: str, column: str) -> np.ndarray:
    return next(g for g in data[rep] if g.name == group).values[column]


def run_engine(name: str, data, tests, looks: int = 1, alpha: float = 0.05, metrics=METRICS):
    """Runs one batch through a real engine process; returns (handshake, lines by key, done)."""
    with EngineProcess(engine_cmd(name)) as eng:
        lines, done = eng.batch(encode(make_table(data), request(
            7, metrics, tests, alpha=alpha, arms=ARMS, looks=looks)))
        assert eng.close() == 0
    by_key = {(l["replication"], l["metric"], l["arm"], l["test"], l.get("look")): l for l in lines}
    assert len(by_key) == len(lines), "duplicate item lines"
    return lines, by_key, done


@pytest.fixture(scope="session")
def data():
    return dataset()
