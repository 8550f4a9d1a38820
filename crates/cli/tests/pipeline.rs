//! `abforge pipeline` and `abforge runs` as processes: the embedded run, bad input (exit 2),
//! a process killed at random points and rerun (nothing partial, nothing duplicated), an
//! unreachable S3 endpoint, and the AWS mode — PostgreSQL, S3 and DynamoDB on the local test
//! servers — checked with `psql` and the AWS CLI.

#![allow(clippy::print_stderr)] // the skip notes of tests whose services are not running

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;
use common::*;

fn sqlite_counts(db: &Path, run_id: &str) -> (i64, i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM customers WHERE run_id = ?1",
            [run_id],
            |r| r.get(0),
        )
        .unwrap();
    let distinct: i64 = c
        .query_row(
            "SELECT COUNT(DISTINCT customer_id) FROM customers WHERE run_id = ?1",
            [run_id],
            |r| r.get(0),
        )
        .unwrap();
    let results: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM ab_results WHERE run_id = ?1",
            [run_id],
            |r| r.get(0),
        )
        .unwrap();
    (n, distinct, results)
}

#[test]
fn pipeline_run_on_the_embedded_backends_then_runs_list_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed();
    let args = [
        "pipeline",
        "run",
        "--blueprint",
        seed.to_str().unwrap(),
        "--run-date",
        "2026-11-23",
    ];
    let out = abforge(dir.path(), &args).output().unwrap();
    ok(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("run seed-20261123 — experiment seed, 2026-11-23"),
        "{stdout}"
    );
    assert!(stdout.contains(": succeeded"), "{stdout}");
    assert!(stdout.contains("customers landed: 200,000"), "{stdout}");
    assert!(
        stdout.contains("params: params/seed/seed-20261123.json"),
        "{stdout}"
    );
    assert!(
        stdout.contains("welch_t") && stdout.contains("mann_whitney_u"),
        "{stdout}"
    );
    assert!(
        stdout.contains("decisions:") && stdout.contains("correct"),
        "{stdout}"
    );
    let data = dir.path().join("data");
    assert!(data.join("abforge.sqlite").is_file());
    assert!(
        data.join("objects/params/seed/seed-20261123.json")
            .is_file()
    );
    assert!(
        data.join("objects/runs/seed/seed-20261123/customers/part-00000-of-00001.parquet")
            .is_file()
    );
    let (n, distinct, results) = sqlite_counts(&data.join("abforge.sqlite"), "seed-20261123");
    assert_eq!((n, distinct), (200_000, 200_000));
    assert!(results >= 8, "{results}");

    // The JSON report of a rerun: the same run, replaced.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = abforge(dir.path(), &json_args).output().unwrap();
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["run_id"], "seed-20261123");
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["rows"], 200_000);
    assert_eq!(report["steps"].as_array().unwrap().len(), 7);
    assert_eq!(report["results"].as_array().unwrap().len() as i64, results);
    assert_eq!(
        sqlite_counts(&data.join("abforge.sqlite"), "seed-20261123"),
        (200_000, 200_000, results)
    );

    let out = abforge(dir.path(), &["runs", "list"]).output().unwrap();
    ok(&out);
    let list = text(&out.stdout);
    assert!(
        list.contains("seed-20261123") && list.contains("2026-11-23"),
        "{list}"
    );
    assert!(list.contains("succeeded"), "{list}");
    let out = abforge(dir.path(), &["runs", "list", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["run_id"], "seed-20261123");
    assert_eq!(list[0]["attempts"], 14);
    assert_eq!(list[0]["rows"], 200_000);

    let out = abforge(dir.path(), &["runs", "show", "seed-20261123"])
        .output()
        .unwrap();
    ok(&out);
    let show = text(&out.stdout);
    for step in [
        "generate", "land", "publish", "bronze", "silver", "gold", "analyze",
    ] {
        assert!(show.contains(step), "{show}");
    }
    let out = abforge(dir.path(), &["runs", "show", "seed-20261123", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["run"]["status"], "succeeded");
    assert_eq!(show["attempts"].as_array().unwrap().len(), 14);

    let out = abforge(dir.path(), &["runs", "show", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no run \"nope\""));
}

#[test]
fn bad_input_is_refused_with_exit_code_2_and_names_what_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed();
    let seed = seed.to_str().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case<'_>] = &[
        (
            &["pipeline", "step", "lnad", "--run-date", "2026-11-23"],
            &[],
            "generate, land, publish, bronze, silver, gold, analyze",
        ),
        (
            &[
                "pipeline",
                "step",
                "land",
                "--run-date",
                "2026-11-23",
                "--shard",
                "3/2",
            ],
            &[],
            "K/N",
        ),
        (
            &[
                "pipeline",
                "step",
                "publish",
                "--run-date",
                "2026-11-23",
                "--shard",
                "0/2",
                "-b",
                seed,
            ],
            &[],
            "error: --shard: the publish step runs on the whole run; only generate and land take \
             shards",
        ),
        (
            &["pipeline", "run", "--run-date", "2026-13-01"],
            &[],
            "--run-date",
        ),
        (
            &["pipeline", "run", "-b", seed],
            &[("ABFORGE_DATABASE_URL", "mysql://x/y")],
            "error: ABFORGE_DATABASE_URL: \"mysql://x/y\" is not a URL this setting takes; \
             expected one of sqlite://…, postgres://…",
        ),
        (
            &[
                "pipeline",
                "run",
                "-b",
                seed,
                "--database-url",
                "mysql://x/y",
            ],
            &[("ABFORGE_DATABASE_URL", "sqlite:///x")],
            "error: --database-url: \"mysql://x/y\" is not a URL",
        ),
        (
            &["pipeline", "run", "-b", seed],
            &[("ABFORGE_RUN_LOG_URL", "redis://x")],
            "dynamodb://",
        ),
        (
            &["pipeline", "run", "-b", "no-such.toml"],
            &[],
            "no-such.toml",
        ),
        (
            &["pipeline", "run", "-b", seed, "--attempts", "0"],
            &[],
            "--attempts",
        ),
    ];
    for (args, env, want) in cases {
        let mut c = abforge(dir.path(), args);
        for (k, v) in *env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // The error of a run with `config` as abforge.toml (exit code 2).
    let with_config = |config: &str| {
        std::fs::write(dir.path().join("abforge.toml"), config).unwrap();
        let out = abforge(dir.path(), &["pipeline", "run", "-b", seed])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        err
    };
    // A value from abforge.toml is named by the file and its key.
    let err = with_config("[retry]\nattempts = 0\n");
    assert!(
        err.contains("error: abforge.toml: retry.attempts: 0 is not allowed; expected 1 to 100"),
        "{err}"
    );
    // An unknown key in abforge.toml names the allowed ones.
    let err = with_config("databse_url = \"sqlite:///x\"\n");
    assert!(
        err.contains("databse_url") && err.contains("database_url"),
        "{err}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was written");
}

