//! What each view shows, computed from the gold tables, the params objects and the run log.
//! These are the JSON twins' bodies; the HTML pages render exactly these.

use crate::query::Filters;
use crate::tables::{AbRow, GroupRow, QuantRow};
use abforge_api::page::PageRequest;
use abforge_lake::CalibrationRow;
use abforge_stats::Verdict;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;

/// How a set of decisions fared against the truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Tally {
    /// Decisions counted.
    pub decisions: u64,
    /// Decisions that matched the truth.
    pub correct: u64,
    /// Rejections of a true null (false positives).
    pub type_i: u64,
    /// Acceptances of a false null (misses).
    pub type_ii: u64,
    /// Decisions without a verdict (the test could not decide, or no truth to judge by).
    pub unjudged: u64,
}

impl Tally {
    pub(crate) fn add(&mut self, outcome: Option<Verdict>) {
        self.decisions += 1;
        match outcome {
            Some(Verdict::Correct) => self.correct += 1,
            Some(Verdict::TypeI) => self.type_i += 1,
            Some(Verdict::TypeIi) => self.type_ii += 1,
            None => self.unjudged += 1,
        }
    }

    /// Share of judged decisions that were right (`None` with none judged).
    pub fn accuracy(&self) -> Option<f64> {
        let judged = self.correct + self.type_i + self.type_ii;
        (judged > 0).then(|| self.correct as f64 / judged as f64)
    }
}

/// The text shown when the lake has no gold tables yet.
pub const NO_LAKE: &str = "The lake has no results yet. Run `abforge pipeline run` (or `abforge \
    pipeline backfill --from … --to …`) with the same data folder or object store as this \
    server, then reload.";

/// `GET /v1/results`: every experiment, with its latest run and its decisions' tally.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Overview {
    /// Whether the lake has results at all.
    pub lake: bool,
    /// What to do when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The filters applied.
    pub filters: Filters,
    /// Every experiment id with results (for the filter form).
    pub all_experiments: Vec<String>,
    /// Every metric with results.
    pub metrics: Vec<String>,
    /// Every test with results.
    pub tests: Vec<String>,
    /// The experiments with decisions passing the filters, by id: one page of them.
    pub experiments: Vec<ExperimentSummary>,
    /// The link to the next page of experiments (also in the `Link` header); `null` on
    /// the last.
    pub next: Option<String>,
    /// The tally over all of them (every page).
    pub total: Tally,
}

/// One experiment on the overview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExperimentSummary {
    /// The experiment.
    pub experiment_id: String,
    /// Runs with decisions passing the filters.
    pub runs: u64,
    /// Its latest such run.
    pub latest_run_id: String,
    /// That run's date.
    #[schema(value_type = String, format = Date)]
    pub latest_run_date: chrono::NaiveDate,
    /// Its decisions against the truth.
    pub tally: Tally,
}

/// `GET /v1/results/{experiment_id}`: the runs of one experiment and how each test fared.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExperimentView {
    /// The experiment.
    pub experiment_id: String,
    /// The filters applied.
    pub filters: Filters,
    /// Its metrics.
    pub metrics: Vec<String>,
    /// Its tests.
    pub tests: Vec<String>,
    /// Its runs with decisions passing the filters, newest first.
    pub runs: Vec<RunSummary>,
    /// Per metric × test, over those runs.
    pub by_test: Vec<TestTally>,
    /// Over everything shown.
    pub total: Tally,
}

/// One run of an experiment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunSummary {
    /// The run.
    pub run_id: String,
    /// Its date.
    #[schema(value_type = String, format = Date)]
    pub run_date: chrono::NaiveDate,
    /// SHA-256 of its resolved blueprint.
    pub blueprint_hash: String,
    /// Its decisions against the truth.
    pub tally: Tally,
}

/// How one test of one metric fared.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestTally {
    /// The metric.
    pub metric: String,
    /// The test.
    pub test: String,
    /// Its decisions against the truth.
    pub tally: Tally,
}

/// `GET /v1/results/{experiment_id}/runs/{run_id}`: one run beside its truth.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    /// The experiment.
    pub experiment_id: String,
    /// The run.
    pub run_id: String,
    /// Its date.
    #[schema(value_type = Option<String>, format = Date)]
    pub run_date: Option<chrono::NaiveDate>,
    /// SHA-256 of its resolved blueprint (the published params', else the decisions').
    pub blueprint_hash: Option<String>,
    /// Where the run stands, from the run log ([`run_status`]): `succeeded`, `failed`,
    /// `running` (or its writer died mid-step), `incomplete` (stopped between steps), or
    /// `unknown` (no attempt in the run log).
    pub status: String,
    /// The blueprint hash the decisions in the lake were made under, when they were made
    /// under another than the published params' (a rerun with a changed blueprint that did
    /// not reach analyze): the decisions are then *stale*, and not shown beside the new
    /// truth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_decisions_hash: Option<String>,
    /// The filters applied (to the decisions).
    pub filters: Filters,
    /// The params API's address of the run's blueprint and truth.
    pub params_url: String,
    /// The resolved blueprint, from the params object (`null` when there is none).
    #[schema(value_type = Object)]
    pub blueprint: Value,
    /// The ground truth computed from it (`null` when there is none).
    #[schema(value_type = Object)]
    pub truth: Value,
    /// The groups: planned split, customers seen, and the sample-ratio check.
    pub allocation: Vec<GroupShare>,
    /// The sample-ratio-mismatch test of the customers seen against the planned split.
    pub srm: Option<Srm>,
    /// Per metric: the groups' means beside the true means, their true and observed
    /// quantiles, and every decision.
    pub metrics: Vec<MetricView>,
    /// The run log: every attempt of every step.
    pub steps: Vec<StepRow>,
    /// Why the run log could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_log_error: Option<String>,
    /// Its decisions against the truth.
    pub tally: Tally,
}

/// A group of a run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupShare {
    /// The group.
    pub group: String,
    /// Its planned share of customers.
    pub planned: Option<f64>,
    /// Customers in it (from gold/group_daily).
    pub customers: Option<u64>,
    /// Their share of the run's customers.
    pub observed: Option<f64>,
}

