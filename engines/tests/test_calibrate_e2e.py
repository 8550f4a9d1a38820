"""`abforge calibrate --engine NAME` end to end with each shipped adapter: the binary spawns the
engine, sends it the replications, and judges its answers. Runs when ABFORGE_BIN names the
abforge binary (scripts/test.sh sets it); skipped otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ENGINES

BIN = os.environ.get("ABFORGE_BIN")
ROOT = ENGINES.parent

pytestmark = pytest.mark.skipif(not BIN, reason="ABFORGE_BIN is not set")


def calibrate(engine: str, *flags: str) -> dict:
    env = dict(os.environ, ABFORGE_ENGINE_PYTHON=sys.executable)
    cmd = [BIN, "-q", "calibrate", "--blueprint", "examples/aa_null.toml", "-r", "64", "-n", "600",
           "--tests", "welch_t", "--engine", engine, "--json", *flags]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("engine", ["scipy", "tea-tasting", "gbstats", "spotify-confidence", "noop"])
def test_every_shipped_adapter_is_judged(engine):
    cal = calibrate(engine)
    e = cal["engine"]
    assert e["protocol"] == "abforge-engine/1"
    assert e["results"], e
    judged = [r for r in e["results"] if r["replications"] > 0]
    assert judged, e["failures"]
    # An A/A blueprint: every null is true, and the real engines' tests run on it.
    assert all(r["null_true"] in (True, None) for r in judged)
    if engine != "noop":
        welch_like = [r for r in judged if r["replications"] == 64]
        assert welch_like, (e["results"], e["failures"])


def test_the_same_replications_reach_scipy_and_abforge():
    """scipy's Welch test on the replications abforge sent decides as abforge's own Welch test:
    the same customers, the same decisions."""
    cal = calibrate("scipy")
    mine = {(r["metric"], r["arm"]): r for r in cal["results"] if r["test"] == "welch_t"}
    theirs = {(r["metric"], r["arm"]): r for r in cal["engine"]["results"] if r["test"] == "welch"}
    assert mine and set(mine) <= set(theirs) | set(mine)
    for key, r in mine.items():
        if key in theirs:
            assert theirs[key]["confusion"] == r["confusion"], key
