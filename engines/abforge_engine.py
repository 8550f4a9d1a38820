"""The engine side of the abforge engine protocol (docs/engine-protocol.md), shared by every adapter.

An adapter module subclasses `Adapter` (declares its tests, answers one item) and calls
`serve(MyAdapter())` from `__main__`. This module does the rest: the handshake line, reading the
request streams from stdin, validating each request, cutting each replication into looks, calling
the adapter once per (replication, metric, arm, test, look), turning an item's exception into an
`error` line, writing the JSON lines and the `done` line of each batch, and `fatal` on a bad request.

Reading consecutive Arrow IPC streams from one pipe: `pyarrow.ipc.open_stream(sys.stdin.buffer)`
reads message by message (length prefix, metadata, body) and stops at the end-of-stream marker
without reading ahead, so the next `open_stream` on the same buffered reader starts exactly at the
next stream's schema. Clean end of input (abforge closed stdin) is told apart from a truncated
stream by `peek(1)` returning b"" before a stream starts. engines/tests/test_harness.py checks both
by writing two streams through a real pipe, answering the first before the second is written.

Protocol output goes to a private duplicate of the original stdout; file descriptor 1 and
`sys.stdout` are pointed at stderr, so a library that prints cannot corrupt the JSON lines.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator, Sequence, TextIO

import numpy as np
import pyarrow as pa

PROTOCOL = "abforge-engine/1"
KINDS = ("binary", "count", "continuous")
ESTIMANDS = ("difference", "lift", "ratio")
METADATA_KEY = b"abforge.request"
IPC_CONTINUATION = b"\xff\xff\xff\xff"
MAX_LOOKS = 1000
RESULT_NUMBERS = ("estimate", "ci_low", "ci_high", "p_value")


@dataclass(frozen=True)
class TestSpec:
    """One test an engine offers, as announced in the handshake."""

    name: str
    kinds: tuple[str, ...] = KINDS
    sequential: bool = False
    needs_covariate: bool = False
    estimand: str = "difference"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kinds": list(self.kinds),
            "sequential": self.sequential,
            "needs_covariate": self.needs_covariate,
            "estimand": self.estimand,
        }


@dataclass(frozen=True)
class LookData:
    """The rows one test sees at one look: treatment first, control second."""

    look: int
    treatment: np.ndarray
    control: np.ndarray
    treatment_cov: np.ndarray | None
    control_cov: np.ndarray | None


class Adapter:
    """What an engine implements. Subclasses set `engine`, `version` and `tests`.

    `run` answers one item with a dict of `estimate`, `ci_low`, `ci_high`, `p_value` (numbers, or
    None for the last three where the engine gives none), `reject` (bool) and optionally
    `prob_better`; it raises with the engine's own words when the engine cannot answer.
    """

    engine: str = ""
    version: str = ""
    tests: Sequence[TestSpec] = ()

    def run(
        self,
        test: str,
        metric_kind: str,
        treatment_values: np.ndarray,
        control_values: np.ndarray,
        treatment_cov: np.ndarray | None,
        control_cov: np.ndarray | None,
        alpha: float,
        look: int,
        looks: int,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def run_looks(
        self, test: str, metric_kind: str, looks_data: list[LookData], alpha: float, looks: int
    ) -> list[dict[str, Any] | BaseException]:
        """Answers every look of a sequential test at once (one entry per look, an exception for a
        look that failed). The default asks `run` look by look; an engine whose answer at look k
        depends on the earlier looks (group-sequential designs) overrides this."""
        out: list[dict[str, Any] | BaseException] = []
        for d in looks_data:
            try:
                out.append(
                    self.run(
                        test, metric_kind, d.treatment, d.control, d.treatment_cov,
                        d.control_cov, alpha, d.look, looks,
                    )
                )
            except Exception as e:  # noqa: BLE001 - every item failure becomes an error line
                out.append(e)
        return out

    def handshake(self) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL,
            "engine": self.engine,
            "version": self.version,
            "tests": [t.to_json() for t in self.tests],
        }


class FatalRequest(Exception):
    """A request abforge should never send: answered by a `fatal` line and a non-zero exit."""


@dataclass
class Metric:
    name: str
    kind: str
    covariate: str | None


@dataclass
class Request:
    batch: int
    alpha: float
    control: str
    arms: list[str]
    looks: int
    metrics: list[Metric]
    tests: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def look_size(n: int, look: int, looks: int) -> int:
    """Rows a group shows at look `look` of `looks`: ceil(look·n/looks), at least 2, at most n."""
    return min(n, max(2, -(-look * n // looks)))


# ---------------------------------------------------------------------------------------------
# Request validation
# ---------------------------------------------------------------------------------------------


def _need(obj: dict[str, Any], key: str, typ: type | tuple[type, ...], what: str) -> Any:
    if key not in obj:
        raise FatalRequest(f"request field `{key}` is missing ({what})")
    value = obj[key]
    if isinstance(value, bool) and typ is not bool or not isinstance(value, typ):
        raise FatalRequest(f"request field `{key}` must be {what}, got {json.dumps(value)}")
    return value


def _parse_metrics(raw: Any) -> list[Metric]:
    if not isinstance(raw, list) or not raw:
        raise FatalRequest("request field `metrics` must be a non-empty list")
    metrics, seen = [], set()
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise FatalRequest(f"metrics[{i}] must be an object")
        name = _need(m, "name", str, "a string")
        kind = _need(m, "kind", str, f"one of {', '.join(KINDS)}")
        if kind not in KINDS:
            raise FatalRequest(f"metrics[{i}].kind is {kind!r}; allowed: {', '.join(KINDS)}")
        cov = m.get("covariate")
        if cov is not None and not isinstance(cov, str):
            raise FatalRequest(f"metrics[{i}].covariate must be a column name or null")
        if name in seen:
            raise FatalRequest(f"metric {name!r} is listed twice")
        seen.add(name)
        metrics.append(Metric(name, kind, cov))
    return metrics


def parse_request(schema: pa.Schema, offered: Sequence[TestSpec]) -> Request:
    """Reads and checks the request JSON of a stream's schema metadata."""
    meta = schema.metadata or {}
    if METADATA_KEY not in meta:
        raise FatalRequest("the stream's schema metadata has no `abforge.request` key")
    try:
        obj = json.loads(meta[METADATA_KEY])
    except ValueError as e:
        raise FatalRequest(f"`abforge.request` is not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise FatalRequest("`abforge.request` must be a JSON object")
    batch = _need(obj, "batch", int, "a non-negative integer")
    alpha = _need(obj, "alpha", (int, float), "a number in (0, 1)")
    if batch < 0:
        raise FatalRequest(f"request field `batch` must be a non-negative integer, got {batch}")
    if not 0 < alpha < 1:
        raise FatalRequest(f"request field `alpha` must be in (0, 1), got {alpha}")
    control = _need(obj, "control", str, "a group name")
    arms = _need(obj, "arms", list, "a non-empty list of group names")
    if not arms or not all(isinstance(a, str) for a in arms) or len(set(arms)) != len(arms):
        raise FatalRequest("request field `arms` must be a non-empty list of distinct names")
    if control in arms:
        raise FatalRequest(f"the control group {control!r} is also listed in `arms`")
    looks = _need(obj, "looks", int, f"an integer from 1 to {MAX_LOOKS}")
    if not 1 <= looks <= MAX_LOOKS:
        raise FatalRequest(f"request field `looks` must be from 1 to {MAX_LOOKS}, got {looks}")
    metrics = _parse_metrics(obj.get("metrics"))
    tests = _need(obj, "tests", list, "a non-empty list of test names")
    names = [t.name for t in offered]
    for t in tests:
        if t not in names:
            raise FatalRequest(f"unknown test {t!r}; this engine offers: {', '.join(names)}")
    if not tests or len(set(tests)) != len(tests):
        raise FatalRequest("request field `tests` must be a non-empty list of distinct names")
    return Request(batch, float(alpha), control, arms, looks, metrics, tests)


def check_columns(schema: pa.Schema, req: Request) -> None:
    """Checks that every column the request needs is there with its type."""
    want = {"replication": pa.uint64(), "group": pa.utf8()}
    for m in req.metrics:
        want[m.name] = pa.float64()
        if m.covariate is not None:
            want[m.covariate] = pa.float64()
    for name, typ in want.items():
        idx = schema.get_field_index(name)
        if idx < 0:
            raise FatalRequest(f"column `{name}` is missing (want {typ})")
        if schema.field(idx).type != typ:
            raise FatalRequest(f"column `{name}` is {schema.field(idx).type}; want {typ}")


# ---------------------------------------------------------------------------------------------
# Batch processing
# ---------------------------------------------------------------------------------------------


@dataclass
class Replication:
    """One replication's rows, per group, in arrival order."""

    id: int
    rows: dict[str, np.ndarray]  # group -> row indices into the batch table


def split_replications(table: pa.Table, req: Request) -> Iterator[Replication]:
    """Yields the replications of a batch in ascending id, each group's rows in arrival order."""
    for name in ["replication", "group"] + [m.name for m in req.metrics]:
        if table.column(name).null_count:
            raise FatalRequest(f"column `{name}` has null values")
    rep = table.column("replication").to_numpy()
    groups = table.column("group").combine_chunks().dictionary_encode()
    names = groups.dictionary.to_pylist()
    known = set(req.arms) | {req.control}
    for g in names:
        if g not in known:
            raise FatalRequest(f"group {g!r} is neither the control nor an arm")
    codes = groups.indices.to_numpy()
    order = np.lexsort((np.arange(len(rep)), codes, rep))  # stable: arrival order kept
    rep_sorted, code_sorted = rep[order], codes[order]
    rep_starts = np.flatnonzero(np.r_[True, rep_sorted[1:] != rep_sorted[:-1]])
    rep_ends = np.r_[rep_starts[1:], len(rep_sorted)]
    for s, e in zip(rep_starts, rep_ends):
        cs = code_sorted[s:e]
        bounds = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
        ends = np.r_[bounds[1:], len(cs)]
        rows = {names[cs[b]]: order[s + b : s + be] for b, be in zip(bounds, ends)}
        yield Replication(int(rep_sorted[s]), rows)


def _clean_result(res: Any) -> dict[str, Any]:
    """Checks an adapter's answer; a missing key or a non-finite number is the item's error."""
    if not isinstance(res, dict):
        raise ValueError(f"harness: the adapter returned {type(res).__name__}, not a dict")
    out: dict[str, Any] = {}
    for key in RESULT_NUMBERS + ("prob_better",):
        if key not in res:
            if key in ("estimate", "prob_better"):
                if key == "estimate":
                    raise ValueError("harness: the adapter returned no estimate")
                continue
            out[key] = None
            continue
        v = res[key]
        if v is None and key != "estimate":
            out[key] = None
            continue
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"harness: the engine returned {v} for {key}")
        out[key] = v
    reject = res.get("reject")
    if not isinstance(reject, (bool, np.bool_)):
        raise ValueError(f"harness: the adapter returned reject={reject!r}, not a bool")
    out["reject"] = bool(reject)
    return out


