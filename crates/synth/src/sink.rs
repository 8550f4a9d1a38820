//! Writing batches: Parquet (zstd, columns encoded in parallel), CSV, or JSON lines; to a
//! file atomically (a temporary file renamed into place on success) or to any writer.

use crate::error::{Error, Result};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet, zstd-compressed, one row group per window of 1 048 576 rows.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// Every format, as named on the command line.
    pub const ALL: [Format; 3] = [Format::Parquet, Format::Csv, Format::Jsonl];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// The format a file name suggests (`.parquet`, `.csv`, `.jsonl`/`.ndjson`/`.json`).
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// Counts the bytes that pass through.
#[derive(Debug)]
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[allow(
    clippy::large_enum_variant,
    reason = "one encoder per output file; boxing buys nothing"
)]
enum Encoder<W: Write + Send> {
    Parquet {
        writer: SerializedFileWriter<Counting<W>>,
        factory: ArrowRowGroupWriterFactory,
        schema: SchemaRef,
        groups: usize,
    },
    Csv(arrow_csv::Writer<Counting<W>>),
    Jsonl(arrow_json::LineDelimitedWriter<Counting<W>>),
}

/// A batch writer in one of the [`Format`]s.
pub struct BatchWriter<W: Write + Send> {
    enc: Encoder<W>,
    rows: u64,
}

impl<W: Write + Send> std::fmt::Debug for BatchWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchWriter")
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

/// The writer properties of every Parquet file: zstd level 1, statistics per page, the
/// schema's metadata (the resolved blueprint) in the footer.
pub fn parquet_properties(schema: &Schema) -> WriterProperties {
    let kv = schema
        .metadata()
        .iter()
        .map(|(k, v)| parquet::file::metadata::KeyValue::new(k.clone(), v.clone()));
    let mut kv: Vec<_> = kv.collect();
    kv.sort_by(|a, b| a.key.cmp(&b.key));
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(usize::MAX))
        .set_key_value_metadata(Some(kv))
        .set_created_by(format!("abforge {}", env!("CARGO_PKG_VERSION")));
    // Encodings chosen per column type (measured with bench/gen_parquet.py): a dictionary
    // for few distinct values, none for real numbers (a dictionary attempt on unique floats
    // is wasted work before the writer falls back), byte-stream-split for floats (zstd then
    // compresses their exponents), delta encoding for increasing ids.
    for f in schema.fields() {
        let col = ColumnPath::from(f.name().as_str());
        b = match f.data_type() {
            // Min/max of a handful of category strings cost a string compare per row and
            // prune nothing: chunk statistics are off for them.
            DataType::Dictionary(..) => {
                b.set_column_statistics_enabled(col, EnabledStatistics::None)
            }
            DataType::Float64 => b
                .set_column_dictionary_enabled(col.clone(), false)
                .set_column_encoding(col, Encoding::BYTE_STREAM_SPLIT),
            DataType::Int64 if f.name() == "customer_id" => b
                .set_column_dictionary_enabled(col.clone(), false)
                .set_column_encoding(col, Encoding::DELTA_BINARY_PACKED),
            _ => b,
        };
    }
    b.build()
}

/// Dictionary columns become plain strings for text formats.
fn plain(batch: &RecordBatch) -> Result<RecordBatch> {
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, v) => Field::new(f.name(), (**v).clone(), f.is_nullable()),
            _ => (**f).clone(),
        })
        .collect();
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(&fields)
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(Arc::clone(c))
            } else {
                arrow_cast::cast(c, f.data_type())
            }
        })
        .collect::<std::result::Result<_, _>>()?;
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

impl<W: Write + Send> BatchWriter<W> {
    /// A writer of `format` for batches of `schema` into `out`.
    ///
    /// # Errors
    /// When the Parquet writer cannot be set up for the schema.
    pub fn new(out: W, format: Format, schema: SchemaRef) -> Result<Self> {
        let out = Counting {
            inner: out,
            bytes: 0,
        };
        let enc = match format {
            Format::Parquet => {
                let props = parquet_properties(&schema);
                let opts =
                    parquet::arrow::arrow_writer::ArrowWriterOptions::new().with_properties(props);
                let w = ArrowWriter::try_new_with_options(out, Arc::clone(&schema), opts)?;
                let (writer, factory) = w.into_serialized_writer()?;
                Encoder::Parquet {
                    writer,
                    factory,
                    schema,
                    groups: 0,
                }
            }
            Format::Csv => {
                Encoder::Csv(arrow_csv::WriterBuilder::new().with_header(true).build(out))
            }
            Format::Jsonl => Encoder::Jsonl(arrow_json::LineDelimitedWriter::new(out)),
        };
        Ok(BatchWriter { enc, rows: 0 })
    }

