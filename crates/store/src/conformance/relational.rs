//! The conformance suite every relational store backend must pass (feature `testing`).
//!
//! Each check takes a store and a prefix for the run ids it makes, and panics on the first
//! failure. [`run_all`] runs every check with its own run ids (under a prefix unique to the
//! call) and deletes the runs it made, so it can run against a database other runs use; the
//! columns it adds to `customers` stay (`region`, `device`, `purchase_date`,
//! `num_diff_items`, `total_purchase_price`, and `conformance_extra`,
//! `conformance_conflict`), and so do the tick records of its schedules (named after the
//! prefix); its locks are released. The crate's integration tests run it against a SQLite file and
//! (when `ABFORGE_TEST_DATABASE_URL` is set) a fresh PostgreSQL database.
//!
//! The customers are made here, deterministically, in the generator's shape: `customer_id`
//! Int64, `experiment_id`, `group` and `region` dictionaries of Utf8, `device` plain Utf8,
//! `purchase_date` Date32, `num_diff_items` Int64, `total_purchase_price` Float64.

use crate::Error;
use crate::relational::{LoadSpec, RelationalStore, ResultRow, RunRecord, RunStatus};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int16Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, Date32Array, DictionaryArray, Float64Array, Int16Array, Int64Array,
    RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{NaiveDate, TimeZone, Utc};
use futures_util::StreamExt;
use futures_util::future::join_all;
use std::ops::Range;
use std::sync::Arc;

/// The experiment of every run the suite makes.
const EXPERIMENT: &str = "conformance";
const GROUPS: [&str; 2] = ["control", "treatment"];
const REGIONS: [&str; 3] = ["NAM", "EUR", "ASA"];
const DEVICES: [&str; 2] = ["MOBILE", "COMPUTER"];

/// Runs every check, each on run ids of its own under a prefix unique to this call, then
/// deletes those runs.
///
/// The migrations check opens the store's [`url`](RelationalStore::url) again: it must open
/// without a password (a SQLite file, a PostgreSQL server that trusts the test user).
pub async fn run_all(store: &dyn RelationalStore) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos();
    let p = format!("conf-{}-{nanos}-", std::process::id());
    check_answers(store).await;
    migrations_are_idempotent(store).await;
    runs_round_trip(store, &p).await;
    load_round_trip(store, &p).await;
    dropped_and_aborted_loads_leave_nothing(store, &p).await;
    reruns_replace(store, &p).await;
    whole_run_loads_replace_every_row(store, &p).await;
    shards_equal_one_load(store, &p).await;
    concurrent_shards(store, &p).await;
    new_columns_are_added(store, &p).await;
    conflicting_types_are_refused(store, &p).await;
    ids_outside_the_range_are_refused(store, &p).await;
    results_replace(store, &p).await;
    delete_run_removes_everything(store, &p).await;
    odd_run_ids(store, &p).await;
    super::locks::run_all(store, store, &p).await;
    for run in store.runs(Some(EXPERIMENT)).await.expect("runs") {
        if run.run_id.starts_with(&p) {
            store.delete_run(&run.run_id).await.expect("delete run");
        }
    }
    // Runs loaded without a runs row.
    for suffix in LOADED_RUNS {
        store
            .delete_run(&format!("{p}{suffix}"))
            .await
            .expect("delete run");
    }
}

/// The run ids (after the prefix) the checks load customers into.
const LOADED_RUNS: &[&str] = &[
    "round-trip",
    "aborted",
    "rerun",
    "shrunk",
    "whole",
    "sharded",
    "cut",
    "concurrent",
    "extra",
    "conflict",
    "outside",
];

/// The generator-shaped schema, plus `extra` Float64 columns.
pub fn customers_schema(extra: &[&str]) -> SchemaRef {
    let dict = DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8));
    let mut fields = vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("experiment_id", dict.clone(), false),
        Field::new("group", dict.clone(), false),
        Field::new("region", dict, false),
        Field::new("device", DataType::Utf8, false),
        Field::new("purchase_date", DataType::Date32, false),
        Field::new("num_diff_items", DataType::Int64, false),
        Field::new("total_purchase_price", DataType::Float64, false),
    ];
    fields.extend(
        extra
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, false)),
    );
    Arc::new(Schema::new(fields))
}

