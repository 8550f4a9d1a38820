//! The PostgreSQL backend (cargo feature `postgres`): the relational store
//! ([`PostgresStore`]) and the run log ([`PostgresRunLog`]) in the database a `postgres://`
//! URL names, every connection over TLS as libpq's `sslmode` says ([`conn`]).

pub mod conn;
mod migrate;
pub mod relational;
pub mod runlog;

pub use conn::{PgConnector, SslMode, connect};
pub use relational::PostgresStore;
pub use runlog::PostgresRunLog;

use crate::Error;

impl Error {
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
