//! The dashboard of abforge: what the experiments decided against what was true, read from
//! the lake's gold tables, the params objects and the run log — served by `abforge serve`
//! on the same router as the params API.
//!
//! | page | JSON twin | what |
//! |---|---|---|
//! | `/` | `GET /v1/results` | every experiment: latest run, runs, correct / type I / type II |
//! | `/experiments/{experiment_id}` | `GET /v1/results/{experiment_id}` | its runs, and how each test fared |
//! | `/experiments/{experiment_id}/runs/{run_id}` | `GET /v1/results/{experiment_id}/runs/{run_id}` | the blueprint and truth beside the data (means, and true quantiles beside the observed ones of `gold/group_quantiles`), every decision, the sample-ratio check, the run log |
//! | `/calibration` | `GET /v1/calibration` | published calibrations: rejection rates against α, power curves, confusion matrices |
//! | `/engines` | `GET /v1/engines` | external A/B engines (`calibrate --engine`) beside abforge's tests: type I error against α, power, coverage, verdicts |
//!
//! Filters (`experiment`, `metric`, `test`, `from`, `to`, `calibration`, `engine`) are query
//! parameters, so every view has a URL; the pages are plain HTML with forms and links (no
//! script), charts are SVG drawn on the server by the lab's plotting code, and each page
//! renders its JSON twin's body, nothing else. The gold tables are kept in memory and
//! brought up to date on each request from the Delta log (see `tables`).
#![deny(missing_docs)]

mod charts;
mod figures;
mod model;
mod pages;
pub mod query;
mod tables;

pub use charts::calibration_rows;
pub use model::{
    CalResult, CalibrationView, ConfusionRow, Decision, EnginePublication, EngineResult,
    EnginesView, ExperimentSummary, ExperimentView, GroupQuantile, GroupShare, GroupStat,
    MetricView, NO_ENGINE, NO_LAKE, Overview, Publication, QuantileDifference, QuantileRow,
    RunSummary, RunView, Srm, StepRow, Tally, TestTally,
};
pub use query::Filters;

use abforge_api::page::PageRequest;
use abforge_api::{AppError, Detail};
use abforge_lake::{CalibrationRow, Lake};
use abforge_store::Objects;
use abforge_store::runlog::RunLog;
use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use query::BadParam;
use std::sync::Arc;
use tables::{AbRow, Cached, GroupRow, Live, QuantRow};
use tokio::sync::OnceCell;
use utoipa::OpenApi;

/// What the dashboard reads. Cheap to clone.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

struct Inner {
    lake: Lake,
    objects: Objects,
    run_log_url: Option<String>,
    run_log: OnceCell<Option<Arc<dyn RunLog>>>,
    ab: Cached<AbRow>,
    groups: Live,
    quantiles: Live,
    calibration: Cached<CalibrationRow>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("lake", &self.inner.lake)
            .field("objects", &self.inner.objects.to_string())
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// The dashboard of the lake and params in `objects`, with the run log at
    /// `run_log_url` (opened on first use; a SQLite file that does not exist yet is an empty
    /// run log, not created).
    ///
    /// # Errors
    /// When the object store cannot hold a lake.
    pub fn new(
        objects: Objects,
        run_log_url: Option<String>,
    ) -> Result<Dashboard, Box<abforge_lake::Error>> {
        Ok(Dashboard {
            inner: Arc::new(Inner {
                lake: Lake::new(&objects).map_err(Box::new)?,
                objects,
                run_log_url,
                run_log: OnceCell::new(),
                ab: Cached::new(),
                groups: Live::new(abforge_lake::Table::GoldGroupDaily),
                quantiles: Live::new(abforge_lake::Table::GoldGroupQuantiles),
                calibration: Cached::new(),
            }),
        })
    }

    async fn run_log(&self) -> Result<Option<Arc<dyn RunLog>>, String> {
        let url = self.inner.run_log_url.clone();
        self.inner
            .run_log
            .get_or_try_init(|| async move {
                let Some(url) = url else { return Ok(None) };
                if let Some(path) = url.strip_prefix("sqlite://") {
                    let path = path.split('?').next().unwrap_or(path);
                    if !std::path::Path::new(path).exists() {
                        return Ok(None);
                    }
                }
                abforge_store::runlog::open(&url)
                    .await
                    .map(Some)
                    .map_err(|e| format!("cannot open the run log: {e}"))
            })
            .await
            .cloned()
    }

