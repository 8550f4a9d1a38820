//! The columns of the `customers` table, shared by the backends: which SQL type each Arrow
//! column lands in, reading values out of Arrow arrays, and building the batches a scan
//! returns.

use crate::{Error, Result};
use arrow_array::builder::{Date32Builder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{
    Array, ArrayRef, Date32Array, Float64Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, StringViewArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// The columns every `customers` row has, in table order. `experiment_id` and `run_id` come
/// from the [`LoadSpec`](super::LoadSpec), not from the batches.
pub(crate) const FIXED: [&str; 4] = ["experiment_id", "run_id", "customer_id", "group"];

/// The longest column name PostgreSQL keeps (it truncates longer ones); enforced for both
/// backends, so a blueprint that lands in one lands in the other.
const MAX_NAME_BYTES: usize = 63;

/// The SQL type a column lands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlType {
    /// Strings: Utf8 or a dictionary of Utf8.
    Text,
    /// Int64.
    BigInt,
    /// Float64.
    Double,
    /// Date32.
    Date,
}

impl SqlType {
    /// The SQL type of an Arrow type, `None` for types the store does not keep.
    pub(crate) fn of(dt: &DataType) -> Option<SqlType> {
        match dt {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(SqlType::Text),
            DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8) => Some(SqlType::Text),
            DataType::Int64 => Some(SqlType::BigInt),
            DataType::Float64 => Some(SqlType::Double),
            DataType::Date32 => Some(SqlType::Date),
            _ => None,
        }
    }

    /// Its name in messages (PostgreSQL's spelling).
    pub(crate) fn name(self) -> &'static str {
        match self {
            SqlType::Text => "text",
            SqlType::BigInt => "bigint",
            SqlType::Double => "double precision",
            SqlType::Date => "date",
        }
    }

    /// The Arrow type a scan returns it as.
    pub(crate) fn arrow(self) -> DataType {
        match self {
            SqlType::Text => DataType::Utf8,
            SqlType::BigInt => DataType::Int64,
            SqlType::Double => DataType::Float64,
            SqlType::Date => DataType::Date32,
        }
    }
}

/// Checks that a column name can be stored: not empty, no NUL, at most 63 bytes.
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('\0') || name.len() > MAX_NAME_BYTES {
        return Err(Error::Data(format!(
            "column name {name:?} cannot be stored: it must have 1 to {MAX_NAME_BYTES} bytes and \
             no NUL"
        )));
    }
    Ok(())
}

/// Quotes an SQL identifier: `"name"`, inner quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal: `'text'` with inner quotes doubled, or `E'…'` with
/// backslashes doubled too when there are any (read the same whatever
/// `standard_conforming_strings` says).
pub(crate) fn quote_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// A column of a load besides the fixed ones: its name, SQL type and index in the batches.
#[derive(Debug, Clone)]
pub(crate) struct LoadColumn {
    pub(crate) name: String,
    pub(crate) ty: SqlType,
    pub(crate) index: usize,
}

/// How a load's batches map onto the table.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The batch schema.
    pub(crate) schema: SchemaRef,
    /// Index of `customer_id` (Int64).
    pub(crate) customer_id: usize,
    /// Index of `group` (strings).
    pub(crate) group: usize,
    /// The other columns, in schema order (`experiment_id` and `run_id` excluded).
    pub(crate) columns: Vec<LoadColumn>,
}

