//! Tests of two proportions (binary metrics): pooled z, chi-square with and without Yates'
//! correction, and Fisher's exact test.
//!
//! Every function takes the successes and trials of treatment then control, that is the
//! 2×2 table `[[x_t, n_t − x_t], [x_c, n_c − x_c]]`.

use serde::Serialize;

use crate::dist;
use crate::error::{Error, Group, Result};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};

/// The result of [`two_proportion_z`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ProportionZResult {
    /// `z = (p̂_t − p̂_c − δ₀) / se_pooled`.
    pub statistic: f64,
    /// The p-value for the alternative.
    pub p_value: f64,
    /// `p̂_t − p̂_c`.
    pub estimate: f64,
    /// The pooled standard error used by the test.
    pub std_error: f64,
    /// Lower bound of the unpooled Wald interval of the difference.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper bound of the unpooled Wald interval of the difference.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// `p̂_t = x_t / n_t`.
    pub proportion_treatment: f64,
    /// `p̂_c = x_c / n_c`.
    pub proportion_control: f64,
    /// The difference under H0.
    pub null: f64,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at α.
    pub reject: bool,
}

/// The two-proportion z test with the pooled standard error (statsmodels
/// `proportions_ztest([x_t, x_c], [n_t, n_c], value=δ₀)`, `prop_var=False`).
///
/// ```text
/// p̂ = (x_t + x_c) / (n_t + n_c),   se_pooled = sqrt(p̂ (1 − p̂) (1/n_t + 1/n_c))
/// z = (p̂_t − p̂_c − δ₀) / se_pooled
/// CI = p̂_t − p̂_c ± z_{1−α/2} · sqrt(p̂_t(1 − p̂_t)/n_t + p̂_c(1 − p̂_c)/n_c)   (Wald, unpooled)
/// ```
///
/// `z²` equals the uncorrected chi-square of [`chi_square_2x2`]. When the pooled proportion
/// is 0 or 1 (no variation at all) the result is `z = 0`, `p = 1` if the difference (0)
/// equals the null, else [`Error::ZeroVariance`].
///
/// ```
/// use abforge_stats::{Hypothesis, two_proportion_z};
///
/// let r = two_proportion_z(26, 2000, 22, 2000, &Hypothesis::default())?;
/// assert!((r.statistic - 0.5808458627977691).abs() < 1e-12);
/// assert!((r.p_value - 0.5613443418241295).abs() < 1e-12);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for `n = 0`, [`Error::InvalidInput`] for `x > n`,
/// [`Error::ZeroVariance`], [`Error::InvalidParameter`].
pub fn two_proportion_z(
    x_t: u64,
    n_t: u64,
    x_c: u64,
    n_c: u64,
    h: &Hypothesis,
) -> Result<ProportionZResult> {
    let null = h.checked_null(0.0)?;
    check_counts(x_t, n_t, x_c, n_c)?;
    let (nt, nc) = (n_t as f64, n_c as f64);
    let (pt, pc) = (x_t as f64 / nt, x_c as f64 / nc);
    let pooled = (x_t + x_c) as f64 / (nt + nc);
    let se = (pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nc)).sqrt();
    let estimate = pt - pc;
    let se_wald = (pt * (1.0 - pt) / nt + pc * (1.0 - pc) / nc).sqrt();
    let (ci_low, ci_high) = h.bounds_normal(estimate, se_wald);
    let (statistic, p_value) = if se == 0.0 {
        if estimate != null {
            return Err(Error::ZeroVariance);
        }
        (0.0, 1.0)
    } else {
        let z = (estimate - null) / se;
        (z, h.p_normal(z))
    };
    Ok(ProportionZResult {
        statistic,
        p_value,
        estimate,
        std_error: se,
        ci_low,
        ci_high,
        proportion_treatment: pt,
        proportion_control: pc,
        null,
        alternative: h.alternative,
        reject: h.rejects(p_value),
    })
}

