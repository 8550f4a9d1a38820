//! Power and sample size: the t-test (noncentral t), the normal z test, two proportions
//! (Cohen's h) and two Poisson rates, as statsmodels' `TTestIndPower`, `NormalIndPower` and
//! `power_poisson_ratio_2indep`.
//!
//! Sizes are per group: `nobs1` is the **treatment** size and `ratio = nobs2 / nobs1` the
//! control size relative to it (statsmodels' convention), so `nobs2 = ratio · nobs1`.
//! Solving for a size or an effect uses Brent's method on a bracket that is expanded by
//! factors of 10 (like statsmodels' `brentq_expanding`), to full double precision instead of
//! statsmodels' `xtol = 1e-5`.

use serde::Serialize;

use crate::dist;
use crate::error::{Error, Result, check_finite, check_open};
use crate::hypothesis::Alternative;
use crate::noncentral_t::NoncentralT;
use crate::roots;
use crate::summary::Summary;

/// The design shared by the power calculations.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PowerOptions {
    /// Significance level α.
    pub alpha: f64,
    /// `nobs2 / nobs1`: the control size relative to the treatment size.
    pub ratio: f64,
    /// The alternative (statsmodels: `'two-sided'`, `'larger'` = `Greater`, `'smaller'` =
    /// `Less`).
    pub alternative: Alternative,
}

impl Default for PowerOptions {
    fn default() -> Self {
        PowerOptions {
            alpha: 0.05,
            ratio: 1.0,
            alternative: Alternative::TwoSided,
        }
    }
}

impl PowerOptions {
    fn check(&self) -> Result<()> {
        check_open("alpha", self.alpha, 0.0, 1.0)?;
        check_open("ratio", self.ratio, 0.0, f64::INFINITY)?;
        Ok(())
    }

    fn tail_alpha(&self) -> f64 {
        match self.alternative {
            Alternative::TwoSided => 0.5 * self.alpha,
            _ => self.alpha,
        }
    }
}

/// Power of the pooled two-sample t-test (statsmodels `TTestIndPower`).
///
/// ```text
/// nobs2 = ratio · nobs1,  df = nobs1 + nobs2 − 2,  δ = d · sqrt(nobs1 nobs2 / (nobs1 + nobs2))
/// two-sided: power = P(T' > t_{1−α/2, df}) + P(T' < −t_{1−α/2, df})     (both tails, as statsmodels)
/// greater:   power = P(T' > t_{1−α, df})       less: power = P(T' < −t_{1−α, df})
/// ```
///
/// with `T'` noncentral t (`df`, `δ`), see [`NoncentralT`]. `d` is Cohen's d
/// (treatment − control over the pooled SD, see [`cohens_d`]).
///
/// ```
/// use abforge_stats::{PowerOptions, TTestIndPower};
///
/// let n = TTestIndPower.solve_nobs1(0.5, 0.8, &PowerOptions::default())?;
/// assert!((n - 63.76561058891169).abs() < 1e-6);
/// let p = TTestIndPower.power(0.5, 64.0, &PowerOptions::default())?;
/// assert!(p > 0.8 && p < 0.81);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TTestIndPower;

impl TTestIndPower {
    /// The power for Cohen's `effect_size` with `nobs1` treatment observations.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a non-finite effect, α outside (0, 1), a ratio ≤ 0,
    /// or sizes with `df ≤ 0`.
    pub fn power(&self, effect_size: f64, nobs1: f64, opts: &PowerOptions) -> Result<f64> {
        opts.check()?;
        check_finite("effect_size", effect_size)?;
        check_open("nobs1", nobs1, 0.0, f64::INFINITY)?;
        let nobs2 = nobs1 * opts.ratio;
        let df = nobs1 + nobs2 - 2.0;
        if df.is_nan() || df <= 0.0 {
            return Err(Error::InvalidParameter {
                name: "nobs1",
                value: nobs1,
                expected: "sizes with nobs1 + nobs2 > 2",
            });
        }
        let nobs = 1.0 / (1.0 / nobs1 + 1.0 / nobs2);
        let law = NoncentralT::new(df, effect_size * nobs.sqrt())?;
        let crit = dist::t_isf(opts.tail_alpha(), df);
        Ok(match opts.alternative {
            Alternative::TwoSided => law.sf(crit) + law.cdf(-crit),
            Alternative::Greater => law.sf(crit),
            Alternative::Less => law.cdf(-crit),
        })
    }

