//! `Σ_k P(T = k)·g(k)` over a long integer support, with a certified error.

use super::budget::{Budget, MAX_APPROX_ERROR, MAX_BRACKET_BINS, Stop};
use crate::dist::Dist;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The integers `a..=b`, with `P(T < a)`, `P(T ≤ b)`, `g(a)` and `g(b)`.
#[derive(Debug, Clone, Copy)]
struct Bin {
    a: u64,
    b: u64,
    below: f64,
    upto: f64,
    ga: f64,
    gb: f64,
}

impl Bin {
    /// How far apart the bounds of the bin's share of the sum are.
    fn width(&self) -> f64 {
        (self.upto - self.below).max(0.0) * (self.gb - self.ga).max(0.0)
    }
}

impl PartialEq for Bin {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bin {}
impl PartialOrd for Bin {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bin {
    fn cmp(&self, other: &Self) -> Ordering {
        self.width()
            .total_cmp(&other.width())
            .then(other.a.cmp(&self.a))
    }
}

/// `Σ_k P(T = k)·g(k)` for an integer law `t` whose support lies in `0..=hi` (up to
/// `1 − P(T ≤ hi)`), and a non-decreasing `g` with values in `[0, 1]`.
///
/// On a bin of integers `a..=b` the sum lies between `P(a ≤ T ≤ b)·g(a)` and
/// `P(a ≤ T ≤ b)·g(b)`, both exact (two CDF values of `t`, two of `g`). Starting from one bin
/// over the whole support, the bin with the widest bracket is halved until the brackets
/// add up to at most `2·MAX_APPROX_ERROR` (or bins of one integer, which are exact); the
/// middle of the total bracket is returned. [`Stop::Inexact`] after
/// [`MAX_BRACKET_BINS`] bins, with the brackets still wider.
pub(super) fn bracketed(
    t: &Dist,
    g: &dyn Fn(u64) -> f64,
    hi: u64,
    budget: &mut Budget,
) -> Result<f64, Stop> {
    budget.charge(4)?;
    let whole = Bin {
        a: 0,
        b: hi,
        below: 0.0,
        upto: t.cdf_int(hi),
        ga: g(0),
        gb: g(hi),
    };
    // Beyond `hi`: P(T > hi), with g between g(hi) and 1.
    let tail = (1.0 - whole.upto).max(0.0);
    let mut total = whole.width() + tail * (1.0 - whole.gb);
    let mut heap = BinaryHeap::from([whole]);
    let mut bins = 1;
    while total > 2.0 * MAX_APPROX_ERROR {
        if bins >= MAX_BRACKET_BINS {
            return Err(Stop::Inexact);
        }
        let Some(bin) = heap.pop() else { break };
        if bin.a == bin.b || bin.width() == 0.0 {
            heap.push(bin);
            break;
        }
        budget.charge(3)?;
        let m = bin.a + (bin.b - bin.a) / 2;
        let at = t.cdf_int(m);
        let (left, right) = (
            Bin {
                b: m,
                upto: at,
                gb: g(m),
                ..bin
            },
            Bin {
                a: m + 1,
                below: at,
                ga: g(m + 1),
                ..bin
            },
        );
        total += left.width() + right.width() - bin.width();
        heap.push(left);
        heap.push(right);
        bins += 1;
    }
    // Summed afresh (the running total drifts), as the middle of each bracket.
    let (mut sum, mut width) = (tail * (whole.gb + 1.0) / 2.0, tail * (1.0 - whole.gb));
    for bin in &heap {
        sum += (bin.upto - bin.below).max(0.0) * (bin.ga + bin.gb) / 2.0;
        width += bin.width();
    }
    if width > 2.0 * MAX_APPROX_ERROR {
        return Err(Stop::Inexact);
    }
    Ok(sum)
}
