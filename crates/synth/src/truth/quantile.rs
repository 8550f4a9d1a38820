//! The true quantiles of an arm's law: the smallest value `x` with `P(X ≤ x) ≥ p`, found by
//! bisection on the law's exact CDF (a weighted sum of its pieces' CDFs from statrs).
//!
//! Bisection rather than a root-finding crate: the CDF of a mixture with an atom at 0 has a
//! jump, where Brent-type methods converge to the jump's location only by luck, while a
//! bisection keeping `F(lo) < p ≤ F(hi)` finds the smallest such `x` whatever the jumps. On
//! an integer law it runs over the integers, so the quantile is exact; on a continuous law
//! it stops when `hi` and `lo` are adjacent floating-point numbers (or 1e-15 apart,
//! relatively), so the quantile is the root of the computed CDF to that resolution.

use super::budget::{Budget, Stop};
use super::{Law, Piece};

/// Bisection steps at most on a continuous law (each halves the bracket).
const MAX_STEPS: u32 = 2_000;
/// Doublings at most when the bracket's first guess is too narrow.
const MAX_WIDENINGS: u32 = 1_100;

/// The `p`-quantile (`0 < p < 1`) of `law` and whether it sits on an atom (a value of
/// positive probability). `integer`: the law's pieces are integer laws (with an integer
/// offset), so its values are integers.
pub(super) fn quantile(
    law: &Law,
    p: f64,
    integer: bool,
    budget: &mut Budget,
) -> Result<(f64, bool), Stop> {
    let cost = law
        .iter()
        .map(|(_, piece)| match piece {
            Piece::Zero => Some(1),
            Piece::Shifted(d, _) => d.cdf_cost(),
        })
        .sum::<Option<u64>>()
        .ok_or(Stop::Exhausted)?;
    let mut cdf = |x: f64| -> Result<f64, Stop> {
        budget.charge(cost)?;
        Ok(law.iter().map(|(w, piece)| w * piece_cdf(piece, x)).sum())
    };
    if integer {
        integer_quantile(law, p, &mut cdf).map(|q| (q, true))
    } else {
        continuous_quantile(law, p, &mut cdf)
    }
}

/// `P(X ≤ x)` of one piece.
fn piece_cdf(piece: &Piece, x: f64) -> f64 {
    match piece {
        Piece::Zero => f64::from(u8::from(x >= 0.0)),
        Piece::Shifted(d, s) if d.kind().is_integer() => {
            let y = (x - s).floor();
            if y < 0.0 {
                0.0
            } else if y >= u64::MAX as f64 {
                1.0
            } else {
                d.cdf_int(y as u64)
            }
        }
        Piece::Shifted(d, s) => d.cdf(x - s),
    }
}

/// The smallest integer `x` with `F(x) ≥ p`: below every piece's support `F` is 0, and the
/// upper end is widened until `F` reaches `p`.
fn integer_quantile(
    law: &Law,
    p: f64,
    cdf: &mut impl FnMut(f64) -> Result<f64, Stop>,
) -> Result<f64, Stop> {
    let (lowest, guess) = law
        .iter()
        .fold((0.0f64, 0.0f64), |(lo, hi), (_, piece)| match piece {
            Piece::Zero => (lo.min(0.0), hi.max(0.0)),
            Piece::Shifted(d, s) => (lo.min(*s), hi.max(s + d.mean() + 8.0 * d.variance().sqrt())),
        });
    let mut lo = lowest - 1.0;
    let mut hi = widen_up(guess.ceil().max(lowest), 1.0, p, cdf)?;
    while hi - lo > 1.0 {
        let mid = lo + ((hi - lo) / 2.0).floor();
        if cdf(mid)? >= p {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// The smallest `x` with `F(x) ≥ p` on a continuous law, which may have an atom at 0.
fn continuous_quantile(
    law: &Law,
    p: f64,
    cdf: &mut impl FnMut(f64) -> Result<f64, Stop>,
) -> Result<(f64, bool), Stop> {
    let zero: f64 = law
        .iter()
        .filter(|(_, piece)| *piece == Piece::Zero)
        .map(|(w, _)| w)
        .sum();
    if zero > 0.0 {
        // Just below 0 the continuous pieces are where they are at 0; the atom is not.
        let at = cdf(0.0)?;
        if at - zero < p && p <= at {
            return Ok((0.0, true));
        }
    }
    // A first bracket from each piece's mean and sd (widened below until it holds).
    let (lo, hi) = law.iter().fold(
        (f64::INFINITY, f64::NEG_INFINITY),
        |(lo, hi), (_, piece)| {
            let (a, b) = match piece {
                Piece::Zero => (0.0, 0.0),
                Piece::Shifted(d, s) => {
                    let (m, sd) = (d.mean() + s, d.variance().sqrt());
                    (m - 4.0 * sd, m + 4.0 * sd)
                }
            };
            (lo.min(a), hi.max(b))
        },
    );
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(Stop::Inexact);
    }
    let mut hi = widen_up(hi, 1.0, p, cdf)?;
    let mut lo = widen_down(lo, p, cdf)?;
    for _ in 0..MAX_STEPS {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi || hi - lo <= 1e-15 * lo.abs().max(hi.abs()) {
            return Ok((hi, false));
        }
        if cdf(mid)? >= p {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok((hi, false))
}

/// `x`, or a larger value (in steps doubling from `step`) where `F` reaches `p`.
fn widen_up(
    mut x: f64,
    mut step: f64,
    p: f64,
    cdf: &mut impl FnMut(f64) -> Result<f64, Stop>,
) -> Result<f64, Stop> {
    for _ in 0..MAX_WIDENINGS {
        if cdf(x)? >= p {
            return Ok(x);
        }
        step = step.max(x.abs());
        x += step;
        if !x.is_finite() {
            break;
        }
    }
    Err(Stop::Inexact)
}

/// `x`, or a smaller value where `F` is below `p`.
fn widen_down(
    mut x: f64,
    p: f64,
    cdf: &mut impl FnMut(f64) -> Result<f64, Stop>,
) -> Result<f64, Stop> {
    let mut step = 1.0f64;
    for _ in 0..MAX_WIDENINGS {
        if cdf(x)? < p {
            return Ok(x);
        }
        step = step.max(x.abs());
        x -= step;
        if !x.is_finite() {
            break;
        }
    }
    Err(Stop::Inexact)
}
