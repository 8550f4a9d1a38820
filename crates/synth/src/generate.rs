//! The generator: a resolved blueprint → Arrow record batches, deterministic and parallel.
//!
//! Rows are cut into chunks of [`CHUNK_ROWS`]. In chunk `c`, each column draws its values,
//! row after row, from its own random stream `(seed, c, column name)`: `group` one uniform
//! per row, each attribute one uniform per row, `purchase_date` one bounded integer, each
//! metric a uniform for zero-inflation (when it has one) then the value unless it is a
//! structural zero, and each `pre_` twin one standard normal. So the rows depend on the
//! blueprint and the seed only — not on the thread count, not on the sharding — and adding
//! a column leaves the others' values as they were.
//!
//! The design ([`crate::design`]) is drawn once per blueprint: with clusters, `cluster_id`
//! draws one uniform per row (stream `cluster`), the group is the cluster's under cluster
//! assignment, and a metric with an ICC draws its value through its inverse CDF from the
//! cluster's shared score and the row's own (stream `cluster:<metric>`); with `[time]`, the
//! purchase date is the day row `i` arrives on, and a metric whose effect changes takes the
//! law of that day.
//!
//! The pre-period twin of a metric `Y` is
//! `μc + ρ·(σc/σY)·(Y − μY) + √(1−ρ²)·σc·Z`, with `Z` standard normal, `(μY, σY)` the
//! customer's own law (group and segment) and `(μc, σc)` the control's in the same segment:
//! its correlation with `Y` is exactly `ρ` in every segment, and its mean and variance are
//! the control's in every group (no treatment has happened yet).

