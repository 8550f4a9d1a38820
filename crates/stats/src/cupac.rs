//! CUPAC: CUPED on a prediction of the metric from pre-period features (Tang et al.,
//! DoorDash 2020), the prediction cross-fitted so that no customer's own outcome enters its
//! covariate (as MLRATE, Guo et al. 2021, does).
//!
//! The predictor here is least squares on an intercept and the features, fitted by
//! nalgebra's QR: with one feature it is CUPED on that feature (up to the cross-fitting),
//! with several it uses what each pre-period feature says about the metric — visits and
//! orders before the experiment predicting spend during it. The features must be measured
//! before the assignment, so that the covariate's expected difference between the arms is
//! zero and the adjusted difference keeps the estimand of the plain difference of means.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::cuped::{CupedResult, cuped};
use crate::error::{Error, Result};
use crate::hypothesis::Hypothesis;

/// Most features a prediction takes.
pub const MAX_FEATURES: usize = 64;

/// Folds of the cross-fitting: row `i` of each arm is in fold `i mod 2`.
const FOLDS: usize = 2;

/// A diagonal of `R` this small against the column's norm marks collinear features.
const COLLINEAR: f64 = 1e-10;

/// The result of [`cupac`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CupacResult {
    /// Features the prediction used.
    pub features: usize,
    /// Folds of the cross-fitting.
    pub folds: usize,
    /// Out-of-fold `R² = 1 − Σ (y − ŷ)² / Σ (y − ȳ)²` of the prediction over both arms.
    pub r_squared: f64,
    /// CUPED with the cross-fitted prediction as the covariate.
    pub cuped: CupedResult,
}

/// CUPED on the cross-fitted least-squares prediction of the metric from `features`
/// (each a slice per arm, measured before the assignment): the rows of both arms are split
/// in two folds (row `i` of an arm in fold `i mod 2`), each fold's prediction comes from the
/// fit `y ~ 1 + features` on the other fold (both arms pooled, no treatment term), and
/// [`cuped`] then adjusts the metric on the prediction.
///
/// ```
/// use abforge_stats::{Hypothesis, cupac};
///
/// let pre_t = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
/// let pre_c = [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5];
/// let t: Vec<f64> = pre_t.iter().zip([0.3, -0.2, 0.1, 0.4, -0.1, 0.2, -0.3, 0.0])
///     .map(|(x, e)| 2.0 * x + 1.0 + e).collect();
/// let c: Vec<f64> = pre_c.iter().zip([0.1, 0.2, -0.4, 0.0, 0.3, -0.1, 0.2, -0.2])
///     .map(|(x, e)| 2.0 * x + e).collect();
/// let r = cupac(&t, &[&pre_t[..]], &c, &[&pre_c[..]], &Hypothesis::default())?;
/// assert!(r.r_squared > 0.9 && r.cuped.variance_reduction > 0.9);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidInput`] without features, with more than [`MAX_FEATURES`], with
/// different feature counts in the arms, a non-finite value, a fold with fewer rows than
/// features + 2, or collinear features; [`Error::LengthMismatch`] when a feature's length
/// differs from its arm's; then the errors of [`cuped`].
pub fn cupac(
    treatment: &[f64],
    treatment_features: &[&[f64]],
    control: &[f64],
    control_features: &[&[f64]],
    h: &Hypothesis,
) -> Result<CupacResult> {
    check(treatment, treatment_features, control, control_features)?;
    let p = treatment_features.len();
    let rows = Rows::pooled(treatment, treatment_features, control, control_features);
    let mut pred = vec![0.0; rows.y.len()];
    for fold in 0..FOLDS {
        let beta = rows.fit(|i| rows.fold[i] != fold, p)?;
        for i in (0..rows.y.len()).filter(|&i| rows.fold[i] == fold) {
            pred[i] = beta[0] + (0..p).map(|j| beta[j + 1] * rows.x[j][i]).sum::<f64>();
        }
    }
    let mean = rows.y.iter().sum::<f64>() / rows.y.len() as f64;
    let ss_res: f64 = rows
        .y
        .iter()
        .zip(&pred)
        .map(|(y, f)| (y - f) * (y - f))
        .sum();
    let ss_tot: f64 = rows.y.iter().map(|y| (y - mean) * (y - mean)).sum();
    let nt = treatment.len();
    let adjusted = cuped(treatment, &pred[..nt], control, &pred[nt..], h)?;
    Ok(CupacResult {
        features: p,
        folds: FOLDS,
        r_squared: if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            0.0
        },
        cuped: adjusted,
    })
}