    /// The treatment size `nobs1` that reaches `power` (a real number; round it up).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for an effect of 0, a power outside (α, 1) or a one-sided
    /// effect of the wrong sign; [`Error::NoSolution`] when even 2 observations exceed the
    /// power.
    pub fn solve_nobs1(&self, effect_size: f64, power: f64, opts: &PowerOptions) -> Result<f64> {
        check_solvable(effect_size, power, opts)?;
        solve_size(|n| self.power(effect_size, n, opts), power, 2.0)
    }

    /// The minimum detectable effect (Cohen's d) at `nobs1` treatment observations and this
    /// power: positive for `TwoSided` and `Greater`, negative for `Less`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`], [`Error::NoSolution`].
    pub fn solve_effect_size(&self, nobs1: f64, power: f64, opts: &PowerOptions) -> Result<f64> {
        solve_effect(|d| self.power(d, nobs1, opts), power, opts)
    }
}

/// Power of the two-sample z test (statsmodels `NormalIndPower`, `ddof = 0`).
///
/// ```text
/// nobs = 1 / (1/nobs1 + 1/(ratio · nobs1)),   shift = d · sqrt(nobs)
/// two-sided: power = Φ̄(z_{1−α/2} − shift) + Φ(−z_{1−α/2} − shift)
/// greater:   power = Φ̄(z_{1−α} − shift)      less: power = Φ(−z_{1−α} − shift)
/// ```
///
/// For two proportions use Cohen's h as `d` ([`cohens_h`], [`proportions_power`]).
///
/// ```
/// use abforge_stats::{NormalIndPower, PowerOptions};
///
/// // n = 2 ((z_{0.975} + z_{0.8}) / d)², up to the negligible far tail.
/// let n = NormalIndPower.solve_nobs1(0.2, 0.8, &PowerOptions::default())?;
/// assert!((n - 392.443).abs() < 0.01);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NormalIndPower;

impl NormalIndPower {
    /// The power for the standardised `effect_size` with `nobs1` treatment observations.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`].
    pub fn power(&self, effect_size: f64, nobs1: f64, opts: &PowerOptions) -> Result<f64> {
        opts.check()?;
        check_finite("effect_size", effect_size)?;
        check_open("nobs1", nobs1, 0.0, f64::INFINITY)?;
        let nobs = 1.0 / (1.0 / nobs1 + 1.0 / (nobs1 * opts.ratio));
        Ok(normal_power_het(effect_size, nobs, opts, 1.0, 1.0))
    }

    /// The treatment size that reaches `power`.
    ///
    /// # Errors
    ///
    /// As [`TTestIndPower::solve_nobs1`].
    pub fn solve_nobs1(&self, effect_size: f64, power: f64, opts: &PowerOptions) -> Result<f64> {
        check_solvable(effect_size, power, opts)?;
        solve_size(|n| self.power(effect_size, n, opts), power, 1e-6)
    }

    /// The minimum detectable standardised effect at `nobs1` treatment observations.
    ///
    /// # Errors
    ///
    /// As [`TTestIndPower::solve_effect_size`].
    pub fn solve_effect_size(&self, nobs1: f64, power: f64, opts: &PowerOptions) -> Result<f64> {
        solve_effect(|d| self.power(d, nobs1, opts), power, opts)
    }
}

/// statsmodels' `normal_power_het`: a z test whose statistic has standard deviation
/// `std_null` under H0 and `std_alt` under H1 (per unit of `nobs`).
fn normal_power_het(diff: f64, nobs: f64, opts: &PowerOptions, std_null: f64, std_alt: f64) -> f64 {
    let crit = dist::norm_isf(opts.tail_alpha());
    let ratio = std_null / std_alt;
    let shift = diff * nobs.sqrt() / std_alt;
    let upper = || dist::norm_sf(crit * ratio - shift);
    let lower = || dist::norm_cdf(-crit * ratio - shift);
    match opts.alternative {
        Alternative::TwoSided => upper() + lower(),
        Alternative::Greater => upper(),
        Alternative::Less => lower(),
    }
}

