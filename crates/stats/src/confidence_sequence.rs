//! Asymptotic confidence sequences for the difference of means and the relative lift: intervals
//! that hold at every look at once, so an experiment can be watched and stopped whenever,
//! as GrowthBook's "sequential testing" computes them.
//!
//! The method is the asymptotic confidence sequence of Waudby-Smith, Arnold, Wu, Wang & Ramdas,
//! "Time-uniform central limit theory and asymptotic confidence sequences", *Annals of
//! Statistics* 52(6), 2024 (arXiv 2103.06476 v7: eq. 9 for the two-sided boundary, eq. 134 for
//! the one-sided one, eq. 155 for the p-value, eq. 161 for ρ), with GrowthBook's choices
//! (`gbstats/frequentist/tests.py`, `SequentialTwoSidedTTest` and the one-sided
//! `SequentialOneSidedTreatment{Greater,Lesser}TTest`): the plug-in variance `V` of the
//! estimate, `N = n_t + n_c` and a tuning parameter ρ fixed by the planned total sample size.
//! The sequence is the running intersection of the looks' intervals
//! ([`AsymptoticCsSequence`]); the always-valid p-value is the running minimum.
//!
//! It is the normal mixture boundary of the mSPRT ([`crate::msprt`]) with the mixing variance
//! tied to the data, `τ² = ρ²·N·V` (for a 50/50 split `N·V ≈ 4σ²`, so `τ ≈ 2ρσ`): the two
//! agree exactly when [`crate::MsprtOptions::tau2`] is set to that value. What the asymptotic
//! theory adds is that the coverage holds, as `N` grows, for any distribution with finite
//! variance, with the variance estimated.

use serde::Serialize;

use crate::error::{Error, Group, Result, check_open};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};
use crate::summary::Summary;

/// GrowthBook's default planned total sample size `n*` (its `sequential_tuning_parameter`).
pub const DEFAULT_PLANNED_N: f64 = 5000.0;
/// The largest planned total sample size accepted.
pub const MAX_PLANNED_N: f64 = 1e18;
/// The largest tuning parameter ρ accepted (GrowthBook's ρ is about 0.04 for 5000 units).
pub const MAX_RHO: f64 = 1e3;

/// Options of [`asymptotic_cs`] and [`asymptotic_cs_lift`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AsymptoticCsOptions {
    /// The level α (coverage `1 − α` over all looks at once), the alternative and the null
    /// value (on the scale of the estimate: a difference, or a lift). One-sided sequences
    /// need `α < 0.5`.
    pub hypothesis: Hypothesis,
    /// The planned total sample size `n* = n_t + n_c` at which the boundary is tightest
    /// (GrowthBook's `sequential_tuning_parameter`, default 5000). Used when `rho` is `None`.
    pub planned_n: f64,
    /// The tuning parameter ρ itself; overrides `planned_n`. Fix it before the experiment.
    pub rho: Option<f64>,
}

impl Default for AsymptoticCsOptions {
    fn default() -> Self {
        AsymptoticCsOptions {
            hypothesis: Hypothesis::default(),
            planned_n: DEFAULT_PLANNED_N,
            rho: None,
        }
    }
}

/// What an [`AsymptoticCsResult`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CsScale {
    /// The difference of means, treatment − control.
    Difference,
    /// The relative lift `x̄_t / x̄_c − 1`.
    RelativeLift,
}

/// One look of an asymptotic confidence sequence.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AsymptoticCsResult {
    /// What the estimate and the bounds measure.
    pub scale: CsScale,
    /// The estimate at this look.
    pub estimate: f64,
    /// `sqrt(V)`, the plug-in standard error of the estimate.
    pub std_error: f64,
    /// `N = n_t + n_c`.
    pub n: u64,
    /// The tuning parameter ρ used.
    pub rho: f64,
    /// The always-valid p-value of this look alone (`min(1, 1/E)` for the mixture e-value
    /// `E`, two-sided; the inversion of the one-sided boundary otherwise). The running
    /// minimum over looks is the always-valid p-value ([`AsymptoticCsSequence`]).
    pub p_value: f64,
    /// Lower bound of the interval at this look (−∞ for `Less`).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper bound (+∞ for `Greater`).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// The null value tested.
    pub null: f64,
    /// The alternative tested.
    pub alternative: Alternative,
    /// `p_value ≤ α`: the null value is outside this look's interval.
    pub reject: bool,
}