/// Pearson's chi-square of the customers per group against the planned split.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Srm {
    /// The statistic.
    pub statistic: f64,
    /// Its p-value.
    pub p_value: f64,
    /// `p_value < 0.001`: the split is off (the usual sample-ratio-mismatch alarm).
    pub mismatch: bool,
}

/// A metric of a run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricView {
    /// The metric.
    pub metric: String,
    /// Its distribution, from the truth.
    pub distribution: Option<String>,
    /// Per group: observed mean with its 95 % interval, and the true mean.
    pub groups: Vec<GroupStat>,
    /// Per probability of the blueprint's `quantiles`, in increasing order: each group's
    /// true and observed quantile, and each treatment arm's difference from the control
    /// (empty when neither the truth nor the lake has quantiles of the metric).
    pub quantiles: Vec<QuantileRow>,
    /// Every decision on it.
    pub decisions: Vec<Decision>,
}

/// A group's mean of a metric.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupStat {
    /// The group.
    pub group: String,
    /// Customers.
    pub n: u64,
    /// Observed mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub sd: Option<f64>,
    /// Lower end of the 95 % t interval of the mean.
    pub ci_low: Option<f64>,
    /// Upper end.
    pub ci_high: Option<f64>,
    /// The true mean (from the truth).
    pub true_mean: Option<f64>,
    /// Whether the interval covers the true mean.
    pub covers_truth: Option<bool>,
}

/// A metric's quantiles at one probability.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QuantileRow {
    /// The probability.
    pub p: f64,
    /// Per group (the truth's order, then any only the data has).
    pub groups: Vec<GroupQuantile>,
    /// Per treatment arm: its quantile minus the control's.
    pub differences: Vec<QuantileDifference>,
}

/// A group's quantile at one probability, true and observed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GroupQuantile {
    /// The group.
    pub group: String,
    /// The true quantile, the smallest `x` with `P(X ≤ x) ≥ p` (from the truth; `null`
    /// when the truth gives none).
    pub true_value: Option<f64>,
    /// Whether the true quantile sits on an atom (a value of positive probability: every
    /// value of an integer metric, 0 under zero-inflation).
    pub atom: Option<bool>,
    /// The observed quantile: the smallest value of the run's customers in the group whose
    /// share at or below it is at least `p` (from `gold/group_quantiles`; `null` for a run
    /// gold wrote before that table existed).
    pub observed: Option<f64>,
}

/// A treatment arm's quantile against the control's, at one probability.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QuantileDifference {
    /// The treatment arm.
    pub treatment: String,
    /// The control arm.
    pub control: String,
    /// The true `quantile(treatment) − quantile(control)`.
    pub true_difference: Option<f64>,
    /// Whether the two true quantiles are equal (the null of a quantile test).
    pub null_true: Option<bool>,
    /// The observed quantiles' difference.
    pub observed_difference: Option<f64>,
}

/// One test's decision.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Decision {
    /// The control group.
    pub control: String,
    /// The treatment group.
    pub treatment: String,
    /// The test.
    pub test: String,
    /// Whether it is the metric's primary test.
    pub primary: Option<bool>,
    /// The estimate (the test's own effect measure).
    pub estimate: Option<f64>,
    /// Its interval's lower end.
    pub ci_low: Option<f64>,
    /// Its interval's upper end.
    pub ci_high: Option<f64>,
    /// The p-value.
    pub p_value: Option<f64>,
    /// The p-value adjusted for multiple tests.
    pub p_adjusted: Option<f64>,
    /// Whether the null was rejected.
    pub reject: Option<bool>,
    /// The true effect on the test's scale.
    pub true_effect: Option<f64>,
    /// Whether the test's null is true.
    pub null_true: Option<bool>,
    /// `correct`, `type_i` or `type_ii` (`null` when not judged).
    #[schema(value_type = Option<String>, example = "correct")]
    pub outcome: Option<Verdict>,
}

/// One attempt of a step, from the run log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepRow {
    /// The step.
    pub step: String,
    /// The shard (`K/N`).
    pub shard: Option<String>,
    /// 1, 2, …
    pub attempt: u32,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// When it began (RFC 3339).
    pub started_at: String,
    /// How long it took.
    pub duration_ms: Option<u64>,
    /// Rows it moved.
    pub rows: Option<u64>,
    /// Bytes it wrote.
    pub bytes: Option<u64>,
    /// What it did.
    pub message: Option<String>,
    /// Its error, when it failed.
    pub error: Option<String>,
}

/// `GET /v1/calibration`: the calibrations published to the lake.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalibrationView {
    /// Whether `gold/calibration` exists.
    pub lake: bool,
    /// What to do when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The filters applied.
    pub filters: Filters,
    /// Every publication (of the filtered experiment), newest first.
    pub publications: Vec<Publication>,
    /// The one shown: `filters.calibration`, else the newest.
    pub selected: Option<Publication>,
    /// Its results (filtered by metric and test), one per sweep value × metric × arm × test.
    pub results: Vec<CalResult>,
    /// Its decisions over every replication, per metric × arm × test (summed over sweep
    /// values).
    pub confusion: Vec<ConfusionRow>,
}

/// A `calibrate --publish`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Publication {
    /// Its id.
    pub calibration_id: String,
    /// The experiment calibrated.
    pub experiment_id: String,
    /// When it was published (RFC 3339).
    pub published_at: Option<String>,
    /// SHA-256 of the blueprint calibrated.
    pub blueprint_hash: String,
    /// The parameter swept, for a power curve.
    pub sweep_param: Option<String>,
    /// Its values.
    pub sweep_values: Vec<f64>,
    /// Replications per point.
    pub replications: i64,
    /// Customers per replication.
    pub customers: i64,
    /// The significance level.
    pub alpha: f64,
    /// Looks per replication (sequential tests).
    pub peeks: i64,
    /// Rows of results.
    pub results: u64,
    /// Tests flagged as miscalibrated.
    pub miscalibrated: u64,
}