/// The result of [`chi_square_2x2`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ChiSquareResult {
    /// Pearson's `Σ (O − E)² / E` without correction.
    pub statistic: f64,
    /// Its p-value (chi-square, 1 df).
    pub p_value: f64,
    /// The statistic with Yates' continuity correction.
    pub yates_statistic: f64,
    /// Its p-value.
    pub yates_p_value: f64,
    /// Degrees of freedom (always 1).
    pub df: u32,
    /// Whether the uncorrected test rejects at α.
    pub reject: bool,
    /// Whether the Yates-corrected test rejects at α.
    pub yates_reject: bool,
}

/// Pearson's chi-square test of independence on the 2×2 table, with and without Yates'
/// correction (scipy `chi2_contingency(table, correction=False/True)`).
///
/// ```text
/// E_ij = row_i · col_j / N,      χ² = Σ (O_ij − E_ij)² / E_ij,      df = 1
/// Yates: each |O − E| is shrunk by min(0.5, |O − E|) (so it never changes sign)
/// ```
///
/// When a column of the table is empty (no successes, or no failures, in either group) the
/// expected counts have a zero and scipy raises; here `χ² = 0` and `p = 1` (there is no
/// variation to test).
///
/// ```
/// use abforge_stats::{Hypothesis, chi_square_2x2};
///
/// let r = chi_square_2x2(26, 2000, 22, 2000, &Hypothesis::default())?;
/// assert!((r.statistic - 0.33738191632928477).abs() < 1e-12);
/// assert!((r.yates_statistic - 0.18977732793522267).abs() < 1e-12);
/// assert!((r.yates_p_value - 0.6631020101627398).abs() < 1e-12);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for `n = 0`, [`Error::InvalidInput`] for `x > n` or a null
/// value, [`Error::InvalidParameter`] for a bad α.
pub fn chi_square_2x2(
    x_t: u64,
    n_t: u64,
    x_c: u64,
    n_c: u64,
    h: &Hypothesis,
) -> Result<ChiSquareResult> {
    h.check_no_null("the chi-square test")?;
    check_counts(x_t, n_t, x_c, n_c)?;
    let obs = [
        [x_t as f64, (n_t - x_t) as f64],
        [x_c as f64, (n_c - x_c) as f64],
    ];
    let rows = [n_t as f64, n_c as f64];
    let cols = [(x_t + x_c) as f64, ((n_t - x_t) + (n_c - x_c)) as f64];
    let total = rows[0] + rows[1];
    let (mut plain, mut yates) = (0.0, 0.0);
    if cols[0] > 0.0 && cols[1] > 0.0 {
        for i in 0..2 {
            for j in 0..2 {
                let e = rows[i] * cols[j] / total;
                let d = obs[i][j] - e;
                plain += d * d / e;
                let shrunk = d.abs() - d.abs().min(0.5);
                yates += shrunk * shrunk / e;
            }
        }
    }
    let p = dist::chi2_sf(plain, 1.0);
    let py = dist::chi2_sf(yates, 1.0);
    Ok(ChiSquareResult {
        statistic: plain,
        p_value: p,
        yates_statistic: yates,
        yates_p_value: py,
        df: 1,
        reject: h.rejects(p),
        yates_reject: h.rejects(py),
    })
}

/// The result of [`fisher_exact`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FisherResult {
    /// The sample odds ratio `x_t (n_c − x_c) / ((n_t − x_t) x_c)`; `+inf` (JSON `null`)
    /// when the denominator is 0, and 1 by convention when a row or column is empty (scipy:
    /// NaN).
    #[serde(serialize_with = "finite_or_null")]
    pub odds_ratio: f64,
    /// The exact p-value for the alternative.
    pub p_value: f64,
    /// The alternative tested (`Greater`: treatment has the higher odds).
    pub alternative: Alternative,
    /// Whether H0 is rejected at α.
    pub reject: bool,
}