fn check_solvable(effect_size: f64, power: f64, opts: &PowerOptions) -> Result<()> {
    opts.check()?;
    check_finite("effect_size", effect_size)?;
    if effect_size == 0.0 {
        return Err(Error::InvalidParameter {
            name: "effect_size",
            value: 0.0,
            expected: "a non-zero effect (no sample size detects an effect of 0)",
        });
    }
    let wrong_sign = match opts.alternative {
        Alternative::TwoSided => false,
        Alternative::Greater => effect_size < 0.0,
        Alternative::Less => effect_size > 0.0,
    };
    if wrong_sign {
        return Err(Error::InvalidParameter {
            name: "effect_size",
            value: effect_size,
            expected: "an effect in the direction of the one-sided alternative",
        });
    }
    check_power(power, opts)
}

fn check_power(power: f64, opts: &PowerOptions) -> Result<()> {
    if !(power > opts.alpha && power < 1.0) {
        return Err(Error::InvalidParameter {
            name: "power",
            value: power,
            expected: "a power strictly between alpha and 1",
        });
    }
    Ok(())
}

/// Solves `power(n) = target` for `n ≥ low` (power increasing in `n`).
fn solve_size(power: impl Fn(f64) -> Result<f64>, target: f64, low: f64) -> Result<f64> {
    let f = |n: f64| power(n).map(|p| p - target).unwrap_or(f64::NAN);
    roots::solve_increasing(f, low, 50.0, 1e15, 1e-13)
}

/// Solves `power(d) = target` over `d > 0` (`d < 0` for `Less`).
fn solve_effect(
    power: impl Fn(f64) -> Result<f64>,
    target: f64,
    opts: &PowerOptions,
) -> Result<f64> {
    opts.check()?;
    check_power(target, opts)?;
    let sign = if opts.alternative == Alternative::Less {
        -1.0
    } else {
        1.0
    };
    // Validate the other arguments once.
    power(sign)?;
    let f = |e: f64| power(sign * e).map(|p| p - target).unwrap_or(f64::NAN);
    let mut hi = 1.0;
    while f(hi) < 0.0 {
        hi *= 2.0;
        if hi > 1e12 {
            return Err(Error::NoSolution(
                "the power is not reached by any effect".into(),
            ));
        }
    }
    let e = roots::brent(f, 0.0, hi, 1e-15, 400)?;
    Ok(sign * e)
}

/// Cohen's d of treatment against control with the pooled SD (`ddof = 1`):
/// `(x̄_t − x̄_c) / sqrt(((n_t − 1)s_t² + (n_c − 1)s_c²) / (n_t + n_c − 2))`.
///
/// Both groups constant: 0 when the means are equal, else [`Error::ZeroVariance`].
///
/// # Errors
///
/// [`Error::TooFewObservations`] (empty group or `n_t + n_c < 3`), [`Error::ZeroVariance`].
pub fn cohens_d(treatment: &Summary, control: &Summary) -> Result<f64> {
    treatment.require(crate::Group::Treatment, 1)?;
    control.require(crate::Group::Control, 1)?;
    if treatment.n + control.n < 3 {
        return Err(Error::TooFewObservations {
            group: crate::Group::Treatment,
            n: treatment.n,
            needed: 2,
        });
    }
    let sd = ((treatment.m2 + control.m2) / (treatment.n + control.n - 2) as f64).sqrt();
    let diff = treatment.mean - control.mean;
    if sd == 0.0 {
        return if diff == 0.0 {
            Ok(0.0)
        } else {
            Err(Error::ZeroVariance)
        };
    }
    Ok(diff / sd)
}

/// Cohen's h, the effect size of two proportions (statsmodels `proportion_effectsize`):
/// `h = 2 asin(√p_t) − 2 asin(√p_c)`.
///
/// # Errors
///
/// [`Error::InvalidParameter`] for a proportion outside `[0, 1]`.
pub fn cohens_h(p_treatment: f64, p_control: f64) -> Result<f64> {
    for (name, p) in [("p_treatment", p_treatment), ("p_control", p_control)] {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidParameter {
                name,
                value: p,
                expected: "a proportion in [0, 1]",
            });
        }
    }
    Ok(2.0 * p_treatment.sqrt().asin() - 2.0 * p_control.sqrt().asin())
}

