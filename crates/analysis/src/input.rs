//! An experiment's data: a Parquet or CSV file, or Arrow record batches → the values of each
//! metric, split by group ([`Dataset`]).
//!
//! Parquet row groups are decoded in parallel (one reader per row group, sharing the parsed
//! footer), projected on the group and metric columns only. Record batches handed over by a
//! caller (say, read from a database) go through the same per-batch code, in parallel runs
//! of consecutive batches. CSV is read with the `csv` crate, so every bad value is reported
//! with its line and column.
//!
//! Which columns are metrics ([`Columns`]): those named in [`Columns::metrics`], else every
//! numeric column except the group column, ids (`id`, `*_id`) and the pre-period covariates
//! (`pre_<metric>`) of a metric that is present (those are read as extra columns, for
//! CUPED). In Arrow data (Parquet, batches) a column is numeric by its type (integers,
//! floats, decimals, booleans). In a CSV file a column is numeric when its first row parses
//! as a number; after that, a value that does not parse is an error naming its line.
//!
//! The group column may hold text (`Utf8`, `LargeUtf8`, a dictionary of text, as
//! `abforge generate` writes it) or anything Arrow casts to text. Groups are numbered in
//! order of first appearance, whatever the encoding.

use crate::error::{Error, Result, usage};
use abforge_synth::Blueprint;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use rayon::prelude::*;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Which columns to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// Name of the column holding the group label.
    pub group_column: String,
    /// Metric columns to read; empty means every numeric column but the group column, ids
    /// (`id`, `*_id`) and `pre_<metric>` covariates.
    pub metrics: Vec<String>,
    /// Further numeric columns to read (e.g. the parts of a ratio metric), after the metrics.
    pub extra: Vec<String>,
}

impl Columns {
    /// Every metric, grouped by `group_column`, no extra column.
    pub fn new(group_column: impl Into<String>) -> Self {
        Columns {
            group_column: group_column.into(),
            metrics: Vec::new(),
            extra: Vec::new(),
        }
    }
}

impl Default for Columns {
    /// Every metric, grouped by the column `group`.
    fn default() -> Self {
        Columns::new("group")
    }
}

/// One metric's values, split by group (indexes into [`Dataset::labels`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricData {
    /// Column name.
    pub name: String,
    /// Values per group, in row order.
    pub by_group: Vec<Vec<f64>>,
}

/// The data of one experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Group labels in order of first appearance.
    pub labels: Vec<String>,
    /// Rows per group.
    pub counts: Vec<u64>,
    /// The columns read: the metrics in column order, then the extra columns asked for
    /// that are not metrics (and the `pre_<metric>` covariates found).
    pub metrics: Vec<MetricData>,
    /// How many of [`Dataset::metrics`] are metrics (the rest are extra columns).
    pub analyzed: usize,
    /// The resolved blueprint of the experiment, when known: the one a file written by
    /// `abforge generate` carries in its metadata, or the one given to
    /// [`Dataset::from_batches`]. With it, [`analyze`](crate::analyze) judges each decision
    /// against the truth.
    pub blueprint: Option<Blueprint>,
}

