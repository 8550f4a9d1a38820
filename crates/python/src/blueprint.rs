//! `abforge.Blueprint`: a validated blueprint (synth's), its resolution and truth, and its
//! customers generated as Arrow record batches handed to pyarrow without a copy.

use crate::{errors, interrupt};
use abforge_synth::generate::WINDOW_CHUNKS;
use abforge_synth::{Generator, NoReporter, Shard};
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3_arrow::{PyRecordBatchReader, PyTable};
use rayon::prelude::*;
use std::collections::VecDeque;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// An A/B experiment's blueprint: its groups, attributes and the law of every metric in
/// every group. Validated when made; every problem found raises one `BlueprintError`.
///
/// Make one with `Blueprint.from_toml(path_or_text)` or `Blueprint.from_dict(d)` (the
/// structure of the TOML format, as `to_dict()` gives it).
#[pyclass(module = "abforge", frozen)]
#[derive(Debug)]
pub struct Blueprint {
    bp: abforge_synth::Blueprint,
    /// The generator of the resolved blueprint, made on first use (resolving computes the
    /// truth, which can take a while).
    generator: OnceLock<Arc<Generator>>,
}

impl Blueprint {
    fn new(bp: abforge_synth::Blueprint) -> Self {
        Blueprint {
            bp,
            generator: OnceLock::new(),
        }
    }

    /// The synth blueprint.
    pub fn inner(&self) -> &abforge_synth::Blueprint {
        &self.bp
    }

    /// The generator of this blueprint, resolved (once) with the GIL released.
    pub fn generator(&self, py: Python<'_>) -> PyResult<Arc<Generator>> {
        if let Some(g) = self.generator.get() {
            return Ok(Arc::clone(g));
        }
        let g = resolve(py, self.bp.clone())?;
        Ok(Arc::clone(self.generator.get_or_init(|| g)))
    }

    /// The resolved blueprint, with `customers` and `seed` in place of its own when given.
    fn generator_with(
        &self,
        py: Python<'_>,
        customers: Option<u64>,
        seed: Option<u64>,
    ) -> PyResult<Arc<Generator>> {
        if customers.is_none() && seed.is_none() {
            return self.generator(py);
        }
        resolve(py, with_overrides(py, &self.bp, customers, seed)?)
    }
}

/// Resolves `bp` (its choices, its truth) with the GIL released; Ctrl-C stops it.
fn resolve(py: Python<'_>, bp: abforge_synth::Blueprint) -> PyResult<Arc<Generator>> {
    interrupt::run(py, move |cancel| {
        bp.resolve_cancellable(&cancel)
            .map(|r| Arc::new(Generator::new(r)))
    })?
    .map_err(|e| errors::synth(py, e))
}

/// `bp` with another customer count and seed, validated as the blueprint's own would be.
pub fn with_overrides(
    py: Python<'_>,
    bp: &abforge_synth::Blueprint,
    customers: Option<u64>,
    seed: Option<u64>,
) -> PyResult<abforge_synth::Blueprint> {
    let mut v = bp.to_json_value();
    if let Some(n) = customers {
        v["customers"] = n.into();
    }
    if let Some(s) = seed {
        v["seed"] = s.into();
    }
    abforge_synth::Blueprint::from_value(&v).map_err(|e| errors::synth(py, e))
}

/// A shard given as `"K/N"` or `(K, N)`.
fn shard(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Shard>> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    let text = if let Ok(s) = v.cast::<PyString>() {
        s.to_str()?.to_string()
    } else if let Ok((k, n)) = v.extract::<(u64, u64)>() {
        format!("{k}/{n}")
    } else {
        return Err(PyTypeError::new_err(
            "shard: expected \"K/N\" or a pair (K, N) with 0 <= K < N",
        ));
    };
    text.parse::<Shard>()
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("shard: {e}")))
}

/// A Python object as JSON text, through the standard library's `json` (dates and other
/// objects as their `str`).
pub fn to_json_text(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let json = py.import("json")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("default", py.get_type::<PyString>())?;
    json.getattr("dumps")?
        .call((obj,), Some(&kwargs))?
        .extract::<String>()
}