/// The power of the two-proportion z test to tell `p_treatment` from `p_control`:
/// [`NormalIndPower`] with Cohen's h.
///
/// # Errors
///
/// [`Error::InvalidParameter`].
pub fn proportions_power(
    p_treatment: f64,
    p_control: f64,
    nobs1: f64,
    opts: &PowerOptions,
) -> Result<f64> {
    NormalIndPower.power(cohens_h(p_treatment, p_control)?, nobs1, opts)
}

/// The treatment size to tell `p_treatment` from `p_control` with this power.
///
/// ```
/// use abforge_stats::{PowerOptions, proportions_solve_nobs1};
///
/// // 10 % → 12 %: about 3835 per group (statsmodels NormalIndPower with Cohen's h).
/// let n = proportions_solve_nobs1(0.12, 0.10, 0.8, &PowerOptions::default())?;
/// assert_eq!(n.ceil(), 3835.0);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] (equal proportions, power outside (α, 1)),
/// [`Error::NoSolution`].
pub fn proportions_solve_nobs1(
    p_treatment: f64,
    p_control: f64,
    power: f64,
    opts: &PowerOptions,
) -> Result<f64> {
    NormalIndPower.solve_nobs1(cohens_h(p_treatment, p_control)?, power, opts)
}

/// The minimum detectable treatment proportion against `p_control` with `nobs1` treatment
/// observations: `sin²(asin √p_c + h/2)` with `h` the minimum detectable Cohen's h (below
/// `p_control` for `Less`).
///
/// # Errors
///
/// [`Error::InvalidParameter`], [`Error::NoSolution`] when no proportion in `[0, 1]` is
/// far enough.
pub fn proportions_mde(p_control: f64, nobs1: f64, power: f64, opts: &PowerOptions) -> Result<f64> {
    cohens_h(p_control, p_control)?;
    let h = NormalIndPower.solve_effect_size(nobs1, power, opts)?;
    let angle = p_control.sqrt().asin() + 0.5 * h;
    if !(0.0..=std::f64::consts::FRAC_PI_2).contains(&angle) {
        return Err(Error::NoSolution(format!(
            "no proportion differs enough from {p_control} to reach this power with {nobs1} observations"
        )));
    }
    let s = angle.sin();
    Ok(s * s)
}

/// How the variance under H0 is taken in [`poisson_ratio_power`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoissonVariance {
    /// The variance under the alternative for both (statsmodels `method_var='alt'`).
    #[default]
    Alt,
    /// The score variance under H0 (statsmodels `method_var='score'`).
    Score,
}

/// Options of the Poisson-rate power (statsmodels `power_poisson_ratio_2indep`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PoissonPowerOptions {
    /// Exposure per observation (1 for per-customer counts).
    pub exposure: f64,
    /// The rate ratio under H0 (statsmodels `value`), 1 for "no effect".
    pub null_ratio: f64,
    /// Variance overdispersion factor (1 for Poisson).
    pub dispersion: f64,
    /// The variance under H0.
    pub variance: PoissonVariance,
}

impl Default for PoissonPowerOptions {
    fn default() -> Self {
        PoissonPowerOptions {
            exposure: 1.0,
            null_ratio: 1.0,
            dispersion: 1.0,
            variance: PoissonVariance::Alt,
        }
    }
}

