//! Welch's and Student's two-sample t-tests of the difference of means.

use serde::Serialize;

use crate::error::{Error, Group, Result};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};
use crate::summary::Summary;

/// The result of a two-sample t-test of `mean(treatment) − mean(control)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TTestResult {
    /// `t = (estimate − null) / std_error`.
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// The p-value for the hypothesis's alternative.
    pub p_value: f64,
    /// Lower confidence bound of the difference; `-inf` (JSON `null`) for `Less`.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper confidence bound of the difference; `+inf` (JSON `null`) for `Greater`.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// `mean(treatment) − mean(control)`.
    pub estimate: f64,
    /// Standard error of the estimate.
    pub std_error: f64,
    /// The difference under H0.
    pub null: f64,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at the hypothesis's α (`p_value ≤ alpha`).
    pub reject: bool,
}

/// Welch's unequal-variances t-test (scipy `ttest_ind(t, c, equal_var=False)`).
///
/// ```text
/// se = sqrt(s_t²/n_t + s_c²/n_c)
/// t  = (x̄_t − x̄_c − δ₀) / se
/// df = (s_t²/n_t + s_c²/n_c)² / ((s_t²/n_t)²/(n_t − 1) + (s_c²/n_c)²/(n_c − 1))   (Welch–Satterthwaite)
/// CI = x̄_t − x̄_c ± t_{df, 1−α/2} · se      (scipy's `confidence_interval`)
/// ```
///
/// One constant group is fine (df becomes `n − 1` of the other group, as in scipy). When
/// **both** groups are constant, scipy returns NaN or ±inf; here, if the difference equals
/// the null value the result is defined as `t = 0`, `p = 1`, `df = n_t + n_c − 2` and a
/// zero-width interval at the estimate, otherwise [`Error::ZeroVariance`].
///
/// ```
/// use abforge_stats::{Hypothesis, Summary, welch_t};
///
/// let t = Summary::from_slice(&[5.2, 6.0, 7.9]);
/// let c = Summary::from_slice(&[3.1, 4.7]);
/// let r = welch_t(&t, &c, &Hypothesis::default())?;
/// assert!((r.statistic - 2.179300236998914).abs() < 1e-12);
/// assert!((r.p_value - 0.1285261063561211).abs() < 1e-10);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] when a group has fewer than 2 observations,
/// [`Error::ZeroVariance`] as above, [`Error::InvalidParameter`] for a bad α or null.
pub fn welch_t(treatment: &Summary, control: &Summary, h: &Hypothesis) -> Result<TTestResult> {
    let null = h.checked_null(0.0)?;
    treatment.require(Group::Treatment, 2)?;
    control.require(Group::Control, 2)?;
    treatment.check(Group::Treatment)?;
    control.check(Group::Control)?;
    let vt = treatment.variance() / treatment.n as f64;
    let vc = control.variance() / control.n as f64;
    let v = vt + vc;
    let se = v.sqrt();
    let estimate = treatment.mean - control.mean;
    if se == 0.0 {
        let df = (treatment.n + control.n - 2) as f64;
        return degenerate(estimate, null, df, h);
    }
    let df = v * v / (vt * vt / (treatment.n - 1) as f64 + vc * vc / (control.n - 1) as f64);
    Ok(finish(estimate, se, df, null, h))
}

/// Student's pooled-variance t-test (scipy `ttest_ind(t, c, equal_var=True)`).
///
/// ```text
/// s_p² = ((n_t − 1)s_t² + (n_c − 1)s_c²) / (n_t + n_c − 2)
/// se   = sqrt(s_p² (1/n_t + 1/n_c)),   df = n_t + n_c − 2
/// t    = (x̄_t − x̄_c − δ₀) / se,        CI = x̄_t − x̄_c ± t_{df, 1−α/2} · se
/// ```
///
/// Both groups constant: the same convention as [`welch_t`].
///
/// ```
/// use abforge_stats::{Hypothesis, Summary, student_t};
///
/// let t = Summary::from_slice(&[5.2, 6.0, 7.9]);
/// let c = Summary::from_slice(&[3.1, 4.7]);
/// let r = student_t(&t, &c, &Hypothesis::default())?;
/// assert_eq!(r.df, 3.0);
/// assert!((r.statistic - 2.067017602375597).abs() < 1e-12);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] when a group is empty or `n_t + n_c < 3`,
/// [`Error::ZeroVariance`], [`Error::InvalidParameter`].
pub fn student_t(treatment: &Summary, control: &Summary, h: &Hypothesis) -> Result<TTestResult> {
    let null = h.checked_null(0.0)?;
    treatment.require(Group::Treatment, 1)?;
    control.require(Group::Control, 1)?;
    if treatment.n + control.n < 3 {
        let group = if treatment.n <= control.n {
            Group::Treatment
        } else {
            Group::Control
        };
        return Err(Error::TooFewObservations {
            group,
            n: 1,
            needed: 2,
        });
    }
    treatment.check(Group::Treatment)?;
    control.check(Group::Control)?;
    let (nt, nc) = (treatment.n as f64, control.n as f64);
    let df = nt + nc - 2.0;
    let pooled = (treatment.m2 + control.m2) / df;
    let se = (pooled * (1.0 / nt + 1.0 / nc)).sqrt();
    let estimate = treatment.mean - control.mean;
    if se == 0.0 {
        return degenerate(estimate, null, df, h);
    }
    Ok(finish(estimate, se, df, null, h))
}