/// A stateless mix of (salt, id, column) into 64 bits (splitmix64's finaliser).
fn mix(salt: u64, id: i64, column: u64) -> u64 {
    let mut z = salt
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add((id as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9))
        .wrapping_add(column.wrapping_mul(0x94d0_49bb_1331_11eb));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The customers with ids in `ids`, their values drawn from `salt`, in `schema` (from
/// [`customers_schema`]).
pub fn customers(schema: &SchemaRef, ids: Range<i64>, salt: u64) -> RecordBatch {
    let n = (ids.end - ids.start).max(0) as usize;
    let pick = |col: u64, k: usize| -> Int16Array {
        ids.clone()
            .map(|i| (mix(salt, i, col) % k as u64) as i16)
            .collect()
    };
    let dict = |keys: Int16Array, values: &[&str]| -> ArrayRef {
        let values: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        Arc::new(DictionaryArray::<Int16Type>::try_new(keys, values).expect("keys in range"))
    };
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(ids.clone())),
        dict(Int16Array::from(vec![0; n]), &[EXPERIMENT]),
        dict(pick(1, GROUPS.len()), &GROUPS),
        dict(pick(2, REGIONS.len()), &REGIONS),
        Arc::new(StringArray::from_iter_values(ids.clone().map(|i| {
            DEVICES[(mix(salt, i, 3) % DEVICES.len() as u64) as usize]
        }))),
        Arc::new(Date32Array::from_iter_values(
            ids.clone().map(|i| 20_780 + (mix(salt, i, 4) % 7) as i32),
        )),
        Arc::new(Int64Array::from_iter_values(
            ids.clone().map(|i| 1 + (mix(salt, i, 5) % 9) as i64),
        )),
        Arc::new(Float64Array::from_iter_values(ids.clone().map(|i| {
            (mix(salt, i, 6) >> 11) as f64 / (1u64 << 53) as f64 * 100.0
        }))),
    ];
    for k in 8..schema.fields().len() {
        cols.push(Arc::new(Float64Array::from_iter_values(
            ids.clone()
                .map(|i| (mix(salt, i, k as u64) % 1000) as f64 / 8.0),
        )));
    }
    RecordBatch::try_new(Arc::clone(schema), cols).expect("columns match the schema")
}

/// A value of a table cell, for comparisons.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// A string.
    Text(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A date (days since 1970-01-01).
    Date(i32),
}

/// The rows of batches as cells (strings of any kind, Int64, Float64, Date32).
pub fn rows_of(batches: &[RecordBatch]) -> Vec<Vec<Cell>> {
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<Box<dyn Fn(usize) -> Cell + '_>> = b
            .columns()
            .iter()
            .map(|a| -> Box<dyn Fn(usize) -> Cell + '_> {
                match a.data_type() {
                    DataType::Utf8 => {
                        let s = a.as_string::<i32>();
                        Box::new(move |i| {
                            if s.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Text(s.value(i).to_string())
                            }
                        })
                    }
                    DataType::Dictionary(_, _) => {
                        let d = a.as_any_dictionary();
                        let keys = d.normalized_keys();
                        let values = d.values().as_string::<i32>().clone();
                        Box::new(move |i| {
                            if d.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Text(values.value(keys[i]).to_string())
                            }
                        })
                    }
                    DataType::Int64 => {
                        let v = a.as_primitive::<Int64Type>();
                        Box::new(move |i| {
                            if v.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Int(v.value(i))
                            }
                        })
                    }
                    DataType::Float64 => {
                        let v = a.as_primitive::<Float64Type>();
                        Box::new(move |i| {
                            if v.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Float(v.value(i))
                            }
                        })
                    }
                    DataType::Date32 => {
                        let v = a.as_primitive::<Date32Type>();
                        Box::new(move |i| {
                            if v.is_null(i) {
                                Cell::Null
                            } else {
                                Cell::Date(v.value(i))
                            }
                        })
                    }
                    other => panic!("unexpected column type {other}"),
                }
            })
            .collect();
        for i in 0..b.num_rows() {
            out.push(cols.iter().map(|c| c(i)).collect());
        }
    }
    out
}

fn spec(run_id: &str, schema: &SchemaRef, ids: Range<u64>) -> LoadSpec {
    LoadSpec {
        experiment_id: EXPERIMENT.into(),
        run_id: run_id.into(),
        schema: Arc::clone(schema),
        ids,
        whole_run: false,
    }
}

