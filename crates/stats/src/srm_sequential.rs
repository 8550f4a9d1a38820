//! Sequential sample-ratio-mismatch test: an anytime-valid p-value for "the split of units
//! over the arms is the planned one", which may be checked after every day (or every unit)
//! without raising the false-alarm rate, unlike the χ² test of [`crate::srm()`] checked daily.
//!
//! The test is the Dirichlet–multinomial Bayes factor of Lindon & Malek, "Anytime-Valid
//! Inference for Multinomial Count Data", *NeurIPS* 2022 (arXiv 2011.03567), the test of
//! Optimizely's `ssrm-test` package. Under H0 each unit lands in arm `i` with the planned
//! probability `θ₀ᵢ`; the alternative mixes the multinomial over a Dirichlet(`α₀`) prior. The
//! Bayes factor of the cumulative counts `y` (`n = Σy`, `A = Σα₀`),
//!
//! ```text
//! BF = [Γ(A) / Γ(A + n)] · Πᵢ [Γ(α₀ᵢ + yᵢ) / Γ(α₀ᵢ)] / Πᵢ θ₀ᵢ^yᵢ,
//! ```
//!
//! is a nonnegative martingale with mean 1 under H0, so by Ville's inequality
//! `P(∃ look: BF ≥ 1/α) ≤ α`, and `p = min(1, min over looks of 1/BF)` is an anytime-valid
//! p-value. It depends on the counts only, not on how they were batched into looks.

use serde::Serialize;
use statrs::function::gamma::ln_gamma;

use crate::error::{Error, Result, check_open};

/// The default Dirichlet concentration `k` in `α₀ = k·θ₀`: that of Lindon's published code
/// (Optimizely's `ssrm-test`, `dirichlet_concentration=10000`).
pub const DEFAULT_CONCENTRATION: f64 = 10_000.0;
/// The largest concentration accepted: beyond it `ln Γ(α₀ᵢ + yᵢ) − ln Γ(α₀ᵢ)` loses too
/// many digits in `f64` (and the prior is the null itself, so the test cannot reject).
pub const MAX_CONCENTRATION: f64 = 1e9;
/// The largest number of arms accepted.
pub const SRM_MAX_ARMS: usize = 1000;

/// Options of [`srm_sequential`] and [`SrmSequence`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SequentialSrmOptions {
    /// The level: a mismatch is flagged when the anytime-valid p-value is at most α. It is
    /// the false-alarm probability of the whole experiment, however often it is looked at.
    pub alpha: f64,
    /// The concentration `k` of the Dirichlet prior, `α₀ = k·m` (default 10 000, as in
    /// Lindon's code). The prior's spread around `m` is about `sqrt(m(1 − m)/k)`, 0.005 for a
    /// 50/50 split: a larger `k` is more sensitive to small mismatches once `n` is large, a
    /// smaller one finds large mismatches with fewer units.
    pub concentration: f64,
    /// The prior mean `m` (any positive weights, normalised); `None` is the planned split.
    pub prior_mean: Option<Vec<f64>>,
}

impl Default for SequentialSrmOptions {
    fn default() -> Self {
        SequentialSrmOptions {
            alpha: 0.05,
            concentration: DEFAULT_CONCENTRATION,
            prior_mean: None,
        }
    }
}

/// One look of the sequential SRM test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SequentialSrmResult {
    /// The cumulative units so far, `n = Σ yᵢ`.
    pub total: u64,
    /// `ln BF`, the natural log of the Bayes factor of a mismatch against the plan.
    pub log_bayes_factor: f64,
    /// `min(1, 1/BF)` at this look alone; the running minimum over looks is the
    /// anytime-valid p-value ([`SrmSequence`]).
    pub p_value: f64,
    /// The expected counts under the plan, `n·θ₀ᵢ`.
    pub expected: Vec<f64>,
    /// `p_value ≤ α`.
    pub reject: bool,
}

/// The sequential SRM test at one look, from the **cumulative** counts per arm.
///
/// The weights need not sum to one (`[1.0, 1.0]` is a 50/50 plan). No units yet gives
/// `BF = 1` and `p = 1`.
///
/// ```
/// use abforge_stats::{SequentialSrmOptions, srm_sequential};
///
/// let o = SequentialSrmOptions::default();
/// assert!(!srm_sequential(&[5020, 4980], &[1.0, 1.0], &o)?.reject);
/// assert!(srm_sequential(&[5400, 4600], &[1.0, 1.0], &o)?.reject);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`]; [`Error::InvalidInput`] for fewer than 2 or more than
/// [`SRM_MAX_ARMS`] arms; [`Error::InvalidParameter`] for α outside (0, 1), a weight or prior
/// mean that is not finite and > 0, a concentration outside (0, [`MAX_CONCENTRATION`]];
/// [`Error::Overflow`] when the counts sum past `u64::MAX`.
pub fn srm_sequential(
    counts: &[u64],
    planned_weights: &[f64],
    opts: &SequentialSrmOptions,
) -> Result<SequentialSrmResult> {
    Prior::new(planned_weights, opts)?.look(counts)
}

