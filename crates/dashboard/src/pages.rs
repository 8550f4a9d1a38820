//! The HTML pages: each renders its JSON twin's body (plain HTML, forms and links, no
//! script; charts as inline SVG).

use crate::Chart;
use crate::Failure;
use crate::charts;
use crate::figures;
use crate::model::{
    CalibrationView, Decision, EnginePublication, EnginesView, ExperimentView, MetricView,
    Overview, Publication, QuantileRow, RunView, Tally,
};
use crate::query::Filters;
use abforge_stats::Verdict;
use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

const CSS: &str = "\
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}\
header{background:#1d2433;padding:.6rem 1.5rem}header a{color:#e8ecf4;margin-right:1.4rem;text-decoration:none;font-weight:600}\
header a.brand{color:#9cc3ff}main{max-width:78rem;margin:1.2rem auto;padding:0 1.5rem}\
h1{font-size:1.5rem;margin:.4rem 0 .8rem}h2{font-size:1.15rem;margin:1.6rem 0 .5rem}\
table{border-collapse:collapse;background:#fff;margin:.4rem 0 1rem;font-variant-numeric:tabular-nums}\
th,td{border:1px solid #dcdfe5;padding:.3rem .6rem;text-align:right}th{background:#eef1f6}\
td.l,th.l{text-align:left}tr.wrong td{background:#fde2e1}tr.total td{font-weight:600;background:#f3f4f7}\
td.bad{color:#b3261e;font-weight:600}td.good{color:#1e7b34}.ok{color:#1e7b34;font-weight:600}\
.err{color:#b3261e;font-weight:700}.warn{background:#fff4d6;border:1px solid #e6b400;padding:.6rem .9rem;margin:.6rem 0}\
.alarm{background:#fde2e1;border:1px solid #b3261e;padding:.6rem .9rem;margin:.6rem 0}\
.empty{background:#eef4ff;border:1px solid #9cc3ff;padding:.8rem 1rem;margin:.8rem 0}\
form.filters{background:#fff;border:1px solid #dcdfe5;padding:.5rem .8rem;margin:.4rem 0 1rem}\
form.filters label{margin-right:1rem}form.filters select,form.filters input{margin-left:.3rem}\
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dl.meta dt{color:#555}dl.meta dd{margin:0}\
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#fff;border:1px solid #dcdfe5;padding:.6rem;overflow:auto;max-height:30rem}\
.chart{background:#fff;border:1px solid #dcdfe5;overflow:auto;margin:.5rem 0}figure.chart{padding:.4rem}figure.chart svg{max-width:100%;height:auto}figcaption{color:#444;font-size:13px;margin:.3rem .2rem}footer{max-width:78rem;margin:2rem auto;padding:0 1.5rem;color:#666}\
.atom{color:#8a5a00;margin-left:.2rem}a{color:#0b57d0}";

fn layout(title: &str, twin: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · abforge" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href="/" { "abforge" }
                    a href="/" { "Experiments" }
                    a href="/calibration" { "Calibration" }
                    a href="/engines" { "Engines" }
                    a href="/docs" { "API" }
                }
                main { (body) }
                footer {
                    "This page as JSON: " a id="json" href=(twin) { code { (twin) } }
                }
            }
        }
    }
}

/// A number to 4 significant digits (scientific when very large or small); `—` for none.
pub(crate) fn num(x: Option<f64>) -> String {
    match x {
        None => "—".into(),
        Some(v) if !v.is_finite() => format!("{v}"),
        Some(0.0) => "0".into(),
        Some(v) if v.abs() >= 1e5 || v.abs() < 1e-3 => format!("{v:.3e}"),
        Some(v) => {
            let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
            format!("{v:.digits$}")
        }
    }
}

/// Below this a p-value is shown as a bound: double precision's resolution near 1, under
/// which a p-value computed as 1 − a probability reads 0.
const P_FLOOR: f64 = 1e-16;

/// A p-value as [`num`] writes numbers, but `< 1e-16` below [`P_FLOOR`]: never `0`.
pub(crate) fn p_value(x: Option<f64>) -> String {
    match x {
        Some(p) if p < P_FLOOR => format!("< {P_FLOOR:e}"),
        _ => num(x),
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |v| format!("{:.1} %", 100.0 * v))
}

