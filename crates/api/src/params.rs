//! `/v1`: the params of each run of each experiment.

use crate::config::AppState;
use crate::error::{AppError, ErrorBody, json_bytes_response, json_response};
use crate::extract::{ExperimentPath, ReadAccess, RunPath, WriteAccess};
use crate::input::{self, params_key, parse_id};
use crate::openapi::schema;
use crate::page::{self, PageRequest};
use abforge_store::PutOutcome;
use abforge_store::objects::Fetched;
use abforge_synth::{Cancel, CancelOnDrop};
use axum::extract::{FromRequest, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use utoipa::ToSchema;

/// The route of a run's params.
pub(crate) const PARAMS_PATH: &str = "/v1/experiments/{experiment_id}/runs/{run_id}/params";

/// What a PUT did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// There were no params for the run: stored (201).
    Created,
    /// There were other params: replaced (200).
    Replaced,
    /// The same params were already stored: nothing written (200).
    Unchanged,
}

impl From<PutOutcome> for Outcome {
    fn from(o: PutOutcome) -> Self {
        match o {
            PutOutcome::Created => Outcome::Created,
            PutOutcome::Replaced => Outcome::Replaced,
            PutOutcome::Unchanged => Outcome::Unchanged,
        }
    }
}

/// The answer to a PUT.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PutResponse {
    /// The experiment.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub experiment_id: String,
    /// The run.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub run_id: String,
    /// What was done.
    pub outcome: Outcome,
    /// SHA-256 (hex) of the canonical JSON of the blueprint stored.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub blueprint_hash: String,
}

/// The experiments that have params, sorted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExperimentList {
    /// Experiment ids of this page.
    pub experiments: Vec<String>,
    /// The link to the next page (also in the `Link` header); `null` on the last.
    #[schema(example = "/v1/experiments?limit=100&cursor=djE6ZGVtbw")]
    pub next: Option<String>,
}

/// The runs of an experiment that have params, sorted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunList {
    /// The experiment.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub experiment_id: String,
    /// Run ids of this page.
    pub runs: Vec<String>,
    /// The link to the next page (also in the `Link` header); `null` on the last.
    #[schema(example = "/v1/experiments/demo/runs?limit=100&cursor=djE6MjAyNi0xMS0yMw")]
    pub next: Option<String>,
}

/// What the params routes remember between requests, per object key, each entry tied to
/// the entity tag of the object it was made from: an entry is used only while the stored
/// object still has that tag (one `stat` on a local folder), so a write by this process,
/// another process or another replica is seen at once. Bounded; entries are dropped as
/// room is needed.
#[derive(Default)]
pub(crate) struct ParamsCache {
    /// GET: the response body rendered from an object.
    rendered: Mutex<Bounded<Rendered>>,
    /// PUT: a body accepted for a key, and the tag of the object it made (or found).
    accepted: Mutex<Bounded<Accepted>>,
}

#[derive(Clone)]
struct Rendered {
    e_tag: String,
    body: Bytes,
}

#[derive(Clone)]
struct Accepted {
    body: Bytes,
    e_tag: String,
    blueprint_hash: String,
}

/// Bytes each of the two maps may hold, and the largest entry kept.
const CACHE_BUDGET: usize = 32 << 20;
const CACHE_ENTRY_MAX: usize = 64 << 10;

/// A map from object keys to entries, holding at most [`CACHE_BUDGET`] bytes.
struct Bounded<V> {
    map: HashMap<String, (V, usize)>,
    bytes: usize,
}

impl<V> Default for Bounded<V> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            bytes: 0,
        }
    }
}

impl<V: Clone> Bounded<V> {
    fn get(&self, key: &str) -> Option<V> {
        self.map.get(key).map(|(v, _)| v.clone())
    }

    fn remove(&mut self, key: &str) {
        if let Some((_, size)) = self.map.remove(key) {
            self.bytes -= size;
        }
    }

