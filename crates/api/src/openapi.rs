//! The OpenAPI 3.1 document, generated from the handlers (utoipa), and `/docs`, a page
//! rendered from it on the server: plain HTML, no script, nothing fetched.

use crate::error::{Detail, ErrorBody, json_response};
use crate::{health, params};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::fmt::Write;
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Schemas that only describe JSON the server writes by other means.
pub(crate) mod schema {
    // Never built: they mirror `abforge_synth` types, which do not depend on utoipa. A test
    // validates real responses against them, so they cannot drift.
    #![allow(dead_code)]

    use std::borrow::Cow;
    use utoipa::ToSchema;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

    /// A placeholder, replaced in the document by the blueprint's own JSON Schema
    /// (`abforge_synth::json_schema`) without `choose`.
    pub(crate) struct Blueprint;

    impl utoipa::PartialSchema for Blueprint {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new().schema_type(Type::Object).into()
        }
    }

    impl ToSchema for Blueprint {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("Blueprint")
        }
    }

    /// The params of a run as stored, with the time of their last write.
    #[derive(ToSchema)]
    pub(crate) struct StoredParams {
        /// The experiment.
        #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
        experiment_id: String,
        /// The run.
        #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
        run_id: String,
        /// SHA-256 (hex) of the compact JSON of `blueprint`.
        #[schema(pattern = "^[0-9a-f]{64}$")]
        blueprint_hash: String,
        /// The blueprint in canonical form (the writer's key order and number format).
        blueprint: Blueprint,
        /// Its ground truth.
        truth: Truth,
        /// When the params were last written (RFC 3339).
        #[schema(format = DateTime)]
        stored_at: String,
    }

    /// The ground truth of a resolved blueprint.
    #[derive(ToSchema)]
    pub(crate) struct Truth {
        /// Experiment id.
        experiment_id: String,
        /// The seed it was resolved with.
        seed: u64,
        /// The control group.
        control_group: String,
        /// Allocation per group.
        allocation: Vec<Allocation>,
        /// Whether the realised split differs from the planned one (a sample-ratio mismatch).
        sample_ratio_mismatch: bool,
        /// One entry per metric column (pre-period twins included), in column order.
        metrics: Vec<MetricTruth>,
        /// The correlations between metrics, as the blueprint lists them.
        correlations: Vec<CorrelationTruth>,
        /// The clusters' ICCs and design effects; absent without `[clusters]`.
        clusters: Option<ClusterTruth>,
        /// The arrivals per day and each day's effect; absent without `[time]`.
        time: Option<TimeTruth>,
        /// The ratio metrics; absent when the blueprint lists none.
        ratios: Option<Vec<RatioTruth>>,
    }

    /// The truth of one ratio metric.
    #[derive(ToSchema)]
    pub(crate) struct RatioTruth {
        /// The numerator metric.
        numerator: String,
        /// The denominator metric.
        denominator: String,
        /// Per group.
        groups: Vec<RatioGroup>,
        /// Per treatment arm.
        effects: Vec<RatioEffect>,
    }

    /// A ratio metric in one group.
    #[derive(ToSchema)]
    pub(crate) struct RatioGroup {
        /// The group.
        group: String,
        /// `E[N] / E[D]`; null when `E[D]` is 0.
        ratio_of_means: Option<f64>,
        /// `E[N / D]`; null where not defined.
        mean_of_ratios: Option<f64>,
        /// A bound on the error of `mean_of_ratios`.
        mean_of_ratios_error: Option<f64>,
    }

    /// A treatment arm's ratio of means against the control's.
    #[derive(ToSchema)]
    pub(crate) struct RatioEffect {
        /// The treatment arm.
        group: String,
        /// The control.
        control: String,
        /// The difference of the ratios of means.
        difference: Option<f64>,
        /// Whether the ratios of means are equal.
        null: Option<bool>,
    }

    /// The truth of the clusters.
    #[derive(ToSchema)]
    pub(crate) struct ClusterTruth {
        /// Number of clusters.
        count: u64,
        /// `cluster` (whole clusters randomised) or `customer`.
        assignment: String,
        /// Customers per cluster on average.
        mean_size: f64,
        /// Coefficient of variation of the clusters' expected sizes, as drawn.
        size_cv: f64,
        /// Per metric with an ICC.
        metrics: Vec<ClusterMetricTruth>,
    }

    /// The clustering of one metric.
    #[derive(ToSchema)]
    pub(crate) struct ClusterMetricTruth {
        /// The metric.
        metric: String,
        /// The ICC of its normal scores, as the blueprint gives it.
        icc_normal_scores: f64,
        /// Per group.
        groups: Vec<ClusterGroupTruth>,
        /// Per treatment arm.
        effects: Vec<ClusterEffectTruth>,
    }

    /// The clustering of one metric in one group.
    #[derive(ToSchema)]
    pub(crate) struct ClusterGroupTruth {
        /// The group.
        group: String,
        /// The ICC of the metric's values; null when too costly to compute.
        icc: Option<f64>,
        /// A bound on the error of `icc`.
        icc_error: Option<f64>,
        /// `1 + (m − 1)·icc` under cluster assignment; null otherwise.
        design_effect: Option<f64>,
    }

    /// The design effect of a treatment arm's difference in means with the control.
    #[derive(ToSchema)]
    pub(crate) struct ClusterEffectTruth {
        /// The treatment arm.
        group: String,
        /// The control.
        control: String,
        /// Variance of the difference in means over that with independent customers.
        design_effect: Option<f64>,
    }

    /// The arrivals and the effect of each day.
    #[derive(ToSchema)]
    pub(crate) struct TimeTruth {
        /// Each day of the run.
        days: Vec<DayTruth>,
        /// Per metric and treatment arm whose effect changes, the effect on each day.
        effects: Vec<DailyEffect>,
    }

    /// One day of the run.
    #[derive(ToSchema)]
    pub(crate) struct DayTruth {
        /// The date.
        #[schema(format = Date)]
        date: String,
        /// Its weekday, `mon` … `sun`.
        weekday: String,
        /// Customers arriving that day.
        customers: u64,
        /// The multiple of the blueprint's effect that day.
        multiplier: f64,
    }

    /// A treatment arm's effect on one metric, day by day.
    #[derive(ToSchema)]
    pub(crate) struct DailyEffect {
        /// The metric.
        metric: String,
        /// The treatment arm.
        group: String,
        /// The control.
        control: String,
        /// The difference in means on each day.
        daily: Vec<f64>,
        /// The difference in means over the whole run.
        whole_run: f64,
    }

    /// The truth of a correlation between two metrics (the same in every group).
    #[derive(ToSchema)]
    pub(crate) struct CorrelationTruth {
        /// The two metrics.
        metrics: Vec<String>,
        /// The correlation of their normal scores (the Gaussian copula's).
        normal_scores: f64,
        /// Spearman's rank correlation, when both metrics are continuous and not
        /// zero-inflated; null otherwise.
        spearman: Option<f64>,
    }

    /// Planned and realised share of one group.
    #[derive(ToSchema)]
    pub(crate) struct Allocation {
        /// Group name.
        group: String,
        /// Planned share.
        planned: f64,
        /// Share the generator realises in expectation.
        actual: f64,
    }

    /// The truth of one metric column.
    #[derive(ToSchema)]
    pub(crate) struct MetricTruth {
        /// Column name.
        metric: String,
        /// `poisson`, `gamma`, ... or `pre_period` for a pre-period twin.
        distribution: String,
        /// Whether the column holds integers.
        integer: bool,
        /// Per group, in group order.
        groups: Vec<GroupMoments>,
        /// Per treatment arm, against the control.
        effects: Vec<Effect>,
    }

    /// True mean and variance of one metric in one group.
    #[derive(ToSchema)]
    pub(crate) struct GroupMoments {
        /// Group name.
        group: String,
        /// True mean.
        mean: f64,
        /// True variance.
        variance: f64,
        /// True quantiles at the blueprint's probabilities; empty for a pre-period twin.
        quantiles: Vec<Quantile>,
    }

    /// The true `p`-quantile of a metric in one group: the smallest `x` with `P(X ≤ x) ≥ p`.
    #[derive(ToSchema)]
    pub(crate) struct Quantile {
        /// The probability.
        p: f64,
        /// The quantile.
        value: f64,
        /// Whether the value has positive probability.
        atom: bool,
    }

    /// A treatment arm's `p`-quantile against the control's.
    #[derive(ToSchema)]
    pub(crate) struct QuantileEffect {
        /// The probability.
        p: f64,
        /// `quantile(T) − quantile(C)`.
        difference: f64,
        /// Whether the two quantiles are equal.
        null: bool,
    }

    /// A treatment arm against the control, for one metric.
    #[derive(ToSchema)]
    pub(crate) struct Effect {
        /// The treatment arm.
        group: String,
        /// The control arm.
        control: String,
        /// `mean(T) − mean(C)`.
        abs_effect: f64,
        /// `mean(T) / mean(C) − 1`; null when the control mean is 0.
        rel_effect: Option<f64>,
        /// `P(T > C) + ½·P(T = C)`, the Mann–Whitney estimand; null for pre-period twins.
        prob_superiority: Option<f64>,
        /// Whether the means are equal.
        mean_null: bool,
        /// Whether `prob_superiority` is ½.
        prob_superiority_null: Option<bool>,
        /// Whether the two groups follow exactly the same law.
        identical: bool,
        /// The difference of each quantile; empty for a pre-period twin.
        quantile_effects: Vec<QuantileEffect>,
    }
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <token>`. Writes need it when the server has a \
                         token (`ABFORGE_API_TOKEN`); reads only when configured so.",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "abforge params API",
        description = "The parameters of each run of each A/B experiment: a resolved blueprint, validated by the blueprint's own rules, stored with the ground truth the server computes from it. Errors are JSON `{ \"error\": ..., \"details\": [{ \"path\": ..., \"message\": ... }] }`; every response carries `x-request-id`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        params::put_params,
        params::get_params,
        params::list_experiments,
        params::list_runs,
        health::healthz,
        health::readyz,
        openapi_json,
        docs,
    ),
    components(schemas(ErrorBody, Detail)),
    modifiers(&Security),
    tags(
        (name = "params", description = "Params of runs: put, get, list."),
        (name = "probes", description = "Liveness and readiness."),
        (name = "docs", description = "This document, as JSON and as a page."),
    ),
)]
struct ApiDoc;