/// One result of a calibration.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalResult {
    /// The sweep value (none without a sweep).
    pub sweep_value: Option<f64>,
    /// The metric.
    pub metric: String,
    /// The arm against the control.
    pub arm: String,
    /// The test.
    pub test: String,
    /// Whether its null is true.
    pub null_true: Option<bool>,
    /// Share of replications rejecting.
    pub rejection_rate: f64,
    /// Its Wilson 95 % interval.
    pub rejection_ci_low: f64,
    /// Upper end.
    pub rejection_ci_high: f64,
    /// The rejection rate under a true null.
    pub type_i_error: Option<f64>,
    /// The rejection rate under a false null.
    pub power: Option<f64>,
    /// The power a formula predicts.
    pub analytic_power: Option<f64>,
    /// Share of intervals covering the truth.
    pub ci_coverage: Option<f64>,
    /// KS p-value of the p-values against uniform (true nulls).
    pub p_value_ks: Option<f64>,
    /// The mean of estimate − true effect (none for a test without an estimate).
    pub bias: Option<f64>,
    /// A sequential test's mean customers at stopping, with several looks.
    pub mean_customers_at_stop: Option<f64>,
    /// Whether the rate is off α (true null) or the analytic power.
    pub miscalibrated: bool,
}

/// The confusion matrix of one test.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfusionRow {
    /// The metric.
    pub metric: String,
    /// The arm.
    pub arm: String,
    /// The test.
    pub test: String,
    /// True null, accepted.
    pub correct_accept: i64,
    /// False null, rejected.
    pub correct_reject: i64,
    /// True null, rejected.
    pub type_i: i64,
    /// False null, accepted.
    pub type_ii: i64,
}

fn sorted_unique<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = it.map(str::to_owned).collect();
    v.sort();
    v.dedup();
    v
}

/// The overview of `rows` under `f`: the page `page` of its experiments.
pub(crate) fn overview(rows: Option<&[AbRow]>, f: &Filters, page: &PageRequest) -> Overview {
    let Some(rows) = rows else {
        return Overview {
            lake: false,
            hint: Some(NO_LAKE.into()),
            filters: f.clone(),
            all_experiments: vec![],
            metrics: vec![],
            tests: vec![],
            experiments: vec![],
            next: None,
            total: Tally::default(),
        };
    };
    struct Acc<'a> {
        runs: Vec<&'a str>,
        latest: (chrono::NaiveDate, &'a str),
        tally: Tally,
    }
    let mut by: BTreeMap<&str, Acc> = BTreeMap::new();
    let mut total = Tally::default();
    for r in rows {
        if f.experiment
            .as_deref()
            .is_some_and(|e| e != r.experiment_id)
            || !f.keeps(&r.metric, &r.decision.test, Some(r.run_date))
        {
            continue;
        }
        let a = by.entry(&r.experiment_id).or_insert_with(|| Acc {
            runs: Vec::new(),
            latest: (r.run_date, &r.run_id),
            tally: Tally::default(),
        });
        if a.runs.last() != Some(&r.run_id.as_str()) && !a.runs.contains(&r.run_id.as_str()) {
            a.runs.push(&r.run_id);
        }
        if (r.run_date, r.run_id.as_str()) > a.latest {
            a.latest = (r.run_date, &r.run_id);
        }
        a.tally.add(r.decision.outcome);
        total.add(r.decision.outcome);
    }
    let summaries = by.into_iter().map(|(id, a)| ExperimentSummary {
        experiment_id: id.to_string(),
        runs: a.runs.len() as u64,
        latest_run_id: a.latest.1.to_string(),
        latest_run_date: a.latest.0,
        tally: a.tally,
    });
    let shown = page.take(summaries, |e| &e.experiment_id);
    Overview {
        lake: true,
        hint: rows.is_empty().then(|| NO_LAKE.to_string()),
        filters: f.clone(),
        all_experiments: sorted_unique(rows.iter().map(|r| r.experiment_id.as_str())),
        metrics: sorted_unique(rows.iter().map(|r| r.metric.as_str())),
        tests: sorted_unique(rows.iter().map(|r| r.decision.test.as_str())),
        experiments: shown.items,
        next: shown
            .next_cursor
            .map(|c| page.next_link("/v1/results", &f.query(), &c)),
        total,
    }
}

/// One experiment's view; `None` when it has no results at all.
pub(crate) fn experiment(rows: &[AbRow], id: &str, f: &Filters) -> Option<ExperimentView> {
    let mine: Vec<&AbRow> = rows.iter().filter(|r| r.experiment_id == id).collect();
    if mine.is_empty() {
        return None;
    }
    let mut runs: BTreeMap<(chrono::NaiveDate, &str), RunSummary> = BTreeMap::new();
    let mut by_test: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut total = Tally::default();
    for r in &mine {
        if !f.keeps(&r.metric, &r.decision.test, Some(r.run_date)) {
            continue;
        }
        runs.entry((r.run_date, &r.run_id))
            .or_insert_with(|| RunSummary {
                run_id: r.run_id.clone(),
                run_date: r.run_date,
                blueprint_hash: r.blueprint_hash.clone(),
                tally: Tally::default(),
            })
            .tally
            .add(r.decision.outcome);
        by_test
            .entry((&r.metric, &r.decision.test))
            .or_default()
            .add(r.decision.outcome);
        total.add(r.decision.outcome);
    }
    Some(ExperimentView {
        experiment_id: id.to_string(),
        filters: f.clone(),
        metrics: sorted_unique(mine.iter().map(|r| r.metric.as_str())),
        tests: sorted_unique(mine.iter().map(|r| r.decision.test.as_str())),
        runs: runs.into_values().rev().collect(),
        by_test: by_test
            .into_iter()
            .map(|((m, t), tally)| TestTally {
                metric: m.to_string(),
                test: t.to_string(),
                tally,
            })
            .collect(),
        total,
    })
}

/// Everything a run page shows but the run log.
pub(crate) struct RunParts<'a> {
    pub experiment_id: &'a str,
    pub run_id: &'a str,
    pub decisions: Vec<&'a AbRow>,
    pub groups: Vec<&'a GroupRow>,
    /// The run's observed quantiles (none for a run older than `gold/group_quantiles`).
    pub quantiles: Vec<&'a QuantRow>,
    /// The params object: `{experiment_id, run_id, blueprint_hash, blueprint, truth}`.
    pub params: Option<Value>,
}