/// JSON text as Python objects, through the standard library's `json`.
pub fn from_json_text<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.getattr("loads")?.call1((text,))
}

/// A JSON value as Python objects.
pub fn json_to_py<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| PyValueError::new_err(format!("cannot serialise: {e}")))?;
    from_json_text(py, &text)
}

#[pymethods]
impl Blueprint {
    /// Reads and validates a TOML blueprint: `source` is a path (`str` or `os.PathLike`; a
    /// file whose name ends in `.json` is read as JSON) or the TOML text itself (a `str`
    /// that is neither an existing file nor a name ending in `.toml` or `.json`).
    ///
    /// Raises `BlueprintError` listing every problem, `OSError` when the file cannot be read.
    #[staticmethod]
    fn from_toml(py: Python<'_>, source: &Bound<'_, PyAny>) -> PyResult<Self> {
        let parsed = if let Ok(s) = source.cast::<PyString>() {
            let text = s.to_str()?;
            let path = PathBuf::from(text);
            let named = [".toml", ".json"].iter().any(|e| text.ends_with(e));
            if !text.contains('\n') && (path.is_file() || named) {
                abforge_synth::Blueprint::from_path(path)
            } else {
                abforge_synth::Blueprint::from_toml(text)
            }
        } else if let Ok(path) = source.extract::<PathBuf>() {
            abforge_synth::Blueprint::from_path(path)
        } else {
            return Err(PyTypeError::new_err(format!(
                "from_toml: expected a path or the TOML text, not {}",
                source.get_type().name()?
            )));
        };
        parsed.map(Blueprint::new).map_err(|e| errors::synth(py, e))
    }

    /// Validates a blueprint given as a dict, in the structure of the TOML format (dates may
    /// be `datetime.date` or ISO text).
    ///
    /// Raises `BlueprintError` listing every problem.
    #[staticmethod]
    fn from_dict(py: Python<'_>, d: &Bound<'_, PyAny>) -> PyResult<Self> {
        if d.cast::<PyDict>().is_err() {
            return Err(PyTypeError::new_err(format!(
                "from_dict: expected a dict, not {}",
                d.get_type().name()?
            )));
        }
        let text = to_json_text(py, d)?;
        abforge_synth::Blueprint::from_json(&text)
            .map(Blueprint::new)
            .map_err(|e| errors::synth(py, e))
    }

