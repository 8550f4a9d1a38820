//! Tests of two Poisson rates (count metrics), as statsmodels' `test_poisson_2indep` and
//! `confint_poisson_2indep`.

use serde::Serialize;

use crate::dist;
use crate::error::{Error, Result, check_finite};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};
use crate::roots;

/// Which contrast of the two rates is tested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateCompare {
    /// `rate_t / rate_c`; the null value is a ratio (default 1).
    #[default]
    Ratio,
    /// `rate_t − rate_c`; the null value is a difference (default 0).
    Diff,
}

/// The test statistic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateMethod {
    /// The score test (variance under H0): statsmodels' default.
    #[default]
    Score,
    /// The Wald test (variance at the estimates).
    Wald,
}

/// The result of [`poisson_rate`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PoissonRateResult {
    /// The contrast tested.
    pub compare: RateCompare,
    /// The statistic.
    pub method: RateMethod,
    /// The z statistic.
    pub statistic: f64,
    /// Its normal p-value for the alternative.
    pub p_value: f64,
    /// `count_t / exposure_t`.
    pub rate_treatment: f64,
    /// `count_c / exposure_c`.
    pub rate_control: f64,
    /// `rate_t / rate_c`: `+inf` (JSON `null`) when only the control count is 0, and JSON
    /// `null` (NaN internally) when both are 0.
    #[serde(serialize_with = "finite_or_null")]
    pub rate_ratio: f64,
    /// `rate_t − rate_c`.
    pub rate_diff: f64,
    /// Lower confidence bound of the compared quantity (ratio or difference).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper confidence bound of the compared quantity.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// The value of the compared quantity under H0.
    pub null: f64,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at α.
    pub reject: bool,
}