/// The OpenAPI 3.1 document of the API, as served at `/openapi.json`.
pub fn openapi() -> &'static Value {
    static DOC: LazyLock<Value> = LazyLock::new(|| build(None));
    &DOC
}

/// The OpenAPI document of the params API with `extra`'s paths and schemas merged in: the
/// document of an [`app_with`](crate::app_with) service.
pub fn openapi_with(extra: utoipa::openapi::OpenApi) -> Value {
    build(Some(extra))
}

fn build(extra: Option<utoipa::openapi::OpenApi>) -> Value {
    let mut api = ApiDoc::openapi();
    if let Some(extra) = extra {
        api.merge(extra);
    }
    let mut doc = serde_json::to_value(api).expect("an OpenAPI document serialises");
    doc["components"]["schemas"]["Blueprint"] = resolved_blueprint_schema();
    let request_id = json!({
        "description": "The request's id: the client's `x-request-id` when it sent one, else a new UUID.",
        "required": true,
        "schema": { "type": "string" }
    });
    let misdirected = json!({
        "description": "The `Host` names a host this server does not serve (DNS rebinding): \
            loopback names only, unless the server allows more (`--allowed-host`).",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    });
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let Some(responses) = op["responses"].as_object_mut() else {
                    continue;
                };
                responses
                    .entry("421")
                    .or_insert_with(|| misdirected.clone());
                for response in responses.values_mut() {
                    response["headers"]["x-request-id"] = request_id.clone();
                }
            }
        }
    }
    doc
}

