//! The run log: the conformance suite against SQLite (always), DynamoDB (when
//! `ABFORGE_TEST_DYNAMODB_ENDPOINT` names a server, e.g. moto from `scripts/services.sh`) and
//! PostgreSQL (when `ABFORGE_TEST_DATABASE_URL` names one: each test makes a fresh database
//! through it and drops it after); plus what each backend does beyond the suite.

use abforge_store::Error;
use abforge_store::conformance::runlog as conformance;
use abforge_store::dynamodb::{DynamoOptions, DynamoRunLog};
use abforge_store::postgres::PostgresRunLog;
use abforge_store::relational;
use abforge_store::runlog::{self, RunLog, StepAttempt, StepStatus};
use abforge_store::sqlite::SqliteRunLog;
use futures_util::future::join_all;
use std::io::Write;
use std::time::{Duration, Instant};

fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A name unique to this test run: lower-case hex.
fn unique(prefix: &str) -> String {
    let id = conformance::unique_run_id("x");
    format!("{prefix}{}", id.rsplit('-').next().unwrap())
}

// --- SQLite -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/folders/abforge.sqlite");
    let url = format!("sqlite://{}", path.display());
    assert!(url.starts_with("sqlite:///"));
    let log = runlog::open(&url).await.unwrap();
    assert_eq!(log.backend(), "sqlite");
    assert_eq!(log.url(), url);
    assert!(path.is_file());
    conformance::run_all(log.as_ref()).await;
    // Twice on the same file: the suite's runs never meet.
    conformance::run_all(log.as_ref()).await;
}

/// The migrations table is shared: the run log records its own version, leaves the
/// relational store's rows and tables alone, and concurrent opens migrate once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_are_versioned_and_shared() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abforge.sqlite");
    {
        // What the relational store may have left there first.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE abforge_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, \
             applied_at TEXT NOT NULL, PRIMARY KEY (component, version));
             INSERT INTO abforge_migrations VALUES ('relational', 1, 'x'), ('relational', 2, 'y');
             CREATE TABLE runs (run_id TEXT PRIMARY KEY);
             INSERT INTO runs VALUES ('kept');",
        )
        .unwrap();
    }
    let logs = join_all((0..4).map(|_| SqliteRunLog::open_path(&path))).await;
    let logs: Vec<SqliteRunLog> = logs.into_iter().map(Result::unwrap).collect();
    for log in &logs {
        assert_eq!(log.schema_version().await.unwrap(), 1);
    }
    drop(logs);
    let again = SqliteRunLog::open_path(&path).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 1);

    let c = rusqlite::Connection::open(&path).unwrap();
    let rows: Vec<(String, i64)> = c
        .prepare("SELECT component, version FROM abforge_migrations ORDER BY component, version")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want = [("relational", 1), ("relational", 2), ("runlog", 1)];
    let want: Vec<(String, i64)> = want.iter().map(|(c, v)| (c.to_string(), *v)).collect();
    assert_eq!(rows, want);
    let kept: String = c
        .query_row("SELECT run_id FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "kept");
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// The run log and the relational store in one SQLite file, opened at once: each migrates
/// its own component, neither disturbs the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_shared_with_the_relational_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("abforge.sqlite").display());
    let (log, store) = tokio::join!(runlog::open(&url), relational::open(&url));
    let (log, store) = (log.unwrap(), store.unwrap());
    store.check().await.unwrap();
    let relational_version = store.schema_version().await.unwrap();
    assert!(relational_version >= 1);
    conformance::start_then_finish(log.as_ref()).await;
    // Opening both again migrates nothing more.
    let (log2, store2) = tokio::join!(runlog::open(&url), relational::open(&url));
    log2.unwrap().check().await.unwrap();
    assert_eq!(
        store2.unwrap().schema_version().await.unwrap(),
        relational_version
    );
    let c = rusqlite::Connection::open(dir.path().join("abforge.sqlite")).unwrap();
    let count = |component: &str| -> i64 {
        c.query_row(
            "SELECT COUNT(*) FROM abforge_migrations WHERE component = ?1",
            [component],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("runlog"), 1);
    assert_eq!(count("relational"), i64::from(relational_version));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abforge.sqlite");
    drop(SqliteRunLog::open_path(&path).await.unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "INSERT INTO abforge_migrations VALUES ('runlog', 99, 'later')",
        [],
    )
    .unwrap();
    let e = SqliteRunLog::open_path(&path).await.unwrap_err();
    assert!(matches!(e, Error::Data(_)), "{e}");
    assert!(e.to_string().contains("99"), "{e}");
}

/// Two handles (two connections, as two processes would have) on one file still get
/// distinct, consecutive attempt numbers: the immediate transaction serialises them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_handles_on_one_file_share_attempt_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abforge.sqlite");
    let a = SqliteRunLog::open_path(&path).await.unwrap();
    let b = SqliteRunLog::open_path(&path).await.unwrap();
    let starts = (0..16).map(|i| {
        let log = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { log.start("e", "r", "land", Some("1/1")).await }
    });
    let mut numbers: Vec<u32> = join_all(starts)
        .await
        .into_iter()
        .map(|r| r.unwrap().attempt)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=16).collect::<Vec<u32>>());
}