/// The planned split and the Dirichlet prior, checked and normalised.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct Prior {
    alpha: f64,
    /// `θ₀`, summing to one.
    theta: Vec<f64>,
    /// `ln θ₀ᵢ`.
    ln_theta: Vec<f64>,
    /// `α₀ = k·m`.
    a0: Vec<f64>,
}

impl Prior {
    fn new(planned_weights: &[f64], opts: &SequentialSrmOptions) -> Result<Self> {
        let k = planned_weights.len();
        if !(2..=SRM_MAX_ARMS).contains(&k) {
            return Err(Error::InvalidInput(format!(
                "a sequential sample-ratio test needs 2 to {SRM_MAX_ARMS} arms, got {k}"
            )));
        }
        check_open("alpha", opts.alpha, 0.0, 1.0)?;
        let c = opts.concentration;
        if !(c.is_finite() && c > 0.0 && c <= MAX_CONCENTRATION) {
            return Err(Error::InvalidParameter {
                name: "concentration",
                value: c,
                expected: "expected a Dirichlet concentration in (0, 1e9]",
            });
        }
        let theta = normalised("planned weight", planned_weights)?;
        let mean = match &opts.prior_mean {
            None => theta.clone(),
            Some(m) if m.len() != k => {
                return Err(Error::LengthMismatch {
                    what: "prior mean and planned weights",
                    left: m.len(),
                    right: k,
                });
            }
            Some(m) => normalised("prior mean", m)?,
        };
        Ok(Prior {
            alpha: opts.alpha,
            ln_theta: theta.iter().map(|t| t.ln()).collect(),
            theta,
            a0: mean.iter().map(|m| c * m).collect(),
        })
    }

    /// The look at cumulative `counts`.
    fn look(&self, counts: &[u64]) -> Result<SequentialSrmResult> {
        if counts.len() != self.theta.len() {
            return Err(Error::LengthMismatch {
                what: "counts and planned weights",
                left: counts.len(),
                right: self.theta.len(),
            });
        }
        let total = counts
            .iter()
            .try_fold(0u64, |s, &y| s.checked_add(y))
            .ok_or(Error::Overflow)?;
        let log_bayes_factor = self.log_bayes_factor(counts, total);
        let p_value = (-log_bayes_factor).exp().min(1.0);
        Ok(SequentialSrmResult {
            total,
            log_bayes_factor,
            p_value,
            expected: self.theta.iter().map(|t| total as f64 * t).collect(),
            reject: p_value <= self.alpha,
        })
    }

    /// `ln BF`, arm by arm as `ln Γ(α₀ᵢ + yᵢ) − ln Γ(α₀ᵢ) − yᵢ ln θ₀ᵢ` (exactly 0 for an empty
    /// arm), minus `ln Γ(A + n) − ln Γ(A)`.
    fn log_bayes_factor(&self, counts: &[u64], total: u64) -> f64 {
        if total == 0 {
            return 0.0;
        }
        let mut sum = 0.0;
        for ((&y, &a), &lt) in counts.iter().zip(&self.a0).zip(&self.ln_theta) {
            if y > 0 {
                let y = y as f64;
                sum += ln_gamma(a + y) - ln_gamma(a) - y * lt;
            }
        }
        let a_total: f64 = self.a0.iter().sum();
        sum - (ln_gamma(a_total + total as f64) - ln_gamma(a_total))
    }
}

/// `w / Σw`, after checking that every weight is finite and > 0.
fn normalised(name: &'static str, w: &[f64]) -> Result<Vec<f64>> {
    for &x in w {
        check_open(name, x, 0.0, f64::INFINITY)?;
    }
    let s: f64 = w.iter().sum();
    if !s.is_finite() {
        return Err(Error::Overflow);
    }
    Ok(w.iter().map(|x| x / s).collect())
}

/// The sequential SRM test folded over looks: add each day's new counts with
/// [`SrmSequence::push`]; the sequence keeps the cumulative counts, the anytime-valid p-value
/// (the running minimum of `1/BF`) and the first look that flagged a mismatch.
///
/// ```
/// use abforge_stats::{SequentialSrmOptions, SrmSequence};
///
/// let mut s = SrmSequence::new(&[1.0, 1.0], SequentialSrmOptions::default())?;
/// for _day in 0..30 {
///     s.push(&[520, 480])?; // a 52/48 split of 1000 units a day
/// }
/// assert!(s.flagged());
/// assert_eq!(s.counts(), &[15_600, 14_400]);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SrmSequence {
    prior: Prior,
    counts: Vec<u64>,
    looks: u32,
    p_value: f64,
    flagged_at: Option<u32>,
}