/// The blueprint's JSON Schema with every `choose` and prior alternative removed: the params
/// of a run are resolved.
fn resolved_blueprint_schema() -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                let fixed_only = match m.get("oneOf") {
                    // A number, `{ choose }`, and for a lift the priors: the number only.
                    Some(Value::Array(alts)) if alts.len() >= 2 => (alts[1].get("required")
                        == Some(&json!(["choose"])))
                    .then(|| alts[0].clone()),
                    _ => None,
                };
                if let Some(Value::Object(fixed)) = fixed_only {
                    m.shift_remove("oneOf");
                    for (k, x) in fixed {
                        m.entry(k).or_insert(x);
                    }
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut s = abforge_synth::json_schema();
    if let Value::Object(m) = &mut s {
        m.shift_remove("$schema");
        m.shift_remove("$id");
        m.insert("title".into(), json!("Resolved blueprint"));
        m.insert(
            "description".into(),
            json!(
                "An A/B experiment whose truth is known, as in a blueprint file (JSON form), \
                 with every parameter fixed: no `choose`. Lifts are allowed. Cross-field rules \
                 (groups named in metrics exist, the control is a group, ...) are checked by \
                 the server and reported as 422."
            ),
        );
    }
    strip(&mut s);
    s
}

/// The OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "docs",
    operation_id = "openapi",
    responses((status = 200, description = "This OpenAPI 3.1 document.", body = Object, content_type = "application/json")),
)]
pub(crate) async fn openapi_json() -> Response {
    json_response(StatusCode::OK, openapi())
}

