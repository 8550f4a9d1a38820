//! The alternative hypothesis, the significance level and the null value shared by the
//! tests, and the p-value and confidence-bound conventions that follow from them.

use serde::{Serialize, Serializer};

use crate::dist;
use crate::error::{Error, Result, check_finite, check_open};

/// The direction of the alternative hypothesis, always about **treatment − control** (or
/// treatment / control for ratio tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    /// H1: the effect differs from the null value (scipy `'two-sided'`).
    #[default]
    TwoSided,
    /// H1: the effect is larger than the null value (scipy `'greater'`, statsmodels
    /// `'larger'`).
    Greater,
    /// H1: the effect is smaller than the null value (scipy `'less'`, statsmodels
    /// `'smaller'`).
    Less,
}

/// The hypothesis a test is run against.
///
/// With `null = θ₀` (the value of the effect under H0, on the test's own scale):
///
/// | alternative | H0 | H1 | p-value | confidence bounds |
/// |---|---|---|---|---|
/// | `TwoSided` | θ = θ₀ | θ ≠ θ₀ | `2·P(S ≥ |s|)` | two-sided `1 − α` interval |
/// | `Greater` | θ ≤ θ₀ | θ > θ₀ | `P(S ≥ s)` | `[lower, +∞)`, one-sided `1 − α` |
/// | `Less` | θ ≥ θ₀ | θ < θ₀ | `P(S ≤ s)` | `(−∞, upper]`, one-sided `1 − α` |
///
/// The scale of θ depends on the test: a difference of means, proportions or rates
/// (`null = None` means 0), a relative lift (0), or a ratio of rates (`None` means 1).
///
/// **Non-inferiority** with margin `m > 0` when higher is better is
/// `H0: θ ≤ −m` vs `H1: θ > −m`, that is [`Hypothesis::non_inferiority`]: alternative
/// `Greater` and `null = −m`. When lower is better (for example a latency) it is
/// `H0: θ ≥ m` vs `H1: θ < m`: [`Hypothesis::non_inferiority_lower_is_better`].
///
/// A test rejects H0 when `p_value ≤ alpha` (the `reject` field of the results, the same
/// convention as statsmodels' `multipletests`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Hypothesis {
    /// The alternative hypothesis.
    pub alternative: Alternative,
    /// The significance level α; confidence intervals have level `1 − α`.
    pub alpha: f64,
    /// The effect under H0 on the test's own scale; `None` is "no effect" (0 for differences
    /// and lifts, 1 for ratios).
    pub null: Option<f64>,
}

impl Default for Hypothesis {
    fn default() -> Self {
        Hypothesis {
            alternative: Alternative::TwoSided,
            alpha: 0.05,
            null: None,
        }
    }
}

impl Hypothesis {
    /// Two-sided test of "no effect" at level `alpha`.
    pub fn two_sided(alpha: f64) -> Self {
        Hypothesis {
            alpha,
            ..Self::default()
        }
    }

    /// One-sided test of "no effect" against `alternative` at level `alpha`.
    pub fn one_sided(alternative: Alternative, alpha: f64) -> Self {
        Hypothesis {
            alternative,
            alpha,
            null: None,
        }
    }

    /// Non-inferiority when higher is better: `H0: θ ≤ −margin` vs `H1: θ > −margin`.
    pub fn non_inferiority(margin: f64, alpha: f64) -> Self {
        Hypothesis {
            alternative: Alternative::Greater,
            alpha,
            null: Some(-margin),
        }
    }

    /// Non-inferiority when lower is better: `H0: θ ≥ margin` vs `H1: θ < margin`.
    pub fn non_inferiority_lower_is_better(margin: f64, alpha: f64) -> Self {
        Hypothesis {
            alternative: Alternative::Less,
            alpha,
            null: Some(margin),
        }
    }

    /// The same hypothesis with another null value.
    pub fn with_null(self, null: f64) -> Self {
        Hypothesis {
            null: Some(null),
            ..self
        }
    }

    /// The null value, `default` when none was given. Errors when alpha is not in (0, 1) or
    /// the null value is not finite.
    pub(crate) fn checked_null(&self, default: f64) -> Result<f64> {
        check_open("alpha", self.alpha, 0.0, 1.0)?;
        match self.null {
            None => Ok(default),
            Some(v) => check_finite("null", v),
        }
    }

    /// Errors unless the null is "no effect": for tests (rank, contingency) that have no
    /// null value parameter.
    pub(crate) fn check_no_null(&self, test: &str) -> Result<()> {
        check_open("alpha", self.alpha, 0.0, 1.0)?;
        match self.null {
            None => Ok(()),
            Some(v) => Err(Error::InvalidInput(format!(
                "{test} tests \"no difference\" only; a null value of {v} is not supported"
            ))),
        }
    }

