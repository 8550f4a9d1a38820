"""A test engine that reports what it was handed, and fails on purpose on sentinel values.

echo / echo_sequential answer estimate = treatment rows seen, ci_low = control rows seen,
ci_high = the last treatment value, p_value = the last control value (the tests send each group's
arrival index as its values, so these show the look slicing and the row order). A first treatment
value of 666 raises, 777 returns NaN, 888 prints to stdout (which must not reach the protocol).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from abforge_engine import Adapter, TestSpec, serve  # noqa: E402


class ProbeAdapter(Adapter):
    engine = "probe"
    version = "0"
    tests = (
        TestSpec("echo"),
        TestSpec("echo_sequential", sequential=True),
        TestSpec("echo_cov", needs_covariate=True),
        TestSpec("binary_only", kinds=("binary",)),
    )

    def run(self, test, metric_kind, treatment_values, control_values, treatment_cov,
            control_cov, alpha, look, looks):
        first = treatment_values[0]
        if first == 666:
            raise ValueError("boom: sentinel 666")
        if first == 888:
            print("a chatty library line on stdout")
        est = float("nan") if first == 777 else float(len(treatment_values))
        if test == "echo_cov":
            return {"estimate": float(treatment_cov.sum()), "ci_low": float(control_cov.sum()),
                    "ci_high": None, "p_value": None, "reject": True}
        return {"estimate": est, "ci_low": float(len(control_values)),
                "ci_high": float(treatment_values[-1]), "p_value": float(control_values[-1]),
                "reject": look == looks}


if __name__ == "__main__":
    serve(ProbeAdapter())
