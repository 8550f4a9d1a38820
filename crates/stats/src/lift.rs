//! The relative lift `mean_t / mean_c − 1` with a delta-method interval.

use serde::Serialize;

use crate::error::{Error, Group, Result};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};
use crate::summary::Summary;

/// The result of [`relative_lift`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LiftResult {
    /// `x̄_t / x̄_c − 1`.
    pub estimate: f64,
    /// Its delta-method standard error.
    pub std_error: f64,
    /// `(estimate − null) / std_error`.
    pub statistic: f64,
    /// The normal p-value for the alternative.
    pub p_value: f64,
    /// Lower confidence bound (normal, `estimate − z·se`).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper confidence bound.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// The lift under H0.
    pub null: f64,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at α.
    pub reject: bool,
}

/// The relative lift of the treatment mean over the control mean, with a delta-method
/// (first-order Taylor) standard error for independent groups:
///
/// ```text
/// L  = x̄_t / x̄_c − 1
/// se = sqrt( (s_t²/n_t) / x̄_c²  +  x̄_t² (s_c²/n_c) / x̄_c⁴ )
/// z  = (L − L₀) / se,           CI = L ± z_{1−α/2} · se
/// ```
///
/// (see e.g. Deng, Knoblich & Lu, "Applying the Delta Method in Metric Analytics", KDD 2018,
/// §3.3). The normal interval is symmetric; it is reliable when the control mean is many
/// standard errors away from 0. Both groups constant: `z = 0`, `p = 1` when the lift equals
/// the null, else [`Error::ZeroVariance`].
///
/// ```
/// use abforge_stats::{Hypothesis, Summary, relative_lift};
///
/// let t = Summary::from_moments(1000, 2.2, 2.0);
/// let c = Summary::from_moments(1000, 2.0, 2.0);
/// let r = relative_lift(&t, &c, &Hypothesis::default())?;
/// assert!((r.estimate - 0.1).abs() < 1e-12);
/// assert!(r.ci_low < 0.1 && 0.1 < r.ci_high);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::ZeroControlMean`], [`Error::TooFewObservations`] (fewer than 2 in a group),
/// [`Error::ZeroVariance`], [`Error::InvalidParameter`].
pub fn relative_lift(treatment: &Summary, control: &Summary, h: &Hypothesis) -> Result<LiftResult> {
    let null = h.checked_null(0.0)?;
    treatment.require(Group::Treatment, 2)?;
    control.require(Group::Control, 2)?;
    treatment.check(Group::Treatment)?;
    control.check(Group::Control)?;
    let (mt, mc) = (treatment.mean, control.mean);
    if mc == 0.0 {
        return Err(Error::ZeroControlMean);
    }
    let vt = treatment.variance() / treatment.n as f64;
    let vc = control.variance() / control.n as f64;
    let ratio = mt / mc;
    let estimate = ratio - 1.0;
    let se = (vt / (mc * mc) + ratio * ratio * vc / (mc * mc)).sqrt();
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
    Ok(LiftResult {
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
    fn delta_method_standard_error() {
        let t = Summary::from_moments(100, 3.0, 4.0);
        let c = Summary::from_moments(400, 2.0, 9.0);
        let r = relative_lift(&t, &c, &Hypothesis::default()).unwrap();
        let want = (0.04 / 4.0 + 9.0 * 0.0225 / 16.0f64).sqrt();
        assert!((r.std_error - want).abs() < 1e-15);
        assert!((r.estimate - 0.5).abs() < 1e-15);
    }

    #[test]
    fn errors_and_degenerate() {
        let h = Hypothesis::default();
        let z = Summary::from_moments(10, 0.0, 1.0);
        assert_eq!(relative_lift(&z, &z, &h), Err(Error::ZeroControlMean));
        let k = Summary::from_slice(&[2.0; 5]);
        let r = relative_lift(&k, &k, &h).unwrap();
        assert_eq!((r.statistic, r.p_value, r.estimate), (0.0, 1.0, 0.0));
        let k2 = Summary::from_slice(&[3.0; 5]);
        assert_eq!(relative_lift(&k2, &k, &h), Err(Error::ZeroVariance));
        assert!(relative_lift(&Summary::from_slice(&[1.0]), &k, &h).is_err());
    }
}
