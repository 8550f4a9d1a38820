//! Reading an experiment's data for `abforge analyze`: a Parquet or CSV file → the values of
//! each metric, split by group.
//!
//! Parquet row groups are decoded in parallel (one reader per row group, sharing the parsed
//! footer), projected on the group and metric columns only. CSV is read with the `csv` crate,
//! so every bad value is reported with its line and column.
//!
//! Which columns are metrics: those named by `--metric`, else every numeric column except
//! the group column, ids (`id`, `*_id`) and the pre-period covariates (`pre_<metric>`) of a
//! metric that is present (those are read as extra columns, for CUPED). In a CSV file a column is numeric when its first row parses as a
//! number; after that, a value that does not parse is an error naming its line.

use crate::BadInput;
use abforge_synth::Blueprint;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What to read.
#[derive(Debug, Clone)]
pub struct Request {
    /// The data file.
    pub path: PathBuf,
    /// Name of the column holding the group label.
    pub group_column: String,
    /// Metric columns to read; empty means every numeric column but ids.
    pub metrics: Vec<String>,
    /// Further numeric columns to read (e.g. the parts of a ratio metric), after the metrics.
    pub extra: Vec<String>,
}

/// One metric's values, split by group (indexes into [`Dataset::labels`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricData {
    /// Column name.
    pub name: String,
    /// Values per group, in file order.
    pub by_group: Vec<Vec<f64>>,
}

/// The data of one experiment.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Group labels in order of first appearance.
    pub labels: Vec<String>,
    /// Rows per group.
    pub counts: Vec<u64>,
    /// The columns read: the metrics in column order, then the extra columns asked for
    /// that are not metrics.
    pub metrics: Vec<MetricData>,
    /// How many of [`Dataset::metrics`] are metrics (the rest are extra columns).
    pub analyzed: usize,
    /// The resolved blueprint a file written by `abforge generate` carries in its metadata.
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
}

/// The file formats `analyze` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Parquet,
    Csv,
}

fn kind(path: &Path) -> anyhow::Result<Kind> {
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

/// Reads `req.path`.
///
/// # Errors
/// [`BadInput`] (exit code 2) for a missing file, an unknown column, a non-numeric or empty
/// value, an empty file; other errors for I/O failures.
pub fn read(req: &Request) -> anyhow::Result<Dataset> {
    let path = &req.path;
    if !path.is_file() {
        return Err(bad(format!("--input {}: no such file", path.display())));
    }
    if std::fs::metadata(path)?.len() == 0 {
        return Err(bad(format!(
            "--input {}: the file is empty",
            path.display()
        )));
    }
    let ds = match kind(path)? {
        Kind::Parquet => read_parquet(req)?,
        Kind::Csv => read_csv(req)?,
    };
    if ds.rows() == 0 {
        return Err(bad(format!(
            "--input {}: the file has no rows",
            path.display()
        )));
    }
    Ok(ds)
}

fn bad(msg: String) -> anyhow::Error {
    BadInput(msg).into()
}

/// Whether a column is an id, never a metric by default.
fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("_id")
}