impl Layout {
    /// The layout of a [`LoadSpec::schema`](super::LoadSpec::schema).
    ///
    /// # Errors
    /// [`Error::Data`] when `customer_id` (Int64) or `group` (strings) is missing, a column
    /// has a type the store does not keep, or a name cannot be stored.
    pub(crate) fn of(schema: &SchemaRef) -> Result<Layout> {
        let find = |name: &str, want: &str, ok: fn(&DataType) -> bool| -> Result<usize> {
            let (i, f) = schema.column_with_name(name).ok_or_else(|| {
                Error::Data(format!(
                    "the customers' schema has no {name:?} column ({want})"
                ))
            })?;
            if !ok(f.data_type()) {
                return Err(Error::Data(format!(
                    "column {name:?} is {}; expected {want}",
                    f.data_type()
                )));
            }
            Ok(i)
        };
        let customer_id = find("customer_id", "Int64", |t| *t == DataType::Int64)?;
        let group = find("group", "strings", |t| {
            SqlType::of(t) == Some(SqlType::Text)
        })?;
        let mut columns = Vec::new();
        for (index, f) in schema.fields().iter().enumerate() {
            let name = f.name();
            if FIXED.contains(&name.as_str()) {
                if matches!(name.as_str(), "experiment_id" | "run_id")
                    && SqlType::of(f.data_type()) != Some(SqlType::Text)
                {
                    return Err(Error::Data(format!(
                        "column {name:?} is {}; expected strings",
                        f.data_type()
                    )));
                }
                continue;
            }
            check_name(name)?;
            let ty = SqlType::of(f.data_type()).ok_or_else(|| {
                Error::Data(format!(
                    "column {name:?} is {}: the relational store keeps strings (Utf8 or a \
                     dictionary of Utf8), Int64, Float64 and Date32",
                    f.data_type()
                ))
            })?;
            columns.push(LoadColumn {
                name: name.clone(),
                ty,
                index,
            });
        }
        Ok(Layout {
            schema: Arc::clone(schema),
            customer_id,
            group,
            columns,
        })
    }

    /// Checks a batch against the layout's schema (same column count and types).
    pub(crate) fn check_batch(&self, batch: &RecordBatch) -> Result<()> {
        let got = batch.schema();
        let same = got.fields().len() == self.schema.fields().len()
            && got
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(Error::Data(format!(
                "a batch's schema differs from the load's: {got:?} vs {:?}",
                self.schema
            )));
        }
        Ok(())
    }

    /// The `customer_id` column of a batch.
    pub(crate) fn ids<'a>(&self, batch: &'a RecordBatch) -> &'a Int64Array {
        batch.column(self.customer_id).as_primitive::<Int64Type>()
    }
}

/// Checks that every `customer_id` of a batch is set and lies in `ids`.
pub(crate) fn check_ids(ids: &Int64Array, range: &std::ops::Range<u64>) -> Result<()> {
    if ids.null_count() > 0 {
        return Err(Error::Data("a customer_id is null".into()));
    }
    let (lo, hi) = (range.start, range.end);
    let bad = ids
        .values()
        .iter()
        .find(|&&id| id < 0 || (id as u64) < lo || (id as u64) >= hi);
    if let Some(id) = bad {
        return Err(Error::Data(format!(
            "customer_id {id} lies outside the load's id range [{lo}, {hi})"
        )));
    }
    Ok(())
}

