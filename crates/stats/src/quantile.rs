//! Quantile metrics: the difference of the `p`-quantiles treatment − control (a median, a
//! p90 latency), with a distribution-free interval per group, an order-statistic standard
//! error and z test (Deng, Knoblich & Lu, KDD 2018), and a seeded percentile bootstrap.
//!
//! # The sample quantile
//!
//! The `p`-quantile of a group of `n` values is the order statistic `x₍ₖ₎` with `k` the
//! smallest rank such that `k / n ≥ p` (the ratio compared in `f64`): the smallest value
//! whose share at or below it is at least `p`, Hyndman & Fan's type 1, the inverse of the
//! empirical CDF, never interpolated. It is the lake's `gold/group_quantiles` definition and
//! numpy's `np.quantile(x, p, method='inverted_cdf')`, except where numpy's `n·p` rounds past
//! an integer: for `n = 100, p = 0.07` (`100 · 0.07 = 7.000000000000001`) numpy returns
//! `x₍₈₎`, this module and the lake `x₍₇₎`.
//!
//! # Limits
//!
//! Groups hold 2 to 2³² − 1 values; the bootstrap draws 10 to [`MAX_RESAMPLES`] resamples.
//! Each call sorts a copy of both groups (O(n log n), in parallel); the bootstrap then costs
//! O(1) per resample, whatever `n`.

use rand_distr::{Beta, Distribution};
use rayon::prelude::*;
use serde::Serialize;

use crate::bootstrap::{BootstrapOptions, check_sample, quantile_sorted};
use crate::error::{Error, Group, Result, check_open};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};
use crate::resample::{BLOCK, block_rng};

/// Salt of the quantile bootstrap's random streams.
const SALT: u64 = 0x9_0A47;

/// The most bootstrap resamples [`quantile_bootstrap`] draws (their replicates are kept and
/// sorted: 8 bytes each).
pub const MAX_RESAMPLES: u32 = 10_000_000;

/// `Φ⁻¹(0.975)`: the order statistics that bracket a quantile for its standard error are those
/// of a 95 % interval, whatever the test's α (the standard error is the estimator's, not the
/// level's).
const Z95: f64 = 1.959_963_984_540_054;

/// One group's `p`-quantile: the estimate, a distribution-free confidence interval from order
/// statistics, and the order-statistic standard error of Deng, Knoblich & Lu (2018).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GroupQuantile {
    /// Number of values.
    pub n: u64,
    /// The probability `p`.
    pub p: f64,
    /// The rank `k` of the estimate, the smallest with `k / n ≥ p`.
    pub rank: u64,
    /// The sample quantile `x₍ₖ₎`.
    pub estimate: f64,
    /// Lower bound `x₍ₗ₎` of the distribution-free interval (JSON `null`, −∞, when `l = 0`).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper bound `x₍ᵤ₎` of the distribution-free interval (JSON `null`, +∞, when `u = n + 1`).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// The rank `l` of the lower bound.
    pub ci_rank_low: u64,
    /// The rank `u` of the upper bound.
    pub ci_rank_high: u64,
    /// The exact coverage `P(l ≤ B ≤ u − 1)`, `B ~ Binomial(n, p)`, of the interval for a
    /// continuous law (at least `1 − α`; higher for discrete values).
    pub ci_coverage: f64,
    /// The rank `L` of the lower bracketing order statistic.
    pub bracket_rank_low: u64,
    /// The rank `U` of the upper bracketing order statistic.
    pub bracket_rank_high: u64,
    /// `x₍L₎`.
    pub bracket_low: f64,
    /// `x₍U₎`.
    pub bracket_high: f64,
    /// The standard error of the estimate, `(x₍U₎ − x₍L₎) / (2 · 1.96)`.
    pub std_error: f64,
    /// The density at the quantile that this standard error implies,
    /// `f̂ = sqrt(p (1 − p) / n) / std_error`.
    pub density: f64,
}