use crate::blueprint::{MetricModel, Resolved};
use crate::copula::{Copula, phi};
use crate::dist::{InverseTable, Sampler};
use crate::error::{Error, Result};
use crate::rng::{column_rng, design_rng};
use arrow_array::types::Int16Type;
use arrow_array::{
    ArrayRef, Date32Array, DictionaryArray, Float64Array, Int16Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

/// Rows per chunk: the unit of seeding. Part of the data format: changing it changes every
/// dataset.
pub const CHUNK_ROWS: u64 = 65_536;
/// Chunks per window (and per Parquet row group): 16 × 65 536 = 1 048 576 rows.
pub const WINDOW_CHUNKS: u64 = 16;

/// Schema metadata key holding the resolved blueprint (JSON) in every file written.
pub const META_BLUEPRINT: &str = "abforge.blueprint";

/// Shard `index` of `count`: a contiguous run of chunks. Written `K/N` with `0 <= K < N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard number.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad =
            || format!("{s:?} is not a shard; expected K/N with N >= 1 and 0 <= K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Receives progress from [`Generator::run`]. Implemented by the CLI's progress bar.
pub trait Reporter: Send + Sync {
    /// `rows` more rows were generated and written.
    fn on_rows(&self, rows: u64);
}

/// A reporter that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {
    fn on_rows(&self, _rows: u64) {}
}

/// Per cell and arm: the sampler, the law's mean and standard deviation, and for a metric
/// joined by the copula its inverse CDF.
#[derive(Debug, Clone)]
struct CellArm {
    sampler: Sampler,
    mean: f64,
    sd: f64,
    inverse: Option<InverseTable>,
}

/// Per metric (in the order of `Resolved::metrics`), `cells[cell][arm]`; the last cell is
/// "no segment".
type Cells = Vec<Vec<CellArm>>;

/// Generates the customers of a resolved blueprint.
#[derive(Debug, Clone)]
pub struct Generator {
    resolved: Arc<Resolved>,
    schema: SchemaRef,
    group_cdf: Vec<f64>,
    attr_cdf: Vec<Vec<f64>>,
    start_day: i32,
    metrics: Vec<Cells>,
    ctrl: usize,
    dict_values: Vec<ArrayRef>,
    copula: Option<Copula>,
    /// Per metric, its laws on each day when its effect changes with time (else empty).
    daily: Vec<Vec<Cells>>,
    /// The cumulative cluster weights, when customers belong to clusters.
    cluster_cdf: Vec<f64>,
    /// Per metric, each cluster's shared normal score when the metric has an ICC.
    cluster_scores: Vec<Option<Vec<f64>>>,
}

/// The cumulative shares of positive `weights` (normalised), the last set to +∞ so that a
/// uniform draw `u` picks the first index whose value exceeds it: how the generator draws a
/// group or an attribute value.
pub fn cumulative_weights(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let w: Vec<f64> = weights.collect();
    let total: f64 = w.iter().sum();
    let mut acc = 0.0;
    let mut out: Vec<f64> = w
        .iter()
        .map(|x| {
            acc += x / total;
            acc
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = f64::INFINITY;
    }
    out
}

/// One chunk's rows before their metrics: which chunk, how many rows, and each row's
/// group, attribute values (one column per attribute), cluster and purchase day.
struct ChunkRows {
    /// The chunk's index.
    index: u64,
    /// Its number of rows.
    len: usize,
    /// Each row's group index.
    groups: Vec<i16>,
    /// Per attribute, each row's value index.
    attrs: Vec<Vec<i16>>,
    /// Each row's purchase day (days since 1970-01-01).
    dates: Vec<i32>,
    /// Each row's cluster (empty without clusters).
    clusters: Vec<u32>,
    /// Each row's day of the run (empty unless some effect changes with time).
    days: Vec<u32>,
}

/// One metric in one chunk: its model, its laws per cell and arm, and each row's cell.
struct MetricRows<'a> {
    /// The metric's fixed model.
    model: &'a MetricModel,
    /// `laws[cell][arm]`; the last cell is "no segment".
    laws: &'a [Vec<CellArm>],
    /// `daily[day][cell][arm]` when the metric's effect changes with time, else empty.
    daily: &'a [Cells],
    /// Each row's segment cell; empty when the metric has no segments.
    cells: Vec<usize>,
    /// Each row's day of the run; empty unless `daily` is used.
    days: &'a [u32],
}

impl MetricRows<'_> {
    /// The law of row `i`, in group `arm`: its cell's, on its day.
    #[inline]
    fn law(&self, i: usize, arm: i16) -> &CellArm {
        let c = self.cell(i);
        if self.daily.is_empty() {
            &self.laws[c][arm as usize]
        } else {
            &self.daily[self.days[i] as usize][c][arm as usize]
        }
    }

    /// The segment cell of row `i` (the last cell: no segment).
    #[inline]
    fn cell(&self, i: usize) -> usize {
        self.cells
            .get(i)
            .copied()
            .unwrap_or(self.model.segments.len())
    }
}

/// The laws of metric `m` per cell and arm, with the moments of each (and the inverse CDF
/// when the metric is `joined` by the copula), the last cell being "no segment".
fn metric_cells(m: &MetricModel, joined: bool) -> Cells {
    let laws: Vec<&[crate::dist::Dist]> = m
        .segments
        .iter()
        .map(|s| s.arms.as_slice())
        .chain([m.base.as_slice()])
        .collect();
    cells_of(m, &laws, joined.then_some(InverseTable::new))
}

/// Per metric whose effect changes with time, its [`metric_cells`] on each day (inverse
/// CDFs tabulated only while the tables stay few: past [`MAX_DAILY_TABLES`] laws, the
/// untabulated inverse).
fn daily_cells(m: &MetricModel, joined: bool) -> Vec<Cells> {
    let laws = m.daily.len() * m.base.len() * (m.segments.len() + 1);
    let table = if laws <= MAX_DAILY_TABLES {
        InverseTable::new
    } else {
        InverseTable::untabulated
    };
    m.daily
        .iter()
        .map(|day| {
            let cells: Vec<&[crate::dist::Dist]> = day.iter().map(Vec::as_slice).collect();
            cells_of(m, &cells, joined.then_some(table))
        })
        .collect()
}

/// Largest number of per-day laws whose inverse CDFs are tabulated.
const MAX_DAILY_TABLES: usize = 4096;