class BatchRunner:
    """Answers one batch: every replication × metric × arm × test (× look)."""

    def __init__(self, adapter: Adapter, req: Request, table: pa.Table, out: TextIO):
        self.adapter, self.req, self.out = adapter, req, out
        self.specs = {t.name: t for t in adapter.tests}
        self.cols = {
            name: table.column(name).to_numpy()
            for m in req.metrics
            for name in ([m.name] + ([m.covariate] if m.covariate else []))
        }
        self.items = 0

    def emit(self, obj: dict[str, Any]) -> None:
        self.out.write(json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n")
        self.items += 1

    def item_error(self, key: dict[str, Any], err: BaseException | str) -> None:
        text = err if isinstance(err, str) else (str(err) or type(err).__name__)
        if isinstance(err, BaseException) and not text.startswith("harness:"):
            text = f"{type(err).__name__}: {text}"
        self.emit({**key, "error": text})

    def answer(self, key: dict[str, Any], res: dict[str, Any] | BaseException) -> None:
        if isinstance(res, BaseException):
            return self.item_error(key, res)
        try:
            clean = _clean_result(res)
        except (ValueError, TypeError) as e:
            return self.item_error(key, e)
        self.emit({**key, **clean})

    def run(self, reps: Iterator[Replication]) -> int:
        for rep in reps:
            for metric in self.req.metrics:
                for arm in self.req.arms:
                    for test in self.req.tests:
                        self.run_item(rep, metric, arm, self.specs[test])
        return self.items

    def _precheck(self, rep: Replication, metric: Metric, arm: str, spec: TestSpec) -> str | None:
        if metric.kind not in spec.kinds:
            return f"harness: test {spec.name} takes {', '.join(spec.kinds)} metrics, not {metric.kind}"
        if spec.needs_covariate and metric.covariate is None:
            return f"harness: test {spec.name} needs a covariate; metric {metric.name} declares none"
        for g in (arm, self.req.control):
            n = len(rep.rows.get(g, ()))
            if n < 2:
                return f"harness: group {g} has {n} rows in replication {rep.id}; at least 2 needed"
        return None

    def looks_data(self, rep: Replication, metric: Metric, arm: str, spec: TestSpec) -> list[LookData]:
        t_rows, c_rows = rep.rows[arm], rep.rows[self.req.control]
        y = self.cols[metric.name]
        x = self.cols[metric.covariate] if metric.covariate and spec.needs_covariate else None
        K = self.req.looks
        ks = range(1, K + 1) if spec.sequential else [K]
        out = []
        for k in ks:
            tr = t_rows[: look_size(len(t_rows), k, K)]
            cr = c_rows[: look_size(len(c_rows), k, K)]
            out.append(LookData(k, y[tr], y[cr], None if x is None else x[tr], None if x is None else x[cr]))
        return out

    def run_item(self, rep: Replication, metric: Metric, arm: str, spec: TestSpec) -> None:
        base = {"batch": self.req.batch, "replication": rep.id, "metric": metric.name, "arm": arm, "test": spec.name}
        keys = [({**base, "look": k} if spec.sequential else base) for k in (
            range(1, self.req.looks + 1) if spec.sequential else [self.req.looks])]
        problem = self._precheck(rep, metric, arm, spec)
        if problem is not None:
            for key in keys:
                self.item_error(key, problem)
            return
        data = self.looks_data(rep, metric, arm, spec)
        if spec.sequential:
            try:
                results = self.adapter.run_looks(spec.name, metric.kind, data, self.req.alpha, self.req.looks)
                if len(results) != len(data):
                    raise ValueError(f"harness: run_looks gave {len(results)} answers for {len(data)} looks")
            except Exception as e:  # noqa: BLE001
                results = [e] * len(data)
            for key, res in zip(keys, results):
                self.answer(key, res)
            return
        d = data[0]
        try:
            res = self.adapter.run(
                spec.name, metric.kind, d.treatment, d.control, d.treatment_cov, d.control_cov,
                self.req.alpha, d.look, self.req.looks,
            )
        except Exception as e:  # noqa: BLE001
            res = e
        self.answer(keys[0], res)


# ---------------------------------------------------------------------------------------------
# The process
# ---------------------------------------------------------------------------------------------


def _protocol_stdout() -> TextIO:
    """A private handle on the real stdout; fd 1 and sys.stdout then go to stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 16)


def read_streams(src: BinaryIO) -> Iterator[pa.ipc.RecordBatchStreamReader]:
    """Yields one reader per IPC stream until stdin ends cleanly between streams."""
    while head := src.peek(1):
        # Every stream starts with a message's 0xFFFFFFFF continuation marker (Arrow IPC since
        # format 0.15, what pyarrow and arrow-rs write). Bytes that do not are refused at once:
        # read as a legacy length prefix they could make the reader wait for data never sent.
        if len(head) >= 4 and head[:4] != IPC_CONTINUATION:
            raise FatalRequest(f"not an Arrow IPC stream: it starts with {head[:4].hex()}, not ffffffff")
        try:
            yield pa.ipc.open_stream(src)
        except (pa.ArrowInvalid, OSError) as e:
            raise FatalRequest(f"not an Arrow IPC stream: {e}") from None


def serve_streams(adapter: Adapter, src: BinaryIO, out: TextIO) -> None:
    """The request loop: one batch per stream, a `done` line and a flush after each."""
    for reader in read_streams(src):
        req = parse_request(reader.schema, adapter.tests)
        check_columns(reader.schema, req)
        try:
            table = reader.read_all()
        except (pa.ArrowInvalid, OSError) as e:  # a stream cut short raises OSError
            raise FatalRequest(f"batch {req.batch}: broken IPC stream: {e}") from None
        runner = BatchRunner(adapter, req, table, out)
        n = runner.run(split_replications(table, req))
        out.write(json.dumps({"batch": req.batch, "done": True, "items": n}) + "\n")
        out.flush()


def serve(adapter: Adapter, src: BinaryIO | None = None) -> None:
    """Runs an engine process: handshake, batches until stdin closes, exit 0; `fatal` and exit 2
    on a bad request, exit 1 on a fault of the harness itself."""
    out = _protocol_stdout()
    out.write(json.dumps(adapter.handshake()) + "\n")
    out.flush()
    src = src or sys.stdin.buffer
    code = 0
    try:
        serve_streams(adapter, src, out)
    except FatalRequest as e:
        code = 2
        out.write(json.dumps({"fatal": str(e)}) + "\n")
    except Exception as e:  # noqa: BLE001 - a harness bug must still end with a fatal line
        code = 1
        out.write(json.dumps({"fatal": f"engine fault: {type(e).__name__}: {e}"}) + "\n")
    out.flush()
    sys.exit(code)
