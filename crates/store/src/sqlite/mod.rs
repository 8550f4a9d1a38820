//! The SQLite backend (cargo feature `sqlite`, bundled SQLite): the relational store
//! ([`SqliteStore`]) and the run log ([`SqliteRunLog`]), by default in one file of the data
//! folder, each touching only its own tables and its rows of `abforge_migrations`.

mod conn;
mod migrate;
pub mod relational;
pub mod runlog;

pub use relational::SqliteStore;
pub use runlog::SqliteRunLog;

use crate::Error;

impl Error {
    /// A SQLite error as an [`Error::Service`] (transient for SQLITE_BUSY and SQLITE_LOCKED).
    pub(crate) fn sqlite(op: impl Into<String>, e: &rusqlite::Error) -> Error {
        Error::service("sqlite", op, e.to_string(), sqlite_transient(e))
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
