//! `abforge lake` as a process, on the tables a `pipeline run` wrote: tables, history (with
//! the run and blueprint hash of each commit), query (with time travel), optimize, vacuum and
//! bad input (exit 2); then every layer read by other engines — the Python `deltalake`
//! package and polars from the tools venv — giving the same counts and sums, on a local
//! folder and on the local S3 server.

#![allow(clippy::print_stderr)] // the skip notes of tests whose tools or services are missing

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::*;

fn json(mut c: Command) -> Value {
    let out = c.output().unwrap();
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// One row of `abforge lake query --json`.
fn query(dir: &Path, env: &dyn Fn(&mut Command), sql: &str, extra: &[&str]) -> Value {
    let mut args = vec!["lake", "query", sql, "--json"];
    args.extend_from_slice(extra);
    let mut c = abforge(dir, &args);
    env(&mut c);
    let rows = json(c);
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{sql}: {rows}");
    rows[0].clone()
}

fn run_pipeline(dir: &Path, env: &dyn Fn(&mut Command), bp: &Path) {
    let mut c = abforge(
        dir,
        &[
            "pipeline",
            "run",
            "-b",
            bp.to_str().unwrap(),
            "--run-date",
            "2026-11-23",
            "-q",
        ],
    );
    env(&mut c);
    let out = c.output().unwrap();
    ok(&out);
}

#[test]
fn lake_commands_read_what_the_pipeline_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 20_000);
    let none = |_: &mut Command| {};
    run_pipeline(dir.path(), &none, &bp);

    // tables: the pipeline's six written, partitioned, on Delta protocol 1/2 (readable by
    // any reader); gold_calibration only once `calibrate --publish` writes it.
    let tables = json(abforge(dir.path(), &["lake", "tables", "--json"]));
    let tables = tables.as_array().unwrap();
    let names: Vec<&str> = tables
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "bronze_customers",
            "silver_customers",
            "silver_quarantine",
            "gold_group_daily",
            "gold_group_quantiles",
            "gold_ab_results",
            "gold_calibration"
        ]
    );
    assert_eq!(tables[6]["version"], Value::Null);
    for t in &tables[..6] {
        assert_eq!(t["version"], 0, "{t}");
        assert_eq!(t["min_reader_version"], 1, "{t}");
        assert!(t["url"].as_str().unwrap().starts_with("file:///"), "{t}");
    }
    let data = dir.path().join("data/objects/lake");
    assert!(data.join("bronze/customers/_delta_log").is_dir());
    assert!(
        data.join("silver/customers/experiment_id=seed/run_date=2026-11-23")
            .is_dir()
    );
    let out = abforge(dir.path(), &["lake", "tables"]).output().unwrap();
    ok(&out);
    assert!(text(&out.stdout).contains("experiment_id, run_date"));

    // history: each commit names its run, step and blueprint.
    let show = json(abforge(
        dir.path(),
        &["runs", "show", "seed-20261123", "--json"],
    ));
    let hash = show["run"]["blueprint_hash"].as_str().unwrap().to_string();
    for (table, step) in [
        ("bronze_customers", "bronze"),
        ("silver_quarantine", "silver"),
        ("gold_group_daily", "gold"),
        ("gold_group_quantiles", "gold"),
        ("gold_ab_results", "analyze"),
    ] {
        let h = json(abforge(dir.path(), &["lake", "history", table, "--json"]));
        assert_eq!(h[0]["version"], 0, "{table}: {h}");
        assert_eq!(h[0]["run_id"], "seed-20261123", "{table}: {h}");
        assert_eq!(h[0]["step"], step, "{table}: {h}");
        assert_eq!(h[0]["blueprint_hash"], hash.as_str(), "{table}: {h}");
    }

    // query: the layers agree with each other and with the relational store.
    let row = query(
        dir.path(),
        &none,
        "SELECT (SELECT COUNT(*) FROM bronze_customers) AS bronze, \
         (SELECT COUNT(*) FROM silver_customers) AS silver, \
         (SELECT COUNT(*) FROM silver_quarantine) AS quarantined, \
         (SELECT SUM(n) FROM gold_group_daily WHERE metric = 'num_diff_items') AS gold, \
         (SELECT COUNT(*) FROM gold_ab_results) AS decisions",
        &[],
    );
    assert_eq!(row["bronze"], 20_000, "{row}");
    assert_eq!(row["silver"], 20_000, "{row}");
    assert_eq!(row["quarantined"], 0, "{row}");
    assert_eq!(row["gold"], 20_000, "{row}");
    assert_eq!(
        row["decisions"].as_u64().unwrap() as usize,
        show["results"].as_array().unwrap().len()
    );
    let out = abforge(
        dir.path(),
        &[
            "lake",
            "query",
            "SELECT \"group\", SUM(n) AS n FROM gold_group_daily \
             WHERE metric = 'num_diff_items' GROUP BY 1 ORDER BY 1",
        ],
    )
    .output()
    .unwrap();
    ok(&out);
    let table = text(&out.stdout);
    assert!(
        table.contains("control") && table.contains("treatment") && table.contains("2 rows"),
        "{table}"
    );

    // A rerun replaces the run (one commit per table), and time travel reads version 0.
    run_pipeline(dir.path(), &none, &bp);
    let count = "SELECT COUNT(*) AS n FROM bronze_customers";
    assert_eq!(query(dir.path(), &none, count, &[])["n"], 20_000);
    assert_eq!(
        query(dir.path(), &none, count, &["--version", "0"])["n"],
        20_000
    );
    let h = json(abforge(
        dir.path(),
        &["lake", "history", "bronze/customers", "--json"],
    ));
    assert_eq!(h.as_array().unwrap().len(), 2, "{h}");
    assert_eq!(h[0]["version"], 1);
    assert!(
        h[0]["parameters"].to_string().contains("seed-20261123"),
        "the replace-where predicate names the run: {h}"
    );

    // Upkeep: optimize compacts, vacuum deletes what no version within the retention uses.
    let out = abforge(dir.path(), &["lake", "optimize", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let out = abforge(
        dir.path(),
        &["lake", "vacuum", "--retention-hours", "0", "--json"],
    )
    .output()
    .unwrap();
    ok(&out);
    let vacuumed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let deleted: u64 = vacuumed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["files_deleted"].as_u64().unwrap())
        .sum();
    assert!(deleted > 0, "the first run's files are gone: {vacuumed}");
    assert_eq!(query(dir.path(), &none, count, &[])["n"], 20_000);

    // Bad input: exit 2, naming the tables.
    for (args, want) in [
        (
            vec!["lake", "history", "nope"],
            "bronze_customers, silver_customers, silver_quarantine, gold_group_daily, gold_group_quantiles, gold_ab_results, gold_calibration",
        ),
        (
            vec!["lake", "query", "SELECT * FROM nope"],
            "gold_group_daily",
        ),
        (vec!["lake", "query", "SELEC 1"], "does not plan"),
        (
            vec![
                "lake",
                "query",
                "SELECT 1 FROM bronze_customers",
                "--version",
                "99",
            ],
            "bronze_customers",
        ),
    ] {
        let out = abforge(dir.path(), &args).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_fresh_data_folder_has_no_tables_yet() {
    let dir = tempfile::tempdir().unwrap();
    let out = abforge(dir.path(), &["lake", "tables"]).output().unwrap();
    ok(&out);
    assert!(text(&out.stdout).contains("no table has been written yet"));
    let out = abforge(dir.path(), &["lake", "history", "gold_ab_results"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has not been written yet"));
}

#[test]
fn calibrate_publishes_to_gold_calibration_and_a_republish_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 400);
    let bp = bp.to_str().unwrap();
    let calibrate = |extra: &[&str]| {
        let mut args = vec![
            "calibrate",
            "-b",
            bp,
            "-r",
            "200",
            "--json",
            "-q",
            "--publish",
        ];
        args.extend_from_slice(extra);
        json(abforge(dir.path(), &args))
    };
    let none = |_: &mut Command| {};
    let report = calibrate(&[]);
    let results = report["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let row = query(
        dir.path(),
        &none,
        "SELECT COUNT(*) AS n, COUNT(DISTINCT calibration_id) AS ids, \
         SUM(type_i + type_ii + correct_accept + correct_reject) AS judged, \
         MIN(replications) AS r FROM gold_calibration",
        &[],
    );
    assert_eq!(row["n"].as_u64(), Some(results.len() as u64), "{row}");
    assert_eq!(row["ids"], 1);
    assert_eq!(row["r"], 200);
    let judged: u64 = results
        .iter()
        .map(|r| {
            let c = &r["confusion"];
            ["type_i", "type_ii", "correct_accept", "correct_reject"]
                .iter()
                .map(|k| c[k].as_u64().unwrap())
                .sum::<u64>()
        })
        .sum();
    assert_eq!(row["judged"].as_u64(), Some(judged));
    // Each test's rejection rate is the one the report printed.
    let first = &results[0];
    let sql = format!(
        "SELECT rejection_rate FROM gold_calibration WHERE metric = '{}' AND arm = '{}' AND test = '{}'",
        first["metric"].as_str().unwrap(),
        first["arm"].as_str().unwrap(),
        first["test"].as_str().unwrap()
    );
    let rate = query(dir.path(), &none, &sql, &[]);
    assert_eq!(rate["rejection_rate"], first["rejection_rate"]);

    // The same calibration again replaces its rows; a sweep is a second publication.
    calibrate(&[]);
    let sweep = calibrate(&["--sweep", "customers=200..400:2"]);
    assert_eq!(sweep["points"].as_array().map(Vec::len), Some(2));
    let row = query(
        dir.path(),
        &none,
        "SELECT COUNT(*) AS n, COUNT(DISTINCT calibration_id) AS ids, \
         COUNT(DISTINCT sweep_value) AS values FROM gold_calibration",
        &[],
    );
    assert_eq!(row["ids"], 2, "{row}");
    assert_eq!(row["values"], 2, "{row}");
    let swept: usize = sweep["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["results"].as_array().unwrap().len())
        .sum();
    assert_eq!(row["n"].as_u64(), Some((results.len() + swept) as u64));
    let history = json(abforge(
        dir.path(),
        &["lake", "history", "gold_calibration", "--json"],
    ));
    assert_eq!(history.as_array().map(Vec::len), Some(3), "{history}");

    // The lake flags without --publish are refused.
    let out = abforge(dir.path(), &["calibrate", "-b", bp, "--data-dir", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--publish"),
        "{}",
        text(&out.stderr)
    );
}

/// The Python of the tools venv, when it has deltalake and polars.
fn python() -> Option<PathBuf> {
    let cache = std::env::var("ABFORGE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/abforge"));
    let py = cache.join("venv/bin/python");
    let has = Command::new(&py)
        .args(["-c", "import deltalake, polars"])
        .output()
        .is_ok_and(|o| o.status.success());
    has.then_some(py)
}

/// Reads every layer with deltalake and polars and compares with abforge's own answers.
fn check_interop(dir: &Path, env: &dyn Fn(&mut Command), root: &str, endpoint: Option<&str>) {
    let Some(py) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI builds the tools venv: scripts/test.sh runs scripts/services.sh"
        );
        eprintln!(
            "skipped: no deltalake and polars in the tools venv (bash scripts/services.sh venv)"
        );
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lake_interop.py");
    let mut c = Command::new(py);
    c.arg(&script).arg(root);
    if let Some(e) = endpoint {
        c.arg(e);
    }
    let out = c.output().unwrap();
    ok(&out);
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = json({
        let mut c = abforge(dir, &["lake", "tables", "--json"]);
        env(&mut c);
        c
    });
    for (path, name, sums) in [
        (
            "bronze/customers",
            "bronze_customers",
            &["SUM(num_diff_items)", "SUM(total_purchase_price)"][..],
        ),
        (
            "silver/customers",
            "silver_customers",
            &["SUM(num_diff_items)", "SUM(total_purchase_price)"][..],
        ),
        ("silver/quarantine", "silver_quarantine", &[][..]),
        (
            "gold/group_daily",
            "gold_group_daily",
            &["SUM(n)", "SUM(\"sum\")", "SUM(sum_sq)"][..],
        ),
        (
            "gold/group_quantiles",
            "gold_group_quantiles",
            &["SUM(n)", "SUM(p)", "SUM(value)"][..],
        ),
        (
            "gold/ab_results",
            "gold_ab_results",
            &["SUM(p_value)", "SUM(estimate)"][..],
        ),
    ] {
        let t = &theirs[path];
        let ours = tables
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["table"] == name)
            .unwrap();
        assert_eq!(t["version"], ours["version"], "{path}: {t}");
        assert_eq!(
            t["partition_columns"], ours["partition_columns"],
            "{path}: {t}"
        );
        let cols: Vec<String> = std::iter::once("COUNT(*) AS c0".to_string())
            .chain(
                sums.iter()
                    .enumerate()
                    .map(|(i, s)| format!("{s} AS c{}", i + 1)),
            )
            .collect();
        let row = query(
            dir,
            env,
            &format!("SELECT {} FROM {name}", cols.join(", ")),
            &[],
        );
        for engine in ["deltalake", "polars"] {
            assert_eq!(
                t[engine]["count"], row["c0"],
                "{engine} {path}: {t} vs {row}"
            );
            for i in 0..sums.len() {
                let a = row[format!("c{}", i + 1)].as_f64().unwrap();
                let b = t[engine]["sums"][i].as_f64().unwrap();
                assert!(
                    (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                    "{engine} {path} {}: {a} vs {b}",
                    sums[i]
                );
            }
        }
    }
}

#[test]
fn other_engines_read_every_layer_of_a_local_lake() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 20_000);
    let none = |_: &mut Command| {};
    run_pipeline(dir.path(), &none, &bp);
    let root = format!(
        "file://{}",
        dir.path()
            .join("data/objects")
            .canonicalize()
            .unwrap()
            .display()
    );
    check_interop(dir.path(), &none, &root, None);
}

