//! Arrow data: Parquet files, their row groups decoded in parallel (one reader per row
//! group, sharing the parsed footer, projected on the columns read), and record batches
//! handed over by a caller, decoded in parallel runs of consecutive batches.

use super::columns::{blueprint_of, pick_columns, schema_columns};
use super::partial::{Partial, merge};
use super::{Columns, Dataset, Source};
use crate::error::{Result, bad_file, invalid_value, usage};
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

impl Dataset {
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
    ///
    /// [`Error::Usage`]: crate::Error::Usage
    /// [`Error::Arrow`]: crate::Error::Arrow
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

pub(super) fn read_parquet(path: &Path, src: &Source<'_>) -> Result<Dataset> {
    let meta = {
        let mut f = File::open(path)?;
        ArrowReaderMetadata::load(&f, Default::default()).map_err(|e| {
            // Not a Parquet file after all (e.g. a CSV named .parquet).
            let _ = f.read(&mut [0u8; 1]);
            bad_file(path.display(), format!("not a readable Parquet file: {e}"))
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

impl Partial {
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
                return Err(bad_file(
                    src.label,
                    format!(
                        "column {name:?} is empty (null) at row {}",
                        first_row + i as u64 + 1
                    ),
                ));
            }
            let vals = to_f64(col)?;
            for (k, (&g, v)) in groups.iter().zip(vals.iter()).enumerate() {
                if !v.is_finite() {
                    return Err(bad_file(
                        src.label,
                        format!(
                            "column {name:?} holds {v} at row {}; values must be finite numbers",
                            first_row + k as u64 + 1
                        ),
                    ));
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
            return Err(bad_file(
                src.label,
                format!(
                    "group column {group_column:?} is empty (null) at row {}",
                    first_row + i as u64 + 1
                ),
            ));
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
            invalid_value(
                "group_column",
                group_column,
                format!("cannot read it as text labels: {e}"),
            )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::read;
    use crate::input::tests::{cols, message};
    use arrow_array::{
        DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray,
        StringArray,
    };
    use arrow_schema::Field;
    use std::sync::Arc;

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
        assert!(bad(Columns::new("arm")).contains("group_column: no column \"arm\" in t"));
        assert!(bad(cols(&["valeu"])).contains("did you mean \"value\""));
        let extra = Columns {
            extra: vec!["nope".into()],
            ..Columns::default()
        };
        assert!(bad(extra).contains("ratios: no column \"nope\" in t"));
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
