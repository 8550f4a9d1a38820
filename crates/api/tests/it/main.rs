//! Integration tests of abforge-api, one module per area. Every response a test receives
//! through [`Api::send`] is also checked against the OpenAPI document (documented status,
//! content type, body schema, `x-request-id`), as schemathesis does against a live server.

mod auth;
mod cache;
mod errors;
mod hardening;
mod idempotency;
mod limits;
mod openapi;
mod props;
mod routes;
mod socket;

use abforge_api::{ApiConfig, AppState, app};
use abforge_store::Objects;
use abforge_synth::Blueprint;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::LazyLock;
use tower::ServiceExt;

/// A router on an in-memory store, and the state to look into the store.
#[derive(Debug)]
pub struct Api {
    pub state: AppState,
    pub app: Router,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
}

impl Reply {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.bytes))
        })
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// Asserts an error response: the status, a JSON `{error, details}` body; returns it.
    #[track_caller]
    pub fn error(&self, status: StatusCode) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.bytes)
        );
        assert_eq!(self.content_type(), "application/json");
        let v = self.json();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
        assert!(v["details"].is_array(), "{v}");
        assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
        v
    }

    /// The `(path, message)` of each detail.
    pub fn details(&self) -> Vec<(String, String)> {
        self.json()["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["path"].as_str().unwrap().to_string(),
                    d["message"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

impl Api {
    pub fn new(config: ApiConfig) -> Self {
        Self::on(config, Objects::memory())
    }

    pub fn on(config: ApiConfig, objects: Objects) -> Self {
        let state = AppState::new(config, objects).unwrap();
        Self {
            app: app(state.clone()),
            state,
        }
    }

    pub fn open() -> Self {
        Self::new(ApiConfig::default())
    }

    /// Sends a request and checks the response against the OpenAPI document.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let reply = Reply {
            status: parts.status,
            headers: parts.headers,
            bytes,
        };
        openapi::conforms(&method, &path, &reply);
        reply
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// PUT with `Content-Type: application/json`.
    pub async fn put(&self, path: &str, body: impl Into<Body>) -> Reply {
        self.send(
            Request::put(path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.into())
                .unwrap(),
        )
        .await
    }

    pub async fn request(&self, method: Method, path: &str) -> Reply {
        self.send(
            Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

pub fn params_path(experiment: &str, run: &str) -> String {
    format!("/v1/experiments/{experiment}/runs/{run}/params")
}

pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every shipped example, resolved (no `choose`), as the JSON a client PUTs, by file stem.
pub fn resolved_examples() -> &'static [(String, Value)] {
    static EXAMPLES: LazyLock<Vec<(String, Value)>> = LazyLock::new(|| {
        let mut out: Vec<(String, Value)> = std::fs::read_dir(examples_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| {
                let bp = Blueprint::from_path(&p).unwrap();
                let resolved = bp.resolve().unwrap().blueprint;
                let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                (stem, resolved.to_json_value())
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(out.len() >= 6);
        out
    });
    &EXAMPLES
}

/// A small valid blueprint (with a lift) for experiment `id`.
pub fn small(id: &str) -> Value {
    serde_json::json!({
        "id": id,
        "seed": 7,
        "customers": 1000,
        "start_date": "2026-11-23",
        "days": 7,
        "groups": { "control": 1, "treatment": 1 },
        "metrics": {
            "items": {
                "distribution": "poisson",
                "control": { "lambda": 2.0 },
                "treatment": { "lift": 0.1 }
            }
        }
    })
}