#[test]
fn the_lake_on_s3_is_written_and_read_by_every_engine() {
    let Ok(s3) = std::env::var("ABFORGE_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the test services: scripts/test.sh starts them"
        );
        eprintln!("skipped: ABFORGE_TEST_S3_ENDPOINT is not set (scripts/services.sh start)");
        return;
    };
    let bucket = std::env::var("ABFORGE_TEST_S3_BUCKET").unwrap_or_else(|_| "abforge-test".into());
    let prefix = format!(
        "lake-{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let url = format!("s3://{bucket}/{prefix}");
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 20_000);
    let env = |c: &mut Command| {
        c.env("ABFORGE_OBJECT_STORE_URL", &url)
            .env("AWS_ENDPOINT_URL", &s3)
            .env("AWS_ALLOW_HTTP", "true");
    };
    run_pipeline(dir.path(), &env, &bp);
    run_pipeline(dir.path(), &env, &bp);
    let row = query(
        dir.path(),
        &env,
        "SELECT (SELECT COUNT(*) FROM bronze_customers) AS bronze, \
         (SELECT COUNT(*) FROM silver_customers) AS silver, \
         (SELECT SUM(n) FROM gold_group_daily WHERE metric = 'num_diff_items') AS gold",
        &[],
    );
    assert_eq!(row["bronze"], 20_000, "a rerun replaced, on S3 too: {row}");
    assert_eq!(row["silver"], 20_000, "{row}");
    assert_eq!(row["gold"], 20_000, "{row}");
    let tables = json({
        let mut c = abforge(dir.path(), &["lake", "tables", "--json"]);
        env(&mut c);
        c
    });
    for t in tables.as_array().unwrap() {
        if t["table"] == "gold_calibration" {
            assert_eq!(t["version"], Value::Null, "not written by a pipeline run");
            continue;
        }
        assert_eq!(t["version"], 1, "{t}");
        assert!(
            t["url"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{url}/lake/")),
            "{t}"
        );
    }
    assert!(
        !dir.path().join("data/objects/lake").exists(),
        "nothing was written locally"
    );
    check_interop(dir.path(), &env, &url, Some(&s3));
}
