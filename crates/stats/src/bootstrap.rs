//! Two-sample bootstrap confidence intervals of the mean difference and the relative lift:
//! percentile and BCa, seeded and parallel.

use rayon::prelude::*;
use serde::Serialize;

use crate::dist;
use crate::error::{Error, Group, Result, check_open};
use crate::hypothesis::finite_or_null;
use crate::resample::{BLOCK, Indices, block_rng};

/// Salt of the bootstrap's random streams.
const SALT: u64 = 0xB007;

/// Options of [`bootstrap`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BootstrapOptions {
    /// Number of resamples `B` (at least 10; 1 000 is common for tests, 10 000 for
    /// published intervals).
    pub resamples: u32,
    /// Seed of the resampling: the same seed gives the same intervals, whatever the thread
    /// count.
    pub seed: u64,
    /// The intervals are two-sided at level `1 − alpha`.
    pub alpha: f64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            resamples: 1000,
            seed: 0,
            alpha: 0.05,
        }
    }
}

/// The bootstrap intervals of one statistic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BootstrapInterval {
    /// The statistic on the original samples, `θ̂`.
    pub estimate: f64,
    /// The standard deviation of the bootstrap replicates (`ddof = 1`).
    pub std_error: f64,
    /// Lower bound of the percentile interval.
    #[serde(serialize_with = "finite_or_null")]
    pub percentile_low: f64,
    /// Upper bound of the percentile interval.
    #[serde(serialize_with = "finite_or_null")]
    pub percentile_high: f64,
    /// Lower bound of the BCa interval.
    #[serde(serialize_with = "finite_or_null")]
    pub bca_low: f64,
    /// Upper bound of the BCa interval.
    #[serde(serialize_with = "finite_or_null")]
    pub bca_high: f64,
    /// The bias correction `ẑ₀` (JSON `null` when every replicate is on one side of `θ̂`;
    /// the BCa interval is then the percentile interval).
    #[serde(serialize_with = "finite_or_null")]
    pub bias_correction: f64,
    /// The jackknife acceleration `â`.
    pub acceleration: f64,
}

impl BootstrapInterval {
    /// Whether the percentile interval excludes `null`.
    pub fn percentile_rejects(&self, null: f64) -> bool {
        null < self.percentile_low || null > self.percentile_high
    }

    /// Whether the BCa interval excludes `null`.
    pub fn bca_rejects(&self, null: f64) -> bool {
        null < self.bca_low || null > self.bca_high
    }
}

/// The result of [`bootstrap`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BootstrapResult {
    /// Resamples drawn.
    pub resamples: u32,
    /// The seed used.
    pub seed: u64,
    /// Confidence level `1 − α` of the intervals.
    pub confidence: f64,
    /// `mean(T) − mean(C)`.
    pub mean_difference: BootstrapInterval,
    /// `mean(T) / mean(C) − 1`; `None` when the control mean is 0.
    pub relative_lift: Option<BootstrapInterval>,
}

