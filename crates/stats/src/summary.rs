//! Sufficient statistics of a sample: count, mean and sum of squared deviations.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Group, Result};

/// Samples at most this long are summarised on one thread.
const CHUNK: usize = 1 << 16;

/// Count, mean and `m2 = Σ(x − mean)²` of a sample: everything the t-tests, the lift and
/// Cohen's d need, so a Monte Carlo lab can test without keeping its samples.
///
/// * [`Summary::from_slice`] is a two-pass algorithm: a compensated (Neumaier) sum for the
///   mean, then `m2 = Σd² − (Σd)²/n` with `d = x − mean` (the "corrected two-pass"
///   algorithm of Chan, Golub & LeVeque, 1983). It is exact to a few ulps for values near
///   1e9 with a spread of 50, where the one-pass `Σx² − n·x̄²` loses every digit. Long slices
///   are cut into fixed 64 Ki-value chunks summarised in parallel and merged in order, so the
///   result does not depend on the thread count; each chunk's second pass reads it from
///   cache, so the slice is streamed from memory once.
/// * [`Summary::push`] is Welford's update and [`Summary::merge`] the pairwise update of
///   Chan et al. (1979); both are stable.
/// * The variance uses `ddof = 1` (the sample variance).
///
/// ```
/// use abforge_stats::Summary;
///
/// let s = Summary::from_slice(&[1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0]);
/// assert_eq!(s.mean, 1e9 + 2.0);
/// assert_eq!(s.variance(), 1.0);
///
/// let mut a = Summary::from_slice(&[1.0, 2.0]);
/// a.merge(&Summary::from_slice(&[3.0]));
/// assert_eq!((a.n, a.mean, a.variance()), (3, 2.0, 1.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Number of observations.
    pub n: u64,
    /// Arithmetic mean (0 when `n = 0`).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Summary {
    /// A summary from its three fields (no check).
    pub const fn new(n: u64, mean: f64, m2: f64) -> Self {
        Summary { n, mean, m2 }
    }

    /// A summary from the count, mean and sample variance (`ddof = 1`).
    pub fn from_moments(n: u64, mean: f64, variance: f64) -> Self {
        Summary {
            n,
            mean,
            m2: variance * n.saturating_sub(1) as f64,
        }
    }

    /// Summarises a slice (see the type's documentation for the algorithm). Non-finite
    /// values propagate into the mean; use [`Summary::try_from_slice`] to reject them.
    pub fn from_slice(xs: &[f64]) -> Self {
        scan(xs).summary
    }

    /// Summarises a slice on the calling thread, without the value checks and classes of
    /// [`Summary::from_slice`]: the same corrected two-pass algorithm with a plain
    /// four-lane sum in pass 1. For callers that summarise many small samples whose values
    /// they made themselves (a Monte Carlo loop).
    pub fn from_slice_serial(xs: &[f64]) -> Self {
        let n = xs.len();
        if n == 0 {
            return Summary::default();
        }
        let mut s = [0.0f64; 4];
        let mut quads = xs.chunks_exact(4);
        for q in &mut quads {
            for k in 0..4 {
                s[k] += q[k];
            }
        }
        let rest: f64 = quads.remainder().iter().sum();
        let mean = (s[0] + s[1] + s[2] + s[3] + rest) / n as f64;
        Summary {
            n: n as u64,
            mean,
            m2: squared_deviations(xs, mean),
        }
    }

    /// Summarises a slice, rejecting non-finite values with [`Error::NonFinite`] (naming
    /// `group` and the first bad index) and sums that overflow with [`Error::Overflow`].
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`], [`Error::Overflow`].
    pub fn try_from_slice(xs: &[f64], group: Group) -> Result<Self> {
        scan(xs).checked(xs, group).map(|s| s.summary)
    }

    /// Adds one observation (Welford's update).
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let n = self.n as f64;
        let delta = x - self.mean;
        self.mean += delta / n;
        self.m2 += delta * (x - self.mean);
    }

    /// Adds the observations summarised by `other` (Chan et al.'s pairwise update).
    pub fn merge(&mut self, other: &Summary) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * (nb / n);
        self.m2 += other.m2 + delta * delta * (na * nb / n);
        self.n += other.n;
    }

    /// The sample variance `m2 / (n − 1)`; NaN when `n < 2` (the tests check `n` first and
    /// return [`Error::TooFewObservations`]).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// The sample standard deviation (`ddof = 1`).
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// The standard error of the mean, `sqrt(variance / n)`.
    pub fn std_error(&self) -> f64 {
        (self.variance() / self.n as f64).sqrt()
    }

    /// The sum of the observations, `n · mean`.
    pub fn sum(&self) -> f64 {
        self.mean * self.n as f64
    }

    /// Errors with [`Error::TooFewObservations`] when `n < needed`.
    pub(crate) fn require(&self, group: Group, needed: u64) -> Result<()> {
        if self.n < needed {
            Err(Error::TooFewObservations {
                group,
                n: self.n,
                needed,
            })
        } else {
            Ok(())
        }
    }

    /// Errors unless the fields are finite and `m2 ≥ 0`.
    pub(crate) fn check(&self, group: Group) -> Result<()> {
        if self.mean.is_finite() && self.m2.is_finite() && self.m2 >= 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "the {group} summary is not finite (mean {}, m2 {})",
                self.mean, self.m2
            )))
        }
    }
}

impl Extend<f64> for Summary {
    fn extend<I: IntoIterator<Item = f64>>(&mut self, iter: I) {
        for x in iter {
            self.push(x);
        }
    }
}

impl FromIterator<f64> for Summary {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut s = Summary::default();
        s.extend(iter);
        s
    }
}

/// What one scan of a sample learns: the summary and what kind of values it holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scan {
    pub summary: Summary,
    /// Every value is finite.
    pub finite: bool,
    /// Every value is 0 or 1.
    pub binary: bool,
    /// Every value is a non-negative integer.
    pub counts: bool,
    /// The largest value (−∞ for an empty sample).
    pub max: f64,
}

impl Scan {
    /// The scan, or the error for its first non-finite value or an overflow.
    pub(crate) fn checked(self, xs: &[f64], group: Group) -> Result<Self> {
        if !self.finite {
            let index = xs.iter().position(|x| !x.is_finite()).unwrap_or(0);
            return Err(Error::NonFinite { group, index });
        }
        if !(self.summary.mean.is_finite() && self.summary.m2.is_finite()) {
            return Err(Error::Overflow);
        }
        Ok(self)
    }
}

/// Summarises `xs` and classifies its values, in parallel chunks for long slices.
pub(crate) fn scan(xs: &[f64]) -> Scan {
    if xs.len() <= CHUNK {
        return scan_chunk(xs);
    }
    let parts: Vec<Scan> = xs.par_chunks(CHUNK).map(scan_chunk).collect();
    let mut total = Scan {
        summary: Summary::default(),
        finite: true,
        binary: true,
        counts: true,
        max: f64::NEG_INFINITY,
    };
    for p in &parts {
        total.max = total.max.max(p.max);
        total.summary.merge(&p.summary);
        total.finite &= p.finite;
        total.binary &= p.binary;
        total.counts &= p.counts;
    }
    total
}

/// Neumaier's compensated addition of `x` to the running sum `(s, c)`.
#[inline(always)]
fn neumaier(s: &mut f64, c: &mut f64, x: f64) {
    let t = *s + x;
    *c += if s.abs() >= x.abs() {
        (*s - t) + x
    } else {
        (x - t) + *s
    };
    *s = t;
}

/// Pass 2 of the two-pass algorithm: `Σ(x − mean)²` with the first-order correction for
/// the mean's rounding, `− (Σ(x − mean))² / n`, in four lanes. Rounding below zero is
/// clamped to 0; NaN (an overflow) stays visible.
fn squared_deviations(xs: &[f64], mean: f64) -> f64 {
    let mut d1 = [0.0f64; 4];
    let mut d2 = [0.0f64; 4];
    let mut quads = xs.chunks_exact(4);
    for q in &mut quads {
        for k in 0..4 {
            let d = q[k] - mean;
            d1[k] += d;
            d2[k] += d * d;
        }
    }
    for &x in quads.remainder() {
        let d = x - mean;
        d1[0] += d;
        d2[0] += d * d;
    }
    let sd: f64 = d1.iter().sum();
    let ss: f64 = d2.iter().sum();
    let m2 = ss - sd * sd / xs.len() as f64;
    if m2 < 0.0 { 0.0 } else { m2 }
}

/// The two-pass summary of one chunk.
fn scan_chunk(xs: &[f64]) -> Scan {
    let n = xs.len();
    if n == 0 {
        return Scan {
            summary: Summary::default(),
            finite: true,
            binary: true,
            counts: true,
            max: f64::NEG_INFINITY,
        };
    }
    // Pass 1: compensated sum in four lanes, and the value classes.
    let mut s = [0.0f64; 4];
    let mut c = [0.0f64; 4];
    let (mut finite, mut binary, mut counts) = (true, true, true);
    let mut max = [f64::NEG_INFINITY; 4];
    let mut quads = xs.chunks_exact(4);
    for q in &mut quads {
        for k in 0..4 {
            let x = q[k];
            neumaier(&mut s[k], &mut c[k], x);
            max[k] = max[k].max(x);
            finite &= x.is_finite();
            binary &= x == 0.0 || x == 1.0;
            counts &= x >= 0.0 && x == x.trunc();
        }
    }
    for &x in quads.remainder() {
        neumaier(&mut s[0], &mut c[0], x);
        max[0] = max[0].max(x);
        finite &= x.is_finite();
        binary &= x == 0.0 || x == 1.0;
        counts &= x >= 0.0 && x == x.trunc();
    }
    let (mut total, mut comp) = (0.0, 0.0);
    for k in 0..4 {
        neumaier(&mut total, &mut comp, s[k]);
        neumaier(&mut total, &mut comp, c[k]);
    }
    let nf = n as f64;
    let mean = (total + comp) / nf;
    let m2 = squared_deviations(xs, mean);
    let max = max.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    Scan {
        summary: Summary {
            n: n as u64,
            mean,
            m2,
        },
        finite,
        binary,
        counts,
        max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_var(xs: &[f64]) -> f64 {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    }

    #[test]
    fn two_pass_is_stable_near_1e9() {
        let xs: Vec<f64> = (0..1000)
            .map(|i| 1e9 + ((i * 37) % 101) as f64 * 0.5)
            .collect();
        let s = Summary::from_slice(&xs);
        let shifted: Vec<f64> = xs.iter().map(|x| x - 1e9).collect();
        let r = Summary::from_slice(&shifted);
        assert!((s.variance() - r.variance()).abs() / r.variance() < 1e-12);
        assert!((s.mean - 1e9 - r.mean).abs() < 1e-6);
    }

    #[test]
    fn push_merge_and_slice_agree() {
        let xs: Vec<f64> = (0..200_000)
            .map(|i| ((i as f64) * 0.618).sin() * 10.0 + 3.0)
            .collect();
        let a = Summary::from_slice(&xs);
        let b: Summary = xs.iter().copied().collect();
        let mut c = Summary::from_slice(&xs[..777]);
        c.merge(&Summary::from_slice(&xs[777..]));
        for s in [b, c] {
            assert_eq!(s.n, a.n);
            assert!((s.mean - a.mean).abs() < 1e-12);
            assert!((s.variance() - a.variance()).abs() / a.variance() < 1e-11);
        }
        assert!((a.variance() - naive_var(&xs)).abs() / a.variance() < 1e-11);
    }

    #[test]
    fn permutation_keeps_the_mean_exact() {
        let xs: Vec<f64> = (0..999)
            .map(|i| ((i * 7919) % 1000) as f64 * 0.25)
            .collect();
        let mut ys = xs.clone();
        ys.reverse();
        ys.swap(3, 500);
        assert_eq!(Summary::from_slice(&xs).mean, Summary::from_slice(&ys).mean);
    }

    #[test]
    fn small_and_degenerate_samples() {
        let e = Summary::from_slice(&[]);
        assert_eq!((e.n, e.mean, e.m2), (0, 0.0, 0.0));
        assert!(Summary::from_slice(&[4.0]).variance().is_nan());
        let c = Summary::from_slice(&[5.0; 30]);
        assert_eq!((c.mean, c.m2, c.variance()), (5.0, 0.0, 0.0));
        assert_eq!(Summary::from_moments(10, 2.0, 3.0).m2, 27.0);
        assert_eq!(Summary::from_slice(&[1.0, 2.0, 3.5]).sum(), 6.5);
    }

    #[test]
    fn classification_and_errors() {
        let sc = scan(&[0.0, 1.0, 1.0]);
        assert!(sc.binary && sc.counts && sc.finite);
        let sc = scan(&[0.0, 2.0, 7.0]);
        assert!(!sc.binary && sc.counts && sc.max == 7.0);
        let sc = scan(&[0.5, 2.0]);
        assert!(!sc.counts);
        assert!(!scan(&[-1.0]).counts);
        let err = Summary::try_from_slice(&[1.0, 2.0, f64::NAN], Group::Control).unwrap_err();
        assert_eq!(
            err,
            Error::NonFinite {
                group: Group::Control,
                index: 2
            }
        );
        let err = Summary::try_from_slice(&[1e308, -1e308, 1e308], Group::Treatment).unwrap_err();
        assert_eq!(err, Error::Overflow);
    }
}