/// The 95 % two-sided t quantile with `df` degrees of freedom.
fn t975(df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, df).map_or(1.959_963_984_540_054, |t| t.inverse_cdf(0.975))
}

/// Where a run stands, from its attempts in the run log: the latest attempt (by start)
/// tells — `running` while it has not ended, `failed` when it failed, `succeeded` when it is
/// analyze's and succeeded, `incomplete` when another step succeeded last (the run stopped
/// between steps); `unknown` with no attempt.
pub(crate) fn run_status(steps: &[StepRow]) -> &'static str {
    let Some(last) = steps
        .iter()
        .max_by(|a, b| (&a.started_at, a.attempt).cmp(&(&b.started_at, b.attempt)))
    else {
        return "unknown";
    };
    match (last.status.as_str(), last.step.as_str()) {
        ("succeeded", "analyze") => "succeeded",
        ("succeeded", _) => "incomplete",
        ("failed", _) => "failed",
        _ => "running",
    }
}

pub(crate) fn run(mut p: RunParts<'_>, f: &Filters) -> RunView {
    let params = p.params.take().unwrap_or(Value::Null);
    let published = params["blueprint_hash"].as_str().map(str::to_owned);
    let stale_decisions_hash = p
        .decisions
        .first()
        .map(|d| d.blueprint_hash.clone())
        .filter(|h| published.as_ref().is_some_and(|p| p != h));
    if stale_decisions_hash.is_some() {
        // Decisions made under another blueprint are not judged against this truth.
        p.decisions.clear();
    }
    let truth = params.get("truth").cloned().unwrap_or(Value::Null);
    let blueprint = params.get("blueprint").cloned().unwrap_or(Value::Null);
    let first = p.decisions.first();
    let allocation = allocation(&truth, &p.groups);
    let srm = srm_of(&allocation);
    let mut tally = Tally::default();
    let metrics = metric_names(&p)
        .into_iter()
        .filter(|m| f.metric.as_deref().is_none_or(|x| x == m))
        .map(|m| metric_view(&p, &truth, f, m, &mut tally))
        .collect();
    RunView {
        experiment_id: p.experiment_id.to_string(),
        run_id: p.run_id.to_string(),
        run_date: first.map(|d| d.run_date).or_else(|| {
            blueprint["start_date"]
                .as_str()
                .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        }),
        blueprint_hash: published.or_else(|| first.map(|d| d.blueprint_hash.clone())),
        status: "unknown".into(),
        stale_decisions_hash,
        filters: f.clone(),
        params_url: format!(
            "/v1/experiments/{}/runs/{}/params",
            p.experiment_id, p.run_id
        ),
        blueprint,
        truth,
        allocation,
        srm,
        metrics,
        steps: Vec::new(),
        run_log_error: None,
        tally,
    }
}

/// The run's groups — in the truth's order (the blueprint's), then any only the data has —
/// with their planned shares and their customers (the first metric's counts: every metric
/// counts every customer).
fn allocation(truth: &Value, groups: &[&GroupRow]) -> Vec<GroupShare> {
    let mut names: Vec<String> = truth["allocation"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|g| g["group"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for g in groups {
        if !names.contains(&g.group) {
            names.push(g.group.clone());
        }
    }
    let first_metric = groups.first().map(|g| g.metric.as_str());
    let customers = |group: &str| {
        groups
            .iter()
            .find(|g| Some(g.metric.as_str()) == first_metric && g.group == group)
            .map(|g| g.n.max(0) as u64)
    };
    let total: u64 = names.iter().filter_map(|g| customers(g)).sum();
    let planned = |group: &str| {
        truth["allocation"].as_array().and_then(|a| {
            a.iter()
                .find(|g| g["group"] == group)
                .and_then(|g| g["planned"].as_f64())
        })
    };
    names
        .iter()
        .map(|g| GroupShare {
            group: g.clone(),
            planned: planned(g),
            customers: customers(g),
            observed: customers(g)
                .filter(|_| total > 0)
                .map(|c| c as f64 / total as f64),
        })
        .collect()
}

/// The sample-ratio check of the allocation, when every group has its customers and its
/// planned share.
fn srm_of(allocation: &[GroupShare]) -> Option<Srm> {
    let obs: Option<Vec<u64>> = allocation.iter().map(|a| a.customers).collect();
    let w: Option<Vec<f64>> = allocation.iter().map(|a| a.planned).collect();
    match (obs, w) {
        (Some(o), Some(w)) if o.len() >= 2 => abforge_stats::srm(&o, &w).ok().map(|r| Srm {
            statistic: r.statistic,
            p_value: r.p_value,
            mismatch: r.p_value < 0.001,
        }),
        _ => None,
    }
}

/// The run's metrics, in the order the group rows, then the decisions, name them.
fn metric_names(p: &RunParts<'_>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for m in p
        .groups
        .iter()
        .map(|g| &g.metric)
        .chain(p.decisions.iter().map(|d| &d.metric))
    {
        if !names.contains(m) {
            names.push(m.clone());
        }
    }
    names
}

/// One metric of the run: each group's mean against the truth, and the decisions `f`
/// keeps (counted in `tally`).
fn metric_view(
    p: &RunParts<'_>,
    truth: &Value,
    f: &Filters,
    m: String,
    tally: &mut Tally,
) -> MetricView {
    let tm = truth["metrics"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["metric"] == m.as_str()));
    let groups = p
        .groups
        .iter()
        .filter(|g| g.metric == m)
        .map(|g| group_stat(g, tm))
        .collect();
    let decisions = p
        .decisions
        .iter()
        .filter(|d| d.metric == m && f.keeps(&d.metric, &d.decision.test, None))
        .map(|d| {
            tally.add(d.decision.outcome);
            d.decision.clone()
        })
        .collect();
    let observed: Vec<&QuantRow> = p
        .quantiles
        .iter()
        .filter(|q| q.metric == m)
        .copied()
        .collect();
    MetricView {
        distribution: tm.and_then(|t| t["distribution"].as_str().map(str::to_owned)),
        quantiles: quantile_rows(tm, &observed),
        metric: m,
        groups,
        decisions,
    }
}

/// A group's mean with its 95 % t interval, against the true mean of `tm` (the truth's
/// entry of the metric).
fn group_stat(g: &GroupRow, tm: Option<&Value>) -> GroupStat {
    let n = g.n.max(0) as f64;
    let mean = if n > 0.0 { g.sum / n } else { f64::NAN };
    let var = (n > 1.0).then(|| ((g.sum_sq - g.sum * mean) / (n - 1.0)).max(0.0));
    let half = var.map(|v| t975(n - 1.0) * (v / n).sqrt());
    let true_mean = tm.and_then(|t| {
        t["groups"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["group"] == g.group.as_str()))
            .and_then(|x| x["mean"].as_f64())
    });
    let (lo, hi) = (half.map(|h| mean - h), half.map(|h| mean + h));
    GroupStat {
        group: g.group.clone(),
        n: n as u64,
        mean,
        sd: var.map(f64::sqrt),
        ci_low: lo,
        ci_high: hi,
        true_mean,
        covers_truth: match (lo, hi, true_mean) {
            (Some(l), Some(h), Some(t)) => Some(l <= t && t <= h),
            _ => None,
        },
    }
}