/// Relative tolerance when comparing table probabilities in the two-sided test.
pub const FISHER_RELATIVE_TOLERANCE: f64 = 1e-7;

/// Fisher's exact test on the 2×2 table (scipy `fisher_exact(table, alternative)`).
///
/// With `X` the top-left cell under the hypergeometric law of the table with fixed margins
/// (population `N = n_t + n_c`, `K = x_t + x_c` successes, `n_t` draws):
///
/// ```text
/// greater:   p = P(X ≥ x_t)         less: p = P(X ≤ x_t)
/// two-sided: p = Σ P(X = x) over all x with P(X = x) ≤ P(X = x_t) · (1 + 1e-7)
/// ```
///
/// The relative tolerance `1 + 1e-7` is R's `fisher.test` and older scipy's; scipy 1.17 uses
/// `1 + 1e-14` on its own (less exact) probabilities. They differ only when two distinct
/// table probabilities agree to 7 digits. The probabilities are built by the ratio
/// recurrence `P(x+1)/P(x) = (K − x)(n_t − x) / ((x + 1)(N − K − n_t + x + 1))` in logs from
/// the mode outwards (no factorials of large numbers), summed relative to the largest term
/// included and stopped once the terms fall below 1e-40 of it, so it costs O(√N) for large
/// tables and keeps tiny p-values accurate down to 1e-300.
///
/// An empty row or column gives `p = 1` (as scipy).
///
/// ```
/// use abforge_stats::{Hypothesis, fisher_exact};
///
/// let r = fisher_exact(26, 2000, 22, 2000, &Hypothesis::default())?;
/// assert!((r.odds_ratio - 1.184212950170397).abs() < 1e-12);
/// assert!((r.p_value - 0.6635525519579718).abs() < 1e-12);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for `n = 0`, [`Error::InvalidInput`] for `x > n` or a null
/// value, [`Error::InvalidParameter`] for a bad α.
pub fn fisher_exact(
    x_t: u64,
    n_t: u64,
    x_c: u64,
    n_c: u64,
    h: &Hypothesis,
) -> Result<FisherResult> {
    h.check_no_null("Fisher's exact test")?;
    check_counts(x_t, n_t, x_c, n_c)?;
    let (a, b, c, d) = (
        x_t as f64,
        (n_t - x_t) as f64,
        x_c as f64,
        (n_c - x_c) as f64,
    );
    let k = x_t + x_c;
    let big_n = n_t + n_c;
    if k == 0 || k == big_n {
        return Ok(FisherResult {
            odds_ratio: 1.0,
            p_value: 1.0,
            alternative: h.alternative,
            reject: false,
        });
    }
    let odds_ratio = if b > 0.0 && c > 0.0 {
        a * d / (b * c)
    } else {
        f64::INFINITY
    };
    let law = Hypergeometric::new(big_n, k, n_t);
    let p = match h.alternative {
        Alternative::Less => law.tail_sum(law.lo, x_t),
        Alternative::Greater => law.tail_sum(x_t, law.hi),
        Alternative::TwoSided => law.two_sided(x_t),
    }
    .min(1.0);
    Ok(FisherResult {
        odds_ratio,
        p_value: p,
        alternative: h.alternative,
        reject: h.rejects(p),
    })
}

/// The hypergeometric law of successes in `draws` draws without replacement from `total`
/// items of which `good` are successes, by log-ratio recurrences from the mode.
struct Hypergeometric {
    total: f64,
    good: f64,
    draws: f64,
    lo: u64,
    hi: u64,
    mode: u64,
    /// `ln Σ_x P(x)/P(mode)`.
    ln_norm: f64,
}

/// Terms below this (log) fraction of the largest one are negligible.
const LN_NEGLIGIBLE: f64 = -92.0;

