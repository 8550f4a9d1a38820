"""The harness (abforge_engine.py) through a real process and pipe, with the probe engine."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pyarrow as pa
import pytest

from conftest import ENGINES, EngineProcess, Group, encode, engine_cmd, look_rows, make_table, request

ECHO = [{"name": "y", "kind": "continuous", "covariate": None}]


def indexed(sizes: dict[str, int], first: float | None = None) -> list[Group]:
    """Groups whose values are their arrival index (first value replaceable by a sentinel)."""
    out = []
    for g, n in sizes.items():
        v = np.arange(n, dtype=float)
        if first is not None and g != "control":
            v[0] = first
        out.append(Group(g, {"y": v}))
    return out


def interleaved(groups: list[Group]) -> pa.Table:
    """One replication's rows with the groups interleaved row by row, as arrivals come."""
    t = make_table({0: groups})
    order = np.argsort(np.concatenate([np.arange(len(g.values["y"])) for g in groups]), kind="stable")
    return t.take(order)


@pytest.mark.parametrize("name", ["noop", "scipy", "gbstats", "tea_tasting", "spotify_confidence", "probe"])
def test_handshake_shape(name):
    with EngineProcess(engine_cmd(name)) as eng:
        hs = eng.handshake
        assert eng.close() == 0
    assert set(hs) == {"protocol", "engine", "version", "tests"}
    assert hs["protocol"] == "abforge-engine/1"
    assert isinstance(hs["engine"], str) and hs["engine"]
    assert isinstance(hs["version"], str) and hs["version"]
    names = [t["name"] for t in hs["tests"]]
    assert names and len(set(names)) == len(names)
    for t in hs["tests"]:
        assert set(t) == {"name", "kinds", "sequential", "needs_covariate", "estimand"}
        assert t["kinds"] and set(t["kinds"]) <= {"binary", "count", "continuous"}
        assert isinstance(t["sequential"], bool) and isinstance(t["needs_covariate"], bool)
        assert t["estimand"] in ("difference", "lift", "ratio")


def test_two_batches_back_to_back_on_one_pipe():
    s0 = encode(make_table({0: indexed({"control": 5, "treatment": 6})}), request(0, ECHO, ["echo"]))
    s1 = encode(make_table({3: indexed({"control": 8, "treatment": 9}), 4: indexed({"control": 4, "treatment": 3})}),
                request(1, ECHO, ["echo"]))
    with EngineProcess(engine_cmd("probe")) as eng:
        # The first stream is answered before the second is written (no read-ahead) ...
        lines0, done0 = eng.batch(s0)
        lines1, done1 = eng.batch(s1)
        # ... and two streams written in one go are both answered.
        eng.send(s0 + s1)
        again = [json.loads(eng.readline()) for _ in range(2 + 3)]
        assert eng.close() == 0
    assert done0 == {"batch": 0, "done": True, "items": 1}
    assert done1 == {"batch": 1, "done": True, "items": 2}
    assert [(l["batch"], l["replication"], l["estimate"]) for l in lines0 + lines1] == [(0, 0, 6.0), (1, 3, 9.0), (1, 4, 3.0)]
    assert again[1]["done"] and again[1]["batch"] == 0 and again[4] == done1


@pytest.mark.parametrize("looks", [1, 3, 4, 7])
def test_looks_follow_the_ceil_rule_with_at_least_two_rows(looks):
    sizes = {"control": 7, "treatment": 10, "b": 3}
    table = interleaved(indexed(sizes))
    with EngineProcess(engine_cmd("probe")) as eng:
        lines, done = eng.batch(encode(table, request(0, ECHO, ["echo", "echo_sequential"], arms=["treatment", "b"], looks=looks)))
        assert eng.close() == 0
    assert done["items"] == 2 * (1 + looks)
    for arm in ("treatment", "b"):
        seq = [l for l in lines if l["arm"] == arm and l["test"] == "echo_sequential"]
        assert [l["look"] for l in seq] == list(range(1, looks + 1))
        for l in seq:
            nt, nc = look_rows(sizes[arm], l["look"], looks), look_rows(7, l["look"], looks)
            # sizes, and the rows are each group's first ones in arrival order
            assert (l["estimate"], l["ci_low"], l["ci_high"], l["p_value"]) == (nt, nc, nt - 1, nc - 1)
            assert l["reject"] == (l["look"] == looks)
        fixed = [l for l in lines if l["arm"] == arm and l["test"] == "echo"]
        assert len(fixed) == 1 and "look" not in fixed[0]
        assert (fixed[0]["estimate"], fixed[0]["ci_low"]) == (sizes[arm], 7)


def test_look_sizes_at_the_edges():
    assert look_rows(3, 1, 4) == 2  # ceil(0.75) = 1, raised to the minimum of 2
    assert look_rows(2, 1, 10) == 2
    assert look_rows(1000, 1, 3) == 334
    assert look_rows(999, 3, 3) == 999


def test_a_failing_item_gives_an_error_line_and_the_rest_is_answered():
    reps = {0: indexed({"control": 5, "treatment": 5}), 1: indexed({"control": 5, "treatment": 5}, first=666),
            2: indexed({"control": 5, "treatment": 5}, first=777), 3: indexed({"control": 5, "treatment": 5})}
    with EngineProcess(engine_cmd("probe")) as eng:
        lines, done = eng.batch(encode(make_table(reps), request(0, ECHO, ["echo", "echo_sequential"], looks=2)))
        assert eng.close() == 0
    assert done["items"] == 4 * 3 == len(lines)
    bad = [l for l in lines if l["replication"] == 1]
    assert len(bad) == 3
    for l in bad:
        assert l["error"] == "ValueError: boom: sentinel 666"
        assert not {"estimate", "ci_low", "ci_high", "p_value", "reject"} & set(l)
        assert {"batch", "replication", "metric", "arm", "test"} <= set(l)
    nan = [l for l in lines if l["replication"] == 2]
    assert all(l["error"] == "harness: the engine returned nan for estimate" for l in nan)
    assert all("error" not in l for l in lines if l["replication"] in (0, 3))