fn tally_cells(t: &Tally) -> Markup {
    html! {
        td { (t.decisions) }
        td.good { (t.correct) }
        td class=(if t.type_i > 0 { "bad" } else { "" }) { (t.type_i) }
        td class=(if t.type_ii > 0 { "bad" } else { "" }) { (t.type_ii) }
        td { (pct(t.accuracy())) }
    }
}

const TALLY_HEADS: [&str; 5] = ["decisions", "correct", "type I", "type II", "right"];

fn tally_heads() -> Markup {
    html! { @for h in TALLY_HEADS { th { (h) } } }
}

fn select(name: &str, label: &str, options: &[String], current: Option<&str>) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                option value="" selected[current.is_none()] { "all" }
                @for o in options {
                    option value=(o) selected[current == Some(o.as_str())] { (o) }
                }
            }
        }
    }
}

fn dates(f: &Filters) -> Markup {
    html! {
        label { "from" input type="date" name="from" value=[f.from.map(|d| d.to_string())]; }
        label { "to" input type="date" name="to" value=[f.to.map(|d| d.to_string())]; }
    }
}

fn form(action: &str, fields: Markup) -> Markup {
    html! {
        form.filters method="get" action=(action) {
            (fields)
            button type="submit" { "Apply" }
            " " a href=(action) { "clear" }
        }
    }
}

fn hint(text: &str) -> Markup {
    // The hints quote commands between backticks: shown as code.
    html! {
        div.empty {
            @for (i, part) in text.split('`').enumerate() {
                @if i % 2 == 1 { code { (part) } } @else { (part) }
            }
        }
    }
}

/// `/`.
pub(crate) fn overview(v: &Overview) -> Markup {
    let q = v.filters.query();
    let twin = format!("/v1/results{q}");
    let pass = Filters {
        experiment: None,
        ..v.filters.clone()
    }
    .query();
    layout(
        "Experiments",
        &twin,
        html! {
            h1 { "Experiments" }
            @if let Some(h) = &v.hint { (hint(h)) }
            @if v.lake {
                (form("/", html! {
                    (select("experiment", "experiment", &v.all_experiments, v.filters.experiment.as_deref()))
                    (select("metric", "metric", &v.metrics, v.filters.metric.as_deref()))
                    (select("test", "test", &v.tests, v.filters.test.as_deref()))
                    (dates(&v.filters))
                }))
                @if v.experiments.is_empty() && v.hint.is_none() {
                    p { "No decisions match these filters." }
                } @else if !v.experiments.is_empty() {
                    table id="experiments" {
                        thead { tr {
                            th.l { "experiment" } th { "runs" } th.l { "latest run" } th { "date" }
                            (tally_heads())
                        } }
                        tbody {
                            @for e in &v.experiments {
                                tr data-experiment=(e.experiment_id) {
                                    td.l { a href={ "/experiments/" (e.experiment_id) (pass) } { (e.experiment_id) } }
                                    td { (e.runs) }
                                    td.l { a href={ "/experiments/" (e.experiment_id) "/runs/" (e.latest_run_id) } { (e.latest_run_id) } }
                                    td { (e.latest_run_date) }
                                    (tally_cells(&e.tally))
                                }
                            }
                            tr.total { td.l { "all" } td {} td {} td {} (tally_cells(&v.total)) }
                        }
                    }
                    @if let Some(next) = v.next.as_deref().and_then(|n| n.strip_prefix("/v1/results")) {
                        p { a id="next" rel="next" href={ "/" (next) } { "Next experiments →" } }
                    }
                    p { "A decision is right when it rejects a false null or accepts a true one; "
                        "type I rejects a true null, type II accepts a false one. Each run's truth is "
                        "computed from the blueprint that generated it." }
                }
            }
        },
    )
}