    fn insert(&mut self, key: &str, value: V, size: usize) {
        let size = size + key.len();
        self.remove(key);
        if size > CACHE_ENTRY_MAX {
            return;
        }
        while self.bytes + size > CACHE_BUDGET {
            let Some(victim) = self.map.keys().next().cloned() else {
                break;
            };
            self.remove(&victim);
        }
        self.bytes += size;
        self.map.insert(key.to_string(), (value, size));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave an entry half made: use the map as it is.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ParamsCache {
    fn rendered(&self, key: &str) -> Option<Rendered> {
        lock(&self.rendered).get(key)
    }

    fn keep_rendered(&self, key: &str, e_tag: Option<String>, body: &Bytes) {
        let mut m = lock(&self.rendered);
        match e_tag {
            Some(e_tag) => {
                let size = e_tag.len() + body.len();
                m.insert(
                    key,
                    Rendered {
                        e_tag,
                        body: body.clone(),
                    },
                    size,
                );
            }
            None => m.remove(key),
        }
    }

    fn forget_rendered(&self, key: &str) {
        lock(&self.rendered).remove(key);
    }

    fn accepted(&self, key: &str) -> Option<Accepted> {
        lock(&self.accepted).get(key)
    }

    fn keep_accepted(&self, key: &str, body: Bytes, e_tag: Option<String>, blueprint_hash: &str) {
        let mut m = lock(&self.accepted);
        match e_tag {
            Some(e_tag) => {
                let size = body.len() + e_tag.len() + blueprint_hash.len();
                m.insert(
                    key,
                    Accepted {
                        body,
                        e_tag,
                        blueprint_hash: blueprint_hash.to_string(),
                    },
                    size,
                );
            }
            None => m.remove(key),
        }
    }

    fn forget_accepted(&self, key: &str) {
        lock(&self.accepted).remove(key);
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.rsplit_once('+').is_some_and(|(ty, suffix)| {
            suffix.eq_ignore_ascii_case("json")
                && ty.len() > "application/".len()
                && ty[.."application/".len()].eq_ignore_ascii_case("application/")
        })
}

/// Store the params of a run.
///
/// The body is a resolved blueprint in its JSON form: the structure of a blueprint file,
/// with every `choose` already fixed (explicit parameters and lifts are fine). It is
/// validated by the blueprint's own rules, every problem reported with its field path;
/// its `id` must be the `experiment_id` of the path. The server computes its ground truth
/// and stores both at `params/<experiment_id>/<run_id>.json`.
///
/// Idempotent: the same blueprint again answers 200 `unchanged` and writes nothing.
#[utoipa::path(
    put,
    path = "/v1/experiments/{experiment_id}/runs/{run_id}/params",
    tag = "params",
    operation_id = "put_params",
    params(
        ("experiment_id" = String, Path, description = "Experiment id; the blueprint's `id` must equal it.",
            pattern = "^[a-z0-9_-]{1,64}$", min_length = 1, max_length = 64, example = "demo"),
        ("run_id" = String, Path, description = "Run id, e.g. the run date `2026-11-23`.",
            pattern = "^[a-z0-9_-]{1,64}$", min_length = 1, max_length = 64, example = "2026-11-23"),
    ),
    request_body(content = schema::Blueprint, content_type = "application/json",
        description = "A resolved blueprint (no `choose`), at most 1 MiB.",
        example = json!({
            "id": "demo", "seed": 7, "customers": 1000, "start_date": "2026-11-23", "days": 7,
            "groups": { "control": 1, "treatment": 1 },
            "metrics": { "items": { "distribution": "poisson",
                "control": { "lambda": 2.0 }, "treatment": { "lift": 0.1 } } }
        })),
    responses(
        (status = 201, description = "Stored; there were no params for this run.", body = PutResponse,
            headers(("location" = String, description = "The URL of the params."))),
        (status = 200, description = "Replaced other params (`replaced`), or the same params were already stored and nothing was written (`unchanged`).", body = PutResponse),
        (status = 400, description = "An id in the path is not `[a-z0-9_-]{1,64}`, or the body cannot be read.", body = ErrorBody),
        (status = 401, description = "A token is configured and the request does not carry it.", body = ErrorBody),
        (status = 413, description = "The body is over the limit (1 MiB by default).", body = ErrorBody),
        (status = 415, description = "The body is not declared as `application/json`.", body = ErrorBody),
        (status = 422, description = "Invalid JSON, or not a valid resolved blueprint for this experiment; every problem is in `details` with its field path.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
        (status = 503, description = "The request timed out.", body = ErrorBody),
    ),
    security(("bearer" = []), ()),
)]
pub(crate) async fn put_params(
    State(state): State<AppState>,
    _: WriteAccess,
    RunPath {
        experiment_id,
        run_id,
    }: RunPath,
    req: Request,
) -> Result<Response, AppError> {
    // Headers first: a body announced too large, or not JSON, is refused unread.
    let limit = state.config().body_limit;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    if !is_json(req.headers()) {
        return Err(AppError::UnsupportedMediaType);
    }
    // Then the body, cut at the limit whatever the headers said (DefaultBodyLimit).
    let body = Bytes::from_request(req, &state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge { limit }
        } else {
            AppError::BadRequest {
                error: "cannot read the request body".into(),
                details: vec![],
            }
        }
    })?;
    let key = params_key(&experiment_id, &run_id);
    let cache = state.params_cache();
    // The same bytes as the body that made (or matched) the stored object, which still
    // has the tag it had then: the same blueprint, valid, its document already stored.
    // Parsing is deterministic, so the full path would answer the same, `unchanged`.
    if let Some(hit) = cache.accepted(&key).filter(|a| a.body == body) {
        let current = state.objects().head(&key).await?;
        if current.and_then(|i| i.e_tag).as_deref() == Some(hit.e_tag.as_str()) {
            tracing::info!(%experiment_id, %run_id, outcome = ?PutOutcome::Unchanged,
                hash = %hit.blueprint_hash, "params put");
            return put_response(
                experiment_id,
                run_id,
                PutOutcome::Unchanged,
                hit.blueprint_hash,
            );
        }
        cache.forget_accepted(&key);
    }
    let run = {
        let (e, r, b) = (experiment_id.clone(), run_id.clone(), body.clone());
        let span = tracing::Span::current();
        let permit = state.cpu().await;
        // Dropped with this future (the request timed out, the client went away): the
        // computation sees the flag at its next check, ends, and frees the permit.
        let cancel = Cancel::new();
        let _stop = CancelOnDrop(cancel.clone());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(|| input::parse_run_cancellable(&e, &r, &b, &cancel))
        })
        .await
        .map_err(AppError::internal)??
    };
    let report = state
        .objects()
        .put_json_if_changed_tagged(&key, &run)
        .await?;
    let outcome = report.outcome;
    tracing::info!(%experiment_id, %run_id, ?outcome, hash = %run.blueprint_hash, "params put");
    cache.keep_accepted(&key, body, report.e_tag, &run.blueprint_hash);
    put_response(experiment_id, run_id, outcome, run.blueprint_hash)
}

