//! What `abforge analyze` runs, as a library, for the command line and for the pipeline
//! that analyses experiments read from a database.
//!
//! * [`input`]: an experiment's data split by group, a [`Dataset`]: [`read`] reads a
//!   Parquet file (as `abforge generate` writes it, the blueprint in its metadata) or a CSV
//!   file; [`Dataset::from_batches`] takes Arrow record batches (with the experiment's
//!   resolved blueprint, when known). [`Columns`] says which columns to read: by default
//!   every numeric column but the group, ids and `pre_<metric>` covariates.
//! * [`report`]: [`analyze`] runs, with [`Options`], every applicable A/B test of
//!   [`abforge_stats`] on every metric × treatment arm, CUPED where a `pre_<metric>`
//!   covariate was read, Lin's regression on every `pre_*` column, the cluster-robust test
//!   on a cluster column ([`extra`]), the sample-ratio check, the multiple-testing corrections and the
//!   ratio metrics asked for; with the blueprint it judges each test's decision against the
//!   known truth ([`abforge_synth::truth`]). The [`Report`] serialises as the JSON of
//!   `abforge analyze --json`; [`Report::decisions`] flattens it into one [`Decision`] per
//!   metric × arm × test, for a table.
//! * [`power`]: [`power::plan`] solves a power calculation (sample size, power or minimum
//!   detectable effect), as `abforge power`.
//! * [`error`]: [`Error::Usage`] is bad input (exit code 2 on the command line); the other
//!   variants are failures.
//!
//! The text rendering of a report stays in the command line.
//!
//! ```
//! use std::sync::Arc;
//! use abforge_analysis::{Dataset, Options, analyze};
//! use arrow_array::{Int64Array, RecordBatch, StringArray};
//! use arrow_schema::{DataType, Field, Schema};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("group", DataType::Utf8, false),
//!     Field::new("items", DataType::Int64, false),
//! ]));
//! let groups: Vec<&str> = (0..40).map(|i| ["control", "treatment"][i % 2]).collect();
//! let items: Vec<i64> = (0..40).map(|i| (i % 7) as i64 + (i % 2) as i64).collect();
//! let batch = RecordBatch::try_new(
//!     schema.clone(),
//!     vec![Arc::new(StringArray::from(groups)), Arc::new(Int64Array::from(items))],
//! )?;
//! let opts = Options::new("orders");
//! let ds = Dataset::from_batches(&opts.input, &schema, [batch], &opts.columns(), None)?;
//! let report = analyze(&opts, &ds)?;
//! assert_eq!(report.metrics[0].primary_test, "poisson_rate");
//! let decisions = report.decisions();
//! assert!(decisions.iter().any(|d| d.primary && d.test == "poisson_rate"));
//! assert!(decisions.iter().all(|d| d.outcome.is_none()), "no blueprint, no truth");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod error;
pub mod extra;
pub mod input;
pub mod power;
pub mod report;

pub use abforge_stats::{Alternative, Correction, Verdict};
pub use abforge_stats::{MetricPrior, PRIOR_FORMS, PriorLaw};
pub use abforge_synth::Blueprint;
pub use error::{Error, Result};
pub use extra::{MAX_QUANTILES, quantile_key};
pub use input::{Columns, Dataset, MetricData, read};
pub use report::{
    Adjusted, Decision, Entry, EntryTruth, Options, RatioEntry, RatioGroup, RatioGroups, RatioSpec,
    Report, SRM_ALPHA, SequentialPlan, SequentialSrm, Srm, SrmGroup, TestTruth, analyze,
};
