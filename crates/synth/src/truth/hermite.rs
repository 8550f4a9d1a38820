//! The covariance of two customers of one cluster, from the Hermite expansion of a law's
//! transform of a normal score.
//!
//! A metric with a cluster ICC `ρ` turns the normal score `Z = √ρ·B + √(1−ρ)·E` (`B`
//! shared by the cluster) into its value `g(Z)`: a structural zero below `Φ⁻¹(π)` (`π` the
//! zero-inflation), else the law's inverse CDF at `(Φ(Z) − π)/(1 − π)` plus the offset.
//! Two customers of one cluster have normal scores of correlation `ρ`, and Mehler's formula
//! gives `Cov(g₁(Z₁), g₂(Z₂)) = Σₖ ρᵏ·a₁ₖ·a₂ₖ` over `k ≥ 1`, where `aₖ = E[g(Z)·hₖ(Z)]` for the
//! orthonormal Hermite polynomials `hₖ = Heₖ/√k!`. A customer's law mixes components (the
//! segment cells, the days) drawn independently of the scores, so the mixture's
//! covariance is `Σₖ ρᵏ·Aₖ²` with `Aₖ` the components' `aₖ` averaged with their weights.
//!
//! The coefficients are exact sums for integer laws (a step of `g` at `t` adds
//! `Δ·φ(t)·hₖ₋₁(t)/√k`), closed forms for the normal and lognormal, and otherwise the
//! trapezoid rule in the law's own normal score `w` (where `g` is smooth), whose error is
//! estimated by halving the step. The series stops after [`TERMS`] terms: the rest is below
//! `ρ^(TERMS+1)` times the mixture's mean variance (Parseval), at most 2.7·10⁻²⁰ of it for
//! `ρ ≤ 0.5`.

use super::budget::{Budget, Stop};
use crate::dist::Dist;
use statrs::function::erf::{erfc, erfc_inv};

/// Terms of the Hermite series kept.
pub(crate) const TERMS: usize = 64;
/// Step of the trapezoid rule in the law's normal score.
const STEP: f64 = 1.0 / 32.0;
/// Half-width of the trapezoid rule's range (beyond it, φ < 10⁻⁴²).
const REACH: f64 = 14.0;
/// Normal scores past which a gamma's inverse CDF is not evaluated (`Φ` rounds to 1).
const GAMMA_REACH: f64 = 8.2;

/// `aₖ` for `k = 1..=TERMS` of one component, and an estimate of their error.
#[derive(Debug, Clone)]
pub(crate) struct Coefficients {
    pub a: Vec<f64>,
    pub error: f64,
}

