//! The ground-truth lab: how often do A/B tests decide right?
//!
//! Every blueprint's truth is known ([`abforge_synth::Truth`]), so a test's decisions can
//! be judged by Monte Carlo. [`calibrate`] simulates `R` independent experiments from a
//! blueprint and runs every applicable test ([`Method`]) on every metric × treatment arm;
//! each decision is judged against **its own** null — the mean difference for t-, z-,
//! Poisson-rate, lift, Fieller, CUPED, regression, Bayesian, mSPRT, group-sequential,
//! cluster-robust, capped, bootstrap and permutation tests, `P(T > C) + ½P(T = C) = ½` for Mann–Whitney, the true
//! medians' difference for the median test — and the [`Calibration`] reports, per
//! metric × arm × test: the rejection rate with a Wilson 95 % interval, the type I error or
//! the power, the analytic power where a formula exists, the coverage of the true effect by
//! the test's interval, the Kolmogorov–Smirnov distance of the p-values from uniform under
//! a true null, the confusion matrix, and whether the test is **miscalibrated** (α outside
//! the interval of its type I error).
//!
//! # How a run is made
//!
//! * **Reproducible whatever the thread count.** Replication `r` draws every value from
//!   random streams derived from `(seed, r)` only (per metric and group, with
//!   [`abforge_synth::rng::column_rng`]); replications run in parallel blocks whose counts
//!   are merged in block order, and resampling tests seed their own streams from the
//!   replication. One thread or sixteen give the same report, bit for bit.
//! * **Streaming.** Each replication draws each group's values straight from the resolved
//!   samplers into per-thread buffers reused across replications, tests them, and keeps
//!   only counts (and, under a true null, one p-value per test): memory is O(n + R), never
//!   R × n.
//! * **Fixed group sizes.** Customers are split between groups at the realised allocation
//!   (largest remainder), as in a completely randomised design with fixed sizes.
//! * **Designs drawn by the generator.** A blueprint with clusters that matter (an ICC, or
//!   whole clusters randomised), an effect that changes by day (novelty, ramp) or metrics
//!   joined by correlations is drawn instead by synth's generator: each replication is the
//!   dataset `generate` would write under the replication's seed — its own cluster sizes and
//!   cluster-to-arm assignment, its own daily arrivals, random group sizes — so the naive
//!   tests' failures on it are real ones. With an effect that changes by day, the truth
//!   (the whole run's effect, the days weighted by their customers) is computed per
//!   replication.
//! * **Estimates and stopping.** Every result with an estimate reports its bias against
//!   the truth (with its Monte Carlo standard error): a test of another estimand, such as
//!   the capped means of `winsorized_welch`, shows there how far it lands from the true
//!   effect. With several looks, sequential tests report the mean customers at stopping.
//! * **Families.** A test run on two or more metric × arm pairs is also judged as a family
//!   ([`FamilyResult`]): the family-wise error rate, false discovery rate and power of its
//!   p-values uncorrected and under Bonferroni, Holm and Benjamini–Hochberg.
//! * **Choices.** For a blueprint with `choose` parameters each replication resolves its
//!   own choices (and its own truth), so a run mixes true nulls and true effects, like the
//!   seed's weekly runs: the confusion matrix shows type I and type II errors side by side.
//! * **Claims.** With a lift drawn from a prior (or any `choose`) every replication has its
//!   own true effect, and the Bayesian test's `P(T > C)` is scored against it
//!   ([`claims`]): binned claims beside the realised share of positive effects, the Brier
//!   score and Spiegelhalter's test, under the flat prior or the blueprint's
//!   ([`LabOptions::bayes_prior`]). A model is prepared per replication then, and kept
//!   (at most 256) only for `choose`.
//! * **Peeking.** With [`LabOptions::peeks`] `= K`, each experiment is looked at after
//!   `k/K` of its customers: a fixed-horizon test that rejects at any look has rejected
//!   (naive peeking inflates its type I error), while the mSPRT's always-valid p-value and
//!   confidence sequence keep theirs, and the group-sequential tests, whose Lan–DeMets
//!   designs (built once per run) plan exactly these `K` looks, spend α over them.
//! * **Sample-ratio checks.** Every run also calibrates the checks of the split of customers
//!   over the groups ([`srm`]): the χ² test at the last look, the χ² test at every look and
//!   the sequential test of Lindon & Malek, judged against the blueprint's `[actual_groups]`
//!   (counts only: cheap), at their own level [`LabOptions::srm_alpha`].
//! * **Other engines.** With [`LabOptions::engine`], an external A/B engine gets the same
//!   replications through the engine protocol (`docs/engine-protocol.md`: Arrow IPC
//!   requests, JSON-line answers, long-lived processes) and its answers are judged as the
//!   lab's own tests ([`EngineReport`]); `abforge-reference-engine`, this crate's binary,
//!   answers with abforge's own Welch test and mSPRT and checks the protocol end to end.
//! * **Power curves.** [`sweep()`] repeats the calibration over the values of an effect
//!   size or the customer count ([`SweepSpec`]); [`plot_sweep`] and [`plot_calibration`]
//!   draw them as SVG.
//!
//! ```
//! use abforge_lab::{LabOptions, Method, NoReporter, calibrate};
//! use abforge_synth::Blueprint;
//!
//! let bp = Blueprint::from_toml(r#"
//!     id = "aa"
//!     seed = 1
//!     customers = 400
//!     start_date = 2026-11-23
//!     days = 7
//!     [groups]
//!     control = 1
//!     treatment = 1
//!     [metrics.revenue]
//!     distribution = "gamma"
//!     control = { shape = 2, scale = 10 }
//!     treatment = { lift = 0 }
//! "#)?;
//! let opts = LabOptions {
//!     replications: 400,
//!     methods: Some(vec![Method::WelchT, Method::MannWhitneyU]),
//!     ..LabOptions::default()
//! };
//! let cal = calibrate(&bp, &opts, &NoReporter)?;
//! let welch = &cal.results[0];
//! assert_eq!((welch.test, welch.null_true), (Method::WelchT, Some(true)));
//! assert!(welch.ci_low < 0.05 && 0.05 < welch.ci_high); // Welch holds α on an A/A test
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod claims;
mod engine;
mod error;
mod family;
mod generated;
pub mod method;
mod model;
pub mod plot;
pub mod report;
pub mod run;
pub mod srm;
pub mod sweep;

pub use abforge_stats::{MetricPrior, PriorLaw};
pub use claims::{BayesPrior, ClaimBin, ClaimCalibration};
pub use engine::{EngineFailure, EngineOptions, EngineReport, EngineTest, PROTOCOL};
pub use error::{Error, Result};
pub use method::{Method, MetricClass, Null};
pub use plot::{calibration_svg, plot_calibration, plot_sweep, results_svg, sweep_svg};
pub use report::{
    Calibration, Confusion, CorrectionResult, FamilyResult, TestResult, ks_uniform, wilson,
};
pub use run::{LabOptions, NoReporter, Reporter, calibrate};
pub use srm::{DEFAULT_SRM_ALPHA, SrmCalibration, SrmCheck, SrmCheckResult};
pub use sweep::{ArmKey, SweepParam, SweepPoint, SweepReport, SweepSpec, sweep};
