//! Every page and its JSON twin through the router (`oneshot`), on a lake the pipeline
//! made: status, content type, and the numbers, checked against the lake's own tables
//! and the truth.

use abforge_api::{ApiConfig, AppState};
use abforge_dashboard::{Dashboard, openapi, router};
use abforge_lake::Lake;
use abforge_lake::arrow::array::{AsArray, RecordBatch};
use abforge_lake::arrow::compute::cast;
use abforge_lake::arrow::datatypes::{DataType, Float64Type, Int64Type};
use abforge_pipeline::{Pipeline, Quiet, Retry, RunPlan, Settings};
use abforge_store::{ObjectStoreConfig, Objects};
use abforge_synth::Blueprint;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tower::ServiceExt;

const BLUEPRINT: &str = r#"
id = "dash"
seed = 5
customers = 4000
start_date = 2026-11-02
days = 7

[groups]
control = 0.5
treatment = 0.5

[metrics.revenue]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { shape = 2, scale = 10 }

[metrics.items]
distribution = "poisson"
control = { lambda = 3 }
treatment = { lift = 0.3 }
"#;

fn settings(dir: &Path) -> Settings {
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

fn objects(dir: &Path) -> Objects {
    ObjectStoreConfig::new().with_data_dir(dir).build().unwrap()
}

async fn pipeline_run(dir: &Path, date: &str) -> String {
    pipeline_run_of(dir, date, BLUEPRINT).await
}

async fn pipeline_run_of(dir: &Path, date: &str, blueprint: &str) -> String {
    let bp = Blueprint::from_toml(blueprint).unwrap();
    let plan = RunPlan::new(&bp, date.parse().unwrap()).unwrap();
    let p = Pipeline::open(settings(dir)).await.unwrap();
    p.run(&plan, &Quiet).await.unwrap();
    plan.run_id.clone()
}

fn app(dir: &Path, config: ApiConfig) -> Router {
    let o = objects(dir);
    let sqlite = format!("sqlite://{}", dir.join("abforge.sqlite").display());
    let d = Dashboard::new(o.clone(), Some(sqlite)).unwrap();
    abforge_api::app_with(AppState::new(config, o).unwrap(), router(d), openapi())
}

struct Got {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Got {
    fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        serde_json::from_str(&self.body).unwrap()
    }

    fn html(&self) -> &str {
        assert!(
            self.content_type.starts_with("text/html"),
            "{}",
            self.content_type
        );
        &self.body
    }
}

async fn get(app: &Router, uri: &str) -> Got {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    Got {
        status,
        content_type,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn query(dir: &Path, sql: &str) -> Vec<RecordBatch> {
    Lake::new(&objects(dir))
        .unwrap()
        .query(sql, None)
        .await
        .unwrap()
}

fn int(b: &[RecordBatch], col: usize) -> i64 {
    b[0].column(col).as_primitive::<Int64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiments_runs_and_their_twins() {
    let dir = tempfile::tempdir().unwrap();
    let first = pipeline_run(dir.path(), "2026-11-02").await;
    let second = pipeline_run(dir.path(), "2026-11-09").await;
    let app = app(dir.path(), ApiConfig::default());

    // The overview: counts equal the lake's.
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.html();
    assert!(html.contains(r#"data-experiment="dash""#));
    assert!(!html.contains("<script"));
    let v = get(&app, "/v1/results").await.json();
    assert_eq!(v["lake"], true);
    let e = &v["experiments"][0];
    assert_eq!(e["experiment_id"], "dash");
    assert_eq!(e["runs"], 2);
    assert_eq!(e["latest_run_id"], second.as_str());
    assert_eq!(e["latest_run_date"], "2026-11-09");
    let counts = query(
        dir.path(),
        "SELECT COUNT(*), SUM(CASE WHEN outcome = 'correct' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN outcome = 'type_i' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN outcome = 'type_ii' THEN 1 ELSE 0 END) FROM gold_ab_results",
    )
    .await;
    let t = &e["tally"];
    assert_eq!(t["decisions"], int(&counts, 0));
    assert_eq!(t["correct"], int(&counts, 1));
    assert_eq!(t["type_i"], int(&counts, 2));
    assert_eq!(t["type_ii"], int(&counts, 3));
    assert!(html.contains(&format!("<td>{}</td>", int(&counts, 0))));

    // One test only.
    let v = get(&app, "/v1/results?test=welch_t").await.json();
    assert_eq!(
        v["experiments"][0]["tally"]["decisions"], 4,
        "2 metrics × 2 runs"
    );
    assert_eq!(v["filters"]["test"], "welch_t");
    // A date range holding the first run only.
    let v = get(&app, "/v1/results?from=2026-11-01&to=2026-11-05")
        .await
        .json();
    assert_eq!(v["experiments"][0]["runs"], 1);
    assert_eq!(v["experiments"][0]["latest_run_id"], first.as_str());

    // The experiment page.
    let page = get(&app, "/experiments/dash?metric=items").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html().contains(&format!(r#"data-run="{second}""#)));
    let v = get(&app, "/v1/results/dash?metric=items").await.json();
    assert_eq!(v["runs"].as_array().unwrap().len(), 2);
    assert_eq!(v["runs"][0]["run_id"], second.as_str(), "newest first");
    assert!(
        v["by_test"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["metric"] == "items")
    );
    // The lift of items is real: Welch should see it with 4000 customers; its verdict is
    // whatever the lake says, and the page agrees with it.
    let per_test: i64 = v["by_test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tally"]["decisions"].as_i64().unwrap())
        .sum();
    assert_eq!(per_test, v["total"]["decisions"].as_i64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_beside_its_truth() {
    let dir = tempfile::tempdir().unwrap();
    let run = pipeline_run(dir.path(), "2026-11-02").await;
    let app = app(dir.path(), ApiConfig::default());

    let page = get(&app, &format!("/experiments/dash/runs/{run}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.html().to_string();
    let v = get(&app, &format!("/v1/results/dash/runs/{run}"))
        .await
        .json();
    assert_eq!(v["run_id"], run.as_str());
    assert_eq!(v["run_date"], "2026-11-02");
    assert_eq!(
        v["params_url"],
        format!("/v1/experiments/dash/runs/{run}/params")
    );
    assert!(html.contains(&format!("/v1/experiments/dash/runs/{run}/params")));
    // The params link is the params API's, with the same hash.
    let params = get(&app, v["params_url"].as_str().unwrap()).await.json();
    assert_eq!(params["blueprint_hash"], v["blueprint_hash"]);
    assert_eq!(v["truth"], params["truth"]);

    // Customers per group add up; the split is as planned.
    let customers: u64 = v["allocation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(customers, 4000);
    assert_eq!(v["srm"]["mismatch"], false);

    // Group means equal silver's; the true means are the truth's.
    let silver = query(
        dir.path(),
        "SELECT \"group\", COUNT(*), AVG(CAST(items AS DOUBLE)) FROM silver_customers \
         GROUP BY 1 ORDER BY 1",
    )
    .await;
    let items = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "items")
        .unwrap();
    assert_eq!(items["distribution"], "poisson");
    let b = &silver[0];
    for i in 0..b.num_rows() {
        let groups = cast(b.column(0), &DataType::Utf8).unwrap();
        let group = groups.as_string::<i32>().value(i).to_string();
        let g = items["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"] == group.as_str())
            .unwrap();
        assert_eq!(g["n"], b.column(1).as_primitive::<Int64Type>().value(i));
        let mean = b.column(2).as_primitive::<Float64Type>().value(i);
        assert!((g["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
        assert!(g["ci_low"].as_f64().unwrap() < mean && mean < g["ci_high"].as_f64().unwrap());
        let truth = if group == "control" { 3.0 } else { 3.9 };
        assert!((g["true_mean"].as_f64().unwrap() - truth).abs() < 1e-9);
    }
    // Every decision of the run, each with its verdict, and the wrong ones stand out.
    let decisions: usize = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["decisions"].as_array().unwrap().len())
        .sum();
    let rows = query(
        dir.path(),
        &format!("SELECT COUNT(*) FROM gold_ab_results WHERE run_id = '{run}'"),
    )
    .await;
    assert_eq!(decisions as i64, int(&rows, 0));
    let wrong = v["tally"]["type_i"].as_u64().unwrap() + v["tally"]["type_ii"].as_u64().unwrap();
    assert_eq!(html.matches(r#"<tr class="wrong""#).count() as u64, wrong);
    assert_eq!(
        html.matches("✓ correct").count() as u64,
        v["tally"]["correct"].as_u64().unwrap()
    );

    // The run log: every step, succeeded.
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for step in [
        "generate", "land", "publish", "bronze", "silver", "gold", "analyze",
    ] {
        assert!(steps.contains(&step), "{step} in {steps:?}");
    }
    assert!(html.contains(r#"id="steps""#));

    // A metric filter.
    let v = get(
        &app,
        &format!("/v1/results/dash/runs/{run}?metric=revenue&test=welch_t"),
    )
    .await
    .json();
    assert_eq!(v["metrics"].as_array().unwrap().len(), 1);
    assert_eq!(v["metrics"][0]["decisions"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_no_lake() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), ApiConfig::default());

    // No lake yet: a page that says how to make one.
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html().contains("abforge pipeline run"));
    let v = get(&app, "/v1/results").await.json();
    assert_eq!(v["lake"], false);
    assert!(v["hint"].as_str().unwrap().contains("abforge pipeline run"));
    let page = get(&app, "/calibration").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html().contains("--publish"));
    assert_eq!(get(&app, "/v1/calibration").await.json()["lake"], false);
    let page = get(&app, "/engines").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html().contains("--engine NAME --publish"));
    let v = get(&app, "/v1/engines").await.json();
    assert_eq!(v["lake"], false);
    assert_eq!(v["publications"], serde_json::json!([]));
    assert!(
        !dir.path().join("objects/lake").exists(),
        "reading made no lake"
    );
    assert!(!dir.path().join("abforge.sqlite").exists(), "nor a run log");

    pipeline_run(dir.path(), "2026-11-02").await;
    // Unknown experiment or run → 404, page and JSON.
    for uri in ["/experiments/nope", "/experiments/dash/runs/nope"] {
        let page = get(&app, uri).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(page.html().contains("nope"));
        let twin = get(&app, &uri.replace("/experiments", "/v1/results")).await;
        assert_eq!(twin.status, StatusCode::NOT_FOUND);
        assert!(twin.json()["error"].as_str().unwrap().contains("nope"));
    }
    // Malformed parameters → 400 naming them.
    for (uri, param) in [
        ("/?from=2026-13-01", "from"),
        ("/?from=2026-11-09&to=2026-11-01", "from"),
        ("/?metric=a;b", "metric"),
        ("/?colour=red", "colour"),
        ("/?test=welch_t&test=student_t", "test"),
        ("/experiments/dash?experiment=dash", "experiment"),
        ("/experiments/DASH", "experiment_id"),
        ("/experiments/dash/runs/..%2F..", "run_id"),
        ("/calibration?calibration=a%20b", "calibration"),
    ] {
        let page = get(&app, uri).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(page.html().contains(param), "{uri}");
        let twin_uri = if let Some(rest) = uri.strip_prefix("/experiments") {
            format!("/v1/results{rest}")
        } else if let Some(rest) = uri.strip_prefix("/calibration") {
            format!("/v1/calibration{rest}")
        } else {
            format!("/v1/results{}", &uri[1..])
        };
        let twin = get(&app, &twin_uri).await;
        assert_eq!(twin.status, StatusCode::BAD_REQUEST, "{twin_uri}");
        assert_eq!(twin.json()["details"][0]["path"], param, "{twin_uri}");
    }
    // An unknown calibration id.
    assert_eq!(
        get(&app, "/v1/calibration?calibration=nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_runs_show_up_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    pipeline_run(dir.path(), "2026-11-02").await;
    let app = app(dir.path(), ApiConfig::default());
    assert_eq!(
        get(&app, "/v1/results").await.json()["experiments"][0]["runs"],
        1
    );
    pipeline_run(dir.path(), "2026-11-09").await;
    let v = get(&app, "/v1/results").await.json();
    assert_eq!(v["experiments"][0]["runs"], 2);
    assert_eq!(v["experiments"][0]["latest_run_date"], "2026-11-09");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_page_and_twin() {
    let dir = tempfile::tempdir().unwrap();
    let bp = Blueprint::from_toml(BLUEPRINT).unwrap();
    let opts = abforge_lab::LabOptions {
        replications: 200,
        customers: Some(1000),
        ..abforge_lab::LabOptions::default()
    };
    let cal = abforge_lab::calibrate(&bp, &opts, &abforge_lab::NoReporter).unwrap();
    let lake = Lake::new(&objects(dir.path())).unwrap();
    lake.calibration(&abforge_dashboard::calibration_rows(
        "dash-cal-1".into(),
        "h".into(),
        None,
        &[(None, &cal)],
    ))
    .await
    .unwrap();
    let app = app(dir.path(), ApiConfig::default());

    let page = get(&app, "/calibration").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.html();
    assert!(html.contains(r#"id="chart"><svg"#), "an inline SVG chart");
    assert_eq!(every_chart_is_titled(html), 1);
    let v = get(&app, "/v1/calibration").await.json();
    assert_eq!(v["selected"]["calibration_id"], "dash-cal-1");
    assert_eq!(v["selected"]["replications"], 200);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), cal.results.len());
    for c in &cal.results {
        let r = results
            .iter()
            .find(|r| r["metric"] == c.metric.as_str() && r["test"] == c.test.name())
            .unwrap();
        assert!((r["rejection_rate"].as_f64().unwrap() - c.rejection_rate).abs() < 1e-12);
        assert_eq!(r["miscalibrated"], c.miscalibrated);
    }
    // Each confusion matrix counts every replication of its test.
    for c in v["confusion"].as_array().unwrap() {
        let total: i64 = ["correct_accept", "correct_reject", "type_i", "type_ii"]
            .iter()
            .map(|k| c[k].as_i64().unwrap())
            .sum();
        let failed = cal
            .results
            .iter()
            .find(|r| r.metric == c["metric"] && r.test.name() == c["test"])
            .unwrap()
            .failed;
        assert_eq!(total + failed as i64, 200, "{c}");
    }
    let v = get(&app, "/v1/calibration?metric=items&test=welch_t")
        .await
        .json();
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(v["confusion"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_and_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), ApiConfig::default());
    let doc = get(&app, "/openapi.json").await.json();
    for p in [
        "/v1/results",
        "/v1/results/{experiment_id}",
        "/v1/results/{experiment_id}/runs/{run_id}",
        "/v1/calibration",
        "/v1/engines",
        "/v1/experiments/{experiment_id}/runs/{run_id}/params",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} documented");
    }
    assert!(doc["components"]["schemas"].get("RunView").is_some());
    assert!(doc["components"]["schemas"].get("EnginesView").is_some());
    assert!(get(&app, "/docs").await.html().contains("/v1/results"));

    // With reads behind the token, the dashboard is too.
    let config = ApiConfig {
        token: Some("s3cret".into()),
        read_token_required: true,
        ..ApiConfig::default()
    };
    let guarded = self::app(dir.path(), config);
    assert_eq!(get(&guarded, "/").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&guarded, "/v1/results").await.status,
        StatusCode::UNAUTHORIZED
    );
    let res = guarded
        .oneshot(
            Request::get("/v1/results")
                .header(header::AUTHORIZATION, "Bearer s3cret")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// A rerun of a run with a changed blueprint that fails after publish (the new truth is
/// published, the lake's decisions are the old blueprint's): the run shows as failed, its
/// old decisions are flagged stale and not judged against the new truth; the complete rerun
/// clears the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_decisions_of_a_half_done_rerun_are_flagged_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let run = pipeline_run(dir.path(), "2026-11-02").await;
    let app = app(dir.path(), ApiConfig::default());
    let v = get(&app, &format!("/v1/results/dash/runs/{run}"))
        .await
        .json();
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(v.get("stale_decisions_hash").is_none(), "{v}");
    let old_hash = v["blueprint_hash"].as_str().unwrap().to_string();

    // The same date with 3 000 customers: generate, land and publish, then silver fails.
    let bp =
        Blueprint::from_toml(&BLUEPRINT.replace("customers = 4000", "customers = 3000")).unwrap();
    let plan = RunPlan::new(&bp, "2026-11-02".parse().unwrap()).unwrap();
    let p = Pipeline::open(settings(dir.path())).await.unwrap();
    for step in [
        abforge_pipeline::Step::Generate,
        abforge_pipeline::Step::Land,
        abforge_pipeline::Step::Publish,
    ] {
        let r = p.step(&plan, step, None, &Quiet).await.unwrap();
        assert_eq!(r.state, abforge_pipeline::StepState::Succeeded, "{r:?}");
    }
    let v = get(&app, &format!("/v1/results/dash/runs/{run}"))
        .await
        .json();
    assert_eq!(v["blueprint_hash"], plan.blueprint_hash.as_str());
    assert_eq!(v["stale_decisions_hash"], old_hash.as_str(), "{v}");
    assert_eq!(v["status"], "incomplete", "{v}");
    let shown: usize = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["decisions"].as_array().unwrap().len())
        .sum();
    assert_eq!(shown, 0, "no stale decision is shown: {v}");
    assert_eq!(v["tally"]["decisions"], 0);
    let html = get(&app, &format!("/experiments/dash/runs/{run}")).await;
    assert!(html.html().contains("id=\"stale\""), "{}", html.body);

    // The rerun completes: the flag is gone, the decisions are the new blueprint's.
    p.run(&plan, &Quiet).await.unwrap();
    let v = get(&app, &format!("/v1/results/dash/runs/{run}"))
        .await
        .json();
    assert!(v.get("stale_decisions_hash").is_none(), "{v}");
    assert_eq!(v["status"], "succeeded", "{v}");
    assert!(v["tally"]["decisions"].as_u64().unwrap() > 0, "{v}");
}

/// The run's customers of `metric` per group, from silver, sorted.
async fn silver_values(dir: &Path, metric: &str) -> Vec<(String, Vec<f64>)> {
    let batches = query(
        dir,
        &format!("SELECT \"group\", CAST({metric} AS DOUBLE) FROM silver_customers"),
    )
    .await;
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for b in &batches {
        let groups = cast(b.column(0), &DataType::Utf8).unwrap();
        let values = b.column(1).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let g = groups.as_string::<i32>().value(i);
            match out.iter_mut().find(|(x, _)| x == g) {
                Some((_, v)) => v.push(values.value(i)),
                None => out.push((g.to_string(), vec![values.value(i)])),
            }
        }
    }
    for (_, v) in &mut out {
        v.sort_by(f64::total_cmp);
    }
    out
}

/// The smallest value with a share of at least `p` at or below it (an independent reading
/// of what gold/group_quantiles keeps).
fn lower_quantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let k = (1..=n).find(|&k| k as f64 / n as f64 >= p).unwrap();
    sorted[k - 1]
}

/// The text of each cell of the row `<tr data-p="{p}">` in `section`, tags stripped.
fn quantile_cells(section: &str, p: f64) -> Vec<String> {
    let row = section
        .split(&format!("<tr data-p=\"{p}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("a row for p = {p}"));
    let row = row.split("</tr>").next().unwrap();
    row.split("<td")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..c.find("</td>").unwrap()];
            let mut text = String::new();
            let mut in_tag = false;
            for ch in c.chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    _ if !in_tag => text.push(ch),
                    _ => {}
                }
            }
            text
        })
        .collect()
}

/// A cell's number as the page prints it (4 significant digits) against the twin's.
fn shows(cell: &str, v: &Value) {
    match v.as_f64() {
        None => assert_eq!(cell, "—"),
        Some(x) => {
            let shown: f64 = cell.trim_end_matches('●').parse().unwrap();
            assert!(
                (shown - x).abs() <= 5e-4 * x.abs().max(1e-300),
                "{cell} for {x}"
            );
        }
    }
}

/// The JSON twin's metric `name`.
fn metric<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == name)
        .unwrap()
}

/// One metric's quantiles on the run page and its twin `v`: the truth's true quantiles and
/// differences, observed quantiles equal to [`lower_quantile`] of silver's values and near
/// the truth, and the page's cells showing the twin's numbers, atoms marked.
async fn check_quantiles(dir: &Path, v: &Value, html: &str, name: &str) {
    let truth = v["truth"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == name)
        .unwrap();
    let rows = metric(v, name)["quantiles"].as_array().unwrap();
    let ps: Vec<f64> = rows.iter().map(|q| q["p"].as_f64().unwrap()).collect();
    assert_eq!(ps, [0.25, 0.5, 0.9, 0.99], "{name}");
    let silver = silver_values(dir, name).await;
    let section = html
        .split(&format!(r#"data-metric="{name}""#))
        .nth(1)
        .unwrap()
        .split("</section>")
        .next()
        .unwrap();
    for (i, (q, &p)) in rows.iter().zip(&ps).enumerate() {
        let mut cells = quantile_cells(section, p).into_iter();
        assert_eq!(cells.next().unwrap(), p.to_string());
        let groups = q["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "{q}");
        for g in groups {
            let group = g["group"].as_str().unwrap();
            let t = &truth["groups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["group"] == group)
                .unwrap()["quantiles"][i];
            assert_eq!(g["true_value"], t["value"], "{name} {group} {p}");
            assert_eq!(g["atom"], t["atom"], "{name} {group} {p}");
            let values = &silver.iter().find(|(x, _)| x == group).unwrap().1;
            let observed = g["observed"].as_f64().unwrap();
            assert_eq!(observed, lower_quantile(values, p), "{name} {group} {p}");
            // An integer quantile may land one step off where the CDF is near p (items'
            // treatment at 0.9: P(X ≤ 6) = 0.899); a real one is within a few standard errors.
            let truth = t["value"].as_f64().unwrap();
            let tolerance = if name == "items" { 1.0 } else { 0.08 * truth };
            assert!(
                (observed - truth).abs() <= tolerance,
                "{name} {group} p = {p}: observed {observed}, true {truth}"
            );
            let (true_cell, observed_cell) = (cells.next().unwrap(), cells.next().unwrap());
            shows(&true_cell, &g["true_value"]);
            shows(&observed_cell, &g["observed"]);
            assert_eq!(true_cell.ends_with('●'), g["atom"] == true, "{true_cell}");
        }
        let d = &q["differences"][0];
        assert_eq!(
            (&d["treatment"], &d["control"]),
            (&"treatment".into(), &"control".into())
        );
        let effect = &truth["effects"][0]["quantile_effects"][i];
        assert_eq!(d["true_difference"], effect["difference"]);
        assert_eq!(d["null_true"], effect["null"]);
        let observed = |g: &str| {
            groups.iter().find(|x| x["group"] == g).unwrap()["observed"]
                .as_f64()
                .unwrap()
        };
        assert_eq!(
            d["observed_difference"].as_f64().unwrap(),
            observed("treatment") - observed("control")
        );
        shows(&cells.next().unwrap(), &d["true_difference"]);
        shows(&cells.next().unwrap(), &d["observed_difference"]);
        assert!(cells.next().is_none());
    }
}

/// The run page's quantiles: the true ones are the truth's, the observed ones equal an
/// independent computation on silver and are near the truth on 40 000 customers; the page
/// shows the twin's numbers, an atom marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_shows_its_true_and_observed_quantiles() {
    let dir = tempfile::tempdir().unwrap();
    let run = quantile_run(dir.path()).await;
    let app = app(dir.path(), ApiConfig::default());
    let v = get(&app, &format!("/v1/results/dash/runs/{run}"))
        .await
        .json();
    let page = get(&app, &format!("/experiments/dash/runs/{run}")).await;
    assert!(page.html().contains(r#"id="quantiles-note""#));
    for name in ["revenue", "items", "spend"] {
        check_quantiles(dir.path(), &v, page.html(), name).await;
    }
    // Zero-inflation: 40 % zeros put the quartile on the atom at 0, in both groups.
    let spend = metric(&v, "spend");
    for g in spend["quantiles"][0]["groups"].as_array().unwrap() {
        assert_eq!(
            (g["true_value"].as_f64(), g["atom"].as_bool()),
            (Some(0.0), Some(true))
        );
        assert_eq!(g["observed"].as_f64(), Some(0.0));
    }
    assert_eq!(spend["quantiles"][1]["groups"][0]["atom"], false);
}

/// A run of 40 000 customers with quantiles at 0.25, 0.5, 0.9 and 0.99, and a third metric,
/// zero-inflated; returns its id.
async fn quantile_run(dir: &Path) -> String {
    let blueprint = format!(
        "quantiles = [0.25, 0.5, 0.9, 0.99]\n{}\n[metrics.spend]\ndistribution = \"gamma\"\n\
         zero_inflation = 0.4\ncontrol = {{ shape = 2, scale = 10 }}\ntreatment = {{ lift = 0.2 }}\n",
        BLUEPRINT.replace("customers = 4000", "customers = 40000")
    );
    pipeline_run_of(dir, "2026-11-02", &blueprint).await
}

/// A run whose gold step predates gold/group_quantiles renders, the true quantiles beside
/// "—"; and so does one whose truth has no quantiles either, without a quantile table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_older_than_the_quantiles_renders() {
    let dir = tempfile::tempdir().unwrap();
    let run = quantile_run(dir.path()).await;
    std::fs::remove_dir_all(dir.path().join("objects/lake/gold/group_quantiles")).unwrap();
    let old = app(dir.path(), ApiConfig::default());
    let v = get(&old, &format!("/v1/results/dash/runs/{run}"))
        .await
        .json();
    let q = &metric(&v, "revenue")["quantiles"][1];
    assert!(q["groups"][0]["true_value"].as_f64().is_some(), "{q}");
    assert_eq!(q["groups"][0]["observed"], Value::Null, "{q}");
    assert_eq!(
        q["differences"][0]["observed_difference"],
        Value::Null,
        "{q}"
    );
    let page = get(&old, &format!("/experiments/dash/runs/{run}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let section = page
        .html()
        .split(r#"data-metric="revenue""#)
        .nth(1)
        .unwrap();
    let cells = quantile_cells(section, 0.5);
    assert_eq!(
        (cells[2].as_str(), cells[6].as_str()),
        ("—", "—"),
        "{cells:?}"
    );

    // … and whose truth has no quantiles either (params published before they existed).
    let key = dir.path().join(format!("objects/params/dash/{run}.json"));
    let mut params: Value = serde_json::from_slice(&std::fs::read(&key).unwrap()).unwrap();
    for m in params["truth"]["metrics"].as_array_mut().unwrap() {
        for g in m["groups"].as_array_mut().unwrap() {
            g.as_object_mut().unwrap().remove("quantiles");
        }
        for e in m["effects"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("quantile_effects");
        }
    }
    std::fs::write(&key, serde_json::to_vec(&params).unwrap()).unwrap();
    let v = get(&old, &format!("/v1/results/dash/runs/{run}"))
        .await
        .json();
    for m in v["metrics"].as_array().unwrap() {
        assert_eq!(m["quantiles"], serde_json::json!([]), "{m}");
        assert!(m["groups"][0]["true_mean"].as_f64().is_some(), "{m}");
    }
    let page = get(&old, &format!("/experiments/dash/runs/{run}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html().contains(r#"class="quantiles""#));
    assert!(!page.html().contains(r#"id="quantiles-note""#));
    assert!(page.html().contains(r#"class="groups""#));
}

/// `result` as an external engine's test named `test` would report it.
fn as_engine_result(r: &abforge_lab::TestResult, test: &str) -> abforge_lab::TestResult<String> {
    abforge_lab::TestResult {
        metric: r.metric.clone(),
        arm: r.arm.clone(),
        test: test.to_string(),
        kind: r.kind,
        null: r.null,
        null_true: r.null_true,
        replications: r.replications,
        failed: r.failed,
        rejection_rate: r.rejection_rate,
        ci_low: r.ci_low,
        ci_high: r.ci_high,
        type_i_error: r.type_i_error,
        power: r.power,
        analytic_power: None,
        ci_coverage: r.ci_coverage,
        p_value_ks: r.p_value_ks,
        p_value_ks_p: r.p_value_ks_p,
        bias: r.bias,
        bias_se: r.bias_se,
        mean_customers_at_stop: r.mean_customers_at_stop,
        miscalibrated: r.miscalibrated,
        confusion: r.confusion,
    }
}

/// A calibration of the test blueprint, and the same with an engine `fake 1.0` whose `ttest`
/// decided as abforge's `welch_t`, except that on revenue (a true null) it rejects twice as
/// often and is flagged.
fn calibrations() -> (abforge_lab::Calibration, abforge_lab::Calibration) {
    let bp = Blueprint::from_toml(BLUEPRINT).unwrap();
    let opts = abforge_lab::LabOptions {
        replications: 200,
        customers: Some(1000),
        ..abforge_lab::LabOptions::default()
    };
    let cal = abforge_lab::calibrate(&bp, &opts, &abforge_lab::NoReporter).unwrap();
    let mut results: Vec<abforge_lab::TestResult<String>> = cal
        .results
        .iter()
        .filter(|r| r.test.name() == "welch_t")
        .map(|r| as_engine_result(r, "ttest"))
        .collect();
    assert_eq!(results.len(), 2, "welch_t on revenue and items");
    let revenue = results.iter_mut().find(|r| r.metric == "revenue").unwrap();
    assert_eq!(revenue.null_true, Some(true));
    revenue.rejection_rate = 0.12;
    revenue.type_i_error = Some(0.12);
    revenue.ci_low = 0.08;
    revenue.ci_high = 0.17;
    revenue.miscalibrated = true;
    let mut with_engine = cal.clone();
    with_engine.engine = Some(abforge_lab::EngineReport {
        engine: "fake".into(),
        version: "1.0".into(),
        protocol: abforge_lab::PROTOCOL.into(),
        command: "fake-engine".into(),
        tests: vec![],
        results,
        failures: vec![],
    });
    (cal, with_engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_page_and_twin() {
    let dir = tempfile::tempdir().unwrap();
    let (cal, with_engine) = calibrations();
    let lake = Lake::new(&objects(dir.path())).unwrap();
    let publish = |id: &str, c: &abforge_lab::Calibration| {
        abforge_dashboard::calibration_rows(id.into(), "h".into(), None, &[(None, c)])
    };
    lake.calibration(&publish("dash-cal-1", &cal))
        .await
        .unwrap();
    let app = app(dir.path(), ApiConfig::default());

    // Calibrations without an engine: the empty state says how to publish one.
    let page = get(&app, "/engines").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html().contains("No engine was published"));
    assert!(page.html().contains("--engine NAME --publish"));
    let v = get(&app, "/v1/engines").await.json();
    assert_eq!(v["lake"], true);
    assert!(
        v["hint"]
            .as_str()
            .unwrap()
            .contains("--engine NAME --publish")
    );
    assert_eq!(v["publications"], serde_json::json!([]));
    assert_eq!(
        get(&app, "/v1/engines?engine=fake").await.status,
        StatusCode::NOT_FOUND
    );

    lake.calibration(&publish("dash-eng-1", &with_engine))
        .await
        .unwrap();
    let v = get(&app, "/v1/engines").await.json();
    assert!(v.get("hint").is_none(), "{v}");
    assert_eq!(v["engines"], serde_json::json!(["fake"]));
    assert_eq!(v["experiments"], serde_json::json!(["dash"]));
    let pubs = v["publications"].as_array().unwrap();
    assert_eq!(pubs.len(), 1, "only the publication with an engine");
    let p = &pubs[0];
    assert_eq!(p["calibration_id"], "dash-eng-1");
    assert_eq!(p["engine"], "fake 1.0");
    assert_eq!(p["engine_name"], "fake");
    assert_eq!(p["replications"], 200);
    // Every test of the publication, abforge's (engine null) before the engine's.
    let results = p["results"].as_array().unwrap();
    assert_eq!(results.len(), cal.results.len() + 2);
    for (metric, arm) in [("revenue", "treatment"), ("items", "treatment")] {
        let of: Vec<&Value> = results
            .iter()
            .filter(|r| r["metric"] == metric && r["arm"] == arm)
            .collect();
        let last = of.last().unwrap();
        assert_eq!(
            last["test"], "fake:ttest",
            "the engine's test after abforge's"
        );
        assert_eq!(last["engine"], "fake 1.0");
        assert!(of[..of.len() - 1].iter().all(|r| r["engine"].is_null()));
    }
    // The twin's numbers are the lake's rows'.
    let rows = abforge_lake::CalibrationRow::from_batches(
        &query(
            dir.path(),
            "SELECT * FROM gold_calibration WHERE calibration_id = 'dash-eng-1'",
        )
        .await,
    )
    .unwrap();
    assert_eq!(rows.len(), results.len());
    for row in &rows {
        let r = results
            .iter()
            .find(|r| r["metric"] == row.metric.as_str() && r["test"] == row.test.as_str())
            .unwrap();
        assert_eq!(r["engine"].as_str(), row.engine.as_deref());
        assert_eq!(r["rejection_rate"].as_f64().unwrap(), row.rejection_rate);
        assert_eq!(
            r["rejection_ci_low"].as_f64().unwrap(),
            row.rejection_ci_low
        );
        assert_eq!(
            r["rejection_ci_high"].as_f64().unwrap(),
            row.rejection_ci_high
        );
        assert_eq!(r["type_i_error"].as_f64(), row.type_i_error);
        assert_eq!(r["power"].as_f64(), row.power);
        assert_eq!(r["ci_coverage"].as_f64(), row.ci_coverage);
        assert_eq!(r["bias"].as_f64(), row.bias);
        assert_eq!(r["miscalibrated"], row.miscalibrated);
    }
    let flagged = results
        .iter()
        .find(|r| r["test"] == "fake:ttest" && r["metric"] == "revenue")
        .unwrap();
    assert_eq!(flagged["type_i_error"], 0.12);
    assert_eq!(flagged["verdict"], "MISCALIBRATED (type I above α)");
    let items = results
        .iter()
        .find(|r| r["test"] == "fake:ttest" && r["metric"] == "items")
        .unwrap();
    assert!(items["verdict"].as_str().unwrap().starts_with("type II "));

    // The page: the picture first, then the table, both with every test.
    let page = get(&app, "/engines").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.html();
    assert!(every_chart_is_titled(html) > 0);
    assert!(
        html.contains(r#"href="/engines""#),
        "the nav links the page"
    );
    let section = html
        .split(r#"<section class="engine""#)
        .nth(1)
        .expect("a section per publication");
    let (chart, table) = section.split_once("<table").unwrap();
    assert!(chart.contains("<svg"), "the chart comes before the table");
    for test in ["fake:ttest", "welch_t", "mann_whitney_u"] {
        assert!(
            chart.contains(&format!(">\n{test}\n</text>")),
            "{test} in the chart"
        );
        assert!(
            table.contains(&format!(r#"data-test="{test}""#)),
            "{test} row"
        );
    }
    assert!(table.contains("MISCALIBRATED (type I above α)"));
    assert!(table.contains("<td class=\"l\">abforge</td>"));
    assert!(
        table.contains("0.1200 [0.08000, 0.1700]"),
        "type I with its interval"
    );
    assert!(html.contains(r#"id="json" href="/v1/engines""#));

    // The calibration page shows the publication too, and filters by an engine's test.
    let v = get(
        &app,
        "/v1/calibration?calibration=dash-eng-1&test=fake:ttest",
    )
    .await
    .json();
    assert_eq!(v["results"].as_array().unwrap().len(), 2, "{v}");

    // Filters: by engine and experiment; bad values 400; nothing published 404.
    let v = get(&app, "/v1/engines?engine=fake&experiment=dash")
        .await
        .json();
    assert_eq!(v["publications"].as_array().unwrap().len(), 1);
    assert_eq!(v["filters"]["engine"], "fake");
    for (uri, param) in [
        ("/engines?engine=a%20b", "engine"),
        ("/engines?experiment=..%2Fx", "experiment"),
        ("/engines?metric=items", "metric"),
        ("/engines?engine=fake&engine=fake", "engine"),
    ] {
        let page = get(&app, uri).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(page.html().contains(param), "{uri}");
        let twin = get(&app, &uri.replace("/engines", "/v1/engines")).await;
        assert_eq!(twin.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(twin.json()["details"][0]["path"], param, "{uri}");
    }
    for uri in [
        "/engines?engine=gbstats",
        "/engines?experiment=nope",
        "/engines?engine=fake&experiment=nope",
    ] {
        let page = get(&app, uri).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{uri}");
        let twin = get(&app, &uri.replace("/engines", "/v1/engines")).await;
        assert_eq!(twin.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            twin.json()["error"]
                .as_str()
                .unwrap()
                .contains("was published")
        );
    }
}

/// Checks that every `<svg>` of `html` is an image labelled by its `<title>` and its
/// `<desc>`, its first children, both with text; returns how many there are.
fn every_chart_is_titled(html: &str) -> usize {
    let svgs: Vec<&str> = html.split("<svg").skip(1).collect();
    for svg in &svgs {
        let id = attr(svg, "id").unwrap();
        assert_eq!(attr(svg, "role").as_deref(), Some("img"), "{id}");
        assert_eq!(
            attr(svg, "aria-labelledby").unwrap(),
            format!("{id}-title {id}-desc")
        );
        let inside = &svg[svg.find('>').unwrap() + 1..];
        let title = format!("<title id=\"{id}-title\">");
        assert!(inside.starts_with(&title), "{id}");
        let after = &inside[title.len()..];
        let desc = format!("<desc id=\"{id}-desc\">");
        let at = after.find("</title>").unwrap();
        assert!(at > 0, "{id}: an empty title");
        let after = &after[at + "</title>".len()..];
        assert!(after.starts_with(&desc), "{id}");
        assert!(
            !after[desc.len()..].starts_with("</desc>"),
            "{id}: an empty desc"
        );
    }
    svgs.len()
}

/// The value of attribute `name` in the opening tag that starts `tag`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let open = &tag[..tag.find('>')?];
    let at = open.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(open[at..at + open[at..].find('"')?].to_string())
}

/// The marks of class `class` in `html`: each from its opening tag to its `</g>`.
fn marks<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
    html.split(&format!("<g class=\"{class}\""))
        .skip(1)
        .map(|s| &s[..s.find("</g>").unwrap()])
        .collect()
}

/// `data-NAME` of a mark as the number it spells, every digit (`None` when absent).
fn data(mark: &str, name: &str) -> Option<f64> {
    attr(mark, &format!("data-{name}")).map(|s| s.parse().unwrap())
}

/// A run of 400 customers: `faint`'s effect too small to see (every test keeps a false null,
/// a type II error), `huge`'s so large that p-values underflow to 0; returns its id.
async fn picture_run(dir: &Path) -> String {
    let blueprint = r#"
id = "dash"
seed = 11
customers = 400
start_date = 2026-11-02
days = 7

[groups]
control = 0.5
treatment = 0.5

[metrics.faint]
distribution = "poisson"
control = { lambda = 3 }
treatment = { lift = 0.005 }

[metrics.huge]
distribution = "poisson"
control = { lambda = 1 }
treatment = { lift = 40 }
"#;
    pipeline_run_of(dir, "2026-11-02", blueprint).await
}

/// The run page draws every metric's decisions as a forest plot and the groups' split
/// against the plan: each picture titled and described, its marks carrying the twin's
/// numbers, a wrong decision marked by shape and label, not by colour alone; a p-value of 0
/// reads `< 1e-16`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_page_draws_its_decisions_and_split() {
    let dir = tempfile::tempdir().unwrap();
    let run = picture_run(dir.path()).await;
    let app = app(dir.path(), ApiConfig::default());
    let v = get(&app, &format!("/v1/results/dash/runs/{run}"))
        .await
        .json();
    let page = get(&app, &format!("/experiments/dash/runs/{run}")).await;
    let html = page.html();

    // Every picture has its title, its description and a caption.
    let figures: Vec<&str> = html.split("<figure").skip(1).collect();
    assert_eq!(figures.len(), 1 + v["metrics"].as_array().unwrap().len());
    assert_eq!(every_chart_is_titled(html), figures.len());
    for f in &figures {
        assert!(f.contains("<figcaption>"), "{f}");
    }

    // The forest plots: one mark per decision with an estimate, the twin's numbers.
    let mut wrong = 0;
    for section in html.split("<section class=\"metric\"").skip(1) {
        let name = attr(section, "data-metric").unwrap();
        let decisions = metric(&v, &name)["decisions"].as_array().unwrap();
        let rows = marks(section, "forest-row");
        let drawn = decisions.iter().filter(|d| d["estimate"].is_number());
        assert_eq!(rows.len(), drawn.count(), "{name}");
        for row in rows {
            let test = attr(row, "data-test").unwrap();
            let d = decisions
                .iter()
                .find(|d| d["test"] == test.as_str())
                .unwrap();
            for (key, field) in [
                ("estimate", "estimate"),
                ("ci-low", "ci_low"),
                ("ci-high", "ci_high"),
                ("true-effect", "true_effect"),
            ] {
                assert_eq!(data(row, key), d[field].as_f64(), "{name} {test} {key}");
            }
            let outcome = d["outcome"].as_str().unwrap_or("");
            assert_eq!(attr(row, "data-outcome").unwrap(), outcome);
            // A wrong decision: a diamond and its label, beside the red.
            let label = match outcome {
                "type_i" => Some("✗ type I<"),
                "type_ii" => Some("✗ type II<"),
                _ => None,
            };
            assert_eq!(row.contains("<path"), label.is_some(), "{name} {test}");
            if let Some(label) = label {
                assert!(row.contains(label), "{name} {test}");
                wrong += 1;
            }
        }
    }
    assert!(wrong > 0, "faint's tests keep a false null");

    // No p-value of 0: the floor instead, as many as the twin has.
    let floored = v["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["decisions"].as_array().unwrap())
        .flat_map(|d| [&d["p_value"], &d["p_adjusted"]])
        .filter(|p| p.as_f64().is_some_and(|p| p < 1e-16))
        .count();
    assert!(floored > 0, "huge's p-values underflow");
    assert_eq!(html.matches("<td>&lt; 1e-16</td>").count(), floored);

    // The split: each group's observed and planned share, the twin's.
    let groups = marks(html, "srm-row");
    let allocation = v["allocation"].as_array().unwrap();
    assert_eq!(groups.len(), allocation.len());
    for (row, g) in groups.iter().zip(allocation) {
        assert_eq!(
            attr(row, "data-group").unwrap(),
            g["group"].as_str().unwrap()
        );
        assert_eq!(data(row, "observed"), g["observed"].as_f64());
        assert_eq!(data(row, "planned"), g["planned"].as_f64());
    }
}
