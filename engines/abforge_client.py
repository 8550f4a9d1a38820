"""The abforge side of the engine protocol, in Python: what the tests and bench.py drive engines
with, and a reference for the Rust client (docs/engine-protocol.md).

    with EngineProcess([python, "engines/scipy_engine.py"]) as eng:
        eng.handshake                      # the engine's first line, parsed
        lines, done = eng.batch(make_batch(...))
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Group:
    """One group's rows of one replication: metric name -> values (arrival order)."""

    name: str
    values: dict[str, np.ndarray]


def make_table(replications: dict[int, list[Group]]) -> pa.Table:
    """The request's columns: replication (uint64), group (utf8), one float64 per metric/covariate.

    Rows go replication by replication, groups interleaved as they are listed (a real simulation
    interleaves arrivals; the engine only keeps each group's own order)."""
    reps, groups, cols = [], [], {}
    for rep, gs in replications.items():
        for g in gs:
            n = len(next(iter(g.values.values())))
            reps.append(np.full(n, rep, dtype=np.uint64))
            groups.extend([g.name] * n)
            for k, v in g.values.items():
                cols.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
    data = {"replication": pa.array(np.concatenate(reps), pa.uint64()), "group": pa.array(groups, pa.utf8())}
    data.update({k: pa.array(np.concatenate(v), pa.float64()) for k, v in cols.items()})
    return pa.table(data)


def request(batch: int, metrics: Sequence[dict[str, Any]], tests: Sequence[str], *, alpha: float = 0.05,
            control: str = "control", arms: Sequence[str] = ("treatment",), looks: int = 1) -> dict[str, Any]:
    return {"batch": batch, "alpha": alpha, "control": control, "arms": list(arms), "looks": looks,
            "metrics": list(metrics), "tests": list(tests)}


def encode(table: pa.Table, req: dict[str, Any] | bytes | None) -> bytes:
    """One IPC stream: schema (with the request in its metadata), record batches, end marker."""
    meta = None
    if req is not None:
        meta = {b"abforge.request": req if isinstance(req, bytes) else json.dumps(req).encode()}
    schema = table.schema.with_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as w:
        w.write_table(table.replace_schema_metadata(meta), max_chunksize=64 * 1024)
    return sink.getvalue().to_pybytes()


class EngineProcess:
    """A running engine: started as abforge starts it (`sh -c CMD` from the repo root)."""

    def __init__(self, cmd: str | Sequence[str]):
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        self.proc = subprocess.Popen(
            list(cmd), cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.handshake = json.loads(self.readline())

    def readline(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError(f"engine closed stdout (exit {self.proc.poll()})")
        return line.decode()

    def send(self, stream: bytes) -> None:
        self.proc.stdin.write(stream)
        self.proc.stdin.flush()

    def batch(self, stream: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Sends one stream; returns its item lines and its `done` line (or the `fatal` line)."""
        self.send(stream)
        lines = []
        while True:
            obj = json.loads(self.readline())
            if obj.get("done") or "fatal" in obj:
                return lines, obj
            lines.append(obj)

    def close(self, timeout: float = 60) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        return self.proc.wait(timeout)

    def __enter__(self) -> "EngineProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            try:
                self.close(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