/// The batches of a load of `ids` in batches of `batch` rows (the last one shorter).
fn batches(schema: &SchemaRef, ids: Range<u64>, salt: u64, batch: u64) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut at = ids.start;
    while at < ids.end {
        let to = (at + batch).min(ids.end);
        out.push(customers(schema, at as i64..to as i64, salt));
        at = to;
    }
    out
}

/// Writes `batches` into a new load and commits it; checks the rows it reports.
async fn load(store: &dyn RelationalStore, spec: LoadSpec, batches: &[RecordBatch]) {
    let what = format!("load of run {} ids {:?}", spec.run_id, spec.ids);
    let mut l = store.begin_load(spec).await.expect("begin load");
    for b in batches {
        l.write(b)
            .await
            .unwrap_or_else(|e| panic!("{what}: write: {e}"));
    }
    let rows = l
        .commit()
        .await
        .unwrap_or_else(|e| panic!("{what}: commit: {e}"));
    let want: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, want as u64, "{what}: rows committed");
}

/// Every batch a scan returns (each at most `batch_rows` long, in the scan's schema).
async fn scan(
    store: &dyn RelationalStore,
    run_id: &str,
    schema: &SchemaRef,
    batch_rows: usize,
) -> Vec<RecordBatch> {
    let mut stream = store
        .scan_customers(run_id, Arc::clone(schema), batch_rows)
        .await
        .expect("scan");
    let mut out = Vec::new();
    while let Some(b) = stream.next().await {
        let b = b.unwrap_or_else(|e| panic!("scan of {run_id}: {e}"));
        assert!(
            b.num_rows() <= batch_rows && b.num_rows() > 0,
            "batch of {}",
            b.num_rows()
        );
        for (f, want) in b.schema().fields().iter().zip(schema.fields()) {
            assert_eq!(f.name(), want.name());
            let t = match want.data_type() {
                DataType::Dictionary(_, v) => (**v).clone(),
                t => t.clone(),
            };
            assert_eq!(f.data_type(), &t, "{}: strings come back as Utf8", f.name());
        }
        out.push(b);
    }
    out
}

/// The rows of a run, read back in batches of 1000.
async fn stored(store: &dyn RelationalStore, run_id: &str, schema: &SchemaRef) -> Vec<Vec<Cell>> {
    rows_of(&scan(store, run_id, schema, 1000).await)
}

/// The readiness check passes, and the URL has no password.
pub async fn check_answers(store: &dyn RelationalStore) {
    store.check().await.expect("the store answers");
    assert!(matches!(store.backend(), "sqlite" | "postgres"));
    let url = store.url();
    assert!(url.starts_with(store.backend()), "{url}");
    assert!(!url.contains("password"), "{url}");
}

/// The schema version is at least 1 and the same after the store is opened again (twice,
/// concurrently).
pub async fn migrations_are_idempotent(store: &dyn RelationalStore) {
    let v = store.schema_version().await.expect("schema version");
    assert!(v >= 1, "schema version {v}");
    let url = store.url();
    let again = join_all((0..2).map(|_| crate::relational::open(&url))).await;
    for s in again {
        let s = s.unwrap_or_else(|e| panic!("open {url} again: {e}"));
        assert_eq!(s.schema_version().await.expect("schema version"), v);
    }
    assert_eq!(store.schema_version().await.expect("schema version"), v);
}

fn run_record(run_id: &str, day: u32, status: RunStatus) -> RunRecord {
    let started = Utc
        .with_ymd_and_hms(2026, 11, day, 8, 0, 0)
        .single()
        .expect("a time")
        + chrono::Duration::microseconds(123_456);
    RunRecord {
        run_id: run_id.into(),
        experiment_id: EXPERIMENT.into(),
        run_date: NaiveDate::from_ymd_opt(2026, 11, day).expect("a date"),
        blueprint_hash: "ab".repeat(32),
        // Keys out of alphabetical order: they must come back in this order.
        blueprint: serde_json::from_str(
            r#"{"id":"conformance","seed":3,"groups":{"treatment":0.5,"control":0.5},"a":[1,2.5,"x",null,true]}"#,
        )
        .expect("JSON"),
        status,
        started_at: started,
        finished_at: (status != RunStatus::Running)
            .then(|| started + chrono::Duration::milliseconds(1500)),
        rows: (status == RunStatus::Succeeded).then_some(200_000),
    }
}

