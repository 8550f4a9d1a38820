"""Generation: the rows of `abforge generate`, deterministic whatever the sharding, handed to
pyarrow (and on to polars) without a copy."""

from __future__ import annotations

import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import abforge


@pytest.fixture(scope="module")
def bp(examples):
    return abforge.Blueprint.from_toml(examples / "correlated_metrics.toml")


def test_rows_equal_the_clis_parquet(cli, examples, tmp_path):
    for name in ["correlated_metrics.toml", "clustered_stores.toml", "novelty_effect.toml"]:
        out = tmp_path / "data.parquet"
        cli.run("generate", "--blueprint", str(examples / name), "-n", "150000", "-o", str(out))
        ours = abforge.Blueprint.from_toml(examples / name).generate(customers=150_000)
        theirs = pq.read_table(out)
        assert ours.column_names == theirs.column_names, name
        for col in ours.column_names:
            a, b = ours.column(col), theirs.column(col)
            if pa.types.is_dictionary(a.type):
                a = a.cast(pa.string())
            if pa.types.is_dictionary(b.type):
                b = b.cast(pa.string())
            assert a.cast(b.type).equals(b), (name, col)


def test_same_seed_same_rows_whatever_the_sharding(bp):
    whole = bp.generate(customers=300_000, seed=11)
    assert whole.num_rows == 300_000
    assert whole.equals(bp.generate(customers=300_000, seed=11))
    assert not whole.equals(bp.generate(customers=300_000, seed=12))
    parts = [bp.generate(customers=300_000, seed=11, shard=(k, 3)) for k in range(3)]
    assert pa.concat_tables(parts).equals(whole)
    assert bp.generate(customers=300_000, seed=11, shard="1/3").equals(parts[1])
    stream = bp.generate_batches(customers=300_000, seed=11)
    assert isinstance(stream, pa.RecordBatchReader)
    assert stream.read_all().equals(whole)


def test_the_schema_carries_the_resolved_blueprint(bp):
    t = bp.generate(customers=1000)
    meta = json.loads(t.schema.metadata[b"abforge.blueprint"])
    assert meta["id"] == bp.id
    assert meta["customers"] == 1000
    assert t.column("customer_id").to_pylist()[:3] == [0, 1, 2]


def test_no_copy_into_pyarrow_or_polars(bp):
    before = pa.total_allocated_bytes()
    t = bp.generate(customers=1_000_000)
    # The buffers are Rust's, imported through the C data interface: pyarrow's own pool
    # allocated (nearly) nothing for them.
    assert t.nbytes > 40_000_000
    assert pa.total_allocated_bytes() - before < t.nbytes // 100
    # polars takes the same buffers: handed back to pyarrow, the chunks' values live at the
    # same addresses.
    col = t.column("basket_value")
    assert col.num_chunks > 1
    frame = pl.from_arrow(t, rechunk=False)
    assert frame.get_column("basket_value").n_chunks() == col.num_chunks
    back = frame.to_arrow().column("basket_value")
    for k in (0, col.num_chunks - 1):
        assert back.chunk(k).buffers()[1].address == col.chunk(k).buffers()[1].address


def test_the_batches_stream_keeps_memory_bounded(bp):
    reader = bp.generate_batches(customers=5_000_000)
    before = pa.total_allocated_bytes()
    rows = 0
    for batch in reader:
        rows += batch.num_rows
        assert batch.num_rows <= 65_536
    assert rows == 5_000_000
    assert pa.total_allocated_bytes() - before < 1_000_000
