//! `/healthz` (the process answers) and `/readyz` (its backends answer).

use crate::config::AppState;
use crate::error::{AppError, ErrorBody, json_response};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// How long readiness waits for the object store.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// A probe's answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Status {
    /// `ok` (liveness) or `ready` (readiness).
    #[schema(example = "ok")]
    pub status: String,
}

/// Liveness: the process answers. Calls no backend.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "probes",
    operation_id = "healthz",
    responses((status = 200, description = "Alive.", body = Status)),
)]
pub(crate) async fn healthz() -> Response {
    json_response(
        StatusCode::OK,
        &Status {
            status: "ok".into(),
        },
    )
}

/// Readiness: the object store answers (one listing call, at most 5 s).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    operation_id = "readyz",
    responses(
        (status = 200, description = "Ready.", body = Status),
        (status = 503, description = "The object store does not answer.", body = ErrorBody),
    ),
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Response, AppError> {
    let unavailable = || AppError::Unavailable("the object store does not answer".into());
    match tokio::time::timeout(READY_TIMEOUT, state.objects().check()).await {
        Ok(Ok(())) => Ok(json_response(
            StatusCode::OK,
            &Status {
                status: "ready".into(),
            },
        )),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            Err(unavailable())
        }
        Err(_) => {
            tracing::warn!(store = %state.objects(), "not ready: the object store check timed out");
            Err(unavailable())
        }
    }
}
