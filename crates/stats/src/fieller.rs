//! Fieller's confidence sets for a ratio of two estimates: `mean(T) / mean(C)`, a ratio
//! metric `Σx / Σy`, or a ratio of two ratio metrics. Unlike the delta method they stay
//! honest when the denominator is noisy: the set is then unbounded, or the complement of an
//! interval, and says so instead of printing a finite interval that does not cover.

use serde::Serialize;

use crate::dist;
use crate::error::{Error, Group, Result, check_finite};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};
use crate::ratio::RatioSummary;
use crate::summary::Summary;

/// Two jointly (approximately) normal estimates `a` and `b` of a ratio `ρ = E a / E b`, with
/// the variances and covariance of the estimates (not of single observations).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RatioEstimates {
    /// The numerator's estimate `a`.
    pub numerator: f64,
    /// The denominator's estimate `b`.
    pub denominator: f64,
    /// `Var a`.
    pub var_numerator: f64,
    /// `Var b`.
    pub var_denominator: f64,
    /// `Cov(a, b)`.
    pub covariance: f64,
    /// Degrees of freedom of a Student-t critical value, or `None` for the normal one.
    pub df: Option<f64>,
}

/// A Fieller confidence set: the `ρ` with `(a − ρb)² ≤ q² (v_a − 2ρ c + ρ² v_b)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FiellerSet {
    /// The interval `[low, high]`: the denominator is significantly different from 0. One end
    /// is infinite (JSON `null`) only in the boundary case `b² = q² v_b` exactly.
    Interval {
        /// The lower end.
        #[serde(serialize_with = "finite_or_null")]
        low: f64,
        /// The upper end.
        #[serde(serialize_with = "finite_or_null")]
        high: f64,
    },
    /// `(−∞, below] ∪ [above, +∞)`: the denominator is not significantly different from 0
    /// but the numerator is; the ratio is large in magnitude, of either sign.
    Exclusive {
        /// The end of the lower half-line.
        below: f64,
        /// The start of the upper half-line.
        above: f64,
    },
    /// Every real number: neither estimate is significantly different from 0, the data say
    /// nothing about the ratio.
    Unbounded,
}

impl FiellerSet {
    /// Whether `x` is in the set.
    pub fn contains(&self, x: f64) -> bool {
        match *self {
            FiellerSet::Interval { low, high } => low <= x && x <= high,
            FiellerSet::Exclusive { below, above } => x <= below || x >= above,
            FiellerSet::Unbounded => true,
        }
    }

    /// Whether the set is a bounded interval.
    pub fn is_bounded(&self) -> bool {
        matches!(self, FiellerSet::Interval { low, high } if low.is_finite() && high.is_finite())
    }
}

/// The result of the Fieller functions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FiellerResult {
    /// The ratio estimate `a / b`.
    pub estimate: f64,
    /// Fieller's two-sided `1 − α` confidence set.
    pub set: FiellerSet,
    /// The critical value `q` (normal, or Student t with the given df).
    pub critical: f64,
    /// `b / sqrt(v_b)`: the set is a bounded interval exactly when `|denominator_z| > q`.
    pub denominator_z: f64,
    /// Lower end of the delta-method interval `a/b ∓ q · sqrt(v_a − 2ρ̂c + ρ̂² v_b) / |b|`,
    /// for comparison (it is always finite, and wrong when the set is not bounded).
    pub delta_low: f64,
    /// Upper end of the delta-method interval.
    pub delta_high: f64,
    /// Fieller's statistic at the null, `(a − ρ₀b) / sqrt(v_a − 2ρ₀c + ρ₀² v_b)`.
    pub statistic: f64,
    /// Its two-sided p-value (normal, or Student t): `ρ₀` is in the set iff `p_value ≥ α`.
    pub p_value: f64,
    /// The ratio under H0 (1 when the hypothesis has none).
    pub null: f64,
    /// Whether H0 is rejected at α.
    pub reject: bool,
}

