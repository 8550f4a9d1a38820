//! Cluster-randomised and clustered data: the cluster-robust covariances of
//! [`crate::lin_regression`] (CR1, and CR2 with its Bell–McCaffrey degrees of freedom) and
//! the cluster-level difference of means by the delta method, [`cluster_mean_difference`].
//!
//! # CR2 and its degrees of freedom
//!
//! In the orthonormal coordinates of the thin QR `X S⁻¹ = Q R`, cluster `g`'s block of the
//! hat matrix is `H_gg = Q_g Q_gᵀ`, and Bell & McCaffrey's adjustment is
//! `A_g = (I − H_gg)^{−1/2}`. `H_gg` has rank at most `p`, so `A_g` is applied without ever
//! forming an `n_g × n_g` matrix when `n_g > p`: with `Q_gᵀQ_g = V diag(μ) Vᵀ`,
//!
//! ```text
//! A_g w = w + Q_g V diag(f(μ)) Vᵀ Q_gᵀ w,   f(μ) = ((1 − μ)^{−1/2} − 1) / μ = 1 / (s (1 + s)), s = √(1 − μ)
//! ```
//!
//! (and the `n_g × n_g` eigen-decomposition of `H_gg` itself when `n_g ≤ p`). As in
//! clubSandwich, an eigenvalue `1 − μ` of `I − H_gg` at or below 1e-12 is inverted as 0.
//!
//! For the treatment coefficient `cᵀβ̂ = aᵀQᵀy` (`a = R⁻ᵀ S⁻¹ c`), the CR2 variance is
//! `Σ_g (p_gᵀ e_g)²` with `p_g = A_g Q_g a`. Under the working model `Var y = σ² I` it is a
//! quadratic form in normal errors whose Satterthwaite degrees of freedom are
//! `(tr P)² / ‖P‖²_F` with `P_gh = δ_gh ‖p_g‖² − s_gᵀ s_h`, `s_g = Q_gᵀ p_g` (Bell &
//! McCaffrey 2002; Pustejovsky & Tipton, J. Business & Economic Statistics 36(4), 2018;
//! clubSandwich's `coef_test(test = "Satterthwaite")`). With `T = Σ_g s_g s_gᵀ` the sums
//! need `O(G p²)` work, not `O(G²)`:
//!
//! ```text
//! tr P = Σ_g (‖p_g‖² − ‖s_g‖²),   ‖P‖²_F = Σ_g (‖p_g‖⁴ − 2 ‖p_g‖² ‖s_g‖²) + ‖T‖²_F
//! ```

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::Serialize;

use crate::error::{Error, Group, Result};
use crate::hypothesis::Hypothesis;
use crate::ratio::{RatioSummary, RatioTestResult, ratio_test};
use crate::regression::Fit;

/// The most work CR2 does: `Σ_g min(n_g, p)³` over the clusters, the cost of their
/// eigen-decompositions (2²⁸, a few seconds).
pub const MAX_CR2_WORK: f64 = (1u64 << 28) as f64;

/// An eigenvalue of `I − H_gg` at or below this is inverted as 0 (clubSandwich's
/// `matrix_power` tolerance).
const EIGEN_TOLERANCE: f64 = 1e-12;

/// The most implicit QR steps of one `m × m` symmetric eigen-decomposition, per row. The
/// symmetric tridiagonal QR algorithm usually needs two or three per eigenvalue, so this is
/// not reached in practice; it bounds the loop whatever the input (nalgebra's
/// `SymmetricEigen::new` iterates until convergence).
const EIGEN_STEPS_PER_ROW: usize = 64;

/// The rows of each cluster.
#[derive(Clone, Debug)]
pub(crate) struct ClusterIndex {
    /// Row numbers sorted by cluster id.
    rows: Vec<usize>,
    /// Cluster `g` holds `rows[starts[g]..starts[g + 1]]`.
    starts: Vec<usize>,
}

impl ClusterIndex {
    /// Groups the rows (treatment's `a` first, then control's `b`) by id; each arm must
    /// touch at least two clusters.
    pub(crate) fn new(a: &[u64], b: &[u64]) -> Result<ClusterIndex> {
        for (ids, group) in [(a, Group::Treatment), (b, Group::Control)] {
            let mut sorted = ids.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() < 2 {
                return Err(too_few_clusters(group, sorted.len()));
            }
        }
        let mut keyed: Vec<(u64, usize)> = a.iter().chain(b).copied().zip(0..).collect();
        keyed.sort_unstable();
        let mut starts = vec![0];
        for i in 1..keyed.len() {
            if keyed[i].0 != keyed[i - 1].0 {
                starts.push(i);
            }
        }
        starts.push(keyed.len());
        Ok(ClusterIndex {
            rows: keyed.into_iter().map(|(_, r)| r).collect(),
            starts,
        })
    }