    /// Loads the gold tables into memory (what the first request would otherwise do):
    /// `abforge serve` runs it in the background as it starts. Errors are left for the
    /// requests to report.
    pub async fn warm(&self) {
        let lake = &self.inner.lake;
        let t0 = std::time::Instant::now();
        // The first page needs ab_results: first, alone.
        let a = self.inner.ab.rows(lake).await;
        let c = self.inner.calibration.rows(lake).await;
        fn n<R>(r: &Result<Option<Arc<Vec<R>>>, String>) -> usize {
            r.as_ref()
                .ok()
                .and_then(Option::as_ref)
                .map_or(0, |v| v.len())
        }
        tracing::info!(
            ab_results = n(&a),
            calibration = n(&c),
            ms = t0.elapsed().as_millis() as u64,
            "the dashboard has the gold tables in memory"
        );
    }

    /// The experiments view.
    ///
    /// # Errors
    /// [`Failure::Internal`] when the lake cannot be read.
    pub async fn overview(&self, f: &Filters, page: &PageRequest) -> Result<Overview, Failure> {
        let rows = self
            .inner
            .ab
            .rows(&self.inner.lake)
            .await
            .map_err(Failure::Internal)?;
        Ok(model::overview(rows.as_deref().map(Vec::as_slice), f, page))
    }

    /// One experiment's view.
    ///
    /// # Errors
    /// [`Failure::NotFound`] when it has no results.
    pub async fn experiment(&self, id: &str, f: &Filters) -> Result<ExperimentView, Failure> {
        let rows = self
            .inner
            .ab
            .rows(&self.inner.lake)
            .await
            .map_err(Failure::Internal)?;
        rows.as_deref()
            .and_then(|rows| model::experiment(rows, id, f))
            .ok_or_else(|| {
                Failure::NotFound(format!("no experiment {id:?} has results in the lake"))
            })
    }

    /// One run's view.
    ///
    /// # Errors
    /// [`Failure::NotFound`] when the run has neither results, gold rows nor params.
    pub async fn run(&self, experiment: &str, run: &str, f: &Filters) -> Result<RunView, Failure> {
        let lake = &self.inner.lake;
        let ab = self.inner.ab.rows(lake).await.map_err(Failure::Internal)?;
        let key = format!("params/{experiment}/{run}.json");
        let params = match self.inner.objects.get(&key).await {
            Ok(Some(obj)) => serde_json::from_slice(&obj.bytes).ok(),
            Ok(None) => None,
            Err(e) => return Err(Failure::Internal(format!("reading {key}: {e}"))),
        };
        let decisions: Vec<&AbRow> = ab
            .as_deref()
            .map(|r| {
                r.iter()
                    .filter(|r| r.experiment_id == experiment && r.run_id == run)
                    .collect()
            })
            .unwrap_or_default();
        let run_date = decisions.first().map(|d| d.run_date);
        let groups: Vec<GroupRow> = self
            .inner
            .groups
            .query(lake, &GroupRow::sql(experiment, run, run_date))
            .await
            .map_err(Failure::Internal)?
            .unwrap_or_default();
        let group_rows: Vec<&GroupRow> = groups.iter().collect();
        // Runs made before gold/group_quantiles existed have no rows there: shown as "—".
        let quantiles: Vec<QuantRow> = self
            .inner
            .quantiles
            .query(lake, &QuantRow::sql(experiment, run, run_date))
            .await
            .map_err(Failure::Internal)?
            .unwrap_or_default();
        if decisions.is_empty() && group_rows.is_empty() && params.is_none() {
            return Err(Failure::NotFound(format!(
                "experiment {experiment:?} has no run {run:?} in the lake or the params store"
            )));
        }
        let mut view = model::run(
            model::RunParts {
                experiment_id: experiment,
                run_id: run,
                decisions,
                groups: group_rows,
                quantiles: quantiles.iter().collect(),
                params,
            },
            f,
        );
        match self.run_log().await {
            Ok(None) => {}
            Ok(Some(log)) => match log.attempts(run).await {
                Ok(attempts) => {
                    view.steps = attempts
                        .into_iter()
                        .map(|a| StepRow {
                            step: a.step,
                            shard: a.shard,
                            attempt: a.attempt,
                            status: a.status.as_str().to_string(),
                            started_at: a.started_at.to_rfc3339(),
                            duration_ms: a.duration_ms,
                            rows: a.rows,
                            bytes: a.bytes,
                            message: a.message,
                            error: a.error,
                        })
                        .collect();
                    view.status = model::run_status(&view.steps).to_string();
                }
                Err(e) => view.run_log_error = Some(format!("cannot read the run log: {e}")),
            },
            Err(e) => view.run_log_error = Some(e),
        }
        Ok(view)
    }