/// Fieller's confidence set for `ρ = E a / E b` (Fieller, "Some problems in interval
/// estimation", JRSS B 16, 1954): the `ρ` not rejected by the test of `a − ρb = 0`,
///
/// ```text
/// (a − ρb)² ≤ q² (v_a − 2ρc + ρ²v_b)
/// ⇔ A ρ² − 2Hρ + C ≤ 0,   A = b² − q²v_b,  H = ab − q²c,  C = a² − q²v_a,  D = H² − AC
/// ```
///
/// with `q = z_{1−α/2}` (or `t_{1−α/2, df}`). `A > 0` (the denominator significant:
/// `|b|/sqrt(v_b) > q`) gives the interval `[(H − √D)/A, (H + √D)/A]`; `A < 0` gives the
/// complement `(−∞, r₁] ∪ [r₂, ∞)` of the roots when `D > 0`, and the whole line when
/// `D ≤ 0`. The roots are computed without cancellation (`s = H + sign(H)√D`, roots `s/A`
/// and `C/s`). The test of `H0: ρ = ρ₀` uses the same statistic, so `ρ₀` is in the set
/// exactly when the test does not reject. Only two-sided sets are computed.
///
/// ```
/// use abforge_stats::{FiellerSet, Hypothesis, RatioEstimates, fieller};
///
/// // GraphPad QuickCalcs: means 14 and 7, SEMs 3/√6 and 2/√6, t with 10 df: 1.46 to 2.83.
/// let e = RatioEstimates { numerator: 14.0, denominator: 7.0, var_numerator: 1.5,
///                          var_denominator: 4.0 / 6.0, covariance: 0.0, df: Some(10.0) };
/// let r = fieller(&e, &Hypothesis::default())?;
/// let FiellerSet::Interval { low, high } = r.set else { panic!() };
/// assert!((low - 1.46).abs() < 0.005 && (high - 2.83).abs() < 0.005);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for a non-finite input, a negative variance, a covariance
/// with `c² > v_a v_b`, `df ≤ 0`, a zero denominator estimate or a bad α or null;
/// [`Error::InvalidInput`] for a one-sided alternative; [`Error::ZeroVariance`] when both
/// variances are 0 and the null differs from the estimate.
pub fn fieller(e: &RatioEstimates, h: &Hypothesis) -> Result<FiellerResult> {
    let null = check_inputs(e, h)?;
    let q = match e.df {
        None => dist::norm_isf(0.5 * h.alpha),
        Some(df) => dist::t_isf(0.5 * h.alpha, df),
    };
    let (a, b) = (e.numerator, e.denominator);
    let (va, vb, c) = (e.var_numerator, e.var_denominator, e.covariance);
    let estimate = a / b;
    let set = confidence_set(a, b, va, vb, c, q);
    let var_at = |rho: f64| (va - 2.0 * rho * c + rho * rho * vb).max(0.0);
    let half = q * var_at(estimate).sqrt() / b.abs();
    let (statistic, p_value) = match var_at(null) {
        v if v > 0.0 => {
            let s = (a - null * b) / v.sqrt();
            let p = match e.df {
                None => (2.0 * dist::norm_sf(s.abs())).min(1.0),
                Some(df) => dist::t_two_tail(s.abs(), df),
            };
            (s, p)
        }
        _ if a - null * b == 0.0 => (0.0, 1.0),
        _ => return Err(Error::ZeroVariance),
    };
    Ok(FiellerResult {
        estimate,
        set,
        critical: q,
        denominator_z: b / vb.sqrt(),
        delta_low: estimate - half,
        delta_high: estimate + half,
        statistic,
        p_value,
        null,
        reject: h.rejects(p_value),
    })
}

/// Fieller's set for `mean(T) / mean(C)` of two independent groups (`a = x̄_T`, `b = x̄_C`,
/// `v = s²/n`, no covariance, normal critical value): the relative lift plus one.
///
/// ```
/// use abforge_stats::{FiellerSet, Hypothesis, Summary, fieller_means};
///
/// let t = Summary::from_moments(50, 0.6, 1.0);
/// let c = Summary::from_moments(50, 0.3, 1.0); // control mean only 2.1 SE from 0
/// let r = fieller_means(&t, &c, &Hypothesis::default())?;
/// let FiellerSet::Interval { low, high } = r.set else { panic!("{:?}", r.set) };
/// // Skewed towards large ratios, unlike the symmetric delta-method interval.
/// assert!(high - 2.0 > 2.0 - low && high > r.delta_high);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] (n < 2), [`Error::ZeroControlMean`], and those of
/// [`fieller`].
pub fn fieller_means(t: &Summary, c: &Summary, h: &Hypothesis) -> Result<FiellerResult> {
    t.require(Group::Treatment, 2)?;
    c.require(Group::Control, 2)?;
    t.check(Group::Treatment)?;
    c.check(Group::Control)?;
    if c.mean == 0.0 {
        return Err(Error::ZeroControlMean);
    }
    fieller(
        &RatioEstimates {
            numerator: t.mean,
            denominator: c.mean,
            var_numerator: t.variance() / t.n as f64,
            var_denominator: c.variance() / c.n as f64,
            covariance: 0.0,
            df: None,
        },
        h,
    )
}