impl Hypergeometric {
    fn new(total: u64, good: u64, draws: u64) -> Self {
        let lo = (draws + good).saturating_sub(total);
        let hi = draws.min(good);
        let mode = (((draws + 1) as f64 * (good + 1) as f64) / (total + 2) as f64) as u64;
        let mode = mode.clamp(lo, hi);
        let mut law = Hypergeometric {
            total: total as f64,
            good: good as f64,
            draws: draws as f64,
            lo,
            hi,
            mode,
            ln_norm: 0.0,
        };
        law.ln_norm = law.ln_sum(lo, hi, |_| true, 0.0);
        law
    }

    /// `ln P(x+1)/P(x)`.
    fn ln_step_up(&self, x: u64) -> f64 {
        let x = x as f64;
        ((self.good - x) * (self.draws - x)).ln()
            - ((x + 1.0) * (self.total - self.good - self.draws + x + 1.0)).ln()
    }

    /// `ln P(x)/P(mode)`.
    fn ln_weight(&self, x: u64) -> f64 {
        let mut w = 0.0;
        if x >= self.mode {
            for y in self.mode..x {
                w += self.ln_step_up(y);
            }
        } else {
            for y in x..self.mode {
                w -= self.ln_step_up(y);
            }
        }
        w
    }

    /// `ln Σ P(x)/P(mode)` over `x` in `[from, to]` with `keep(ln weight)`, where `offset` is
    /// an upper bound of the kept log weights (the sum is taken relative to it). Walks away
    /// from the mode in both directions, stopping where the weights are negligible relative
    /// to `offset`.
    fn ln_sum(&self, from: u64, to: u64, keep: impl Fn(f64) -> bool, offset: f64) -> f64 {
        let mut sum = 0.0;
        let start = self.mode.clamp(from, to);
        let w0 = self.ln_weight(start);
        // Upwards from `start` (weights decrease beyond the mode).
        let mut w = w0;
        let mut x = start;
        loop {
            if keep(w) {
                sum += (w - offset).exp();
            }
            if x >= to || (x >= self.mode && w - offset < LN_NEGLIGIBLE) {
                break;
            }
            w += self.ln_step_up(x);
            x += 1;
        }
        // Downwards from `start − 1`.
        if start > from {
            let mut x = start - 1;
            let mut w = w0 - self.ln_step_up(x);
            loop {
                if keep(w) {
                    sum += (w - offset).exp();
                }
                if x <= from || (x < self.mode && w - offset < LN_NEGLIGIBLE) {
                    break;
                }
                x -= 1;
                w -= self.ln_step_up(x);
            }
        }
        sum.ln() + offset
    }

    /// `P(from ≤ X ≤ to)`.
    fn tail_sum(&self, from: u64, to: u64) -> f64 {
        // The largest weight in the range is at the mode clamped into it.
        let offset = self.ln_weight(self.mode.clamp(from, to));
        (self.ln_sum(from, to, |_| true, offset) - self.ln_norm).exp()
    }

    /// The two-sided p-value: the mass of all tables no more probable than the observed one.
    fn two_sided(&self, x: u64) -> f64 {
        let w_obs = self.ln_weight(x);
        let limit = w_obs + FISHER_RELATIVE_TOLERANCE.ln_1p();
        (self.ln_sum(self.lo, self.hi, |w| w <= limit, w_obs) - self.ln_norm).exp()
    }
}