/// GrowthBook's ρ for a planned total sample size `n*` (eq. 161 of Waudby-Smith et al.): the
/// ρ that makes the two-sided boundary tightest at `N = n*`,
///
/// ```text
/// ρ = sqrt( (−2 ln a + ln(1 − 2 ln a)) / n* ),   a = α (two-sided), 2α (one-sided)
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for α outside (0, 1), or outside (0, 0.5) one-sided, and for
/// `planned_n` outside `[1, MAX_PLANNED_N]`.
pub fn rho_for_planned_n(alpha: f64, planned_n: f64, alternative: Alternative) -> Result<f64> {
    check_alpha(alpha, alternative)?;
    if !(planned_n.is_finite() && (1.0..=MAX_PLANNED_N).contains(&planned_n)) {
        return Err(Error::InvalidParameter {
            name: "planned_n",
            value: planned_n,
            expected: "expected a planned total sample size in [1, 1e18]",
        });
    }
    let a = match alternative {
        Alternative::TwoSided => alpha,
        _ => 2.0 * alpha,
    };
    let l = -2.0 * a.ln();
    Ok(((l + l.ln_1p()) / planned_n).sqrt())
}

/// The asymptotic confidence sequence of the difference of means `x̄_t − x̄_c` at one look.
///
/// With `Δ̂ = x̄_t − x̄_c`, `V = s_t²/n_t + s_c²/n_c`, `N = n_t + n_c`, `x = N·ρ²` and
/// `d = Δ̂ − θ₀`:
///
/// ```text
/// two-sided   CS = Δ̂ ± sqrt( V · 2(x+1)/x · ln( sqrt(x+1) / α ) )
///             p  = min(1, sqrt(x+1) · exp(−q)),   q = x·d² / (2V(x+1))
/// Greater     CS = [Δ̂ − sqrt( V · 2(x+1)/x · ln(1 + sqrt(x+1)/(2α)) ), +∞)
///             p  = min(1, sqrt(x+1) / (2(e^q − 1)))  for d > 0, else 1
/// Less        the mirror image
/// ```
///
/// The p-value is the smallest α whose boundary excludes θ₀, with ρ held fixed, so `reject`
/// agrees with the interval. GrowthBook finds the one-sided p-value by bisection between
/// 1e-5 and 0.4999; here it is the closed form, not clamped. The coverage is asymptotic:
/// it needs enough data for the variance estimates and the central limit theorem, and
/// holds for every planned size; ρ only decides where the boundary is tightest.
///
/// ```
/// use abforge_stats::{AsymptoticCsOptions, AsymptoticCsSequence, Summary, asymptotic_cs};
///
/// let mut seq = AsymptoticCsSequence::default();
/// for n in [1000, 2000, 5000] {
///     let t = Summary::from_moments(n, 10.4, 25.0);
///     let c = Summary::from_moments(n, 10.0, 25.0);
///     seq.update(&asymptotic_cs(&t, &c, &AsymptoticCsOptions::default())?);
/// }
/// assert!(seq.ci_low > 0.0 && seq.p_value < 0.05);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for fewer than 2 values in a group, [`Error::InvalidInput`]
/// for a summary that is not finite, [`Error::ZeroVariance`] when `V = 0` and `Δ̂ ≠ θ₀`,
/// [`Error::InvalidParameter`] for α, `planned_n` or ρ out of range.
pub fn asymptotic_cs(
    t: &Summary,
    c: &Summary,
    opts: &AsymptoticCsOptions,
) -> Result<AsymptoticCsResult> {
    let null = opts.hypothesis.checked_null(0.0)?;
    let n = checked_groups(t, c)?;
    let estimate = t.mean - c.mean;
    let v = t.variance() / t.n as f64 + c.variance() / c.n as f64;
    look(CsScale::Difference, estimate, v, n, null, opts)
}