/// A document's JSON and its `/docs` page, made once and served by
/// [`json_document`] and [`docs_page`].
pub(crate) fn doc_routes(doc: &Value) -> (bytes::Bytes, bytes::Bytes) {
    let json = serde_json::to_vec(doc).expect("a JSON value serialises");
    (json.into(), render(doc).into())
}

/// `/openapi.json` of a document made by [`doc_routes`].
pub(crate) fn json_document(json: bytes::Bytes) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

/// A page documenting the API.
///
/// Rendered on the server from the OpenAPI document: plain HTML, no script, nothing fetched.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "docs",
    operation_id = "docs",
    responses((status = 200, description = "An HTML page.", body = String, content_type = "text/html")),
)]
pub(crate) async fn docs() -> Response {
    static PAGE: LazyLock<String> = LazyLock::new(|| render(openapi()));
    docs_page(bytes::Bytes::from_static(PAGE.as_bytes()))
}

/// The `/docs` page.
pub(crate) fn docs_page(page: bytes::Bytes) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            ),
        ],
        page,
    )
        .into_response()
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text, with `code spans` as `<code>`.
fn prose(s: &str) -> String {
    esc(s)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// The name a `$ref` points to, or a short description of an inline schema.
fn schema_name(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    match s["type"].as_str() {
        Some("array") => format!("array of {}", schema_name(&s["items"])),
        Some(t) => esc(t),
        None => "any".into(),
    }
}

/// The page: every operation with its parameters and responses, then every schema.
fn render(doc: &Value) -> String {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>\
         body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         code,pre{{font-family:ui-monospace,monospace;font-size:13px}}\
         pre{{background:#f6f6f6;padding:.75rem;overflow:auto}}\
         section{{border-top:1px solid #ddd;padding-top:.5rem;margin-top:1.5rem}}\
         .m{{display:inline-block;min-width:3.5rem;font-weight:bold}}\
         table{{border-collapse:collapse}}td,th{{text-align:left;padding:.2rem .8rem .2rem 0;vertical-align:top}}\
         </style></head><body>\n<h1>{t} <small>{v}</small></h1>\n<p>{d}</p>\n\
         <p>The machine-readable document: <a href=\"openapi.json\">openapi.json</a> \
         (OpenAPI {o}).</p>\n<h2>Operations</h2>\n",
        t = esc(title),
        v = esc(doc["info"]["version"].as_str().unwrap_or("")),
        d = prose(doc["info"]["description"].as_str().unwrap_or("")),
        o = esc(doc["openapi"].as_str().unwrap_or("")),
    );
    let empty = serde_json::Map::new();
    for (path, item) in doc["paths"].as_object().unwrap_or(&empty) {
        for (method, op) in item.as_object().unwrap_or(&empty) {
            let _ = write!(
                h,
                "<section id=\"{id}\"><h3><span class=\"m\">{m}</span> <code>{p}</code></h3>\n\
                 <p><b>{s}</b></p>\n",
                id = esc(op["operationId"].as_str().unwrap_or("")),
                m = esc(&method.to_uppercase()),
                p = esc(path),
                s = prose(op["summary"].as_str().unwrap_or("")),
            );
            if let Some(d) = op["description"].as_str() {
                for para in d.split("\n\n") {
                    let _ = writeln!(h, "<p>{}</p>", prose(para));
                }
            }
            if let Some(params) = op["parameters"].as_array() {
                h.push_str(
                    "<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>\n",
                );
                for p in params {
                    let _ = writeln!(
                        h,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{} <code>{}</code></td><td>{}</td></tr>",
                        esc(p["name"].as_str().unwrap_or("")),
                        esc(p["in"].as_str().unwrap_or("")),
                        schema_name(&p["schema"]),
                        esc(p["schema"]["pattern"].as_str().unwrap_or("")),
                        prose(p["description"].as_str().unwrap_or("")),
                    );
                }
                h.push_str("</table>\n");
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for (ct, media) in content {
                    let _ = writeln!(
                        h,
                        "<p>Body: <code>{}</code>, {}. {}</p>",
                        esc(ct),
                        schema_name(&media["schema"]),
                        prose(op["requestBody"]["description"].as_str().unwrap_or("")),
                    );
                }
            }
            h.push_str("<table><tr><th>status</th><th>body</th><th></th></tr>\n");
            for (status, r) in op["responses"].as_object().unwrap_or(&empty) {
                let body = r["content"]
                    .as_object()
                    .and_then(|c| c.iter().next())
                    .map(|(ct, m)| {
                        format!("<code>{}</code> {}", esc(ct), schema_name(&m["schema"]))
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{body}</td><td>{}</td></tr>",
                    esc(status),
                    prose(r["description"].as_str().unwrap_or("")),
                );
            }
            h.push_str("</table></section>\n");
        }
    }
    h.push_str("<h2>Schemas</h2>\n");
    for (name, s) in doc["components"]["schemas"].as_object().unwrap_or(&empty) {
        let pretty = serde_json::to_string_pretty(s).unwrap_or_default();
        let _ = writeln!(
            h,
            "<section id=\"schema-{n}\"><h3>{n}</h3><pre>{p}</pre></section>",
            n = esc(name),
            p = esc(&pretty),
        );
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_and_formats() {
        assert_eq!(
            esc("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert_eq!(prose("a `b<c>` d"), "a <code>b&lt;c&gt;</code> d");
    }

    #[test]
    fn resolved_blueprints_have_no_choose() {
        let s = resolved_blueprint_schema().to_string();
        assert!(!s.contains("\"choose\"") && !s.contains("\"prior\""), "{s}");
        assert!(
            abforge_synth::json_schema()
                .to_string()
                .contains("\"choose\"")
        );
    }
}
