"""Blueprints: round trips, the truth against `abforge truth --json`, and every problem of an
invalid blueprint against `abforge blueprint check`."""

from __future__ import annotations

import datetime
import pickle

import pytest

import abforge

SMALL = """
id = "small"
seed = 7
customers = 1000
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
[metrics.items]
distribution = "poisson"
control = { lambda = 2.0 }
treatment = { lift = 0.10 }
"""

# Each a blueprint with several problems, of the parser, the validator and the resolver.
BAD = {
    "many": """
id = "Bad Id"
seed = 1
customers = 0
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = -1
[metrics.items]
distribution = "poison"
control = { lambda = -2 }
""",
    "syntax": "id = \n",
    "unknown_key": SMALL + "\ncolour = 'blue'\n",
    "missing": 'id = "x"\n',
    "impossible_lift": SMALL.replace("lift = 0.10", "lift = -2.0"),
}


def test_toml_round_trips_through_text_dict_and_pickle(examples):
    for path in sorted(examples.glob("*.toml")):
        bp = abforge.Blueprint.from_toml(path)
        assert abforge.Blueprint.from_toml(str(path)) == bp
        assert abforge.Blueprint.from_toml(bp.to_toml()) == bp, path.name
        assert abforge.Blueprint.from_dict(bp.to_dict()) == bp, path.name
        assert pickle.loads(pickle.dumps(bp)) == bp
        resolved = bp.resolve()
        assert abforge.Blueprint.from_toml(resolved.to_toml()) == resolved


def test_from_dict_takes_dates_and_the_fields_read_back():
    d = abforge.Blueprint.from_toml(SMALL).to_dict()
    d["start_date"] = datetime.date(2026, 11, 23)
    bp = abforge.Blueprint.from_dict(d)
    assert bp == abforge.Blueprint.from_toml(SMALL)
    assert (bp.id, bp.seed, bp.customers, bp.control) == ("small", 7, 1000, "control")
    assert bp.groups == [("control", 1.0), ("treatment", 1.0)]
    assert bp.metrics == ["items"]
    assert bp.columns[:3] == ["customer_id", "experiment_id", "group"]


def test_truth_is_the_cli_truth_json(cli, examples):
    for path in sorted(examples.glob("*.toml")):
        bp = abforge.Blueprint.from_toml(path)
        assert bp.truth() == cli.json("truth", "--blueprint", str(path)), path.name


def test_truth_of_a_lift():
    truth = abforge.Blueprint.from_toml(SMALL).truth()
    effect = truth["metrics"][0]["effects"][0]
    assert effect["abs_effect"] == pytest.approx(0.2, abs=1e-12)
    assert truth["blueprint"]["metrics"]["items"]["treatment"] == {"lambda": 2.2}


@pytest.mark.parametrize("name", sorted(BAD))
def test_every_problem_is_the_clis(cli, tmp_path, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(BAD[name])
    with pytest.raises(abforge.BlueprintError) as info:
        abforge.Blueprint.from_toml(BAD[name]).resolve()
    err = info.value
    assert isinstance(err, ValueError)
    assert err.problems, "at least one problem"
    assert all(isinstance(p, tuple) and len(p) == 2 for p in err.problems)
    stderr = cli.error("blueprint", "check", str(path))
    # The CLI prints the file, then the same error: every problem, each `path: message`.
    assert stderr.startswith(f"{path}: {err}\n"), (stderr, str(err))
    listed = [f"  - {p}: {m}" if p else f"  - {m}" for p, m in err.problems]
    assert str(err).splitlines()[1:] == "\n".join(listed).splitlines()


def test_the_many_problems_have_their_paths():
    with pytest.raises(abforge.BlueprintError) as info:
        abforge.Blueprint.from_toml(BAD["many"])
    paths = [p for p, _ in info.value.problems]
    assert {"id", "customers", "groups.treatment", "metrics.items.distribution"} <= set(paths)
    message = dict(info.value.problems)["metrics.items.distribution"]
    assert "poisson" in message, "suggests the distribution meant"


def test_wrong_types_and_overrides_raise_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="from_dict: expected a dict, not list"):
        abforge.Blueprint.from_dict([1, 2])
    with pytest.raises(TypeError, match="from_toml: expected a path or the TOML text"):
        abforge.Blueprint.from_toml(3)
    with pytest.raises(OSError, match="cannot read blueprint"):
        abforge.Blueprint.from_toml(tmp_path / "missing.toml")
    with pytest.raises(OSError, match="cannot read blueprint"):
        abforge.Blueprint.from_toml(str(tmp_path / "missing.toml"))
    bp = abforge.Blueprint.from_toml(SMALL)
    with pytest.raises(abforge.BlueprintError) as info:
        bp.generate(customers=0)
    assert [p for p, _ in info.value.problems] == ["customers"]
    with pytest.raises(OverflowError):
        bp.generate(seed=-1)
    with pytest.raises(ValueError, match="shard"):
        bp.generate(shard="3/2")
    with pytest.raises(TypeError, match="shard"):
        bp.generate(shard=1.5)
