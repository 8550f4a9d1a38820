//! Determinism: same blueprint and seed, same rows and bytes, whatever the thread count or
//! sharding; and pinned values, so a dependency upgrade cannot silently change datasets.

use abforge_synth::{BatchWriter, Blueprint, CHUNK_ROWS, Format, Generator, NoReporter, Shard};
use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const EVERY_KIND: &str = r#"
id = "pinned"
seed = 2024
customers = 150000
start_date = 2026-11-23
days = 7
[groups]
control = 2
treatment = 1
[actual_groups]
control = 1
treatment = 1
[attributes.device]
MOBILE = 3
COMPUTER = 1
[attributes.region]
EUR = 1
NAM = 2
[metrics.items]
distribution = "poisson"
offset = 1
control = { lambda = 2.0 }
treatment = { lift = 0.1 }
[[metrics.items.segments]]
when = { device = "MOBILE" }
treatment = { lambda = 3.0 }
[metrics.price]
distribution = "gamma"
zero_inflation = 0.2
pre_period = { correlation = 0.6 }
control = { shape = { choose = [1, 2, 3] }, scale = 10 }
treatment = { shape = 2, scale = 11 }
[metrics.converted]
distribution = "bernoulli"
control = { p = 0.1 }
treatment = { lift_abs = 0.01 }
[metrics.revenue]
distribution = "lognormal"
control = { mu = 1.0, sigma = 0.5 }
treatment = { lift = 0.05 }
[metrics.score]
distribution = "normal"
control = { mean = 0.0, sd = 1.0 }
treatment = { mean = 0.1, sd = 1.0 }
[metrics.orders]
distribution = "negative_binomial"
control = { r = 2.5, p = 0.4 }
treatment = { r = 2.5, p = 0.35 }
"#;

fn generator(seed: Option<u64>) -> Generator {
    let mut bp = Blueprint::from_toml(EVERY_KIND).unwrap();
    if let Some(s) = seed {
        bp = bp.with_seed(s);
    }
    Generator::new(bp.resolve().unwrap())
}

fn parquet_bytes(g: &Generator, threads: usize, shard: Option<Shard>) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut w = BatchWriter::new(Vec::new(), Format::Parquet, g.schema()).unwrap();
        g.run(g.chunks(shard).unwrap(), |b| w.write(&b), &NoReporter)
            .unwrap();
        w.finish().unwrap().0
    })
}