/// The columns to read: the metrics, then the extra columns not among them; and how many
/// are metrics.
fn pick_columns(req: &Request, columns: &[(String, bool)]) -> anyhow::Result<(Vec<String>, usize)> {
    let mut read = pick_metrics(req, columns)?;
    let analyzed = read.len();
    for x in &req.extra {
        match columns.iter().find(|(n, _)| n == x) {
            None => {
                return Err(bad(format!(
                    "--ratio: no column {x:?} in {}; the columns are {}",
                    req.path.display(),
                    columns
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            Some((_, false)) => {
                return Err(bad(format!(
                    "--ratio: column {x:?} of {} is not numeric",
                    req.path.display()
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
fn pick_metrics(req: &Request, columns: &[(String, bool)]) -> anyhow::Result<Vec<String>> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let find = |name: &str| -> anyhow::Result<()> {
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
        Err(bad(format!(
            "--input {}: no column {name:?}{hint}; the columns are {}",
            req.path.display(),
            names.join(", ")
        )))
    };
    find(&req.group_column).map_err(|e| e.context("--group-column"))?;
    if !req.metrics.is_empty() {
        for m in &req.metrics {
            find(m).map_err(|e| e.context("--metric"))?;
            if *m == req.group_column {
                return Err(bad(format!(
                    "--metric {m}: that is the group column (--group-column)"
                )));
            }
            let numeric = columns.iter().any(|(n, num)| n == m && *num);
            if !numeric {
                return Err(bad(format!(
                    "--metric {m}: column {m:?} of {} is not numeric",
                    req.path.display()
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
        return Err(bad(format!(
            "--input {}: no numeric column to analyze besides the group and ids (columns: {})",
            req.path.display(),
            names.join(", ")
        )));
    }
    Ok(picked)
}

// ---------------------------------------------------------------------------------------------
// Parquet

fn numeric_type(t: &DataType) -> bool {
    t.is_numeric() && !matches!(t, DataType::Decimal32(..) | DataType::Decimal64(..))
        || matches!(t, DataType::Boolean)
}

fn read_parquet(req: &Request) -> anyhow::Result<Dataset> {
    let path = &req.path;
    let meta = {
        let mut f = File::open(path)?;
        ArrowReaderMetadata::load(&f, Default::default()).map_err(|e| {
            // Not a Parquet file after all (e.g. a CSV named .parquet).
            let _ = f.read(&mut [0u8; 1]);
            bad(format!(
                "--input {}: not a readable Parquet file: {e}",
                path.display()
            ))
        })?
    };
    let schema = meta.schema().clone();
    let columns: Vec<(String, bool)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), numeric_type(f.data_type())))
        .collect();
    let (metrics, analyzed) = pick_columns(req, &columns)?;
    let blueprint = schema
        .metadata()
        .get(abforge_synth::generate::META_BLUEPRINT)
        .and_then(|json| Blueprint::from_json(json).ok());
    let group_idx = schema.index_of(&req.group_column)?;
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
        .map(|rg| -> anyhow::Result<Partial> {
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
                part.add_batch(&batch, group_pos, &metric_pos, &metrics, row, req)?;
                row += batch.num_rows() as u64;
            }
            Ok(part)
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(merge(parts, metrics, analyzed, blueprint))
}

/// What one row group contributed: its own label numbering, merged afterwards.
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

    fn add_batch(
        &mut self,
        batch: &RecordBatch,
        group_pos: usize,
        metric_pos: &[usize],
        metrics: &[String],
        first_row: u64,
        req: &Request,
    ) -> anyhow::Result<()> {
        let groups = self.group_indexes(batch.column(group_pos), first_row, req)?;
        for &g in &groups {
            self.counts[g] += 1;
        }
        for (m, (&p, name)) in metric_pos.iter().zip(metrics).enumerate() {
            let col = batch.column(p);
            if let Some(i) = first_null(col) {
                return Err(bad(format!(
                    "--input {}: column {name:?} is empty (null) at row {}",
                    req.path.display(),
                    first_row + i as u64 + 1
                )));
            }
            let vals = to_f64(col)?;
            for (k, (&g, v)) in groups.iter().zip(vals.iter()).enumerate() {
                if !v.is_finite() {
                    return Err(bad(format!(
                        "--input {}: column {name:?} holds {v} at row {}; values must be finite numbers",
                        req.path.display(),
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
        req: &Request,
    ) -> anyhow::Result<Vec<usize>> {
        if let Some(i) = first_null(col) {
            return Err(bad(format!(
                "--input {}: group column {:?} is empty (null) at row {}",
                req.path.display(),
                req.group_column,
                first_row + i as u64 + 1
            )));
        }
        if let DataType::Dictionary(_, _) = col.data_type() {
            // Map the (few) dictionary values once, then every row by its key.
            let dict = col.as_any_dictionary();
            let values = arrow_cast::cast(dict.values(), &DataType::Utf8)?;
            let values = values.as_string::<i32>();
            let map: Vec<usize> = (0..values.len())
                .map(|i| self.label(values.value(i)))
                .collect();
            let keys = arrow_cast::cast(dict.keys(), &DataType::UInt64)?;
            return Ok(keys
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .map(|&k| map[k as usize])
                .collect());
        }
        let strings = arrow_cast::cast(col, &DataType::Utf8).map_err(|e| {
            bad(format!(
                "--group-column {}: cannot read it as text labels: {e}",
                req.group_column
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
fn to_f64(col: &ArrayRef) -> anyhow::Result<Vec<f64>> {
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

/// Merges row-group partials in file order into one numbering of labels.
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

fn read_csv(req: &Request) -> anyhow::Result<Dataset> {
    let path = &req.path;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(format!("--input {}: {e}", path.display())))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(bad(format!("--input {}: no header line", path.display())));
    }
    let mut records = rdr.records();
    let first = match records.next() {
        None => {
            return Err(bad(format!(
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
    let (metrics, analyzed) = pick_columns(req, &columns)?;
    let gi = header
        .iter()
        .position(|h| *h == req.group_column)
        .expect("checked");
    let mi: Vec<usize> = metrics
        .iter()
        .map(|m| header.iter().position(|h| h == m).expect("checked"))
        .collect();
    let mut part = Partial::new(metrics.len());
    let mut add = |rec: &csv::StringRecord| -> anyhow::Result<()> {
        let label = rec.get(gi).unwrap_or_default();
        if label.is_empty() {
            return Err(bad(format!(
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

fn check_number(path: &Path, rec: &csv::StringRecord, i: usize, name: &str) -> anyhow::Result<f64> {
    let raw = rec.get(i).unwrap_or_default();
    if raw.is_empty() {
        return Err(bad(format!(
            "--input {}: line {}: column {name:?} is empty; expected a number",
            path.display(),
            line(rec)
        )));
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad(format!(
            "--input {}: line {}: column {name:?} holds {raw:?}, which is not a finite number",
            path.display(),
            line(rec)
        ))),
    }
}

fn csv_error(path: &Path, e: csv::Error) -> anyhow::Error {
    match e.kind() {
        csv::ErrorKind::Io(_) => anyhow::Error::new(e).context(path.display().to_string()),
        _ => bad(format!("--input {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn csv_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn req(path: &Path, metrics: &[&str]) -> Request {
        Request {
            path: path.to_path_buf(),
            group_column: "group".into(),
            metrics: metrics.iter().map(|s| s.to_string()).collect(),
            extra: Vec::new(),
        }
    }

    fn message(e: anyhow::Error) -> String {
        assert!(
            e.chain().any(|c| c.is::<BadInput>()),
            "not bad input: {e:#}"
        );
        format!("{e:#}")
    }

    #[test]
    fn two_column_csv_splits_by_group_in_order_of_appearance() {
        let f = csv_file("group,value\ntreatment,1.5\ncontrol,2\ntreatment,3\n");
        let ds = read(&req(f.path(), &[])).unwrap();
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
        let ds = read(&req(f.path(), &[])).unwrap();
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
        let m = message(read(&req(f.path(), &[])).unwrap_err());
        assert!(
            m.contains("line 3") && m.contains("\"value\"") && m.contains("abc"),
            "{m}"
        );
        let f = csv_file("group,value\ncontrol,1\ntreatment,\n");
        let m = message(read(&req(f.path(), &["value"])).unwrap_err());
        assert!(m.contains("line 3") && m.contains("empty"), "{m}");
    }

    #[test]
    fn missing_columns_and_files_are_bad_input() {
        let f = csv_file("group,value\ncontrol,1\n");
        let m = message(read(&req(f.path(), &["valeu"])).unwrap_err());
        assert!(m.contains("did you mean \"value\""), "{m}");
        let mut r = req(f.path(), &[]);
        r.group_column = "arm".into();
        let m = message(read(&r).unwrap_err());
        assert!(m.contains("no column \"arm\""), "{m}");
        let m = message(read(&req(Path::new("/nonexistent/x.csv"), &[])).unwrap_err());
        assert!(m.contains("no such file"), "{m}");
        let f = csv_file("");
        assert!(message(read(&req(f.path(), &[])).unwrap_err()).contains("empty"));
        let f = csv_file("group,value\n");
        assert!(message(read(&req(f.path(), &[])).unwrap_err()).contains("no rows"));
        let f = csv_file("group,region\ncontrol,eu\n");
        assert!(message(read(&req(f.path(), &[])).unwrap_err()).contains("no numeric column"));
        let f = csv_file("group,region\ncontrol,eu\n");
        assert!(message(read(&req(f.path(), &["region"])).unwrap_err()).contains("not a finite"));
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
        }
        w.finish().unwrap();
        let ds = read(&req(&path, &[])).unwrap();
        assert!(ds.blueprint.is_some());
        assert_eq!(ds.metrics.len(), 1);
        assert_eq!(ds.rows(), 150_000);
        for (g, label) in ds.labels.iter().enumerate() {
            assert_eq!(ds.metrics[0].by_group[g], expect[label], "{label}");
            assert_eq!(ds.counts[g] as usize, expect[label].len());
        }
    }
}