    /// The p-value of a statistic `s` whose null law is symmetric about 0 with upper tail
    /// `sf`.
    pub(crate) fn p_value(&self, s: f64, sf: impl Fn(f64) -> f64) -> f64 {
        match self.alternative {
            Alternative::TwoSided => (2.0 * sf(s.abs())).min(1.0),
            Alternative::Greater => sf(s),
            Alternative::Less => sf(-s),
        }
    }

    /// The normal-theory p-value of a z statistic.
    pub(crate) fn p_normal(&self, z: f64) -> f64 {
        self.p_value(z, dist::norm_sf)
    }

    /// The p-value of a t statistic with `df` degrees of freedom.
    pub(crate) fn p_t(&self, t: f64, df: f64) -> f64 {
        match self.alternative {
            Alternative::TwoSided => dist::t_two_tail(t.abs(), df),
            _ => self.p_value(t, |x| dist::t_sf(x, df)),
        }
    }

    /// The `1 − α` confidence bounds `estimate ∓ q·se` where `q = isf(α/2)` (two-sided) or
    /// `isf(α)` (one-sided, with the open side infinite).
    pub(crate) fn bounds(&self, estimate: f64, se: f64, isf: impl Fn(f64) -> f64) -> (f64, f64) {
        match self.alternative {
            Alternative::TwoSided => {
                let h = isf(0.5 * self.alpha) * se;
                (estimate - h, estimate + h)
            }
            Alternative::Greater => (estimate - isf(self.alpha) * se, f64::INFINITY),
            Alternative::Less => (f64::NEG_INFINITY, estimate + isf(self.alpha) * se),
        }
    }

    /// Normal-theory confidence bounds.
    pub(crate) fn bounds_normal(&self, estimate: f64, se: f64) -> (f64, f64) {
        self.bounds(estimate, se, dist::norm_isf)
    }

    /// Student-t confidence bounds.
    pub(crate) fn bounds_t(&self, estimate: f64, se: f64, df: f64) -> (f64, f64) {
        self.bounds(estimate, se, |p| dist::t_isf(p, df))
    }

    /// Whether a p-value rejects H0 at this level.
    pub(crate) fn rejects(&self, p: f64) -> bool {
        p <= self.alpha
    }
}

/// Serialises a float as JSON `null` when it is not finite (an open confidence bound), with
/// any serializer, not only `serde_json`.
pub(crate) fn finite_or_null<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_some(x)
    } else {
        s.serialize_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_inferiority_sets_direction_and_null() {
        let h = Hypothesis::non_inferiority(0.5, 0.025);
        assert_eq!(h.alternative, Alternative::Greater);
        assert_eq!(h.null, Some(-0.5));
        let h = Hypothesis::non_inferiority_lower_is_better(2.0, 0.05);
        assert_eq!((h.alternative, h.null), (Alternative::Less, Some(2.0)));
    }

    #[test]
    fn p_values_by_alternative() {
        let two = Hypothesis::default();
        assert!((two.p_normal(1.959963984540054) - 0.05).abs() < 1e-15);
        let g = Hypothesis::one_sided(Alternative::Greater, 0.05);
        let l = Hypothesis::one_sided(Alternative::Less, 0.05);
        assert!((g.p_normal(1.0) + l.p_normal(1.0) - 1.0).abs() < 1e-15);
        assert_eq!(two.p_normal(0.0), 1.0);
    }

    #[test]
    fn one_sided_bounds_are_open_on_one_side() {
        let g = Hypothesis::one_sided(Alternative::Greater, 0.05);
        let (lo, hi) = g.bounds_normal(1.0, 1.0);
        assert!((lo - (1.0 - 1.6448536269514722)).abs() < 1e-14);
        assert_eq!(hi, f64::INFINITY);
        let l = Hypothesis::one_sided(Alternative::Less, 0.05);
        assert_eq!(l.bounds_normal(1.0, 1.0).0, f64::NEG_INFINITY);
    }

    #[test]
    fn rejects_bad_alpha_and_null() {
        assert!(Hypothesis::two_sided(0.0).checked_null(0.0).is_err());
        assert!(
            Hypothesis::default()
                .with_null(f64::NAN)
                .checked_null(0.0)
                .is_err()
        );
        assert_eq!(Hypothesis::default().checked_null(1.0).unwrap(), 1.0);
        assert!(
            Hypothesis::default()
                .with_null(0.1)
                .check_no_null("x")
                .is_err()
        );
    }
}