impl Dataset {
    /// Index of a group label.
    pub fn group(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|l| l == label)
    }

    /// Total number of rows.
    pub fn rows(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// A column read, by name.
    pub fn column(&self, name: &str) -> Option<&MetricData> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The dataset of Arrow record batches, e.g. rows read from a database, selecting the
    /// columns as for a Parquet file (see [`Columns`]).
    ///
    /// * `label` names the data in messages (where a file's path would be).
    /// * `schema` is the batches' schema: it decides which columns are numeric, hence
    ///   metrics by default, and its metadata key `abforge.blueprint`
    ///   ([`abforge_synth::generate::META_BLUEPRINT`]), when present, gives the blueprint.
    ///   Each batch must hold the columns read, found by name; their types may differ from
    ///   the schema's as long as they cast to numbers.
    /// * `blueprint`, when given, is the experiment's resolved blueprint: it overrides the
    ///   schema's (batches read from a database carry no metadata).
    ///
    /// The group column may be `Utf8`, `LargeUtf8`, `Dictionary(Int16 | Int32, Utf8)` or
    /// anything Arrow casts to text; metrics any integer, float, decimal or boolean type.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use abforge_analysis::{Columns, Dataset};
    /// use arrow_array::{Float64Array, RecordBatch, StringArray};
    /// use arrow_schema::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("group", DataType::Utf8, false),
    ///     Field::new("revenue", DataType::Float64, false),
    /// ]));
    /// let batch = RecordBatch::try_new(
    ///     schema.clone(),
    ///     vec![
    ///         Arc::new(StringArray::from(vec!["control", "treatment", "control"])),
    ///         Arc::new(Float64Array::from(vec![1.0, 2.5, 3.0])),
    ///     ],
    /// )?;
    /// let ds = Dataset::from_batches("orders", &schema, [batch], &Columns::default(), None)?;
    /// assert_eq!(ds.labels, ["control", "treatment"]);
    /// assert_eq!(ds.column("revenue").unwrap().by_group, [vec![1.0, 3.0], vec![2.5]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Usage`] for a column that is not there or not numeric, a null or non-finite
    /// value, a group column that does not read as text, no rows at all; [`Error::Arrow`]
    /// for a batch without a column of the schema or a value that does not cast.
    pub fn from_batches<I>(
        label: &str,
        schema: &Schema,
        batches: I,
        columns: &Columns,
        blueprint: Option<Blueprint>,
    ) -> Result<Dataset>
    where
        I: IntoIterator,
        I::Item: Borrow<RecordBatch>,
    {
        let src = Source {
            label,
            cols: columns,
        };
        let (metrics, analyzed) = pick_columns(&src, &schema_columns(schema))?;
        let blueprint = blueprint.or_else(|| blueprint_of(schema));
        let batches: Vec<RecordBatch> = batches.into_iter().map(|b| b.borrow().clone()).collect();
        // Runs of consecutive batches of at least RUN_ROWS rows, decoded in parallel and
        // merged in order.
        const RUN_ROWS: usize = 64 * 1024;
        let mut runs: Vec<(u64, &[RecordBatch])> = Vec::new();
        let (mut start, mut rows, mut first_row) = (0, 0, 0u64);
        for (i, b) in batches.iter().enumerate() {
            rows += b.num_rows();
            if rows >= RUN_ROWS || i + 1 == batches.len() {
                runs.push((first_row, &batches[start..=i]));
                first_row += rows as u64;
                (start, rows) = (i + 1, 0);
            }
        }
        let parts: Vec<Partial> = runs
            .into_par_iter()
            .map(|(first_row, run)| -> Result<Partial> {
                let mut part = Partial::new(metrics.len());
                let mut row = first_row;
                for batch in run {
                    let s = batch.schema();
                    let group_pos = s.index_of(&columns.group_column)?;
                    let metric_pos: Vec<usize> = metrics
                        .iter()
                        .map(|m| s.index_of(m))
                        .collect::<Result<_, ArrowError>>()?;
                    part.add_batch(batch, group_pos, &metric_pos, &metrics, row, &src)?;
                    row += batch.num_rows() as u64;
                }
                Ok(part)
            })
            .collect::<Result<_>>()?;
        let ds = merge(parts, metrics, analyzed, blueprint);
        if ds.rows() == 0 {
            return Err(usage(format!("{label}: there are no rows")));
        }
        Ok(ds)
    }
}

/// What is read, for messages: the file or the data's label, and the columns.
#[derive(Debug, Clone, Copy)]
struct Source<'a> {
    /// The path displayed, or the label of batches.
    label: &'a str,
    cols: &'a Columns,
}

/// The file formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Parquet,
    Csv,
}

fn kind(path: &Path) -> Result<Kind> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("parquet" | "pq") => return Ok(Kind::Parquet),
        Some("csv") => return Ok(Kind::Csv),
        _ => {}
    }
    // No telling extension: Parquet files start with the magic bytes `PAR1`.
    let mut magic = [0u8; 4];
    let mut f = File::open(path)?;
    let n = f.read(&mut magic)?;
    Ok(if n == 4 && &magic == b"PAR1" {
        Kind::Parquet
    } else {
        Kind::Csv
    })
}

/// Reads the `columns` of a Parquet or CSV file (by its extension, else by its first bytes).
///
/// # Errors
/// [`Error::Usage`] for a missing file, an unknown column, a non-numeric or empty value, an
/// empty file; other variants for I/O failures.
pub fn read(path: &Path, columns: &Columns) -> Result<Dataset> {
    if !path.is_file() {
        return Err(usage(format!("--input {}: no such file", path.display())));
    }
    if std::fs::metadata(path)?.len() == 0 {
        return Err(usage(format!(
            "--input {}: the file is empty",
            path.display()
        )));
    }
    let label = path.display().to_string();
    let src = Source {
        label: &label,
        cols: columns,
    };
    let ds = match kind(path)? {
        Kind::Parquet => read_parquet(path, &src)?,
        Kind::Csv => read_csv(path, &src)?,
    };
    if ds.rows() == 0 {
        return Err(usage(format!(
            "--input {}: the file has no rows",
            path.display()
        )));
    }
    Ok(ds)
}

/// Whether a column is an id, never a metric by default.
fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("_id")
}

