//! The work a truth computation may do, and how it stops.

use crate::Cancel;

/// Work the truth of one blueprint may take, in units: one evaluation of a probability
/// function (pmf, CDF, density, a quadrature's integrand) or one step of the walk over
/// segment cells: about a second of one core (2 to 4 in a debug build); past it the
/// blueprint is refused.
pub const TRUTH_BUDGET: u64 = 1 << 24;

/// Work the quantiles of one metric may take (apart from [`TRUTH_BUDGET`]): past it, the
/// metric's quantiles are not given (a law whose CDF is too costly to evaluate, such as a
/// gamma of shape 10¹², or past 2⁵², where statrs' series does not end).
pub const QUANTILE_BUDGET: u64 = 1 << 22;
/// Steps the walk over one metric's segment cells may take (within [`TRUTH_BUDGET`]).
pub const CELL_BUDGET: u64 = 1 << 22;

/// Support points a Mann–Whitney sum over an integer law adds up exactly (a Poisson of
/// rate up to about 1.6·10⁹); a longer support is bracketed instead (see
/// [`MAX_BRACKET_BINS`]).
pub const MAX_EXACT_SUPPORT: u64 = 1 << 21;

/// Largest integer the support of a bracketed law may reach (all but 1e-16 of its mass
/// below it): statrs computes integer CDFs through log-gamma differences of the size of
/// `k·ln k`, which past 2²⁷ ≈ 1.3·10⁸ lose more than [`MAX_APPROX_ERROR`] / 10 to rounding.
/// A negative binomial of `r` = 1 and `p` below about 3·10⁻⁷ reaches past it, and is
/// refused unless both arms share its law. (Two Poisson laws are never bracketed: past the
/// exact limit, a normal approximation with a Berry–Esseen bound.)
pub const MAX_SUPPORT_END: u64 = 1 << 27;

/// Bins of a bracketed sum: past [`MAX_EXACT_SUPPORT`], `Σ_k P(T = k)·g(k)` (with `g`
/// non-decreasing, the other law's CDF at `k`) is bracketed bin by bin between
/// `P(T ∈ bin)·g(first)` and `P(T ∈ bin)·g(last)`, splitting the widest bracket first.
pub const MAX_BRACKET_BINS: usize = 1 << 18;

/// Largest error of a Mann–Whitney estimand past [`MAX_EXACT_SUPPORT`]: a bracketed one is
/// the middle of a bracket at most twice this wide; a normal approximation (two Poisson
/// laws) has a Berry–Esseen bound below it. A pair of laws whose bracket stays wider after
/// [`MAX_BRACKET_BINS`] bins is refused.
pub const MAX_APPROX_ERROR: f64 = 1e-5;

/// The Berry–Esseen constant for sums of independent identically distributed terms
/// (Shevtsova 2011): `sup |F − Φ| ≤ 0.4748·ρ / (σ³·√n)`.
pub const BERRY_ESSEEN: f64 = 0.4748;

/// Why a truth computation stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The budget ran out.
    Exhausted,
    /// Its [`Cancel`] was set.
    Cancelled,
    /// A bracketed estimand could not be brought within [`MAX_APPROX_ERROR`].
    Inexact,
    /// A law's support reaches this far, past [`MAX_SUPPORT_END`].
    Support(u64),
}

/// What is left of the budget, and the flag to check.
#[derive(Debug)]
pub(crate) struct Budget<'a> {
    left: u64,
    cancel: &'a Cancel,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(units: u64, cancel: &'a Cancel) -> Self {
        Self {
            left: units,
            cancel,
        }
    }

    /// A budget of `units` of its own, checking the same flag.
    pub(crate) fn part(&self, units: u64) -> Budget<'a> {
        Budget::new(units, self.cancel)
    }

    /// Takes `units` of work, checking the flag.
    pub(crate) fn charge(&mut self, units: u64) -> Result<(), Stop> {
        if self.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        self.left = self.left.checked_sub(units).ok_or(Stop::Exhausted)?;
        Ok(())
    }
}