/// The asymptotic confidence sequence of the relative lift `x̄_t / x̄_c − 1` at one look, with
/// the delta-method variance of [`crate::relative_lift`],
/// `V = (s_t²/n_t + (x̄_t/x̄_c)² · s_c²/n_c) / x̄_c²`, and otherwise the formulas of
/// [`asymptotic_cs`] (GrowthBook's `difference_type = "relative"`).
///
/// GrowthBook divides by `|x̄_c|`, so when the control mean is negative its lift has the
/// opposite sign of this one (and its interval is this one mirrored); the variance is the
/// same.
///
/// # Errors
///
/// Those of [`asymptotic_cs`], and [`Error::ZeroControlMean`].
pub fn asymptotic_cs_lift(
    t: &Summary,
    c: &Summary,
    opts: &AsymptoticCsOptions,
) -> Result<AsymptoticCsResult> {
    let null = opts.hypothesis.checked_null(0.0)?;
    let n = checked_groups(t, c)?;
    let (mt, mc) = (t.mean, c.mean);
    if mc == 0.0 {
        return Err(Error::ZeroControlMean);
    }
    let ratio = mt / mc;
    let vt = t.variance() / t.n as f64;
    let vc = c.variance() / c.n as f64;
    let v = (vt + ratio * ratio * vc) / (mc * mc);
    look(CsScale::RelativeLift, ratio - 1.0, v, n, null, opts)
}

/// Checks both groups and returns `N = n_t + n_c`.
fn checked_groups(t: &Summary, c: &Summary) -> Result<u64> {
    t.require(Group::Treatment, 2)?;
    c.require(Group::Control, 2)?;
    t.check(Group::Treatment)?;
    c.check(Group::Control)?;
    t.n.checked_add(c.n).ok_or(Error::Overflow)
}

/// α in (0, 1), and below 0.5 for one-sided sequences (GrowthBook refuses them too: the
/// one-sided ρ of [`rho_for_planned_n`] needs `2α < 1`).
fn check_alpha(alpha: f64, alternative: Alternative) -> Result<f64> {
    check_open("alpha", alpha, 0.0, 1.0)?;
    if alternative != Alternative::TwoSided && alpha >= 0.5 {
        return Err(Error::InvalidParameter {
            name: "alpha",
            value: alpha,
            expected: "a one-sided confidence sequence needs alpha < 0.5",
        });
    }
    Ok(alpha)
}

/// The ρ of the options, checked.
fn rho_of(opts: &AsymptoticCsOptions) -> Result<f64> {
    let alternative = opts.hypothesis.alternative;
    check_alpha(opts.hypothesis.alpha, alternative)?;
    match opts.rho {
        Some(rho) if rho.is_finite() && rho > 0.0 && rho <= MAX_RHO => Ok(rho),
        Some(rho) => Err(Error::InvalidParameter {
            name: "rho",
            value: rho,
            expected: "expected a number in (0, 1000]",
        }),
        None => rho_for_planned_n(opts.hypothesis.alpha, opts.planned_n, alternative),
    }
}

/// One look from the estimate, its variance `V` and `N`.
fn look(
    scale: CsScale,
    estimate: f64,
    v: f64,
    n: u64,
    null: f64,
    opts: &AsymptoticCsOptions,
) -> Result<AsymptoticCsResult> {
    let rho = rho_of(opts)?;
    let h = &opts.hypothesis;
    if !(v.is_finite() && estimate.is_finite()) {
        return Err(Error::Overflow);
    }
    let d = estimate - null;
    let x = n as f64 * rho * rho;
    let (half, p_value) = if v == 0.0 {
        if d != 0.0 {
            return Err(Error::ZeroVariance);
        }
        (0.0, 1.0)
    } else {
        (half_width(v, x, h), p_value(d, v, x, h.alternative))
    };
    let (ci_low, ci_high) = match h.alternative {
        Alternative::TwoSided => (estimate - half, estimate + half),
        Alternative::Greater => (estimate - half, f64::INFINITY),
        Alternative::Less => (f64::NEG_INFINITY, estimate + half),
    };
    Ok(AsymptoticCsResult {
        scale,
        estimate,
        std_error: v.sqrt(),
        n,
        rho,
        p_value,
        ci_low,
        ci_high,
        null,
        alternative: h.alternative,
        reject: p_value <= h.alpha,
    })
}