/// put_run inserts and replaces; run and runs return what was put (timestamps to the
/// microsecond, the blueprint's keys in order), newest run date first.
pub async fn runs_round_trip(store: &dyn RelationalStore, p: &str) {
    let a = run_record(&format!("{p}run-a"), 23, RunStatus::Running);
    let b = run_record(&format!("{p}run-b"), 30, RunStatus::Failed);
    assert!(store.run(&a.run_id).await.expect("run").is_none());
    store.put_run(&a).await.expect("put run");
    store.put_run(&b).await.expect("put run");
    let got = store.run(&a.run_id).await.expect("run").expect("present");
    assert_eq!(got, a);
    assert_eq!(
        serde_json::to_string(&got.blueprint).expect("JSON"),
        serde_json::to_string(&a.blueprint).expect("JSON"),
        "the blueprint's keys keep their order"
    );
    let done = run_record(&a.run_id, 23, RunStatus::Succeeded);
    store.put_run(&done).await.expect("put run again");
    assert_eq!(store.run(&a.run_id).await.expect("run"), Some(done.clone()));
    let mine: Vec<RunRecord> = store
        .runs(Some(EXPERIMENT))
        .await
        .expect("runs")
        .into_iter()
        .filter(|r| r.run_id.starts_with(p))
        .collect();
    assert_eq!(mine, [b.clone(), done.clone()], "newest run date first");
    let all = store.runs(None).await.expect("runs");
    assert!(all.iter().any(|r| r.run_id == b.run_id));
    assert!(
        store
            .runs(Some("conformance-none"))
            .await
            .expect("runs")
            .is_empty()
    );
}

/// What a load writes comes back from a scan, in `customer_id` order, in batches of the size
/// asked; count_customers counts it; a run without customers scans empty.
pub async fn load_round_trip(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}round-trip");
    let schema = customers_schema(&[]);
    // Batches of uneven sizes, written out of order: the scan sorts by customer_id.
    let mut written = batches(&schema, 0..2_500, 1, 700);
    written.swap(0, 2);
    load(store, spec(&run, &schema, 0..2_500), &written).await;
    assert_eq!(store.count_customers(&run).await.expect("count"), 2_500);
    let want = rows_of(&batches(&schema, 0..2_500, 1, 2_500));
    for batch_rows in [1000, 333, 5000] {
        let got = rows_of(&scan(store, &run, &schema, batch_rows).await);
        assert_eq!(got.len(), want.len());
        assert!(
            got == want,
            "a scan in batches of {batch_rows} returns what was written"
        );
        assert!(got.iter().flatten().all(|c| *c != Cell::Null), "no NULLs");
    }
    // A subset of the columns, in another order; the scan keeps the schema's metadata.
    let sub = Arc::new(
        Schema::new(vec![
            Field::new("total_purchase_price", DataType::Float64, false),
            Field::new("customer_id", DataType::Int64, false),
            Field::new("run_id", DataType::Utf8, false),
        ])
        .with_metadata([("k".to_string(), "v".to_string())].into()),
    );
    let got = scan(store, &run, &sub, 10_000).await;
    assert_eq!(
        got[0].schema().metadata().get("k").map(String::as_str),
        Some("v")
    );
    let got = rows_of(&got);
    assert_eq!(got.len(), 2_500);
    for (i, row) in got.iter().enumerate() {
        assert_eq!(row[0], want[i][7]);
        assert_eq!(row[1], Cell::Int(i as i64));
        assert_eq!(row[2], Cell::Text(run.clone()));
    }
    let none = format!("{p}no-customers");
    assert_eq!(store.count_customers(&none).await.expect("count"), 0);
    assert!(scan(store, &none, &schema, 100).await.is_empty());
    // A column the table does not have is an error.
    let unknown = Arc::new(Schema::new(vec![Field::new(
        "conformance_no_such_column",
        DataType::Int64,
        true,
    )]));
    let e = store
        .scan_customers(&run, unknown, 10)
        .await
        .err()
        .expect("an unknown column");
    assert!(e.to_string().contains("conformance_no_such_column"), "{e}");
}

