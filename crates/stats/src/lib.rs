//! Two-sample statistics for A/B tests, checked against scipy and statsmodels.
//!
//! Every two-sample function takes **treatment first and control second**, and every
//! difference, statistic and interval is about **treatment − control** (or treatment /
//! control for ratios). The defaults are two-sided tests at α = 0.05 with 95 % intervals;
//! a [`Hypothesis`] changes the alternative, α and the null value (for example a
//! non-inferiority margin). The crate is synchronous, does no I/O and knows nothing of
//! blueprints or storage.
//!
//! # Tour
//!
//! * **Summaries.** [`Summary`] holds `n`, the mean and `m2 = Σ(x − x̄)²`, built stably in
//!   parallel from a slice, one value at a time, or merged; a Monte Carlo lab can test from
//!   summaries alone. [`RatioSummary`] does the same for paired `(x, y)` ratio metrics.
//! * **Means.** [`welch_t`] and [`student_t`] (scipy `ttest_ind`), [`relative_lift`] with a
//!   delta-method interval, [`ratio_test`] for ratio metrics.
//! * **Ratios.** [`fieller()`] (and [`fieller_means`], [`fieller_ratio_metric`],
//!   [`fieller_ratio_metrics`]): Fieller's confidence sets for `mean(T)/mean(C)` and ratio
//!   metrics, which say "unbounded" when the denominator is noisy instead of printing a
//!   delta-method interval that does not cover.
//! * **Quantiles.** [`quantile_test`]: the difference of the groups' `p`-quantiles (the
//!   lake's type-1 definition, [`sample_quantile`]) with the order-statistic standard error
//!   of Deng, Knoblich & Lu, refused on atoms; [`quantile_bootstrap`] (percentile, seeded);
//!   per group [`group_quantile`] and distribution-free [`order_statistic_ranks`].
//! * **Capping.** [`winsorized_welch`]: both arms clipped at pooled quantiles (GrowthBook's
//!   percentile capping, Statsig's winsorisation), then Welch's test — of the capped means,
//!   another estimand than the means.
//! * **Ranks.** [`mann_whitney_u`] (scipy `mannwhitneyu`, asymptotic or exact), in
//!   O(n log n); [`mann_whitney_u_sorted`] skips the sort.
//! * **Binary metrics.** [`two_proportion_z`], [`chi_square_2x2`] (with Yates),
//!   [`fisher_exact`].
//! * **Count metrics.** [`poisson_rate`] (statsmodels `test_poisson_2indep`, score and Wald,
//!   ratio and difference).
//! * **Design checks.** [`srm()`] for sample-ratio mismatch; [`srm_sequential()`] and
//!   [`SrmSequence`] for the anytime-valid Dirichlet–multinomial version that may be checked
//!   every day.
//! * **Several tests.** [`adjust`] (Bonferroni, Holm, Benjamini–Hochberg),
//!   [`adjusted_intervals`] (intervals that agree with the adjusted p-values: Bonferroni,
//!   Strassburger–Bretz for Holm, Benjamini–Yekutieli FCR for BH) and [`analyze_arms`] for
//!   A/B/n experiments.
//! * **Power.** [`TTestIndPower`] (on the [`NoncentralT`] law), [`NormalIndPower`], two
//!   proportions ([`proportions_solve_nobs1`], [`proportions_mde`]) and Poisson rates
//!   ([`poisson_ratio_power`]); solve for sizes or minimum detectable effects.
//! * **Resampling.** [`bootstrap()`] (percentile and BCa intervals of the mean difference and
//!   the relative lift) and [`permutation_test`], seeded and parallel, independent of the
//!   thread count.
//! * **Variance reduction.** [`cuped()`] adjusts a metric on its pre-period covariate;
//!   [`cupac()`] on a cross-fitted prediction of it from several pre-period features;
//!   [`lin_regression`] on several covariates (Lin's interacted regression), with HC0–HC3
//!   or cluster-robust (CR1, CR2) standard errors.
//! * **Cluster-randomised experiments.** [`lin_regression`] with cluster ids, and
//!   [`cluster_mean_difference`], the delta-method comparison of per-observation means.
//! * **Bayesian.** [`beta_binomial`] for conversions and [`normal_means`] for means:
//!   `P(T > C)`, expected losses and credible intervals.
//! * **Sequential.** [`msprt`]: always-valid p-values and confidence sequences, so an
//!   experiment can be watched and stopped early; [`MsprtSequence`] folds the looks.
//!   [`gsd_design`] plans a few looks instead: group-sequential critical values from
//!   Lan–DeMets α-spending (O'Brien–Fleming-like, Pocock-like, Hwang–Shih–DeCani, power
//!   family) or classical Pocock / O'Brien–Fleming boundaries, the decision at each look,
//!   repeated confidence intervals, and power and expected sample size under a drift.
//!   And [`asymptotic_cs`] and [`asymptotic_cs_lift`]: GrowthBook's asymptotic confidence
//!   sequences of the difference and the lift, tuned to a planned sample size;
//!   [`AsymptoticCsSequence`] folds the looks.
//! * **Everything at once.** [`analyze_metric`] decides which tests apply to a metric and
//!   returns a serialisable [`MetricAnalysis`], the CLI's JSON.
//!
//! ```
//! use abforge_stats::{AnalyzeOptions, Hypothesis, Summary, analyze_metric, welch_t};
//!
//! let control = [2.0, 3.0, 1.0, 2.0, 4.0, 2.0, 3.0, 1.0];
//! let treatment = [3.0, 2.0, 4.0, 3.0, 5.0, 2.0, 4.0, 3.0];
//! let a = analyze_metric("items", &control, &treatment, &AnalyzeOptions::default())?;
//! let welch = a.tests.welch_t.unwrap();
//! assert!(welch.ci_low < welch.estimate && welch.estimate < welch.ci_high);
//! assert!(a.tests.poisson_rate.is_some()); // non-negative integers: a count metric
//!
//! // The same Welch test from sufficient statistics only.
//! let r = welch_t(&Summary::from_slice(&treatment), &Summary::from_slice(&control),
//!                 &Hypothesis::default())?;
//! assert_eq!(r.statistic, welch.statistic);
//! # Ok::<(), abforge_stats::Error>(())
//! ```
//!
//! # Degenerate inputs
//!
//! No function returns a silent NaN. When there is no variation at all (both groups the
//! same constant, an all-0 or all-1 binary metric, zero counts) the tests return statistic 0
//! and p-value 1 (scipy returns NaN); when the groups are distinct constants the statistic
//! would be infinite and the t, z and lift tests return [`Error::ZeroVariance`]. Too small
//! groups give [`Error::TooFewObservations`], NaN values [`Error::NonFinite`]. Open sides
//! of one-sided intervals are ±∞ and serialise as JSON `null`.
#![deny(missing_docs)]