#[tokio::test]
async fn unknown_schemes_and_bad_urls_are_configuration_errors() {
    for url in ["ftp://x", "runs.sqlite", "mysql://u@h/db"] {
        let e = runlog::open(url).await.unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{url}: {e}");
        let text = e.to_string();
        for scheme in ["sqlite://", "dynamodb://", "postgres://"] {
            assert!(text.contains(scheme), "{text}");
        }
    }
    let e = runlog::open("ftp://user:s3cret@host/x").await.unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
    for url in ["sqlite://", "dynamodb://", "dynamodb://a/b"] {
        let e = runlog::open(url).await.unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{url}: {e}");
    }
}

// --- DynamoDB ---------------------------------------------------------------------------

/// The DynamoDB endpoint of the test server, or a note why the test is skipped.
fn dynamodb_endpoint(test: &str) -> Option<String> {
    let endpoint = env("ABFORGE_TEST_DYNAMODB_ENDPOINT");
    if endpoint.is_none() {
        skip(
            test,
            "ABFORGE_TEST_DYNAMODB_ENDPOINT is not set (bash scripts/services.sh start)",
        );
    }
    endpoint
}

async fn open_dynamodb(endpoint: &str, table: &str) -> DynamoRunLog {
    let options = DynamoOptions::default().with_endpoint(endpoint);
    DynamoRunLog::open_with(&format!("dynamodb://{table}"), options)
        .await
        .unwrap()
}