/// Compares two Poisson rates (statsmodels
/// `test_poisson_2indep(count_t, exposure_t, count_c, exposure_c, value, method, compare)`).
///
/// With `y` the counts, `n` the exposures (for per-customer metrics: the number of
/// customers), `d = n_c / n_t`, `r̂ = y/n`:
///
/// ```text
/// ratio, r_d = r₀/d:   score z = (y_t − y_c r_d) / sqrt((y_t + y_c) r_d)
///                      wald  z = (y_t − y_c r_d) / sqrt(y_t + y_c r_d²)
/// diff:                wald  z = (r̂_t − r̂_c − δ₀) / sqrt(r̂_t/n_t + r̂_c/n_c)
///                      score z = (r̂_t − r̂_c − δ₀) / sqrt(r̃_t/n_t + r̃_c/n_c)
///   with the rates r̃ constrained to r̃_t − r̃_c = δ₀ (statsmodels' `_score_diff`):
///   r̃_c = ½(D + sqrt(D² + 4 δ₀ y_c/(n_t + n_c))), D = (y_t + y_c)/(n_t + n_c) − δ₀, r̃_t = r̃_c + δ₀
/// ```
///
/// Confidence intervals (statsmodels `confint_poisson_2indep` methods): ratio + score →
/// `'score'` (the inverted score test, solved here in closed form from its quadratic rather
/// than by statsmodels' `fmin`, so it is the exact root); ratio + wald → `'wald-log'`,
/// `r̂ · exp(±z sqrt(1/y_t + 1/y_c))`, or `'waldcc'` (0.5 added to both counts) when a count
/// is 0; diff + wald → `'wald'`; diff + score → `'score'` (the inverted score test, by Brent's
/// method). When the standard error is 0 (both counts 0) the result is `z = 0`, `p = 1` if
/// the estimate equals the null value, else [`Error::ZeroVariance`].
///
/// ```
/// use abforge_stats::{Hypothesis, RateCompare, RateMethod, poisson_rate};
///
/// let r = poisson_rate(634.0, 300.0, 2364.0, 1200.0, RateCompare::Ratio, RateMethod::Score,
///                      &Hypothesis::default())?;
/// assert!((r.statistic - 1.5706616393493378).abs() < 1e-12);
/// assert!((r.p_value - 0.11626126408504571).abs() < 1e-12);
/// assert!(r.ci_low < r.rate_ratio && r.rate_ratio < r.ci_high);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for a negative or non-finite count, a non-positive
/// exposure, a bad α, or a non-positive null ratio; [`Error::ZeroVariance`].
pub fn poisson_rate(
    count_t: f64,
    exposure_t: f64,
    count_c: f64,
    exposure_c: f64,
    compare: RateCompare,
    method: RateMethod,
    h: &Hypothesis,
) -> Result<PoissonRateResult> {
    for (name, v) in [("count_treatment", count_t), ("count_control", count_c)] {
        if check_finite(name, v)? < 0.0 {
            return Err(Error::InvalidParameter {
                name,
                value: v,
                expected: "a count ≥ 0",
            });
        }
    }
    for (name, v) in [
        ("exposure_treatment", exposure_t),
        ("exposure_control", exposure_c),
    ] {
        crate::error::check_open(name, v, 0.0, f64::INFINITY)?;
    }
    let (y1, n1, y2, n2) = (count_t, exposure_t, count_c, exposure_c);
    let (rate1, rate2) = (y1 / n1, y2 / n2);
    let rate_ratio = rate1 / rate2;
    let rate_diff = rate1 - rate2;
    let d = n2 / n1;
    let (null, num, se) = match compare {
        RateCompare::Ratio => {
            let r = h.checked_null(1.0)?;
            if r <= 0.0 {
                return Err(Error::InvalidParameter {
                    name: "null",
                    value: r,
                    expected: "a rate ratio > 0",
                });
            }
            let r_d = r / d;
            let num = y1 - y2 * r_d;
            let var = match method {
                RateMethod::Score => (y1 + y2) * r_d,
                RateMethod::Wald => y1 + y2 * r_d * r_d,
            };
            (r, num, var.sqrt())
        }
        RateCompare::Diff => {
            let delta = h.checked_null(0.0)?;
            let var = match method {
                RateMethod::Wald => rate1 / n1 + rate2 / n2,
                RateMethod::Score => {
                    let (r1, r2) = cmle_diff(y1, n1, y2, n2, delta);
                    r1 / n1 + r2 / n2
                }
            };
            (delta, rate_diff - delta, var.sqrt())
        }
    };
    let (statistic, p_value) = if se == 0.0 || !se.is_finite() {
        if num != 0.0 {
            return Err(Error::ZeroVariance);
        }
        (0.0, 1.0)
    } else {
        let z = num / se;
        (z, h.p_normal(z))
    };
    let (ci_low, ci_high) = match (compare, method) {
        (RateCompare::Ratio, RateMethod::Score) => ratio_score_ci(y1, y2, d, h),
        (RateCompare::Ratio, RateMethod::Wald) => ratio_wald_log_ci(y1, y2, d, h),
        (RateCompare::Diff, RateMethod::Wald) => {
            h.bounds_normal(rate_diff, (rate1 / n1 + rate2 / n2).sqrt())
        }
        (RateCompare::Diff, RateMethod::Score) => diff_score_ci(y1, n1, y2, n2, h),
    };
    Ok(PoissonRateResult {
        compare,
        method,
        statistic,
        p_value,
        rate_treatment: rate1,
        rate_control: rate2,
        rate_ratio,
        rate_diff,
        ci_low,
        ci_high,
        null,
        alternative: h.alternative,
        reject: h.rejects(p_value),
    })
}

/// The rates maximising the likelihood under `rate_t − rate_c = delta`.
fn cmle_diff(y1: f64, n1: f64, y2: f64, n2: f64, delta: f64) -> (f64, f64) {
    let n = n1 + n2;
    let dt = (y1 + y2) / n - delta;
    let r2 = 0.5 * (dt + (dt * dt + 4.0 * delta * y2 / n).max(0.0).sqrt());
    (r2 + delta, r2)
}

/// The critical value(s) of the interval: `z_{α/2}` two-sided, `z_α` one-sided.
fn crit(h: &Hypothesis) -> f64 {
    match h.alternative {
        Alternative::TwoSided => dist::norm_isf(0.5 * h.alpha),
        _ => dist::norm_isf(h.alpha),
    }
}

