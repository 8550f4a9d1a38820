//! The params API: an axum router that takes the resolved blueprint of each run of each
//! experiment, checks it by the blueprint's own rules, computes its ground truth, and keeps
//! both in the object store, at `params/<experiment_id>/<run_id>.json`.
//!
//! [`app`] builds the whole service — routes, request ids, tracing, timeout, body limit,
//! JSON errors — from an [`AppState`]: the [`ApiConfig`] (token, limits) and an
//! [`Objects`](abforge_store::Objects) store. `abforge serve` runs it on a socket with
//! [`serve`]; the AWS Lambda binary runs the same router. [`openapi`] is its OpenAPI 3.1
//! document, served at `/openapi.json` and rendered at `/docs`.
//!
//! | route                                                | methods  | what                       |
//! |------------------------------------------------------|----------|----------------------------|
//! | `/v1/experiments/{experiment_id}/runs/{run_id}/params` | PUT, GET | store / read a run's params |
//! | `/v1/experiments`                                    | GET      | experiments with params    |
//! | `/v1/experiments/{experiment_id}/runs`               | GET      | runs of an experiment      |
//! | `/healthz`, `/readyz`                                | GET      | liveness, readiness        |
//! | `/openapi.json`, `/docs`                             | GET      | the API's description      |
//!
//! ```
//! use abforge_api::{ApiConfig, AppState, app};
//! use abforge_store::Objects;
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let state = AppState::new(ApiConfig::default(), Objects::memory())?;
//! let blueprint = r#"{ "id": "demo", "customers": 1000, "start_date": "2026-11-23",
//!     "days": 7, "groups": { "control": 1, "treatment": 1 },
//!     "metrics": { "items": { "distribution": "poisson",
//!         "control": { "lambda": 2.0 }, "treatment": { "lift": 0.1 } } } }"#;
//! let put = Request::put("/v1/experiments/demo/runs/2026-11-23/params")
//!     .header("content-type", "application/json")
//!     .body(Body::from(blueprint))?;
//! let res = app(state.clone()).oneshot(put).await?;
//! assert_eq!(res.status(), StatusCode::CREATED);
//! assert!(res.headers().contains_key("x-request-id"));
//!
//! let stored = state.objects().head("params/demo/2026-11-23.json").await?;
//! assert!(stored.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod config;
mod error;
mod extract;
mod hardening;
mod health;
pub mod input;
mod openapi;
pub mod page;
mod params;

pub use config::{ApiConfig, AppState, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT};
pub use error::{AppError, Detail, Error, ErrorBody, Result};
pub use hardening::{AllowedHosts, ServeOptions, serve_with};
pub use health::Status;
pub use openapi::{openapi, openapi_with};
pub use params::{ExperimentList, Outcome, PutResponse, RunList};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderMap, HeaderName, Request, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use std::any::Any;
use std::future::Future;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The header carrying each request's id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole service: routes, then (innermost first) the body limit, the timeout (503),
/// panics as 500, JSON bodies for every error, `x-request-id` (the client's, or a new
/// UUID, echoed on the response), a tracing span per request with its method, matched
/// route and request id, the Host allow-list (421 for a host not allowed: DNS rebinding)
/// and the security headers on every response (`X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: no-referrer`, a CSP with `frame-ancestors 'none'`).
pub fn app(state: AppState) -> Router {
    routes(state, Router::new(), None)
}

/// [`app`] with more routes (another service sharing the socket, such as abforge's
/// dashboard) and their OpenAPI paths, merged into the `/openapi.json` and `/docs` served.
/// The extra routes get the same layers: request ids, tracing, timeout, body limit, panics
/// as 500, and the read token when reads need it; their error responses keep their bodies
/// when those are JSON or HTML.
///
/// # Panics
/// When `extra` has a route the params API also has.
pub fn app_with(state: AppState, extra: Router, doc: utoipa::openapi::OpenApi) -> Router {
    routes(state, extra, Some(doc))
}

fn routes(state: AppState, extra: Router, doc: Option<utoipa::openapi::OpenApi>) -> Router {
    let config = state.config().clone();
    let allowed = std::sync::Arc::new(config.allowed_hosts.clone());
    let docs: Router<AppState> = match doc {
        None => Router::new()
            .route("/openapi.json", get(openapi::openapi_json))
            .route("/docs", get(openapi::docs)),
        Some(doc) => {
            let (json, page) = openapi::doc_routes(&openapi_with(doc));
            Router::new()
                .route(
                    "/openapi.json",
                    get(move || std::future::ready(openapi::json_document(json.clone()))),
                )
                .route(
                    "/docs",
                    get(move || std::future::ready(openapi::docs_page(page.clone()))),
                )
        }
    };
    Router::new()
        .merge(docs)
        .route(
            params::PARAMS_PATH,
            get(params::get_params).put(params::put_params),
        )
        .route("/v1/experiments", get(params::list_experiments))
        .route(
            "/v1/experiments/{experiment_id}/runs",
            get(params::list_runs),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(
            extra
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    read_guard,
                ))
                .with_state(()),
        )
        .fallback(params::not_found)
        .method_not_allowed_fallback(params::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(
            panic_response as fn(Box<dyn Any + Send + 'static>) -> Response,
        ))
        .layer(axum::middleware::map_response(json_errors))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn(move |req, next| {
            hardening::host_guard(std::sync::Arc::clone(&allowed), req, next)
        }))
        .layer(axum::middleware::map_response(hardening::security_headers))
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and waits
/// for the requests in flight (each bounded by the timeout); [`serve_with`] with the
/// default [`ServeOptions`].
///
/// # Errors
/// The listener's I/O errors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, ServeOptions::default(), shutdown).await
}

/// The extra routes are reads: with `ABFORGE_API_READ_TOKEN_REQUIRED`, they need the token
/// as the params API's reads do.
async fn read_guard(
    _: extract::ReadAccess,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    next.run(req).await
}

fn request_span(req: &Request<Body>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str);
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        path = req.uri().path(),
        request_id = id,
    )
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("<not a string>");
    tracing::error!(panic = message, "a handler panicked");
    error::json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &ErrorBody {
            error: "internal server error".into(),
            details: vec![],
        },
    )
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// An error page made for people (the dashboard's 404 and 400 pages) is kept as it is.
fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// Gives a JSON [`ErrorBody`] to error responses made without one (the timeout's 503, or
/// anything else a layer answers), keeping their headers; HTML error pages stay HTML.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || is_json(res.headers())
        || is_html(res.headers())
    {
        return res;
    }
    let error = match status {
        StatusCode::SERVICE_UNAVAILABLE => "the request took too long".to_string(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let (mut parts, _) = res.into_parts();
    let new = error::json_response(
        status,
        &ErrorBody {
            error,
            details: vec![],
        },
    );
    let (new_parts, body) = new.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (k, v) in &new_parts.headers {
        parts.headers.insert(k.clone(), v.clone());
    }
    Response::from_parts(parts, body)
}