fn finish(estimate: f64, se: f64, df: f64, null: f64, h: &Hypothesis) -> TTestResult {
    let statistic = (estimate - null) / se;
    let p_value = h.p_t(statistic, df);
    let (ci_low, ci_high) = h.bounds_t(estimate, se, df);
    TTestResult {
        statistic,
        df,
        p_value,
        ci_low,
        ci_high,
        estimate,
        std_error: se,
        null,
        alternative: h.alternative,
        reject: h.rejects(p_value),
    }
}

/// Both groups constant: defined when the difference is the null value, else an error.
fn degenerate(estimate: f64, null: f64, df: f64, h: &Hypothesis) -> Result<TTestResult> {
    if estimate != null {
        return Err(Error::ZeroVariance);
    }
    let (ci_low, ci_high) = match h.alternative {
        Alternative::TwoSided => (estimate, estimate),
        Alternative::Greater => (estimate, f64::INFINITY),
        Alternative::Less => (f64::NEG_INFINITY, estimate),
    };
    Ok(TTestResult {
        statistic: 0.0,
        df,
        p_value: 1.0,
        ci_low,
        ci_high,
        estimate,
        std_error: 0.0,
        null,
        alternative: h.alternative,
        reject: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(xs: &[f64]) -> Summary {
        Summary::from_slice(xs)
    }

    #[test]
    fn tiny_groups_match_scipy() {
        // scipy.stats.ttest_ind([5.2, 6.0, 7.9], [3.1, 4.7], equal_var=True)
        let r = student_t(
            &s(&[5.2, 6.0, 7.9]),
            &s(&[3.1, 4.7]),
            &Hypothesis::default(),
        )
        .unwrap();
        assert!((r.statistic - 2.067017602375597).abs() < 1e-12);
        assert!((r.p_value - 0.13061459668426165).abs() < 1e-12);
        assert!((r.ci_low - -1.3310920997211326).abs() < 1e-10);
        assert_eq!(r.df, 3.0);
    }

    #[test]
    fn one_sided_p_values_split_the_two_sided_one() {
        let (t, c) = (s(&[1.0, 2.0, 3.0, 4.5]), s(&[0.5, 1.0, 1.5, 2.0]));
        let two = welch_t(&t, &c, &Hypothesis::default()).unwrap();
        let g = welch_t(&t, &c, &Hypothesis::one_sided(Alternative::Greater, 0.05)).unwrap();
        let l = welch_t(&t, &c, &Hypothesis::one_sided(Alternative::Less, 0.05)).unwrap();
        assert!((g.p_value * 2.0 - two.p_value).abs() < 1e-14);
        assert!((g.p_value + l.p_value - 1.0).abs() < 1e-14);
        assert_eq!(g.ci_high, f64::INFINITY);
        assert_eq!(l.ci_low, f64::NEG_INFINITY);
    }

    #[test]
    fn non_inferiority_shifts_the_statistic() {
        let (t, c) = (s(&[1.0, 2.0, 3.0]), s(&[1.5, 2.5, 3.5]));
        let plain = welch_t(&t, &c, &Hypothesis::default()).unwrap();
        let ni = welch_t(&t, &c, &Hypothesis::non_inferiority(1.0, 0.05)).unwrap();
        assert!((ni.statistic - (plain.estimate + 1.0) / plain.std_error).abs() < 1e-12);
        assert_eq!(ni.null, -1.0);
    }

    #[test]
    fn degenerate_groups() {
        let five = s(&[5.0; 4]);
        let r = welch_t(&five, &five, &Hypothesis::default()).unwrap();
        assert_eq!(
            (r.statistic, r.p_value, r.ci_low, r.ci_high),
            (0.0, 1.0, 5.0 - 5.0, 0.0)
        );
        assert_eq!(r.df, 6.0);
        let six = s(&[6.0; 4]);
        assert_eq!(
            welch_t(&six, &five, &Hypothesis::default()),
            Err(Error::ZeroVariance)
        );
        assert_eq!(
            student_t(&six, &five, &Hypothesis::default()),
            Err(Error::ZeroVariance)
        );
        // A non-zero null equal to the difference is "no evidence" too.
        let r = student_t(&six, &five, &Hypothesis::default().with_null(1.0)).unwrap();
        assert_eq!(r.p_value, 1.0);
        assert!(matches!(
            welch_t(&s(&[1.0]), &five, &Hypothesis::default()),
            Err(Error::TooFewObservations {
                group: Group::Treatment,
                n: 1,
                needed: 2
            })
        ));
        // Student works with a single treatment observation.
        assert!(student_t(&s(&[1.0]), &s(&[1.0, 2.0]), &Hypothesis::default()).is_ok());
        assert!(student_t(&s(&[1.0]), &s(&[1.0]), &Hypothesis::default()).is_err());
    }
}