fn check(t: &[f64], tf: &[&[f64]], c: &[f64], cf: &[&[f64]]) -> Result<()> {
    let p = tf.len();
    if p == 0 || p > MAX_FEATURES || cf.len() != p {
        return Err(Error::InvalidInput(format!(
            "CUPAC needs the same 1 to {MAX_FEATURES} features in both arms; got {p} in the \
             treatment and {} in the control",
            cf.len()
        )));
    }
    for (y, fs) in [(t, tf), (c, cf)] {
        for f in fs {
            if f.len() != y.len() {
                return Err(Error::LengthMismatch {
                    what: "a metric and its CUPAC feature",
                    left: y.len(),
                    right: f.len(),
                });
            }
        }
        let finite = |xs: &[f64]| xs.iter().all(|v| v.is_finite());
        if !finite(y) || !fs.iter().all(|f| finite(f)) {
            return Err(Error::InvalidInput(
                "CUPAC takes finite values and features only".into(),
            ));
        }
        if y.len() / FOLDS < p + 2 {
            return Err(Error::InvalidInput(format!(
                "each fold of each arm needs at least {} rows for {p} features; an arm has {}",
                p + 2,
                y.len()
            )));
        }
    }
    Ok(())
}

/// Both arms' rows: the outcome, each feature, each row's fold.
struct Rows {
    y: Vec<f64>,
    /// `x[j][i]`: feature `j` of row `i`.
    x: Vec<Vec<f64>>,
    fold: Vec<usize>,
}

impl Rows {
    fn pooled(t: &[f64], tf: &[&[f64]], c: &[f64], cf: &[&[f64]]) -> Rows {
        let y = [t, c].concat();
        let x = tf.iter().zip(cf).map(|(a, b)| [*a, *b].concat()).collect();
        let fold = (0..t.len()).chain(0..c.len()).map(|i| i % FOLDS).collect();
        Rows { y, x, fold }
    }

    /// Least squares of `y ~ 1 + x` on the rows `keep` selects: `[intercept, β₁ … β_p]`.
    fn fit(&self, keep: impl Fn(usize) -> bool, p: usize) -> Result<Vec<f64>> {
        let idx: Vec<usize> = (0..self.y.len()).filter(|&i| keep(i)).collect();
        let n = idx.len();
        let mut x = DMatrix::from_element(n, p + 1, 1.0);
        for j in 0..p {
            for (r, &i) in idx.iter().enumerate() {
                x[(r, j + 1)] = self.x[j][i];
            }
        }
        // Columns scaled to unit norm, so that the collinearity check is scale-free.
        let scale: Vec<f64> = x
            .column_iter()
            .map(|col| col.norm().max(f64::MIN_POSITIVE))
            .collect();
        for (j, s) in scale.iter().enumerate() {
            x.column_mut(j).unscale_mut(*s);
        }
        let y = DVector::from_iterator(n, idx.iter().map(|&i| self.y[i]));
        let (q, r) = x.qr().unpack();
        if (0..=p).any(|j| r[(j, j)].abs() <= COLLINEAR) {
            return Err(Error::InvalidInput(
                "the CUPAC features are collinear (or one is constant) in a fold".into(),
            ));
        }
        let qty = q.tr_mul(&y);
        let beta = r
            .solve_upper_triangular(&qty)
            .ok_or_else(|| Error::InvalidInput("the CUPAC fit is singular".into()))?;
        Ok(beta.iter().zip(&scale).map(|(b, s)| b / s).collect())
    }
}