/// The power of the test of the log rate ratio (statsmodels
/// `power_poisson_ratio_2indep(rate_t, rate_c, nobs1, nobs_ratio=ratio, exposure, value,
/// alpha, dispersion, alternative, method_var)`): a normal approximation on the log scale,
///
/// ```text
/// es = ln(rate_t / rate_c) − ln(null_ratio)
/// v1 = dispersion / exposure · (1/rate_t + 1/(ratio · rate_c))              (alternative)
/// v0 = v1 ('alt') or dispersion/exposure · (1 + r₀/ratio)² / (r₀/ratio · (rate_t + ratio · rate_c)) ('score')
/// power = normal_power_het(es, nobs1, α, sqrt(v0), sqrt(v1))
/// ```
///
/// (statsmodels' own default alternative for this function is `'smaller'`; here it is the
/// options' alternative, two-sided by default).
///
/// ```
/// use abforge_stats::{PoissonPowerOptions, PowerOptions, poisson_ratio_power, poisson_ratio_solve_nobs1};
///
/// let (o, p) = (PowerOptions::default(), PoissonPowerOptions::default());
/// let n = poisson_ratio_solve_nobs1(2.3, 2.0, 0.8, &o, &p)?;
/// assert!((poisson_ratio_power(2.3, 2.0, n, &o, &p)? - 0.8).abs() < 1e-12);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for non-positive rates, exposure, null ratio or dispersion.
pub fn poisson_ratio_power(
    rate_treatment: f64,
    rate_control: f64,
    nobs1: f64,
    opts: &PowerOptions,
    poisson: &PoissonPowerOptions,
) -> Result<f64> {
    opts.check()?;
    check_open("nobs1", nobs1, 0.0, f64::INFINITY)?;
    check_open("rate_treatment", rate_treatment, 0.0, f64::INFINITY)?;
    check_open("rate_control", rate_control, 0.0, f64::INFINITY)?;
    check_open("exposure", poisson.exposure, 0.0, f64::INFINITY)?;
    check_open("null_ratio", poisson.null_ratio, 0.0, f64::INFINITY)?;
    check_open("dispersion", poisson.dispersion, 0.0, f64::INFINITY)?;
    let (r1, r2, k, value) = (rate_treatment, rate_control, opts.ratio, poisson.null_ratio);
    let scale = poisson.dispersion / poisson.exposure;
    let v1 = scale * (1.0 / r1 + 1.0 / (k * r2));
    let v0 = match poisson.variance {
        PoissonVariance::Alt => v1,
        PoissonVariance::Score => scale * (1.0 + value / k).powi(2) / (value / k * (r1 + k * r2)),
    };
    let es = (r1 / r2).ln() - value.ln();
    Ok(normal_power_het(es, nobs1, opts, v0.sqrt(), v1.sqrt()))
}

/// The treatment size reaching `power` in [`poisson_ratio_power`].
///
/// # Errors
///
/// [`Error::InvalidParameter`] (no effect, power outside (α, 1), wrong direction),
/// [`Error::NoSolution`].
pub fn poisson_ratio_solve_nobs1(
    rate_treatment: f64,
    rate_control: f64,
    power: f64,
    opts: &PowerOptions,
    poisson: &PoissonPowerOptions,
) -> Result<f64> {
    check_open("rate_treatment", rate_treatment, 0.0, f64::INFINITY)?;
    check_open("rate_control", rate_control, 0.0, f64::INFINITY)?;
    check_open("null_ratio", poisson.null_ratio, 0.0, f64::INFINITY)?;
    let es = (rate_treatment / rate_control).ln() - poisson.null_ratio.ln();
    check_solvable(es, power, opts)?;
    solve_size(
        |n| poisson_ratio_power(rate_treatment, rate_control, n, opts, poisson),
        power,
        1e-6,
    )
}