fn read_parquet(bytes: Vec<u8>) -> Vec<RecordBatch> {
    reader(bytes)
        .with_batch_size(CHUNK_ROWS as usize)
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn reader(bytes: Vec<u8>) -> ParquetRecordBatchReaderBuilder<bytes::Bytes> {
    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap()
}

#[test]
fn bytes_do_not_depend_on_the_thread_count() {
    let g = generator(None);
    let one = parquet_bytes(&g, 1, None);
    let three = parquet_bytes(&g, 3, None);
    assert!(one == three, "1 and 3 threads wrote different files");
    assert!(one == parquet_bytes(&g, 2, None), "2 threads differ");
}

#[test]
fn seeds_reproduce_and_differ() {
    let a = generator(Some(5)).chunk(1);
    assert_eq!(a, generator(Some(5)).chunk(1));
    assert_ne!(a, generator(Some(6)).chunk(1));
    // Chunks draw from separate streams.
    assert_ne!(a.column(2), generator(Some(5)).chunk(0).column(2));
}

#[test]
fn adding_columns_leaves_the_others_unchanged() {
    let g = generator(None);
    // One more attribute and one more metric.
    let with_attr = EVERY_KIND.replacen(
        "[metrics.items]",
        "[attributes.channel]\nWEB = 1\nAPP = 1\n[metrics.items]",
        1,
    ) + "[metrics.extra]\ndistribution = \"normal\"\ncontrol = { mean = 0, sd = 1 }\ntreatment = { lift_abs = 1 }\n";
    let bigger = Generator::new(Blueprint::from_toml(&with_attr).unwrap().resolve().unwrap());
    let (a, b) = (g.chunk(1), bigger.chunk(1));
    assert_eq!(b.num_columns(), a.num_columns() + 2);
    for f in a.schema().fields() {
        let name = f.name();
        assert_eq!(
            a.column_by_name(name),
            b.column_by_name(name),
            "column {name} changed"
        );
    }
}

#[test]
fn shards_together_are_the_whole() {
    let g = generator(None);
    let whole: Vec<RecordBatch> = (0..g.chunk_count()).map(|c| g.chunk(c)).collect();
    for n in [1u64, 2, 3, 7] {
        let mut rows = 0;
        let mut pieces = Vec::new();
        for k in 0..n {
            let shard = Some(Shard { index: k, count: n });
            let range = g.chunks(shard).unwrap();
            rows += g.rows_in(&range);
            pieces.extend(read_parquet(parquet_bytes(&g, 2, shard)));
        }
        assert_eq!(rows, 150_000, "{n} shards");
        assert_eq!(pieces.len(), whole.len(), "{n} shards");
        for (p, w) in pieces.iter().zip(&whole) {
            assert_eq!(p.columns(), w.columns(), "{n} shards");
        }
    }
    // More shards than chunks: some shards are empty, none overlap.
    let ranges: Vec<_> = (0..5)
        .map(|k| g.chunks(Some(Shard { index: k, count: 5 })).unwrap())
        .collect();
    assert_eq!(
        ranges.iter().map(|r| r.end - r.start).sum::<u64>(),
        g.chunk_count()
    );
    assert!(g.chunks(Some(Shard { index: 5, count: 5 })).is_err());
}

#[test]
fn parquet_round_trip_is_lossless() {
    let g = generator(None);
    let bytes = parquet_bytes(&g, 2, None);
    let file_schema = reader(bytes.clone()).schema().clone();
    let back = read_parquet(bytes);
    let whole: Vec<RecordBatch> = (0..g.chunk_count()).map(|c| g.chunk(c)).collect();
    assert_eq!(back.len(), whole.len());
    for (b, w) in back.iter().zip(&whole) {
        assert_eq!(b.schema().fields(), w.schema().fields());
        assert_eq!(b.columns(), w.columns());
    }
    // The footer carries the resolved blueprint.
    let meta = file_schema
        .metadata()
        .get("abforge.blueprint")
        .cloned()
        .expect("blueprint in metadata");
    let bp = Blueprint::from_json(&meta).unwrap();
    assert!(!bp.has_choices());
    assert_eq!(bp, g.resolved().blueprint);
}

#[test]
fn rows_satisfy_the_schema() {
    let g = generator(None);
    let b = g.chunk(0);
    let schema = b.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "customer_id",
            "experiment_id",
            "group",
            "device",
            "region",
            "purchase_date",
            "items",
            "price",
            "pre_price",
            "converted",
            "revenue",
            "score",
            "orders"
        ]
    );
    assert_eq!(g.resolved().blueprint.column_names(), names);
    let text = csv_of(&[b.slice(0, 2000)]);
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert!(["control", "treatment"].contains(&f[2]), "{line}");
        assert!(f[5] >= "2026-11-23" && f[5] <= "2026-11-29", "{line}");
        assert!(f[6].parse::<i64>().unwrap() >= 1, "offset 1: {line}");
        assert!(f[7].parse::<f64>().unwrap() >= 0.0, "{line}");
        assert!(["0", "1"].contains(&f[9]), "{line}");
        assert!(f[10].parse::<f64>().unwrap() > 0.0, "{line}");
        assert!(f[12].parse::<i64>().unwrap() >= 0, "{line}");
    }
}

fn csv_of(batches: &[RecordBatch]) -> String {
    let mut w = BatchWriter::new(Vec::new(), Format::Csv, batches[0].schema()).unwrap();
    w.write(batches).unwrap();
    String::from_utf8(w.finish().unwrap().0).unwrap()
}

