//! Ratio metrics: the ratio of two per-customer sums (revenue / items, clicks / views),
//! compared between groups with the delta method.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Group, Result};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};

const CHUNK: usize = 1 << 16;

/// Sufficient statistics of paired per-customer values `(x, y)` for the ratio `Σx / Σy`:
/// count, both means, both sums of squared deviations and the co-moment
/// `c_xy = Σ(x − x̄)(y − ȳ)`. Mergeable like [`crate::Summary`].
///
/// ```
/// use abforge_stats::RatioSummary;
///
/// let s = RatioSummary::from_slices(&[10.0, 0.0, 30.0], &[1.0, 1.0, 2.0])?;
/// assert_eq!(s.ratio(), 10.0);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct RatioSummary {
    /// Number of customers (pairs).
    pub n: u64,
    /// Mean of the numerators.
    pub mean_x: f64,
    /// Mean of the denominators.
    pub mean_y: f64,
    /// `Σ(x − x̄)²`.
    pub m2_x: f64,
    /// `Σ(y − ȳ)²`.
    pub m2_y: f64,
    /// `Σ(x − x̄)(y − ȳ)`.
    pub c_xy: f64,
}

impl RatioSummary {
    /// Summarises paired slices (two passes per fixed chunk, chunks in parallel, merged in
    /// order).
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`], [`Error::InvalidInput`] for a non-finite value.
    pub fn from_slices(x: &[f64], y: &[f64]) -> Result<Self> {
        if x.len() != y.len() {
            return Err(Error::LengthMismatch {
                what: "ratio numerators and denominators",
                left: x.len(),
                right: y.len(),
            });
        }
        if let Some(i) = x
            .iter()
            .zip(y)
            .position(|(a, b)| !a.is_finite() || !b.is_finite())
        {
            return Err(Error::InvalidInput(format!(
                "non-finite ratio pair at index {i}"
            )));
        }
        let parts: Vec<RatioSummary> = if x.len() <= CHUNK {
            vec![chunk(x, y)]
        } else {
            x.par_chunks(CHUNK)
                .zip(y.par_chunks(CHUNK))
                .map(|(a, b)| chunk(a, b))
                .collect()
        };
        let mut total = RatioSummary::default();
        for p in &parts {
            total.merge(p);
        }
        Ok(total)
    }

    /// Adds one pair (Welford's update extended to the co-moment).
    pub fn push(&mut self, x: f64, y: f64) {
        self.n += 1;
        let n = self.n as f64;
        let dx = x - self.mean_x;
        let dy = y - self.mean_y;
        self.mean_x += dx / n;
        self.mean_y += dy / n;
        self.m2_x += dx * (x - self.mean_x);
        self.m2_y += dy * (y - self.mean_y);
        self.c_xy += dx * (y - self.mean_y);
    }

    /// Adds the pairs summarised by `other` (Chan et al.'s pairwise update).
    pub fn merge(&mut self, other: &RatioSummary) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let dx = other.mean_x - self.mean_x;
        let dy = other.mean_y - self.mean_y;
        let w = na * nb / n;
        self.mean_x += dx * (nb / n);
        self.mean_y += dy * (nb / n);
        self.m2_x += other.m2_x + dx * dx * w;
        self.m2_y += other.m2_y + dy * dy * w;
        self.c_xy += other.c_xy + dx * dy * w;
        self.n += other.n;
    }

    /// The ratio `x̄ / ȳ = Σx / Σy`.
    pub fn ratio(&self) -> f64 {
        self.mean_x / self.mean_y
    }

    /// Sample variance of the numerators (`ddof = 1`).
    pub fn var_x(&self) -> f64 {
        self.m2_x / (self.n as f64 - 1.0)
    }

    /// Sample variance of the denominators (`ddof = 1`).
    pub fn var_y(&self) -> f64 {
        self.m2_y / (self.n as f64 - 1.0)
    }

    /// Sample covariance (`ddof = 1`).
    pub fn cov_xy(&self) -> f64 {
        self.c_xy / (self.n as f64 - 1.0)
    }

    /// The delta-method variance of the ratio estimator:
    /// `(s_x² − 2R s_xy + R² s_y²) / (n ȳ²)` with `R = x̄/ȳ`.
    ///
    /// # Errors
    ///
    /// [`Error::TooFewObservations`] (n < 2), [`Error::ZeroDenominatorMean`].
    pub fn ratio_variance(&self, group: Group) -> Result<f64> {
        if self.n < 2 {
            return Err(Error::TooFewObservations {
                group,
                n: self.n,
                needed: 2,
            });
        }
        if self.mean_y == 0.0 {
            return Err(Error::ZeroDenominatorMean { group });
        }
        let r = self.ratio();
        let v = (self.var_x() - 2.0 * r * self.cov_xy() + r * r * self.var_y())
            / (self.n as f64 * self.mean_y * self.mean_y);
        Ok(v.max(0.0))
    }
}

fn chunk(x: &[f64], y: &[f64]) -> RatioSummary {
    let n = x.len();
    if n == 0 {
        return RatioSummary::default();
    }
    let nf = n as f64;
    let mx = x.iter().sum::<f64>() / nf;
    let my = y.iter().sum::<f64>() / nf;
    let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sx += dx;
        sy += dy;
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    RatioSummary {
        n: n as u64,
        mean_x: mx + sx / nf,
        mean_y: my + sy / nf,
        m2_x: nonneg(sxx - sx * sx / nf),
        m2_y: nonneg(syy - sy * sy / nf),
        c_xy: sxy - sx * sy / nf,
    }
}

/// Clamps rounding below zero to zero but keeps NaN (an overflow) visible.
fn nonneg(x: f64) -> f64 {
    if x < 0.0 { 0.0 } else { x }
}

/// The result of [`ratio_test`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RatioTestResult {
    /// `Σx_t / Σy_t`.
    pub ratio_treatment: f64,
    /// `Σx_c / Σy_c`.
    pub ratio_control: f64,
    /// `ratio_treatment − ratio_control`.
    pub estimate: f64,
    /// `sqrt(Var R_t + Var R_c)` (delta method).
    pub std_error: f64,
    /// `(estimate − null) / std_error`.
    pub statistic: f64,
    /// The normal p-value for the alternative.
    pub p_value: f64,
    /// Lower confidence bound of the difference of ratios.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper confidence bound of the difference of ratios.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// The difference under H0.
    pub null: f64,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at α.
    pub reject: bool,
}

/// The z test of the difference of two ratio metrics, with the delta-method variance of each
/// ratio (Deng, Knoblich & Lu, KDD 2018, §3.1):
///
/// ```text
/// R_g = x̄_g / ȳ_g,   Var R_g = (s_x² − 2 R_g s_xy + R_g² s_y²) / (n_g ȳ_g²)
/// z = (R_t − R_c − δ₀) / sqrt(Var R_t + Var R_c),   CI = R_t − R_c ± z_{1−α/2} · se
/// ```
///
/// Both variances 0: `z = 0`, `p = 1` when the difference equals the null, else
/// [`Error::ZeroVariance`].
///
/// ```
/// use abforge_stats::{Hypothesis, RatioSummary, ratio_test};
///
/// // Revenue and items per customer.
/// let t = RatioSummary::from_slices(&[30.0, 0.0, 55.0, 20.0], &[3.0, 1.0, 5.0, 2.0])?;
/// let c = RatioSummary::from_slices(&[18.0, 9.0, 40.0, 10.0], &[2.0, 1.0, 5.0, 1.0])?;
/// let r = ratio_test(&t, &c, &Hypothesis::default())?;
/// assert!((r.ratio_treatment - 105.0 / 11.0).abs() < 1e-12);
/// assert!(r.ci_low < r.estimate && r.estimate < r.ci_high);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`], [`Error::ZeroDenominatorMean`], [`Error::ZeroVariance`],
/// [`Error::InvalidParameter`].
pub fn ratio_test(
    treatment: &RatioSummary,
    control: &RatioSummary,
    h: &Hypothesis,
) -> Result<RatioTestResult> {
    let null = h.checked_null(0.0)?;
    let vt = treatment.ratio_variance(Group::Treatment)?;
    let vc = control.ratio_variance(Group::Control)?;
    let (rt, rc) = (treatment.ratio(), control.ratio());
    let estimate = rt - rc;
    let se = (vt + vc).sqrt();
    let (statistic, p_value) = if se == 0.0 {
        if estimate != null {
            return Err(Error::ZeroVariance);
        }
        (0.0, 1.0)
    } else {
        let z = (estimate - null) / se;
        (z, h.p_normal(z))
    };
    let (ci_low, ci_high) = h.bounds_normal(estimate, se);
    Ok(RatioTestResult {
        ratio_treatment: rt,
        ratio_control: rc,
        estimate,
        std_error: se,
        statistic,
        p_value,
        ci_low,
        ci_high,
        null,
        alternative: h.alternative,
        reject: h.rejects(p_value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_match_direct_formulas() {
        let x: Vec<f64> = (0..300_000)
            .map(|i| ((i % 17) as f64) * 1.5 + 1e6)
            .collect();
        let y: Vec<f64> = (0..300_000).map(|i| ((i % 5) + 1) as f64).collect();
        let s = RatioSummary::from_slices(&x, &y).unwrap();
        let mut w = RatioSummary::default();
        for (a, b) in x.iter().zip(&y) {
            w.push(*a, *b);
        }
        assert_eq!(s.n, w.n);
        // Welford accumulates n·ε relative error; the chunked two-pass result is the reference.
        assert!((s.mean_x - w.mean_x).abs() < 1e-6);
        assert!((s.cov_xy() - w.cov_xy()).abs() < 1e-6 * s.cov_xy().abs().max(1.0));
        assert!((s.var_x() - w.var_x()).abs() / s.var_x() < 1e-6);
        // Exact values: x = 1e6 + 1.5·(i mod 17), y = 1 + (i mod 5).
        let xs_mean = x.iter().map(|v| v - 1e6).sum::<f64>() / x.len() as f64 + 1e6;
        assert!((s.mean_x - xs_mean).abs() < 1e-9);
    }

    #[test]
    fn ratio_of_a_constant_denominator_is_a_mean() {
        // With y ≡ 1 the ratio is the mean of x and its variance s_x²/n.
        let x = [1.0, 4.0, 2.0, 8.0];
        let s = RatioSummary::from_slices(&x, &[1.0; 4]).unwrap();
        let m = crate::Summary::from_slice(&x);
        assert!((s.ratio_variance(Group::Control).unwrap() - m.variance() / 4.0).abs() < 1e-14);
    }

    #[test]
    fn test_and_errors() {
        let t = RatioSummary::from_slices(&[10.0, 12.0, 9.0, 15.0], &[1.0, 2.0, 1.0, 2.0]).unwrap();
        let c = RatioSummary::from_slices(&[8.0, 10.0, 7.0, 9.0], &[1.0, 2.0, 1.0, 1.0]).unwrap();
        let r = ratio_test(&t, &c, &Hypothesis::default()).unwrap();
        assert!(r.ci_low < r.estimate && r.estimate < r.ci_high);
        let zero = RatioSummary::from_slices(&[1.0, 2.0], &[0.0, 0.0]).unwrap();
        assert_eq!(
            ratio_test(&t, &zero, &Hypothesis::default()),
            Err(Error::ZeroDenominatorMean {
                group: Group::Control
            })
        );
        assert!(RatioSummary::from_slices(&[1.0], &[]).is_err());
        assert!(RatioSummary::from_slices(&[f64::NAN], &[1.0]).is_err());
    }
}
