//! The extension module `abforge._abforge` of the Python package `abforge` (distribution
//! `abforge-lab`): thin conversions between Python and abforge's libraries.
//!
//! * [`blueprint`]: `Blueprint` (synth's blueprint: parse, validate, resolve, truth) and its
//!   generator, whose Arrow record batches cross to pyarrow without a copy through the
//!   Arrow PyCapsule interface.
//! * [`analysis`]: `analyze` on any Arrow tabular data (`abforge_analysis`), and its result.
//! * [`lab`]: `calibrate` (`abforge_lab`) and `power` (`abforge_analysis::power`).
//! * [`errors`]: each library error as the Python exception a caller expects.
//! * [`interrupt`]: long calls run with the GIL released, stopped by Ctrl-C.
//!
//! The Python side (`python/abforge/__init__.py`) adds only the conversion of pandas and
//! polars frames to Arrow and of results to pandas.

mod analysis;
mod blueprint;
mod errors;
mod interrupt;
mod lab;

use pyo3::prelude::*;

/// The compiled core of the `abforge` package.
#[pymodule]
fn _abforge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("BlueprintError", py.get_type::<errors::BlueprintError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<blueprint::Blueprint>()?;
    m.add_class::<analysis::Analysis>()?;
    m.add_class::<lab::Calibration>()?;
    m.add_function(wrap_pyfunction!(analysis::analyze, m)?)?;
    m.add_function(wrap_pyfunction!(lab::calibrate, m)?)?;
    m.add_function(wrap_pyfunction!(lab::power, m)?)?;
    Ok(())
}