/// [`CellArm`]s of `laws[cell][arm]`, with inverse CDFs made by `inverse` when given.
fn cells_of(
    m: &MetricModel,
    laws: &[&[crate::dist::Dist]],
    inverse: Option<fn(crate::dist::Dist) -> InverseTable>,
) -> Cells {
    let zi = m.zero_inflation;
    let cell = |d: &crate::dist::Dist| {
        // Moments of the whole law in the cell: zi·δ0 + (1 − zi)·(D + offset).
        let mu = d.mean() + m.offset;
        let mean = (1.0 - zi) * mu;
        let m2 = (1.0 - zi) * (d.variance() + mu * mu);
        CellArm {
            sampler: d.sampler(),
            mean,
            sd: (m2 - mean * mean).max(0.0).sqrt(),
            inverse: inverse.map(|f| f(*d)),
        }
    };
    laws.iter()
        .map(|arms| arms.iter().map(cell).collect())
        .collect()
}

/// The segment cell of each of `len` rows with attribute values `attrs` (the last cell: no
/// segment); empty when `model` has no segments.
fn segment_cells(model: &MetricModel, attrs: &[Vec<i16>], len: usize) -> Vec<usize> {
    if model.segments.is_empty() {
        return Vec::new();
    }
    let mut row = vec![0u16; attrs.len()];
    (0..len)
        .map(|i| {
            for (a, col) in attrs.iter().enumerate() {
                row[a] = col[i] as u16;
            }
            model.cell(&row).unwrap_or(model.segments.len())
        })
        .collect()
}

/// The values of a metric joined by the copula: row `i` turns its uniform `u[i]` into a
/// structural zero (when `u` is below the zero-inflation probability `π`) or into the
/// inverse CDF of its law at `(u − π)/(1 − π)`, plus the offset — the metric's law exactly,
/// whatever the other metrics.
fn joined_values(metric: &MetricRows, groups: &[i16], u: &[f64]) -> Vec<f64> {
    let model = metric.model;
    let zi = model.zero_inflation;
    u.iter()
        .enumerate()
        .map(|(i, &u)| {
            if u < zi {
                return 0.0;
            }
            let law = metric.law(i, groups[i]);
            // Φ of a far tail rounds to 0 or 1, where an inverse CDF is infinite.
            let v = ((u - zi) / (1.0 - zi)).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0);
            law.inverse
                .as_ref()
                .expect("joined metrics have inverse CDFs")
                .inverse_cdf(v)
                + model.offset
        })
        .collect()
}

/// A dictionary column of `keys` into `values`.
fn dict_column(keys: Vec<i16>, values: &ArrayRef) -> ArrayRef {
    Arc::new(
        DictionaryArray::<Int16Type>::try_new(Int16Array::from(keys), Arc::clone(values))
            .expect("keys in range"),
    )
}

#[inline]
fn pick(cdf: &[f64], u: f64) -> usize {
    cdf.partition_point(|c| *c <= u)
}