/// A load that is aborted, dropped, or fails leaves the run's previous rows as they were.
pub async fn dropped_and_aborted_loads_leave_nothing(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}aborted");
    let schema = customers_schema(&[]);
    let before = batches(&schema, 0..1_000, 2, 400);
    load(store, spec(&run, &schema, 0..1_000), &before).await;
    let want = rows_of(&before);

    let mut l = store
        .begin_load(spec(&run, &schema, 0..1_000))
        .await
        .expect("begin load");
    for b in batches(&schema, 0..600, 3, 300) {
        l.write(&b).await.expect("write");
    }
    l.abort().await.expect("abort");
    assert_eq!(stored(store, &run, &schema).await, want, "after an abort");

    let mut l = store
        .begin_load(spec(&run, &schema, 0..1_000))
        .await
        .expect("begin load");
    l.write(&customers(&schema, 0..500, 4))
        .await
        .expect("write");
    drop(l);
    assert_eq!(stored(store, &run, &schema).await, want, "after a drop");

    // A load that fails (a row outside its range) commits nothing either.
    let mut l = store
        .begin_load(spec(&run, &schema, 0..1_000))
        .await
        .expect("begin load");
    let first = l.write(&customers(&schema, 0..500, 5)).await;
    let second = l.write(&customers(&schema, 900..1_100, 5)).await;
    let third = l.write(&customers(&schema, 500..600, 5)).await;
    let committed = l.commit().await;
    assert!(first.is_ok(), "{first:?}");
    assert!(
        second.is_err() || third.is_err() || committed.is_err(),
        "a row outside the range fails the load"
    );
    assert_eq!(
        stored(store, &run, &schema).await,
        want,
        "after a failed load"
    );
    assert_eq!(store.count_customers(&run).await.expect("count"), 1_000);
}

/// Loading the same range again replaces its rows: no duplicates, the new values.
pub async fn reruns_replace(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}rerun");
    let schema = customers_schema(&[]);
    load(
        store,
        spec(&run, &schema, 0..1_200),
        &batches(&schema, 0..1_200, 6, 500),
    )
    .await;
    let second = batches(&schema, 0..1_200, 7, 1_200);
    load(store, spec(&run, &schema, 0..1_200), &second).await;
    assert_eq!(store.count_customers(&run).await.expect("count"), 1_200);
    assert_eq!(stored(store, &run, &schema).await, rows_of(&second));
    // A rerun with fewer rows leaves only those.
    let third = batches(&schema, 0..300, 8, 300);
    load(store, spec(&run, &schema, 0..1_200), &third).await;
    assert_eq!(stored(store, &run, &schema).await, rows_of(&third));
}

/// A whole-run load replaces every row of the run, also those past its ids (a blueprint
/// that shrank) and those of earlier shards, on both sides of the lanes' split.
pub async fn whole_run_loads_replace_every_row(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}shrunk");
    let schema = customers_schema(&[]);
    // 3 000 customers in three shards, then 1 200 in one whole-run load (two lanes), then
    // 300 (one lane).
    for k in 0..3u64 {
        let ids = k * 1_000..(k + 1) * 1_000;
        load(
            store,
            spec(&run, &schema, ids.clone()),
            &batches(&schema, ids, 11, 400),
        )
        .await;
    }
    assert_eq!(store.count_customers(&run).await.expect("count"), 3_000);
    for (n, salt) in [(1_200u64, 12), (300, 13)] {
        let rows = batches(&schema, 0..n, salt, 500);
        let whole = LoadSpec {
            whole_run: true,
            ..spec(&run, &schema, 0..n)
        };
        load(store, whole, &rows).await;
        assert_eq!(store.count_customers(&run).await.expect("count"), n);
        assert_eq!(stored(store, &run, &schema).await, rows_of(&rows));
    }
    // A shard loaded after the whole run lies beside it as before.
    let shard = batches(&schema, 300..900, 14, 600);
    load(store, spec(&run, &schema, 300..900), &shard).await;
    let mut want = rows_of(&batches(&schema, 0..300, 13, 500));
    want.extend(rows_of(&shard));
    assert_eq!(stored(store, &run, &schema).await, want);
}