fn phi_density(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// `Φ(z)`.
fn big_phi(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// `Φ⁻¹(p)` for `p` in `(0, 1)`.
fn big_phi_inv(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// `h₀(t), …, h_{n−1}(t)`, the orthonormal Hermite polynomials, by their recurrence.
fn hermite(t: f64, n: usize) -> Vec<f64> {
    let mut h = Vec::with_capacity(n);
    h.push(1.0);
    if n > 1 {
        h.push(t);
    }
    for k in 2..n {
        let next = (t * h[k - 1] - ((k - 1) as f64).sqrt() * h[k - 2]) / (k as f64).sqrt();
        h.push(next);
    }
    h
}

/// Adds to `a` the coefficients of a step of height `jump` at `t`.
fn add_step(a: &mut [f64], t: f64, jump: f64) {
    if !t.is_finite() || jump == 0.0 {
        return;
    }
    let h = hermite(t, a.len());
    let f = jump * phi_density(t);
    for (k, ak) in a.iter_mut().enumerate() {
        *ak += f * h[k] / ((k + 1) as f64).sqrt();
    }
}

/// The coefficients of `g` for the law `d` with zero-inflation `zi` and offset `offset`.
pub(crate) fn coefficients(
    d: &Dist,
    zi: f64,
    offset: f64,
    budget: &mut Budget,
) -> Result<Coefficients, Stop> {
    let mut a = vec![0.0; TERMS];
    // The step of the offset at the zero-inflation's edge (the law's own values start
    // there: at 0 for every family but the normal, whose start at −∞ the quadrature takes).
    if zi > 0.0 {
        add_step(&mut a, big_phi_inv(zi), offset);
    }
    let error = match *d {
        Dist::Poisson { .. } | Dist::NegativeBinomial { .. } | Dist::Bernoulli { .. } => {
            integer_steps(&mut a, d, zi, budget)?;
            0.0
        }
        Dist::Normal { sd, .. } if zi == 0.0 => {
            a[0] = sd;
            0.0
        }
        Dist::Lognormal { mu, sigma } if zi == 0.0 => {
            let mut term = (mu + sigma * sigma / 2.0).exp();
            for (k, ak) in a.iter_mut().enumerate() {
                term *= sigma / ((k + 1) as f64).sqrt();
                *ak = term;
            }
            0.0
        }
        _ => continuous(&mut a, d, zi, budget)?,
    };
    Ok(Coefficients { a, error })
}

/// The steps of an integer law's `g`: one of height 1 between each support value and the
/// next, at the normal score where the law's CDF (after the zero-inflation) is crossed.
fn integer_steps(a: &mut [f64], d: &Dist, zi: f64, budget: &mut Budget) -> Result<(), Stop> {
    let cost = d.cdf_cost().ok_or(Stop::Exhausted)?;
    let mut j = 0u64;
    loop {
        budget.charge(cost + TERMS as u64 / 8)?;
        let f = d.cdf_int(j);
        // The upper tail from its own side, so that the score is accurate where f ≈ 1.
        let tail = (1.0 - zi) * (1.0 - f);
        if tail <= 1e-300 || f >= 1.0 - 1e-16 {
            return Ok(());
        }
        add_step(a, -big_phi_inv(tail), 1.0);
        j += 1;
    }
}

/// The coefficients of a continuous law's part above the zero-inflation's edge,
/// `(1 − π)·∫ G(Φ(w))·hₖ(z(w))·φ(w) dw` with `z(w) = −Φ⁻¹((1 − π)·Φ(−w))`, by the
/// trapezoid rule; returns the estimated error (step `h` against `2h`).
fn continuous(a: &mut [f64], d: &Dist, zi: f64, budget: &mut Budget) -> Result<f64, Stop> {
    let value = |w: f64| match *d {
        Dist::Normal { mean, sd } => mean + sd * w,
        Dist::Lognormal { mu, sigma } => (mu + sigma * w).exp(),
        _ => d.quantile(big_phi(w)),
    };
    let (lo, hi) = match *d {
        Dist::Lognormal { sigma, .. } => (-REACH, REACH + sigma),
        Dist::Gamma { .. } => (-REACH, GAMMA_REACH),
        _ => (-REACH, REACH),
    };
    let n = ((hi - lo) / STEP).ceil() as usize;
    let cost = d.cdf_cost().unwrap_or(1) * 4;
    let (mut fine, mut coarse) = (vec![0.0; a.len()], vec![0.0; a.len()]);
    for i in 0..=n {
        budget.charge(cost)?;
        let w = lo + i as f64 * STEP;
        let z = if zi == 0.0 {
            w
        } else {
            -big_phi_inv((1.0 - zi) * big_phi(-w))
        };
        let edge = if i == 0 || i == n { 0.5 } else { 1.0 };
        let f = (1.0 - zi) * value(w) * phi_density(w) * edge * STEP;
        if f == 0.0 || !f.is_finite() {
            continue;
        }
        let h = hermite(z, a.len() + 1);
        for k in 0..a.len() {
            fine[k] += f * h[k + 1];
            if i % 2 == 0 {
                coarse[k] += 2.0 * f * h[k + 1];
            }
        }
    }
    let mut error: f64 = 0.0;
    for k in 0..a.len() {
        a[k] += fine[k];
        error = error.max((fine[k] - coarse[k]).abs());
    }
    Ok(error)
}

/// The covariance of two customers of one cluster whose scores have correlation `rho`, from
/// the weighted components' coefficients; and a bound on its error: the series' rest
/// (`rho^(TERMS+1)` times `spread`, the components' weighted variance) and the propagated
/// error of the coefficients.
pub(crate) fn cluster_covariance(
    components: &[(f64, Coefficients)],
    rho: f64,
    spread: f64,
) -> (f64, f64) {
    let mut cov = 0.0;
    let mut error = rho.powi(TERMS as i32 + 1) * spread;
    let mut rk = 1.0;
    for k in 0..TERMS {
        rk *= rho;
        let ak: f64 = components.iter().map(|(w, c)| w * c.a[k]).sum();
        let ek: f64 = components.iter().map(|(w, c)| w * c.error).sum();
        cov += rk * ak * ak;
        error += rk * (2.0 * ak.abs() * ek + ek * ek);
    }
    (cov, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cancel;

    fn coef(d: Dist, zi: f64, offset: f64) -> Coefficients {
        let cancel = Cancel::new();
        let mut b = Budget::new(1 << 30, &cancel);
        coefficients(&d, zi, offset, &mut b).unwrap()
    }

    /// Parseval: the squared coefficients add up to the variance of `g(Z)`.
    fn parseval(c: &Coefficients) -> f64 {
        c.a.iter().map(|x| x * x).sum()
    }

    #[test]
    fn lognormal_matches_its_closed_form_icc() {
        // Cov of exp(σZ₁), exp(σZ₂) with corr ρ: e^{2μ+σ²}(e^{ρσ²} − 1).
        let (mu, sigma, rho) = (0.3_f64, 0.9_f64, 0.2_f64);
        let c = coef(Dist::Lognormal { mu, sigma }, 0.0, 0.0);
        let (cov, err) = cluster_covariance(&[(1.0, c)], rho, 1.0);
        let exact = (2.0 * mu + sigma * sigma).exp() * ((rho * sigma * sigma).exp() - 1.0);
        assert!((cov - exact).abs() < 1e-12 * exact, "{cov} vs {exact}");
        assert!(err < 1e-15);
    }

    #[test]
    fn the_quadrature_agrees_with_closed_forms() {
        let cancel = Cancel::new();
        let mut b = Budget::new(1 << 30, &cancel);
        let d = Dist::Lognormal {
            mu: 0.2,
            sigma: 0.7,
        };
        let exact = coef(d, 0.0, 0.0);
        let mut quad = vec![0.0; TERMS];
        let error = continuous(&mut quad, &d, 0.0, &mut b).unwrap();
        for (k, (a, q)) in exact.a.iter().zip(&quad).enumerate() {
            assert!((a - q).abs() < 1e-12, "k = {k}");
        }
        assert!(error < 1e-12, "{error}");
        // A gamma of shape 1 is an exponential: Parseval gives its variance, scale² (the
        // series of a smooth transform converges fast).
        let g = coef(
            Dist::Gamma {
                shape: 1.0,
                scale: 2.0,
            },
            0.0,
            0.0,
        );
        assert!((parseval(&g) - 4.0).abs() < 1e-6, "{}", parseval(&g));
    }

    #[test]
    fn integer_laws_sum_their_steps() {
        // Bernoulli(½) is 1{Z > 0}: Cov = P(Z₁ > 0, Z₂ > 0) − ¼ = asin(ρ)/(2π) (Sheppard).
        let c = coef(Dist::Bernoulli { p: 0.5 }, 0.0, 0.0);
        assert!((c.a[0] - phi_density(0.0)).abs() < 1e-15);
        for rho in [0.05, 0.3, 0.5] {
            let (cov, err) = cluster_covariance(&[(1.0, c.clone())], rho, 0.25);
            let exact = rho.asin() / (2.0 * std::f64::consts::PI);
            assert!(
                (cov - exact).abs() < 1e-15 + err,
                "ρ = {rho}: {cov} vs {exact}"
            );
        }
        // A step series converges slowly, but from below: Poisson(4) and a zero-inflated,
        // offset Poisson have partial sums under their variance and close to it.
        let c = coef(Dist::Poisson { lambda: 4.0 }, 0.0, 0.0);
        assert!(
            parseval(&c) <= 4.0 && parseval(&c) > 3.9,
            "{}",
            parseval(&c)
        );
        let (zi, off, lambda) = (0.4, 2.0, 3.0);
        let c = coef(Dist::Poisson { lambda }, zi, off);
        let mean = (1.0 - zi) * (lambda + off);
        let var = (1.0 - zi) * (lambda + (lambda + off) * (lambda + off)) - mean * mean;
        assert!(
            parseval(&c) <= var && parseval(&c) > 0.97 * var,
            "{} {var}",
            parseval(&c)
        );
    }

    #[test]
    fn a_normal_keeps_its_correlation() {
        let c = coef(Dist::Normal { mean: 5.0, sd: 2.0 }, 0.0, 0.0);
        let (cov, _) = cluster_covariance(&[(1.0, c)], 0.3, 4.0);
        assert!((cov - 0.3 * 4.0).abs() < 1e-15);
    }
}