pub mod abn;
pub mod analyze;
pub mod bayes;
pub mod bootstrap;
pub mod cluster;
pub mod confidence_sequence;
pub mod cupac;
pub mod cuped;
mod dist;
mod error;
pub mod fieller;
pub mod group_sequential;
pub mod gsd_means;
pub mod hypothesis;
pub mod lift;
pub mod mann_whitney;
pub mod multiple;
pub mod noncentral_t;
pub mod outcome;
pub mod permutation;
pub mod poisson;
pub mod power;
pub mod proportions;
pub mod quantile;
pub mod rank_histogram;
pub mod ratio;
pub mod regression;
mod resample;
mod roots;
pub mod sequential;
pub mod simultaneous;
pub mod srm;
pub mod srm_sequential;
pub mod summary;
pub mod tdist;
pub mod ttest;
pub mod winsorize;

pub use abn::{AbnOptions, AbnReport, ArmComparison, MetricSamples, PrimaryTest, analyze_arms};
pub use analyze::{
    AnalyzeOptions, GroupStats, Groups, MannWhitneyAnalysis, MetricAnalysis, MetricKind,
    PoissonAnalysis, Tests, analyze_metric, analyze_metric_with_covariate,
};
pub use bayes::{
    BayesModel, BayesOptions, BayesResult, EffectPrior, MetricPrior, PRIOR_FORMS, PriorLaw,
    beta_binomial, normal_means, prob_beta_greater,
};
pub use bootstrap::{BootstrapInterval, BootstrapOptions, BootstrapResult, bootstrap};
pub use cluster::{ClusterMeanResult, cluster_mean_difference};
pub use confidence_sequence::{
    AsymptoticCsOptions, AsymptoticCsResult, AsymptoticCsSequence, CsScale, asymptotic_cs,
    asymptotic_cs_lift, rho_for_planned_n,
};
pub use cupac::{CupacResult, cupac};
pub use cuped::{CupedResult, cuped, cuped_from_summaries};
pub use dist::norm_sf;
pub use error::{Error, Group, Result};
pub use fieller::{
    FiellerResult, FiellerSet, RatioEstimates, fieller, fieller_means, fieller_ratio_metric,
    fieller_ratio_metrics,
};
pub use group_sequential::{
    Boundary, GsdDecision, GsdDesign, GsdLook, GsdLookDecision, GsdOperating, GsdOptions,
    RepeatedCi, gsd_design,
};
pub use gsd_means::{GsdMeansLook, GsdMeansResult, gsd_means};
pub use hypothesis::{Alternative, Hypothesis};
pub use lift::{LiftResult, relative_lift};
pub use mann_whitney::{
    MannWhitneyMethod, MannWhitneyOptions, MannWhitneyResult, mann_whitney_u, mann_whitney_u_sorted,
};
pub use multiple::{Correction, adjust};
pub use noncentral_t::NoncentralT;
pub use outcome::{Estimand, NullKind, Outcome, TestName, Verdict};
pub use permutation::{PermutationOptions, PermutationResult, permutation_test};
pub use poisson::{PoissonRateResult, RateCompare, RateMethod, poisson_rate};
pub use power::{
    NormalIndPower, PoissonPowerOptions, PoissonVariance, PowerOptions, TTestIndPower, cohens_d,
    cohens_h, poisson_ratio_mde, poisson_ratio_power, poisson_ratio_solve_nobs1, proportions_mde,
    proportions_power, proportions_solve_nobs1,
};
pub use proportions::{
    ChiSquareResult, FisherResult, ProportionZResult, chi_square_2x2, fisher_exact,
    two_proportion_z,
};
pub use quantile::{
    GroupQuantile, MAX_RESAMPLES, OrderStatisticRanks, QuantileBootstrapResult, QuantileTestResult,
    group_quantile, order_statistic_ranks, quantile_bootstrap, quantile_test, sample_quantile,
};
pub use rank_histogram::mann_whitney_u_histograms;
pub use ratio::{RatioSummary, RatioTestResult, ratio_test};
pub use regression::{
    Arm, Coefficient, Covariance, LinOptions, LinResult, ReferenceLaw, lin_regression,
};
pub use sequential::{MsprtOptions, MsprtResult, MsprtSequence, msprt};
pub use simultaneous::{AdjustedInterval, AdjustedIntervals, FamilyEstimate, adjusted_intervals};
pub use srm::{SrmResult, srm};
pub use srm_sequential::{SequentialSrmOptions, SequentialSrmResult, SrmSequence, srm_sequential};
pub use summary::Summary;
pub use tdist::t_two_sided;
pub use ttest::{TTestResult, student_t, welch_t};
pub use winsorize::{WinsorOptions, WinsorResult, winsorized_welch};
