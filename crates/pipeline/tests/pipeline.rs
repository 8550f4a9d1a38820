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
        quarantine_max: abforge_lake::DEFAULT_QUARANTINE_MAX,
        lease: abforge_pipeline::LeaseSettings::default(),
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
    // The generated part is the file `abforge generate` writes for the run's generator, and
    // the step, when it ran in this invocation, reports its size.
    let key = plan.part_key(None);
    let part = p.objects().get(&key).await.unwrap().expect("part stored");
    let generator = plan.generator();
    let mut file = abforge_synth::BatchWriter::new(
        Vec::new(),
        abforge_synth::Format::Parquet,
        generator.schema(),
    )
    .unwrap();
    let mut generated_rows = Vec::new();
    generator
        .run(
            generator.chunks(None).unwrap(),
            |batches| {
                generated_rows.extend(batches.iter().flat_map(rows_of));
                file.write(&batches)
            },
            &abforge_synth::NoReporter,
        )
        .unwrap();
    let (file, size) = file.finish().unwrap();
    // What landed is what was generated, row for row.
    assert!(
        landed(&p, plan).await == generated_rows,
        "landed rows differ"
    );
    assert!(
        part.bytes == file,
        "the part differs from the file of `abforge generate`"
    );
    let generated = report.steps.iter().find(|s| s.step == Step::Generate);
    if let Some(g) = generated.filter(|s| s.state == StepState::Succeeded) {
        assert_eq!(g.bytes, Some(size), "{report:#?}");
        // Land ran with it, from the same start: the rows were landed as they were made.
        let attempts = p.attempts(&plan.run_id).await.unwrap();
        let last = |step: &str| {
            attempts
                .iter()
                .filter(|a| a.step == step)
                .max_by_key(|a| (a.started_at, a.attempt))
                .unwrap()
                .clone()
        };
        let (g, l) = (last("generate"), last("land"));
        assert_eq!(g.started_at, l.started_at, "{g:?} {l:?}");
        assert!(l.ended_at >= g.ended_at, "{g:?} {l:?}");
        assert_eq!(l.rows, Some(150_000));
    }
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
    // Every layer of the lake holds the run once, and gold/ab_results has its decisions.
    let run = format!("run_id = '{}'", plan.run_id);
    for (table, want) in [
        ("bronze_customers", 150_000),
        ("silver_customers", 150_000),
        ("silver_quarantine", 0),
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {run}");
        assert_eq!(scalar(&p, &sql).await, want, "{sql}");
    }
    let sql = format!("SELECT SUM(n) FROM gold_group_daily WHERE {run} AND metric = 'items'");
    assert_eq!(scalar(&p, &sql).await, 150_000);
    let sql = format!("SELECT COUNT(*) FROM gold_ab_results WHERE {run}");
    assert_eq!(scalar(&p, &sql).await, results.len() as i64);
    let silver = attempts.iter().rfind(|a| a.step == "silver").unwrap();
    assert!(
        silver
            .message
            .as_deref()
            .unwrap()
            .contains("0 of 150000 rows quarantined"),
        "{silver:?}"
    );
}