/// The answer to a PUT: 201 with `Location` when created, 200 otherwise.
fn put_response(
    experiment_id: String,
    run_id: String,
    outcome: PutOutcome,
    blueprint_hash: String,
) -> Result<Response, AppError> {
    let status = match outcome {
        PutOutcome::Created => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    let location = format!("/v1/experiments/{experiment_id}/runs/{run_id}/params");
    let mut res = json_response(
        status,
        &PutResponse {
            experiment_id,
            run_id,
            outcome: outcome.into(),
            blueprint_hash,
        },
    );
    if status == StatusCode::CREATED {
        let v = HeaderValue::from_str(&location).map_err(AppError::internal)?;
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Get the params of a run.
///
/// The document stored by PUT — the canonical blueprint, its hash and its ground truth —
/// with `stored_at`, the time of its last write.
#[utoipa::path(
    get,
    path = "/v1/experiments/{experiment_id}/runs/{run_id}/params",
    tag = "params",
    operation_id = "get_params",
    params(
        ("experiment_id" = String, Path, description = "Experiment id.",
            pattern = "^[a-z0-9_-]{1,64}$", min_length = 1, max_length = 64, example = "demo"),
        ("run_id" = String, Path, description = "Run id.",
            pattern = "^[a-z0-9_-]{1,64}$", min_length = 1, max_length = 64, example = "2026-11-23"),
    ),
    responses(
        (status = 200, description = "The params and their truth.", body = schema::StoredParams),
        (status = 400, description = "An id in the path is not `[a-z0-9_-]{1,64}`.", body = ErrorBody),
        (status = 401, description = "Reads need the token and the request does not carry it.", body = ErrorBody),
        (status = 404, description = "No params for this run.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
        (status = 503, description = "The request timed out.", body = ErrorBody),
    ),
    security((), ("bearer" = [])),
)]
pub(crate) async fn get_params(
    State(state): State<AppState>,
    _: ReadAccess,
    RunPath {
        experiment_id,
        run_id,
    }: RunPath,
) -> Result<Response, AppError> {
    let key = params_key(&experiment_id, &run_id);
    let objects = state.objects();
    let cache = state.params_cache();
    // The rendered answer is kept with the tag of the object it came from, and used while
    // the object still has it. Only where every write gives a new tag: on S3 the tag
    // follows the content, and a rewrite of the same bytes would leave `stored_at` stale.
    let cached = if objects.tags_every_write() {
        cache.rendered(&key)
    } else {
        None
    };
    let fetched = match &cached {
        Some(c) => objects.get_if_none_match(&key, &c.e_tag).await?,
        None => objects.get(&key).await?.map(Fetched::Object),
    };
    let obj = match (fetched, cached) {
        (Some(Fetched::NotModified), Some(c)) => {
            return Ok(json_bytes_response(StatusCode::OK, c.body));
        }
        (Some(Fetched::Object(obj)), _) => obj,
        (Some(Fetched::NotModified), None) => {
            return Err(AppError::internal("not modified, but nothing was cached"));
        }
        (None, _) => {
            cache.forget_rendered(&key);
            return Err(AppError::NotFound(format!(
                "no params for run {run_id:?} of experiment {experiment_id:?}"
            )));
        }
    };
    let body = render_params(&obj.bytes, obj.info.last_modified.to_rfc3339())?;
    if objects.tags_every_write() {
        cache.keep_rendered(&key, obj.info.e_tag, &body);
    }
    Ok(json_bytes_response(StatusCode::OK, body))
}

/// The GET answer for a stored document: the document with `stored_at` added.
fn render_params(stored: &[u8], stored_at: String) -> Result<Bytes, AppError> {
    let mut doc: serde_json::Value = serde_json::from_slice(stored).map_err(AppError::internal)?;
    let serde_json::Value::Object(m) = &mut doc else {
        return Err(AppError::internal("a params document is not a JSON object"));
    };
    m.insert("stored_at".into(), serde_json::Value::String(stored_at));
    serde_json::to_vec(&doc)
        .map(Bytes::from)
        .map_err(AppError::internal)
}

/// List the experiments that have params, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/experiments",
    tag = "params",
    operation_id = "list_experiments",
    params(PageParams),
    responses(
        (status = 200, description = "Experiment ids, sorted; `next` links the next page.", body = ExperimentList,
            headers(("Link" = String, description = "`<next>; rel=\"next\"` when there is a next page."))),
        (status = 400, description = "A query parameter that is unknown, repeated or malformed.", body = ErrorBody),
        (status = 401, description = "Reads need the token and the request does not carry it.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
        (status = 503, description = "The request timed out.", body = ErrorBody),
    ),
    security((), ("bearer" = [])),
)]
pub(crate) async fn list_experiments(
    State(state): State<AppState>,
    _: ReadAccess,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let req = PageRequest::from_query(query.as_deref())?;
    let all = state.objects().list_dirs("params").await?;
    let page = req.take(all.into_iter().filter(|e| parse_id(e).is_ok()), |e| e);
    let next = page
        .next_cursor
        .map(|c| req.next_link("/v1/experiments", "", &c));
    let body = ExperimentList {
        experiments: page.items,
        next,
    };
    let link = body.next.clone();
    Ok(page::link_next(
        json_response(StatusCode::OK, &body),
        link.as_deref(),
    ))
}

/// List the runs of an experiment that have params, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/experiments/{experiment_id}/runs",
    tag = "params",
    operation_id = "list_runs",
    params(
        ("experiment_id" = String, Path, description = "Experiment id.",
            pattern = "^[a-z0-9_-]{1,64}$", min_length = 1, max_length = 64, example = "demo"),
        PageParams,
    ),
    responses(
        (status = 200, description = "Run ids, sorted; `next` links the next page.", body = RunList,
            headers(("Link" = String, description = "`<next>; rel=\"next\"` when there is a next page."))),
        (status = 400, description = "The id in the path is not `[a-z0-9_-]{1,64}`, or a query parameter is unknown, repeated or malformed.", body = ErrorBody),
        (status = 401, description = "Reads need the token and the request does not carry it.", body = ErrorBody),
        (status = 404, description = "The experiment has no params.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
        (status = 503, description = "The request timed out.", body = ErrorBody),
    ),
    security((), ("bearer" = [])),
)]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    _: ReadAccess,
    ExperimentPath(experiment_id): ExperimentPath,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let req = PageRequest::from_query(query.as_deref())?;
    let folder = format!("params/{experiment_id}");
    let mut runs: Vec<String> = state
        .objects()
        .list(&folder)
        .await?
        .into_iter()
        .filter_map(|o| {
            let name = o.key.strip_prefix(&folder)?.strip_prefix('/')?;
            let run = name.strip_suffix(".json")?;
            parse_id(run).ok().map(str::to_string)
        })
        .collect();
    if runs.is_empty() {
        return Err(AppError::NotFound(format!(
            "no params for experiment {experiment_id:?}"
        )));
    }
    // Keys sort `a-b.json` before `a.json`; ids sort `a` first.
    runs.sort();
    let page = req.take(runs, |r| r);
    let next = page
        .next_cursor
        .map(|c| req.next_link(&format!("/v1/experiments/{experiment_id}/runs"), "", &c));
    let link = next.clone();
    Ok(page::link_next(
        json_response(
            StatusCode::OK,
            &RunList {
                experiment_id,
                runs: page.items,
                next,
            },
        ),
        link.as_deref(),
    ))
}

/// The query parameters of the list routes (parsed by [`PageRequest::from_query`]; this
/// type only describes them).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PageParams {
    /// At most this many ids (1 to 1000; 100 when absent).
    #[param(minimum = 1, maximum = 1000, example = 100)]
    limit: Option<u32>,
    /// Where to start: the `cursor` of a previous page's `next` link.
    #[param(pattern = "^[A-Za-z0-9_-]{1,200}$")]
    cursor: Option<String>,
}

/// The fallback of unknown paths: 404 JSON.
pub(crate) async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}

/// The fallback of known paths with another method: 405 JSON (axum adds `Allow`).
pub(crate) async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            h
        };
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.abforge+json",
        ] {
            assert!(is_json(&h(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "text/json",
            "+json",
        ] {
            assert!(!is_json(&h(bad)), "{bad}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