    /// Number of clusters.
    pub(crate) fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// The rows of cluster `g`.
    fn rows(&self, g: usize) -> &[usize] {
        &self.rows[self.starts[g]..self.starts[g + 1]]
    }
}

fn too_few_clusters(group: Group, found: usize) -> Error {
    Error::InvalidInput(format!(
        "the {group} arm lies in {found} cluster(s); cluster-robust errors need at least 2 \
         clusters in each arm"
    ))
}

/// The CR1 meat `G/(G − 1) · (n − 1)/(n − p) · Σ_g u_g u_gᵀ`, `u_g = Q_gᵀ e_g`.
pub(crate) fn cr1_meat(fit: &Fit, ix: &ClusterIndex) -> DMatrix<f64> {
    let (n, p) = (fit.n(), fit.p());
    let g = ix.len();
    // u_g as the rows of a G × p matrix, then Σ u_g u_gᵀ as its Gram matrix.
    let mut u = DMatrix::zeros(g, p);
    for c in 0..g {
        for &i in ix.rows(c) {
            for j in 0..p {
                u[(c, j)] += fit.resid[i] * fit.q[(i, j)];
            }
        }
    }
    let (nf, gf, pf) = (n as f64, g as f64, p as f64);
    let factor = gf / (gf - 1.0) * (nf - 1.0) / (nf - pf);
    u.tr_mul(&u) * factor
}

/// The CR2 meat and the Bell–McCaffrey degrees of freedom of coefficient `contrast`.
pub(crate) fn cr2_meat(
    fit: &Fit,
    ix: &ClusterIndex,
    contrast: usize,
) -> Result<(DMatrix<f64>, f64)> {
    let p = fit.p();
    let work: f64 = (0..ix.len())
        .map(|g| (ix.rows(g).len().min(p) as f64).powi(3))
        .sum();
    if work > MAX_CR2_WORK {
        return Err(Error::InvalidInput(format!(
            "CR2 needs {work:.2e} units of work (Σ min(cluster size, columns)³), beyond the \
             limit of 2^28 (MAX_CR2_WORK); use cr1"
        )));
    }
    let mut a = DVector::zeros(p);
    a[contrast] = 1.0 / fit.scale[contrast];
    fit.r.tr_solve_upper_triangular_unchecked_mut(&mut a); // R's diagonal is nonzero
    let mut meat = DMatrix::zeros(p, p);
    let mut t = DMatrix::zeros(p, p);
    let (mut trace, mut sq) = (0.0, 0.0);
    for g in 0..ix.len() {
        let block = Block::new(fit, ix.rows(g), g)?;
        let e = fit.resid.select_rows(ix.rows(g));
        let u = block.q.tr_mul(&block.adjust(&e));
        let pg = block.adjust(&(&block.q * &a));
        let s = block.q.tr_mul(&pg);
        let (pp, ss) = (pg.norm_squared(), s.norm_squared());
        trace += pp - ss;
        sq += pp * pp - 2.0 * pp * ss;
        meat.ger(1.0, &u, &u, 1.0);
        t.ger(1.0, &s, &s, 1.0);
    }
    sq += t.norm_squared();
    let df = trace * trace / sq;
    if !(df.is_finite() && df > 0.0) {
        return Err(Error::InvalidInput(format!(
            "the Bell–McCaffrey degrees of freedom are undefined (trace {trace:e}, sum of \
             squares {sq:e}): the clusters carry no information on the treatment effect"
        )));
    }
    Ok((meat, df))
}

/// One cluster's rows of `Q` and its adjustment `A_g = (I − Q_g Q_gᵀ)^{−1/2}`.
struct Block {
    /// `Q_g`, `m × p`.
    q: DMatrix<f64>,
    /// The adjustment.
    adjust: Adjust,
}