/// The result of [`quantile_test`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct QuantileTestResult {
    /// The probability `p`.
    pub p: f64,
    /// The treatment group's quantile.
    pub treatment: GroupQuantile,
    /// The control group's quantile.
    pub control: GroupQuantile,
    /// `q_T − q_C`.
    pub estimate: f64,
    /// `sqrt(se_T² + se_C²)`.
    pub std_error: f64,
    /// `(estimate − null) / std_error`.
    pub statistic: f64,
    /// The normal p-value for the alternative.
    pub p_value: f64,
    /// Lower confidence bound of the difference.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper confidence bound of the difference.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// The difference under H0.
    pub null: f64,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at α.
    pub reject: bool,
}

/// The type-1 sample `p`-quantile of `xs` (see the module docs), in O(n) time on a copy.
///
/// ```
/// use abforge_stats::sample_quantile;
///
/// let xs: Vec<f64> = (1..=100).map(f64::from).collect();
/// assert_eq!(sample_quantile(&xs, 0.07)?, 7.0); // numpy 'inverted_cdf' gives 8.0
/// assert_eq!(sample_quantile(&xs, 0.5)?, 50.0);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidInput`] for an empty slice or a non-finite value,
/// [`Error::InvalidParameter`] for `p` outside (0, 1).
pub fn sample_quantile(xs: &[f64], p: f64) -> Result<f64> {
    check_open("p", p, 0.0, 1.0)?;
    if xs.is_empty() {
        return Err(Error::InvalidInput(
            "a quantile needs at least one value".into(),
        ));
    }
    if let Some(i) = xs.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "non-finite value at index {i}"
        )));
    }
    let k = rank(xs.len() as u64, p) as usize;
    let mut v = xs.to_vec();
    let (_, kth, _) = v.select_nth_unstable_by(k - 1, f64::total_cmp);
    Ok(*kth)
}

/// The ranks of a `p`-quantile and of its distribution-free interval among `n` values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct OrderStatisticRanks {
    /// The rank `k` of the sample quantile (the smallest with `k / n ≥ p`).
    pub rank: u64,
    /// The rank `l` of the lower bound (0: the bound is −∞).
    pub ci_low: u64,
    /// The rank `u` of the upper bound (`n + 1`: the bound is +∞).
    pub ci_high: u64,
    /// The interval's exact coverage `P(l ≤ B ≤ u − 1)`, `B ~ Binomial(n, p)`, for a
    /// continuous law.
    pub coverage: f64,
}

/// The ranks of the `p`-quantile of `n` values and of its equal-tailed distribution-free
/// `1 − alpha` interval `[x₍ₗ₎, x₍ᵤ₎]` (see [`quantile_test`]) and its exact coverage: what
/// a store that sorts its values (the lake) needs to fetch the interval by rank.
///
/// The binomial probabilities are summed exactly on the ranks within `40·sd + 200` of the
/// mode (outside, the mass is below 1e-120), built outwards from the mode by ratios of
/// consecutive terms: O(sqrt(n)) time and memory.
///
/// ```
/// use abforge_stats::order_statistic_ranks;
///
/// // scipy: binom.ppf(0.025, 100, 0.9) = 84, binom.ppf(0.975, 100, 0.9) + 1 = 96.
/// let r = order_statistic_ranks(100, 0.9, 0.05)?;
/// assert_eq!((r.rank, r.ci_low, r.ci_high), (90, 84, 96));
/// assert!((r.coverage - 0.955690107191223).abs() < 1e-12);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for `n = 0` or `n > 2³² − 1`, or `p` or `alpha` outside
/// (0, 1).
pub fn order_statistic_ranks(n: u64, p: f64, alpha: f64) -> Result<OrderStatisticRanks> {
    check_open("p", p, 0.0, 1.0)?;
    check_open("alpha", alpha, 0.0, 1.0)?;
    if n == 0 || n > u64::from(u32::MAX) {
        return Err(Error::InvalidParameter {
            name: "n",
            value: n as f64,
            expected: "between 1 and 2^32 − 1 values",
        });
    }
    let (l, u, coverage) = equal_tailed_ranks(n, p, alpha);
    Ok(OrderStatisticRanks {
        rank: rank(n, p),
        ci_low: l,
        ci_high: u,
        coverage,
    })
}

