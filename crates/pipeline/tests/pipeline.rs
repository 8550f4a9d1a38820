//! The pipeline end to end on the embedded backends (a SQLite file and a local folder), and
//! on PostgreSQL + S3 + DynamoDB when the test services are running
//! (`ABFORGE_TEST_DATABASE_URL`, `ABFORGE_TEST_S3_ENDPOINT`, `ABFORGE_TEST_DYNAMODB_ENDPOINT`;
//! `scripts/test.sh` starts them).

#![allow(clippy::print_stderr)] // the skip note of the PostgreSQL test without its server

use abforge_pipeline::{Pipeline, Quiet, Retry, RunPlan, RunReport, Settings, Step, StepState};
use abforge_store::relational::RunStatus;
use abforge_store::runlog::StepStatus;
use abforge_synth::{Blueprint, Shard};
use chrono::NaiveDate;
use futures_util::StreamExt;
use std::path::Path;
use std::time::Duration;

const BLUEPRINT: &str = r#"
id = "pipe"
seed = 11
customers = 150000
start_date = 2026-11-23
days = 7

[groups]
control = 0.5
treatment = 0.5

[attributes.region]
EUR = 1
NAM = 2

[metrics.revenue]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { shape = { choose = [2, 2.4] }, scale = 10 }

[metrics.items]
distribution = "poisson"
control = { lambda = 3 }
treatment = { lift = 0.1 }
"#;