enum Adjust {
    /// `m ≤ p`: `A_g` itself, `m × m`.
    Full(DMatrix<f64>),
    /// `m > p`: `W = Q_g V` (`m × p`) and `f(μ)`, so `A_g w = w + W diag(f) Wᵀ w`.
    LowRank(DMatrix<f64>, DVector<f64>),
}

impl Block {
    /// Cluster `g`, made of `rows`.
    fn new(fit: &Fit, rows: &[usize], g: usize) -> Result<Block> {
        let q = fit.q.select_rows(rows);
        let adjust = if rows.len() <= fit.p() {
            // H_gg = Q_g Q_gᵀ (m × m), A_g = U diag((1 − μ)^{−1/2}) Uᵀ.
            let eig = symmetric_eigen(&q * q.transpose(), g)?;
            let u = &eig.eigenvectors;
            let d = eig.eigenvalues.map(|mu| inv_sqrt(1.0 - mu));
            let mut ud = u.clone();
            ud.column_iter_mut()
                .zip(d.iter())
                .for_each(|(mut c, dk)| c *= *dk);
            Adjust::Full(ud * u.transpose())
        } else {
            // Q_gᵀ Q_g = V diag(μ) Vᵀ (p × p), W = Q_g V.
            let eig = symmetric_eigen(q.tr_mul(&q), g)?;
            let w = &q * &eig.eigenvectors;
            Adjust::LowRank(w, eig.eigenvalues.map(low_rank_factor))
        };
        Ok(Block { q, adjust })
    }

    /// `A_g w`.
    fn adjust(&self, w: &DVector<f64>) -> DVector<f64> {
        match &self.adjust {
            Adjust::Full(a) => a * w,
            Adjust::LowRank(wm, f) => {
                let k = wm.tr_mul(w).component_mul(f);
                let mut out = w.clone();
                out.gemv(1.0, wm, &k, 1.0);
                out
            }
        }
    }
}

/// The eigen-decomposition of cluster `g`'s symmetric `H_gg` or `Q_gᵀ Q_g`, its steps
/// bounded.
fn symmetric_eigen(m: DMatrix<f64>, g: usize) -> Result<SymmetricEigen<f64, nalgebra::Dyn>> {
    let steps = EIGEN_STEPS_PER_ROW * m.nrows().max(1);
    SymmetricEigen::try_new(m, f64::EPSILON, steps).ok_or_else(|| {
        Error::InvalidInput(format!(
            "the eigen-decomposition of cluster {g}'s block of the hat matrix did not converge \
             in {steps} steps"
        ))
    })
}

/// `x^{−1/2}`, or 0 at or below the tolerance.
fn inv_sqrt(x: f64) -> f64 {
    if x > EIGEN_TOLERANCE {
        1.0 / x.sqrt()
    } else {
        0.0
    }
}

/// `f(μ) = ((1 − μ)^{−1/2} − 1) / μ` without cancellation near `μ = 0`.
fn low_rank_factor(mu: f64) -> f64 {
    let lambda = 1.0 - mu;
    if lambda > EIGEN_TOLERANCE {
        let s = lambda.sqrt();
        1.0 / (s * (1.0 + s))
    } else {
        -1.0 / mu
    }
}

/// The result of [`cluster_mean_difference`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ClusterMeanResult {
    /// Clusters in the treatment arm.
    pub clusters_treatment: u64,
    /// Clusters in the control arm.
    pub clusters_control: u64,
    /// The delta-method z test of the difference of per-observation means, each mean the
    /// ratio `Σ y / Σ 1` of cluster totals (`ratio_treatment`, `ratio_control`).
    pub test: RatioTestResult,
}

