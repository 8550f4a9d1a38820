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
//! (`pre_<metric>`) of a metric that is present. Every numeric `pre_*` column is read as an
//! extra column (CUPED uses a metric's own, the regression adjustment all of them), and so
//! is the column of cluster ids ([`Columns::cluster_column`], else `cluster_id` when
//! present). In Arrow data (Parquet, batches) a column is numeric by its type (integers,
//! floats, decimals, booleans). In a CSV file a column is numeric when its first row parses
//! as a number; after that, a value that does not parse is an error naming its line.
//!
//! The group column may hold text (`Utf8`, `LargeUtf8`, a dictionary of text, as
//! `abforge generate` writes it) or anything Arrow casts to text. Groups are numbered in
//! order of first appearance, whatever the encoding.

mod arrow;
mod columns;
mod csv;
mod partial;

use crate::error::{Result, bad_file};
use abforge_synth::Blueprint;
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
    /// The column of cluster ids (whole numbers) to read; `None` reads
    /// [`DEFAULT_CLUSTER_COLUMN`] when the data has such a numeric column.
    pub cluster_column: Option<String>,
}

/// The column of cluster ids read when none is named: the one `abforge generate` writes
/// for a blueprint with `[clusters]`.
pub const DEFAULT_CLUSTER_COLUMN: &str = "cluster_id";

impl Columns {
    /// Every metric, grouped by `group_column`, no extra column.
    pub fn new(group_column: impl Into<String>) -> Self {
        Columns {
            group_column: group_column.into(),
            metrics: Vec::new(),
            extra: Vec::new(),
            cluster_column: None,
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
///
/// [`Error::Usage`]: crate::Error::Usage
pub fn read(path: &Path, columns: &Columns) -> Result<Dataset> {
    if !path.is_file() {
        return Err(bad_file(path.display(), "no such file"));
    }
    if std::fs::metadata(path)?.len() == 0 {
        return Err(bad_file(path.display(), "the file is empty"));
    }
    let label = path.display().to_string();
    let src = Source {
        label: &label,
        cols: columns,
    };
    let ds = match kind(path)? {
        Kind::Parquet => arrow::read_parquet(path, &src)?,
        Kind::Csv => csv::read_csv(path, &src)?,
    };
    if ds.rows() == 0 {
        return Err(bad_file(path.display(), "the file has no rows"));
    }
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::io::Write;

    pub(super) fn csv_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    pub(super) fn cols(metrics: &[&str]) -> Columns {
        Columns {
            metrics: metrics.iter().map(|s| s.to_string()).collect(),
            ..Columns::default()
        }
    }

    pub(super) fn message(e: Error) -> String {
        assert!(e.is_usage(), "not bad input: {e}");
        e.to_string()
    }

    #[test]
    fn missing_columns_and_files_are_bad_input() {
        let f = csv_file("group,value\ncontrol,1\n");
        let m = message(read(f.path(), &cols(&["valeu"])).unwrap_err());
        assert!(m.starts_with("metrics: no column \"valeu\" in "), "{m}");
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
}