/// Kills `pipeline run` (SIGKILL) at spread-out points, then reruns it: every rerun ends
/// with each customer exactly once and the results of the complete run.
#[cfg(unix)]
#[test]
fn a_run_killed_at_random_points_completes_on_rerun_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 1_500_000);
    let bp = bp.to_str().unwrap();
    let args = [
        "pipeline",
        "run",
        "-b",
        bp,
        "--run-date",
        "2026-12-07",
        "-q",
    ];
    let db = dir.path().join("data/abforge.sqlite");
    let run_id = "seed-20261207";
    // A complete run first, for the reference counts.
    let reference = tempfile::tempdir().unwrap();
    let rbp = blueprint(reference.path(), 1_500_000);
    let out = abforge(
        reference.path(),
        &[
            "pipeline",
            "run",
            "-b",
            rbp.to_str().unwrap(),
            "--run-date",
            "2026-12-07",
            "-q",
        ],
    )
    .output()
    .unwrap();
    ok(&out);
    let want = sqlite_counts(&reference.path().join("data/abforge.sqlite"), run_id);
    assert_eq!(want.0, 1_500_000);

    // Delays spread over the run (pseudo-random but reproducible: the test must not flake).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_millis(100 + x % 2500);
        let mut child = abforge(dir.path(), &args)
            .env("ABFORGE_RUN_LEASE_MS", "2000")
            .env("ABFORGE_RUN_WAIT_MS", "60000")
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        if db.is_file() {
            let (n, distinct, _) = sqlite_counts_if_ready(&db, run_id);
            assert_eq!(n, distinct, "no duplicate is ever visible");
            assert!(n == 0 || n == 1_500_000, "all or nothing: {n} rows visible");
        }
    }
    let out = abforge(dir.path(), &args)
        .env("ABFORGE_RUN_LEASE_MS", "2000")
        .env("ABFORGE_RUN_WAIT_MS", "60000")
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(sqlite_counts(&db, run_id), want);
    let out = abforge(dir.path(), &["runs", "show", run_id, "--json"])
        .output()
        .unwrap();
    ok(&out);
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["run"]["status"], "succeeded");
}

/// The tables may not exist yet when the process was killed before its first migration.
fn sqlite_counts_if_ready(db: &Path, run_id: &str) -> (i64, i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let exists: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('customers', 'ab_results')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if exists < 2 {
        return (0, 0, 0);
    }
    sqlite_counts(db, run_id)
}