/// Whether two probabilities are the same (the truth's went through JSON, the lake's through
/// a Delta table: both round-trip exactly, but a tolerance costs nothing).
fn same_p(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12
}

/// A metric's quantiles, true (from `tm`, the truth's entry of the metric) beside observed
/// (the run's rows of `gold/group_quantiles` for the metric), at every probability either
/// has; `None` where one of them has no value.
fn quantile_rows(tm: Option<&Value>, observed: &[&QuantRow]) -> Vec<QuantileRow> {
    let empty = Vec::new();
    let truth = tm.and_then(|t| t["groups"].as_array()).unwrap_or(&empty);
    let mut groups: Vec<&str> = truth.iter().filter_map(|g| g["group"].as_str()).collect();
    for q in observed {
        if !groups.contains(&q.group.as_str()) {
            groups.push(&q.group);
        }
    }
    let true_at = |group: &str, p: f64| -> Option<&Value> {
        truth
            .iter()
            .find(|g| g["group"] == group)
            .and_then(|g| g["quantiles"].as_array())
            .and_then(|qs| {
                qs.iter()
                    .find(|q| q["p"].as_f64().is_some_and(|x| same_p(x, p)))
            })
    };
    let observed_at = |group: &str, p: f64| {
        observed
            .iter()
            .find(|q| q.group == group && same_p(q.p, p))
            .and_then(|q| q.value)
    };
    let mut ps: Vec<f64> = truth
        .iter()
        .filter_map(|g| g["quantiles"].as_array())
        .flatten()
        .filter_map(|q| q["p"].as_f64())
        .chain(observed.iter().map(|q| q.p))
        .collect();
    ps.sort_by(f64::total_cmp);
    ps.dedup_by(|a, b| same_p(*a, *b));
    let arms: Vec<&Value> = tm
        .and_then(|t| t["effects"].as_array())
        .map(|e| e.iter().collect())
        .unwrap_or_default();
    ps.into_iter()
        .map(|p| QuantileRow {
            p,
            groups: groups
                .iter()
                .map(|&g| GroupQuantile {
                    group: g.to_string(),
                    true_value: true_at(g, p).and_then(|q| q["value"].as_f64()),
                    atom: true_at(g, p).and_then(|q| q["atom"].as_bool()),
                    observed: observed_at(g, p),
                })
                .collect(),
            differences: arms
                .iter()
                .filter_map(|e| {
                    let (t, c) = (e["group"].as_str()?, e["control"].as_str()?);
                    let effect = e["quantile_effects"].as_array().and_then(|qs| {
                        qs.iter()
                            .find(|q| q["p"].as_f64().is_some_and(|x| same_p(x, p)))
                    });
                    Some(QuantileDifference {
                        treatment: t.to_string(),
                        control: c.to_string(),
                        true_difference: effect.and_then(|q| q["difference"].as_f64()),
                        null_true: effect.and_then(|q| q["null"].as_bool()),
                        observed_difference: observed_at(t, p)
                            .zip(observed_at(c, p))
                            .map(|(t, c)| t - c),
                    })
                })
                .collect(),
        })
        .collect()
}

/// The calibration view of `rows` under `f`.
pub(crate) fn calibration(
    rows: Option<&[CalibrationRow]>,
    f: &Filters,
) -> (CalibrationView, Vec<CalibrationRow>) {
    let Some(rows) = rows else {
        return (
            CalibrationView {
                lake: false,
                hint: Some(
                    "No calibration has been published yet. `abforge calibrate -b BLUEPRINT \
                     --publish` (with the same data folder or object store as this server) \
                     publishes one; `--sweep` makes a power curve."
                        .into(),
                ),
                filters: f.clone(),
                publications: vec![],
                selected: None,
                results: vec![],
                confusion: vec![],
            },
            vec![],
        );
    };
    let mine: Vec<&CalibrationRow> = rows
        .iter()
        .filter(|r| f.experiment.as_deref().is_none_or(|e| e == r.experiment_id))
        .collect();
    let publications = publications(&mine);
    let selected = match &f.calibration {
        Some(id) => publications
            .iter()
            .find(|p| &p.calibration_id == id)
            .cloned(),
        None => publications.first().cloned(),
    };
    let chosen: Vec<CalibrationRow> = selected
        .as_ref()
        .map(|s| {
            mine.iter()
                .filter(|r| {
                    r.calibration_id == s.calibration_id && f.keeps(&r.metric, &r.test, None)
                })
                .map(|r| (*r).clone())
                .collect()
        })
        .unwrap_or_default();
    let view = CalibrationView {
        lake: true,
        hint: None,
        filters: f.clone(),
        publications,
        selected,
        results: chosen.iter().map(CalResult::of).collect(),
        confusion: confusion(&chosen),
    };
    (view, chosen)
}