/// The minimum detectable treatment rate against `rate_control` with `nobs1` treatment
/// observations at this power: solves [`poisson_ratio_power`] for the log rate ratio
/// (above the null ratio, below it for `Less`) and returns `rate_control · ratio`.
///
/// ```
/// use abforge_stats::{PoissonPowerOptions, PowerOptions, poisson_ratio_mde, poisson_ratio_power};
///
/// let (o, p) = (PowerOptions::default(), PoissonPowerOptions::default());
/// let rate = poisson_ratio_mde(2.0, 1000.0, 0.8, &o, &p)?;
/// assert!((poisson_ratio_power(rate, 2.0, 1000.0, &o, &p)? - 0.8).abs() < 1e-9);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`], [`Error::NoSolution`].
pub fn poisson_ratio_mde(
    rate_control: f64,
    nobs1: f64,
    power: f64,
    opts: &PowerOptions,
    poisson: &PoissonPowerOptions,
) -> Result<f64> {
    check_open("rate_control", rate_control, 0.0, f64::INFINITY)?;
    check_open("null_ratio", poisson.null_ratio, 0.0, f64::INFINITY)?;
    let base = rate_control * poisson.null_ratio;
    let log_ratio = solve_effect(
        |e| poisson_ratio_power(base * e.exp(), rate_control, nobs1, opts, poisson),
        power,
        opts,
    )?;
    Ok(base * log_ratio.exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn statsmodels_reference_sizes() {
        let o = PowerOptions::default();
        for (d, want) in [
            (0.1, 1570.7330430520037),
            (0.2, 393.4056930002526),
            (0.5, 63.76561058891169),
        ] {
            let n = TTestIndPower.solve_nobs1(d, 0.8, &o).unwrap();
            assert!(rel(n, want) < 1e-7, "d = {d}: {n}");
        }
    }

    #[test]
    fn effect_size_round_trip() {
        for alt in [
            Alternative::TwoSided,
            Alternative::Greater,
            Alternative::Less,
        ] {
            let o = PowerOptions {
                alternative: alt,
                ratio: 2.5,
                ..PowerOptions::default()
            };
            let d = TTestIndPower.solve_effect_size(120.0, 0.9, &o).unwrap();
            assert_eq!(d < 0.0, alt == Alternative::Less);
            assert!((TTestIndPower.power(d, 120.0, &o).unwrap() - 0.9).abs() < 1e-12);
            let h = NormalIndPower.solve_effect_size(120.0, 0.9, &o).unwrap();
            assert!((NormalIndPower.power(h, 120.0, &o).unwrap() - 0.9).abs() < 1e-12);
        }
    }

    #[test]
    fn normal_power_closed_form() {
        // Equal groups, two-sided: n = 2 ((z_{α/2} + z_β)/d)² up to the far tail.
        let o = PowerOptions::default();
        let n = NormalIndPower.solve_nobs1(0.2, 0.8, &o).unwrap();
        let z = dist::norm_isf(0.025) + dist::norm_isf(0.2);
        assert!(rel(n, 2.0 * (z / 0.2).powi(2)) < 1e-5);
    }

    #[test]
    fn zero_effect_and_bad_power() {
        let o = PowerOptions::default();
        assert!((TTestIndPower.power(0.0, 50.0, &o).unwrap() - 0.05).abs() < 1e-12);
        assert!(TTestIndPower.solve_nobs1(0.0, 0.8, &o).is_err());
        assert!(TTestIndPower.solve_nobs1(0.3, 0.01, &o).is_err());
        let g = PowerOptions {
            alternative: Alternative::Greater,
            ..o
        };
        assert!(TTestIndPower.solve_nobs1(-0.3, 0.8, &g).is_err());
        assert!(TTestIndPower.power(0.3, 0.5, &o).is_err());
        assert!(matches!(
            TTestIndPower.solve_nobs1(50.0, 0.8, &o),
            Err(Error::NoSolution(_))
        ));
    }

    #[test]
    fn proportions_and_poisson() {
        let o = PowerOptions::default();
        let n = proportions_solve_nobs1(0.12, 0.10, 0.8, &o).unwrap();
        assert!((proportions_power(0.12, 0.10, n, &o).unwrap() - 0.8).abs() < 1e-12);
        let p = proportions_mde(0.10, n, 0.8, &o).unwrap();
        assert!((p - 0.12).abs() < 1e-10);
        let po = PoissonPowerOptions::default();
        let n = poisson_ratio_solve_nobs1(2.3, 2.0, 0.8, &o, &po).unwrap();
        assert!((poisson_ratio_power(2.3, 2.0, n, &o, &po).unwrap() - 0.8).abs() < 1e-12);
        // Log-scale normal approximation: n ≈ (z_{α/2} + z_β)² (1/r_t + 1/r_c) / ln(r_t/r_c)².
        let z = dist::norm_isf(0.025) + dist::norm_isf(0.2);
        let approx = z * z * (1.0 / 2.3 + 1.0 / 2.0) / (2.3f64 / 2.0).ln().powi(2);
        assert!(rel(n, approx) < 1e-3);
        let score = PoissonPowerOptions {
            variance: PoissonVariance::Score,
            ..po
        };
        assert!(poisson_ratio_power(2.3, 2.0, 500.0, &o, &score).unwrap() > 0.5);
        assert!(cohens_h(1.2, 0.1).is_err());
    }

    #[test]
    fn cohens_d_pooled() {
        let t = Summary::from_slice(&[5.2, 6.0, 7.9]);
        let c = Summary::from_slice(&[3.1, 4.7]);
        assert!(rel(cohens_d(&t, &c).unwrap(), 1.8869202793022637) < 1e-12);
        let k = Summary::from_slice(&[1.0, 1.0]);
        assert_eq!(cohens_d(&k, &k).unwrap(), 0.0);
    }
}