impl Generator {
    /// A generator for `resolved`.
    pub fn new(resolved: Resolved) -> Generator {
        let bp = &resolved.blueprint;
        let dict = DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8));
        let mut fields = vec![
            Field::new("customer_id", DataType::Int64, false),
            Field::new("experiment_id", dict.clone(), false),
            Field::new("group", dict.clone(), false),
        ];
        let mut dict_values: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![bp.id.as_str()])),
            Arc::new(StringArray::from_iter_values(
                bp.groups.iter().map(|(g, _)| g.as_str()),
            )),
        ];
        for a in &bp.attributes {
            fields.push(Field::new(&a.name, dict.clone(), false));
            dict_values.push(Arc::new(StringArray::from_iter_values(
                a.values.iter().map(|(v, _)| v.as_str()),
            )));
        }
        if bp.clusters.is_some() {
            fields.push(Field::new("cluster_id", DataType::Int64, false));
        }
        fields.push(Field::new("purchase_date", DataType::Date32, false));
        let copula = Copula::new(bp);
        let design = &resolved.design;
        let icc = |i: usize| design.clusters.as_ref().map_or(0.0, |c| c.icc[i]);
        let mut metrics = Vec::new();
        let mut daily = Vec::new();
        for (i, m) in resolved.metrics.iter().enumerate() {
            let ty = if m.kind.is_integer() {
                DataType::Int64
            } else {
                DataType::Float64
            };
            fields.push(Field::new(&m.name, ty, false));
            if m.pre_correlation.is_some() {
                fields.push(Field::new(
                    format!("pre_{}", m.name),
                    DataType::Float64,
                    false,
                ));
            }
            let joined = copula.as_ref().is_some_and(|c| c.metrics.contains(&i)) || icc(i) > 0.0;
            metrics.push(metric_cells(m, joined));
            daily.push(daily_cells(m, joined));
        }
        let cluster_scores = (0..resolved.metrics.len())
            .map(|i| {
                let c = design.clusters.as_ref().filter(|_| icc(i) > 0.0)?;
                let name = format!("cluster:score:{}", resolved.metrics[i].name);
                let mut r = design_rng(bp.seed, &name);
                Some(
                    c.weights
                        .iter()
                        .map(|_| StandardNormal.sample(&mut r))
                        .collect(),
                )
            })
            .collect();
        let meta = HashMap::from([
            (
                META_BLUEPRINT.to_string(),
                serde_json::to_string(&bp.to_json_value()).expect("JSON"),
            ),
            (
                "abforge.version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ]);
        let schema = Arc::new(Schema::new_with_metadata(fields, meta));
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
        let start_day =
            i32::try_from((bp.start_date - epoch).num_days()).expect("validated year range");
        Generator {
            group_cdf: cumulative_weights(bp.actual_allocation().into_iter()),
            attr_cdf: bp
                .attributes
                .iter()
                .map(|a| cumulative_weights(a.values.iter().map(|(_, w)| *w)))
                .collect(),
            start_day,
            ctrl: bp.control_index(),
            metrics,
            schema,
            dict_values,
            copula,
            daily,
            cluster_cdf: design
                .clusters
                .as_ref()
                .map_or_else(Vec::new, |c| cumulative_weights(c.weights.iter().copied())),
            cluster_scores,
            resolved: Arc::new(resolved),
        }
    }

    /// The resolved blueprint this generator draws from.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// The Arrow schema of every batch (it carries the resolved blueprint as metadata).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Number of chunks in the whole dataset.
    pub fn chunk_count(&self) -> u64 {
        self.resolved.blueprint.customers.div_ceil(CHUNK_ROWS)
    }

    /// The chunks of `shard` (all chunks when `None`).
    ///
    /// # Errors
    /// [`Error::Usage`] when the shard number is not below the shard count.
    pub fn chunks(&self, shard: Option<Shard>) -> Result<Range<u64>> {
        let c = self.chunk_count();
        match shard {
            None => Ok(0..c),
            Some(s) if s.count == 0 || s.index >= s.count => Err(Error::Usage(format!(
                "shard {s} does not exist; expected K/N with 0 <= K < N"
            ))),
            Some(s) => {
                let at = |k: u64| (u128::from(c) * u128::from(k) / u128::from(s.count)) as u64;
                Ok(at(s.index)..at(s.index + 1))
            }
        }
    }

    /// Number of rows in `chunks`.
    pub fn rows_in(&self, chunks: &Range<u64>) -> u64 {
        let n = self.resolved.blueprint.customers;
        (chunks.end * CHUNK_ROWS)
            .min(n)
            .saturating_sub(chunks.start * CHUNK_ROWS)
    }

    /// Generates chunk `index`.
    pub fn chunk(&self, index: u64) -> RecordBatch {
        let bp = &self.resolved.blueprint;
        let start = index * CHUNK_ROWS;
        let end = (start + CHUNK_ROWS).min(bp.customers);
        let len = usize::try_from(end.saturating_sub(start)).expect("chunk fits in memory");
        let rows = self.draw_rows(index, len);
        let uniforms = self
            .copula
            .as_ref()
            .map(|c| (c, c.uniforms(bp.seed, index, len)));
        let mut metric_cols: Vec<ArrayRef> = Vec::new();
        for (i, model) in self.resolved.metrics.iter().enumerate() {
            let latent = self.cluster_uniforms(i, &rows);
            let u = uniforms.as_ref().and_then(|(c, u)| {
                let at = c.metrics.iter().position(|m| *m == i)?;
                Some(u[at].as_slice())
            });
            self.push_metric(&mut metric_cols, &rows, i, model, latent.as_deref().or(u));
        }
        // Put the columns in schema order: ids, group, attributes, date, then the metrics.
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(start as i64..end as i64)),
            dict_column(vec![0; len], &self.dict_values[0]),
            dict_column(rows.groups, &self.dict_values[1]),
        ];
        for (a, keys) in rows.attrs.into_iter().enumerate() {
            cols.push(dict_column(keys, &self.dict_values[2 + a]));
        }
        if bp.clusters.is_some() {
            cols.push(Arc::new(Int64Array::from_iter_values(
                rows.clusters.iter().map(|c| i64::from(*c)),
            )));
        }
        cols.push(Arc::new(Date32Array::from(rows.dates)));
        cols.extend(metric_cols);
        RecordBatch::try_new(self.schema(), cols).expect("columns match the schema")
    }

    /// The random stream of `column` in chunk `index`. Each column draws from its own
    /// stream, keyed by its name: adding a metric or an attribute leaves every other
    /// column's values unchanged.
    fn rng(&self, index: u64, column: &str) -> Xoshiro256PlusPlus {
        column_rng(self.resolved.blueprint.seed, index, column)
    }

    /// The draws of the `len` rows of chunk `index` before their metrics: each row's group,
    /// attribute values and purchase day.
    fn draw_rows(&self, index: u64, len: usize) -> ChunkRows {
        let bp = &self.resolved.blueprint;
        let picks = |cdf: &[f64], column: &str| -> Vec<i16> {
            let mut r = self.rng(index, column);
            (0..len)
                .map(|_| pick(cdf, r.random::<f64>()) as i16)
                .collect()
        };
        let clusters: Vec<u32> = if self.cluster_cdf.is_empty() {
            Vec::new()
        } else {
            let mut r = self.rng(index, "cluster");
            (0..len)
                .map(|_| pick(&self.cluster_cdf, r.random::<f64>()) as u32)
                .collect()
        };
        let design = &self.resolved.design;
        let groups = match design.clusters.as_ref().filter(|c| !c.arms.is_empty()) {
            Some(c) => clusters
                .iter()
                .map(|k| c.arms[*k as usize] as i16)
                .collect(),
            None => picks(&self.group_cdf, "group"),
        };
        let attrs: Vec<Vec<i16>> = bp
            .attributes
            .iter()
            .zip(&self.attr_cdf)
            .map(|(a, cdf)| picks(cdf, &a.name))
            .collect();
        let (dates, days) = match &design.arrivals {
            // Customers arrive in order: row `start + i` on the day its position falls in.
            Some(a) => {
                let first = index * CHUNK_ROWS;
                let days: Vec<u32> = (0..len as u64).map(|i| a.day_of(first + i)).collect();
                let dates = days.iter().map(|d| self.start_day + *d as i32).collect();
                let daily = design.effect_changes();
                (dates, if daily { days } else { Vec::new() })
            }
            None => {
                let mut r = self.rng(index, "purchase_date");
                let dates = (0..len)
                    .map(|_| self.start_day + r.random_range(0..bp.days) as i32)
                    .collect();
                (dates, Vec::new())
            }
        };
        ChunkRows {
            index,
            len,
            groups,
            attrs,
            dates,
            clusters,
            days,
        }
    }

    /// The uniforms of metric `i`'s values in `rows` when it has a cluster ICC `ρ`: `Φ` of
    /// `√ρ·B + √(1 − ρ)·E`, with `B` the cluster's score and `E` the row's own (from the
    /// stream `cluster:<metric>`).
    fn cluster_uniforms(&self, i: usize, rows: &ChunkRows) -> Option<Vec<f64>> {
        let scores = self.cluster_scores[i].as_ref()?;
        let rho = self.resolved.design.clusters.as_ref()?.icc[i];
        let (shared, own) = (rho.sqrt(), (1.0 - rho).sqrt());
        let name = format!("cluster:{}", self.resolved.metrics[i].name);
        let mut r = self.rng(rows.index, &name);
        let u = rows
            .clusters
            .iter()
            .map(|k| {
                let e: f64 = StandardNormal.sample(&mut r);
                phi(shared * scores[*k as usize] + own * e)
            })
            .collect();
        Some(u)
    }

    /// Appends the column of metric `i` (model `model`) for `rows`, then its `pre_` twin
    /// when it has one; `uniforms`: the copula's (or the cluster's), for a metric it joins.
    fn push_metric(
        &self,
        cols: &mut Vec<ArrayRef>,
        rows: &ChunkRows,
        i: usize,
        model: &MetricModel,
        uniforms: Option<&[f64]>,
    ) {
        let metric = MetricRows {
            model,
            laws: &self.metrics[i],
            daily: &self.daily[i],
            cells: segment_cells(model, &rows.attrs, rows.len),
            days: &rows.days,
        };
        let values = match uniforms {
            Some(u) => joined_values(&metric, &rows.groups, u),
            None => self.metric_values(rows, &metric),
        };
        let pre = model
            .pre_correlation
            .map(|rho| self.pre_twin(rows, &metric, &values, rho));
        let col: ArrayRef = if model.kind.is_integer() {
            Arc::new(Int64Array::from_iter_values(
                values.iter().map(|v| *v as i64),
            ))
        } else {
            Arc::new(Float64Array::from(values))
        };
        cols.push(col);
        cols.extend(pre);
    }

    /// A metric's value in each row: a structural zero (with the zero-inflation probability)
    /// or a draw from the row's law plus the offset.
    fn metric_values(&self, rows: &ChunkRows, metric: &MetricRows) -> Vec<f64> {
        let model = metric.model;
        let mut r = self.rng(rows.index, &model.name);
        (0..rows.len)
            .map(|i| {
                let law = metric.law(i, rows.groups[i]);
                if model.zero_inflation > 0.0 && r.random::<f64>() < model.zero_inflation {
                    0.0
                } else {
                    law.sampler.sample(&mut r) + model.offset
                }
            })
            .collect()
    }

    /// The `pre_` twin of a metric's `values`: of correlation `rho` with them in every cell, with
    /// the control's mean and standard deviation in the row's cell.
    fn pre_twin(
        &self,
        rows: &ChunkRows,
        metric: &MetricRows,
        values: &[f64],
        rho: f64,
    ) -> ArrayRef {
        let mut r = self.rng(rows.index, &format!("pre_{}", metric.model.name));
        let twin: Vec<f64> = (0..rows.len)
            .map(|i| {
                let c = metric.cell(i);
                let (law, ctrl) = (metric.law(i, rows.groups[i]), &metric.laws[c][self.ctrl]);
                let z: f64 = StandardNormal.sample(&mut r);
                let (std_y, rho) = if law.sd > 0.0 {
                    ((values[i] - law.mean) / law.sd, rho)
                } else {
                    (0.0, 0.0)
                };
                ctrl.mean + ctrl.sd * (rho * std_y + (1.0 - rho * rho).sqrt() * z)
            })
            .collect();
        Arc::new(Float64Array::from(twin))
    }

    /// Generates `chunks` window by window (in parallel within a window, on the current
    /// rayon pool) and hands each window's batches, in order, to `sink`.
    ///
    /// # Errors
    /// The first error of `sink`.
    pub fn run(
        &self,
        chunks: Range<u64>,
        mut sink: impl FnMut(Vec<RecordBatch>) -> Result<()>,
        reporter: &dyn Reporter,
    ) -> Result<()> {
        let mut at = chunks.start;
        while at < chunks.end {
            let to = (at + WINDOW_CHUNKS).min(chunks.end);
            let batches: Vec<RecordBatch> =
                (at..to).into_par_iter().map(|c| self.chunk(c)).collect();
            let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
            sink(batches)?;
            reporter.on_rows(rows);
            at = to;
        }
        Ok(())
    }
}