async fn delete_table(log: &DynamoRunLog) {
    log.client()
        .delete_table()
        .table_name(log.table())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_conformance() {
    let Some(endpoint) = dynamodb_endpoint("dynamodb_conformance") else {
        return;
    };
    let table = unique("abforge-runlog-");
    let log = open_dynamodb(&endpoint, &table).await;
    assert_eq!(log.backend(), "dynamodb");
    assert_eq!(log.url(), format!("dynamodb://{table}"));
    conformance::run_all(&log).await;
    // Opening an existing table neither fails nor loses anything.
    let again = open_dynamodb(&endpoint, &table).await;
    assert!(!again.runs(usize::MAX).await.unwrap().is_empty());
    conformance::run_all(&again).await;
    delete_table(&log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_refuses_a_table_with_other_keys() {
    let Some(endpoint) = dynamodb_endpoint("dynamodb_refuses_a_table_with_other_keys") else {
        return;
    };
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let log = open_dynamodb(&endpoint, &unique("abforge-runlog-")).await;
    let other = unique("abforge-other-");
    log.client()
        .create_table()
        .table_name(&other)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let e = DynamoRunLog::open_with(
        &format!("dynamodb://{other}"),
        DynamoOptions::default().with_endpoint(&endpoint),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    delete_table(&DynamoRunLog::from_client(log.client().clone(), other)).await;
    delete_table(&log).await;
}

/// Nothing listens on the port: a transient service error, soon, not a hang or a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_unreachable_endpoint_is_a_transient_error() {
    let test = "dynamodb_unreachable_endpoint_is_a_transient_error";
    // Without credentials in the environment the SDK's chain would ask the instance metadata
    // service first; the services' env file has them.
    if env("AWS_ACCESS_KEY_ID").is_none() {
        skip(
            test,
            "AWS_ACCESS_KEY_ID is not set (the services' env file sets it)",
        );
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t0 = Instant::now();
    let e = DynamoRunLog::open_with(
        "dynamodb://abforge-unreachable",
        DynamoOptions::default()
            .with_endpoint(format!("http://127.0.0.1:{port}"))
            .with_region("us-east-1"),
    )
    .await
    .unwrap_err();
    let took = t0.elapsed();
    let _ = writeln!(std::io::stderr(), "after {took:?}: {e}");
    match &e {
        Error::Service {
            backend, transient, ..
        } => {
            assert_eq!(*backend, "dynamodb");
            assert!(*transient, "{e}");
        }
        other => panic!("expected a service error, got {other:?}"),
    }
    assert!(e.is_transient());
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// What lands in DynamoDB, as the AWS CLI sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_items_as_the_aws_cli_sees_them() {
    let test = "dynamodb_items_as_the_aws_cli_sees_them";
    let Some(endpoint) = dynamodb_endpoint(test) else {
        return;
    };
    let Some(aws) = aws_cli() else {
        skip(
            test,
            "the AWS CLI is not found (bash scripts/services.sh venv)",
        );
        return;
    };
    let table = unique("abforge-runlog-");
    let log = open_dynamodb(&endpoint, &table).await;
    let a = log
        .start("seed", "seed-1", "land", Some("1/2"))
        .await
        .unwrap();
    let done = StepAttempt {
        status: StepStatus::Succeeded,
        ended_at: Some(a.started_at + chrono::TimeDelta::milliseconds(42)),
        duration_ms: Some(42),
        rows: Some(100_000),
        bytes: Some(1_234_567),
        message: Some("landed".into()),
        ..a.clone()
    };
    log.finish(&done).await.unwrap();
    let b = log.start("seed", "seed-1", "analyze", None).await.unwrap();

    let out = std::process::Command::new(&aws)
        .args([
            "dynamodb",
            "scan",
            "--output",
            "json",
            "--table-name",
            &table,
        ])
        .args(["--endpoint-url", &endpoint])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aws dynamodb scan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut items = doc["Items"].as_array().unwrap().clone();
    items.sort_by_key(|i| i["sk"]["S"].as_str().unwrap().to_string());
    assert_eq!(items.len(), 2, "{doc:#}");
    let ts = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();

    let analyze = &items[0];
    assert_eq!(
        *analyze,
        serde_json::json!({
            "run_id": { "S": "seed-1" },
            "sk": { "S": "analyze##0000000001" },
            "experiment_id": { "S": "seed" },
            "step": { "S": "analyze" },
            "attempt": { "N": "1" },
            "status": { "S": "started" },
            "started_at": { "S": ts(b.started_at) },
        })
    );
    let land = &items[1];
    assert_eq!(
        *land,
        serde_json::json!({
            "run_id": { "S": "seed-1" },
            "sk": { "S": "land#1/2#0000000001" },
            "experiment_id": { "S": "seed" },
            "step": { "S": "land" },
            "shard": { "S": "1/2" },
            "attempt": { "N": "1" },
            "status": { "S": "succeeded" },
            "started_at": { "S": ts(a.started_at) },
            "ended_at": { "S": ts(done.ended_at.unwrap()) },
            "duration_ms": { "N": "42" },
            "rows": { "N": "100000" },
            "bytes": { "N": "1234567" },
            "message": { "S": "landed" },
        })
    );
    delete_table(&log).await;
}

/// The AWS CLI: on the PATH, or in the tools venv that `scripts/services.sh venv` names.
fn aws_cli() -> Option<std::path::PathBuf> {
    let works = |p: &std::path::Path| {
        std::process::Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services.sh");
    if let Ok(out) = std::process::Command::new("bash")
        .arg(&script)
        .arg("venv")
        .output()
        && out.status.success()
    {
        let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let aws = std::path::Path::new(&bin).join("aws");
        if works(&aws) {
            return Some(aws);
        }
    }
    let aws = std::path::PathBuf::from("aws");
    works(&aws).then_some(aws)
}

/// `runlog::open("dynamodb://…")` takes its endpoint from `AWS_ENDPOINT_URL_DYNAMODB` or
/// `AWS_ENDPOINT_URL`: run with one of them set to the test server to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_endpoint_from_the_environment() {
    let test = "dynamodb_endpoint_from_the_environment";
    if env("AWS_ENDPOINT_URL_DYNAMODB").is_none() && env("AWS_ENDPOINT_URL").is_none() {
        skip(
            test,
            "neither AWS_ENDPOINT_URL_DYNAMODB nor AWS_ENDPOINT_URL is set",
        );
        return;
    }
    let table = unique("abforge-runlog-env-");
    let log = runlog::open(&format!("dynamodb://{table}")).await.unwrap();
    let a = log.start("e", "r", "generate", None).await.unwrap();
    assert_eq!(log.attempts("r").await.unwrap(), [a]);
}

// --- PostgreSQL -------------------------------------------------------------------------

/// A fresh database on the test server, dropped by [`FreshDatabase::drop_now`].
struct FreshDatabase {
    admin: tokio_postgres::Client,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(test: &str) -> Option<FreshDatabase> {
        let Some(base) = env("ABFORGE_TEST_DATABASE_URL") else {
            skip(
                test,
                "ABFORGE_TEST_DATABASE_URL is not set (bash scripts/services.sh start)",
            );
            return None;
        };
        let admin = abforge_store::postgres::connect(&base).await.unwrap();
        let name = unique("abforge_rl_");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let url = with_database(&base, &name);
        Some(FreshDatabase { admin, name, url })
    }

    /// A connection to the fresh database.
    async fn admin_of_db(&self) -> tokio_postgres::Client {
        abforge_store::postgres::connect(&self.url).await.unwrap()
    }

    async fn drop_now(self) {
        self.admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }
}

/// `url` naming database `db` instead of its own.
fn with_database(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = head.split_once("://").unwrap();
    let authority = rest.split('/').next().unwrap();
    format!("{scheme}://{authority}/{db}{query}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conformance() {
    let Some(db) = FreshDatabase::create("postgres_conformance").await else {
        return;
    };
    {
        let log = runlog::open(&db.url).await.unwrap();
        assert_eq!(log.backend(), "postgres");
        conformance::run_all(log.as_ref()).await;
        conformance::run_all(log.as_ref()).await;
    }
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_and_handles_share_the_database() {
    let Some(db) =
        FreshDatabase::create("postgres_migrations_and_handles_share_the_database").await
    else {
        return;
    };
    {
        let logs = join_all((0..4).map(|_| PostgresRunLog::open(&db.url))).await;
        let logs: Vec<PostgresRunLog> = logs.into_iter().map(Result::unwrap).collect();
        for log in &logs {
            assert_eq!(log.schema_version().await.unwrap(), 1);
        }
        // Starts through four connections at once: distinct, consecutive numbers.
        let starts = (0..16).map(|i| logs[i % 4].start("e", "r", "land", None));
        let mut numbers: Vec<u32> = join_all(starts)
            .await
            .into_iter()
            .map(|r| r.unwrap().attempt)
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=16).collect::<Vec<u32>>());

        let rows = db
            .admin_of_db()
            .await
            .query(
                "SELECT component, version FROM abforge_migrations ORDER BY 1, 2",
                &[],
            )
            .await
            .unwrap();
        let rows: Vec<(String, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(rows, [("runlog".to_string(), 1)]);
    }
    db.drop_now().await;
}

/// The run log and the relational store in one PostgreSQL database, opened at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_shared_with_the_relational_store() {
    let Some(db) =
        FreshDatabase::create("postgres_database_shared_with_the_relational_store").await
    else {
        return;
    };
    {
        let (log, store) = tokio::join!(runlog::open(&db.url), relational::open(&db.url));
        let (log, store) = (log.unwrap(), store.unwrap());
        let relational_version = store.schema_version().await.unwrap();
        assert!(relational_version >= 1);
        conformance::start_then_finish(log.as_ref()).await;
        let rows = db
            .admin_of_db()
            .await
            .query(
                "SELECT component, COUNT(*) FROM abforge_migrations GROUP BY 1 ORDER BY 1",
                &[],
            )
            .await
            .unwrap();
        let rows: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            rows,
            [
                ("relational".to_string(), i64::from(relational_version)),
                ("runlog".to_string(), 1)
            ]
        );
    }
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_urls_hide_passwords_and_bad_servers_are_transient() {
    // No server needed: a closed loopback port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://abforge:s3cret@127.0.0.1:{port}/x?connect_timeout=3");
    let t0 = Instant::now();
    let e = runlog::open(&url).await.unwrap_err();
    let _ = writeln!(std::io::stderr(), "after {:?}: {e}", t0.elapsed());
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert!(!e.to_string().contains("s3cret"), "{e}");
    match &e {
        Error::Service {
            backend, transient, ..
        } => {
            assert_eq!(*backend, "postgres");
            assert!(*transient, "{e}");
        }
        other => panic!("expected a service error, got {other:?}"),
    }
}
