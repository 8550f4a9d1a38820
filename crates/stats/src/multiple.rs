//! Multiple-testing corrections of p-values.

use serde::Serialize;

use crate::error::{Error, Result};

/// A correction for testing several hypotheses at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// No correction: the raw p-values.
    None,
    /// Bonferroni: `min(1, m·p)`; controls the family-wise error rate.
    Bonferroni,
    /// Holm's step-down: uniformly more powerful than Bonferroni, same FWER control.
    #[default]
    Holm,
    /// Benjamini–Hochberg step-up: controls the false discovery rate (independent or
    /// positively dependent tests).
    BenjaminiHochberg,
}

/// Adjusted p-values, as statsmodels `multipletests(p, method=...)[1]` with `'bonferroni'`,
/// `'holm'`, `'fdr_bh'`.
///
/// With `p_(1) ≤ … ≤ p_(m)` the sorted p-values:
///
/// ```text
/// Bonferroni: p̃_i = min(1, m p_i)
/// Holm:       p̃_(i) = min(1, max_{j ≤ i} (m − j + 1) p_(j))
/// BH:         p̃_(i) = min(1, min_{j ≥ i} m p_(j) / j)
/// ```
///
/// The adjusted values are in the input order, never below the raw ones, monotone in the
/// raw ones and at most 1. A hypothesis is rejected at level α when `p̃ ≤ α`.
///
/// ```
/// use abforge_stats::{Correction, adjust};
///
/// let p = [0.01, 0.04, 0.03, 0.20];
/// assert_eq!(adjust(&p, Correction::Bonferroni)?, vec![0.04, 0.16, 0.12, 0.8]);
/// let holm = adjust(&p, Correction::Holm)?;
/// assert!((holm[1] - 0.09).abs() < 1e-15 && (holm[2] - 0.09).abs() < 1e-15);
/// let bh = adjust(&p, Correction::BenjaminiHochberg)?;
/// assert!((bh[0] - 0.04).abs() < 1e-15 && (bh[3] - 0.2).abs() < 1e-15);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for a p-value that is NaN or outside `[0, 1]`.
pub fn adjust(p_values: &[f64], method: Correction) -> Result<Vec<f64>> {
    for &p in p_values {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::InvalidParameter {
                name: "p-value",
                value: p,
                expected: "a number in [0, 1]",
            });
        }
    }
    let m = p_values.len();
    let mf = m as f64;
    match method {
        Correction::None => return Ok(p_values.to_vec()),
        Correction::Bonferroni => return Ok(p_values.iter().map(|p| (p * mf).min(1.0)).collect()),
        _ => {}
    }
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]).then(a.cmp(&b)));
    let mut adjusted = vec![0.0; m];
    match method {
        Correction::Holm => {
            let mut running: f64 = 0.0;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max((mf - rank as f64) * p_values[i]);
                adjusted[i] = running.min(1.0);
            }
        }
        Correction::BenjaminiHochberg => {
            let mut running: f64 = 1.0;
            for (rank, &i) in order.iter().enumerate().rev() {
                running = running.min(p_values[i] * mf / (rank + 1) as f64);
                // m·p/k ≥ p in exact arithmetic; keep it so after rounding too.
                adjusted[i] = running.max(p_values[i]).min(1.0);
            }
        }
        Correction::None | Correction::Bonferroni => unreachable!(),
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_statsmodels() {
        // multipletests([0.01, 0.02, 0.03, 0.04, 0.05], method=...)[1]
        let p = [0.01, 0.02, 0.03, 0.04, 0.05];
        let holm = adjust(&p, Correction::Holm).unwrap();
        let want = [0.05, 0.08, 0.09, 0.09, 0.09];
        for (a, b) in holm.iter().zip(want) {
            assert!((a - b).abs() < 1e-15);
        }
        let bh = adjust(&p, Correction::BenjaminiHochberg).unwrap();
        for a in bh {
            assert!((a - 0.05).abs() < 1e-15);
        }
    }

    #[test]
    fn clipped_and_validated() {
        assert_eq!(
            adjust(&[0.6, 0.7], Correction::Bonferroni).unwrap(),
            vec![1.0, 1.0]
        );
        assert_eq!(
            adjust(&[0.6, 0.7], Correction::Holm).unwrap(),
            vec![1.0, 1.0]
        );
        assert!(adjust(&[f64::NAN], Correction::Holm).is_err());
        assert!(adjust(&[1.5], Correction::None).is_err());
        assert!(
            adjust(&[], Correction::BenjaminiHochberg)
                .unwrap()
                .is_empty()
        );
    }
}
