//! The lake's error type.

use crate::gate::GateReport;
use deltalake::kernel::transaction::TransactionError;

/// Errors of the lakehouse. [`Error::is_transient`] tells which a retry may cure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request that cannot be carried out as asked: an unknown table, a layer whose input
    /// is missing (the CLI exits with 2).
    #[error("{0}")]
    Usage(String),
    /// The silver quality gate failed: more rows than allowed broke a rule.
    #[error("{0}")]
    Gate(Box<GateReport>),
    /// A Delta Lake operation failed.
    #[error("{op}: {source}")]
    Delta {
        /// What was being done.
        op: String,
        /// The underlying error.
        #[source]
        source: deltalake::DeltaTableError,
    },
    /// A SQL transform or query failed.
    #[error("{op}: {source}")]
    Sql {
        /// What was being done.
        op: String,
        /// The underlying error.
        #[source]
        source: deltalake::datafusion::error::DataFusionError,
    },
    /// The relational store failed.
    #[error(transparent)]
    Store(#[from] abforge_store::Error),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub(crate) fn delta(op: impl Into<String>) -> impl FnOnce(deltalake::DeltaTableError) -> Error {
        let op = op.into();
        move |source| Error::Delta { op, source }
    }

    pub(crate) fn sql(
        op: impl Into<String>,
    ) -> impl FnOnce(deltalake::datafusion::error::DataFusionError) -> Error {
        let op = op.into();
        move |source| Error::Sql { op, source }
    }

    /// Whether retrying may help: the relational store's transient errors and object store
    /// errors other than a missing or refused object (connections, timeouts, throttling),
    /// wherever they sit in the chain of sources; a commit that lost a race with another
    /// writer.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Usage(_) | Error::Gate(_) | Error::Other(_) => false,
            Error::Store(e) => e.is_transient(),
            Error::Delta {
                source: deltalake::DeltaTableError::Transaction { source },
                ..
            } => matches!(
                source,
                TransactionError::CommitConflict(_)
                    | TransactionError::VersionAlreadyExists(_)
                    | TransactionError::MaxCommitAttempts(_)
                    | TransactionError::ObjectStore { .. }
            ),
            Error::Delta { source, .. } => chain_is_transient(source),
            Error::Sql { source, .. } => chain_is_transient(source),
        }
    }

    /// Whether the error is the user's to fix (the CLI exits with 2 rather than 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

/// Walks the sources of `e` for a store or object store error that a retry may cure.
fn chain_is_transient(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(s) = err.downcast_ref::<abforge_store::Error>() {
            return s.is_transient();
        }
        if let Some(o) = err.downcast_ref::<object_store::Error>() {
            // Connections refused or dropped, timeouts, throttling and 5xx answers are
            // `Generic`; a missing object, a bad path or a refused write are not transient.
            return matches!(
                o,
                object_store::Error::Generic { .. } | object_store::Error::JoinError { .. }
            );
        }
        cur = err.source();
    }
    false
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
