//! The crate's error type.

use std::path::PathBuf;

/// Errors of this crate. Each names the store and the key it concerns. (object_store's
/// errors are boxed: they are large, and a `Result` should stay small.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot make a store (an unknown URL scheme, a bad S3 option).
    #[error("configuration: {0}")]
    Config(String),
    /// The backend refused the configuration (e.g. S3 options object_store rejects).
    #[error("object store {url}: {source}")]
    Build {
        /// The URL being opened.
        url: String,
        /// The underlying error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// The local store's folder cannot be created.
    #[error("cannot create the object store folder {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A key that is not a plain relative path (empty, `..`, `//`, odd characters).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A backend call failed.
    #[error("{op} {key:?} in {store}: {source}")]
    Backend {
        /// The store (its URL).
        store: String,
        /// What was being done: `get`, `put`, `list`, ...
        op: &'static str,
        /// The key or prefix, relative to the store's prefix.
        key: String,
        /// The underlying error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// An object is not the JSON expected, or a value cannot be written as JSON.
    #[error("{key:?} in {store}: {source}")]
    Json {
        /// The store (its URL).
        store: String,
        /// The key.
        key: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A database or service call failed (SQLite, PostgreSQL, DynamoDB).
    #[error("{backend}: {op}: {message}")]
    Service {
        /// `sqlite`, `postgres`, `dynamodb`.
        backend: &'static str,
        /// What was being done (`connect`, `load customers`, `put run`, …).
        op: String,
        /// The backend's message.
        message: String,
        /// Whether retrying may help: a refused or dropped connection, a timeout, throttling.
        transient: bool,
    },
    /// Stored data or a request that the store cannot accept (a column whose type conflicts
    /// with the table's, a row that does not decode).
    #[error("{0}")]
    Data(String),
}

impl Error {
    /// Whether retrying the call may help: connections refused or dropped, timeouts,
    /// throttling. The pipeline retries these with exponential backoff and jitter.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Service { transient, .. } => *transient,
            Error::Backend { source, .. } => !matches!(
                **source,
                object_store::Error::NotFound { .. }
                    | object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. }
                    | object_store::Error::NotModified { .. }
                    | object_store::Error::NotImplemented { .. }
                    | object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::InvalidPath { .. }
            ),
            _ => false,
        }
    }
}

impl Error {
    /// An [`Error::Service`].
    pub(crate) fn service(
        backend: &'static str,
        op: impl Into<String>,
        message: impl Into<String>,
        transient: bool,
    ) -> Error {
        Error::Service {
            backend,
            op: op.into(),
            message: message.into(),
            transient,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