/// Shards: loading [0, a) and [a, n) equals loading [0, n) at once; reloading one shard
/// leaves the other as it was; a range that cuts through an earlier load keeps the rows of
/// that load outside it; a whole reload replaces every shard.
pub async fn shards_equal_one_load(store: &dyn RelationalStore, p: &str) {
    let schema = customers_schema(&[]);
    let (a, n) = (1_100u64, 2_000u64);
    let whole = format!("{p}whole");
    let sharded = format!("{p}sharded");
    load(
        store,
        spec(&whole, &schema, 0..n),
        &batches(&schema, 0..n, 9, 512),
    )
    .await;
    // The second shard first.
    load(
        store,
        spec(&sharded, &schema, a..n),
        &batches(&schema, a..n, 9, 512),
    )
    .await;
    load(
        store,
        spec(&sharded, &schema, 0..a),
        &batches(&schema, 0..a, 9, 512),
    )
    .await;
    let want = rows_of(&batches(&schema, 0..n, 9, n));
    assert_eq!(stored(store, &whole, &schema).await, want);
    assert_eq!(stored(store, &sharded, &schema).await, want);

    // Reload the first shard with new values: the second is intact.
    load(
        store,
        spec(&sharded, &schema, 0..a),
        &batches(&schema, 0..a, 10, 512),
    )
    .await;
    let mut want2 = rows_of(&batches(&schema, 0..a, 10, a));
    want2.extend(rows_of(&batches(&schema, a..n, 9, n)));
    assert_eq!(stored(store, &sharded, &schema).await, want2);

    // Cut through the whole load: [500, 1500) anew, the rest as it was.
    let cut = format!("{p}cut");
    load(
        store,
        spec(&cut, &schema, 0..n),
        &batches(&schema, 0..n, 11, 700),
    )
    .await;
    load(
        store,
        spec(&cut, &schema, 500..1_500),
        &batches(&schema, 500..1_500, 12, 700),
    )
    .await;
    let mut want3 = rows_of(&batches(&schema, 0..500, 11, 500));
    want3.extend(rows_of(&batches(&schema, 500..1_500, 12, 1_000)));
    want3.extend(rows_of(&batches(&schema, 1_500..n, 11, 500)));
    assert_eq!(stored(store, &cut, &schema).await, want3);
    // And then a shard that lies inside the new range's union.
    load(
        store,
        spec(&cut, &schema, 0..250),
        &batches(&schema, 0..250, 13, 250),
    )
    .await;
    want3.splice(0..250, rows_of(&batches(&schema, 0..250, 13, 250)));
    assert_eq!(stored(store, &cut, &schema).await, want3);
    assert_eq!(store.count_customers(&cut).await.expect("count"), n);

    // Reload the whole run: every shard replaced.
    load(
        store,
        spec(&sharded, &schema, 0..n),
        &batches(&schema, 0..n, 14, 900),
    )
    .await;
    assert_eq!(
        stored(store, &sharded, &schema).await,
        rows_of(&batches(&schema, 0..n, 14, n))
    );
}

/// Two shards of one run loaded at the same time both land.
pub async fn concurrent_shards(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}concurrent");
    let schema = customers_schema(&[]);
    let shards = [0..700u64, 700..1_500, 1_500..1_600];
    let loads = shards.iter().map(|ids| {
        let b = batches(&schema, ids.clone(), 15, 256);
        let s = spec(&run, &schema, ids.clone());
        async move { load(store, s, &b).await }
    });
    join_all(loads).await;
    assert_eq!(store.count_customers(&run).await.expect("count"), 1_600);
    assert_eq!(
        stored(store, &run, &schema).await,
        rows_of(&batches(&schema, 0..1_600, 15, 1_600))
    );
}

/// A load with a metric the table lacks adds the column: its values come back, and the
/// runs loaded before it have NULLs there.
pub async fn new_columns_are_added(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}extra");
    let before = format!("{p}round-trip");
    let schema = customers_schema(&["conformance_extra"]);
    let written = batches(&schema, 0..800, 16, 300);
    load(store, spec(&run, &schema, 0..800), &written).await;
    assert_eq!(stored(store, &run, &schema).await, rows_of(&written));
    // An earlier run has NULLs in the new column: a nullable field takes them, a
    // non-nullable one is an error.
    let nullable = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("conformance_extra", DataType::Float64, true),
    ]));
    let rows = stored(store, &before, &nullable).await;
    assert_eq!(rows.len(), 2_500);
    assert!(rows.iter().all(|r| r[1] == Cell::Null));
    let mut s = store
        .scan_customers(&before, schema, 1000)
        .await
        .expect("scan");
    let first = s.next().await.expect("a batch");
    assert!(matches!(first, Err(Error::Data(_))), "{first:?}");
}