#[test]
fn an_unreachable_s3_endpoint_fails_clearly_and_is_in_the_run_log() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed();
    let out = abforge(
        dir.path(),
        &[
            "pipeline",
            "run",
            "-b",
            seed.to_str().unwrap(),
            "--run-date",
            "2026-11-23",
            "--attempts",
            "2",
        ],
    )
    .env("ABFORGE_OBJECT_STORE_URL", "s3://nowhere/abforge")
    .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    .env("AWS_ALLOW_HTTP", "true")
    .env("AWS_ACCESS_KEY_ID", "test")
    .env("AWS_SECRET_ACCESS_KEY", "test")
    .env("AWS_REGION", "us-east-1")
    .env("ABFORGE_RETRY_DELAY_MS", "10")
    .output()
    .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("failed at step generate"), "{err}");
    assert!(
        err.contains("127.0.0.1:9") || err.contains("onnect"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let out = abforge(dir.path(), &["runs", "show", "seed-20261123", "--json"])
        .output()
        .unwrap();
    ok(&out);
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["run"]["status"], "failed");
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(
        attempts
            .iter()
            .all(|a| a["status"] == "failed" && a["error"].is_string())
    );
}

/// The AWS mode on this machine: customers in PostgreSQL, objects in S3, the run log in
/// DynamoDB, the params through the API — then read back with `psql` and the AWS CLI.
#[test]
fn the_aws_mode_lands_in_postgres_s3_and_dynamodb() {
    let Some(backends::Services {
        pg,
        s3,
        ddb,
        bucket,
    }) = backends::Services::from_env()
    else {
        return;
    };
    let tag = format!("{}{}", std::process::id(), nanos());
    let db = backends::fresh_database(&pg, &format!("cli_{tag}"));
    let table = format!("abforge-runlog-{tag}");
    let dir = tempfile::tempdir().unwrap();
    let seed = seed();
    let env = |c: &mut Command| {
        c.env("ABFORGE_DATABASE_URL", &db)
            .env("ABFORGE_RUN_LOG_URL", format!("dynamodb://{table}"))
            .env(
                "ABFORGE_OBJECT_STORE_URL",
                format!("s3://{bucket}/aws-mode-{tag}"),
            )
            .env("AWS_ENDPOINT_URL", &s3)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &ddb)
            .env("AWS_ALLOW_HTTP", "true");
    };
    let mut c = abforge(
        dir.path(),
        &[
            "pipeline",
            "run",
            "-b",
            seed.to_str().unwrap(),
            "--run-date",
            "2026-11-23",
        ],
    );
    env(&mut c);
    let out = c.output().unwrap();
    ok(&out);
    assert!(
        !dir.path().join("data").exists(),
        "nothing embedded was used"
    );

    // psql sees every customer once, and the results.
    let psql = |sql: &str| -> String {
        let out = Command::new("psql")
            .args([db.as_str(), "-At", "-c", sql])
            .output()
            .expect("psql runs");
        ok(&out);
        text(&out.stdout).trim().to_string()
    };
    assert_eq!(
        psql(
            "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM customers WHERE run_id = 'seed-20261123'"
        ),
        "200000|200000"
    );
    assert_eq!(
        psql("SELECT status, rows FROM runs WHERE run_id = 'seed-20261123'"),
        "succeeded|200000"
    );
    let results: i64 = psql("SELECT COUNT(*) FROM ab_results WHERE run_id = 'seed-20261123'")
        .parse()
        .unwrap();
    assert!(results >= 8);

    // The AWS CLI sees the params object and the run log items.
    let Some(aws) = aws_cli() else {
        eprintln!("the AWS CLI is not in the tools venv: checked through abforge only");
        return;
    };
    let out = Command::new(&aws)
        .args([
            "s3",
            "ls",
            "--recursive",
            &format!("s3://{bucket}/aws-mode-{tag}/params/"),
            "--endpoint-url",
            &s3,
        ])
        .output()
        .unwrap();
    ok(&out);
    assert!(
        text(&out.stdout).contains("params/seed/seed-20261123.json"),
        "{}",
        text(&out.stdout)
    );
    let out = Command::new(&aws)
        .args([
            "dynamodb",
            "scan",
            "--table-name",
            &table,
            "--endpoint-url",
            &ddb,
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    ok(&out);
    let scan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = scan["Items"].as_array().unwrap();
    assert_eq!(items.len(), 7, "{scan}");
    assert!(
        items.iter().all(|i| i["status"]["S"] == "succeeded"),
        "{scan}"
    );
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000
}

/// The AWS CLI of the tools venv (`scripts/services.sh venv` prints its bin folder).
fn aws_cli() -> Option<PathBuf> {
    let cache = std::env::var("ABFORGE_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/abforge"));
    let aws = cache.join("venv/bin/aws");
    aws.is_file().then_some(aws)
}