/// Fieller's set for one group's ratio metric `Σx / Σy = x̄ / ȳ`, with the covariance of the
/// paired means (`v_a = s_x²/n`, `v_b = s_y²/n`, `c = s_xy/n`, normal critical value): the
/// interval [`RatioSummary::ratio_variance`] approximates by the delta method.
///
/// # Errors
///
/// [`Error::TooFewObservations`] (n < 2), [`Error::ZeroDenominatorMean`], and those of
/// [`fieller`].
pub fn fieller_ratio_metric(
    s: &RatioSummary,
    group: Group,
    h: &Hypothesis,
) -> Result<FiellerResult> {
    if s.n < 2 {
        return Err(Error::TooFewObservations {
            group,
            n: s.n,
            needed: 2,
        });
    }
    if s.mean_y == 0.0 {
        return Err(Error::ZeroDenominatorMean { group });
    }
    let n = s.n as f64;
    fieller(
        &RatioEstimates {
            numerator: s.mean_x,
            denominator: s.mean_y,
            var_numerator: s.var_x() / n,
            var_denominator: s.var_y() / n,
            covariance: s.cov_xy() / n,
            df: None,
        },
        h,
    )
}

/// Fieller's set for the ratio of two groups' ratio metrics `R_T / R_C` (the relative lift of
/// a ratio metric plus one), with the delta-method variances of each `R` (as
/// [`crate::ratio_test`]) and no covariance between the groups.
///
/// # Errors
///
/// [`Error::TooFewObservations`], [`Error::ZeroDenominatorMean`], [`Error::InvalidInput`]
/// when the control ratio is 0, and those of [`fieller`].
pub fn fieller_ratio_metrics(
    t: &RatioSummary,
    c: &RatioSummary,
    h: &Hypothesis,
) -> Result<FiellerResult> {
    let vt = t.ratio_variance(Group::Treatment)?;
    let vc = c.ratio_variance(Group::Control)?;
    if c.ratio() == 0.0 {
        return Err(Error::InvalidInput(
            "the control ratio metric is 0, so a ratio of ratios is undefined".into(),
        ));
    }
    fieller(
        &RatioEstimates {
            numerator: t.ratio(),
            denominator: c.ratio(),
            var_numerator: vt,
            var_denominator: vc,
            covariance: 0.0,
            df: None,
        },
        h,
    )
}

/// Validates the inputs; returns the null ratio.
fn check_inputs(e: &RatioEstimates, h: &Hypothesis) -> Result<f64> {
    let null = h.checked_null(1.0)?;
    if h.alternative != Alternative::TwoSided {
        return Err(Error::InvalidInput(
            "Fieller's confidence set is two-sided; use Alternative::TwoSided".into(),
        ));
    }
    check_finite("numerator", e.numerator)?;
    check_finite("denominator", e.denominator)?;
    check_finite("covariance", e.covariance)?;
    for (name, v) in [
        ("var_numerator", e.var_numerator),
        ("var_denominator", e.var_denominator),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Error::InvalidParameter {
                name,
                value: v,
                expected: "a finite variance ≥ 0",
            });
        }
    }
    let bound = e.var_numerator * e.var_denominator;
    if e.covariance * e.covariance > bound * (1.0 + 1e-12) {
        return Err(Error::InvalidParameter {
            name: "covariance",
            value: e.covariance,
            expected: "|covariance| ≤ sqrt(var_numerator · var_denominator)",
        });
    }
    if let Some(df) = e.df
        && (df.is_nan() || df <= 0.0)
    {
        return Err(Error::InvalidParameter {
            name: "df",
            value: df,
            expected: "degrees of freedom > 0",
        });
    }
    if e.denominator == 0.0 {
        return Err(Error::InvalidParameter {
            name: "denominator",
            value: 0.0,
            expected: "a non-zero denominator estimate",
        });
    }
    Ok(null)
}