/// A load whose column's type differs from the table's is refused, naming the column and
/// both types.
pub async fn conflicting_types_are_refused(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}conflict");
    let mut fields = customers_schema(&[]).fields().to_vec();
    fields.push(Arc::new(Field::new(
        "conformance_conflict",
        DataType::Int64,
        true,
    )));
    let as_int = Arc::new(Schema::new(fields.clone()));
    let ids = Int64Array::from_iter_values(0..10);
    let base = customers(&customers_schema(&[]), 0..10, 17);
    let mut cols = base.columns().to_vec();
    cols.push(Arc::new(ids));
    let batch = RecordBatch::try_new(Arc::clone(&as_int), cols).expect("batch");
    load(store, spec(&run, &as_int, 0..10), &[batch]).await;

    *fields.last_mut().expect("a field") =
        Arc::new(Field::new("conformance_conflict", DataType::Float64, true));
    let as_float = Arc::new(Schema::new(fields));
    let e = match store.begin_load(spec(&run, &as_float, 0..10)).await {
        Err(e) => e,
        Ok(mut l) => {
            let mut cols = base.columns().to_vec();
            cols.push(Arc::new(Float64Array::from(vec![0.5; 10])));
            let b = RecordBatch::try_new(Arc::clone(&as_float), cols).expect("batch");
            match l.write(&b).await {
                Err(e) => e,
                Ok(()) => l.commit().await.expect_err("a conflicting type"),
            }
        }
    };
    assert!(matches!(e, Error::Data(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("conformance_conflict") && text.contains("double precision"),
        "{text}"
    );
    assert!(
        text.contains("bigint") || text.contains("INTEGER"),
        "names the table's type: {text}"
    );
    assert_eq!(store.count_customers(&run).await.expect("count"), 10);
    // A type the store does not keep.
    let odd = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("group", DataType::Utf8, false),
        Field::new("conformance_flag", DataType::Boolean, false),
    ]));
    let e = store
        .begin_load(spec(&run, &odd, 0..10))
        .await
        .err()
        .expect("an unsupported type");
    assert!(e.to_string().contains("conformance_flag"), "{e}");
}

/// Rows outside the load's id range are refused and nothing lands.
pub async fn ids_outside_the_range_are_refused(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}outside");
    let schema = customers_schema(&[]);
    let mut l = store
        .begin_load(spec(&run, &schema, 100..200))
        .await
        .expect("begin load");
    let wrote = l.write(&customers(&schema, 150..250, 18)).await;
    let e = match wrote {
        Err(e) => e,
        Ok(()) => l.commit().await.expect_err("rows outside the range"),
    };
    assert!(e.to_string().contains("range"), "{e}");
    assert_eq!(store.count_customers(&run).await.expect("count"), 0);
    // An empty range takes no rows and commits nothing.
    let mut l = store
        .begin_load(spec(&run, &schema, 7..7))
        .await
        .expect("begin load");
    assert!(l.write(&customers(&schema, 7..8, 18)).await.is_err() || l.commit().await.is_err());
    let l = store
        .begin_load(spec(&run, &schema, 7..7))
        .await
        .expect("begin load");
    assert_eq!(l.commit().await.expect("commit"), 0);
}

fn result(run_id: &str, metric: &str, test: &str, k: f64) -> ResultRow {
    ResultRow {
        experiment_id: EXPERIMENT.into(),
        run_id: run_id.into(),
        metric: metric.into(),
        control: "control".into(),
        treatment: "treatment".into(),
        test: test.into(),
        primary: k > 1.0,
        estimate: Some(k),
        ci_low: Some(k - 0.5),
        ci_high: Some(k + 0.5),
        p_value: Some(0.01 * k),
        p_adjusted: (k > 1.0).then_some(0.02 * k),
        reject: Some(k > 1.0),
        true_effect: Some(-40.0),
        null_true: Some(false),
        outcome: (k > 1.0).then(|| "correct".to_string()),
    }
}

