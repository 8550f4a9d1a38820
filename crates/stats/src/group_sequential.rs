//! Group-sequential tests: a fixed number of planned looks at accumulating data, each with a
//! critical value chosen so that the type I error over all looks together is α.
//!
//! Testing the same growing experiment at `z_{1−α/2}` after each of 5 looks rejects a true
//! null about 14 % of the time instead of 5 %. A group-sequential design spends α over the
//! looks instead: at information fractions `0 < t₁ < … < t_K ≤ 1` (the share of the planned
//! maximum sample size or information seen so far) it rejects at the first look whose
//! statistic crosses its critical value `c_k`.
//!
//! * [`gsd_design`] computes the critical values, either from a Lan–DeMets α-spending
//!   function (the looks need not be equally spaced or known in advance) or as a classical
//!   Wang–Tsiatis boundary (Pocock, O'Brien–Fleming);
//! * [`GsdDesign::decide`] applies them to the observed z statistics;
//! * [`GsdDesign::repeated_ci`] gives repeated confidence intervals `estimate ± c_k·se_k`,
//!   which cover the true difference at all looks simultaneously with probability `1 − α`;
//! * [`GsdDesign::operating_characteristics`] gives the crossing probabilities, power and
//!   expected information at stopping under a drift, and [`GsdDesign::drift_for_power`] the
//!   drift (hence the maximum sample size) a target power needs.
//!
//! # The computation
//!
//! Under the canonical joint law (Jennison & Turnbull, *Group Sequential Methods with
//! Applications to Clinical Trials*, 2000, ch. 3) `Z_k ~ N(θ√t_k, 1)` with independent
//! increments, so `Corr(Z_j, Z_k) = √(t_j/t_k)`; `θ`, the *drift*, is the mean of the z
//! statistic at full information (`t = 1`). The probabilities of crossing at each look are
//! computed by the recursive numerical integration of Armitage, McPherson & Rowe (1969):
//! Simpson's rule on Jennison & Turnbull's (2000, §19.2) grid, step `3/64` (their `r = 32`),
//! with the evenly spaced part widened from ±3 to ±6 standard deviations and the step cut to
//! an eighth of the increments' standard deviation when looks are close together. Each
//! critical value is the root (Brent, to 1e-13) of "probability of first crossing at this
//! look = α spent at this look". Against an independent Gauss–Legendre integration
//! (`tests/data/reference/gsd.py`, itself stable to 1e-15) the probabilities agree within
//! 1.1e-8 and the critical values within 7e-8 (the worst of 19 designs of 1 to 50 looks);
//! the stated accuracy of the critical values is 1e-6.
//!
//! # Limits
//!
//! At most [`MAX_LOOKS`] looks; α in [[`MIN_ALPHA`], [`MAX_ALPHA`]]; consecutive fractions at
//! least [`MIN_FRACTION_RATIO`] apart (relative), so that the grid stays bounded. Inputs
//! outside these limits are refused with an error naming the limit.

use serde::Serialize;

use crate::dist::{norm_cdf, norm_isf, norm_pdf, norm_sf};
use crate::error::{Error, Result};
use crate::hypothesis::{Alternative, finite_or_null};
use crate::roots::brent;

/// The largest number of looks a design may have.
pub const MAX_LOOKS: usize = 50;
/// The smallest significance level accepted.
pub const MIN_ALPHA: f64 = 1e-6;
/// The largest significance level accepted.
pub const MAX_ALPHA: f64 = 0.5;
/// Consecutive information fractions must satisfy `t_k ≥ MIN_FRACTION_RATIO · t_{k−1}`.
pub const MIN_FRACTION_RATIO: f64 = 1.01;

/// How the critical values are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Boundary {
    /// Lan & DeMets' (1983) O'Brien–Fleming-like spending function: per side, at one-sided
    /// level `a`, `f(t) = 2 − 2Φ(z_{1−a/2}/√t)`. Spends almost nothing early; the final
    /// critical value is close to the fixed-sample one.
    LanDemetsObrienFleming,
    /// Lan & DeMets' (1983) Pocock-like spending function `f(t) = a·ln(1 + (e − 1)t)`:
    /// nearly constant critical values.
    LanDemetsPocock,
    /// The Hwang, Shih & DeCani (1990) family `f(t) = a(1 − e^{−γt})/(1 − e^{−γ})`
    /// (`a·t` at γ = 0); γ = −4 is close to O'Brien–Fleming, γ = 1 to Pocock.
    HwangShihDecani {
        /// The shape γ, in [−40, 40].
        gamma: f64,
    },
    /// Kim & DeMets' (1987) power family `f(t) = a·t^ρ`.
    PowerFamily {
        /// The exponent ρ, in (0, 20].
        rho: f64,
    },
    /// The classical Wang & Tsiatis (1987) boundary `c_k = C·t_k^{Δ−1/2}`, `C` chosen so
    /// that the total type I error over the given looks is α: Δ = 0 is O'Brien & Fleming
    /// (1979), Δ = 1/2 is Pocock (1977). Not a spending function: the looks must be fixed
    /// in advance.
    WangTsiatis {
        /// The shape Δ, in [0, 1/2].
        delta: f64,
    },
}