    /// Writes one window of batches (one Parquet row group), encoding columns in parallel.
    ///
    /// # Errors
    /// Encoding or I/O failures.
    pub fn write(&mut self, batches: &[RecordBatch]) -> Result<()> {
        self.rows += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        match &mut self.enc {
            Encoder::Parquet {
                writer,
                factory,
                schema,
                groups,
            } => {
                if batches.iter().all(|b| b.num_rows() == 0) {
                    return Ok(());
                }
                let writers = factory.create_column_writers(*groups)?;
                *groups += 1;
                // One leaf per column: every column of ours is flat.
                let chunks: Vec<ArrowColumnChunk> = writers
                    .into_par_iter()
                    .zip(schema.fields().par_iter().enumerate())
                    .map(|(mut w, (i, field))| {
                        for b in batches {
                            for leaf in compute_leaves(field, b.column(i))? {
                                w.write(&leaf)?;
                            }
                        }
                        w.close()
                    })
                    .collect::<std::result::Result<_, _>>()?;
                let mut rg = writer.next_row_group()?;
                for c in chunks {
                    c.append_to_row_group(&mut rg)?;
                }
                rg.close()?;
            }
            Encoder::Csv(w) => {
                for b in batches {
                    w.write(&plain(b)?)?;
                }
            }
            Encoder::Jsonl(w) => {
                for b in batches {
                    w.write(&plain(b)?)?;
                }
            }
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Finishes the file (the Parquet footer) and returns the writer and the bytes written.
    ///
    /// # Errors
    /// Encoding or I/O failures.
    pub fn finish(self) -> Result<(W, u64)> {
        let mut out = match self.enc {
            Encoder::Parquet { writer, .. } => writer.into_inner()?,
            Encoder::Csv(w) => w.into_inner(),
            Encoder::Jsonl(mut w) => {
                w.finish()?;
                w.into_inner()
            }
        };
        out.flush().map_err(|e| Error::io("flushing output", e))?;
        Ok((out.inner, out.bytes))
    }
}

/// A file that appears at its path only when complete: written to a temporary file in the
/// same directory and renamed into place by [`AtomicFile::commit`]; dropped uncommitted, it
/// leaves nothing behind.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    /// Starts writing `path`, creating its directory if needed.
    ///
    /// # Errors
    /// When the directory cannot be created or written to.
    pub fn create(path: &Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create directory {}", dir.display()), e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(format!("cannot write in {}", dir.display()), e))?;
        Ok(AtomicFile {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// A buffered writer into the temporary file.
    ///
    /// # Errors
    /// When the file handle cannot be duplicated.
    pub fn writer(&self) -> Result<std::io::BufWriter<std::fs::File>> {
        let f = self
            .tmp
            .as_file()
            .try_clone()
            .map_err(|e| Error::io("cannot open temporary file", e))?;
        Ok(std::io::BufWriter::with_capacity(1 << 20, f))
    }

    /// Syncs the file to disk and renames it into place.
    ///
    /// # Errors
    /// When the sync or the rename fails (the temporary file is then removed).
    pub fn commit(self) -> Result<()> {
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::io("cannot sync output", e))?;
        self.tmp.persist(&self.path).map_err(|e| {
            Error::io(
                format!("cannot move output into {}", self.path.display()),
                e.error,
            )
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(
            Format::from_path(Path::new("a/b.PARQUET")),
            Some(Format::Parquet)
        );
        assert_eq!(Format::from_path(Path::new("b.csv")), Some(Format::Csv));
        assert_eq!(
            Format::from_path(Path::new("b.ndjson")),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::from_path(Path::new("b.txt")), None);
        assert_eq!(Format::from_path(Path::new("b")), None);
        assert_eq!(Format::ALL.map(Format::name), ["parquet", "csv", "jsonl"]);
    }

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap()
    }

    #[test]
    fn an_atomic_file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.csv");
        let file = AtomicFile::create(&path).unwrap();
        let b = batch();
        let mut w = BatchWriter::new(file.writer().unwrap(), Format::Csv, b.schema()).unwrap();
        w.write(&[b]).unwrap();
        assert_eq!(w.rows(), 3);
        let (_, bytes) = w.finish().unwrap();
        assert!(!path.exists(), "not visible before commit");
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n1\n2\n3\n");
        assert_eq!(bytes, 8);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }

    #[test]
    fn a_dropped_atomic_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.parquet");
        {
            let file = AtomicFile::create(&path).unwrap();
            let b = batch();
            let mut w =
                BatchWriter::new(file.writer().unwrap(), Format::Parquet, b.schema()).unwrap();
            w.write(&[b]).unwrap();
            // Dropped without finish or commit: a failure mid-write.
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_empty_window_writes_no_row_group() {
        let b = batch();
        let mut w = BatchWriter::new(Vec::new(), Format::Parquet, b.schema()).unwrap();
        w.write(&[b.slice(0, 0)]).unwrap();
        w.write(&[b]).unwrap();
        let (bytes, n) = w.finish().unwrap();
        assert_eq!(bytes.len() as u64, n);
        let reader =
            parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        use parquet::file::reader::FileReader;
        assert_eq!(reader.metadata().num_row_groups(), 1);
    }
}