/// The boundary's half-width (eq. 9 two-sided, eq. 134 one-sided); `x = N·ρ²`. Infinite
/// when `x` underflows to 0, never NaN.
fn half_width(v: f64, x: f64, h: &Hypothesis) -> f64 {
    let log_term = match h.alternative {
        // 2 ln(sqrt(x+1)/α) = ln(1+x) − 2 ln α
        Alternative::TwoSided => 0.5 * (x.ln_1p() - 2.0 * h.alpha.ln()),
        _ => ((x + 1.0).sqrt() / (2.0 * h.alpha)).ln_1p(),
    };
    (v * 2.0 * (1.0 + 1.0 / x) * log_term).sqrt()
}

/// The p-value of `d = estimate − null` (eq. 155 two-sided; the inversion of eq. 134
/// one-sided), computed on the log scale.
fn p_value(d: f64, v: f64, x: f64, alternative: Alternative) -> f64 {
    let q = x * d * d / (2.0 * v * (x + 1.0));
    let half_log = 0.5 * x.ln_1p();
    let ln_p = match alternative {
        Alternative::TwoSided => half_log - q,
        Alternative::Greater | Alternative::Less => {
            let towards = if alternative == Alternative::Greater {
                d
            } else {
                -d
            };
            if towards <= 0.0 || q == 0.0 {
                return 1.0;
            }
            // ln(e^q − 1), stable for small and large q.
            let ln_expm1 = if q < 1.0 {
                q.exp_m1().ln()
            } else {
                q + (-(-q).exp()).ln_1p()
            };
            half_log - std::f64::consts::LN_2 - ln_expm1
        }
    };
    ln_p.exp().min(1.0)
}

/// The running state of an asymptotic confidence sequence over several looks: the running
/// intersection of the intervals and the running minimum of the p-values.
///
/// Under the method's assumptions the intersection is empty (`ci_low > ci_high`) only on
/// the α-probability event the guarantee excludes; [`AsymptoticCsSequence::is_empty`] tells.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AsymptoticCsSequence {
    /// Looks so far.
    pub looks: u32,
    /// The always-valid p-value.
    pub p_value: f64,
    /// Lower bound of the confidence sequence.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper bound.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
}

impl Default for AsymptoticCsSequence {
    fn default() -> Self {
        AsymptoticCsSequence {
            looks: 0,
            p_value: 1.0,
            ci_low: f64::NEG_INFINITY,
            ci_high: f64::INFINITY,
        }
    }
}

impl AsymptoticCsSequence {
    /// Folds in one look (all looks must use the same options and scale).
    pub fn update(&mut self, look: &AsymptoticCsResult) {
        self.looks = self.looks.saturating_add(1);
        self.p_value = self.p_value.min(look.p_value);
        self.ci_low = self.ci_low.max(look.ci_low);
        self.ci_high = self.ci_high.min(look.ci_high);
    }

    /// Whether the intersection is empty.
    pub fn is_empty(&self) -> bool {
        self.ci_low > self.ci_high
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MsprtOptions, msprt};

    #[test]
    fn growthbook_rho() {
        // −2 ln 0.05 = 5.991464547107979; ρ² = (5.99146 + ln 6.99146) / 5000.
        let rho = rho_for_planned_n(0.05, 5000.0, Alternative::TwoSided).unwrap();
        let l = -2.0 * 0.05f64.ln();
        assert!((rho * rho - (l + (1.0 + l).ln()) / 5000.0).abs() < 1e-18);
        assert!(rho_for_planned_n(0.5, 5000.0, Alternative::Greater).is_err());
        assert!(rho_for_planned_n(0.05, 0.5, Alternative::TwoSided).is_err());
        assert!(rho_for_planned_n(0.05, f64::NAN, Alternative::TwoSided).is_err());
    }