impl Boundary {
    /// The classical Pocock (1977) boundary: one constant critical value at every look.
    pub const POCOCK: Boundary = Boundary::WangTsiatis { delta: 0.5 };
    /// The classical O'Brien & Fleming (1979) boundary `c_k = C/√t_k`.
    pub const OBRIEN_FLEMING: Boundary = Boundary::WangTsiatis { delta: 0.0 };

    /// The one-sided α spent by information fraction `t` for a one-sided level `a`, `None`
    /// for the Wang–Tsiatis boundaries (which are not spending functions).
    ///
    /// A two-sided design at level α spends `f(t)` with `a = α/2` on each side, so
    /// `2·f(t; α/2)` in total: the convention of `ldbounds`, `gsDesign` (`test.type = 2`)
    /// and `rpact` (`sided = 2`). Only for the O'Brien–Fleming-like function does this differ
    /// from applying the formula to the total α (Lan & DeMets' 1983 two-sided form
    /// `2 − 2Φ(z_{1−α/2}/√t)`, which spends more at early looks).
    pub fn spending(&self, a: f64, t: f64) -> Option<f64> {
        let t = t.clamp(0.0, 1.0);
        let f = match *self {
            Boundary::LanDemetsObrienFleming => {
                if t == 0.0 {
                    0.0
                } else {
                    2.0 * norm_sf(norm_isf(0.5 * a) / t.sqrt())
                }
            }
            Boundary::LanDemetsPocock => a * (std::f64::consts::E - 1.0).mul_add(t, 1.0).ln(),
            Boundary::HwangShihDecani { gamma: 0.0 } => a * t,
            Boundary::HwangShihDecani { gamma } => a * (-gamma * t).exp_m1() / (-gamma).exp_m1(),
            Boundary::PowerFamily { rho } => a * t.powf(rho),
            Boundary::WangTsiatis { .. } => return None,
        };
        Some(f)
    }

    fn check(&self) -> Result<()> {
        let (name, value, ok, expected) = match *self {
            Boundary::HwangShihDecani { gamma } => (
                "gamma",
                gamma,
                (-40.0..=40.0).contains(&gamma),
                "expected a number in [-40, 40]",
            ),
            Boundary::PowerFamily { rho } => (
                "rho",
                rho,
                rho > 0.0 && rho <= 20.0,
                "expected a number in (0, 20]",
            ),
            Boundary::WangTsiatis { delta } => (
                "delta",
                delta,
                (0.0..=0.5).contains(&delta),
                "expected a number in [0, 0.5]",
            ),
            _ => return Ok(()),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                name,
                value,
                expected,
            })
        }
    }
}

/// Options of [`gsd_design`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GsdOptions {
    /// The type I error over all looks together, in [[`MIN_ALPHA`], [`MAX_ALPHA`]].
    pub alpha: f64,
    /// Two-sided symmetric boundaries `±c_k` (α/2 per side), or one-sided: `Greater` rejects
    /// when `Z_k ≥ c_k`, `Less` when `Z_k ≤ −c_k`.
    pub alternative: Alternative,
    /// The spending function or classical boundary.
    pub boundary: Boundary,
}

impl Default for GsdOptions {
    /// Two-sided, α = 0.05, the Lan–DeMets O'Brien–Fleming-like spending function.
    fn default() -> Self {
        GsdOptions {
            alpha: 0.05,
            alternative: Alternative::TwoSided,
            boundary: Boundary::LanDemetsObrienFleming,
        }
    }
}

/// One planned look of a [`GsdDesign`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GsdLook {
    /// The look's number, from 1.
    pub look: usize,
    /// The information fraction `t_k`.
    pub fraction: f64,
    /// `c_k`: reject at this look when `|Z_k| ≥ c_k` (two-sided), `Z_k ≥ c_k`
    /// (`Greater`) or `Z_k ≤ −c_k` (`Less`). `+∞` (JSON `null`) when the look spends no α.
    #[serde(serialize_with = "finite_or_null")]
    pub critical_value: f64,
    /// The p-value threshold of this look: reject when this look's fixed-sample p-value is
    /// at most it (`2Φ̄(c_k)` two-sided, `Φ̄(c_k)` one-sided).
    pub nominal_p: f64,
    /// The probability under H0 of rejecting at this look (and not before).
    pub alpha_increment: f64,
    /// The probability under H0 of rejecting at or before this look: the cumulative α spent.
    pub alpha_spent: f64,
}