/// `/experiments/{id}`.
pub(crate) fn experiment(v: &ExperimentView) -> Markup {
    let q = v.filters.query();
    let base = format!("/experiments/{}", v.experiment_id);
    let twin = format!("/v1/results/{}{q}", v.experiment_id);
    let run_filters = Filters {
        metric: v.filters.metric.clone(),
        test: v.filters.test.clone(),
        ..Filters::default()
    }
    .query();
    layout(
        &v.experiment_id,
        &twin,
        html! {
            h1 { "Experiment " code { (v.experiment_id) } }
            (form(&base, html! {
                (select("metric", "metric", &v.metrics, v.filters.metric.as_deref()))
                (select("test", "test", &v.tests, v.filters.test.as_deref()))
                (dates(&v.filters))
            }))
            h2 { "How each test fared" }
            table id="by-test" {
                thead { tr { th.l { "metric" } th.l { "test" } (tally_heads()) } }
                tbody {
                    @for t in &v.by_test {
                        tr { td.l { (t.metric) } td.l { (t.test) } (tally_cells(&t.tally)) }
                    }
                    tr.total { td.l { "all" } td {} (tally_cells(&v.total)) }
                }
            }
            h2 { "Runs" }
            @if v.runs.is_empty() { p { "No run matches these filters." } }
            @else {
                table id="runs" {
                    thead { tr { th.l { "run" } th { "date" } th.l { "blueprint" } (tally_heads()) } }
                    tbody {
                        @for r in &v.runs {
                            tr.wrong[r.tally.type_i + r.tally.type_ii > 0] data-run=(r.run_id) {
                                td.l { a href={ (base) "/runs/" (r.run_id) (run_filters) } { (r.run_id) } }
                                td { (r.run_date) }
                                td.l { code title=(r.blueprint_hash) { (r.blueprint_hash.get(..12).unwrap_or(&r.blueprint_hash)) } }
                                (tally_cells(&r.tally))
                            }
                        }
                    }
                }
            }
        },
    )
}

fn verdict(d: &Decision) -> Markup {
    match d.outcome {
        Some(Verdict::Correct) => html! { span.ok { "✓ correct" } },
        Some(Verdict::TypeI) => html! { span.err { "✗ type I error" } },
        Some(Verdict::TypeIi) => html! { span.err { "✗ type II error" } },
        None => html! { "not judged" },
    }
}

fn ci(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (None, None) => "—".into(),
        (l, h) => format!("[{}, {}]", num(l), num(h)),
    }
}

/// `/experiments/{id}/runs/{run}`.
pub(crate) fn run(v: &RunView) -> Markup {
    let twin = format!(
        "/v1/results/{}/runs/{}{}",
        v.experiment_id,
        v.run_id,
        v.filters.query()
    );
    layout(
        &v.run_id,
        &twin,
        html! {
            h1 { "Run " code { (v.run_id) } }
            (run_meta(v))
            (run_alarms(v))
            (run_groups(v))
            (run_filters(v))
            @for (i, m) in v.metrics.iter().enumerate() { (metric_section(m, i)) }
            p { "★ the metric's primary test. The estimate, its interval and the true effect are on the test's own scale (difference of means, ratio, probability of superiority, …)." }
            @if v.metrics.iter().any(|m| !m.quantiles.is_empty()) {
                p id="quantiles-note" { "Quantiles: the true p-quantile is the smallest x with P(X ≤ x) ≥ p; the observed one the "
                    "smallest value of the group's customers with at least a share p of them at or below it (exact, not interpolated). "
                    "● the true quantile sits on an atom (a value of positive probability), where sample quantiles are not "
                    "approximately normal. — no value: a run whose gold step predates the observed quantiles, or a truth without them." }
            }
            (run_log(v))
            (run_blueprint(v))
        },
    )
}

/// The run's facts: experiment, date, status, hashes, params, the tally of its decisions.
fn run_meta(v: &RunView) -> Markup {
    html! {
        dl.meta {
            dt { "experiment" } dd { a href={ "/experiments/" (v.experiment_id) } { (v.experiment_id) } }
            dt { "run date" } dd { (v.run_date.map_or_else(|| "—".to_string(), |d| d.to_string())) }
            dt { "status" } dd id="status" class=(if v.status == "succeeded" { "" } else { "err" }) { (v.status) }
            dt { "blueprint hash" } dd { code { (v.blueprint_hash.as_deref().unwrap_or("—")) } }
            dt { "params" } dd { a id="params" href=(v.params_url) { code { (v.params_url) } } }
            dt { "decisions" } dd {
                (v.tally.correct) " correct, "
                span class=(if v.tally.type_i > 0 { "err" } else { "" }) { (v.tally.type_i) " type I" } ", "
                span class=(if v.tally.type_ii > 0 { "err" } else { "" }) { (v.tally.type_ii) " type II" }
                " of " (v.tally.decisions)
            }
        }
    }
}