#[test]
fn values_are_pinned() {
    // If this snapshot changes, datasets generated by earlier versions can no longer be
    // reproduced: treat it as a breaking change (a dependency upgrade can cause it).
    let g = generator(None);
    let first = g.chunk(0).slice(0, 6);
    let last = g.chunk(g.chunk_count() - 1);
    let tail = last.slice(last.num_rows() - 3, 3);
    insta::assert_snapshot!(format!(
        "{}{}",
        csv_of(&[first]),
        csv_of(&[tail])
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
    ));
}

#[test]
fn text_formats_write_plain_strings() {
    let g = generator(None);
    let b = g.chunk(0).slice(0, 2);
    let mut w = BatchWriter::new(Vec::new(), Format::Jsonl, b.schema()).unwrap();
    w.write(&[b]).unwrap();
    let text = String::from_utf8(w.finish().unwrap().0).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["experiment_id"], "pinned");
    assert_eq!(first["customer_id"], 0);
    assert!(
        first["purchase_date"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-")
    );
}

#[test]
fn correlated_metrics_do_not_depend_on_threads_or_shards() {
    let plain_toml = EVERY_KIND.replace("customers = 150000", "customers = 100000");
    let toml = plain_toml.clone()
        + "[[correlations]]\nmetrics = [\"items\", \"price\"]\nrho = 0.5\n\
           [[correlations]]\nmetrics = [\"revenue\", \"orders\"]\nrho = -0.4\n\
           [[correlations]]\nmetrics = [\"price\", \"revenue\"]\nrho = 0.3\n";
    let g = Generator::new(Blueprint::from_toml(&toml).unwrap().resolve().unwrap());
    let one = parquet_bytes(&g, 1, None);
    assert!(
        one == parquet_bytes(&g, 3, None),
        "1 and 3 threads wrote different files"
    );
    let whole = read_parquet(one);
    let pieces: Vec<RecordBatch> = (0..3)
        .flat_map(|k| read_parquet(parquet_bytes(&g, 2, Some(Shard { index: k, count: 3 }))))
        .collect();
    assert_eq!(pieces.len(), whole.len());
    for (p, w) in pieces.iter().zip(&whole) {
        assert_eq!(p.columns(), w.columns());
    }
    // Metrics outside the copula keep the values they have without it.
    let plain = Generator::new(
        Blueprint::from_toml(&plain_toml)
            .unwrap()
            .resolve()
            .unwrap(),
    )
    .chunk(1);
    let joined = g.chunk(1);
    for name in ["converted", "score"] {
        assert_eq!(
            plain.column_by_name(name),
            joined.column_by_name(name),
            "{name}"
        );
    }
    assert_ne!(
        plain.column_by_name("price"),
        joined.column_by_name("price")
    );
}

#[test]
fn clusters_and_time_do_not_depend_on_threads_or_shards() {
    let toml = EVERY_KIND.replace("customers = 150000", "customers = 100000")
        + "[clusters]\ncount = 300\nsize_cv = 0.7\nicc = { price = 0.2, items = 0.1 }\n\
           [time]\nweekdays = { sat = 2, sun = 2 }\nnovelty = { boost = 1.5, half_life = 2 }\n";
    let g = Generator::new(Blueprint::from_toml(&toml).unwrap().resolve().unwrap());
    let one = parquet_bytes(&g, 1, None);
    assert!(
        one == parquet_bytes(&g, 3, None),
        "1 and 3 threads wrote different files"
    );
    let whole = read_parquet(one);
    let pieces: Vec<RecordBatch> = (0..3)
        .flat_map(|k| read_parquet(parquet_bytes(&g, 2, Some(Shard { index: k, count: 3 }))))
        .collect();
    assert_eq!(pieces.len(), whole.len());
    for (p, w) in pieces.iter().zip(&whole) {
        assert_eq!(p.columns(), w.columns());
    }
    assert!(whole[0].column_by_name("cluster_id").is_some());
}