/// The difference of per-observation means of a cluster-randomised experiment, treatment −
/// control, with the delta-method standard error of each mean as a ratio of cluster totals
/// (the usual A/B-platform analysis, Deng, Knoblich & Lu, KDD 2018):
///
/// ```text
/// ȳ_a = Σ_g Y_g / Σ_g N_g   over the clusters g of arm a (Y_g the total, N_g the size)
/// Var ȳ_a = Σ_g (Y_g − ȳ_a N_g)² / (N̄_a² G_a (G_a − 1))
/// ```
///
/// computed by [`ratio_test`] on the clusters' [`RatioSummary`] (`x` = total, `y` = size).
/// This is the CR0 variance of the arm's mean times `G_a / (G_a − 1)`, so it equals the
/// difference-of-means regression's cluster-robust variance with that per-arm correction
/// (statsmodels' CR1 instead multiplies the sum by `G/(G − 1) · (n − 1)/(n − 2)`). The
/// reference law is the normal.
///
/// ```
/// use abforge_stats::{Hypothesis, cluster_mean_difference};
///
/// let (t, tc) = ([3.0, 4.0, 5.0, 8.0, 7.0], [1, 1, 2, 2, 2]);
/// let (c, cc) = ([2.0, 1.0, 4.0, 3.0], [7, 8, 8, 9]);
/// let r = cluster_mean_difference(&t, &tc, &c, &cc, &Hypothesis::default())?;
/// assert_eq!((r.clusters_treatment, r.clusters_control), (2, 3));
/// assert!((r.test.estimate - (5.4 - 2.5)).abs() < 1e-12);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`] when values and ids differ in length, [`Error::NonFinite`],
/// [`Error::InvalidInput`] when an arm has fewer than 2 clusters or a cluster id is in both
/// arms, and the errors of [`ratio_test`].
pub fn cluster_mean_difference(
    treatment: &[f64],
    treatment_clusters: &[u64],
    control: &[f64],
    control_clusters: &[u64],
    h: &Hypothesis,
) -> Result<ClusterMeanResult> {
    let t = cluster_totals(treatment, treatment_clusters, Group::Treatment)?;
    let c = cluster_totals(control, control_clusters, Group::Control)?;
    if let Some(id) = shared_id(&t, &c) {
        return Err(Error::InvalidInput(format!(
            "cluster {id} has observations in both arms; the cluster-level comparison needs \
             each cluster in one arm (use lin_regression with cr1 or cr2 instead)"
        )));
    }
    let summarise = |totals: &[(u64, f64, f64)]| {
        let mut s = RatioSummary::default();
        totals.iter().for_each(|&(_, y, n)| s.push(y, n));
        s
    };
    let test = ratio_test(&summarise(&t), &summarise(&c), h)?;
    Ok(ClusterMeanResult {
        clusters_treatment: t.len() as u64,
        clusters_control: c.len() as u64,
        test,
    })
}

/// `(id, total, size)` of each cluster of one arm, sorted by id.
fn cluster_totals(y: &[f64], ids: &[u64], group: Group) -> Result<Vec<(u64, f64, f64)>> {
    if y.len() != ids.len() {
        return Err(Error::LengthMismatch {
            what: "values and cluster ids",
            left: y.len(),
            right: ids.len(),
        });
    }
    if let Some(index) = y.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { group, index });
    }
    let mut pairs: Vec<(u64, f64)> = ids.iter().copied().zip(y.iter().copied()).collect();
    pairs.sort_unstable_by_key(|&(id, _)| id);
    let mut out: Vec<(u64, f64, f64)> = Vec::new();
    for (id, v) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == id => {
                last.1 += v;
                last.2 += 1.0;
            }
            _ => out.push((id, v, 1.0)),
        }
    }
    if out.len() < 2 {
        return Err(too_few_clusters(group, out.len()));
    }
    Ok(out)
}

/// A cluster id present in both sorted lists.
fn shared_id(a: &[(u64, f64, f64)], b: &[(u64, f64, f64)]) -> Option<u64> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return Some(a[i].0),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_rank_factor_is_smooth_at_zero() {
        assert!((low_rank_factor(0.0) - 0.5).abs() < 1e-16);
        let mu: f64 = 1e-9;
        let direct = ((1.0 - mu).powf(-0.5) - 1.0) / mu;
        assert!((low_rank_factor(mu) - direct).abs() < 1e-6);
        assert!((low_rank_factor(0.75) - 1.0 / 0.75).abs() < 1e-15); // (2 − 1) / 0.75
        assert_eq!(low_rank_factor(1.0), -1.0);
    }

    #[test]
    fn cluster_totals_and_refusals() {
        let t = cluster_totals(&[1.0, 2.0, 3.0], &[5, 2, 5], Group::Treatment).unwrap();
        assert_eq!(t, vec![(2, 2.0, 1.0), (5, 4.0, 2.0)]);
        assert!(cluster_totals(&[1.0, 2.0], &[4, 4], Group::Control).is_err());
        let h = Hypothesis::default();
        let e = cluster_mean_difference(&[1.0, 2.0], &[1, 2], &[3.0, 1.0], &[2, 3], &h);
        assert!(e.unwrap_err().to_string().contains("cluster 2"));
    }
}