/// The alarms: decisions made under another blueprint, a sample-ratio mismatch.
fn run_alarms(v: &RunView) -> Markup {
    html! {
        @if let Some(h) = &v.stale_decisions_hash {
            div.alarm id="stale" {
                strong { "Stale decisions: " }
                "the lake's decisions of this run were made under blueprint " code { (h) }
                ", not under the published one. A rerun with a changed blueprint has not reached analyze; "
                "the old decisions are not shown beside the new truth."
            }
        }
        @if let Some(s) = v.srm.as_ref().filter(|s| s.mismatch) {
            div.alarm id="srm" {
                strong { "Sample ratio mismatch: " }
                "the customers per group are off the planned split (χ² = " (num(Some(s.statistic)))
                ", p = " (p_value(Some(s.p_value))) "). The assignment may be broken; read the decisions with care."
            }
        }
    }
}

/// The groups' planned and observed shares, and the sample-ratio check.
fn run_groups(v: &RunView) -> Markup {
    html! {
        h2 { "Groups" }
        @if let Some(f) = figures::srm_bar(&v.allocation, v.srm.as_ref()) { (f) }
        table id="allocation" {
            thead { tr { th.l { "group" } th { "planned" } th { "customers" } th { "observed" } } }
            tbody {
                @for g in &v.allocation {
                    tr { td.l { (g.group) } td { (pct(g.planned)) }
                         td { (g.customers.map_or_else(|| "—".into(), |c| c.to_string())) }
                         td { (pct(g.observed)) } }
                }
            }
        }
        @if let Some(s) = &v.srm {
            p { "Sample-ratio check: χ² = " (num(Some(s.statistic))) ", p = " (p_value(Some(s.p_value)))
                @if !s.mismatch { " — the split is as planned." } }
        }
    }
}

/// The metric and test filters of the run's page.
fn run_filters(v: &RunView) -> Markup {
    let base = format!("/experiments/{}/runs/{}", v.experiment_id, v.run_id);
    let metrics: Vec<String> = v.metrics.iter().map(|m| m.metric.clone()).collect();
    let mut tests: Vec<String> = v
        .metrics
        .iter()
        .flat_map(|m| m.decisions.iter().map(|d| d.test.clone()))
        .collect();
    tests.sort();
    tests.dedup();
    form(
        &base,
        html! {
            (select("metric", "metric", &metrics, v.filters.metric.as_deref()))
            (select("test", "test", &tests, v.filters.test.as_deref()))
        },
    )
}

/// One metric (the `index`th of the page): its groups against the truth, then its decisions,
/// drawn as a forest plot above their table.
fn metric_section(m: &MetricView, index: usize) -> Markup {
    html! {
        section.metric data-metric=(m.metric) {
            h2 { (m.metric) @if let Some(d) = &m.distribution { " (" (d) ")" } }
            table.groups {
                thead { tr { th.l { "group" } th { "n" } th { "mean" } th { "95 % CI" } th { "true mean" } th { "CI covers truth" } } }
                tbody {
                    @for g in &m.groups {
                        tr { td.l { (g.group) } td { (g.n) } td { (num(Some(g.mean))) }
                             td { (ci(g.ci_low, g.ci_high)) } td { (num(g.true_mean)) }
                             td { (match g.covers_truth { Some(true) => "yes", Some(false) => "no", None => "—" }) } }
                    }
                }
            }
            @if !m.quantiles.is_empty() { (quantiles_table(&m.quantiles)) }
            @if m.decisions.is_empty() { p { "No decisions match these filters." } }
            @else {
                @if let Some(f) = figures::forest(m, index) { (f) }
                (decisions_table(&m.decisions))
            }
        }
    }
}