/// The calibrations published, newest first, each with its sweep values and counts.
fn publications(rows: &[&CalibrationRow]) -> Vec<Publication> {
    let mut publications: Vec<Publication> = Vec::new();
    for r in rows {
        let p = match publications
            .iter_mut()
            .position(|p| p.calibration_id == r.calibration_id)
        {
            Some(i) => &mut publications[i],
            None => {
                publications.push(Publication {
                    calibration_id: r.calibration_id.clone(),
                    experiment_id: r.experiment_id.clone(),
                    published_at: r.published_at.map(|t| t.to_rfc3339()),
                    blueprint_hash: r.blueprint_hash.clone(),
                    sweep_param: r.sweep_param.clone(),
                    sweep_values: vec![],
                    replications: signed(r.replications),
                    customers: signed(r.customers),
                    alpha: r.alpha,
                    peeks: r.peeks.into(),
                    results: 0,
                    miscalibrated: 0,
                });
                publications.last_mut().expect("just pushed")
            }
        };
        if let Some(v) = r.sweep_value
            && !p.sweep_values.contains(&v)
        {
            p.sweep_values.push(v);
        }
        p.results += 1;
        p.miscalibrated += u64::from(r.miscalibrated);
    }
    for p in &mut publications {
        p.sweep_values.sort_by(f64::total_cmp);
    }
    publications.sort_by(|a, b| b.published_at.cmp(&a.published_at));
    publications
}

/// A count as the views show it: signed, as the table stores it (saturated at `i64::MAX`).
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The confusion matrix of each (metric, arm, test), summed over the sweep's points.
fn confusion(chosen: &[CalibrationRow]) -> Vec<ConfusionRow> {
    let mut confusion: Vec<ConfusionRow> = Vec::new();
    for r in chosen {
        match confusion
            .iter_mut()
            .find(|c| c.metric == r.metric && c.arm == r.arm && c.test == r.test)
        {
            Some(c) => {
                c.correct_accept += signed(r.correct_accept);
                c.correct_reject += signed(r.correct_reject);
                c.type_i += signed(r.type_i);
                c.type_ii += signed(r.type_ii);
            }
            None => confusion.push(ConfusionRow {
                metric: r.metric.clone(),
                arm: r.arm.clone(),
                test: r.test.clone(),
                correct_accept: signed(r.correct_accept),
                correct_reject: signed(r.correct_reject),
                type_i: signed(r.type_i),
                type_ii: signed(r.type_ii),
            }),
        }
    }
    confusion
}

impl CalResult {
    /// The view of one calibration row.
    fn of(r: &CalibrationRow) -> CalResult {
        CalResult {
            sweep_value: r.sweep_value,
            metric: r.metric.clone(),
            arm: r.arm.clone(),
            test: r.test.clone(),
            null_true: r.null_true,
            rejection_rate: r.rejection_rate,
            rejection_ci_low: r.rejection_ci_low,
            rejection_ci_high: r.rejection_ci_high,
            type_i_error: r.type_i_error,
            power: r.power,
            analytic_power: r.analytic_power,
            ci_coverage: r.ci_coverage,
            p_value_ks: r.p_value_ks,
            bias: r.bias,
            mean_customers_at_stop: r.mean_customers_at_stop,
            miscalibrated: r.miscalibrated,
        }
    }
}

/// What the engines page says when no engine was published.
pub const NO_ENGINE: &str = "No engine was published: run `abforge calibrate -b BLUEPRINT \
    --engine NAME --publish` (NAME one of tea-tasting, gbstats, spotify-confidence, scipy, or a \
    command speaking the engine protocol; with the same data folder or object store as this \
    server), then reload.";

/// `GET /v1/engines`: the external A/B engines judged by `abforge calibrate --engine
/// --publish`, each publication's engine tests beside abforge's own on the same simulated
/// experiments.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnginesView {
    /// Whether `gold/calibration` exists.
    pub lake: bool,
    /// What to do when no engine was published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The filters applied.
    pub filters: Filters,
    /// Every engine published (its name), for the filter form.
    pub engines: Vec<String>,
    /// Every experiment an engine was published for.
    pub experiments: Vec<String>,
    /// The publications with an engine passing the filters: by experiment, then engine,
    /// then newest first.
    pub publications: Vec<EnginePublication>,
}

/// One `calibrate --engine --publish`: the engine's tests and abforge's, judged on the same
/// replications.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnginePublication {
    /// The experiment calibrated.
    pub experiment_id: String,
    /// The engine's name, as its handshake gives it (`gbstats`; what the `engine` filter
    /// takes).
    pub engine_name: String,
    /// The engine's name and version (`gbstats 0.8.0`).
    pub engine: String,
    /// The publication's id (its page on `/calibration` too).
    pub calibration_id: String,
    /// When it was published (RFC 3339).
    pub published_at: Option<String>,
    /// SHA-256 of the blueprint calibrated.
    pub blueprint_hash: String,
    /// The parameter swept, for a power curve.
    pub sweep_param: Option<String>,
    /// Replications per point.
    pub replications: i64,
    /// Customers per replication.
    pub customers: i64,
    /// The significance level.
    pub alpha: f64,
    /// Looks per replication (sequential tests).
    pub peeks: i64,
    /// Every test's result, abforge's and the engine's: per sweep value × metric × arm,
    /// abforge's tests first.
    pub results: Vec<EngineResult>,
}

/// One test's calibration in an engine's publication.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EngineResult {
    /// The test (`welch_t`; an engine's as `engine:test`, `gbstats:ttest`).
    pub test: String,
    /// The engine and its version whose test it is; `null` for abforge's own.
    pub engine: Option<String>,
    /// The metric.
    pub metric: String,
    /// The arm against the control.
    pub arm: String,
    /// The sweep value (none without a sweep).
    pub sweep_value: Option<f64>,
    /// Whether its null is true.
    pub null_true: Option<bool>,
    /// Replications it decided in.
    pub replications: i64,
    /// Replications where it could not run.
    pub failed: i64,
    /// Share of replications rejecting.
    pub rejection_rate: f64,
    /// Its Wilson 95 % interval.
    pub rejection_ci_low: f64,
    /// Upper end.
    pub rejection_ci_high: f64,
    /// The rejection rate under a true null.
    pub type_i_error: Option<f64>,
    /// The rejection rate under a false null.
    pub power: Option<f64>,
    /// Share of intervals covering the truth (of the test's own estimand).
    pub ci_coverage: Option<f64>,
    /// A sequential test's mean customers at stopping, with several looks.
    pub mean_customers_at_stop: Option<f64>,
    /// The mean of estimate − true effect (none for a test without an estimate).
    pub bias: Option<f64>,
    /// Whether the type I error is off α.
    pub miscalibrated: bool,
    /// What `abforge calibrate` says of it: `MISCALIBRATED (type I above α)`,
    /// `miscalibrated (conservative)`, `holds α`, `type II 0.200`, …
    pub verdict: String,
}

