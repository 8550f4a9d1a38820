//! The Gaussian copula of correlated metrics: the correlation matrix of the blueprint's
//! `correlations`, its Cholesky factor, and each row's uniforms for the metrics it joins.
//!
//! Row `i` draws one standard normal per joined metric (each metric from its own stream,
//! `copula:<metric>`, so the draws do not depend on the thread or shard), multiplies them by
//! the lower Cholesky factor `L` (so that they have the blueprint's correlations) and maps
//! each through Φ: a uniform, which the metric turns into its value by its law's inverse CDF.
//! Each metric keeps its law exactly; their normal scores have the correlations asked for.
//!
//! The factorisation is written here (a dozen lines) rather than taken from nalgebra: the
//! matrices are at most a few dozen metrics wide, and `synth` stays free of a linear-algebra
//! dependency.

use crate::blueprint::{Blueprint, Correlation};
use crate::rng::column_rng;
use rand_distr::{Distribution, StandardNormal};

/// The metrics `cs` involve (as positions in `names`, in that order) and their correlation
/// matrix (1 on the diagonal, 0 for a pair not listed).
pub(crate) fn matrix(cs: &[Correlation], names: &[&str]) -> (Vec<usize>, Vec<Vec<f64>>) {
    let mut joined: Vec<usize> = cs
        .iter()
        .flat_map(|c| c.metrics.iter())
        .filter_map(|m| names.iter().position(|n| n == m))
        .collect();
    joined.sort_unstable();
    joined.dedup();
    let k = joined.len();
    let mut a = vec![vec![0.0; k]; k];
    for (i, row) in a.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let at = |m: &str| {
        let n = names.iter().position(|x| *x == m)?;
        joined.iter().position(|j| *j == n)
    };
    for c in cs {
        if let (Some(i), Some(j)) = (at(&c.metrics[0]), at(&c.metrics[1])) {
            a[i][j] = c.rho;
            a[j][i] = c.rho;
        }
    }
    (joined, a)
}

/// The lower-triangular `L` with `L·Lᵀ = a`, or `None` when `a` is not positive definite
/// (a pivot below 1e-10).
pub(crate) fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = a.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|m| l[i][m] * l[j][m]).sum();
            if i == j {
                let pivot = a[i][i] - dot;
                if pivot.is_nan() || pivot < 1e-10 {
                    return None;
                }
                l[i][i] = pivot.sqrt();
            } else {
                l[i][j] = (a[i][j] - dot) / l[j][j];
            }
        }
    }
    Some(l)
}

/// The copula of a blueprint's correlated metrics.
#[derive(Debug, Clone)]
pub(crate) struct Copula {
    /// The joined metrics, as positions in the blueprint's metrics.
    pub metrics: Vec<usize>,
    /// Their names (each draws from the stream `copula:<name>`).
    names: Vec<String>,
    /// The lower Cholesky factor of their correlation matrix.
    lower: Vec<Vec<f64>>,
}

impl Copula {
    /// The copula of `bp`, if it has correlations (validated positive definite).
    pub(crate) fn new(bp: &Blueprint) -> Option<Copula> {
        if bp.correlations.is_empty() {
            return None;
        }
        let names: Vec<&str> = bp.metrics.iter().map(|m| m.name.as_str()).collect();
        let (metrics, a) = matrix(&bp.correlations, &names);
        let lower = cholesky(&a)?;
        Some(Copula {
            names: metrics.iter().map(|&i| names[i].to_string()).collect(),
            metrics,
            lower,
        })
    }

    /// Per joined metric (in [`Copula::metrics`] order), the uniform of each of the `len`
    /// rows of chunk `index`.
    pub(crate) fn uniforms(&self, seed: u64, index: u64, len: usize) -> Vec<Vec<f64>> {
        let normals: Vec<Vec<f64>> = self
            .names
            .iter()
            .map(|n| {
                let mut r = column_rng(seed, index, &format!("copula:{n}"));
                (0..len).map(|_| StandardNormal.sample(&mut r)).collect()
            })
            .collect();
        self.lower
            .iter()
            .map(|row| {
                (0..len)
                    .map(|i| {
                        let z: f64 = row.iter().zip(&normals).map(|(l, e)| l * e[i]).sum();
                        phi(z)
                    })
                    .collect()
            })
            .collect()
    }
}

/// The standard normal CDF.
pub(crate) fn phi(z: f64) -> f64 {
    0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reproduces_the_matrix_and_refuses_what_is_not_one() {
        let a = vec![
            vec![1.0, 0.5, -0.3],
            vec![0.5, 1.0, 0.2],
            vec![-0.3, 0.2, 1.0],
        ];
        let l = cholesky(&a).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let back: f64 = (0..3).map(|m| l[i][m] * l[j][m]).sum();
                assert!((back - a[i][j]).abs() < 1e-12, "{i},{j}");
            }
        }
        // a ~ b and b ~ c strongly, a against c: no such three variables exist.
        let bad = vec![
            vec![1.0, 0.9, -0.9],
            vec![0.9, 1.0, 0.9],
            vec![-0.9, 0.9, 1.0],
        ];
        assert!(cholesky(&bad).is_none());
    }

    #[test]
    fn phi_is_the_normal_cdf() {
        assert_eq!(phi(0.0), 0.5);
        // statrs' erfc is within about 1e-12 here: ample for turning normals into uniforms.
        let p = phi(1.959_963_984_540_054);
        assert!((p - 0.975).abs() < 1e-11, "{p}");
        assert!((phi(-1.3) + phi(1.3) - 1.0).abs() < 1e-15);
        assert!(phi(-40.0) >= 0.0 && phi(40.0) <= 1.0);
    }
}