    /// The calibration view, and the chart of its selected publication (SVG).
    ///
    /// # Errors
    /// [`Failure::NotFound`] for a `calibration` filter naming no publication.
    pub async fn calibration(
        &self,
        f: &Filters,
    ) -> Result<(CalibrationView, Option<Result<String, String>>), Failure> {
        let rows = self
            .inner
            .calibration
            .rows(&self.inner.lake)
            .await
            .map_err(Failure::Internal)?;
        let (view, chosen) = model::calibration(rows.as_deref().map(Vec::as_slice), f);
        if let Some(id) = &f.calibration
            && view.selected.is_none()
        {
            return Err(Failure::NotFound(format!(
                "no calibration {id:?} was published"
            )));
        }
        Ok((view, charts::svg(&chosen)))
    }

    /// The engines view, and the chart of each of its publications (SVG, in the same order).
    ///
    /// # Errors
    /// [`Failure::NotFound`] for an `experiment` or `engine` filter naming nothing published.
    pub async fn engines(&self, f: &Filters) -> Result<(EnginesView, Vec<Chart>), Failure> {
        let rows = self
            .inner
            .calibration
            .rows(&self.inner.lake)
            .await
            .map_err(Failure::Internal)?;
        let (view, chosen) = model::engines(rows.as_deref().map(Vec::as_slice), f);
        let missing = match (&f.engine, &f.experiment) {
            (Some(e), Some(x)) => Some(format!("no engine {e:?} was published for {x:?}")),
            (Some(e), None) => Some(format!("no engine {e:?} was published")),
            (None, Some(x)) => Some(format!("no engine was published for {x:?}")),
            (None, None) => None,
        };
        if let Some(m) = missing
            && view.publications.is_empty()
        {
            return Err(Failure::NotFound(m));
        }
        Ok((
            view,
            chosen.iter().map(|rows| charts::engine_svg(rows)).collect(),
        ))
    }
}

/// A chart: its SVG, why it cannot be drawn, or `None` when there is nothing to draw.
pub type Chart = Option<Result<String, String>>;

/// Why a view cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 400: a query parameter.
    BadParam(BadParam),
    /// 404: no such experiment, run or publication.
    NotFound(String),
    /// 500: the lake or a store failed.
    Internal(String),
}

impl From<BadParam> for Failure {
    fn from(b: BadParam) -> Self {
        Failure::BadParam(b)
    }
}

impl Failure {
    fn api(self) -> AppError {
        match self {
            Failure::BadParam(b) => AppError::BadRequest {
                error: format!("bad query parameter {}: {}", b.param, b.message),
                details: vec![Detail {
                    path: b.param,
                    message: b.message,
                }],
            },
            Failure::NotFound(m) => AppError::NotFound(m),
            Failure::Internal(m) => {
                tracing::error!(error = %m, "the dashboard cannot read the lake");
                AppError::internal(m)
            }
        }
    }
}

/// A path segment of an id (the params API's rule, `[a-z0-9_-]{1,64}`), else a 400 naming it.
fn id(param: &str, v: &str) -> Result<(), Failure> {
    abforge_api::input::parse_id(v)
        .map(|_| ())
        .map_err(|message| {
            Failure::BadParam(BadParam {
                param: param.to_string(),
                message,
            })
        })
}

fn json<T: serde::Serialize>(r: Result<T, Failure>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(f) => f.api().into_response(),
    }
}

