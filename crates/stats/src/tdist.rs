//! Student's t law: the accurate tails the t-tests use, for Monte Carlo loops that test
//! from their own statistics.

use crate::dist;

/// `P(|T| > |t|)` for Student's t with `df > 0` degrees of freedom: the two-sided p-value
/// of [`welch_t`](crate::welch_t) and [`student_t`](crate::student_t), computed from the
/// regularised incomplete beta without cancellation (and by Hill's normalising
/// transformation above 5·10⁴ degrees of freedom).
///
/// A `1 − α` t interval `estimate ± t_{1−α/2, df} · se` contains θ exactly when
/// `t_two_sided(|estimate − θ| / se, df) ≥ α`, which is how a Monte Carlo loop checks
/// coverage without computing the quantile.
///
/// ```
/// use abforge_stats::t_two_sided;
///
/// // R: 2 * pt(-2.228138851986274, 10) = 0.05
/// assert!((t_two_sided(2.228138851986274, 10.0) - 0.05).abs() < 1e-14);
/// ```
pub fn t_two_sided(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    dist::t_two_tail(t.abs(), df)
}