def test_items_that_cannot_run_are_error_lines():
    reps = {0: [Group("control", {"y": np.arange(5.0)}), Group("treatment", {"y": np.array([1.0])})],
            1: indexed({"control": 5, "treatment": 5})}
    with EngineProcess(engine_cmd("probe")) as eng:
        lines, done = eng.batch(encode(make_table(reps), request(0, ECHO, ["echo", "echo_cov", "binary_only"])))
        assert eng.close() == 0
    errors = {(l["replication"], l["test"]): l.get("error") for l in lines}
    assert errors[(0, "echo")] == "harness: group treatment has 1 rows in replication 0; at least 2 needed"
    assert errors[(1, "echo_cov")] == "harness: test echo_cov needs a covariate; metric y declares none"
    assert errors[(1, "binary_only")] == "harness: test binary_only takes binary metrics, not continuous"
    assert errors[(1, "echo")] is None
    assert done["items"] == 6


def test_a_missing_arm_is_an_error_line_not_a_crash():
    reps = {0: indexed({"control": 5, "treatment": 5})}
    with EngineProcess(engine_cmd("probe")) as eng:
        lines, _ = eng.batch(encode(make_table(reps), request(0, ECHO, ["echo"], arms=["treatment", "b"])))
        assert eng.close() == 0
    assert [l.get("error") for l in lines] == [None, "harness: group b has 0 rows in replication 0; at least 2 needed"]


def test_covariates_reach_the_adapter():
    reps = {0: [Group("control", {"y": np.arange(4.0), "pre_y": np.full(4, 2.0)}),
                Group("treatment", {"y": np.arange(3.0), "pre_y": np.full(3, 5.0)})]}
    metric = [{"name": "y", "kind": "count", "covariate": "pre_y"}]
    with EngineProcess(engine_cmd("probe")) as eng:
        lines, _ = eng.batch(encode(make_table(reps), request(0, metric, ["echo_cov"])))
        assert eng.close() == 0
    assert (lines[0]["estimate"], lines[0]["ci_low"], lines[0]["ci_high"], lines[0]["p_value"]) == (15.0, 8.0, None, None)


def test_library_prints_do_not_reach_the_protocol():
    reps = {0: indexed({"control": 5, "treatment": 5}, first=888)}
    with EngineProcess(engine_cmd("probe")) as eng:
        lines, done = eng.batch(encode(make_table(reps), request(0, ECHO, ["echo"])))
        assert eng.close() == 0
    assert done["items"] == 1 and lines[0]["estimate"] == 5.0


def _bad_streams():
    good = make_table({0: indexed({"control": 4, "treatment": 4})})
    req = request(0, ECHO, ["echo"])
    yield "no metadata", encode(good, None), "no `abforge.request` key"
    yield "not json", encode(good, b"{nope"), "`abforge.request` is not JSON"
    yield "unknown test", encode(good, {**req, "tests": ["ttest"]}), "unknown test 'ttest'; this engine offers: echo, echo_sequential"
    yield "alpha", encode(good, {**req, "alpha": 1.5}), "`alpha` must be in (0, 1), got 1.5"
    yield "kind", encode(good, {**req, "metrics": [{"name": "y", "kind": "ratio"}]}), "metrics[0].kind is 'ratio'; allowed: binary, count, continuous"
    yield "looks", encode(good, {**req, "looks": 0}), "`looks` must be from 1 to 1000, got 0"
    yield "missing column", encode(good, {**req, "metrics": [{"name": "z", "kind": "count"}]}), "column `z` is missing"
    yield "column type", encode(good.set_column(2, "y", pa.array(np.arange(8), pa.int64())), req), "column `y` is int64; want double"
    yield "unknown group", encode(make_table({0: indexed({"control": 4, "other": 4})}), req), "group 'other' is neither"
    yield "garbage", b"this is not arrow at all, just bytes", "not an Arrow IPC stream"


@pytest.mark.parametrize("label,stream,reason", list(_bad_streams()), ids=[b[0] for b in _bad_streams()])
def test_a_malformed_request_is_fatal_with_a_nonzero_exit(label, stream, reason):
    with EngineProcess(engine_cmd("probe")) as eng:
        lines, last = eng.batch(stream)
        code = eng.proc.wait(60)
    assert lines == []
    assert set(last) == {"fatal"} and reason in last["fatal"], last
    assert code == 2


def test_a_truncated_stream_is_fatal():
    stream = encode(make_table({0: indexed({"control": 40, "treatment": 40})}), request(0, ECHO, ["echo"]))
    proc = subprocess.run(["sh", "-c", engine_cmd("probe")], input=stream[: len(stream) - 60],
                          capture_output=True, cwd=ENGINES.parent, timeout=60)
    out = [json.loads(l) for l in proc.stdout.decode().splitlines()]
    assert out[0]["protocol"] == "abforge-engine/1" and "fatal" in out[-1]
    assert proc.returncode == 2


def test_closing_stdin_with_no_batch_exits_zero():
    proc = subprocess.run(["sh", "-c", engine_cmd("probe")], input=b"", capture_output=True, cwd=ENGINES.parent, timeout=60)
    assert proc.returncode == 0
    assert len(proc.stdout.decode().splitlines()) == 1