/// Every experiment, with its latest run and how often its tests decided right.
#[utoipa::path(
    get,
    path = "/v1/results",
    tag = "dashboard",
    operation_id = "results_overview",
    params(query::doc::OverviewParams),
    responses(
        (status = 200, description = "A page of the experiments, by id (an empty list, with a hint, before the lake has results); `next` links the next page.", body = Overview,
            headers(("Link" = String, description = "`<next>; rel=\"next\"` when there is a next page."))),
        (status = 400, description = "A query parameter that is unknown, repeated or malformed.", body = abforge_api::ErrorBody),
    )
)]
async fn overview_json(State(d): State<Dashboard>, RawQuery(q): RawQuery) -> Response {
    let v = overview(&d, q.as_deref()).await;
    let next = v.as_ref().ok().and_then(|v| v.next.clone());
    abforge_api::page::link_next(json(v), next.as_deref())
}

async fn overview(d: &Dashboard, q: Option<&str>) -> Result<Overview, Failure> {
    let (f, page) = Filters::parse_paged(q, query::OVERVIEW)?;
    d.overview(&f, &page).await
}

/// One experiment: its runs and how each test fared over them.
#[utoipa::path(
    get,
    path = "/v1/results/{experiment_id}",
    tag = "dashboard",
    operation_id = "results_experiment",
    params(("experiment_id" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "The experiment."), query::doc::ExperimentParams),
    responses(
        (status = 200, description = "The experiment's runs.", body = ExperimentView),
        (status = 400, description = "A bad id or query parameter.", body = abforge_api::ErrorBody),
        (status = 404, description = "No results for that experiment.", body = abforge_api::ErrorBody),
    )
)]
async fn experiment_json(
    State(d): State<Dashboard>,
    Path(e): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    json(experiment(&d, &e, q.as_deref()).await)
}

async fn experiment(d: &Dashboard, e: &str, q: Option<&str>) -> Result<ExperimentView, Failure> {
    id("experiment_id", e)?;
    let f = Filters::parse(q, query::EXPERIMENT)?;
    d.experiment(e, &f).await
}

/// One run beside its truth: the blueprint and truth, group means with intervals and the
/// true means, true and observed quantiles and their differences, every decision and whether it matched the truth, the sample-ratio check and
/// the run log.
#[utoipa::path(
    get,
    path = "/v1/results/{experiment_id}/runs/{run_id}",
    tag = "dashboard",
    operation_id = "results_run",
    params(
        ("experiment_id" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "The experiment."),
        ("run_id" = String, Path, pattern = "^[a-z0-9_-]{1,64}$", description = "The run."),
        query::doc::RunParams,
    ),
    responses(
        (status = 200, description = "The run.", body = RunView),
        (status = 400, description = "A bad id or query parameter.", body = abforge_api::ErrorBody),
        (status = 404, description = "No such run.", body = abforge_api::ErrorBody),
    )
)]
async fn run_json(
    State(d): State<Dashboard>,
    Path((e, r)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    json(run(&d, &e, &r, q.as_deref()).await)
}

async fn run(d: &Dashboard, e: &str, r: &str, q: Option<&str>) -> Result<RunView, Failure> {
    id("experiment_id", e)?;
    id("run_id", r)?;
    let f = Filters::parse(q, query::RUN)?;
    d.run(e, r, &f).await
}

/// The calibrations published with `abforge calibrate --publish`: one publication's
/// rejection rates with their intervals, power (Monte Carlo and analytic) and confusion
/// matrices.
#[utoipa::path(
    get,
    path = "/v1/calibration",
    tag = "dashboard",
    operation_id = "calibration",
    params(query::doc::CalibrationParams),
    responses(
        (status = 200, description = "The publications and the selected one's results.", body = CalibrationView),
        (status = 400, description = "A bad query parameter.", body = abforge_api::ErrorBody),
        (status = 404, description = "No publication with that calibration id.", body = abforge_api::ErrorBody),
    )
)]
async fn calibration_json(State(d): State<Dashboard>, RawQuery(q): RawQuery) -> Response {
    json(calibration(&d, q.as_deref()).await.map(|(v, _)| v))
}

async fn calibration(
    d: &Dashboard,
    q: Option<&str>,
) -> Result<(CalibrationView, Option<Result<String, String>>), Failure> {
    let f = Filters::parse(q, query::CALIBRATION)?;
    d.calibration(&f).await
}

