//! The pipeline's error type.

/// Errors of the pipeline. [`Error::is_transient`] tells which a retry may cure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting, flag or file that is not allowed (the CLI exits with 2).
    #[error("{0}")]
    Config(String),
    /// A setting or an argument that is not allowed, named by its field (`retry.attempts`,
    /// `every`) and where it was given (the CLI exits with 2, naming the flag).
    #[error(transparent)]
    Invalid(#[from] abforge_env::Invalid),
    /// A request that cannot be carried out as asked: a step whose input is missing, a
    /// shard that does not exist (the CLI exits with 2).
    #[error("{0}")]
    Usage(String),
    /// The blueprint is invalid.
    #[error(transparent)]
    Blueprint(#[from] abforge_synth::Error),
    /// A store (object store, relational store, run log) failed.
    #[error(transparent)]
    Store(#[from] abforge_store::Error),
    /// Reading or writing the run's Parquet data failed.
    #[error("{op}: {source}")]
    Parquet {
        /// What was being done.
        op: String,
        /// The underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The analysis failed.
    #[error(transparent)]
    Analysis(#[from] abforge_analysis::Error),
    /// A layer of the lakehouse failed (the silver quality gate among them).
    #[error(transparent)]
    Lake(Box<abforge_lake::Error>),
    /// The params API answered with an error or could not be reached.
    #[error("params API {url}: {message}")]
    Api {
        /// The URL called.
        url: String,
        /// What went wrong (the API's JSON error, or the connection error).
        message: String,
        /// Whether retrying may help (connection refused, timeout, 5xx).
        transient: bool,
    },
    /// Another writer holds the run (or the shard): `run X is being written by <holder>
    /// since <time> …` (the CLI exits with 2).
    #[error("{0}")]
    Busy(String),
    /// The writer's lease on the run (the lock named) was lost, to another writer or for want
    /// of renewal: its work was cancelled.
    #[error(
        "the lease {0} was lost (another writer took the run, or it could not be renewed in time); the step was cancelled"
    )]
    LeaseLost(String),
    /// Anything else (a task that panicked, an I/O error).
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Whether retrying may help: the store's transient errors (connections refused or
    /// dropped, timeouts, throttling), an API that is unreachable or answers 5xx, and the
    /// lake's (see [`abforge_lake::Error::is_transient`]).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Store(e) => e.is_transient(),
            Error::Api { transient, .. } => *transient,
            Error::Lake(e) => e.is_transient(),
            Error::Parquet { source, .. } => matches!(
                source,
                parquet::errors::ParquetError::External(e)
                    if e.downcast_ref::<object_store::Error>().is_some()
            ),
            _ => false,
        }
    }

    /// Whether the error is the user's to fix (the CLI exits with 2 rather than 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::Invalid(_)
                | Error::Usage(_)
                | Error::Blueprint(_)
                | Error::Busy(_)
        ) || matches!(self, Error::Analysis(e) if e.is_usage())
            || matches!(self, Error::Lake(e) if e.is_usage())
    }

    /// The setting or argument that is not allowed, if that is the error.
    pub fn invalid(&self) -> Option<&abforge_env::Invalid> {
        match self {
            Error::Invalid(i) => Some(i),
            Error::Analysis(e) => e.invalid(),
            _ => None,
        }
    }
}

impl From<abforge_lake::Error> for Error {
    fn from(e: abforge_lake::Error) -> Self {
        Error::Lake(Box::new(e))
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