    #[test]
    fn equals_the_msprt_with_tau2_rho2_n_v() {
        let t = Summary::from_moments(3000, 1.3, 4.0);
        let c = Summary::from_moments(2000, 1.2, 3.0);
        let r = asymptotic_cs(&t, &c, &AsymptoticCsOptions::default()).unwrap();
        let v = r.std_error * r.std_error;
        let tau2 = r.rho * r.rho * r.n as f64 * v;
        let o = MsprtOptions {
            tau2: Some(tau2),
            ..Default::default()
        };
        let m = msprt(&t, &c, &o).unwrap();
        assert!((m.ci_low - r.ci_low).abs() < 1e-12 && (m.ci_high - r.ci_high).abs() < 1e-12);
        assert!((m.p_value - r.p_value).abs() < 1e-12 * r.p_value.max(1e-300));
    }

    #[test]
    fn p_value_is_alpha_at_the_boundary() {
        let c = Summary::from_moments(500, 0.0, 1.0);
        for alt in [
            Alternative::TwoSided,
            Alternative::Greater,
            Alternative::Less,
        ] {
            let o = AsymptoticCsOptions {
                hypothesis: Hypothesis::one_sided(alt, 0.05),
                ..Default::default()
            };
            let r = asymptotic_cs(&Summary::from_moments(500, 0.0, 1.0), &c, &o).unwrap();
            let edge = if alt == Alternative::Less {
                r.ci_high
            } else {
                r.ci_low
            };
            // Move the treatment so that 0 sits exactly on the boundary.
            let at = asymptotic_cs(&Summary::from_moments(500, -edge, 1.0), &c, &o).unwrap();
            assert!((at.p_value - 0.05).abs() < 1e-9, "{alt:?}: {}", at.p_value);
        }
    }

    #[test]
    fn degenerate_and_hostile_inputs() {
        let k = Summary::from_slice(&[2.0; 5]);
        let o = AsymptoticCsOptions::default();
        let r = asymptotic_cs(&k, &k, &o).unwrap();
        assert_eq!((r.p_value, r.ci_low, r.ci_high), (1.0, 0.0, 0.0));
        let k3 = Summary::from_slice(&[3.0; 5]);
        assert_eq!(asymptotic_cs(&k3, &k, &o), Err(Error::ZeroVariance));
        let z = Summary::from_moments(10, 0.0, 1.0);
        assert_eq!(asymptotic_cs_lift(&z, &z, &o), Err(Error::ZeroControlMean));
        let bad = |f: fn(&mut AsymptoticCsOptions)| {
            let mut o = AsymptoticCsOptions::default();
            f(&mut o);
            asymptotic_cs(&z, &z, &o).unwrap_err()
        };
        for e in [
            bad(|o| o.hypothesis.alpha = 1.0),
            bad(|o| o.hypothesis = Hypothesis::one_sided(Alternative::Less, 0.6)),
            bad(|o| o.planned_n = f64::INFINITY),
            bad(|o| o.rho = Some(0.0)),
            bad(|o| o.rho = Some(f64::NAN)),
            bad(|o| o.rho = Some(1e9)),
        ] {
            assert!(matches!(e, Error::InvalidParameter { .. }), "{e}");
        }
        let nan = Summary::new(10, f64::NAN, 1.0);
        assert!(matches!(
            asymptotic_cs(&nan, &z, &o),
            Err(Error::InvalidInput(_))
        ));
        assert!(asymptotic_cs(&Summary::from_slice(&[1.0]), &z, &o).is_err());
    }

    #[test]
    fn the_sequence_only_tightens() {
        let mut s = AsymptoticCsSequence::default();
        assert!(!s.is_empty());
        let o = AsymptoticCsOptions::default();
        let mut width = f64::INFINITY;
        for (n, m) in [(100, 0.3), (400, 0.1), (1600, 0.2)] {
            let t = Summary::from_moments(n, m, 1.0);
            let c = Summary::from_moments(n, 0.0, 1.0);
            s.update(&asymptotic_cs(&t, &c, &o).unwrap());
            assert!(s.ci_high - s.ci_low <= width);
            width = s.ci_high - s.ci_low;
        }
        assert_eq!(s.looks, 3);
        assert!(s.ci_low > 0.0 && s.p_value < 0.05);
    }
}