/// The external A/B engines judged by `abforge calibrate --engine NAME --publish`: per
/// publication, every engine test beside abforge's own on the same simulated experiments —
/// type I error with its Wilson interval, power, coverage, customers at stop, bias, verdict.
#[utoipa::path(
    get,
    path = "/v1/engines",
    tag = "dashboard",
    operation_id = "engines",
    params(query::doc::EnginesParams),
    responses(
        (status = 200, description = "The publications with an engine (none, with a hint, before one is published).", body = EnginesView),
        (status = 400, description = "A bad query parameter.", body = abforge_api::ErrorBody),
        (status = 404, description = "No engine published for that experiment or engine name.", body = abforge_api::ErrorBody),
    )
)]
async fn engines_json(State(d): State<Dashboard>, RawQuery(q): RawQuery) -> Response {
    json(engines(&d, q.as_deref()).await.map(|(v, _)| v))
}

async fn engines(d: &Dashboard, q: Option<&str>) -> Result<(EnginesView, Vec<Chart>), Failure> {
    let f = Filters::parse(q, query::ENGINES)?;
    d.engines(&f).await
}

fn html(status: StatusCode, body: maud::Markup) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
            ),
        ],
        body.into_string(),
    )
        .into_response()
}

fn page<T>(r: Result<T, Failure>, render: impl FnOnce(T) -> maud::Markup) -> Response {
    match r {
        Ok(v) => html(StatusCode::OK, render(v)),
        Err(f) => {
            let status = match &f {
                Failure::BadParam(_) => StatusCode::BAD_REQUEST,
                Failure::NotFound(_) => StatusCode::NOT_FOUND,
                Failure::Internal(m) => {
                    tracing::error!(error = %m, "the dashboard cannot read the lake");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            html(status, pages::failure(status, &f))
        }
    }
}

async fn overview_page(State(d): State<Dashboard>, RawQuery(q): RawQuery) -> Response {
    page(overview(&d, q.as_deref()).await, |v| pages::overview(&v))
}

async fn experiment_page(
    State(d): State<Dashboard>,
    Path(e): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    page(experiment(&d, &e, q.as_deref()).await, |v| {
        pages::experiment(&v)
    })
}

async fn run_page(
    State(d): State<Dashboard>,
    Path((e, r)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    page(run(&d, &e, &r, q.as_deref()).await, |v| pages::run(&v))
}

async fn calibration_page(State(d): State<Dashboard>, RawQuery(q): RawQuery) -> Response {
    page(calibration(&d, q.as_deref()).await, |(v, chart)| {
        pages::calibration(&v, chart.as_ref())
    })
}

async fn engines_page(State(d): State<Dashboard>, RawQuery(q): RawQuery) -> Response {
    page(engines(&d, q.as_deref()).await, |(v, charts)| {
        pages::engines(&v, &charts)
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(overview_json, experiment_json, run_json, calibration_json, engines_json),
    components(schemas(
        Overview, ExperimentSummary, ExperimentView, RunSummary, TestTally, Tally, RunView,
        GroupShare, Srm, MetricView, GroupStat, QuantileRow, GroupQuantile,
        QuantileDifference, Decision, StepRow, CalibrationView,
        Publication, CalResult, ConfusionRow, EnginesView, EnginePublication, EngineResult,
        Filters
    )),
    tags((name = "dashboard", description = "What the experiments decided against the truth, from the lake's gold tables and the run log; each is the JSON twin of a dashboard page."))
)]
struct DashboardDoc;

/// The dashboard's JSON routes in OpenAPI form, to merge into the served document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    DashboardDoc::openapi()
}

/// The dashboard's pages and JSON twins.
pub fn router(d: Dashboard) -> Router {
    Router::new()
        .route("/", get(overview_page))
        .route("/experiments/{experiment_id}", get(experiment_page))
        .route("/experiments/{experiment_id}/runs/{run_id}", get(run_page))
        .route("/calibration", get(calibration_page))
        .route("/engines", get(engines_page))
        .route("/v1/results", get(overview_json))
        .route("/v1/results/{experiment_id}", get(experiment_json))
        .route("/v1/results/{experiment_id}/runs/{run_id}", get(run_json))
        .route("/v1/calibration", get(calibration_json))
        .route("/v1/engines", get(engines_json))
        .with_state(d)
}