/// One group's `p`-quantile with its distribution-free interval and order-statistic standard
/// error (`group` only names the sample in errors). See [`quantile_test`] for the formulas.
///
/// ```
/// use abforge_stats::{Group, group_quantile};
///
/// let xs: Vec<f64> = (1..=1000).map(f64::from).collect();
/// let q = group_quantile(&xs, 0.9, 0.05, Group::Control)?;
/// assert_eq!((q.rank, q.estimate), (900, 900.0));
/// assert!(q.ci_low < 900.0 && 900.0 < q.ci_high && q.ci_coverage >= 0.95);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for fewer than 2 values, or too few for the bracketing ranks
/// to stay in `1..=n` (`n` at least about `3.84 · max(p/(1 − p), (1 − p)/p)`);
/// [`Error::NonFinite`]; [`Error::QuantileOnAtom`]; [`Error::InvalidParameter`] for `p` or
/// `alpha` outside (0, 1) or more than 2³² − 1 values.
pub fn group_quantile(xs: &[f64], p: f64, alpha: f64, group: Group) -> Result<GroupQuantile> {
    check_open("p", p, 0.0, 1.0)?;
    check_open("alpha", alpha, 0.0, 1.0)?;
    let sorted = sorted_sample(xs, group)?;
    quantile_of_sorted(&sorted, p, alpha, group)
}