/// A group-sequential design: the critical values of every planned look.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GsdDesign {
    /// The level over all looks.
    pub alpha: f64,
    /// The direction of the test.
    pub alternative: Alternative,
    /// How the critical values were chosen.
    pub boundary: Boundary,
    /// The looks, in order.
    pub looks: Vec<GsdLook>,
}

/// Computes the critical values of a group-sequential design with looks at the information
/// fractions `fractions` (`0 < t₁ < … < t_K ≤ 1`).
///
/// With a spending function the design spends `α(t_k)` by look `k`. The last fraction is
/// normally 1; a smaller one (a trial stopped short of its planned maximum information)
/// spends only `α(t_K) < α`. Looks may be added one at a time: the critical values of the
/// first looks do not depend on the later ones. A Wang–Tsiatis boundary spends all of α
/// over the given looks.
///
/// ```
/// use abforge_stats::{GsdOptions, gsd_design};
///
/// // Five equally spaced looks, two-sided α = 0.05, O'Brien–Fleming-like spending.
/// let d = gsd_design(&[0.2, 0.4, 0.6, 0.8, 1.0], &GsdOptions::default())?;
/// let c: Vec<f64> = d.looks.iter().map(|l| l.critical_value).collect();
/// assert!((c[0] - 4.877).abs() < 1e-3 && (c[4] - 2.031).abs() < 1e-3);
/// assert!((d.looks[4].alpha_spent - 0.05).abs() < 1e-9);
/// let decision = d.decide(&[1.2, 2.9, 3.1])?;
/// assert_eq!(decision.first_crossing, Some(3));
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidInput`] for no look, more than [`MAX_LOOKS`], fractions that are not
/// finite, not in (0, 1], not increasing or closer than [`MIN_FRACTION_RATIO`];
/// [`Error::InvalidParameter`] for α outside [[`MIN_ALPHA`], [`MAX_ALPHA`]] or a boundary
/// parameter outside its range.
pub fn gsd_design(fractions: &[f64], opts: &GsdOptions) -> Result<GsdDesign> {
    check_fractions(fractions)?;
    check_alpha(opts.alpha)?;
    opts.boundary.check()?;
    let sides = Sides::of(opts.alternative);
    let critical = match opts.boundary {
        Boundary::WangTsiatis { delta } => wang_tsiatis(fractions, opts.alpha, delta, sides)?,
        spending => spending_boundary(fractions, opts.alpha, spending, sides)?,
    };
    let increments = exit_probabilities(fractions, &critical, sides, 0.0)?;
    let mut spent = 0.0;
    let looks = critical
        .iter()
        .zip(fractions)
        .zip(&increments)
        .enumerate()
        .map(|(i, ((&c, &t), e))| {
            let increment = e.above + e.below;
            spent += increment;
            GsdLook {
                look: i + 1,
                fraction: t,
                critical_value: c,
                nominal_p: sides.count() * norm_sf(c),
                alpha_increment: increment,
                alpha_spent: spent,
            }
        })
        .collect();
    Ok(GsdDesign {
        alpha: opts.alpha,
        alternative: opts.alternative,
        boundary: opts.boundary,
        looks,
    })
}

/// One observed look of a [`GsdDecision`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GsdLookDecision {
    /// The look's number, from 1.
    pub look: usize,
    /// Its planned information fraction.
    pub fraction: f64,
    /// The observed z statistic (treatment − control, standardised).
    pub z: f64,
    /// The critical value `c_k` (see [`GsdLook::critical_value`]).
    #[serde(serialize_with = "finite_or_null")]
    pub critical_value: f64,
    /// The p-value threshold of this look.
    pub nominal_p: f64,
    /// This look's fixed-sample p-value (in the design's direction); it crosses when
    /// `p_value ≤ nominal_p`. Not a p-value for the sequential test as a whole.
    pub p_value: f64,
    /// Whether `z` is on or beyond the critical value.
    pub crossed: bool,
    /// The cumulative α spent by this look.
    pub alpha_spent: f64,
}

/// The decision of a group-sequential test after the looks observed so far.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GsdDecision {
    /// Every observed look. Looks after the first crossing are shown for information: the
    /// test stops (and rejects) at the first crossing.
    pub looks: Vec<GsdLookDecision>,
    /// The first look whose statistic crossed, from 1.
    pub first_crossing: Option<usize>,
    /// Whether H0 is rejected (some look crossed).
    pub reject: bool,
    /// The α spent by the last observed look.
    pub alpha_spent: f64,
}

/// A repeated confidence interval at one look.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RepeatedCi {
    /// The look's number, from 1.
    pub look: usize,
    /// The estimate of the difference (treatment − control).
    pub estimate: f64,
    /// Its standard error.
    pub std_error: f64,
    /// `estimate − c_k·se` (two-sided and `Greater`), `−∞` (JSON `null`) for `Less`.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// `estimate + c_k·se` (two-sided and `Less`), `+∞` (JSON `null`) for `Greater`.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
}

/// The operating characteristics of a design under a drift.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GsdOperating {
    /// The drift θ: the mean of the z statistic at full information (`t = 1`); at look `k`
    /// the statistic has mean `θ√t_k`.
    pub drift: f64,
    /// Per look, the probability of stopping there with `Z_k ≥ c_k`.
    pub reject_above: Vec<f64>,
    /// Per look, the probability of stopping there with `Z_k ≤ −c_k`.
    pub reject_below: Vec<f64>,
    /// The power: the probability of rejecting H0 in the direction of the drift (above for
    /// drifts ≥ 0, below for negative ones; the design's only side for one-sided designs),
    /// as tabulated by Jennison & Turnbull and gsDesign. For a two-sided design at drift 0
    /// this is α/2.
    pub power: f64,
    /// The probability of rejecting H0 at some look on either side: the size α (up to the
    /// last fraction's spending) at drift 0.
    pub rejection_probability: f64,
    /// The expected information fraction at stopping (the last look's fraction when no look
    /// crosses): the expected sample size as a share of the maximum.
    pub expected_fraction: f64,
}

impl GsdDesign {
    /// Applies the design to the z statistics observed at looks `1..=k` (`k ≤ K`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when no statistic is given, [`Error::LengthMismatch`] when
    /// more are given than the design has looks, [`Error::InvalidParameter`] for a
    /// non-finite statistic.
    pub fn decide(&self, z: &[f64]) -> Result<GsdDecision> {
        self.check_observed(z.len())?;
        let sides = Sides::of(self.alternative);
        let mut looks = Vec::with_capacity(z.len());
        for (look, &z) in self.looks.iter().zip(z) {
            finite("z", z)?;
            let s = sides.oriented(z, self.alternative);
            looks.push(GsdLookDecision {
                look: look.look,
                fraction: look.fraction,
                z,
                critical_value: look.critical_value,
                nominal_p: look.nominal_p,
                p_value: (sides.count() * norm_sf(s)).min(1.0),
                crossed: s >= look.critical_value,
                alpha_spent: look.alpha_spent,
            });
        }
        let first_crossing = looks.iter().find(|l| l.crossed).map(|l| l.look);
        Ok(GsdDecision {
            alpha_spent: looks.last().map_or(0.0, |l| l.alpha_spent),
            reject: first_crossing.is_some(),
            first_crossing,
            looks,
        })
    }

    /// Repeated confidence intervals for the difference at the observed looks: `estimate ±
    /// c_k·se_k` (one-sided for one-sided designs). They cover the true difference at every
    /// look simultaneously with probability `1 − α` (Jennison & Turnbull, 2000, ch. 9), so
    /// they stay valid whatever the stopping rule.
    ///
    /// # Errors
    ///
    /// As [`GsdDesign::decide`], and [`Error::LengthMismatch`] when the estimates and
    /// standard errors differ in number, [`Error::InvalidParameter`] for a non-finite
    /// estimate or a standard error that is not finite and positive.
    pub fn repeated_ci(&self, estimates: &[f64], std_errors: &[f64]) -> Result<Vec<RepeatedCi>> {
        if estimates.len() != std_errors.len() {
            return Err(Error::LengthMismatch {
                what: "estimates and standard errors",
                left: estimates.len(),
                right: std_errors.len(),
            });
        }
        self.check_observed(estimates.len())?;
        let mut out = Vec::with_capacity(estimates.len());
        for ((look, &estimate), &se) in self.looks.iter().zip(estimates).zip(std_errors) {
            finite("estimate", estimate)?;
            if !(se.is_finite() && se > 0.0) {
                return Err(Error::InvalidParameter {
                    name: "std_error",
                    value: se,
                    expected: "expected a finite number > 0",
                });
            }
            let h = look.critical_value * se;
            let (lo, hi) = match self.alternative {
                Alternative::TwoSided => (estimate - h, estimate + h),
                Alternative::Greater => (estimate - h, f64::INFINITY),
                Alternative::Less => (f64::NEG_INFINITY, estimate + h),
            };
            out.push(RepeatedCi {
                look: look.look,
                estimate,
                std_error: se,
                ci_low: lo,
                ci_high: hi,
            });
        }
        Ok(out)
    }

    /// The crossing probabilities, power and expected information fraction at stopping when
    /// the z statistic at full information has mean `drift`. For a comparison of means with
    /// `n` per group at full information, `drift = δ/(σ·√(2/n))`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a non-finite drift; the errors of [`gsd_design`]
    /// for a design whose looks were edited into an invalid one.
    pub fn operating_characteristics(&self, drift: f64) -> Result<GsdOperating> {
        finite("drift", drift)?;
        // The fields are public: a design edited by hand must still bound the work.
        check_fractions(&self.fractions())?;
        if let Some(l) = self.looks.iter().find(|l| l.critical_value.is_nan()) {
            return Err(Error::InvalidParameter {
                name: "critical_value",
                value: l.critical_value,
                expected: "expected a number or +inf",
            });
        }
        let sides = Sides::of(self.alternative);
        // A `Less` design is a `Greater` design on −Z.
        let flip = self.alternative == Alternative::Less;
        let theta = if flip { -drift } else { drift };
        let exits = exit_probabilities(&self.fractions(), &self.critical(), sides, theta)?;
        let (mut above, mut below): (Vec<f64>, Vec<f64>) =
            exits.iter().map(|e| (e.above, e.below)).unzip();
        if flip {
            std::mem::swap(&mut above, &mut below);
        }
        let mut stop = 0.0;
        let mut expected = 0.0;
        for (look, e) in self.looks.iter().zip(&exits) {
            let p = e.above + e.below;
            stop += p;
            expected += look.fraction * p;
        }
        let last = self.looks.last().map_or(1.0, |l| l.fraction);
        let power = match self.alternative {
            Alternative::TwoSided if drift < 0.0 => below.iter().sum::<f64>(),
            Alternative::Less => below.iter().sum::<f64>(),
            _ => above.iter().sum::<f64>(),
        };
        Ok(GsdOperating {
            drift,
            reject_above: above,
            reject_below: below,
            power: power.min(1.0),
            rejection_probability: stop.min(1.0),
            expected_fraction: expected + last * (1.0 - stop).max(0.0),
        })
    }

    /// The drift at which the design has power `power` (rejections in the drift's direction,
    /// see [`GsdOperating::power`]; negative for `Less` designs). The
    /// maximum sample size relative to a fixed-sample test with the same power is
    /// `(drift / (z_{1−α/2} + z_{power}))²` (one-sided designs: `z_{1−α}`), the *inflation
    /// factor* of Jennison & Turnbull's tables.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] unless the power at drift 0 < `power` < 1;
    /// [`Error::NoSolution`] if the root finder fails.
    pub fn drift_for_power(&self, power: f64) -> Result<f64> {
        let at_zero = self.operating_characteristics(0.0)?.power;
        if !(power.is_finite() && power > at_zero && power < 1.0 - 1e-12) {
            return Err(Error::InvalidParameter {
                name: "power",
                value: power,
                expected: "expected a number between the power at drift 0 and 1",
            });
        }
        let sign = if self.alternative == Alternative::Less {
            -1.0
        } else {
            1.0
        };
        let f = |theta: f64| match self.operating_characteristics(sign * theta) {
            Ok(o) => o.power - power,
            Err(_) => f64::NAN,
        };
        let theta = brent(f, 0.0, DRIFT_LIMIT, 1e-10, 200)?;
        Ok(sign * theta)
    }

    fn fractions(&self) -> Vec<f64> {
        self.looks.iter().map(|l| l.fraction).collect()
    }

    fn critical(&self) -> Vec<f64> {
        self.looks.iter().map(|l| l.critical_value).collect()
    }

    fn check_observed(&self, n: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::InvalidInput("no look observed yet".into()));
        }
        if n > self.looks.len() {
            return Err(Error::LengthMismatch {
                what: "observed looks vs planned looks",
                left: n,
                right: self.looks.len(),
            });
        }
        Ok(())
    }
}

