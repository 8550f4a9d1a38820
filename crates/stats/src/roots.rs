//! Root finding: Brent's method on a bracket, and bracket expansion for monotone functions.
//!
//! Brent's method (R. P. Brent, *Algorithms for Minimization without Derivatives*, 1973,
//! ch. 4; the same algorithm as scipy's `brentq` and Numerical Recipes' `zbrent`) combines
//! bisection, secant and inverse quadratic interpolation; it keeps a sign-changing bracket,
//! so it always converges, and superlinearly for smooth functions.

use crate::error::{Error, Result};

/// Finds `x` in `[a, b]` with `f(x) = 0`, given `f(a)` and `f(b)` of opposite signs (or one
/// of them zero). Stops when the bracket is narrower than `2·(xtol + 4ε|x|)`.
pub(crate) fn brent(
    mut f: impl FnMut(f64) -> f64,
    mut a: f64,
    mut b: f64,
    xtol: f64,
    max_iter: usize,
) -> Result<f64> {
    let mut fa = f(a);
    let mut fb = f(b);
    if fa == 0.0 {
        return Ok(a);
    }
    if fb == 0.0 {
        return Ok(b);
    }
    if fa.is_nan() || fb.is_nan() || fa.signum() == fb.signum() {
        return Err(Error::NoSolution(format!(
            "the root is not bracketed by [{a}, {b}] (f = {fa}, {fb})"
        )));
    }
    let mut c = a;
    let mut fc = fa;
    let mut d = b - a;
    let mut e = d;
    for _ in 0..max_iter {
        if fb.signum() == fc.signum() {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * xtol;
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb == 0.0 {
            return Ok(b);
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            // Interpolate: secant when only two points are distinct, else inverse quadratic.
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                p = 2.0 * m * s;
                q = 1.0 - s;
            } else {
                let qa = fa / fc;
                let r = fb / fc;
                p = s * (2.0 * m * qa * (qa - r) - (b - a) * (r - 1.0));
                q = (qa - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if 2.0 * p < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = m;
            }
        } else {
            d = m;
            e = m;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol { d } else { tol.copysign(m) };
        fb = f(b);
        if fb.is_nan() {
            return Err(Error::NoSolution(format!("the function is NaN at {b}")));
        }
    }
    Err(Error::NoSolution(format!(
        "Brent's method did not converge in {max_iter} iterations"
    )))
}

/// For `f` increasing in `x` on `[low, ∞)`, finds the root, expanding the upper end of the
/// bracket from `start_upp` by factors of 10 (like statsmodels' `brentq_expanding`).
pub(crate) fn solve_increasing(
    mut f: impl FnMut(f64) -> f64,
    low: f64,
    start_upp: f64,
    limit: f64,
    xtol_rel: f64,
) -> Result<f64> {
    let f_low = f(low);
    if f_low > 0.0 {
        return Err(Error::NoSolution(format!(
            "the target is already exceeded at the lower bound {low}"
        )));
    }
    let mut lo = low;
    let mut hi = start_upp.max(low * 2.0);
    loop {
        let fh = f(hi);
        if fh >= 0.0 {
            break;
        }
        if fh.is_nan() || hi >= limit {
            return Err(Error::NoSolution(format!(
                "the target is not reached below {limit}"
            )));
        }
        lo = hi;
        hi *= 10.0;
    }
    brent(f, lo, hi, xtol_rel * lo.abs().max(1e-300), 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_simple_roots() {
        let r = brent(|x| x * x - 2.0, 0.0, 2.0, 1e-15, 100).unwrap();
        assert!((r - 2f64.sqrt()).abs() < 1e-14);
        let r = brent(|x| x.cos() - x, 0.0, 1.0, 1e-15, 100).unwrap();
        assert!((r - 0.7390851332151607).abs() < 1e-14);
        // Steep, nearly discontinuous function still converges.
        let r = brent(|x| (x - 1.0).powi(3) * 1e6, -5.0, 10.0, 1e-12, 400).unwrap();
        assert!((r - 1.0).abs() < 1e-4);
    }

    #[test]
    fn rejects_an_unbracketed_root() {
        assert!(matches!(
            brent(|x| x * x + 1.0, -1.0, 1.0, 1e-12, 50),
            Err(Error::NoSolution(_))
        ));
    }

    #[test]
    fn expands_the_bracket() {
        let r = solve_increasing(|x| x.ln() - 10.0, 2.0, 50.0, 1e15, 1e-14).unwrap();
        assert!((r - 10f64.exp()).abs() / r < 1e-12);
        assert!(solve_increasing(|x| x - 1.0, 2.0, 50.0, 1e15, 1e-12).is_err());
        assert!(solve_increasing(|_| -1.0, 2.0, 50.0, 1e6, 1e-12).is_err());
    }
}