/// The name of the engine whose test a row is (`None` for abforge's own): the `engine:`
/// before its test (the `engine` column is `name version`, and a version may have spaces).
fn engine_name(r: &CalibrationRow) -> Option<&str> {
    r.engine.as_ref()?;
    Some(
        r.test
            .split_once(':')
            .map_or(r.test.as_str(), |(name, _)| name),
    )
}

/// A publication's place on the engines page: experiment, engine name, newest first, id.
type PublicationKey<'a> = (&'a str, &'a str, Reverse<Option<DateTime<Utc>>>, &'a str);

/// The engines view of `rows` under `f` (`experiment`, `engine`), and each publication's
/// rows (those of its engine and abforge's own), in the view's order.
pub(crate) fn engines(
    rows: Option<&[CalibrationRow]>,
    f: &Filters,
) -> (EnginesView, Vec<Vec<CalibrationRow>>) {
    let lake = rows.is_some();
    let rows = rows.unwrap_or_default();
    let published: Vec<&CalibrationRow> = rows.iter().filter(|r| r.engine.is_some()).collect();
    let engines = sorted_unique(published.iter().filter_map(|r| engine_name(r)));
    let experiments = sorted_unique(published.iter().map(|r| r.experiment_id.as_str()));
    // One publication per calibration_id with engine rows passing the filters: by
    // experiment, engine, newest first (its rows share all four).
    let ids: BTreeSet<PublicationKey<'_>> = published
        .iter()
        .filter(|r| f.experiment.as_deref().is_none_or(|e| e == r.experiment_id))
        .filter_map(|r| {
            let name = engine_name(r)?;
            f.engine.as_deref().is_none_or(|e| e == name).then_some((
                r.experiment_id.as_str(),
                name,
                Reverse(r.published_at),
                r.calibration_id.as_str(),
            ))
        })
        .collect();
    let chosen: Vec<Vec<CalibrationRow>> = ids
        .iter()
        .map(|(_, _, _, id)| publication_rows(rows, id))
        .collect();
    let view = EnginesView {
        lake,
        hint: published.is_empty().then(|| NO_ENGINE.to_string()),
        filters: f.clone(),
        engines,
        experiments,
        publications: chosen
            .iter()
            .filter_map(|r| engine_publication(r))
            .collect(),
    };
    (view, chosen)
}

/// A publication's rows, in the order of the table: per sweep value, then metric and arm in
/// the order written; abforge's tests before the engine's (as written).
fn publication_rows(rows: &[CalibrationRow], id: &str) -> Vec<CalibrationRow> {
    let mine: Vec<&CalibrationRow> = rows.iter().filter(|r| r.calibration_id == id).collect();
    let mut order: Vec<(&str, &str)> = Vec::new();
    for r in &mine {
        if !order.contains(&(r.metric.as_str(), r.arm.as_str())) {
            order.push((&r.metric, &r.arm));
        }
    }
    let at = |r: &CalibrationRow| {
        order
            .iter()
            .position(|k| *k == (r.metric.as_str(), r.arm.as_str()))
    };
    let mut out: Vec<CalibrationRow> = mine.iter().map(|r| (*r).clone()).collect();
    out.sort_by(|a, b| {
        let sweep = |r: &CalibrationRow| r.sweep_value.unwrap_or(f64::NEG_INFINITY);
        sweep(a)
            .total_cmp(&sweep(b))
            .then(at(a).cmp(&at(b)))
            .then(a.engine.is_some().cmp(&b.engine.is_some()))
    });
    out
}

/// The view of a publication's rows (`None` without an engine row).
fn engine_publication(rows: &[CalibrationRow]) -> Option<EnginePublication> {
    let e = rows.iter().find(|r| r.engine.is_some())?;
    Some(EnginePublication {
        experiment_id: e.experiment_id.clone(),
        engine_name: engine_name(e).unwrap_or_default().to_string(),
        engine: e.engine.clone().unwrap_or_default(),
        calibration_id: e.calibration_id.clone(),
        published_at: e.published_at.map(|t| t.to_rfc3339()),
        blueprint_hash: e.blueprint_hash.clone(),
        sweep_param: e.sweep_param.clone(),
        replications: signed(e.replications),
        customers: signed(e.customers),
        alpha: e.alpha,
        peeks: e.peeks.into(),
        results: rows.iter().map(EngineResult::of).collect(),
    })
}

impl EngineResult {
    /// The view of one calibration row.
    fn of(r: &CalibrationRow) -> EngineResult {
        EngineResult {
            test: r.test.clone(),
            engine: r.engine.clone(),
            metric: r.metric.clone(),
            arm: r.arm.clone(),
            sweep_value: r.sweep_value,
            null_true: r.null_true,
            replications: signed(r.replications),
            failed: signed(r.failed),
            rejection_rate: r.rejection_rate,
            rejection_ci_low: r.rejection_ci_low,
            rejection_ci_high: r.rejection_ci_high,
            type_i_error: r.type_i_error,
            power: r.power,
            ci_coverage: r.ci_coverage,
            mean_customers_at_stop: r.mean_customers_at_stop,
            bias: r.bias,
            miscalibrated: r.miscalibrated,
            verdict: verdict(r),
        }
    }
}

