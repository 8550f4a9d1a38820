//! Sample-ratio mismatch: is the observed split of customers the planned one?

use serde::Serialize;

use crate::dist;
use crate::error::{Error, Result};

/// The result of [`srm`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SrmResult {
    /// Pearson's `Σ (O − E)² / E`.
    pub statistic: f64,
    /// Degrees of freedom, `k − 1`.
    pub df: u64,
    /// `P(χ²_{k−1} > statistic)`.
    pub p_value: f64,
    /// The expected counts `E_i = N · w_i / Σw`.
    pub expected: Vec<f64>,
}

/// The chi-square goodness-of-fit test of observed group sizes against planned weights
/// (scipy `chisquare(f_obs=observed, f_exp=N · w / Σw)`).
///
/// ```text
/// E_i = N w_i / Σ w,    χ² = Σ (O_i − E_i)² / E_i,    df = k − 1
/// ```
///
/// The weights need not sum to one (`[1.0, 1.0]` is a 50/50 plan). A small p-value (the
/// usual alarm threshold is 0.001) means the assignment or the logging is broken, and the
/// experiment's other results should not be trusted.
///
/// ```
/// use abforge_stats::srm;
///
/// let r = srm(&[1200, 300], &[1.0, 1.0])?;
/// assert_eq!(r.statistic, 540.0);
/// assert!(r.p_value < 1e-100);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`], [`Error::InvalidInput`] for fewer than 2 groups or no
/// observations, [`Error::InvalidParameter`] for a weight that is not finite and > 0.
pub fn srm(observed: &[u64], planned_weights: &[f64]) -> Result<SrmResult> {
    if observed.len() != planned_weights.len() {
        return Err(Error::LengthMismatch {
            what: "observed counts and planned weights",
            left: observed.len(),
            right: planned_weights.len(),
        });
    }
    if observed.len() < 2 {
        return Err(Error::InvalidInput(
            "a sample-ratio test needs at least 2 groups".into(),
        ));
    }
    for &w in planned_weights {
        crate::error::check_open("planned weight", w, 0.0, f64::INFINITY)?;
    }
    let total: u64 = observed.iter().sum();
    if total == 0 {
        return Err(Error::InvalidInput(
            "a sample-ratio test needs observations".into(),
        ));
    }
    let wsum: f64 = planned_weights.iter().sum();
    let n = total as f64;
    let expected: Vec<f64> = planned_weights.iter().map(|w| n * w / wsum).collect();
    let statistic = observed
        .iter()
        .zip(&expected)
        .map(|(&o, &e)| {
            let d = o as f64 - e;
            d * d / e
        })
        .sum::<f64>();
    let df = observed.len() as u64 - 1;
    Ok(SrmResult {
        statistic,
        df,
        p_value: dist::chi2_sf(statistic, df as f64),
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_split_has_p_one() {
        let r = srm(&[500, 500], &[0.5, 0.5]).unwrap();
        assert_eq!((r.statistic, r.p_value, r.df), (0.0, 1.0, 1));
    }

    #[test]
    fn three_groups() {
        // scipy.stats.chisquare([100, 120, 80], [100, 100, 100]) -> (8.0, 0.01831563888873418)
        let r = srm(&[100, 120, 80], &[1.0, 1.0, 1.0]).unwrap();
        assert!((r.statistic - 8.0).abs() < 1e-12);
        assert!((r.p_value - 0.01831563888873418).abs() < 1e-15);
    }

    #[test]
    fn errors() {
        assert!(srm(&[1, 2], &[1.0]).is_err());
        assert!(srm(&[1], &[1.0]).is_err());
        assert!(srm(&[0, 0], &[1.0, 1.0]).is_err());
        assert!(srm(&[1, 2], &[1.0, 0.0]).is_err());
    }
}
