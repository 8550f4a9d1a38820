//! The crate's [`Error`] (setting up) and [`AppError`] (answering a request).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Errors of setting the API up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is not allowed.
    #[error("{var}: {message}")]
    Config {
        /// The environment variable (or setting) at fault.
        var: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The object store cannot be opened.
    #[error(transparent)]
    Store(#[from] abforge_store::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One thing wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Detail {
    /// Where: a dotted field path in the body (`metrics.x.control.lambda`; empty for the
    /// body as a whole), or the name of a path parameter (`experiment_id`).
    pub path: String,
    /// What is wrong, with the value found and what is allowed.
    pub message: String,
}

impl Detail {
    /// A detail at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in one line.
    pub error: String,
    /// Each problem found, with where it is (empty when there is nothing more to say).
    pub details: Vec<Detail>,
}

/// A request that cannot be answered with success; its response is JSON [`ErrorBody`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// 400: a path parameter that is not an id (`[a-z0-9_-]{1,64}`), or an unreadable body.
    #[error("{error}")]
    BadRequest {
        /// Summary.
        error: String,
        /// Each bad parameter.
        details: Vec<Detail>,
    },
    /// 401: the bearer token is missing or wrong.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// 404: nothing there.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the body is over the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not declared as JSON.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// 422: the body is not a valid resolved blueprint for this run.
    #[error("{error}")]
    Unprocessable {
        /// Summary.
        error: String,
        /// Every problem, with its field path.
        details: Vec<Detail>,
    },
    /// 503: a backend does not answer, or the request took too long.
    #[error("{0}")]
    Unavailable(String),
    /// 500: anything else; the client sees a generic message, the log the cause.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 500 from any error.
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        AppError::Internal(e.into())
    }

    /// The JSON body the client sees.
    pub fn body(&self) -> ErrorBody {
        let details = match self {
            AppError::BadRequest { details, .. } | AppError::Unprocessable { details, .. } => {
                details.clone()
            }
            _ => Vec::new(),
        };
        let error = match self {
            AppError::Internal(_) => "internal server error".to_string(),
            other => other.to_string(),
        };
        ErrorBody { error, details }
    }
}

impl From<abforge_store::Error> for AppError {
    fn from(e: abforge_store::Error) -> Self {
        AppError::internal(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal(e) => {
                tracing::error!(error = %e, source = ?e.source(), "internal error")
            }
            AppError::Unavailable(e) => tracing::warn!(error = %e, "unavailable"),
            other => tracing::debug!(status = status.as_u16(), error = %other, "rejected"),
        }
        let mut res = json_response(status, &self.body());
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"abforge\""),
            );
        }
        res
    }
}

/// `status` with a JSON body already serialised.
pub(crate) fn json_bytes_response(status: StatusCode, body: bytes::Bytes) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// `status` with `body` as JSON.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a response");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                r#"{"error":"internal server error","details":[]}"#,
            )
                .into_response()
        }
    }
}