/// The z test and interval of `q_T − q_C`, the difference of the groups' `p`-quantiles, with
/// the order-statistic standard errors of Deng, Knoblich & Lu ("Applying the Delta Method in
/// Metric Analytics: A Practical Guide with Novel Ideas", KDD 2018, the section on quantile
/// metrics; GrowthBook's quantile tests implement the same, after Algorithm 1 of Yao, Li &
/// Lu, 2024, without clustering).
///
/// Per group of `n` sorted values `x₍₁₎ ≤ … ≤ x₍ₙ₎`, with `rank(q)` the smallest `k ≥ 1` such
/// that `k / n ≥ q` and `z = Φ⁻¹(0.975)`:
///
/// ```text
/// estimate    q̂ = x₍ₖ₎,  k = rank(p)
/// bracket     L = rank(p − z·sqrt(p(1−p)/n)),   U = rank(p + z·sqrt(p(1−p)/n))
/// std error   se = (x₍U₎ − x₍L₎) / (2z)
/// ```
///
/// `#{X ≤ ξ_p}` is `Binomial(n, p)`, so `[x₍L₎, x₍U₎]` is an approximate 95 % interval for the
/// quantile `ξ_p` whatever the law, and its width is about `2z·sqrt(p(1−p)/n) / f(ξ_p)`:
/// `se` is the delta-method standard error `sqrt(p(1−p)/n) / f(ξ_p)` of the sample quantile
/// with the density `f(ξ_p)` estimated from the bracket (reported as `density`), no kernel
/// needed. The difference is then
///
/// ```text
/// z = (q̂_T − q̂_C − δ₀) / sqrt(se_T² + se_C²),   CI = q̂_T − q̂_C ± z_{1−α/2} · sqrt(se_T² + se_C²)
/// ```
///
/// (one-sided alternatives as everywhere in this crate). Each group also gets the
/// distribution-free, equal-tailed interval `[x₍ₗ₎, x₍ᵤ₎]` with `l` the smallest rank with
/// `P(B ≤ l) ≥ α/2` and `u − 1` the smallest with `P(B ≤ u − 1) ≥ 1 − α/2`, `B ~ Binomial(n,
/// p)` (scipy's `binom.ppf(α/2)` and `binom.ppf(1 − α/2) + 1`), which covers `ξ_p` with
/// probability at least `1 − α` for any continuous law; `l = 0` and `u = n + 1` are open
/// bounds.
///
/// **Atoms.** When the values have an atom at the quantile (ties, a zero-inflated metric whose
/// p30 is 0), `x₍L₎ = x₍U₎`, the density estimate is infinite and the normal approximation
/// meaningless: the test refuses with [`Error::QuantileOnAtom`] rather than report a zero-width
/// interval. [`quantile_bootstrap`] still applies.
///
/// ```
/// use abforge_stats::{Hypothesis, quantile_test};
///
/// let c: Vec<f64> = (0..400).map(|i| f64::from((i * 37) % 400)).collect();
/// let t: Vec<f64> = c.iter().map(|x| x + 60.0).collect();
/// let r = quantile_test(&t, &c, 0.5, &Hypothesis::default())?;
/// assert_eq!(r.estimate, 60.0);
/// assert!(r.reject && r.ci_low > 0.0);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// Those of [`group_quantile`] for either group, and [`Error::InvalidParameter`] for a
/// non-finite null.
pub fn quantile_test(
    treatment: &[f64],
    control: &[f64],
    p: f64,
    h: &Hypothesis,
) -> Result<QuantileTestResult> {
    check_open("p", p, 0.0, 1.0)?;
    let null = h.checked_null(0.0)?;
    let st = sorted_sample(treatment, Group::Treatment)?;
    let sc = sorted_sample(control, Group::Control)?;
    let qt = quantile_of_sorted(&st, p, h.alpha, Group::Treatment)?;
    let qc = quantile_of_sorted(&sc, p, h.alpha, Group::Control)?;
    let estimate = qt.estimate - qc.estimate;
    // Both standard errors are > 0: equal brackets are refused as atoms.
    let std_error = qt.std_error.hypot(qc.std_error);
    let statistic = (estimate - null) / std_error;
    let p_value = h.p_normal(statistic);
    let (ci_low, ci_high) = h.bounds_normal(estimate, std_error);
    Ok(QuantileTestResult {
        p,
        treatment: qt,
        control: qc,
        estimate,
        std_error,
        statistic,
        p_value,
        ci_low,
        ci_high,
        null,
        alternative: h.alternative,
        reject: h.rejects(p_value),
    })
}

/// The result of [`quantile_bootstrap`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct QuantileBootstrapResult {
    /// The probability `p`.
    pub p: f64,
    /// Resamples drawn.
    pub resamples: u32,
    /// The seed used.
    pub seed: u64,
    /// Confidence level `1 − α` of the interval.
    pub confidence: f64,
    /// The treatment group's sample quantile.
    pub quantile_treatment: f64,
    /// The control group's sample quantile.
    pub quantile_control: f64,
    /// `q_T − q_C` on the original samples.
    pub estimate: f64,
    /// The standard deviation of the bootstrap replicates (`ddof = 1`).
    pub std_error: f64,
    /// Lower bound of the percentile interval.
    pub ci_low: f64,
    /// Upper bound of the percentile interval.
    pub ci_high: f64,
}

impl QuantileBootstrapResult {
    /// Whether the percentile interval excludes `null`.
    pub fn rejects(&self, null: f64) -> bool {
        null < self.ci_low || null > self.ci_high
    }
}

