"""Reads every table of an abforge lake with two other engines — the Python deltalake package
(its own SQL engine, QueryBuilder) and polars (read_delta) — and prints, as JSON, each table's
version, partition columns, row count and a few sums, for crates/cli/tests/lake.rs to compare
with what abforge itself answers.

    python lake_interop.py LAKE_ROOT_URL [S3_ENDPOINT]

LAKE_ROOT_URL is the folder holding lake/ (file:///… or s3://bucket/prefix); with an S3
endpoint the AWS_* variables give the credentials and region.
"""

import json
import os
import sys

import deltalake
import polars as pl

# Per table: the sums to compare (SQL expressions over the table).
SUMS = {
    "bronze/customers": ["SUM(num_diff_items)", "SUM(total_purchase_price)"],
    "silver/customers": ["SUM(num_diff_items)", "SUM(total_purchase_price)"],
    "silver/quarantine": [],
    "gold/group_daily": ["SUM(n)", 'SUM("sum")', "SUM(sum_sq)"],
    "gold/group_quantiles": ["SUM(n)", "SUM(p)", "SUM(value)"],
    "gold/ab_results": ["SUM(p_value)", "SUM(estimate)"],
}


def main() -> None:
    root = sys.argv[1].rstrip("/")
    options = {}
    if len(sys.argv) > 2:
        options = {
            "AWS_ENDPOINT_URL": sys.argv[2],
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
            "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        }
    out = {}
    for path, sums in SUMS.items():
        url = f"{root}/lake/{path}"
        dt = deltalake.DeltaTable(url, storage_options=options)
        # deltalake's own engine.
        exprs = ", ".join(["COUNT(*)"] + sums)
        reader = deltalake.QueryBuilder().register("t", dt).execute(f"SELECT {exprs} FROM t")
        rows = [
            [col[0].as_py() for col in batch.columns]
            for batch in reader
            if batch.num_rows > 0
        ]
        # polars, reading the same version.
        df = pl.read_delta(url, version=dt.version(), storage_options=options)
        polars_sums = []
        for s in sums:
            col = s[len("SUM(") : -1].strip('"')
            polars_sums.append(df[col].sum() if df.height else None)
        out[path] = {
            "version": dt.version(),
            "partition_columns": dt.metadata().partition_columns,
            "protocol": [dt.protocol().min_reader_version, dt.protocol().min_writer_version],
            "deltalake": {"count": rows[0][0], "sums": rows[0][1:]},
            "polars": {"count": df.height, "sums": polars_sums},
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