/// The largest drift [`GsdDesign::drift_for_power`] searches: the last look's statistic then
/// has mean `60√t_K`, beyond any critical value of a design that can reject.
const DRIFT_LIMIT: f64 = 60.0;

fn finite(name: &'static str, x: f64) -> Result<()> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            value: x,
            expected: "expected a finite number",
        })
    }
}

fn check_alpha(alpha: f64) -> Result<()> {
    if (MIN_ALPHA..=MAX_ALPHA).contains(&alpha) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "alpha",
            value: alpha,
            expected: "expected a number in [1e-6, 0.5] (MIN_ALPHA, MAX_ALPHA)",
        })
    }
}

fn check_fractions(t: &[f64]) -> Result<()> {
    if t.is_empty() {
        return Err(Error::InvalidInput(
            "a design needs at least one look".into(),
        ));
    }
    if t.len() > MAX_LOOKS {
        return Err(Error::InvalidInput(format!(
            "{} looks: at most MAX_LOOKS = {MAX_LOOKS} are supported",
            t.len()
        )));
    }
    for (i, &x) in t.iter().enumerate() {
        if !(x.is_finite() && x > 0.0 && x <= 1.0) {
            return Err(Error::InvalidInput(format!(
                "information fraction {} is {x}: expected a number in (0, 1]",
                i + 1
            )));
        }
        if i > 0 && x < MIN_FRACTION_RATIO * t[i - 1] {
            return Err(Error::InvalidInput(format!(
                "information fractions {} and {} are {} and {x}: they must increase, by a \
                 factor of at least MIN_FRACTION_RATIO = {MIN_FRACTION_RATIO}",
                i,
                i + 1,
                t[i - 1]
            )));
        }
    }
    Ok(())
}