/// A metric's quantiles: per probability, each group's true and observed quantile, and each
/// treatment arm's difference from the control, true and observed; a true quantile on an
/// atom is marked.
fn quantiles_table(rows: &[QuantileRow]) -> Markup {
    let Some(first) = rows.first() else {
        return html! {};
    };
    html! {
        table.quantiles {
            thead {
                tr {
                    th rowspan="2" { "p" }
                    @for g in &first.groups { th colspan="2" { (g.group) } }
                    @for d in &first.differences { th colspan="2" { (d.treatment) " − " (d.control) } }
                }
                tr { @for _ in 0..first.groups.len() + first.differences.len() { th { "true" } th { "observed" } } }
            }
            tbody {
                @for q in rows {
                    tr data-p=(q.p) {
                        td { (q.p) }
                        @for g in &q.groups {
                            td.true { (num(g.true_value))
                                @if g.atom == Some(true) { span.atom title="on an atom: P(X = x) > 0" { "●" } } }
                            td.observed { (num(g.observed)) }
                        }
                        @for d in &q.differences {
                            td.true { (num(d.true_difference)) }
                            td.observed { (num(d.observed_difference)) }
                        }
                    }
                }
            }
        }
    }
}

/// A metric's decisions, each against the truth; the wrong ones marked.
fn decisions_table(decisions: &[Decision]) -> Markup {
    html! {
        table.decisions {
            thead { tr {
                th.l { "test" } th.l { "arms" } th { "estimate" } th { "CI" } th { "p" } th { "p adj." }
                th.l { "decision" } th { "true effect" } th.l { "truth" } th.l { "verdict" }
            } }
            tbody {
                @for d in decisions {
                    tr.wrong[d.outcome.is_some_and(Verdict::is_error)] data-test=(d.test) data-outcome=(d.outcome.map_or("", Verdict::as_str)) {
                        td.l { (d.test) @if d.primary == Some(true) { " ★" } }
                        td.l { (d.treatment) " vs " (d.control) }
                        td { (num(d.estimate)) }
                        td { (ci(d.ci_low, d.ci_high)) }
                        td { (p_value(d.p_value)) }
                        td { (p_value(d.p_adjusted)) }
                        td.l { (match d.reject { Some(true) => "reject H0", Some(false) => "keep H0", None => "—" }) }
                        td { (num(d.true_effect)) }
                        td.l { (match d.null_true { Some(true) => "H0 true", Some(false) => "H0 false", None => "—" }) }
                        td.l { (verdict(d)) }
                    }
                }
            }
        }
    }
}

/// The run's attempts from the run log.
fn run_log(v: &RunView) -> Markup {
    html! {
        h2 id="run-log" { "Run log" }
        @if let Some(e) = &v.run_log_error { div.warn { (e) } }
        @if v.steps.is_empty() { p { "No step of this run is in the run log." } }
        @else {
            table id="steps" {
                thead { tr { th.l { "step" } th.l { "shard" } th { "attempt" } th.l { "status" } th.l { "started (UTC)" } th { "duration" } th { "rows" } th { "bytes" } th.l { "message / error" } } }
                tbody {
                    @for s in &v.steps {
                        tr.wrong[s.status == "failed"] {
                            td.l { (s.step) } td.l { (s.shard.as_deref().unwrap_or("")) } td { (s.attempt) }
                            td.l { (s.status) } td.l { (s.started_at.get(..19).unwrap_or(&s.started_at).replace('T', " ")) }
                            td { (s.duration_ms.map_or_else(|| "—".into(), |d| format!("{:.2} s", d as f64 / 1000.0))) }
                            td { (s.rows.map_or_else(|| "—".into(), |r| r.to_string())) }
                            td { (s.bytes.map_or_else(|| "—".into(), |r| r.to_string())) }
                            td.l { @if let Some(e) = &s.error { span.err { (e) } } @else { (s.message.as_deref().unwrap_or("")) } }
                        }
                    }
                }
            }
        }
    }
}

/// The resolved blueprint and the truth, folded.
fn run_blueprint(v: &RunView) -> Markup {
    let pretty = |x: &serde_json::Value| serde_json::to_string_pretty(x).unwrap_or_default();
    html! {
        h2 { "Blueprint and truth" }
        @if v.blueprint.is_null() { p { "The params store has no blueprint for this run." } }
        @else {
            details { summary { "Resolved blueprint" } pre { (pretty(&v.blueprint)) } }
            details { summary { "Ground truth" } pre { (pretty(&v.truth)) } }
        }
    }
}