impl SrmSequence {
    /// A sequence with no units yet.
    ///
    /// # Errors
    ///
    /// Those of [`srm_sequential`] about the weights and the options.
    pub fn new(planned_weights: &[f64], opts: SequentialSrmOptions) -> Result<Self> {
        let prior = Prior::new(planned_weights, &opts)?;
        Ok(SrmSequence {
            counts: vec![0; prior.theta.len()],
            prior,
            looks: 0,
            p_value: 1.0,
            flagged_at: None,
        })
    }

    /// Adds the counts per arm that arrived since the last look (not the cumulative ones) and
    /// returns this look. On an error the sequence is unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`], [`Error::Overflow`] when a cumulative count passes
    /// `u64::MAX`.
    pub fn push(&mut self, new_counts: &[u64]) -> Result<SequentialSrmResult> {
        if new_counts.len() != self.counts.len() {
            return Err(Error::LengthMismatch {
                what: "new counts and planned weights",
                left: new_counts.len(),
                right: self.counts.len(),
            });
        }
        let counts = self
            .counts
            .iter()
            .zip(new_counts)
            .map(|(a, b)| a.checked_add(*b).ok_or(Error::Overflow))
            .collect::<Result<Vec<u64>>>()?;
        let look = self.prior.look(&counts)?;
        self.counts = counts;
        self.looks = self.looks.saturating_add(1);
        self.p_value = self.p_value.min(look.p_value);
        if look.reject && self.flagged_at.is_none() {
            self.flagged_at = Some(self.looks);
        }
        Ok(look)
    }

    /// The cumulative counts per arm.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Looks so far.
    pub fn looks(&self) -> u32 {
        self.looks
    }

    /// The anytime-valid p-value.
    pub fn p_value(&self) -> f64 {
        self.p_value
    }

    /// The first look (1-based) whose p-value was at most α.
    pub fn flagged_at(&self) -> Option<u32> {
        self.flagged_at
    }

    /// Whether a mismatch has been flagged.
    pub fn flagged(&self) -> bool {
        self.flagged_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_unit_by_hand() {
        // One unit in arm 1 of a 0.4/0.4/0.2 plan, Dirichlet(1, 1, 1): BF = (1/3) / 0.4.
        let o = SequentialSrmOptions {
            concentration: 3.0,
            prior_mean: Some(vec![1.0, 1.0, 1.0]),
            ..Default::default()
        };
        let r = srm_sequential(&[1, 0, 0], &[0.4, 0.4, 0.2], &o).unwrap();
        assert!((r.log_bayes_factor - (1.0f64 / 1.2).ln()).abs() < 1e-14);
        assert_eq!((r.p_value, r.total), (1.0, 1));
        let none = srm_sequential(&[0, 0, 0], &[0.4, 0.4, 0.2], &o).unwrap();
        assert_eq!((none.log_bayes_factor, none.p_value), (0.0, 1.0));
    }

    #[test]
    fn hostile_inputs() {
        let o = SequentialSrmOptions::default();
        let w = [1.0, 1.0];
        assert!(matches!(
            srm_sequential(&[1], &w, &o),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            srm_sequential(&[1], &[1.0], &o),
            Err(Error::InvalidInput(_))
        ));
        let many = vec![1.0; SRM_MAX_ARMS + 1];
        let e = srm_sequential(&vec![1; many.len()], &many, &o).unwrap_err();
        assert!(e.to_string().contains("1000"), "{e}");
        assert!(srm_sequential(&[u64::MAX, 1], &w, &o) == Err(Error::Overflow));
        for bad in [
            SequentialSrmOptions {
                alpha: 0.0,
                ..Default::default()
            },
            SequentialSrmOptions {
                alpha: f64::NAN,
                ..Default::default()
            },
            SequentialSrmOptions {
                concentration: 0.0,
                ..Default::default()
            },
            SequentialSrmOptions {
                concentration: 1e300,
                ..Default::default()
            },
            SequentialSrmOptions {
                prior_mean: Some(vec![1.0, -1.0]),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                srm_sequential(&[1, 2], &w, &bad),
                Err(Error::InvalidParameter { .. })
            ));
        }
        let m3 = SequentialSrmOptions {
            prior_mean: Some(vec![1.0; 3]),
            ..Default::default()
        };
        assert!(matches!(
            srm_sequential(&[1, 2], &w, &m3),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(srm_sequential(&[1, 2], &[1.0, f64::INFINITY], &o).is_err());
        assert!(srm_sequential(&[1, 2], &[f64::MAX, f64::MAX], &o) == Err(Error::Overflow));
    }

    #[test]
    fn the_sequence_is_unchanged_by_a_bad_push() {
        let mut s = SrmSequence::new(&[1.0, 1.0], SequentialSrmOptions::default()).unwrap();
        s.push(&[10, 12]).unwrap();
        let before = s.clone();
        assert!(s.push(&[1, 2, 3]).is_err());
        assert!(s.push(&[u64::MAX, 0]).is_err());
        assert_eq!(s, before);
        assert_eq!((s.looks(), s.counts()), (1, &[10u64, 12][..]));
    }
}