    /// The blueprint as a dict, in the structure `from_dict` reads.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.bp.to_json_value())
    }

    /// The blueprint as TOML text, which `from_toml` reads back to an equal blueprint.
    fn to_toml(&self) -> String {
        self.bp.to_toml()
    }

    /// The resolved blueprint: every `choose` drawn from the seed, every lift made an
    /// explicit parameter. Resolving computes the truth (the GIL is released meanwhile).
    ///
    /// Raises `BlueprintError` when a lift asks for a mean its law cannot have, or the truth
    /// would exceed its limits.
    fn resolve(&self, py: Python<'_>) -> PyResult<Self> {
        let g = self.generator(py)?;
        let resolved = Blueprint::new(g.resolved().blueprint.clone());
        let _ = resolved.generator.set(g);
        Ok(resolved)
    }

    /// The ground truth, as a dict: the same document as `abforge truth --json` (true means,
    /// variances, quantiles and effects of every metric in every group, the allocation, the
    /// choices drawn and the resolved blueprint).
    fn truth<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let g = self.generator(py)?;
        json_to_py(py, &g.resolved().truth_json())
    }

    /// Generates the customers as a `pyarrow.Table` (one record batch per 65 536 rows),
    /// handed over without a copy. `customers` and `seed` replace the blueprint's; `shard`
    /// (`"K/N"` or `(K, N)`) generates only that part of the rows. The same blueprint and
    /// seed give the same rows, whatever the thread count or sharding. The schema's metadata
    /// holds the resolved blueprint, so `abforge.analyze` of the table judges its tests
    /// against the truth.
    ///
    /// The GIL is released while generating; Ctrl-C stops it between windows of 2^20 rows.
    #[pyo3(signature = (customers=None, seed=None, shard=None))]
    fn generate<'py>(
        &self,
        py: Python<'py>,
        customers: Option<u64>,
        seed: Option<u64>,
        shard: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shard = self::shard(shard)?;
        let g = self.generator_with(py, customers, seed)?;
        let (batches, schema) = interrupt::run(py, move |cancel| {
            let chunks = g.chunks(shard)?;
            let mut out = Vec::with_capacity((chunks.end - chunks.start) as usize);
            g.run(
                chunks,
                |b| {
                    if cancel.is_cancelled() {
                        return Err(abforge_synth::Error::Cancelled);
                    }
                    out.extend(b);
                    Ok(())
                },
                &NoReporter,
            )?;
            Ok((out, g.schema()))
        })?
        .map_err(|e| errors::synth(py, e))?;
        PyTable::try_new(batches, schema)?.into_pyarrow(py)
    }

    /// Generates the customers as a stream, a `pyarrow.RecordBatchReader` of 65 536-row
    /// batches drawn a window of 2^20 rows at a time as they are read (memory stays bounded
    /// whatever the customer count). Same parameters and rows as `generate`.
    #[pyo3(signature = (customers=None, seed=None, shard=None))]
    fn generate_batches<'py>(
        &self,
        py: Python<'py>,
        customers: Option<u64>,
        seed: Option<u64>,
        shard: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shard = self::shard(shard)?;
        let g = self.generator_with(py, customers, seed)?;
        let chunks = g.chunks(shard).map_err(|e| errors::synth(py, e))?;
        let stream = Stream {
            schema: g.schema(),
            generator: g,
            chunks,
            ready: VecDeque::new(),
        };
        PyRecordBatchReader::new(Box::new(stream)).into_pyarrow(py)
    }

    /// The experiment id.
    #[getter]
    fn id(&self) -> &str {
        &self.bp.id
    }

    /// The seed of every random draw.
    #[getter]
    fn seed(&self) -> u64 {
        self.bp.seed
    }

    /// Customers across all groups.
    #[getter]
    fn customers(&self) -> u64 {
        self.bp.customers
    }

    /// The control group's name.
    #[getter]
    fn control(&self) -> &str {
        &self.bp.control_group
    }

    /// The groups and their planned allocation weights, as `(name, weight)` pairs.
    #[getter]
    fn groups(&self) -> Vec<(String, f64)> {
        self.bp.groups.clone()
    }

    /// The metrics' names, in column order.
    #[getter]
    fn metrics(&self) -> Vec<String> {
        self.bp.metrics.iter().map(|m| m.name.clone()).collect()
    }

    /// The columns `generate` writes, in order.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.bp.column_names()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Blueprint>()
            .is_ok_and(|o| o.get().bp == self.bp)
    }

    fn __repr__(&self) -> String {
        format!(
            "Blueprint(id={:?}, seed={}, customers={}, groups={:?}, metrics={:?})",
            self.bp.id,
            self.bp.seed,
            self.bp.customers,
            self.bp.groups.iter().map(|g| &g.0).collect::<Vec<_>>(),
            self.metrics()
        )
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let from_toml = py.get_type::<Blueprint>().getattr("from_toml")?;
        (from_toml, (self.bp.to_toml(),)).into_pyobject(py)
    }
}

/// The batches of a range of chunks, generated a window at a time (in parallel within the
/// window) as they are read.
struct Stream {
    generator: Arc<Generator>,
    schema: SchemaRef,
    chunks: Range<u64>,
    ready: VecDeque<RecordBatch>,
}

impl Iterator for Stream {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() && self.chunks.start < self.chunks.end {
            let to = (self.chunks.start + WINDOW_CHUNKS).min(self.chunks.end);
            let g = &self.generator;
            let window: Vec<RecordBatch> = (self.chunks.start..to)
                .into_par_iter()
                .map(|c| g.chunk(c))
                .collect();
            self.ready.extend(window);
            self.chunks.start = to;
        }
        self.ready.pop_front().map(Ok)
    }
}

impl RecordBatchReader for Stream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