/// Keeps the side(s) of a two-sided `(low, high)` that the alternative asks for.
fn sides(h: &Hypothesis, low: f64, high: f64, floor: f64) -> (f64, f64) {
    match h.alternative {
        Alternative::TwoSided => (low, high),
        Alternative::Greater => (low, f64::INFINITY),
        Alternative::Less => (floor, high),
    }
}

/// The score interval of the rate ratio: the roots in `u = r/d` of
/// `(y_t − y_c u)² = z² (y_t + y_c) u`, a quadratic.
fn ratio_score_ci(y1: f64, y2: f64, d: f64, h: &Hypothesis) -> (f64, f64) {
    let z = crit(h);
    if y1 + y2 == 0.0 {
        return sides(h, 0.0, f64::INFINITY, 0.0);
    }
    let z2 = z * z;
    let b = 2.0 * y1 * y2 + z2 * (y1 + y2);
    let disc = z2 * (y1 + y2) * (4.0 * y1 * y2 + z2 * (y1 + y2));
    let root = b + disc.sqrt();
    // Vieta: u_low · u_high = y_t² / y_c², written without cancellation.
    let u_low = 2.0 * y1 * y1 / root;
    let u_high = if y2 == 0.0 {
        f64::INFINITY
    } else {
        root / (2.0 * y2 * y2)
    };
    sides(h, u_low * d, u_high * d, 0.0)
}

/// statsmodels' `'wald-log'` interval of the ratio, or `'waldcc'` when a count is 0.
fn ratio_wald_log_ci(y1: f64, y2: f64, d: f64, h: &Hypothesis) -> (f64, f64) {
    let z = crit(h);
    let c = if y1 == 0.0 || y2 == 0.0 { 0.5 } else { 0.0 };
    let center = (y1 + c) / (y2 + c) * d;
    let std = (1.0 / (y1 + c) + 1.0 / (y2 + c)).sqrt();
    sides(h, center * (-z * std).exp(), center * (z * std).exp(), 0.0)
}

