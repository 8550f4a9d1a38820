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

/// SQLite's result codes that mean "try again": the database is locked by another
/// connection (busy) or a table in it is (locked).
fn sqlite_transient(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Whether a PostgreSQL error may go away on a retry: a closed or refused connection, a
/// timeout, SQLSTATE class 08 (connection exception), 40001 (serialization failure), 40P01
/// (deadlock), 53300 (too many connections), 57P01 to 57P03 (admin shutdown, crash shutdown,
/// cannot connect now).
fn postgres_transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08")
            || matches!(c, "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            return matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected
                    | K::BrokenPipe
                    | K::TimedOut
                    | K::UnexpectedEof
                    | K::Interrupted
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::NetworkDown
                    | K::AddrNotAvailable
            );
        }
        source = s.source();
    }
    // tokio-postgres's own kinds without a source: "timeout waiting for server", "error
    // communicating with the server".
    let text = e.to_string();
    text.starts_with("timeout") || text.starts_with("error communicating")
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

    /// A SQLite error as an [`Error::Service`] (transient for SQLITE_BUSY and SQLITE_LOCKED).
    pub(crate) fn sqlite(op: impl Into<String>, e: &rusqlite::Error) -> Error {
        Error::service("sqlite", op, e.to_string(), sqlite_transient(e))
    }

    /// A PostgreSQL error as an [`Error::Service`], its message with the server's SQLSTATE,
    /// detail and hint when it sent them (transient as `postgres_transient` says).
    pub(crate) fn postgres(op: impl Into<String>, e: &tokio_postgres::Error) -> Error {
        let message = match e.as_db_error() {
            Some(db) => {
                let mut m = format!("{} (SQLSTATE {})", db.message(), db.code().code());
                if let Some(d) = db.detail() {
                    m.push_str(": ");
                    m.push_str(d);
                }
                if let Some(h) = db.hint() {
                    m.push_str("; hint: ");
                    m.push_str(h);
                }
                m
            }
            None => {
                // tokio-postgres's message, then its causes ("error connecting to server:
                // Connection refused (os error 111)").
                let mut m = e.to_string();
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    let text = s.to_string();
                    if !m.contains(&text) {
                        m.push_str(": ");
                        m.push_str(&text);
                    }
                    source = s.source();
                }
                m
            }
        };
        Error::service("postgres", op, message, postgres_transient(e))
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
