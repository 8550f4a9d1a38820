"""Power and calibration against the CLI's JSON; long calls release the GIL and stop on
Ctrl-C."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

import abforge

AA = """
id = "aa"
seed = 1
customers = 400
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
[metrics.revenue]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { lift = 0 }
"""

POWER = [
    (["t", "-d", "0.2", "--power", "0.8"], dict(test="t", effect_size=0.2, power=0.8)),
    (["t", "--diff", "1.5", "--sd", "10", "-n", "500"], dict(test="t", diff=1.5, sd=10, n=500)),
    (["t", "--sd", "3", "-n", "800", "--power", "0.9", "--alternative", "greater"],
     dict(test="t", sd=3, n=800, power=0.9, alternative="greater")),
    (["proportions", "--control", "0.1", "--treatment", "0.12", "--power", "0.8", "--ratio", "2"],
     dict(test="proportions", control=0.1, treatment=0.12, power=0.8, ratio=2)),
    (["proportions", "--control", "0.3", "-n", "1000", "--power", "0.8", "--alpha", "0.01"],
     dict(test="proportions", control=0.3, n=1000, power=0.8, alpha=0.01)),
    (["poisson", "--control", "2", "--treatment", "2.1", "-n", "3000"],
     dict(test="poisson", control=2, treatment=2.1, n=3000)),
    (["poisson", "--control", "2", "-n", "3000", "--power", "0.8"],
     dict(test="poisson", control=2, n=3000, power=0.8)),
]


@pytest.mark.parametrize("flags,kwargs", POWER, ids=[" ".join(f) for f, _ in POWER])
def test_power_is_the_clis(cli, flags, kwargs):
    assert abforge.power(**kwargs) == cli.json("power", *flags)


def test_power_errors_name_the_parameter(cli):
    theirs = cli.error("power", "t", "-d", "0.2", "--power", "0.01")
    with pytest.raises(ValueError) as info:
        abforge.power("t", effect_size=0.2, power=0.01)
    assert str(info.value) == theirs.removeprefix("error: ").replace("--power", "power")
    theirs = cli.error("power", "proportions", "--control", "1.5", "--treatment", "0.2", "-n", "9")
    with pytest.raises(ValueError) as info:
        abforge.power("proportions", control=1.5, treatment=0.2, n=9)
    assert str(info.value) == theirs.removeprefix("error: ").replace("--control", "control")
    with pytest.raises(ValueError, match="give exactly two of: the effect, n and power"):
        abforge.power("t", effect_size=0.2, n=100, power=0.8)
    with pytest.raises(ValueError, match='test "z": expected one of "t", "proportions", "poisson"'):
        abforge.power("z", effect_size=0.2, n=100)
    with pytest.raises(ValueError, match="control: the poisson test needs"):
        abforge.power("poisson", treatment=2.0, n=100)
    with pytest.raises(ValueError, match="sd: not a parameter of the proportions test"):
        abforge.power("proportions", control=0.1, n=100, power=0.8, sd=1)
    with pytest.raises(ValueError, match="^n -5: expected a positive number$"):
        abforge.power("t", effect_size=0.2, n=-5)


def test_calibrate_is_the_clis(cli, examples, tmp_path):
    path = tmp_path / "aa.toml"
    path.write_text(AA)
    bp = abforge.Blueprint.from_toml(path)
    flags = ["--blueprint", str(path), "-r", "300", "--seed", "5", "--tests", "welch_t,mann_whitney_u,bayes"]
    ours = abforge.calibrate(bp, 300, seed=5, tests=["welch_t", "mann_whitney_u", "bayes"])
    assert ours.to_dict() == cli.json("calibrate", *flags)
    again = abforge.calibrate(bp, 300, seed=5, tests=["welch_t", "mann_whitney_u", "bayes"])
    assert again.to_dict() == ours.to_dict()
    df = ours.to_pandas()
    assert len(df) == 3 and {"test", "rejection_rate", "confusion.type_i"} <= set(df.columns)
    assert ours.svg().lstrip().startswith("<svg")
    with pytest.raises(ValueError, match='tests "wlech"'):
        abforge.calibrate(bp, 10, tests="wlech")
    with pytest.raises(ValueError, match="^replications"):
        abforge.calibrate(bp, 0)


def _counting_thread():
    """A thread counting as fast as it can until told to stop: (its count, stop)."""
    count = [0]
    stop = threading.Event()

    def run():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return count, stop, t


@pytest.mark.parametrize("call", ["generate", "analyze", "calibrate"])
def test_long_calls_let_other_threads_run(call):
    bp = abforge.Blueprint.from_toml(AA)
    table = bp.generate(customers=2_000_000) if call == "analyze" else None
    work = {
        "generate": lambda: bp.generate(customers=3_000_000),
        "analyze": lambda: abforge.analyze(table),
        "calibrate": lambda: abforge.calibrate(bp, 3000),
    }[call]
    count, stop, t = _counting_thread()
    time.sleep(0.05)
    before = count[0]
    # With the GIL held for the whole call, the counter would not move (CPython switches
    # threads only between bytecodes of the thread holding the GIL).
    work()
    during = count[0] - before
    stop.set()
    t.join()
    assert during > 1000, during


def test_ctrl_c_interrupts_a_long_call():
    bp = abforge.Blueprint.from_toml(AA)
    # Ten million replications would take many minutes: only an interruption ends it soon.
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        abforge.calibrate(bp, 10_000_000)
    timer.join()
    # The package still works afterwards.
    assert abforge.calibrate(bp, 50).replications == 50
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        bp.generate(customers=10_000_000_000)
    timer.join()