/// The values of one column of a batch, typed.
#[derive(Debug)]
pub(crate) enum Values<'a> {
    /// Strings.
    Text(Strings<'a>),
    /// Int64.
    BigInt(&'a Int64Array),
    /// Float64.
    Double(&'a Float64Array),
    /// Date32 (days since 1970-01-01).
    Date(&'a Date32Array),
}

impl<'a> Values<'a> {
    /// The values of `array`, whose SQL type is `ty`.
    pub(crate) fn of(array: &'a ArrayRef, ty: SqlType) -> Values<'a> {
        match ty {
            SqlType::Text => Values::Text(Strings::of(array)),
            SqlType::BigInt => Values::BigInt(array.as_primitive()),
            SqlType::Double => Values::Double(array.as_primitive()),
            SqlType::Date => Values::Date(array.as_primitive()),
        }
    }
}

/// A string column: plain, large, view, or a dictionary (any key type) of Utf8.
#[derive(Debug)]
pub(crate) enum Strings<'a> {
    /// Utf8.
    Plain(&'a StringArray),
    /// LargeUtf8.
    Large(&'a LargeStringArray),
    /// Utf8View.
    View(&'a StringViewArray),
    /// A dictionary: each row's index into `values`.
    Dict {
        /// The dictionary (for its null keys).
        dict: &'a dyn arrow_array::AnyDictionaryArray,
        /// Per row, the index of its value.
        keys: Vec<usize>,
        /// The dictionary's values.
        values: &'a StringArray,
    },
}

impl<'a> Strings<'a> {
    /// The strings of `array` (a type [`SqlType::of`] maps to [`SqlType::Text`]).
    pub(crate) fn of(array: &'a ArrayRef) -> Strings<'a> {
        match array.data_type() {
            DataType::Utf8 => Strings::Plain(array.as_string::<i32>()),
            DataType::LargeUtf8 => Strings::Large(array.as_string::<i64>()),
            DataType::Utf8View => Strings::View(array.as_string_view()),
            _ => {
                let dict = array.as_any_dictionary();
                Strings::Dict {
                    dict,
                    keys: dict.normalized_keys(),
                    values: dict.values().as_string::<i32>(),
                }
            }
        }
    }

    /// Row `i`'s string, `None` when null.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strings::Plain(a) => (!a.is_null(i)).then(|| a.value(i)),
            Strings::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
            Strings::View(a) => (!a.is_null(i)).then(|| a.value(i)),
            Strings::Dict { dict, keys, values } => {
                let k = keys[i];
                (!dict.is_null(i) && !values.is_null(k)).then(|| values.value(k))
            }
        }
    }
}

/// What a scan reads: the output schema (strings as Utf8) and each column's SQL type.
#[derive(Debug, Clone)]
pub(crate) struct ScanPlan {
    /// The schema of the batches returned.
    pub(crate) schema: SchemaRef,
    /// Per output column, its name and SQL type.
    pub(crate) columns: Vec<(String, SqlType)>,
}

impl ScanPlan {
    /// The plan for a requested schema: every field kept (name, nullability, metadata),
    /// dictionaries of strings and other string types turned into Utf8.
    ///
    /// # Errors
    /// [`Error::Data`] for a field type the store does not keep.
    pub(crate) fn of(schema: &SchemaRef) -> Result<ScanPlan> {
        let mut fields = Vec::with_capacity(schema.fields().len());
        let mut columns = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let ty = SqlType::of(f.data_type()).ok_or_else(|| {
                Error::Data(format!(
                    "column {:?} is {}: a scan returns strings, Int64, Float64 and Date32",
                    f.name(),
                    f.data_type()
                ))
            })?;
            fields.push(
                Field::new(f.name(), ty.arrow(), f.is_nullable())
                    .with_metadata(f.metadata().clone()),
            );
            columns.push((f.name().clone(), ty));
        }
        Ok(ScanPlan {
            schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            columns,
        })
    }

    /// Checks the plan against the table's columns (name → SQL type).
    ///
    /// # Errors
    /// [`Error::Data`] naming a column the table lacks or whose type differs.
    pub(crate) fn check_table(&self, table: &[(String, Option<SqlType>, String)]) -> Result<()> {
        for (name, ty) in &self.columns {
            match table.iter().find(|(n, _, _)| n == name) {
                None => {
                    return Err(Error::Data(format!(
                        "the customers table has no column {name:?}"
                    )));
                }
                Some((_, have, decl)) if *have != Some(*ty) => {
                    return Err(Error::Data(format!(
                        "column {name:?} of the customers table is {decl}, not {}",
                        ty.name()
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// A builder of the plan's batches.
    pub(crate) fn builder(&self, capacity: usize) -> BatchBuilder {
        BatchBuilder {
            schema: Arc::clone(&self.schema),
            columns: self
                .columns
                .iter()
                .map(|(_, ty)| match ty {
                    SqlType::Text => {
                        ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 8))
                    }
                    SqlType::BigInt => ColumnBuilder::BigInt(Int64Builder::with_capacity(capacity)),
                    SqlType::Double => {
                        ColumnBuilder::Double(Float64Builder::with_capacity(capacity))
                    }
                    SqlType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
                })
                .collect(),
            rows: 0,
        }
    }
}

/// One column being built.
#[derive(Debug)]
pub(crate) enum ColumnBuilder {
    /// Strings.
    Text(StringBuilder),
    /// Int64.
    BigInt(Int64Builder),
    /// Float64.
    Double(Float64Builder),
    /// Date32.
    Date(Date32Builder),
}

/// Builds the batches of a scan, row by row.
#[derive(Debug)]
pub(crate) struct BatchBuilder {
    schema: SchemaRef,
    /// One builder per output column, in order.
    pub(crate) columns: Vec<ColumnBuilder>,
    /// Rows appended since the last [`finish`](Self::finish).
    pub(crate) rows: usize,
}

impl BatchBuilder {
    /// The batch of the rows appended so far; the builder starts over.
    ///
    /// # Errors
    /// [`Error::Data`] when a column the schema says is not nullable holds a NULL.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| match c {
                ColumnBuilder::Text(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::BigInt(b) => Arc::new(b.finish()),
                ColumnBuilder::Double(b) => Arc::new(b.finish()),
                ColumnBuilder::Date(b) => Arc::new(b.finish()),
            })
            .collect();
        self.rows = 0;
        for (a, f) in arrays.iter().zip(self.schema.fields()) {
            if !f.is_nullable() && a.null_count() > 0 {
                return Err(Error::Data(format!(
                    "column {:?} holds NULLs (rows loaded without it) but the schema asked \
                     says it is not nullable",
                    f.name()
                )));
            }
        }
        RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(|e| Error::Data(format!("cannot build a batch of customers: {e}")))
    }
}

/// Days between 1970-01-01 (Arrow's Date32 epoch) and 2000-01-01 (PostgreSQL's).
pub(crate) const PG_EPOCH_DAYS: i32 = 10_957;

/// Formats days since 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian, years 0 to 9999).
pub(crate) fn format_date(days: i32) -> Option<String> {
    let d = chrono::DateTime::from_timestamp(i64::from(days) * 86_400, 0)?.date_naive();
    Some(d.format("%Y-%m-%d").to_string())
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub(crate) fn parse_date(text: &str) -> Option<i32> {
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int16Type;
    use arrow_array::{DictionaryArray, Int16Array};

    #[test]
    fn dates_round_trip() {
        for days in [-719_162, -1, 0, 1, 20_780, 2_932_896] {
            let text = format_date(days).unwrap();
            assert_eq!(parse_date(&text), Some(days), "{text}");
        }
        assert_eq!(format_date(20_780).unwrap(), "2026-11-23");
        assert_eq!(parse_date("2000-01-01"), Some(PG_EPOCH_DAYS));
    }

    #[test]
    fn dictionary_strings_and_nulls() {
        let values: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
        let keys = Int16Array::from(vec![Some(1), None, Some(0)]);
        let dict: ArrayRef = Arc::new(DictionaryArray::<Int16Type>::try_new(keys, values).unwrap());
        let s = Strings::of(&dict);
        assert_eq!(
            (0..3).map(|i| s.get(i)).collect::<Vec<_>>(),
            [Some("b"), None, Some("a")]
        );
    }

    #[test]
    fn layouts_need_ids_and_groups_and_known_types() {
        let schema = |fields: Vec<Field>| Arc::new(Schema::new(fields));
        let ok = schema(vec![
            Field::new("customer_id", DataType::Int64, false),
            Field::new("group", DataType::Utf8, false),
            Field::new("x", DataType::Float64, false),
        ]);
        let l = Layout::of(&ok).unwrap();
        assert_eq!((l.customer_id, l.group, l.columns.len()), (0, 1, 1));
        let no_group = schema(vec![Field::new("customer_id", DataType::Int64, false)]);
        assert!(matches!(Layout::of(&no_group), Err(Error::Data(_))));
        let bad = schema(vec![
            Field::new("customer_id", DataType::Int64, false),
            Field::new("group", DataType::Utf8, false),
            Field::new("x", DataType::Boolean, false),
        ]);
        let e = Layout::of(&bad).unwrap_err().to_string();
        assert!(e.contains("\"x\"") && e.contains("Boolean"), "{e}");
    }

    #[test]
    fn ids_outside_the_range_are_refused() {
        let ids = Int64Array::from(vec![5, 6, 9]);
        check_ids(&ids, &(5..10)).unwrap();
        assert!(check_ids(&ids, &(5..9)).is_err());
        assert!(check_ids(&ids, &(6..10)).is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("gro\"up"), "\"gro\"\"up\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b'c"), r"E'a\\b''c'");
    }
}
