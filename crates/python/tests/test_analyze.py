"""Analysis: the report of `abforge analyze --json` on the same data, from pyarrow, pandas
and polars; every bad input a ValueError or TypeError naming the parameter, as the CLI names
the flag."""

from __future__ import annotations

import math

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import abforge


@pytest.fixture(scope="module")
def generated(cli, examples, tmp_path_factory):
    """Per example: its blueprint, a Parquet file the CLI generated from it, and the CLI's
    analysis of that file."""
    out = {}
    folder = tmp_path_factory.mktemp("data")
    for name in ["conversion.toml", "pre_period_features.toml", "abn_cuped.toml"]:
        path = folder / name.replace(".toml", ".parquet")
        cli.run("generate", "--blueprint", str(examples / name), "-n", "40000", "-o", str(path))
        report = cli.json("analyze", "--input", str(path))
        out[name] = (abforge.Blueprint.from_toml(examples / name), path, report)
    return out


def test_pyarrow_pandas_and_polars_give_the_clis_report(generated):
    for name, (bp, path, report) in generated.items():
        table = pq.read_table(path)
        # The table carries its blueprint in its metadata, as the file does.
        assert abforge.analyze(table, name=str(path)).to_dict() == report, name
        # A DataFrame does not: the blueprint is given.
        frame = table.to_pandas()
        assert isinstance(frame, pd.DataFrame)
        got = abforge.analyze(frame, name=str(path), blueprint=bp).to_dict()
        assert got == report, name
        got = abforge.analyze(pl.read_parquet(path), name=str(path), blueprint=bp).to_dict()
        assert got == report, name


def test_judge_adds_the_truth_to_an_analysis(generated):
    bp, path, report = generated["conversion.toml"]
    frame = pq.read_table(path).to_pandas()
    plain = abforge.analyze(frame, name=str(path))
    assert all(d["outcome"] is None for d in plain.decisions())
    judged = plain.judge(bp)
    assert judged.to_dict() == report
    assert {d["outcome"] for d in judged.decisions()} <= {"correct", "type_i", "type_ii"}


def test_to_pandas_has_a_row_per_metric_and_test(generated):
    bp, path, report = generated["conversion.toml"]
    result = abforge.analyze(pq.read_table(path))
    df = result.to_pandas()
    assert list(df.columns[:4]) == ["metric", "control", "treatment", "test"]
    assert len(df) == len(result.decisions())
    assert set(df["metric"]) == {e["metric"] for e in report["metrics"]}
    assert df["primary"].sum() == len(report["metrics"])
    welch = abforge.analyze(pq.read_table(path), tests=["welch_t"]).to_pandas()
    assert set(welch["test"]) == {"welch_t"}
    assert len(welch) == len(report["metrics"])
    with pytest.raises(ValueError, match='tests "welch": no such test ran on this data'):
        abforge.analyze(pq.read_table(path), tests="welch")


def test_same_data_same_report():
    frame = pd.DataFrame(
        {
            "group": ["control", "treatment"] * 500,
            "revenue": [float(i % 17) + 0.5 * (i % 2) for i in range(1000)],
        }
    )
    a = abforge.analyze(frame, bootstrap=200, permutations=200, seed=3).to_dict()
    assert a == abforge.analyze(frame, bootstrap=200, permutations=200, seed=3).to_dict()
    assert a != abforge.analyze(frame, bootstrap=200, permutations=200, seed=4).to_dict()


# (CLI flags, the same as Python keyword arguments)
ERRORS = [
    (["--control", "nope"], {"control": "nope"}, "--control", "control"),
    (["--metric", "experiment_id"], {"metrics": "experiment_id"}, "--metric", "metrics"),
    (["--metric", "nope"], {"metrics": ["nope"]}, "--metric", "metrics"),
    (["--group-column", "arm"], {"group": "arm"}, "--group-column", "group"),
    (["--treatment", "control"], {"treatment": "control"}, "--treatment", "treatment"),
]


@pytest.mark.parametrize("flags,kwargs,flag,param", ERRORS, ids=[e[3] for e in ERRORS])
def test_bad_input_is_the_clis_error_naming_the_parameter(
    cli, generated, flags, kwargs, flag, param
):
    _, path, _ = generated["conversion.toml"]
    theirs = cli.error("analyze", "--input", str(path), *flags)
    assert theirs.startswith(f"error: {flag}"), theirs
    for data in [pq.read_table(path), pl.read_parquet(path)]:
        with pytest.raises(ValueError) as info:
            abforge.analyze(data, name=str(path), **kwargs)
        assert str(info.value) == theirs.removeprefix("error: ").replace(flag, param, 1)


def test_wrong_types_nulls_and_missing_groups():
    with pytest.raises(TypeError, match="data: expected a pandas or polars DataFrame"):
        abforge.analyze([1, 2, 3])
    with pytest.raises(TypeError, match="metrics: expected a str or a list of str"):
        abforge.analyze(pa.table({"group": ["control"], "x": [1.0]}), metrics=3)
    with pytest.raises(ValueError, match="alternative \"sideways\": expected one of"):
        abforge.analyze(pa.table({"group": ["control"], "x": [1.0]}), alternative="sideways")
    with pytest.raises(ValueError, match="^alpha 1.5: expected a number strictly between 0 and 1$"):
        abforge.analyze(pa.table({"group": ["control", "treatment"], "x": [1.0, 2.0]}), alpha=1.5)
    only_control = pd.DataFrame({"group": ["control"] * 10, "x": range(10)})
    with pytest.raises(ValueError, match="control"):
        abforge.analyze(only_control)
    words = pd.DataFrame({"group": ["control", "treatment"] * 5, "x": ["a"] * 10})
    with pytest.raises(ValueError, match="no numeric column"):
        abforge.analyze(words)
    with pytest.raises(ValueError, match="not numeric"):
        abforge.analyze(words, metrics="x")
    holes = pd.DataFrame({"group": ["control", "treatment"] * 5, "x": [1.0, math.nan] * 5})
    with pytest.raises(ValueError, match="x"):
        abforge.analyze(holes)
    nulls = pl.DataFrame({"group": ["control", "treatment"] * 5, "x": [1.0, None] * 5})
    with pytest.raises(ValueError, match="x"):
        abforge.analyze(nulls)
    with pytest.raises(ValueError, match="no rows"):
        abforge.analyze(pa.table({"group": pa.array([], pa.string()), "x": pa.array([], pa.float64())}))