fn blueprint() -> Blueprint {
    Blueprint::from_toml(BLUEPRINT).unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn embedded(dir: &Path) -> Settings {
    let sqlite = format!("sqlite://{}", dir.join("abforge.sqlite").display());
    Settings {
        data_dir: dir.to_path_buf(),
        database_url: sqlite.clone(),
        run_log_url: sqlite,
        object_store_url: None,
        api_url: None,
        api_token: None,
        blueprint: "unused.toml".into(),
        retry: Retry {
            attempts: 3,
            delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        },
        config_file: None,
    }
}

async fn run(settings: &Settings, plan: &RunPlan) -> RunReport {
    let p = Pipeline::open(settings.clone()).await.unwrap();
    p.run(plan, &Quiet).await.unwrap()
}

/// What landed, read back in customer order: (customer_id, group, items) of every row.
async fn landed(p: &Pipeline, plan: &RunPlan) -> Vec<(i64, String, i64)> {
    let schema = plan.generator().schema();
    let mut s = p
        .db()
        .scan_customers(&plan.run_id, schema, 50_000)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(b) = s.next().await {
        let b = b.unwrap();
        out.extend(rows_of(&b));
    }
    out
}

fn rows_of(b: &arrow_array::RecordBatch) -> Vec<(i64, String, i64)> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    let utf8 = |name: &str| {
        arrow_cast::cast(
            b.column_by_name(name).unwrap(),
            &arrow_schema::DataType::Utf8,
        )
        .unwrap()
    };
    let ids = b
        .column_by_name("customer_id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .clone();
    let groups = utf8("group");
    let groups = groups.as_string::<i32>();
    let items = b
        .column_by_name("items")
        .unwrap()
        .as_primitive::<Int64Type>()
        .clone();
    (0..b.num_rows())
        .map(|i| (ids.value(i), groups.value(i).to_string(), items.value(i)))
        .collect()
}

async fn check_complete(settings: &Settings, plan: &RunPlan, report: &RunReport) {
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    assert_eq!(report.rows, Some(150_000));
    assert!(report.steps.iter().all(|s| s.state != StepState::Failed));
    let p = Pipeline::open(settings.clone()).await.unwrap();
    assert_eq!(p.db().count_customers(&plan.run_id).await.unwrap(), 150_000);
    // The params went through the API into the object store, with the truth it computed.
    let params: serde_json::Value = p
        .objects()
        .get_json(&plan.params_key())
        .await
        .unwrap()
        .expect("params stored")
        .0;
    assert_eq!(params["blueprint_hash"], plan.blueprint_hash.as_str());
    assert!(params["truth"].is_object(), "{params}");
    // Every metric × test decision against the truth, in ab_results.
    let results = p.db().results(&plan.run_id).await.unwrap();
    assert_eq!(results, report.results);
    for metric in ["revenue", "items"] {
        let tests: Vec<&str> = results
            .iter()
            .filter(|r| r.metric == metric)
            .map(|r| r.test.as_str())
            .collect();
        assert!(tests.contains(&"welch_t"), "{metric}: {tests:?}");
        assert!(tests.contains(&"mann_whitney_u"), "{metric}: {tests:?}");
    }
    assert!(
        results
            .iter()
            .any(|r| r.metric == "items" && r.test.starts_with("poisson"))
    );
    for r in &results {
        if let (Some(reject), Some(null)) = (r.reject, r.null_true) {
            let want = match (null, reject) {
                (true, true) => "type_i",
                (false, false) => "type_ii",
                _ => "correct",
            };
            assert_eq!(r.outcome.as_deref(), Some(want), "{r:?}");
        }
    }
    // items has a true 10 % lift and 75 000 customers per arm: Welch finds it.
    let welch = results
        .iter()
        .find(|r| r.metric == "items" && r.test == "welch_t")
        .unwrap();
    assert_eq!(welch.null_true, Some(false));
    assert_eq!(welch.reject, Some(true));
    // The analysis report is in the object store too.
    assert!(
        p.objects()
            .head(&plan.analysis_key())
            .await
            .unwrap()
            .is_some()
    );
    // Each step's attempt is in the run log.
    let attempts = p.log().attempts(&plan.run_id).await.unwrap();
    for step in Step::ALL {
        assert!(
            attempts
                .iter()
                .any(|a| a.step == step.name() && a.status == StepStatus::Succeeded),
            "{step}: {attempts:#?}"
        );
    }
    let land = attempts.iter().rfind(|a| a.step == "land").unwrap();
    assert_eq!(land.rows, Some(150_000));
    assert!(land.duration_ms.is_some() && land.ended_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_the_embedded_backends_lands_publishes_and_judges() {
    let dir = tempfile::tempdir().unwrap();
    let settings = embedded(dir.path());
    let plan = RunPlan::new(&blueprint(), date("2026-11-23")).unwrap();
    let report = run(&settings, &plan).await;
    check_complete(&settings, &plan, &report).await;
    assert!(dir.path().join("abforge.sqlite").is_file());
    assert!(dir.path().join("objects").join(plan.params_key()).is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_replaces_and_never_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let settings = embedded(dir.path());
    let plan = RunPlan::new(&blueprint(), date("2026-11-30")).unwrap();
    let first = run(&settings, &plan).await;
    let p = Pipeline::open(settings.clone()).await.unwrap();
    let rows_first = landed(&p, &plan).await;
    let second = run(&settings, &plan).await;
    check_complete(&settings, &plan, &second).await;
    assert_eq!(
        second.resumed_from, None,
        "a succeeded run runs again in full"
    );
    assert_eq!(first.results, second.results);
    assert_eq!(landed(&p, &plan).await, rows_first);
    let attempts = p.log().attempts(&plan.run_id).await.unwrap();
    assert_eq!(attempts.len(), 8);
    assert_eq!(
        attempts
            .iter()
            .filter(|a| a.step == "land")
            .map(|a| a.attempt)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(p.db().runs(Some("pipe")).await.unwrap().len(), 1);
    // The publish of the same params wrote nothing new.
    let publish = attempts.iter().rfind(|a| a.step == "publish").unwrap();
    assert!(
        publish.message.as_deref().unwrap().contains("unchanged"),
        "{publish:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landing_the_shards_equals_landing_the_whole() {
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = embedded(whole_dir.path());
    let plan = RunPlan::new(&blueprint(), date("2026-12-07")).unwrap();
    let whole_report = run(&whole, &plan).await;

    let dir = tempfile::tempdir().unwrap();
    let sharded = embedded(dir.path());
    let p = Pipeline::open(sharded.clone()).await.unwrap();
    // Shards in an odd order, one of them twice: the result is the same.
    for k in [2, 0, 1, 0] {
        let shard = Some(Shard { index: k, count: 3 });
        for step in [Step::Generate, Step::Land] {
            let r = p.step(&plan, step, shard, &Quiet).await.unwrap();
            assert_eq!(r.state, StepState::Succeeded, "{r:?}");
        }
    }
    for step in [Step::Publish, Step::Analyze] {
        let r = p.step(&plan, step, None, &Quiet).await.unwrap();
        assert_eq!(r.state, StepState::Succeeded, "{r:?}");
    }
    let w = Pipeline::open(whole.clone()).await.unwrap();
    assert_eq!(landed(&p, &plan).await, landed(&w, &plan).await);
    assert_eq!(
        p.db().results(&plan.run_id).await.unwrap(),
        whole_report.results
    );
    let rec = p.db().run(&plan.run_id).await.unwrap().unwrap();
    assert_eq!(rec.status, RunStatus::Succeeded);
    assert_eq!(rec.rows, Some(150_000));
    let parts = p
        .objects()
        .list(&format!("{}/customers", plan.prefix()))
        .await
        .unwrap();
    assert_eq!(parts.len(), 3, "{parts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_keeps_earlier_data_and_the_next_run_resumes_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded(dir.path());
    // Nothing listens on port 9 of loopback: publishing fails (transiently, so it is
    // retried — three attempts — before the run fails).
    settings.api_url = Some("http://127.0.0.1:9".into());
    let plan = RunPlan::new(&blueprint(), date("2026-12-14")).unwrap();
    let failed = run(&settings, &plan).await;
    assert_eq!(failed.status, RunStatus::Failed);
    let publish = failed
        .steps
        .iter()
        .find(|s| s.step == Step::Publish)
        .unwrap();
    assert_eq!(publish.state, StepState::Failed);
    assert_eq!(publish.attempts, 3);
    assert!(
        publish.error.as_deref().unwrap().contains("127.0.0.1:9"),
        "{publish:?}"
    );
    assert!(failed.steps.iter().all(|s| s.step != Step::Analyze));

    let p = Pipeline::open(settings.clone()).await.unwrap();
    assert_eq!(p.db().count_customers(&plan.run_id).await.unwrap(), 150_000);
    assert_eq!(
        p.db().run(&plan.run_id).await.unwrap().unwrap().status,
        RunStatus::Failed
    );
    let attempts = p.log().attempts(&plan.run_id).await.unwrap();
    let failures: Vec<_> = attempts
        .iter()
        .filter(|a| a.status == StepStatus::Failed)
        .collect();
    assert_eq!(failures.len(), 3);
    assert!(
        failures
            .iter()
            .all(|a| a.step == "publish" && a.error.is_some())
    );

    settings.api_url = None;
    let resumed = run(&settings, &plan).await;
    assert_eq!(resumed.resumed_from, Some(Step::Publish));
    assert_eq!(resumed.steps[0].state, StepState::Skipped);
    assert_eq!(resumed.steps[1].state, StepState::Skipped);
    check_complete(&settings, &plan, &resumed).await;
    let lands = p
        .log()
        .attempts(&plan.run_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.step == "land")
        .count();
    assert_eq!(lands, 1, "land was not run again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_before_every_shard_landed_is_refused_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let settings = embedded(dir.path());
    let plan = RunPlan::new(&blueprint(), date("2026-12-21")).unwrap();
    let p = Pipeline::open(settings).await.unwrap();
    let shard = Some(Shard { index: 0, count: 2 });
    p.step(&plan, Step::Generate, shard, &Quiet).await.unwrap();
    p.step(&plan, Step::Land, shard, &Quiet).await.unwrap();
    let r = p.step(&plan, Step::Analyze, None, &Quiet).await.unwrap();
    assert_eq!(r.state, StepState::Failed);
    assert_eq!(r.attempts, 1, "not transient: no retry");
    assert!(
        r.error.as_deref().unwrap().contains("land every shard"),
        "{r:?}"
    );
    // Landing a shard that was never generated names the command that makes it.
    let r = p
        .step(
            &plan,
            Step::Land,
            Some(Shard { index: 1, count: 2 }),
            &Quiet,
        )
        .await
        .unwrap();
    assert_eq!(r.state, StepState::Failed);
    assert!(r.error.as_deref().unwrap().contains("--shard 1/2"), "{r:?}");
    assert!(p.step(&plan, Step::Publish, shard, &Quiet).await.is_err());
}

/// PostgreSQL for customers, results and the run log: the same run, the same checks. (The
/// S3 and DynamoDB variant runs through the binary, with the AWS variables set, in the CLI's
/// tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_postgres() {
    let Ok(pg) = std::env::var("ABFORGE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the test services: scripts/test.sh starts them"
        );
        eprintln!("skipped: ABFORGE_TEST_DATABASE_URL is not set (scripts/services.sh start)");
        return;
    };
    let tag = format!(
        "{:x}{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        std::process::id()
    );
    let db = fresh_database(&pg, &tag).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded(dir.path());
    settings.database_url = db.clone();
    settings.run_log_url = db;
    let plan = RunPlan::new(&blueprint(), date("2026-11-23")).unwrap();
    let report = run(&settings, &plan).await;
    check_complete(&settings, &plan, &report).await;
    let again = run(&settings, &plan).await;
    check_complete(&settings, &plan, &again).await;
    assert_eq!(report.results, again.results);
    assert!(
        !dir.path().join("abforge.sqlite").exists(),
        "nothing embedded was used"
    );
}

async fn fresh_database(admin: &str, tag: &str) -> String {
    let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let name = format!("abforge_pipe_{tag}");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
