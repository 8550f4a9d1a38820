//! Reruns of a date whose blueprint changed, through the binary: more or fewer customers,
//! shards 1 → 3 → 1, a metric added and removed. After each sequence every layer — the
//! relational store's customers and results, the Parquet parts, bronze, silver, gold and the
//! decisions — equals, row for row, what a clean run of the final blueprint makes. On the
//! embedded backends, and on PostgreSQL + S3 + DynamoDB when the test services run.

mod common;
use common::backends::*;

/// The sequences of blueprints, each ended by the same final one, on one backend set.
fn sequences(make: &dyn Fn(&str) -> Option<Backends>) {
    let Some(clean_small) = make("cs") else {
        return;
    };
    let bps = tempfile::tempdir().unwrap();
    let big = variant(bps.path(), "big", 3_000, false);
    let small = variant(bps.path(), "small", 1_000, false);
    let wide = variant(bps.path(), "wide", 1_000, true);
    clean_small.run(&small);
    let want_small = clean_small.layers();
    assert!(
        want_small
            .iter()
            .any(|(l, v)| l == "customers" && v.starts_with("1000|1000|0|999"))
    );

    // Shrink: 3 000 then 1 000 customers.
    let b = make("shrink").unwrap();
    b.run(&big);
    b.run(&small);
    same(&b.layers(), &want_small, "3000 -> 1000");

    // A metric added, then removed.
    let b = make("metric").unwrap();
    b.run(&small);
    b.run(&wide);
    b.run(&small);
    same(&b.layers(), &want_small, "a metric added and removed");

    // Shards 1 -> 3 -> 1, the blueprint changing each time.
    let b = make("shards").unwrap();
    b.run(&wide);
    b.run_in_shards(&big, 3);
    b.run(&small);
    same(&b.layers(), &want_small, "shards 1 -> 3 -> 1");

    // Grow: 1 000 then 3 000 customers, in three shards, against a clean sharded run.
    let clean_big = make("cb").unwrap();
    clean_big.run_in_shards(&big, 3);
    let b = make("grow").unwrap();
    b.run(&small);
    b.run_in_shards(&big, 3);
    same(&b.layers(), &clean_big.layers(), "1000 -> 3000 in shards");
}

#[test]
fn reruns_with_a_changed_blueprint_equal_a_clean_run_on_the_embedded_backends() {
    sequences(&|_| Some(Backends::embedded()));
}

#[test]
fn reruns_with_a_changed_blueprint_equal_a_clean_run_on_postgres_s3_and_dynamodb() {
    sequences(&Backends::aws_like);
}