/// The percentile bootstrap interval of `q_T − q_C`, the difference of the groups'
/// `p`-quantiles (the type-1 sample quantile of the module docs).
///
/// Each resample draws `n_t` treatment and `n_c` control values with replacement, each group
/// from itself (as [`crate::bootstrap()`]), and takes the difference of the resamples'
/// quantiles; the interval is `[q(α/2), q(1 − α/2)]` of the sorted replicates with linear
/// interpolation (scipy `stats.bootstrap(..., method='percentile')`).
///
/// A resample's quantile is drawn exactly without drawing the resample: its `k`-th smallest
/// value is `x₍J₎` with `J = ⌈n·V⌉`, `V ~ Beta(k, n − k + 1)` the `k`-th smallest of `n`
/// uniforms (the resample's indices are `⌈n·Uᵢ⌉`, and `⌈n·⌉` keeps their order). So a
/// resample costs two Beta draws, not `n` index draws. Resamples are drawn in blocks of 64 from
/// the seeded streams of [`crate::bootstrap()`] (another salt): the interval depends on the
/// seed, never on the thread count.
///
/// Unlike [`quantile_test`] this works on atoms: when both quantiles sit on the same atom
/// every replicate is 0 and so is the interval.
///
/// ```
/// use abforge_stats::{BootstrapOptions, quantile_bootstrap};
///
/// let c: Vec<f64> = (0..400).map(|i| f64::from((i * 37) % 400)).collect();
/// let t: Vec<f64> = c.iter().map(|x| x + 60.0).collect();
/// let o = BootstrapOptions { resamples: 2000, seed: 3, alpha: 0.05 };
/// let b = quantile_bootstrap(&t, &c, 0.5, &o)?;
/// assert_eq!(b.estimate, 60.0);
/// assert!(b.rejects(0.0) && b.ci_low < 60.0 && 60.0 < b.ci_high);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for a group with fewer than 2 values, [`Error::NonFinite`],
/// [`Error::InvalidParameter`] for `p` or `alpha` outside (0, 1), `resamples` outside
/// `10..=MAX_RESAMPLES`, or more than 2³² − 1 values in a group.
pub fn quantile_bootstrap(
    treatment: &[f64],
    control: &[f64],
    p: f64,
    opts: &BootstrapOptions,
) -> Result<QuantileBootstrapResult> {
    check_open("p", p, 0.0, 1.0)?;
    check_open("alpha", opts.alpha, 0.0, 1.0)?;
    if !(10..=MAX_RESAMPLES).contains(&opts.resamples) {
        return Err(Error::InvalidParameter {
            name: "resamples",
            value: f64::from(opts.resamples),
            expected: "between 10 and MAX_RESAMPLES = 10 000 000 resamples",
        });
    }
    let st = sorted_sample(treatment, Group::Treatment)?;
    let sc = sorted_sample(control, Group::Control)?;
    let draw_t = OrderStatistic::new(&st, p);
    let draw_c = OrderStatistic::new(&sc, p);
    let estimate = draw_t.value() - draw_c.value();
    let b = opts.resamples;
    let mut reps: Vec<f64> = (0..b.div_ceil(BLOCK))
        .into_par_iter()
        .flat_map_iter(|k| {
            let mut rng = block_rng(opts.seed, SALT, u64::from(k));
            let len = BLOCK.min(b - k * BLOCK);
            (0..len)
                .map(|_| {
                    let a = draw_t.resample(&mut rng);
                    a - draw_c.resample(&mut rng)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    reps.sort_unstable_by(f64::total_cmp);
    let m = reps.iter().sum::<f64>() / f64::from(b);
    let var = reps.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / f64::from(b - 1);
    Ok(QuantileBootstrapResult {
        p,
        resamples: b,
        seed: opts.seed,
        confidence: 1.0 - opts.alpha,
        quantile_treatment: draw_t.value(),
        quantile_control: draw_c.value(),
        estimate,
        std_error: var.sqrt(),
        ci_low: quantile_sorted(&reps, 0.5 * opts.alpha),
        ci_high: quantile_sorted(&reps, 1.0 - 0.5 * opts.alpha),
    })
}

/// The `k`-th order statistic of a sorted sample and of its bootstrap resamples.
struct OrderStatistic<'a> {
    sorted: &'a [f64],
    k: u64,
    /// The law of the `k`-th smallest of `n` uniforms.
    beta: Beta<f64>,
}

impl<'a> OrderStatistic<'a> {
    fn new(sorted: &'a [f64], p: f64) -> Self {
        let n = sorted.len() as u64;
        let k = rank(n, p);
        // k ≥ 1 and n − k + 1 ≥ 1: both parameters are valid.
        let beta = Beta::new(k as f64, (n - k + 1) as f64).expect("positive Beta parameters");
        OrderStatistic { sorted, k, beta }
    }

    fn value(&self) -> f64 {
        self.sorted[(self.k - 1) as usize]
    }

    /// The `k`-th smallest value of one resample of `n` values drawn with replacement.
    fn resample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let n = self.sorted.len();
        let j = (n as f64 * self.beta.sample(rng)).ceil() as usize;
        self.sorted[j.clamp(1, n) - 1]
    }
}

/// The smallest rank `k ≥ 1` with `k / n ≥ p` (the ratio in `f64`, as the lake compares it),
/// for `0 < p ≤ 1`.
pub(crate) fn rank(n: u64, p: f64) -> u64 {
    let nf = n as f64;
    let mut k = ((nf * p).ceil() as u64).clamp(1, n);
    while k > 1 && (k - 1) as f64 / nf >= p {
        k -= 1;
    }
    while k < n && (k as f64 / nf) < p {
        k += 1;
    }
    k
}

/// A checked, sorted copy of one group.
fn sorted_sample(xs: &[f64], group: Group) -> Result<Vec<f64>> {
    check_sample(xs, group)?;
    let mut v = xs.to_vec();
    v.par_sort_unstable_by(f64::total_cmp);
    Ok(v)
}

/// [`group_quantile`] of a checked, sorted sample.
fn quantile_of_sorted(sorted: &[f64], p: f64, alpha: f64, group: Group) -> Result<GroupQuantile> {
    let n = sorted.len() as u64;
    let at = |k: u64| match k {
        0 => f64::NEG_INFINITY,
        k if k > n => f64::INFINITY,
        k => sorted[(k - 1) as usize],
    };
    let k = rank(n, p);
    let (lo_rank, hi_rank) = bracket_ranks(n, p, group)?;
    let (lo, hi) = (at(lo_rank), at(hi_rank));
    if lo == hi {
        return Err(Error::QuantileOnAtom {
            group,
            p,
            value: lo,
        });
    }
    let std_error = (hi - lo) / (2.0 * Z95);
    let (l, u, coverage) = equal_tailed_ranks(n, p, alpha);
    Ok(GroupQuantile {
        n,
        p,
        rank: k,
        estimate: at(k),
        ci_low: at(l),
        ci_high: at(u),
        ci_rank_low: l,
        ci_rank_high: u,
        ci_coverage: coverage,
        bracket_rank_low: lo_rank,
        bracket_rank_high: hi_rank,
        bracket_low: lo,
        bracket_high: hi,
        std_error,
        density: (p * (1.0 - p) / n as f64).sqrt() / std_error,
    })
}

/// The ranks `L, U` of the order statistics that bracket the `p`-quantile for its standard
/// error, or the group size they need.
fn bracket_ranks(n: u64, p: f64, group: Group) -> Result<(u64, u64)> {
    let half = Z95 * (p * (1.0 - p) / n as f64).sqrt();
    let (pl, pu) = (p - half, p + half);
    if pl > 0.0 && pu <= 1.0 {
        return Ok((rank(n, pl), rank(n, pu)));
    }
    // p ∓ z·sqrt(p(1−p)/n) stays in (0, 1] once n > z²(1−p)/p and n ≥ z²p/(1−p).
    let z2 = Z95 * Z95;
    let below = (z2 * (1.0 - p) / p).floor() + 1.0;
    let above = (z2 * p / (1.0 - p)).ceil();
    let needed = below.max(above).min(u64::MAX as f64) as u64;
    Err(Error::TooFewObservations {
        group,
        n,
        needed: needed.max(n + 1),
    })
}

/// The equal-tailed distribution-free ranks `(l, u)` of the `p`-quantile of `n` values at
/// level `1 − alpha`, with their exact coverage `P(l ≤ B ≤ u − 1)`, `B ~ Binomial(n, p)`:
/// `l` is the smallest rank with `P(B ≤ l) ≥ α/2` and `u − 1` the smallest with
/// `P(B > u − 1) ≤ α/2`.
fn equal_tailed_ranks(n: u64, p: f64, alpha: f64) -> (u64, u64, f64) {
    let (start, pmf) = binomial_pmf_window(n, p);
    let half = 0.5 * alpha;
    // Lower tail, summed from the left: l and P(B ≤ l − 1).
    let (mut l, mut below_l, mut cdf) = (start + pmf.len() as u64 - 1, 0.0, 0.0);
    for (i, w) in pmf.iter().enumerate() {
        if cdf + w >= half {
            l = start + i as u64;
            below_l = cdf;
            break;
        }
        cdf += w;
    }
    // Upper tail, summed from the right: the smallest k with P(B > k) ≤ α/2.
    let (mut k, mut above_k) = (start + pmf.len() as u64 - 1, 0.0);
    while k > start && above_k + pmf[(k - start) as usize] <= half {
        above_k += pmf[(k - start) as usize];
        k -= 1;
    }
    (l, k + 1, (1.0 - below_l - above_k).min(1.0))
}

/// The `Binomial(n, p)` probabilities on the ranks within `40·sd + 200` of the mode (outside,
/// the mass is below 1e-120), normalised to sum to 1: `(first rank, probabilities)`. Built
/// outwards from the mode by the ratio `P(k+1)/P(k) = (n−k)/(k+1) · p/(1−p)`, so no
/// `ln Γ` of huge arguments is formed.
fn binomial_pmf_window(n: u64, p: f64) -> (u64, Vec<f64>) {
    let nf = n as f64;
    let sd = (nf * p * (1.0 - p)).sqrt();
    let mode = (((nf + 1.0) * p).floor() as u64).min(n);
    let reach = (40.0 * sd + 200.0).ceil() as u64;
    let (lo, hi) = (
        mode.saturating_sub(reach),
        mode.saturating_add(reach).min(n),
    );
    let mut pmf = vec![0.0; (hi - lo + 1) as usize];
    let odds = p / (1.0 - p);
    pmf[(mode - lo) as usize] = 1.0;
    for k in mode..hi {
        let i = (k - lo) as usize;
        pmf[i + 1] = pmf[i] * ((n - k) as f64 / (k + 1) as f64) * odds;
    }
    for k in (lo + 1..=mode).rev() {
        let i = (k - lo) as usize;
        pmf[i - 1] = pmf[i] * (k as f64 / (n - k + 1) as f64) / odds;
    }
    let total: f64 = pmf.iter().sum();
    pmf.iter_mut().for_each(|w| *w /= total);
    (lo, pmf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z95_is_the_normal_quantile() {
        assert!((crate::dist::norm_isf(0.025) - Z95).abs() < 1e-15);
    }

    #[test]
    fn ranks_follow_the_lake() {
        // 7/100 ≥ 0.07 in f64 although 100 · 0.07 = 7.000000000000001.
        assert_eq!(rank(100, 0.07), 7);
        assert_eq!(rank(100, 0.5), 50);
        assert_eq!(rank(3, 0.5), 2);
        assert_eq!(rank(4, 0.5), 2);
        assert_eq!(rank(10, 1e-9), 1);
        assert_eq!(rank(10, 1.0), 10);
        for n in 1..60u64 {
            for i in 1..100 {
                let p = f64::from(i) / 100.0;
                let k = rank(n, p);
                assert!(k as f64 / n as f64 >= p || k == n);
                assert!(k == 1 || ((k - 1) as f64 / n as f64) < p);
            }
        }
    }

    #[test]
    fn binomial_window_sums_to_one_and_matches_small_cases() {
        // Binomial(4, 0.5): 1, 4, 6, 4, 1 over 16.
        let (lo, pmf) = binomial_pmf_window(4, 0.5);
        assert_eq!(lo, 0);
        for (w, want) in pmf.iter().zip([1.0, 4.0, 6.0, 4.0, 1.0]) {
            assert!((w - want / 16.0).abs() < 1e-15);
        }
        let (_, pmf) = binomial_pmf_window(4_000_000_000, 0.99);
        assert!((pmf.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ranks_are_equal_tailed() {
        let (l, u, cov) = equal_tailed_ranks(100, 0.9, 0.05);
        let (lo, pmf) = binomial_pmf_window(100, 0.9);
        let cdf = |k: u64| -> f64 { pmf.iter().take((k + 1 - lo) as usize).sum() };
        assert!(cdf(l) >= 0.025 && cdf(l - 1) < 0.025);
        assert!(cdf(u - 1) >= 0.975 && cdf(u - 2) < 0.975);
        assert!((cov - (cdf(u - 1) - cdf(l - 1))).abs() < 1e-14);
        // Binomial(10, 0.5): P(B ≤ 1) = 11/1024 < 0.025 ≤ P(B ≤ 2) = 56/1024.
        let (l, u, cov) = equal_tailed_ranks(10, 0.5, 0.05);
        assert_eq!((l, u), (2, 9));
        assert!((cov - (1.0 - 22.0 / 1024.0)).abs() < 1e-15);
        // Tiny groups: open bounds (rank 0 and n + 1).
        let (l, u, cov) = equal_tailed_ranks(5, 0.5, 0.05);
        assert_eq!((l, u, cov), (0, 6, 1.0));
    }

    #[test]
    fn resampled_order_statistics_match_direct_resampling() {
        // J = ⌈n·Beta(k, n−k+1)⌉ against the k-th smallest of n drawn indices.
        let n = 7usize;
        let sorted: Vec<f64> = (1..=n).map(|i| i as f64).collect();
        let os = OrderStatistic::new(&sorted, 0.5);
        assert_eq!(os.k, 4);
        let idx = crate::resample::Indices::new(n);
        let (mut a, mut b) = ([0u32; 7], [0u32; 7]);
        let mut rng = block_rng(1, 2, 3);
        let mut buf = vec![0usize; n];
        for _ in 0..40_000 {
            a[os.resample(&mut rng) as usize - 1] += 1;
            buf.iter_mut().for_each(|i| *i = idx.draw(&mut rng));
            buf.sort_unstable();
            b[buf[3]] += 1;
        }
        // Each count's sd is below 100 (binomial, 40 000 draws).
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (f64::from(*x) - f64::from(*y)).abs() < 450.0,
                "{a:?} vs {b:?}"
            );
        }
    }

    #[test]
    fn atoms_and_small_groups_are_refused() {
        let mut xs = vec![0.0; 600];
        xs.extend((1..=400).map(f64::from));
        let e = group_quantile(&xs, 0.3, 0.05, Group::Treatment).unwrap_err();
        assert_eq!(
            e,
            Error::QuantileOnAtom {
                group: Group::Treatment,
                p: 0.3,
                value: 0.0
            }
        );
        assert!(
            e.to_string()
                .contains("0.3 quantile of the treatment group")
        );
        assert!(group_quantile(&xs, 0.9, 0.05, Group::Treatment).is_ok());
        // p99 needs n ≥ 3.84 · 99 ≈ 381.
        let few: Vec<f64> = (0..100).map(f64::from).collect();
        match group_quantile(&few, 0.99, 0.05, Group::Control) {
            Err(Error::TooFewObservations {
                group: Group::Control,
                n: 100,
                needed,
            }) => assert_eq!(needed, 381),
            other => panic!("{other:?}"),
        }
        let enough: Vec<f64> = (0..381).map(f64::from).collect();
        assert!(group_quantile(&enough, 0.99, 0.05, Group::Control).is_ok());
    }
}