/// `/calibration`.
pub(crate) fn calibration(v: &CalibrationView, chart: Option<&Result<String, String>>) -> Markup {
    let twin = format!("/v1/calibration{}", v.filters.query());
    let mut experiments: Vec<String> = v
        .publications
        .iter()
        .map(|p| p.experiment_id.clone())
        .collect();
    experiments.sort();
    experiments.dedup();
    let mut metrics: Vec<String> = v.results.iter().map(|r| r.metric.clone()).collect();
    metrics.sort();
    metrics.dedup();
    let mut tests: Vec<String> = v.results.iter().map(|r| r.test.clone()).collect();
    tests.sort();
    tests.dedup();
    let link = |id: &str| {
        Filters {
            experiment: v.filters.experiment.clone(),
            calibration: Some(id.to_string()),
            ..Filters::default()
        }
        .query()
    };
    layout(
        "Calibration",
        &twin,
        html! {
            h1 { "Calibration" }
            @if let Some(h) = &v.hint { (hint(h)) }
            @if v.lake {
                h2 { "Publications" }
                table id="publications" {
                    thead { tr { th.l { "calibration" } th.l { "experiment" } th.l { "published" } th.l { "sweep" } th { "replications" } th { "customers" } th { "α" } th { "results" } th { "miscalibrated" } } }
                    tbody {
                        @for p in &v.publications {
                            tr.wrong[p.miscalibrated > 0] {
                                td.l { a href={ "/calibration" (link(&p.calibration_id)) } { code { (p.calibration_id.get(..16).unwrap_or(&p.calibration_id)) } }
                                    @if v.selected.as_ref().is_some_and(|s| s.calibration_id == p.calibration_id) { " (shown)" } }
                                td.l { (p.experiment_id) }
                                td.l { (p.published_at.as_deref().unwrap_or("—")) }
                                td.l { (p.sweep_param.as_deref().map_or_else(|| "—".to_string(), |s| format!("{s} ({} values)", p.sweep_values.len()))) }
                                td { (p.replications) } td { (p.customers) } td { (p.alpha) } td { (p.results) }
                                td class=(if p.miscalibrated > 0 { "bad" } else { "" }) { (p.miscalibrated) }
                            }
                        }
                    }
                }
                @if let Some(s) = &v.selected {
                    h2 { "Calibration " code { (s.calibration_id.get(..16).unwrap_or(&s.calibration_id)) } " of " (s.experiment_id) }
                    (form("/calibration", html! {
                        input type="hidden" name="calibration" value=(s.calibration_id);
                        @if let Some(e) = &v.filters.experiment { input type="hidden" name="experiment" value=(e); }
                        (select("metric", "metric", &metrics, v.filters.metric.as_deref()))
                        (select("test", "test", &tests, v.filters.test.as_deref()))
                    }))
                    @match chart {
                        Some(Ok(svg)) => div.chart id="chart" { (PreEscaped(calibration_chart(svg, v, s))) },
                        Some(Err(e)) => div.warn { "The chart cannot be drawn: " (e) },
                        None => p { "Nothing to draw for these filters." },
                    }
                    p { @if s.sweep_param.is_some() {
                        "Power curves: the empirical rejection rate at each value with its Wilson 95 % interval (solid), the analytic power (dashed), α (dashed black)."
                    } @else {
                        "Rejection rate of every test with its Wilson 95 % interval; under a true null it should straddle α (dashed), under a false null it is the power (× the analytic power). Red: miscalibrated."
                    } }
                    h2 { "Confusion matrices" }
                    table id="confusion" {
                        thead { tr { th.l { "metric" } th.l { "arm" } th.l { "test" } th { "H0 true, kept" } th { "H0 false, rejected" } th { "type I" } th { "type II" } } }
                        tbody {
                            @for c in &v.confusion {
                                tr { td.l { (c.metric) } td.l { (c.arm) } td.l { (c.test) }
                                     td { (c.correct_accept) } td { (c.correct_reject) }
                                     td class=(if c.type_i > 0 { "bad" } else { "" }) { (c.type_i) }
                                     td class=(if c.type_ii > 0 { "bad" } else { "" }) { (c.type_ii) } }
                            }
                        }
                    }
                    h2 { "Results" }
                    table id="results" {
                        thead { tr { @if s.sweep_param.is_some() { th { (s.sweep_param.as_deref().unwrap_or("")) } }
                            th.l { "metric" } th.l { "arm" } th.l { "test" } th.l { "H0" } th { "rejection rate" } th { "95 % interval" } th { "analytic power" } th { "CI coverage" } th { "KS p" } th { "bias" } th { "customers at stop" } } }
                        tbody {
                            @for r in &v.results {
                                tr.wrong[r.miscalibrated] {
                                    @if s.sweep_param.is_some() { td { (num(r.sweep_value)) } }
                                    td.l { (r.metric) } td.l { (r.arm) } td.l { (r.test) }
                                    td.l { (match r.null_true { Some(true) => "true", Some(false) => "false", None => "—" }) }
                                    td { (num(Some(r.rejection_rate))) }
                                    td { (ci(Some(r.rejection_ci_low), Some(r.rejection_ci_high))) }
                                    td { (num(r.analytic_power)) } td { (num(r.ci_coverage)) } td { (p_value(r.p_value_ks)) }
                                    td { (num(r.bias)) } td { (num(r.mean_customers_at_stop)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// `/engines`.
pub(crate) fn engines(v: &EnginesView, charts: &[Chart]) -> Markup {
    let twin = format!("/v1/engines{}", v.filters.query());
    layout(
        "Engines",
        &twin,
        html! {
            h1 { "Engines" }
            p { "Other A/B engines judged against the truth by " code { "abforge calibrate --engine NAME --publish" }
                ": each engine's tests beside abforge's own on the same simulated experiments (see "
                a href="/calibration" { "Calibration" } " for abforge's tests alone)." }
            @if let Some(h) = &v.hint { (hint(h)) }
            @if !v.engines.is_empty() {
                (form("/engines", html! {
                    (select("experiment", "experiment", &v.experiments, v.filters.experiment.as_deref()))
                    (select("engine", "engine", &v.engines, v.filters.engine.as_deref()))
                }))
            }
            @for (i, p) in v.publications.iter().enumerate() {
                @let first = i == 0 || {
                    let q = &v.publications[i - 1];
                    (q.experiment_id.as_str(), q.engine_name.as_str()) != (p.experiment_id.as_str(), p.engine_name.as_str())
                };
                @if first { h2 { (p.engine_name) " on " code { (p.experiment_id) } } }
                (engine_publication(p, i, charts.get(i).and_then(Option::as_ref)))
            }
            @if !v.publications.is_empty() {
                p { "Each chart: every test's rejection rate with its Wilson 95 % interval. Under a true null (blue) it is the type I error "
                    "and should straddle α (dashed); under a false null (green) it is the power. Red: miscalibrated. "
                    "An engine's tests are named " code { "engine:test" } "." }
            }
        },
    )
}

/// The chart of a calibration publication `s`, titled and described by the rows `v` shows.
fn calibration_chart(svg: &str, v: &CalibrationView, s: &Publication) -> String {
    let what = if s.sweep_param.is_some() {
        "power curves"
    } else {
        "rejection rates against α"
    };
    let title = format!("Calibration of {}: {what}", s.experiment_id);
    let desc: Vec<String> = v
        .results
        .iter()
        .map(|r| {
            let at = r
                .sweep_value
                .map_or_else(String::new, |x| format!(" at {}", num(Some(x))));
            format!(
                "{} on {} ({}){at}: rejection rate {} {}",
                r.test,
                r.metric,
                r.arm,
                num(Some(r.rejection_rate)),
                ci(Some(r.rejection_ci_low), Some(r.rejection_ci_high))
            )
        })
        .collect();
    charts::titled(svg, "calibration-chart", &title, &(desc.join("; ") + "."))
}

/// The chart of an engine's publication (the `index`th of the page), titled and described.
fn engine_chart(svg: &str, p: &EnginePublication, index: usize) -> String {
    let title = format!(
        "{} on {}: each test's rejection rate with its 95 % interval",
        p.engine_name, p.experiment_id
    );
    let desc: Vec<String> = p
        .results
        .iter()
        .map(|r| {
            format!(
                "{} on {} ({}): rejection rate {} {}, {}",
                r.test,
                r.metric,
                r.arm,
                num(Some(r.rejection_rate)),
                ci(Some(r.rejection_ci_low), Some(r.rejection_ci_high)),
                r.verdict
            )
        })
        .collect();
    charts::titled(
        svg,
        &format!("engine-chart-{index}"),
        &title,
        &(desc.join("; ") + "."),
    )
}

/// One publication of an engine (the `index`th of the page): its chart, then its tests'
/// numbers.
fn engine_publication(
    p: &EnginePublication,
    index: usize,
    chart: Option<&Result<String, String>>,
) -> Markup {
    let short = p.calibration_id.get(..16).unwrap_or(&p.calibration_id);
    let link = Filters {
        experiment: Some(p.experiment_id.clone()),
        calibration: Some(p.calibration_id.clone()),
        ..Filters::default()
    }
    .query();
    let sweep = p.sweep_param.as_deref();
    html! {
        section.engine data-calibration=(p.calibration_id) data-engine=(p.engine_name) data-experiment=(p.experiment_id) {
            h3 { (p.engine) ", publication " a href={ "/calibration" (link) } { code { (short) } } }
            p.meta { (p.published_at.as_deref().unwrap_or("—")) " · " (p.replications) " replications of "
                (p.customers) " customers · α = " (p.alpha)
                @if p.peeks > 1 { " · " (p.peeks) " looks" }
                @if let Some(s) = sweep { " · sweep over " code { (s) } } }
            @match chart {
                Some(Ok(svg)) => div.chart { (PreEscaped(engine_chart(svg, p, index))) },
                Some(Err(e)) => div.warn { "The chart cannot be drawn: " (e) },
                None => p { "Nothing to draw." },
            }
            table.engine-results {
                thead { tr { th.l { "test" } th.l { "engine" } th.l { "metric" } th.l { "arm" }
                    @if let Some(s) = sweep { th { (s) } }
                    th.l { "H0" } th { "rejection rate [95 %]" } th { "type I" } th { "power" } th { "coverage" } th { "customers at stop" } th { "bias" } th.l { "verdict" } } }
                tbody {
                    @for r in &p.results {
                        tr.wrong[r.miscalibrated] data-test=(r.test) {
                            td.l { (r.test) } td.l { (r.engine.as_deref().unwrap_or("abforge")) }
                            td.l { (r.metric) } td.l { (r.arm) }
                            @if sweep.is_some() { td { (num(r.sweep_value)) } }
                            td.l { (match r.null_true { Some(true) => "true", Some(false) => "false", None => "mixed" }) }
                            td { (num(Some(r.rejection_rate))) " " (ci(Some(r.rejection_ci_low), Some(r.rejection_ci_high))) }
                            td { (num(r.type_i_error)) }
                            td { (num(r.power)) } td { (num(r.ci_coverage)) } td { (num(r.mean_customers_at_stop)) } td { (num(r.bias)) }
                            td.l class=(if r.miscalibrated { "bad" } else { "" }) { (r.verdict) }
                        }
                    }
                }
            }
        }
    }
}

/// A 400, 404 or 500 page.
pub(crate) fn failure(status: StatusCode, f: &Failure) -> Markup {
    let (title, text) = match f {
        Failure::BadParam(b) => (
            "Bad request",
            format!("The parameter {} {}.", b.param, b.message),
        ),
        Failure::NotFound(m) => ("Not found", format!("{m}.")),
        Failure::Internal(_) => (
            "Something went wrong",
            "The lake could not be read; the server's log has the cause.".to_string(),
        ),
    };
    layout(
        title,
        "/v1/results",
        html! {
            h1 { (status.as_u16()) " — " (title) }
            p id="failure" { (text) }
            p { a href="/" { "All experiments" } " · " a href="/calibration" { "Calibration" }
                " · " a href="/engines" { "Engines" } }
        },
    )
}
