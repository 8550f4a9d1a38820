//! Library errors as Python exceptions: an invalid blueprint is `BlueprintError` (a
//! `ValueError`) carrying every problem with its path, other bad input `ValueError` naming
//! the parameter, a file that cannot be read `OSError`, an interruption
//! `KeyboardInterrupt`, anything else `RuntimeError`.

use abforge_env::Invalid;
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;

pyo3::create_exception!(
    abforge,
    BlueprintError,
    PyValueError,
    "A blueprint that is not valid. `problems` lists every problem found, in document \
     order, as `(path, message)` pairs: `path` is the dotted path of the field \
     (`metrics.items.control.lambda`; empty for the document as a whole)."
);

/// The Python parameter a library field is passed as, where the names differ.
fn parameter(field: &str) -> &str {
    match field {
        "group_column" => "group",
        "cluster_column" => "cluster",
        "input" => "data",
        "methods" => "tests",
        "bootstrap_resamples" => "bootstrap",
        "permutation_resamples" => "permutations",
        other => other,
    }
}

/// `text` with `invalid`'s field shown as the Python parameter it came from.
fn with_parameter(text: String, invalid: Option<&Invalid>) -> String {
    match invalid {
        Some(i) => {
            let name = parameter(i.field);
            text.replacen(&i.to_string(), &i.display_as(name).to_string(), 1)
        }
        None => text,
    }
}

/// A synth error (parsing, validating or resolving a blueprint, generating).
pub fn synth(py: Python<'_>, e: abforge_synth::Error) -> PyErr {
    use abforge_synth::Error;
    match e {
        Error::Invalid(ref problems) => {
            let err = BlueprintError::new_err(e.to_string());
            let pairs: Vec<(String, String)> = problems
                .0
                .iter()
                .map(|p| (p.path.clone(), p.message.clone()))
                .collect();
            let set =
                PyList::new(py, pairs).and_then(|list| err.value(py).setattr("problems", list));
            match set {
                Ok(()) => err,
                Err(other) => other,
            }
        }
        Error::Usage(msg) => PyValueError::new_err(msg),
        Error::Cancelled => PyKeyboardInterrupt::new_err("interrupted"),
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// An analysis error: bad input is `ValueError` naming the parameter.
pub fn analysis(e: abforge_analysis::Error) -> PyErr {
    if e.is_usage() {
        let invalid = e.invalid().cloned();
        PyValueError::new_err(with_parameter(e.to_string(), invalid.as_ref()))
    } else {
        PyRuntimeError::new_err(e.to_string())
    }
}

/// A lab error: an invalid blueprint is `BlueprintError`, another bad input `ValueError`.
pub fn lab(py: Python<'_>, e: abforge_lab::Error) -> PyErr {
    match e {
        abforge_lab::Error::Blueprint(inner) => synth(py, inner),
        e if e.is_user_error() => PyValueError::new_err(with_parameter(e.to_string(), e.invalid())),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// A value that is not one of `allowed`.
pub fn not_one_of(param: &str, value: &str, allowed: &[&str]) -> PyErr {
    PyValueError::new_err(format!(
        "{param} {value:?}: expected one of {}",
        allowed
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