/// The inverted score test of the rate difference: the `δ` where the score statistic is
/// `±z`, by Brent's method on a bracket grown from the Wald interval.
fn diff_score_ci(y1: f64, n1: f64, y2: f64, n2: f64, h: &Hypothesis) -> (f64, f64) {
    let z = crit(h);
    let (rate1, rate2) = (y1 / n1, y2 / n2);
    let est = rate1 - rate2;
    let stat = |delta: f64| {
        let (r1, r2) = cmle_diff(y1, n1, y2, n2, delta);
        let se = (r1 / n1 + r2 / n2).sqrt();
        if se > 0.0 {
            (est - delta) / se
        } else {
            f64::INFINITY.copysign(est - delta)
        }
    };
    // The difference can never be below −r̂_c-ish or above r̂_t-ish by much; grow a bracket.
    let scale = ((rate1 + 0.5 / n1) / n1 + (rate2 + 0.5 / n2) / n2)
        .sqrt()
        .max(f64::MIN_POSITIVE);
    let solve = |sign: f64| -> f64 {
        // Find δ on the `sign` side of the estimate with stat(δ) = sign · (−z).
        let target = -sign * z;
        let f = |delta: f64| stat(delta) - target;
        let mut width = z * scale;
        for _ in 0..200 {
            let far = est + sign * width;
            if f(far).signum() != f(est).signum() || f(far) == 0.0 {
                let (a, b) = if sign < 0.0 { (far, est) } else { (est, far) };
                return roots::brent(f, a, b, 1e-15 * (1.0 + est.abs()), 300)
                    .unwrap_or(sign * f64::INFINITY);
            }
            width *= 2.0;
        }
        sign * f64::INFINITY
    };
    match h.alternative {
        Alternative::TwoSided => (solve(-1.0), solve(1.0)),
        Alternative::Greater => (solve(-1.0), f64::INFINITY),
        Alternative::Less => (f64::NEG_INFINITY, solve(1.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c: RateCompare, m: RateMethod, h: &Hypothesis) -> PoissonRateResult {
        poisson_rate(634.0, 300.0, 2364.0, 1200.0, c, m, h).unwrap()
    }

    #[test]
    fn score_ci_excludes_the_null_exactly_when_the_test_rejects() {
        for &(yt, yc) in &[(634.0, 2364.0), (700.0, 2364.0), (5.0, 0.0), (0.0, 7.0)] {
            for m in [RateMethod::Score] {
                let r = poisson_rate(
                    yt,
                    300.0,
                    yc,
                    1200.0,
                    RateCompare::Ratio,
                    m,
                    &Hypothesis::default(),
                )
                .unwrap();
                // At the bounds the test's p-value is α.
                for bound in [r.ci_low, r.ci_high] {
                    if bound.is_finite() && bound > 0.0 {
                        let at = poisson_rate(
                            yt,
                            300.0,
                            yc,
                            1200.0,
                            RateCompare::Ratio,
                            m,
                            &Hypothesis::default().with_null(bound),
                        )
                        .unwrap();
                        assert!(
                            (at.p_value - 0.05).abs() < 1e-9,
                            "{yt} {yc} {bound} {}",
                            at.p_value
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn diff_score_ci_inverts_the_test() {
        let r = run(RateCompare::Diff, RateMethod::Score, &Hypothesis::default());
        for bound in [r.ci_low, r.ci_high] {
            let at = run(
                RateCompare::Diff,
                RateMethod::Score,
                &Hypothesis::default().with_null(bound),
            );
            assert!((at.p_value - 0.05).abs() < 1e-9);
        }
        assert!(r.ci_low < r.rate_diff && r.rate_diff < r.ci_high);
    }

    #[test]
    fn wald_and_score_coincide_with_equal_exposure_at_the_default_null() {
        let s = poisson_rate(
            2300.0,
            1000.0,
            2000.0,
            1000.0,
            RateCompare::Ratio,
            RateMethod::Score,
            &Hypothesis::default(),
        )
        .unwrap();
        let w = poisson_rate(
            2300.0,
            1000.0,
            2000.0,
            1000.0,
            RateCompare::Ratio,
            RateMethod::Wald,
            &Hypothesis::default(),
        )
        .unwrap();
        assert!((s.statistic - w.statistic).abs() < 1e-12);
        assert!(w.ci_low < w.rate_ratio && w.rate_ratio < w.ci_high);
    }

    #[test]
    fn zero_counts() {
        let h = Hypothesis::default();
        let r = poisson_rate(
            0.0,
            10.0,
            0.0,
            10.0,
            RateCompare::Ratio,
            RateMethod::Score,
            &h,
        )
        .unwrap();
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
        assert!(r.rate_ratio.is_nan());
        let r = poisson_rate(
            4.0,
            10.0,
            0.0,
            10.0,
            RateCompare::Ratio,
            RateMethod::Score,
            &h,
        )
        .unwrap();
        assert_eq!(r.rate_ratio, f64::INFINITY);
        assert!(r.p_value < 0.05 && r.ci_high == f64::INFINITY);
        let e = poisson_rate(
            0.0,
            10.0,
            0.0,
            10.0,
            RateCompare::Diff,
            RateMethod::Wald,
            &h.with_null(0.5),
        );
        assert_eq!(e, Err(Error::ZeroVariance));
        assert!(
            poisson_rate(
                -1.0,
                10.0,
                0.0,
                10.0,
                RateCompare::Diff,
                RateMethod::Wald,
                &h
            )
            .is_err()
        );
        assert!(
            poisson_rate(1.0, 0.0, 0.0, 10.0, RateCompare::Diff, RateMethod::Wald, &h).is_err()
        );
        assert!(
            poisson_rate(
                1.0,
                1.0,
                1.0,
                1.0,
                RateCompare::Ratio,
                RateMethod::Wald,
                &h.with_null(0.0)
            )
            .is_err()
        );
    }

    #[test]
    fn one_sided_intervals() {
        let g = run(
            RateCompare::Ratio,
            RateMethod::Score,
            &Hypothesis::one_sided(Alternative::Greater, 0.05),
        );
        let two = run(
            RateCompare::Ratio,
            RateMethod::Score,
            &Hypothesis::two_sided(0.10),
        );
        assert!((g.ci_low - two.ci_low).abs() < 1e-12);
        assert_eq!(g.ci_high, f64::INFINITY);
        assert!((g.p_value * 2.0 - two.p_value).abs() < 1e-14);
    }
}