/// put_results replaces a run's results; results returns them in the order written; other
/// runs keep theirs.
pub async fn results_replace(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}results");
    let other = format!("{p}results-other");
    assert!(store.results(&run).await.expect("results").is_empty());
    let first = vec![
        result(&run, "total_purchase_price", "welch_t", 2.0),
        result(&run, "num_diff_items", "mann_whitney_u", 0.5),
        result(&run, "total_purchase_price", "mann_whitney_u", 3.0),
    ];
    let mut empty = result(&run, "z", "a", 1.0);
    (empty.estimate, empty.ci_low, empty.ci_high, empty.p_value) = (None, None, None, None);
    (empty.reject, empty.true_effect, empty.null_true) = (None, None, None);
    let mut first = first;
    first.push(empty);
    store.put_results(&run, &first).await.expect("put results");
    let theirs = vec![result(&other, "m", "welch_t", 1.5)];
    store
        .put_results(&other, &theirs)
        .await
        .expect("put results");
    assert_eq!(store.results(&run).await.expect("results"), first);
    let second = vec![result(&run, "num_diff_items", "welch_t", 4.0)];
    store.put_results(&run, &second).await.expect("put results");
    assert_eq!(store.results(&run).await.expect("results"), second);
    assert_eq!(store.results(&other).await.expect("results"), theirs);
    store.put_results(&run, &[]).await.expect("put no results");
    assert!(store.results(&run).await.expect("results").is_empty());
    store.delete_run(&other).await.expect("delete run");
}

/// delete_run removes a run's customers, results and row, and nothing of other runs.
pub async fn delete_run_removes_everything(store: &dyn RelationalStore, p: &str) {
    let run = format!("{p}deleted");
    let kept = format!("{p}kept");
    let schema = customers_schema(&[]);
    for r in [&run, &kept] {
        store
            .put_run(&run_record(r, 24, RunStatus::Succeeded))
            .await
            .expect("put run");
        load(
            store,
            spec(r, &schema, 0..300),
            &batches(&schema, 0..300, 19, 300),
        )
        .await;
        store
            .put_results(r, &[result(r, "m", "welch_t", 2.0)])
            .await
            .expect("put results");
    }
    store.delete_run(&run).await.expect("delete run");
    assert_eq!(store.count_customers(&run).await.expect("count"), 0);
    assert!(scan(store, &run, &schema, 100).await.is_empty());
    assert!(store.results(&run).await.expect("results").is_empty());
    assert!(store.run(&run).await.expect("run").is_none());
    assert_eq!(store.count_customers(&kept).await.expect("count"), 300);
    assert_eq!(store.results(&kept).await.expect("results").len(), 1);
    assert!(store.run(&kept).await.expect("run").is_some());
    // Deleting again, or a run that never was, is fine.
    store.delete_run(&run).await.expect("delete again");
    // The run can be loaded again after its deletion.
    load(
        store,
        spec(&run, &schema, 0..10),
        &batches(&schema, 0..10, 20, 10),
    )
    .await;
    assert_eq!(store.count_customers(&run).await.expect("count"), 10);
    store.delete_run(&run).await.expect("delete run");
    store.delete_run(&kept).await.expect("delete run");
}

/// Run ids with quotes, backslashes and non-ASCII characters load, scan and delete like any.
pub async fn odd_run_ids(store: &dyn RelationalStore, p: &str) {
    let schema = customers_schema(&[]);
    for odd in [r"it's \odd", "ünïcode \"run\"", "a%b_c"] {
        let run = format!("{p}{odd}");
        let written = batches(&schema, 0..50, 21, 50);
        load(store, spec(&run, &schema, 0..50), &written).await;
        load(
            store,
            spec(&run, &schema, 50..60),
            &batches(&schema, 50..60, 21, 50),
        )
        .await;
        assert_eq!(
            store.count_customers(&run).await.expect("count"),
            60,
            "{run}"
        );
        let got = stored(store, &run, &schema).await;
        assert_eq!(got[..50], rows_of(&written)[..], "{run}");
        store.delete_run(&run).await.expect("delete run");
        assert_eq!(
            store.count_customers(&run).await.expect("count"),
            0,
            "{run}"
        );
    }
}