/// Bootstrap confidence intervals of `mean(T) − mean(C)` and `mean(T)/mean(C) − 1`.
///
/// Each resample draws `n_t` treatment and `n_c` control values with replacement, each
/// group from itself (the stratified two-sample bootstrap of Efron & Tibshirani, *An
/// Introduction to the Bootstrap*, 1993, §8.3), and computes both statistics from the two
/// resample means, so both intervals come from the same `B` resamples. With `θ*_b` the
/// replicates sorted and `q(p)` their quantile with linear interpolation (numpy's default):
///
/// ```text
/// percentile:  [q(α/2), q(1 − α/2)]
/// BCa:         [q(α₁), q(α₂)],  α_k = Φ(ẑ₀ + (ẑ₀ + z_k) / (1 − â (ẑ₀ + z_k))),  z₁ = Φ⁻¹(α/2), z₂ = −z₁
///              ẑ₀ = Φ⁻¹((#{θ*_b < θ̂} + #{θ*_b ≤ θ̂}) / 2B)
///              â  = Σ_g Σ_i U_gi³ / n_g³  /  (6 (Σ_g Σ_i U_gi² / n_g²)^{3/2}),  U_gi = (n_g − 1)(θ̄_g· − θ̂_g(i))
/// ```
///
/// where `θ̂_g(i)` is the jackknife statistic leaving out value `i` of group `g` (Efron,
/// "Better bootstrap confidence intervals", JASA 82, 1987; DiCiccio & Efron, Statistical
/// Science 11, 1996). These are scipy's `stats.bootstrap` conventions for `method =
/// 'percentile'` and `'BCa'` with several samples; for the mean difference `U` is simply
/// `x_i − x̄_t` and `−(y_i − ȳ_c)`.
///
/// Resamples are drawn in blocks of 64, block `k` from its own `Xoshiro256++` stream
/// seeded from `(seed, k)`, blocks in parallel on the current rayon pool: the intervals
/// depend on the seed, never on the thread count. Indices are drawn by Lemire's exact
/// multiply-and-shift method, two per 64-bit draw.
///
/// ```
/// use abforge_stats::{BootstrapOptions, bootstrap};
///
/// let c: Vec<f64> = (0..200).map(|i| (i % 17) as f64).collect();
/// let t: Vec<f64> = (0..200).map(|i| (i % 17) as f64 + 2.0).collect();
/// let b = bootstrap(&t, &c, &BootstrapOptions { resamples: 2000, seed: 1, alpha: 0.05 })?;
/// let d = b.mean_difference;
/// assert!((d.estimate - 2.0).abs() < 1e-12);
/// assert!(d.bca_low > 0.5 && d.bca_low < 2.0 && d.bca_high > 2.0);
/// assert!(d.bca_rejects(0.0));
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for a group with fewer than 2 values,
/// [`Error::NonFinite`], [`Error::InvalidParameter`] for `resamples < 10`, α outside (0, 1)
/// or more than 2³² − 1 values in a group.
pub fn bootstrap(
    treatment: &[f64],
    control: &[f64],
    opts: &BootstrapOptions,
) -> Result<BootstrapResult> {
    check_open("alpha", opts.alpha, 0.0, 1.0)?;
    if opts.resamples < 10 {
        return Err(Error::InvalidParameter {
            name: "resamples",
            value: f64::from(opts.resamples),
            expected: "at least 10 resamples",
        });
    }
    check_sample(treatment, Group::Treatment)?;
    check_sample(control, Group::Control)?;
    let (it, ic) = (Indices::new(treatment.len()), Indices::new(control.len()));
    let (nt, nc) = (treatment.len() as f64, control.len() as f64);
    let b = opts.resamples;
    let blocks = b.div_ceil(BLOCK);
    // Resample means (mean_t*, mean_c*), in resample order.
    let means: Vec<(f64, f64)> = (0..blocks)
        .into_par_iter()
        .flat_map_iter(|k| {
            let mut rng = block_rng(opts.seed, SALT, u64::from(k));
            let len = BLOCK.min(b - k * BLOCK);
            (0..len)
                .map(|_| {
                    let st = it.resample_sum(treatment, &mut rng);
                    let sc = ic.resample_sum(control, &mut rng);
                    (st / nt, sc / nc)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mt = mean(treatment);
    let mc = mean(control);
    let diff = {
        let mut reps: Vec<f64> = means.iter().map(|(a, c)| a - c).collect();
        // Jackknife influence values: x_i − x̄_t and −(y_i − ȳ_c).
        let ut = treatment.iter().map(|x| x - mt);
        let uc = control.iter().map(|y| -(y - mc));
        let acc = acceleration(ut, nt, uc, nc);
        interval(mt - mc, &mut reps, acc, opts.alpha)
    };
    let lift = (mc != 0.0).then(|| {
        let mut reps: Vec<f64> = means.iter().map(|(a, c)| a / c - 1.0).collect();
        // Treatment: leaving x_i out changes the lift linearly, U = (x_i − x̄_t)/ȳ_c.
        let ut = treatment.iter().map(|x| (x - mt) / mc);
        // Control: the jackknife statistics themselves.
        let sc: f64 = control.iter().sum();
        let loo: Vec<f64> = control
            .iter()
            .map(|y| mt / ((sc - y) / (nc - 1.0)) - 1.0)
            .collect();
        let bar = loo.iter().sum::<f64>() / nc;
        let uc = loo.iter().map(|l| (nc - 1.0) * (bar - l));
        let acc = acceleration(ut, nt, uc, nc);
        interval(mt / mc - 1.0, &mut reps, acc, opts.alpha)
    });
    Ok(BootstrapResult {
        resamples: b,
        seed: opts.seed,
        confidence: 1.0 - opts.alpha,
        mean_difference: diff,
        relative_lift: lift,
    })
}

/// At least two finite values, at most 2³² − 1 (the resampling's index width).
pub(crate) fn check_sample(xs: &[f64], group: Group) -> Result<()> {
    if xs.len() < 2 {
        return Err(Error::TooFewObservations {
            group,
            n: xs.len() as u64,
            needed: 2,
        });
    }
    if xs.len() as u64 > u64::from(u32::MAX) {
        return Err(Error::InvalidParameter {
            name: "sample size",
            value: xs.len() as f64,
            expected: "at most 2^32 − 1 values per group",
        });
    }
    if let Some(index) = xs.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { group, index });
    }
    Ok(())
}

pub(crate) fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// `â` from the jackknife influence values of both groups.
fn acceleration(
    ut: impl Iterator<Item = f64>,
    nt: f64,
    uc: impl Iterator<Item = f64>,
    nc: f64,
) -> f64 {
    let sums = |u: &mut dyn Iterator<Item = f64>, n: f64| {
        let (s2, s3) = u.fold((0.0, 0.0), |(a, b), x| (a + x * x, b + x * x * x));
        (s2 / (n * n), s3 / (n * n * n))
    };
    let (mut ut, mut uc) = (ut, uc);
    let (d1, n1) = sums(&mut ut, nt);
    let (d2, n2) = sums(&mut uc, nc);
    let den = d1 + d2;
    if den > 0.0 {
        (n1 + n2) / (6.0 * den.powf(1.5))
    } else {
        0.0
    }
}

/// Quantile `p` of sorted values, linear interpolation (numpy `'linear'`).
pub(crate) fn quantile_sorted(xs: &[f64], p: f64) -> f64 {
    let h = (xs.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(xs.len() - 1);
    let (a, b) = (xs[lo], xs[hi]);
    if a == b {
        a
    } else {
        a + (h - lo as f64) * (b - a)
    }
}

fn interval(estimate: f64, reps: &mut [f64], acc: f64, alpha: f64) -> BootstrapInterval {
    let b = reps.len() as f64;
    let below = reps.iter().filter(|x| **x < estimate).count() as f64;
    let at_or_below = reps.iter().filter(|x| **x <= estimate).count() as f64;
    reps.sort_unstable_by(f64::total_cmp);
    let finite: Vec<f64> = reps.iter().copied().filter(|x| x.is_finite()).collect();
    let std_error = if finite.len() > 1 {
        let m = finite.iter().sum::<f64>() / finite.len() as f64;
        (finite.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (finite.len() - 1) as f64).sqrt()
    } else {
        f64::NAN
    };
    let (plo, phi) = (
        quantile_sorted(reps, 0.5 * alpha),
        quantile_sorted(reps, 1.0 - 0.5 * alpha),
    );
    let share = (below + at_or_below) / (2.0 * b);
    let (z0, blo, bhi) = if share > 0.0 && share < 1.0 {
        let z0 = ndtri(share);
        let za = ndtri(0.5 * alpha);
        let adj = |z: f64| {
            let num = z0 + z;
            dist::norm_cdf(z0 + num / (1.0 - acc * num))
        };
        (
            z0,
            quantile_sorted(reps, adj(za)),
            quantile_sorted(reps, adj(-za)),
        )
    } else {
        (f64::NAN, plo, phi)
    };
    BootstrapInterval {
        estimate,
        std_error,
        percentile_low: plo,
        percentile_high: phi,
        bca_low: blo,
        bca_high: bhi,
        bias_correction: z0,
        acceleration: acc,
    }
}

/// `Φ⁻¹(p)` for `0 < p < 1`.
pub(crate) fn ndtri(p: f64) -> f64 {
    -dist::norm_isf(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<f64>, Vec<f64>) {
        // Skewed fixed data: squares of a sawtooth.
        let t: Vec<f64> = (0..60)
            .map(|i| ((i * 7 % 23) as f64).powi(2) / 10.0)
            .collect();
        let c: Vec<f64> = (0..50)
            .map(|i| ((i * 5 % 19) as f64).powi(2) / 10.0)
            .collect();
        (t, c)
    }

    #[test]
    fn same_seed_same_intervals_whatever_the_threads() {
        let (t, c) = data();
        let o = BootstrapOptions {
            resamples: 500,
            seed: 9,
            alpha: 0.1,
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| bootstrap(&t, &c, &o).unwrap());
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| bootstrap(&t, &c, &o).unwrap());
        assert_eq!(one, two);
        let other = bootstrap(&t, &c, &BootstrapOptions { seed: 10, ..o }).unwrap();
        assert_ne!(one.mean_difference.bca_low, other.mean_difference.bca_low);
    }

    #[test]
    fn acceleration_of_the_mean_difference_matches_the_jackknife() {
        let (t, c) = data();
        // Brute-force jackknife of the difference of means.
        let (mt, mc) = (mean(&t), mean(&c));
        let jack = |xs: &[f64], i: usize| (xs.iter().sum::<f64>() - xs[i]) / (xs.len() - 1) as f64;
        let lt: Vec<f64> = (0..t.len()).map(|i| jack(&t, i) - mc).collect();
        let lc: Vec<f64> = (0..c.len()).map(|i| mt - jack(&c, i)).collect();
        let u = |l: &[f64]| {
            let n = l.len() as f64;
            let bar = l.iter().sum::<f64>() / n;
            l.iter().map(|x| (n - 1.0) * (bar - x)).collect::<Vec<_>>()
        };
        let (ut, uc) = (u(&lt), u(&lc));
        let want = acceleration(
            ut.iter().copied(),
            t.len() as f64,
            uc.iter().copied(),
            c.len() as f64,
        );
        let got = bootstrap(&t, &c, &BootstrapOptions::default()).unwrap();
        assert!((got.mean_difference.acceleration - want).abs() < 1e-12 * want.abs().max(1e-3));
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let xs = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_sorted(&xs, 0.0), 1.0);
        assert_eq!(quantile_sorted(&xs, 1.0), 8.0);
        // numpy.quantile([1, 2, 4, 8], 0.5) = 3.0; 0.9 → 6.8
        assert_eq!(quantile_sorted(&xs, 0.5), 3.0);
        assert!((quantile_sorted(&xs, 0.9) - 6.8).abs() < 1e-12);
    }

    #[test]
    fn errors() {
        let o = BootstrapOptions::default();
        assert!(bootstrap(&[1.0], &[1.0, 2.0], &o).is_err());
        assert!(bootstrap(&[1.0, f64::NAN], &[1.0, 2.0], &o).is_err());
        let few = BootstrapOptions { resamples: 5, ..o };
        assert!(bootstrap(&[1.0, 2.0], &[1.0, 2.0], &few).is_err());
        // A zero control mean: no lift, the difference still works.
        let r = bootstrap(&[1.0, 2.0, 3.0], &[0.0, 0.0, 0.0], &o).unwrap();
        assert!(r.relative_lift.is_none());
        assert_eq!(r.mean_difference.estimate, 2.0);
    }
}