/// `abforge calibrate`'s verdict of a row (the words of its text report).
fn verdict(r: &CalibrationRow) -> String {
    if r.replications == 0 {
        return "not computed: failed in every experiment".into();
    }
    if r.miscalibrated {
        return if r.type_i_error.unwrap_or(0.0) > r.alpha {
            "MISCALIBRATED (type I above α)".into()
        } else {
            "miscalibrated (conservative)".into()
        };
    }
    match (r.null_true, r.power) {
        (Some(false), Some(p)) => format!("type II {:.3}", 1.0 - p),
        (Some(false), None) => String::new(),
        _ => "holds α".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::OVERVIEW;

    fn row(experiment: &str, outcome: Verdict) -> AbRow {
        AbRow {
            experiment_id: experiment.into(),
            run_id: "r1".into(),
            run_date: "2026-11-02".parse().unwrap(),
            blueprint_hash: "h".into(),
            metric: "items".into(),
            decision: Decision {
                control: "control".into(),
                treatment: "treatment".into(),
                test: "welch_t".into(),
                primary: Some(true),
                estimate: None,
                ci_low: None,
                ci_high: None,
                p_value: None,
                p_adjusted: None,
                reject: None,
                true_effect: None,
                null_true: None,
                outcome: Some(outcome),
            },
        }
    }

    /// The overview's experiments come a page at a time, `next` carrying the filters;
    /// the total covers every page.
    #[test]
    fn overview_pages_follow_next_and_keep_the_filters() {
        let rows: Vec<AbRow> = (0..7)
            .flat_map(|i| {
                [
                    row(&format!("e{i}"), Verdict::Correct),
                    row(&format!("e{i}"), Verdict::TypeI),
                ]
            })
            .collect();
        let mut url = "/v1/results?test=welch_t&limit=3".to_string();
        let mut seen = Vec::new();
        loop {
            let q = url.split_once('?').map(|(_, q)| q);
            let (f, page) = Filters::parse_paged(q, OVERVIEW).unwrap();
            let v = overview(Some(&rows), &f, &page);
            assert!(v.experiments.len() <= 3);
            assert_eq!(v.total.decisions, 14, "every page's total is the whole");
            seen.extend(v.experiments.iter().map(|e| e.experiment_id.clone()));
            match v.next {
                Some(n) => {
                    assert!(
                        n.starts_with("/v1/results?test=welch_t&limit=3&cursor="),
                        "{n}"
                    );
                    url = n;
                }
                None => break,
            }
        }
        let all: Vec<String> = (0..7).map(|i| format!("e{i}")).collect();
        assert_eq!(seen, all);
    }

    /// A row of publication `id` of `experiment`: abforge's `test`, or `engine`'s.
    fn cal_row(
        id: &str,
        experiment: &str,
        test: &str,
        engine: Option<&str>,
        at: i64,
    ) -> CalibrationRow {
        CalibrationRow {
            experiment_id: experiment.into(),
            calibration_id: id.into(),
            blueprint_hash: "h".into(),
            published_at: DateTime::from_timestamp(at, 0),
            sweep_param: None,
            sweep_value: None,
            replications: 100,
            customers: 1000,
            alpha: 0.05,
            seed: 1,
            peeks: 1,
            metric: "m".into(),
            arm: "treatment".into(),
            test: test.into(),
            kind: "continuous".into(),
            null: "mean".into(),
            null_true: Some(true),
            failed: 0,
            rejection_rate: 0.1,
            rejection_ci_low: 0.06,
            rejection_ci_high: 0.17,
            type_i_error: Some(0.1),
            power: None,
            analytic_power: None,
            ci_coverage: Some(0.9),
            p_value_ks: None,
            miscalibrated: true,
            correct_accept: 90,
            correct_reject: 0,
            type_i: 10,
            type_ii: 0,
            bias: Some(0.0),
            bias_se: None,
            mean_customers_at_stop: None,
            engine: engine.map(str::to_owned),
        }
    }

    /// Publications with an engine only, by experiment, engine, newest first; the engine's
    /// name is its tests' prefix (a version may have spaces); abforge's tests before the
    /// engine's; filters pick, and nothing published gives the hint.
    #[test]
    fn engines_are_listed_by_experiment_engine_newest_first() {
        let scipy_version = "scipy scipy 1.17.1, statsmodels 0.15.0";
        let scipy = Some(scipy_version);
        let rows = vec![
            cal_row("plain", "a", "welch_t", None, 10),
            cal_row("s-old", "b", "scipy:welch", scipy, 20),
            cal_row("s-old", "b", "welch_t", None, 20),
            cal_row("s-new", "b", "welch_t", None, 30),
            cal_row("s-new", "b", "scipy:welch", scipy, 30),
            cal_row("g", "b", "gbstats:ttest", Some("gbstats 0.8.0"), 40),
            cal_row("g", "b", "welch_t", None, 40),
            cal_row("ga", "a", "gbstats:ttest", Some("gbstats 0.8.0"), 5),
        ];
        let (v, chosen) = engines(Some(&rows), &Filters::default());
        assert!(v.lake && v.hint.is_none());
        assert_eq!(v.engines, ["gbstats", "scipy"]);
        assert_eq!(v.experiments, ["a", "b"]);
        let ids: Vec<&str> = v
            .publications
            .iter()
            .map(|p| p.calibration_id.as_str())
            .collect();
        assert_eq!(ids, ["ga", "g", "s-new", "s-old"]);
        assert_eq!(chosen.len(), 4);
        let s = &v.publications[2];
        assert_eq!(
            (s.engine_name.as_str(), s.engine.as_str()),
            ("scipy", scipy_version)
        );
        let tests: Vec<&str> = s.results.iter().map(|r| r.test.as_str()).collect();
        assert_eq!(tests, ["welch_t", "scipy:welch"]);
        assert_eq!(s.results[1].verdict, "MISCALIBRATED (type I above α)");

        let f = Filters {
            engine: Some("scipy".into()),
            ..Filters::default()
        };
        let (v, _) = engines(Some(&rows), &f);
        assert_eq!(v.publications.len(), 2);
        let f = Filters {
            experiment: Some("a".into()),
            ..Filters::default()
        };
        let (v, _) = engines(Some(&rows), &f);
        assert_eq!(v.publications.len(), 1);

        let (v, _) = engines(Some(&rows[..1]), &Filters::default());
        assert!(v.lake && v.publications.is_empty());
        assert_eq!(v.hint.as_deref(), Some(NO_ENGINE));
        let (v, _) = engines(None, &Filters::default());
        assert!(!v.lake && v.hint.is_some());
    }
}