fn check_counts(x_t: u64, n_t: u64, x_c: u64, n_c: u64) -> Result<()> {
    if n_t == 0 {
        return Err(Error::TooFewObservations {
            group: Group::Treatment,
            n: 0,
            needed: 1,
        });
    }
    if n_c == 0 {
        return Err(Error::TooFewObservations {
            group: Group::Control,
            n: 0,
            needed: 1,
        });
    }
    if x_t > n_t || x_c > n_c {
        return Err(Error::InvalidInput(format!(
            "successes exceed trials (treatment {x_t}/{n_t}, control {x_c}/{n_c})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn chi_square_is_z_squared() {
        let z = two_proportion_z(300, 3000, 250, 3000, &Hypothesis::default()).unwrap();
        let c = chi_square_2x2(300, 3000, 250, 3000, &Hypothesis::default()).unwrap();
        assert!(rel(z.statistic * z.statistic, c.statistic) < 1e-12);
        assert!(rel(z.p_value, c.p_value) < 1e-12);
        assert!(c.yates_statistic < c.statistic);
    }

    #[test]
    fn yates_never_flips_the_sign() {
        // |O − E| = 0.25 < 0.5: the corrected statistic is 0, not positive.
        let c = chi_square_2x2(1, 2, 1, 2, &Hypothesis::default()).unwrap();
        assert_eq!(
            (c.statistic, c.yates_statistic, c.yates_p_value),
            (0.0, 0.0, 1.0)
        );
        let c = chi_square_2x2(2, 4, 1, 4, &Hypothesis::default()).unwrap();
        assert!(c.yates_statistic < c.statistic);
    }

    #[test]
    fn fisher_small_tables_match_scipy() {
        // scipy.stats.fisher_exact([[8, 2], [1, 5]]) -> (20.0, 0.034965034965034975)
        let r = fisher_exact(8, 10, 1, 6, &Hypothesis::default()).unwrap();
        assert_eq!(r.odds_ratio, 20.0);
        assert!(rel(r.p_value, 0.034965034965034975) < 1e-12);
        // alternative='greater' -> 0.024475524475524476, 'less' -> 0.9991258741258742
        // (exact rational values)
        let g = fisher_exact(
            8,
            10,
            1,
            6,
            &Hypothesis::one_sided(Alternative::Greater, 0.05),
        );
        assert!(rel(g.unwrap().p_value, 0.024475524475524476) < 1e-12);
        let l = fisher_exact(8, 10, 1, 6, &Hypothesis::one_sided(Alternative::Less, 0.05));
        assert!(rel(l.unwrap().p_value, 0.9991258741258742) < 1e-12);
        // A symmetric table: p = 1.
        let s = fisher_exact(3, 6, 3, 6, &Hypothesis::default()).unwrap();
        assert_eq!(s.p_value, 1.0);
    }

    #[test]
    fn fisher_large_tables_are_fast_and_tiny_p_is_accurate() {
        let r = fisher_exact(60_000, 1_000_000, 50_000, 1_000_000, &Hypothesis::default());
        let p = r.unwrap().p_value;
        assert!(p > 0.0 && p < 1e-200, "{p}");
        let z = two_proportion_z(5_010, 100_000, 5_000, 100_000, &Hypothesis::default()).unwrap();
        let f = fisher_exact(5_010, 100_000, 5_000, 100_000, &Hypothesis::default()).unwrap();
        assert!((f.p_value - z.p_value).abs() < 0.02);
    }

    #[test]
    fn degenerate_tables() {
        let h = Hypothesis::default();
        let z = two_proportion_z(0, 10, 0, 12, &h).unwrap();
        assert_eq!((z.statistic, z.p_value), (0.0, 1.0));
        let c = chi_square_2x2(10, 10, 12, 12, &h).unwrap();
        assert_eq!((c.statistic, c.p_value), (0.0, 1.0));
        assert_eq!(fisher_exact(0, 10, 0, 12, &h).unwrap().p_value, 1.0);
        assert!(two_proportion_z(11, 10, 0, 12, &h).is_err());
        assert!(two_proportion_z(0, 0, 0, 12, &h).is_err());
        assert_eq!(
            two_proportion_z(0, 10, 0, 12, &h.with_null(0.1)),
            Err(Error::ZeroVariance)
        );
        let all_vs_none = two_proportion_z(10, 10, 0, 10, &h).unwrap();
        assert!(all_vs_none.p_value < 1e-4);
    }
}
