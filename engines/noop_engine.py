"""An engine that computes nothing: every item gets the same fixed answer.

It measures what the protocol itself costs per replication (Arrow decoding, slicing into looks,
the per-item call, JSON lines), with no statistics in the way.

Tests:
  noop             any metric kind; answers the final look only.
  noop_sequential  any metric kind; answers every look.
Both answer estimate 0, ci [-1, 1], p_value 1, reject false (estimand: difference).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from abforge_engine import Adapter, TestSpec, serve  # noqa: E402

FIXED = {"estimate": 0.0, "ci_low": -1.0, "ci_high": 1.0, "p_value": 1.0, "reject": False}


class NoopAdapter(Adapter):
    engine = "noop"
    version = "1"
    tests = (TestSpec("noop"), TestSpec("noop_sequential", sequential=True))

    def run(self, test, metric_kind, treatment_values, control_values, treatment_cov,
            control_cov, alpha, look, looks):
        return FIXED


if __name__ == "__main__":
    serve(NoopAdapter())