/// The one Int64 value `sql` yields, through `abforge lake query`'s engine.
async fn scalar(p: &Pipeline, sql: &str) -> i64 {
    use arrow_array::Array;
    let batches = p.lake().query(sql, None).await.unwrap();
    let b = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    let a = b.column(0);
    if a.is_null(0) {
        return 0;
    }
    arrow_cast::cast(a, &arrow_schema::DataType::Int64)
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()
        .unwrap()
        .value(0)
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
    assert_eq!(attempts.len(), 14);
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
    for step in [
        Step::Publish,
        Step::Bronze,
        Step::Silver,
        Step::Gold,
        Step::Analyze,
    ] {
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
async fn the_lake_steps_before_every_shard_landed_are_refused_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let settings = embedded(dir.path());
    let plan = RunPlan::new(&blueprint(), date("2026-12-21")).unwrap();
    let p = Pipeline::open(settings).await.unwrap();
    let shard = Some(Shard { index: 0, count: 2 });
    p.step(&plan, Step::Generate, shard, &Quiet).await.unwrap();
    p.step(&plan, Step::Land, shard, &Quiet).await.unwrap();
    let r = p.step(&plan, Step::Bronze, None, &Quiet).await.unwrap();
    assert_eq!(r.state, StepState::Failed);
    assert_eq!(r.attempts, 1, "not transient: no retry");
    assert!(
        r.error.as_deref().unwrap().contains("land every shard"),
        "{r:?}"
    );
    // Nothing reached the lake, so silver, gold and analyze have nothing to read.
    for (step, want) in [
        (Step::Silver, "run the bronze step first"),
        (Step::Gold, "run the silver step first"),
        (Step::Analyze, "run the bronze and silver steps first"),
    ] {
        let r = p.step(&plan, step, None, &Quiet).await.unwrap();
        assert_eq!(r.state, StepState::Failed, "{step}");
        assert_eq!(r.attempts, 1, "{step}: not transient");
        assert!(r.error.as_deref().unwrap().contains(want), "{step}: {r:?}");
    }
    let failed = p
        .log()
        .attempts(&plan.run_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.status == StepStatus::Failed)
        .count();
    assert_eq!(failed, 4, "every refusal is in the run log");
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
    for step in [Step::Publish, Step::Bronze, Step::Silver, Step::Gold] {
        assert!(p.step(&plan, step, shard, &Quiet).await.is_err(), "{step}");
    }
}

/// Corrupt rows put into the relational store after land — a group the blueprint does not
/// have, a negative count, a NULL date, a customer twice (once with a padded experiment id,
/// which silver conforms) — end in the quarantine with the rule they broke; gold is what the
/// clean data gives; and with a stricter threshold the silver step, and so the run, fails with
/// the counts in the run log.
/// Rows corrupted in the relational store after land (their count unchanged: a count other
/// than the blueprint's is refused by bronze, see below) are quarantined by silver with the
/// first rule each broke, and gold is what the clean run's silver gives without them.
async fn check_bad_rows(settings: Settings, inject: impl AsyncFnOnce(&RunPlan)) {
    let plan = RunPlan::new(&blueprint(), date("2027-01-04")).unwrap();
    // The clean reference: the same run on its own backends.
    let clean_dir = tempfile::tempdir().unwrap();
    let clean = embedded(clean_dir.path());
    let reference = run(&clean, &plan).await;
    assert_eq!(reference.status, RunStatus::Succeeded, "{reference:#?}");

    let p = Pipeline::open(settings.clone()).await.unwrap();
    for step in [Step::Generate, Step::Land, Step::Publish] {
        let r = p.step(&plan, step, None, &Quiet).await.unwrap();
        assert_eq!(r.state, StepState::Succeeded, "{r:?}");
    }
    inject(&plan).await;
    assert_eq!(p.db().count_customers(&plan.run_id).await.unwrap(), 150_000);
    for step in [Step::Bronze, Step::Silver, Step::Gold, Step::Analyze] {
        let r = p.step(&plan, step, None, &Quiet).await.unwrap();
        assert_eq!(r.state, StepState::Succeeded, "{r:?}");
        if step == Step::Bronze {
            assert_eq!(r.rows, Some(150_000), "bronze keeps what landed");
        }
        if step == Step::Silver {
            let m = r.message.unwrap();
            assert!(m.contains("4 of 150000 rows quarantined"), "{m}");
            assert_eq!(r.rows, Some(149_996));
        }
    }
    let quarantined = p
        .lake()
        .query(
            &format!(
                "SELECT customer_id, rule FROM silver_quarantine WHERE run_id = '{}' \
                 ORDER BY customer_id",
                plan.run_id
            ),
            None,
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    for b in &quarantined {
        let ids = arrow_cast::cast(b.column(0), &arrow_schema::DataType::Int64).unwrap();
        let ids = ids
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        let rules = arrow_cast::cast(b.column(1), &arrow_schema::DataType::Utf8).unwrap();
        let rules = rules
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        for i in 0..b.num_rows() {
            got.push((ids.value(i), rules.value(i).to_string()));
        }
    }
    assert_eq!(
        got,
        [
            (0, "group".to_string()),
            (1, "metric:items".to_string()),
            (2, "not_null:purchase_date".to_string()),
            (7, "duplicate".to_string()),
        ]
    );
    // Gold is what the clean run's silver gives without the corrupted customers (0 to 3).
    let run = &plan.run_id;
    let want_sql = format!(
        "SELECT \"group\", CAST(purchase_date AS VARCHAR), 'items', COUNT(*), \
         SUM(CAST(items AS DOUBLE)), SUM(CAST(items AS DOUBLE) * CAST(items AS DOUBLE)), 0.0 AS a, 0.0 AS b \
         FROM silver_customers WHERE run_id = '{run}' AND customer_id > 3 \
         GROUP BY 1, 2 ORDER BY 1, 2"
    );
    let have_sql = format!(
        "SELECT \"group\", CAST(purchase_date AS VARCHAR), metric, n, \"sum\", sum_sq, 0.0 AS a, 0.0 AS b \
         FROM gold_group_daily WHERE run_id = '{run}' AND metric = 'items' ORDER BY 1, 2"
    );
    let c = Pipeline::open(clean.clone()).await.unwrap();
    let want = gold_rows(&c, &want_sql).await;
    let have = gold_rows(&p, &have_sql).await;
    assert_eq!(want.len(), 2 * 7, "2 groups × 7 days");
    assert_eq!(want.len(), have.len());
    for (w, h) in want.iter().zip(&have) {
        assert_eq!((&w.0, w.1), (&h.0, h.1), "{w:?} {h:?}");
        for (a, b) in w.2.iter().zip(&h.2) {
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{w:?} {h:?}");
        }
    }

    // Above the threshold (4 rows of 150 000 is 0.0027 %): silver fails, and so the run.
    let mut strict = settings.clone();
    strict.quarantine_max = 0.00001;
    let s = Pipeline::open(strict).await.unwrap();
    // (The step alone: a whole run would land the run again and drop the corruptions.)
    let silver = s.step(&plan, Step::Silver, None, &Quiet).await.unwrap();
    assert_eq!(silver.state, StepState::Failed);
    assert_eq!(silver.attempts, 1, "a failed gate is not retried");
    let attempts = s.log().attempts(&plan.run_id).await.unwrap();
    let logged = attempts.iter().rfind(|a| a.step == "silver").unwrap();
    assert_eq!(logged.status, StepStatus::Failed);
    let error = logged.error.as_deref().unwrap();
    for want in [
        "4 of 150000 rows quarantined",
        "ABOVE the threshold 0.0010 %",
        "group 1",
        "metric:items 1",
        "not_null:purchase_date 1",
        "duplicate 1",
    ] {
        assert!(error.contains(want), "{want:?} in {error}");
    }
    assert_eq!(
        s.db().run(&plan.run_id).await.unwrap().unwrap().status,
        RunStatus::Failed
    );
}

/// (group, date and metric, [n, sum, sum_sq, mean, variance]) of gold/group_daily.
async fn gold_rows(p: &Pipeline, sql: &str) -> Vec<(String, i64, Vec<f64>)> {
    let mut out = Vec::new();
    for b in p.lake().query(sql, None).await.unwrap() {
        let text = |i: usize| {
            let a = arrow_cast::cast(b.column(i), &arrow_schema::DataType::Utf8).unwrap();
            a.as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap()
                .clone()
        };
        let real = |i: usize| {
            let a = arrow_cast::cast(b.column(i), &arrow_schema::DataType::Float64).unwrap();
            a.as_any()
                .downcast_ref::<arrow_array::Float64Array>()
                .unwrap()
                .clone()
        };
        let (g, d, m) = (text(0), text(1), text(2));
        let n = arrow_cast::cast(b.column(3), &arrow_schema::DataType::Int64).unwrap();
        let n = n
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap()
            .clone();
        let cols: Vec<_> = (4..8).map(real).collect();
        for i in 0..b.num_rows() {
            out.push((
                format!("{} {} {}", g.value(i), d.value(i), m.value(i)),
                n.value(i),
                cols.iter().map(|c| c.value(i)).collect(),
            ));
        }
    }
    out
}

/// `UPDATE customers SET …` of customer `id` of the run.
fn update_sql(run_id: &str, id: i64, changes: &[(&str, &str)]) -> String {
    let mut set: Vec<String> = changes
        .iter()
        .map(|(c, v)| format!("\"{c}\" = {v}"))
        .collect();
    if id == 3 {
        set.extend(COPIED.iter().map(|c| {
            format!(
                "\"{c}\" = (SELECT \"{c}\" FROM customers WHERE run_id = '{run_id}' \
                 AND customer_id = 7)"
            )
        }));
    }
    format!(
        "UPDATE customers SET {} WHERE run_id = '{run_id}' AND customer_id = {id}",
        set.join(", ")
    )
}

/// The corruptions, as (customer, changes): a group the blueprint lacks, a count below its
/// support, a missing date, and customer 3 turned into a copy of customer 7 (its experiment
/// id with a space that silver trims: a duplicate).
const CORRUPTIONS: [(i64, &[(&str, &str)]); 4] = [
    (0, &[("group", "'holdout'")]),
    (1, &[("items", "-3")]),
    (2, &[("purchase_date", "NULL")]),
    (3, &[("customer_id", "7"), ("experiment_id", "'pipe '")]),
];

/// The columns customer 3 takes from customer 7 (with [`CORRUPTIONS`]' id and experiment
/// id, it becomes a copy of it).
const COPIED: [&str; 5] = ["group", "region", "purchase_date", "revenue", "items"];

/// Bronze refuses a run whose landed count differs from its blueprint's, either way, naming
/// both numbers: rows added to the relational store behind the pipeline's back never reach
/// the lake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bronze_refuses_a_landed_count_other_than_the_blueprints() {
    let dir = tempfile::tempdir().unwrap();
    let settings = embedded(dir.path());
    let plan = RunPlan::new(&blueprint(), date("2027-01-11")).unwrap();
    let p = Pipeline::open(settings).await.unwrap();
    for step in [Step::Generate, Step::Land, Step::Publish] {
        let r = p.step(&plan, step, None, &Quiet).await.unwrap();
        assert_eq!(r.state, StepState::Succeeded, "{r:?}");
    }
    let c = rusqlite::Connection::open(dir.path().join("abforge.sqlite")).unwrap();
    let run = &plan.run_id;
    let columns: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('customers')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let copy: Vec<String> = columns
        .iter()
        .map(|k| match k.as_str() {
            "customer_id" => "150000".to_string(),
            k => format!("\"{k}\""),
        })
        .collect();
    let quoted: Vec<String> = columns.iter().map(|k| format!("\"{k}\"")).collect();
    for (sql, want) in [
        (
            format!(
                "INSERT INTO customers ({}) SELECT {} FROM customers \
                 WHERE run_id = '{run}' AND customer_id = 0",
                quoted.join(", "),
                copy.join(", ")
            ),
            "150001 customers have landed but its blueprint has 150000",
        ),
        (
            format!("DELETE FROM customers WHERE run_id = '{run}' AND customer_id >= 149999"),
            "149999 of 150000 customers have landed",
        ),
    ] {
        c.execute(&sql, []).unwrap();
        let r = p.step(&plan, Step::Bronze, None, &Quiet).await.unwrap();
        assert_eq!(r.state, StepState::Failed, "{r:?}");
        let error = r.error.unwrap();
        assert!(error.contains(want), "{want:?} in {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_in_sqlite_are_quarantined_and_gold_stays_right() {
    let dir = tempfile::tempdir().unwrap();
    let settings = embedded(dir.path());
    let db = dir.path().join("abforge.sqlite");
    check_bad_rows(settings, async |plan: &RunPlan| {
        let c = rusqlite::Connection::open(&db).unwrap();
        for (id, changes) in CORRUPTIONS {
            c.execute(&update_sql(&plan.run_id, id, changes), [])
                .unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_in_postgres_are_quarantined_and_gold_stays_right() {
    let Some((_, db)) = postgres_database("bad").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded(dir.path());
    settings.database_url = db.clone();
    check_bad_rows(settings, async |plan: &RunPlan| {
        let client = abforge_store::postgres::connect(&db).await.unwrap();
        for (id, changes) in CORRUPTIONS {
            client
                .batch_execute(&update_sql(&plan.run_id, id, changes))
                .await
                .unwrap();
        }
    })
    .await;
}

/// PostgreSQL for customers, results and the run log: the same run, the same checks. (The
/// S3 and DynamoDB variant runs through the binary, with the AWS variables set, in the CLI's
/// tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_postgres() {
    let Some((_, db)) = postgres_database("").await else {
        return;
    };
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

/// The test server's URL and a fresh database on it named after `prefix`; `None` (the test
/// is skipped) when the test services are not running, which CI never allows.
async fn postgres_database(prefix: &str) -> Option<(String, String)> {
    let Ok(pg) = std::env::var("ABFORGE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the test services: scripts/test.sh starts them"
        );
        eprintln!("skipped: ABFORGE_TEST_DATABASE_URL is not set (scripts/services.sh start)");
        return None;
    };
    let tag = format!(
        "{prefix}{:x}{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        std::process::id()
    );
    let db = fresh_database(&pg, &tag).await;
    Some((pg, db))
}

async fn fresh_database(admin: &str, tag: &str) -> String {
    let client = abforge_store::postgres::connect(admin).await.unwrap();
    let name = format!("abforge_pipe_{tag}");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    with_database(admin, &name)
}

/// `url` naming database `name` (its query, e.g. the TLS settings, kept).
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    let (base, _) = head.rsplit_once('/').unwrap();
    match query {
        "" => format!("{base}/{name}"),
        q => format!("{base}/{name}?{q}"),
    }
}

/// The database a `postgres://…/name?…` URL names.
fn database_of(url: &str) -> String {
    let head = url.split_once('?').map_or(url, |(h, _)| h);
    head.rsplit_once('/').unwrap().1.to_string()
}

/// `pipeline run` on PostgreSQL whose COPY is cut off mid-load (its server process
/// terminated, a transient error): generate completes its part, land's first attempt is
/// logged failed, and land goes on alone from the part, landing every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_land_cut_off_in_a_run_goes_on_alone_from_the_part() {
    let Some((pg, db)) = postgres_database("cut").await else {
        return;
    };
    let name = database_of(&db);
    let dir = tempfile::tempdir().unwrap();
    let mut settings = embedded(dir.path());
    settings.database_url = db;
    // Enough rows for the COPY to last a while.
    let big = Blueprint::from_toml(&BLUEPRINT.replace("customers = 150000", "customers = 1000000"))
        .unwrap();
    let plan = RunPlan::new(&big, date("2026-11-23")).unwrap();
    // Terminates the first COPY into the test's database seen running.
    let admin = abforge_store::postgres::connect(&pg).await.unwrap();
    let cutter = tokio::spawn(async move {
        for _ in 0..20_000 {
            let cut = admin
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND state = 'active' AND query LIKE 'COPY%'",
                    &[&name],
                )
                .await
                .unwrap();
            if !cut.is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        false
    });
    let report = run(&settings, &plan).await;
    assert!(cutter.await.unwrap(), "no COPY was seen to cut off");
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    let steps: Vec<_> = report.steps.iter().map(|s| (s.step, s.attempts)).collect();
    assert_eq!(
        steps[..2],
        [(Step::Generate, 1), (Step::Land, 2)],
        "{report:#?}"
    );
    let p = Pipeline::open(settings).await.unwrap();
    let land: Vec<_> = p
        .attempts(&plan.run_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.step == "land")
        .collect();
    assert_eq!(land.len(), 2, "{land:?}");
    assert!(
        land[0].error.is_some() && land[1].error.is_none(),
        "{land:?}"
    );
    assert!(
        land[1].message.as_deref().unwrap().contains("from runs/"),
        "{land:?}"
    );
    let rows = landed(&p, &plan).await;
    assert_eq!(rows.len(), 1_000_000);
    assert!(
        rows.windows(2).all(|w| w[0].0 + 1 == w[1].0),
        "ids once each, in order"
    );
}
