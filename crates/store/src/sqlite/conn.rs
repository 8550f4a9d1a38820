//! What the SQLite relational store and the SQLite run log share: opening a connection to
//! the file with the same settings (they may share one file).

use crate::error::{Error, Result};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a call waits for another connection's write lock before failing (transient).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The page size of a new database file, in bytes.
const PAGE_SIZE: i64 = 16_384;

/// Opens `path` (creating it and its folders) in WAL mode with `synchronous = NORMAL` and
/// the busy timeout.
///
/// Switching a fresh file to WAL needs it to itself: when another connection opens the same
/// file at that moment, SQLite answers `SQLITE_BUSY` at once (its busy handler does not
/// cover a journal-mode change), so the switch is retried until [`BUSY_TIMEOUT`].
pub(crate) fn connect(path: &Path) -> Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            Error::service(
                "sqlite",
                format!("create the folder {}", parent.display()),
                e.to_string(),
                false,
            )
        })?;
    }
    let op = |what: &str| format!("{what} {}", path.display());
    let conn = Connection::open(path).map_err(|e| Error::sqlite(op("open"), &e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| Error::sqlite(op("configure"), &e))?;
    // 16 KiB pages for a new file (a file that has tables keeps its own): a load of 10^7
    // customers touches a quarter as many B-tree pages as with the default 4 KiB.
    conn.pragma_update(None, "page_size", PAGE_SIZE)
        .map_err(|e| Error::sqlite(op("configure"), &e))?;
    let started = Instant::now();
    let mode: String = loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)) {
            Ok(mode) => break mode,
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(Error::sqlite(op("set WAL mode on"), &e)),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::service(
            "sqlite",
            op("set WAL mode on"),
            format!("the journal mode stayed {mode}"),
            false,
        ));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| Error::sqlite(op("configure"), &e))?;
    Ok(conn)
}
