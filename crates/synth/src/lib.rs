//! Synthetic A/B experiments whose truth is known.
//!
//! A [`Blueprint`] describes an experiment: its groups and their allocation, categorical
//! attributes, and the law of every metric in every group (Poisson, Gamma, Bernoulli,
//! LogNormal, Normal, negative binomial; zero-inflation, offsets, lifts, segment effects,
//! pre-period twins). [`Blueprint::resolve`] fixes its random choices; the [`Resolved`]
//! blueprint gives the [`Truth`] (true means, quantiles, effects, and Mann–Whitney estimands) and feeds
//! the [`Generator`], which draws customers as Arrow record batches, deterministically
//! whatever the thread count or sharding. [`BatchWriter`] writes them as Parquet, CSV or
//! JSON lines.
//!
//! ```
//! use abforge_synth::{Blueprint, Generator};
//!
//! let bp = Blueprint::from_toml(r#"
//!     id = "demo"
//!     seed = 7
//!     customers = 1000
//!     start_date = 2026-11-23
//!     days = 7
//!     [groups]
//!     control = 1
//!     treatment = 1
//!     [metrics.items]
//!     distribution = "poisson"
//!     control = { lambda = 2.0 }
//!     treatment = { lift = 0.10 }
//! "#)?;
//! let resolved = bp.resolve()?;
//! let truth = resolved.truth();
//! assert!((truth.metrics[0].effects[0].abs_effect - 0.2).abs() < 1e-12);
//!
//! let generator = Generator::new(resolved);
//! let batch = generator.chunk(0);
//! assert_eq!(batch.num_rows(), 1000);
//! assert_eq!(batch.schema().field(0).name(), "customer_id");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![recursion_limit = "256"]

pub mod blueprint;
mod cancel;
mod copula;
pub mod design;
pub mod dist;
mod error;
pub mod generate;
pub mod rng;
pub mod sink;
pub mod truth;

pub use blueprint::{Blueprint, Resolved, json_schema};
pub use cancel::{Cancel, CancelOnDrop};
pub use error::{Error, MAX_MESSAGE_LEN, MAX_PATH_LEN, MAX_PROBLEMS, Problem, Problems, Result};
pub use generate::{CHUNK_ROWS, Generator, NoReporter, Reporter, Shard};
pub use sink::{AtomicFile, BatchWriter, Format};
pub use truth::Truth;
