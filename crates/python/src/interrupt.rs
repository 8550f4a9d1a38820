//! Long calls: the work runs on a thread of its own with the GIL released, while the
//! calling thread waits in short slices and checks for signals between them, so other
//! Python threads run meanwhile and Ctrl-C interrupts the call. On a signal the work's
//! [`Cancel`] is set (the generator and the lab stop at their next check) and the
//! signal's exception (`KeyboardInterrupt`) is raised at once.

use abforge_synth::Cancel;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::sync::mpsc;
use std::time::Duration;

/// How long the caller waits between two checks for signals.
const SLICE: Duration = Duration::from_millis(50);

/// Runs `work` (given `cancel`, which is set when a signal arrives) and returns its result.
///
/// # Errors
/// The signal's exception when one arrives first; `RuntimeError` if the work panicked.
pub fn run<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce(Cancel) -> T + Send + 'static,
{
    let cancel = Cancel::new();
    let (tx, rx) = mpsc::channel();
    let worker_cancel = cancel.clone();
    let worker = std::thread::Builder::new()
        .name("abforge".into())
        .spawn(move || {
            // The receiver is gone only after an interruption: the result is not wanted.
            let _ = tx.send(work(worker_cancel));
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    let mut rx = rx;
    loop {
        // The receiver moves into the GIL-free closure and back (it is `Send`, not `Sync`).
        let (got, back) = py.detach(move || (rx.recv_timeout(SLICE), rx));
        rx = back;
        match got {
            Ok(out) => return Ok(out),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let why = worker.join().err().map_or_else(
                    || "the worker stopped without a result".to_string(),
                    |p| panic_message(p.as_ref()),
                );
                return Err(PyRuntimeError::new_err(format!("internal error: {why}")));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(signal) = py.check_signals() {
                    cancel.cancel();
                    return Err(signal);
                }
            }
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