/// One- or two-sided, in the orientation of the integration (rejection above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sides {
    One,
    Two,
}

impl Sides {
    fn of(alternative: Alternative) -> Self {
        match alternative {
            Alternative::TwoSided => Sides::Two,
            _ => Sides::One,
        }
    }

    fn count(self) -> f64 {
        match self {
            Sides::One => 1.0,
            Sides::Two => 2.0,
        }
    }

    /// The statistic compared with `c_k`: `|z|`, `z` or `−z`.
    fn oriented(self, z: f64, alternative: Alternative) -> f64 {
        match alternative {
            Alternative::TwoSided => z.abs(),
            Alternative::Greater => z,
            Alternative::Less => -z,
        }
    }

    /// The continuation region `(lower, upper)` for critical value `c`.
    fn region(self, c: f64) -> (f64, f64) {
        match self {
            Sides::One => (f64::NEG_INFINITY, c),
            Sides::Two => (-c, c),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Boundaries.

/// The critical values of a spending-function design, look by look.
fn spending_boundary(t: &[f64], alpha: f64, b: Boundary, sides: Sides) -> Result<Vec<f64>> {
    let per_side = alpha / sides.count();
    let spent = |x: f64| sides.count() * b.spending(per_side, x).unwrap_or(0.0);
    let mut critical = Vec::with_capacity(t.len());
    let mut stage: Option<Stage> = None;
    for (k, &tk) in t.iter().enumerate() {
        let previous = if k == 0 { 0.0 } else { spent(t[k - 1]) };
        let increment = spent(tk) - previous;
        let c = if increment <= MIN_INCREMENT {
            f64::INFINITY
        } else if k == 0 {
            norm_isf(increment / sides.count())
        } else {
            let Some(s) = stage.as_ref() else {
                return Err(Error::NoSolution(
                    "no integration stage before a look".into(),
                ));
            };
            let step = Step::new(t[k - 1], tk, 0.0);
            let f = |c: f64| {
                let (lo, hi) = sides.region(c);
                let e = s.exits(&step, lo, hi);
                e.above + e.below - increment
            };
            let low = if sides == Sides::Two { 0.0 } else { -C_LIMIT };
            brent(f, low, C_LIMIT, 1e-13, 200)?
        };
        critical.push(c);
        if k + 1 < t.len() {
            stage = Some(advance(stage.as_ref(), t, k, 0.0, sides.region(c)));
        }
    }
    Ok(critical)
}

/// An α increment below this spends nothing: the look's critical value is +∞.
const MIN_INCREMENT: f64 = 1e-300;
/// Critical values are searched below this (`Φ̄(40)` underflows).
const C_LIMIT: f64 = 40.0;

/// The critical values `C·t_k^{Δ−1/2}` of a Wang–Tsiatis design, `C` solving "total type I
/// error = α".
fn wang_tsiatis(t: &[f64], alpha: f64, delta: f64, sides: Sides) -> Result<Vec<f64>> {
    let shape = |c: f64| -> Vec<f64> { t.iter().map(|&x| c * x.powf(delta - 0.5)).collect() };
    let size = |c: f64| -> f64 {
        match exit_probabilities(t, &shape(c), sides, 0.0) {
            Ok(e) => e.iter().map(|e| e.above + e.below).sum::<f64>() - alpha,
            Err(_) => f64::NAN,
        }
    };
    // The last look alone spends α at `low`; Bonferroni over the looks bounds `high`.
    let last = t[t.len() - 1].powf(delta - 0.5);
    let per_side = alpha / sides.count();
    let low = norm_isf(per_side) / last;
    let high = norm_isf(per_side / t.len() as f64) / last;
    let c = if t.len() == 1 {
        low
    } else {
        brent(size, low * (1.0 - 1e-9), high * (1.0 + 1e-9), 1e-13, 200)?
    };
    Ok(shape(c))
}

// ---------------------------------------------------------------------------------------
// The recursive numerical integration.

/// The probabilities of stopping at one look.
#[derive(Clone, Copy, Debug)]
struct Exit {
    /// `P(continue to k, Z_k ≥ upper)`.
    above: f64,
    /// `P(continue to k, Z_k ≤ lower)`.
    below: f64,
}

/// The exit probabilities at every look for critical values `c` under drift `theta`,
/// oriented so that one-sided designs reject above.
fn exit_probabilities(t: &[f64], c: &[f64], sides: Sides, theta: f64) -> Result<Vec<Exit>> {
    let mut out = Vec::with_capacity(t.len());
    let mut stage: Option<Stage> = None;
    for (k, (&tk, &ck)) in t.iter().zip(c).enumerate() {
        let (lo, hi) = sides.region(ck);
        let e = match &stage {
            None => {
                let mu = theta * tk.sqrt();
                Exit {
                    above: norm_sf(hi - mu),
                    below: norm_cdf(lo - mu),
                }
            }
            Some(s) => s.exits(&Step::new(t[k - 1], tk, theta), lo, hi),
        };
        if !(e.above.is_finite() && e.below.is_finite()) {
            return Err(Error::NoSolution(format!(
                "the crossing probability at look {} is not finite",
                k + 1
            )));
        }
        out.push(e);
        if k + 1 < t.len() {
            stage = Some(advance(stage.as_ref(), t, k, theta, (lo, hi)));
        }
    }
    Ok(out)
}

/// The increment from look `k − 1` to look `k`: `Z_k√t_k = Z_{k−1}√t_{k−1} + X`, `X ~
/// N(θΔ, Δ)`, `Δ = t_k − t_{k−1}`; in the kernel's variables `x = a·z − b·u − shift`.
struct Step {
    a: f64,
    b: f64,
    shift: f64,
}

impl Step {
    fn new(t_prev: f64, t: f64, theta: f64) -> Self {
        let d = t - t_prev;
        Step {
            a: (t / d).sqrt(),
            b: (t_prev / d).sqrt(),
            shift: theta * d.sqrt(),
        }
    }
}

/// The sub-density of `Z_k` on the continuation region of look `k` (the law of the
/// statistic on the paths that have not stopped), as Simpson weight × density at the grid
/// nodes.
struct Stage {
    z: Vec<f64>,
    wh: Vec<f64>,
}

impl Stage {
    /// The exit probabilities at the next look for the continuation region `(lo, hi)`.
    fn exits(&self, s: &Step, lo: f64, hi: f64) -> Exit {
        let mut above = 0.0;
        let mut below = 0.0;
        for (&u, &wh) in self.z.iter().zip(&self.wh) {
            let m = s.b * u + s.shift;
            if hi.is_finite() {
                above += wh * norm_sf(s.a * hi - m);
            }
            if lo.is_finite() {
                below += wh * norm_cdf(s.a * lo - m);
            }
        }
        Exit { above, below }
    }
}

/// The stage of look `k` (0-based) from that of look `k − 1`, on the continuation region
/// `region` of look `k`; the grid is fine enough for the increment to look `k + 1`.
fn advance(prev: Option<&Stage>, t: &[f64], k: usize, theta: f64, region: (f64, f64)) -> Stage {
    let tk = t[k];
    // The kernel to the next look has this standard deviation (in this look's z), and the
    // one from the previous look left features as narrow in the density.
    let mut sd = ((t[k + 1] - tk) / tk).sqrt();
    if k > 0 {
        sd = sd.min(((tk - t[k - 1]) / tk).sqrt());
    }
    let (z, w) = grid(theta * tk.sqrt(), region.0, region.1, step_for(sd));
    let h: Vec<f64> = match prev {
        None => z.iter().map(|&x| norm_pdf(x - theta * tk.sqrt())).collect(),
        Some(p) => {
            let s = Step::new(t[k - 1], tk, theta);
            z.iter()
                .map(|&x| {
                    let ax = s.a * x - s.shift;
                    let sum: f64 =
                        p.z.iter()
                            .zip(&p.wh)
                            .map(|(&u, &wh)| wh * norm_pdf(ax - s.b * u))
                            .sum();
                    s.a * sum
                })
                .collect()
        }
    };
    let wh = w.iter().zip(&h).map(|(w, h)| w * h).collect();
    Stage { z, wh }
}

/// The grid step on the evenly spaced part: Jennison & Turnbull's `3/(2r)` with `r = 32`
/// (their `r = 16` gives about 1e-6 in probability), or an eighth of `sd` when smaller,
/// `sd` being the smaller standard deviation (on the scale of this look's statistic) of the
/// increments from the previous and to the next look, which the kernels must resolve.
/// [`MIN_FRACTION_RATIO`] bounds `1/sd` at 10.
fn step_for(sd: f64) -> f64 {
    (3.0 / 64.0f64).min(sd / 8.0)
}

/// Half-width of the evenly spaced part of the grid, in standard deviations.
const BAND: f64 = 6.0;
/// Jennison & Turnbull's `r` for the logarithmic tails.
const TAIL_R: usize = 32;

/// The nodes and Simpson weights of the integration grid for a law centred at `mu`
/// restricted to `(lo, hi)`: Jennison & Turnbull's (2000, §19.2) grid with its evenly
/// spaced part widened from `mu ± 3` to `mu ± 6` (their log-spaced points just beyond 3
/// carried most of the error, 2e-8 in probability, at the O'Brien–Fleming-like boundaries'
/// early looks), then spreading logarithmically to `mu ± (6 + 4 ln 32)`; cut at the region's
/// ends (which become nodes), with the midpoints added.
fn grid(mu: f64, lo: f64, hi: f64, step: f64) -> (Vec<f64>, Vec<f64>) {
    let r = TAIL_R as f64;
    let n = (BAND / step).ceil() as usize;
    let h = BAND / n as f64;
    let mut x: Vec<f64> = Vec::with_capacity(2 * n + 2 * TAIL_R);
    let mut push = |v: f64| {
        if v > lo && v < hi {
            x.push(v);
        }
    };
    for i in 1..TAIL_R {
        push(mu - BAND - 4.0 * (r / i as f64).ln());
    }
    for i in 0..=2 * n {
        push(mu - BAND + h * i as f64);
    }
    for i in (1..TAIL_R).rev() {
        push(mu + BAND + 4.0 * (r / i as f64).ln());
    }
    // The region's ends become nodes when they cut the grid.
    let reach = BAND + 4.0 * r.ln();
    if lo > mu - reach {
        x.insert(0, lo);
    }
    if hi < mu + reach {
        x.push(hi);
    }
    simpson(&x)
}

/// Simpson's rule on the points `x` with their midpoints added.
fn simpson(x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    if x.len() < 2 {
        return (Vec::new(), Vec::new());
    }
    let n = 2 * x.len() - 1;
    let mut z = Vec::with_capacity(n);
    let mut w = Vec::with_capacity(n);
    for i in 0..x.len() {
        let left = if i > 0 { x[i] - x[i - 1] } else { 0.0 };
        let right = if i + 1 < x.len() {
            x[i + 1] - x[i]
        } else {
            0.0
        };
        z.push(x[i]);
        w.push((left + right) / 6.0);
        if i + 1 < x.len() {
            z.push(0.5 * (x[i] + x[i + 1]));
            w.push(4.0 * right / 6.0);
        }
    }
    (z, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simpson_integrates_the_normal_law() {
        for (mu, lo, hi) in [
            (0.0, f64::NEG_INFINITY, f64::INFINITY),
            (0.5, -1.0, 2.0),
            (3.0, f64::NEG_INFINITY, 1.0),
        ] {
            let (z, w) = grid(mu, lo, hi, 3.0 / 64.0);
            let got: f64 = z.iter().zip(&w).map(|(z, w)| w * norm_pdf(z - mu)).sum();
            let want = norm_cdf(hi - mu) - norm_cdf(lo - mu);
            // Simpson's O(h⁴) error where the region cuts the law; spectral on the line.
            let tol = if lo.is_finite() || hi.is_finite() {
                1e-9
            } else {
                1e-12
            };
            assert!((got - want).abs() < tol, "{mu} {lo} {hi}: {got} vs {want}");
        }
        // A region far from the mass leaves (almost) nothing.
        let (z, w) = grid(100.0, f64::NEG_INFINITY, 1.0, 3.0 / 64.0);
        assert!(
            z.iter()
                .zip(&w)
                .all(|(z, w)| w * norm_pdf(z - 100.0) == 0.0)
        );
    }

    #[test]
    fn spending_functions_reach_their_level() {
        for b in [
            Boundary::LanDemetsObrienFleming,
            Boundary::LanDemetsPocock,
            Boundary::HwangShihDecani { gamma: -4.0 },
            Boundary::HwangShihDecani { gamma: 0.0 },
            Boundary::HwangShihDecani { gamma: 1e-12 },
            Boundary::PowerFamily { rho: 2.0 },
        ] {
            let at1 = b.spending(0.025, 1.0).unwrap();
            assert!((at1 - 0.025).abs() < 1e-15, "{b:?}: {at1}");
            assert_eq!(b.spending(0.025, 0.0).unwrap(), 0.0, "{b:?}");
            let mid = b.spending(0.025, 0.5).unwrap();
            assert!(mid > 0.0 && mid < 0.025, "{b:?}");
        }
        assert_eq!(Boundary::POCOCK.spending(0.025, 0.5), None);
    }
}