/// The set `{ρ : Aρ² − 2Hρ + C ≤ 0}` of [`fieller`].
fn confidence_set(a: f64, b: f64, va: f64, vb: f64, c: f64, q: f64) -> FiellerSet {
    let q2 = q * q;
    let qa = b * b - q2 * vb;
    let hh = a * b - q2 * c;
    let cc = a * a - q2 * va;
    let d = hh * hh - qa * cc;
    if qa == 0.0 {
        // Linear: −2Hρ + C ≤ 0.
        return match hh {
            h if h > 0.0 => FiellerSet::Interval {
                low: cc / (2.0 * h),
                high: f64::INFINITY,
            },
            h if h < 0.0 => FiellerSet::Interval {
                low: f64::NEG_INFINITY,
                high: cc / (2.0 * h),
            },
            _ => FiellerSet::Unbounded,
        };
    }
    if qa < 0.0 && d <= 0.0 {
        return FiellerSet::Unbounded;
    }
    // A > 0 implies D ≥ 0 (the estimate a/b is in the set); clamp rounding.
    let s = hh + hh.signum() * d.max(0.0).sqrt();
    let (r1, r2) = if s == 0.0 {
        (0.0, 0.0)
    } else {
        (s / qa, cc / s)
    };
    let (lo, hi) = (r1.min(r2), r1.max(r2));
    if qa > 0.0 {
        FiellerSet::Interval { low: lo, high: hi }
    } else {
        FiellerSet::Exclusive {
            below: lo,
            above: hi,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(a: f64, b: f64, va: f64, vb: f64, c: f64) -> RatioEstimates {
        RatioEstimates {
            numerator: a,
            denominator: b,
            var_numerator: va,
            var_denominator: vb,
            covariance: c,
            df: None,
        }
    }

    #[test]
    fn the_three_shapes() {
        let h = Hypothesis::default();
        // Denominator 5 SE from 0: an interval around the estimate.
        let r = fieller(&est(2.0, 1.0, 0.04, 0.04, 0.0), &h).unwrap();
        assert!(r.set.is_bounded() && r.set.contains(2.0));
        // Denominator 1 SE from 0, numerator 10 SE: the complement of an interval.
        let r = fieller(&est(1.0, 0.1, 0.01, 0.01, 0.0), &h).unwrap();
        let FiellerSet::Exclusive { below, above } = r.set else {
            panic!("{:?}", r.set)
        };
        assert!(below < 0.0 && above > 0.0 && above <= 10.0 && r.set.contains(10.0));
        assert!(!r.set.contains(0.0));
        // Both 1 SE from 0: everything.
        let r = fieller(&est(0.1, 0.1, 0.01, 0.01, 0.0), &h).unwrap();
        assert_eq!(r.set, FiellerSet::Unbounded);
        assert!(r.delta_low.is_finite() && r.delta_high.is_finite());
    }

    #[test]
    fn null_in_set_iff_not_rejected() {
        let e = est(2.0, 1.0, 0.09, 0.04, 0.01);
        let r = fieller(&e, &Hypothesis::default()).unwrap();
        let FiellerSet::Interval { low, high } = r.set else {
            panic!()
        };
        for null in [low - 1e-6, low + 1e-6, 2.0, high - 1e-6, high + 1e-6] {
            let t = fieller(&e, &Hypothesis::default().with_null(null)).unwrap();
            assert_eq!(t.reject, !r.set.contains(null), "null {null}");
        }
        // At an end the statistic is the critical value.
        let t = fieller(&e, &Hypothesis::default().with_null(low)).unwrap();
        assert!((t.statistic.abs() - r.critical).abs() < 1e-9);
    }

    #[test]
    fn errors() {
        let h = Hypothesis::default();
        assert!(fieller(&est(1.0, 0.0, 1.0, 1.0, 0.0), &h).is_err());
        assert!(fieller(&est(1.0, 1.0, -1.0, 1.0, 0.0), &h).is_err());
        assert!(fieller(&est(1.0, 1.0, 1.0, 1.0, 2.0), &h).is_err());
        assert!(fieller(&est(f64::NAN, 1.0, 1.0, 1.0, 0.0), &h).is_err());
        let one = Hypothesis::one_sided(Alternative::Greater, 0.05);
        assert!(fieller(&est(1.0, 1.0, 1.0, 1.0, 0.0), &one).is_err());
        // No variance: the set is the point estimate.
        let r = fieller(&est(3.0, 2.0, 0.0, 0.0, 0.0), &h.with_null(1.5)).unwrap();
        assert_eq!(
            r.set,
            FiellerSet::Interval {
                low: 1.5,
                high: 1.5
            }
        );
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
        assert_eq!(
            fieller(&est(3.0, 2.0, 0.0, 0.0, 0.0), &h),
            Err(Error::ZeroVariance)
        );
        let c = Summary::from_moments(10, 0.0, 1.0);
        let t = Summary::from_moments(10, 1.0, 1.0);
        assert_eq!(fieller_means(&t, &c, &h), Err(Error::ZeroControlMean));
    }
}
