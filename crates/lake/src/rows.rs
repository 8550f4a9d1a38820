//! Typed values from the record batches a query of the tables returns: a batch's columns by
//! name, cast to the type a row holds (DataFusion may hand text back as views or
//! dictionaries, a partition column at the end), and the NULLs a row cannot take.

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use deltalake::arrow::compute::cast;
use std::sync::Arc;

/// A batch's columns by name, each read whole as the values of one type.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    /// The columns of `batch`.
    pub fn new(batch: &'a RecordBatch) -> Self {
        Columns { batch }
    }

    /// The column `name` cast to `to`.
    fn get(&self, name: &str, to: &DataType) -> Result<ArrayRef> {
        let c = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| Error::Other(format!("no column {name}")))?;
        if c.data_type() == to {
            return Ok(Arc::clone(c));
        }
        cast(c, to).map_err(|e| Error::Other(format!("column {name}: {e}")))
    }

    /// The column `name` as text.
    ///
    /// # Errors
    /// [`Error::Other`] when there is no such column or it does not cast (the same for the
    /// other types).
    pub fn text(&self, name: &str) -> Result<Vec<Option<String>>> {
        let a = self.get(name, &DataType::Utf8)?;
        let a: &StringArray = a.as_string();
        Ok(a.iter().map(|v| v.map(str::to_owned)).collect())
    }

    /// The column `name` cast to `to`, as values of `T` (whose type `to` is).
    fn primitive<T: ArrowPrimitiveType>(
        &self,
        name: &str,
        to: &DataType,
    ) -> Result<Vec<Option<T::Native>>> {
        let a = self.get(name, to)?;
        Ok(a.as_primitive::<T>().iter().collect())
    }

    /// The column `name` as 64-bit floats.
    pub fn real(&self, name: &str) -> Result<Vec<Option<f64>>> {
        self.primitive::<Float64Type>(name, &DataType::Float64)
    }

    /// The column `name` as 64-bit floats, all NULL when the batch has no such column (a
    /// column added to a table after some of its rows were written).
    ///
    /// # Errors
    /// [`Error::Other`] when the column does not cast.
    pub fn real_or_absent(&self, name: &str) -> Result<Vec<Option<f64>>> {
        if self.batch.column_by_name(name).is_none() {
            return Ok(vec![None; self.batch.num_rows()]);
        }
        self.real(name)
    }

    /// The column `name` as text, all NULL when the batch has no such column.
    ///
    /// # Errors
    /// [`Error::Other`] when the column does not cast.
    pub fn text_or_absent(&self, name: &str) -> Result<Vec<Option<String>>> {
        if self.batch.column_by_name(name).is_none() {
            return Ok(vec![None; self.batch.num_rows()]);
        }
        self.text(name)
    }

    /// The column `name` as 64-bit integers.
    pub fn int(&self, name: &str) -> Result<Vec<Option<i64>>> {
        self.primitive::<Int64Type>(name, &DataType::Int64)
    }

    /// The column `name` as booleans.
    pub fn flag(&self, name: &str) -> Result<Vec<Option<bool>>> {
        let a = self.get(name, &DataType::Boolean)?;
        Ok(a.as_boolean().iter().collect())
    }

    /// The column `name` as dates.
    pub fn date(&self, name: &str) -> Result<Vec<Option<NaiveDate>>> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
        let days = self.primitive::<Date32Type>(name, &DataType::Date32)?;
        Ok(days
            .into_iter()
            .map(|d| d.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(d.into()))))
            .collect())
    }

    /// The column `name` as instants (microseconds, UTC).
    pub fn time(&self, name: &str) -> Result<Vec<Option<DateTime<Utc>>>> {
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let micros = self.primitive::<TimestampMicrosecondType>(name, &utc)?;
        Ok(micros
            .into_iter()
            .map(|t| t.and_then(DateTime::from_timestamp_micros))
            .collect())
    }
}

/// The value of column `name`, which a row cannot do without.
///
/// # Errors
/// [`Error::Other`] saying `a NULL <name>` when it is NULL.
pub fn required<T>(v: Option<T>, name: &str) -> Result<T> {
    v.ok_or_else(|| Error::Other(format!("a NULL {name}")))
}