/// The columns to read: the metrics, then the extra columns not among them; and how many
/// are metrics.
fn pick_columns(src: &Source<'_>, columns: &[(String, bool)]) -> Result<(Vec<String>, usize)> {
    let mut read = pick_metrics(src, columns)?;
    let analyzed = read.len();
    for x in &src.cols.extra {
        match columns.iter().find(|(n, _)| n == x) {
            None => {
                return Err(usage(format!(
                    "--ratio: no column {x:?} in {}; the columns are {}",
                    src.label,
                    columns
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            Some((_, false)) => {
                return Err(usage(format!(
                    "--ratio: column {x:?} of {} is not numeric",
                    src.label
                )));
            }
            Some(_) if !read.contains(x) => read.push(x.clone()),
            Some(_) => {}
        }
    }
    // Each metric's pre-period covariate `pre_<metric>`, when numeric, for CUPED.
    for i in 0..analyzed {
        let pre = format!("pre_{}", read[i]);
        if columns.iter().any(|(n, num)| *n == pre && *num) && !read.contains(&pre) {
            read.push(pre);
        }
    }
    Ok((read, analyzed))
}

/// Picks the metric columns among `columns` (name, numeric?).
fn pick_metrics(src: &Source<'_>, columns: &[(String, bool)]) -> Result<Vec<String>> {
    let req = src.cols;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    // `Err(message)` for a column that is not there.
    let find = |name: &str| -> Result<(), String> {
        if names.contains(&name) {
            return Ok(());
        }
        let hint = names
            .iter()
            .map(|a| (strsim::levenshtein(name, a), a))
            .filter(|(d, a)| *d <= 2.max(a.len() / 4))
            .min_by_key(|(d, _)| *d)
            .map(|(_, s)| format!(" (did you mean {s:?}?)"))
            .unwrap_or_default();
        Err(format!(
            "--input {}: no column {name:?}{hint}; the columns are {}",
            src.label,
            names.join(", ")
        ))
    };
    find(&req.group_column).map_err(|e| usage(format!("--group-column: {e}")))?;
    if !req.metrics.is_empty() {
        for m in &req.metrics {
            find(m).map_err(|e| usage(format!("--metric: {e}")))?;
            if *m == req.group_column {
                return Err(usage(format!(
                    "--metric {m}: that is the group column (--group-column)"
                )));
            }
            let numeric = columns.iter().any(|(n, num)| n == m && *num);
            if !numeric {
                return Err(usage(format!(
                    "--metric {m}: column {m:?} of {} is not numeric",
                    src.label
                )));
            }
        }
        let mut seen = Vec::new();
        for m in &req.metrics {
            if !seen.contains(m) {
                seen.push(m.clone());
            }
        }
        return Ok(seen);
    }
    let numeric: Vec<&str> = columns
        .iter()
        .filter(|(n, num)| *num && *n != req.group_column && !is_id(n))
        .map(|(n, _)| n.as_str())
        .collect();
    let picked: Vec<String> = numeric
        .iter()
        .filter(|n| {
            n.strip_prefix("pre_")
                .is_none_or(|base| !numeric.contains(&base))
        })
        .map(|n| n.to_string())
        .collect();
    if picked.is_empty() {
        return Err(usage(format!(
            "--input {}: no numeric column to analyze besides the group and ids (columns: {})",
            src.label,
            names.join(", ")
        )));
    }
    Ok(picked)
}

// ---------------------------------------------------------------------------------------------
// Arrow: Parquet files and record batches

fn numeric_type(t: &DataType) -> bool {
    t.is_numeric() && !matches!(t, DataType::Decimal32(..) | DataType::Decimal64(..))
        || matches!(t, DataType::Boolean)
}

/// Every column of `schema`: (name, numeric?).
fn schema_columns(schema: &Schema) -> Vec<(String, bool)> {
    schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), numeric_type(f.data_type())))
        .collect()
}

/// The blueprint in the metadata of `schema`, if any (and readable).
fn blueprint_of(schema: &Schema) -> Option<Blueprint> {
    schema
        .metadata()
        .get(abforge_synth::generate::META_BLUEPRINT)
        .and_then(|json| Blueprint::from_json(json).ok())
}

fn read_parquet(path: &Path, src: &Source<'_>) -> Result<Dataset> {
    let meta = {
        let mut f = File::open(path)?;
        ArrowReaderMetadata::load(&f, Default::default()).map_err(|e| {
            // Not a Parquet file after all (e.g. a CSV named .parquet).
            let _ = f.read(&mut [0u8; 1]);
            usage(format!(
                "--input {}: not a readable Parquet file: {e}",
                path.display()
            ))
        })?
    };
    let schema = meta.schema().clone();
    let (metrics, analyzed) = pick_columns(src, &schema_columns(&schema))?;
    let blueprint = blueprint_of(&schema);
    let group_idx = schema.index_of(&src.cols.group_column)?;
    let metric_idx: Vec<usize> = metrics
        .iter()
        .map(|m| schema.index_of(m))
        .collect::<Result<_, _>>()?;
    let mut roots = vec![group_idx];
    roots.extend(&metric_idx);
    let mask = ProjectionMask::roots(meta.parquet_schema(), roots.iter().copied());
    // Position of each wanted column in the projected batches (projection keeps file order).
    let mut sorted = roots.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let pos = |i: usize| sorted.binary_search(&i).expect("projected");
    let group_pos = pos(group_idx);
    let metric_pos: Vec<usize> = metric_idx.iter().map(|&i| pos(i)).collect();

    let row_groups = meta.metadata().num_row_groups();
    let mut starts = Vec::with_capacity(row_groups);
    let mut row = 0u64;
    for rg in meta.metadata().row_groups() {
        starts.push(row);
        row += rg.num_rows() as u64;
    }
    let parts: Vec<Partial> = (0..row_groups)
        .into_par_iter()
        .map(|rg| -> Result<Partial> {
            let file = File::open(path)?;
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
                .with_row_groups(vec![rg])
                .with_projection(mask.clone())
                .with_batch_size(64 * 1024)
                .build()?;
            let mut part = Partial::new(metric_pos.len());
            let mut row = starts[rg];
            for batch in reader {
                let batch: RecordBatch = batch?;
                part.add_batch(&batch, group_pos, &metric_pos, &metrics, row, src)?;
                row += batch.num_rows() as u64;
            }
            Ok(part)
        })
        .collect::<Result<_>>()?;
    Ok(merge(parts, metrics, analyzed, blueprint))
}

/// What one row group (or run of batches) contributed: its own label numbering, merged
/// afterwards.
#[derive(Debug)]
struct Partial {
    labels: Vec<String>,
    counts: Vec<u64>,
    /// [metric][local group] → values.
    values: Vec<Vec<Vec<f64>>>,
}

impl Partial {
    fn new(metrics: usize) -> Self {
        Partial {
            labels: Vec::new(),
            counts: Vec::new(),
            values: vec![Vec::new(); metrics],
        }
    }

    fn label(&mut self, s: &str) -> usize {
        if let Some(i) = self.labels.iter().position(|l| l == s) {
            return i;
        }
        self.labels.push(s.to_string());
        self.counts.push(0);
        for m in &mut self.values {
            m.push(Vec::new());
        }
        self.labels.len() - 1
    }

    /// Adds the rows of `batch`, the first being row `first_row` (0-based) of the data.
    fn add_batch(
        &mut self,
        batch: &RecordBatch,
        group_pos: usize,
        metric_pos: &[usize],
        metrics: &[String],
        first_row: u64,
        src: &Source<'_>,
    ) -> Result<()> {
        let groups = self.group_indexes(batch.column(group_pos), first_row, src)?;
        for &g in &groups {
            self.counts[g] += 1;
        }
        for (m, (&p, name)) in metric_pos.iter().zip(metrics).enumerate() {
            let col = batch.column(p);
            if let Some(i) = first_null(col) {
                return Err(usage(format!(
                    "--input {}: column {name:?} is empty (null) at row {}",
                    src.label,
                    first_row + i as u64 + 1
                )));
            }
            let vals = to_f64(col)?;
            for (k, (&g, v)) in groups.iter().zip(vals.iter()).enumerate() {
                if !v.is_finite() {
                    return Err(usage(format!(
                        "--input {}: column {name:?} holds {v} at row {}; values must be finite numbers",
                        src.label,
                        first_row + k as u64 + 1
                    )));
                }
                self.values[m][g].push(*v);
            }
        }
        Ok(())
    }

    /// The local group index of every row.
    fn group_indexes(
        &mut self,
        col: &ArrayRef,
        first_row: u64,
        src: &Source<'_>,
    ) -> Result<Vec<usize>> {
        let group_column = &src.cols.group_column;
        if let Some(i) = first_null(col) {
            return Err(usage(format!(
                "--input {}: group column {group_column:?} is empty (null) at row {}",
                src.label,
                first_row + i as u64 + 1
            )));
        }
        if let DataType::Dictionary(_, _) = col.data_type() {
            // Map each (of the few) dictionary values once, when its key first appears, so
            // that groups are numbered in order of first appearance and a value no row
            // uses is no group.
            let dict = col.as_any_dictionary();
            let values = arrow_cast::cast(dict.values(), &DataType::Utf8)?;
            let values = values.as_string::<i32>();
            let mut map: Vec<Option<usize>> = vec![None; values.len()];
            let keys = arrow_cast::cast(dict.keys(), &DataType::UInt64)?;
            return Ok(keys
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .map(|&k| {
                    let k = k as usize;
                    *map[k].get_or_insert_with(|| self.label(values.value(k)))
                })
                .collect());
        }
        let strings = arrow_cast::cast(col, &DataType::Utf8).map_err(|e| {
            usage(format!(
                "--group-column {group_column}: cannot read it as text labels: {e}"
            ))
        })?;
        let strings = strings.as_string::<i32>();
        let mut cache: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::with_capacity(strings.len());
        for s in strings.iter() {
            let s = s.unwrap_or_default();
            let g = match cache.get(s) {
                Some(&g) => g,
                None => {
                    let g = self.label(s);
                    cache.insert(s, g);
                    g
                }
            };
            out.push(g);
        }
        Ok(out)
    }
}

fn first_null(col: &ArrayRef) -> Option<usize> {
    if col.null_count() == 0 {
        return None;
    }
    (0..col.len()).find(|&i| col.is_null(i))
}

/// A numeric Arrow column as `f64` values.
fn to_f64(col: &ArrayRef) -> Result<Vec<f64>, ArrowError> {
    macro_rules! prim {
        ($t:ty) => {
            col.as_primitive::<$t>()
                .values()
                .iter()
                .map(|&v| v as f64)
                .collect()
        };
    }
    Ok(match col.data_type() {
        DataType::Float64 => col.as_primitive::<Float64Type>().values().to_vec(),
        DataType::Float32 => prim!(Float32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int8 => prim!(Int8Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::Boolean => col
            .as_boolean()
            .iter()
            .map(|b| f64::from(u8::from(b.unwrap_or_default())))
            .collect(),
        _ => {
            let c = arrow_cast::cast(col, &DataType::Float64)?;
            c.as_primitive::<Float64Type>().values().to_vec()
        }
    })
}

/// Merges partials in row order into one numbering of labels.
fn merge(
    parts: Vec<Partial>,
    metrics: Vec<String>,
    analyzed: usize,
    blueprint: Option<Blueprint>,
) -> Dataset {
    let mut labels: Vec<String> = Vec::new();
    let maps: Vec<Vec<usize>> = parts
        .iter()
        .map(|p| {
            p.labels
                .iter()
                .map(|l| match labels.iter().position(|x| x == l) {
                    Some(i) => i,
                    None => {
                        labels.push(l.clone());
                        labels.len() - 1
                    }
                })
                .collect()
        })
        .collect();
    let g = labels.len();
    let mut counts = vec![0u64; g];
    for (p, map) in parts.iter().zip(&maps) {
        for (local, &n) in p.counts.iter().enumerate() {
            counts[map[local]] += n;
        }
    }
    // Concatenate per metric, in parallel across metrics.
    let mut per_metric: Vec<Vec<Vec<Vec<f64>>>> = vec![Vec::new(); metrics.len()];
    for p in parts {
        for (m, v) in p.values.into_iter().enumerate() {
            per_metric[m].push(v);
        }
    }
    let merged: Vec<MetricData> = per_metric
        .into_par_iter()
        .zip(metrics)
        .map(|(chunks, name)| {
            let mut by_group: Vec<Vec<f64>> = (0..g)
                .map(|k| Vec::with_capacity(counts[k] as usize))
                .collect();
            for (chunk, map) in chunks.into_iter().zip(&maps) {
                for (local, vals) in chunk.into_iter().enumerate() {
                    by_group[map[local]].extend_from_slice(&vals);
                }
            }
            MetricData { name, by_group }
        })
        .collect();
    Dataset {
        labels,
        counts,
        metrics: merged,
        analyzed,
        blueprint,
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

fn read_csv(path: &Path, src: &Source<'_>) -> Result<Dataset> {
    let req = src.cols;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| usage(format!("--input {}: {e}", path.display())))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(usage(format!("--input {}: no header line", path.display())));
    }
    let mut records = rdr.records();
    let first = match records.next() {
        None => {
            return Err(usage(format!(
                "--input {}: the file has a header but no rows",
                path.display()
            )));
        }
        Some(r) => r.map_err(|e| csv_error(path, e))?,
    };
    let columns: Vec<(String, bool)> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let numeric = first.get(i).is_some_and(|v| v.parse::<f64>().is_ok());
            (h.clone(), numeric)
        })
        .collect();
    // An explicitly named metric whose first value is not a number: name the line.
    for m in req.metrics.iter().chain(&req.extra) {
        if let Some(i) = header.iter().position(|h| h == m) {
            check_number(path, &first, i, m)?;
        }
    }
    let (metrics, analyzed) = pick_columns(src, &columns)?;
    let gi = header
        .iter()
        .position(|h| *h == req.group_column)
        .expect("checked");
    let mi: Vec<usize> = metrics
        .iter()
        .map(|m| header.iter().position(|h| h == m).expect("checked"))
        .collect();
    let mut part = Partial::new(metrics.len());
    let mut add = |rec: &csv::StringRecord| -> Result<()> {
        let label = rec.get(gi).unwrap_or_default();
        if label.is_empty() {
            return Err(usage(format!(
                "--input {}: line {}: the group column {:?} is empty",
                path.display(),
                line(rec),
                req.group_column
            )));
        }
        let g = part.label(label);
        part.counts[g] += 1;
        for (m, (&i, name)) in mi.iter().zip(&metrics).enumerate() {
            let v = check_number(path, rec, i, name)?;
            part.values[m][g].push(v);
        }
        Ok(())
    };
    add(&first)?;
    for rec in records {
        add(&rec.map_err(|e| csv_error(path, e))?)?;
    }
    Ok(merge(vec![part], metrics, analyzed, None))
}

fn line(rec: &csv::StringRecord) -> u64 {
    rec.position().map_or(0, csv::Position::line)
}

fn check_number(path: &Path, rec: &csv::StringRecord, i: usize, name: &str) -> Result<f64> {
    let raw = rec.get(i).unwrap_or_default();
    if raw.is_empty() {
        return Err(usage(format!(
            "--input {}: line {}: column {name:?} is empty; expected a number",
            path.display(),
            line(rec)
        )));
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(usage(format!(
            "--input {}: line {}: column {name:?} holds {raw:?}, which is not a finite number",
            path.display(),
            line(rec)
        ))),
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::Io(_) => Error::Csv(e).context(path.display().to_string()),
        _ => usage(format!("--input {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray,
        StringArray,
    };
    use arrow_schema::Field;
    use std::io::Write;
    use std::sync::Arc;

    fn csv_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn cols(metrics: &[&str]) -> Columns {
        Columns {
            metrics: metrics.iter().map(|s| s.to_string()).collect(),
            ..Columns::default()
        }
    }

    fn message(e: Error) -> String {
        assert!(e.is_usage(), "not bad input: {e}");
        e.to_string()
    }

    #[test]
    fn two_column_csv_splits_by_group_in_order_of_appearance() {
        let f = csv_file("group,value\ntreatment,1.5\ncontrol,2\ntreatment,3\n");
        let ds = read(f.path(), &cols(&[])).unwrap();
        assert_eq!(ds.labels, ["treatment", "control"]);
        assert_eq!(ds.counts, [2, 1]);
        assert_eq!(ds.metrics.len(), 1);
        assert_eq!(ds.metrics[0].by_group, vec![vec![1.5, 3.0], vec![2.0]]);
    }

    #[test]
    fn ids_text_and_covariates_are_not_metrics_by_default() {
        let f = csv_file(
            "customer_id,group,region,spend,pre_spend,pre_other\n1,control,eu,1,2,3\n2,treatment,us,4,5,6\n",
        );
        let ds = read(f.path(), &cols(&[])).unwrap();
        let names: Vec<&str> = ds.metrics[..ds.analyzed]
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["spend", "pre_other"]);
        // spend's covariate is read too, as an extra column, for CUPED.
        assert_eq!(
            ds.column("pre_spend").unwrap().by_group,
            vec![vec![2.0], vec![5.0]]
        );
    }

    #[test]
    fn a_bad_value_names_its_line_and_column() {
        let f = csv_file("group,value\ncontrol,1\ntreatment,abc\n");
        let m = message(read(f.path(), &cols(&[])).unwrap_err());
        assert!(
            m.contains("line 3") && m.contains("\"value\"") && m.contains("abc"),
            "{m}"
        );
        let f = csv_file("group,value\ncontrol,1\ntreatment,\n");
        let m = message(read(f.path(), &cols(&["value"])).unwrap_err());
        assert!(m.contains("line 3") && m.contains("empty"), "{m}");
    }

    #[test]
    fn missing_columns_and_files_are_bad_input() {
        let f = csv_file("group,value\ncontrol,1\n");
        let m = message(read(f.path(), &cols(&["valeu"])).unwrap_err());
        assert!(m.starts_with("--metric: --input "), "{m}");
        assert!(m.contains("did you mean \"value\""), "{m}");
        let r = Columns::new("arm");
        let m = message(read(f.path(), &r).unwrap_err());
        assert!(m.contains("no column \"arm\""), "{m}");
        let m = message(read(Path::new("/nonexistent/x.csv"), &cols(&[])).unwrap_err());
        assert!(m.contains("no such file"), "{m}");
        let f = csv_file("");
        assert!(message(read(f.path(), &cols(&[])).unwrap_err()).contains("empty"));
        let f = csv_file("group,value\n");
        assert!(message(read(f.path(), &cols(&[])).unwrap_err()).contains("no rows"));
        let f = csv_file("group,region\ncontrol,eu\n");
        assert!(message(read(f.path(), &cols(&[])).unwrap_err()).contains("no numeric column"));
        let f = csv_file("group,region\ncontrol,eu\n");
        assert!(message(read(f.path(), &cols(&["region"])).unwrap_err()).contains("not a finite"));
    }

    #[test]
    fn parquet_from_the_generator_reads_back_exactly() {
        let bp = Blueprint::from_toml(
            r#"
            id = "t"
            seed = 1
            customers = 150000
            start_date = 2026-01-05
            days = 7
            [groups]
            control = 1
            treatment = 1
            [metrics.items]
            distribution = "poisson"
            control = { lambda = 2 }
            treatment = { lambda = 3 }
            "#,
        )
        .unwrap();
        let generator = abforge_synth::Generator::new(bp.resolve().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        let file = File::create(&path).unwrap();
        let mut w = abforge_synth::BatchWriter::new(
            file,
            abforge_synth::Format::Parquet,
            generator.schema(),
        )
        .unwrap();
        let mut expect: HashMap<String, Vec<f64>> = HashMap::new();
        let mut all = Vec::new();
        // Two windows, so two row groups are read in parallel and merged in order.
        let chunks: Vec<u64> = generator.chunks(None).unwrap().collect();
        for window in chunks.chunks(2) {
            let batches: Vec<RecordBatch> = window.iter().map(|&c| generator.chunk(c)).collect();
            for b in &batches {
                let g = arrow_cast::cast(b.column(2), &DataType::Utf8).unwrap();
                let v = to_f64(b.column_by_name("items").unwrap()).unwrap();
                for (label, x) in g.as_string::<i32>().iter().zip(v) {
                    expect
                        .entry(label.unwrap().to_string())
                        .or_default()
                        .push(x);
                }
            }
            w.write(&batches).unwrap();
            all.extend(batches);
        }
        w.finish().unwrap();
        let ds = read(&path, &cols(&[])).unwrap();
        assert!(ds.blueprint.is_some());
        assert_eq!(ds.metrics.len(), 1);
        assert_eq!(ds.rows(), 150_000);
        for (g, label) in ds.labels.iter().enumerate() {
            assert_eq!(ds.metrics[0].by_group[g], expect[label], "{label}");
            assert_eq!(ds.counts[g] as usize, expect[label].len());
        }
        // The same batches in memory (Dictionary(Int16, Utf8) groups, Int64 items, the
        // blueprint in the schema's metadata) give the same dataset.
        let schema = generator.schema();
        let label = path.display().to_string();
        let mem = Dataset::from_batches(&label, &schema, &all, &cols(&[]), None).unwrap();
        assert_eq!(mem, ds);
    }

    /// A two-group table as batches: `group` in the given array type, `value` (Int64 or
    /// Float64) and `items` (Int32, Float32), with rows split over several batches.
    fn table(group: Vec<ArrayRef>, values: &[f64]) -> (Arc<Schema>, Vec<RecordBatch>) {
        let mut out = Vec::new();
        let mut at = 0;
        let mut schema = None;
        for g in group {
            let n = g.len();
            let v = &values[at..at + n];
            at += n;
            let s = Arc::new(Schema::new(vec![
                Field::new("customer_id", DataType::Int64, false),
                Field::new("group", g.data_type().clone(), false),
                Field::new("value", DataType::Float64, false),
                Field::new("items", DataType::Int64, false),
                Field::new("clicks", DataType::Int32, false),
                Field::new("score", DataType::Float32, false),
            ]));
            let b = RecordBatch::try_new(
                s.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(0..n as i64)),
                    g,
                    Arc::new(Float64Array::from(v.to_vec())),
                    Arc::new(Int64Array::from_iter_values(v.iter().map(|x| *x as i64))),
                    Arc::new(Int32Array::from_iter_values(
                        v.iter().map(|x| 2 * *x as i32),
                    )),
                    Arc::new(Float32Array::from_iter_values(v.iter().map(|x| *x as f32))),
                ],
            )
            .unwrap();
            schema = Some(s);
            out.push(b);
        }
        (schema.unwrap(), out)
    }

    const VALUES: [f64; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];

    fn check(ds: &Dataset) {
        assert_eq!(ds.labels, ["control", "treatment"]);
        assert_eq!(ds.counts, [3, 3]);
        let names: Vec<&str> = ds.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["value", "items", "clicks", "score"],
            "ids are not metrics"
        );
        assert_eq!(ds.analyzed, 4);
        let want = vec![vec![1.0, 3.0, 4.0], vec![2.0, 5.0, 6.0]];
        assert_eq!(ds.column("value").unwrap().by_group, want);
        assert_eq!(ds.column("items").unwrap().by_group, want);
        assert_eq!(ds.column("score").unwrap().by_group, want);
        assert_eq!(
            ds.column("clicks").unwrap().by_group,
            vec![vec![2.0, 6.0, 8.0], vec![4.0, 10.0, 12.0]]
        );
    }

    #[test]
    fn batches_with_text_group_labels() {
        let (schema, batches) = table(
            vec![
                Arc::new(StringArray::from(vec!["control", "treatment"])),
                Arc::new(StringArray::from(vec!["control", "control", "treatment"])),
                Arc::new(StringArray::from(vec!["treatment"])),
            ],
            &VALUES,
        );
        let ds = Dataset::from_batches("t", &schema, batches, &Columns::default(), None).unwrap();
        check(&ds);
        assert!(ds.blueprint.is_none());
        let (schema, batches) = table(
            vec![Arc::new(LargeStringArray::from(vec![
                "control",
                "treatment",
                "control",
                "control",
                "treatment",
                "treatment",
            ]))],
            &VALUES,
        );
        check(&Dataset::from_batches("t", &schema, &batches, &Columns::default(), None).unwrap());
    }

    #[test]
    fn batches_with_dictionary_group_labels() {
        // Dictionaries listing the groups in another order than they appear, and a value
        // no row uses: groups are numbered in order of first appearance, the unused value
        // is none.
        let i16_dict = DictionaryArray::<Int16Type>::try_new(
            arrow_array::Int16Array::from(vec![2, 1, 2]),
            Arc::new(StringArray::from(vec!["other", "treatment", "control"])),
        )
        .unwrap();
        let i32_dict = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![1, 0, 0]),
            Arc::new(StringArray::from(vec!["treatment", "control"])),
        )
        .unwrap();
        let (schema, batches) = table(vec![Arc::new(i16_dict), Arc::new(i32_dict)], &VALUES);
        check(&Dataset::from_batches("t", &schema, &batches, &Columns::default(), None).unwrap());
    }

    #[test]
    fn batches_select_columns_like_files() {
        let (schema, batches) = table(
            vec![Arc::new(StringArray::from(vec![
                "control",
                "treatment",
                "control",
                "control",
                "treatment",
                "treatment",
            ]))],
            &VALUES,
        );
        let columns = Columns {
            metrics: vec!["value".into()],
            extra: vec!["clicks".into(), "value".into()],
            ..Columns::default()
        };
        let ds = Dataset::from_batches("t", &schema, &batches, &columns, None).unwrap();
        let names: Vec<&str> = ds.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            (names.as_slice(), ds.analyzed),
            (&["value", "clicks"][..], 1)
        );
        let bad = |c: Columns| {
            message(Dataset::from_batches("t", &schema, &batches, &c, None).unwrap_err())
        };
        assert!(bad(Columns::new("arm")).contains("--input t: no column \"arm\""));
        assert!(bad(cols(&["valeu"])).contains("did you mean \"value\""));
        let extra = Columns {
            extra: vec!["nope".into()],
            ..Columns::default()
        };
        assert!(bad(extra).contains("--ratio: no column \"nope\" in t"));
        let none: [RecordBatch; 0] = [];
        let m = message(
            Dataset::from_batches("t", &schema, none, &Columns::default(), None).unwrap_err(),
        );
        assert_eq!(m, "t: there are no rows");
    }

    #[test]
    fn batches_with_nulls_or_non_finite_values_are_bad_input() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("group", DataType::Utf8, true),
            Field::new("value", DataType::Float64, true),
        ]));
        let batch = |g: Vec<Option<&str>>, v: Vec<Option<f64>>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(g)),
                    Arc::new(Float64Array::from(v)),
                ],
            )
            .unwrap()
        };
        let run = |b: RecordBatch| {
            message(
                Dataset::from_batches("t", &schema, [b], &Columns::default(), None).unwrap_err(),
            )
        };
        let m = run(batch(
            vec![Some("control"), None],
            vec![Some(1.0), Some(2.0)],
        ));
        assert!(
            m.contains("group column \"group\" is empty (null) at row 2"),
            "{m}"
        );
        let m = run(batch(
            vec![Some("control"), Some("treatment")],
            vec![Some(1.0), None],
        ));
        assert!(
            m.contains("column \"value\" is empty (null) at row 2"),
            "{m}"
        );
        let m = run(batch(
            vec![Some("control"), Some("treatment")],
            vec![Some(1.0), Some(f64::NAN)],
        ));
        assert!(m.contains("holds NaN at row 2"), "{m}");
    }

    #[test]
    fn an_explicit_blueprint_wins_over_the_schema_metadata() {
        let bp = |seed: u64| {
            Blueprint::from_toml(&format!(
                r#"
                id = "t"
                seed = {seed}
                customers = 100
                start_date = 2026-01-05
                days = 7
                [groups]
                control = 1
                treatment = 1
                [metrics.value]
                distribution = "poisson"
                control = {{ lambda = 2 }}
                treatment = {{ lambda = 2 }}
                "#
            ))
            .unwrap()
            .resolve()
            .unwrap()
            .blueprint
        };
        let (schema, batches) = table(
            vec![Arc::new(StringArray::from(vec![
                "control",
                "treatment",
                "control",
                "control",
                "treatment",
                "treatment",
            ]))],
            &VALUES,
        );
        let ds = Dataset::from_batches("t", &schema, &batches, &Columns::default(), Some(bp(1)))
            .unwrap();
        assert_eq!(ds.blueprint, Some(bp(1)));
        // With the blueprint in the schema's metadata, it is read from there …
        let json = abforge_synth::Generator::new(bp(2).resolve().unwrap())
            .schema()
            .metadata()[abforge_synth::generate::META_BLUEPRINT]
            .clone();
        let with_meta = Arc::new(schema.as_ref().clone().with_metadata(HashMap::from([(
            abforge_synth::generate::META_BLUEPRINT.to_string(),
            json,
        )])));
        let ds =
            Dataset::from_batches("t", &with_meta, &batches, &Columns::default(), None).unwrap();
        assert_eq!(ds.blueprint.as_ref().map(|b| b.seed), Some(2));
        // … unless one is given.
        let ds = Dataset::from_batches("t", &with_meta, &batches, &Columns::default(), Some(bp(1)))
            .unwrap();
        assert_eq!(ds.blueprint, Some(bp(1)));
    }
}
