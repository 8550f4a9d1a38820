//! Sequential testing: the mixture sequential probability ratio test (mSPRT), with
//! always-valid p-values and confidence sequences for the difference of means.

use serde::Serialize;

use crate::error::{Error, Group, Result, check_open};
use crate::summary::Summary;

/// Options of [`msprt`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MsprtOptions {
    /// The level: reject when the always-valid p-value is at most α; the confidence sequence
    /// has coverage `1 − α` simultaneously over all looks.
    pub alpha: f64,
    /// The mixing standard deviation `τ` in units of the metric's pooled standard deviation
    /// (`τ = mixing_sd · s_pooled`); used when `tau2` is `None`. Default 0.1: the prior puts
    /// effects of about a tenth of a standard deviation, typical of A/B tests, most likely.
    pub mixing_sd: f64,
    /// The mixing variance `τ²` of the effect, in the metric's squared units; overrides
    /// `mixing_sd`. Fix it before the experiment for the guarantee to be exact.
    pub tau2: Option<f64>,
    /// The mean difference under H0.
    pub null: f64,
}

impl Default for MsprtOptions {
    fn default() -> Self {
        MsprtOptions {
            alpha: 0.05,
            mixing_sd: 0.1,
            tau2: None,
            null: 0.0,
        }
    }
}

/// One look of the mSPRT.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MsprtResult {
    /// `x̄_t − x̄_c` at this look.
    pub estimate: f64,
    /// `sqrt(V)`, `V = s_t²/n_t + s_c²/n_c`.
    pub std_error: f64,
    /// The mixing variance `τ²` used.
    pub tau2: f64,
    /// The mixture likelihood ratio `Λ`.
    pub likelihood_ratio: f64,
    /// `min(1, 1/Λ)`: the always-valid p-value of this look alone. Over several looks the
    /// running minimum is the always-valid p-value ([`MsprtSequence`]).
    pub p_value: f64,
    /// Lower bound of the confidence sequence at this look.
    pub ci_low: f64,
    /// Upper bound.
    pub ci_high: f64,
    /// `p_value ≤ α`.
    pub reject: bool,
}

/// The normal mSPRT of the mean difference at one look (Johari, Koomen, Pekelis & Walsh,
/// "Always Valid Inference: Continuous Monitoring of A/B Tests", *Operations Research*
/// 70(3), 2022; first as "Peeking at A/B Tests", KDD 2017; the mixture martingale of
/// Robbins, 1970).
///
/// With `Δ̂ = x̄_t − x̄_c`, `V = s_t²/n_t + s_c²/n_c` (the sample variances plugged in for
/// the unknown ones) and a `N(θ₀, τ²)` mixing law over the effect:
///
/// ```text
/// Λ  = sqrt(V / (V + τ²)) · exp( τ² (Δ̂ − θ₀)² / (2 V (V + τ²)) )
/// p  = min(1, 1/Λ)                                  (running minimum over looks)
/// CS = Δ̂ ± sqrt( V (V + τ²) / τ² · (2 ln(1/α) + ln((V + τ²)/V)) )   (intersected over looks)
/// ```
///
/// Under H0, `Λ` is a nonnegative martingale with mean 1, so by Ville's inequality
/// `P(∃ look: Λ ≥ 1/α) ≤ α`: the experiment can be looked at after every customer and
/// stopped at the first rejection while keeping the type I error at α, which fixed-horizon
/// tests do not (see `abforge calibrate --peeks`). The price is power at the planned
/// horizon. `τ` sets where that power is best: about the effect size one hopes to detect.
///
/// ```
/// use abforge_stats::{MsprtOptions, Summary, msprt};
///
/// let t = Summary::from_moments(5000, 10.4, 25.0);
/// let c = Summary::from_moments(5000, 10.0, 25.0);
/// let r = msprt(&t, &c, &MsprtOptions::default())?;
/// assert!(r.p_value < 0.05 && r.ci_low > 0.0);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for fewer than 2 values in a group,
/// [`Error::InvalidParameter`] for α outside (0, 1) or a non-positive mixing variance.
pub fn msprt(t: &Summary, c: &Summary, opts: &MsprtOptions) -> Result<MsprtResult> {
    check_open("alpha", opts.alpha, 0.0, 1.0)?;
    t.require(Group::Treatment, 2)?;
    c.require(Group::Control, 2)?;
    t.check(Group::Treatment)?;
    c.check(Group::Control)?;
    let estimate = t.mean - c.mean;
    let v = t.variance() / t.n as f64 + c.variance() / c.n as f64;
    let tau2 = match opts.tau2 {
        Some(x) => check_open("tau2", x, 0.0, f64::INFINITY)?,
        None => {
            check_open("mixing_sd", opts.mixing_sd, 0.0, f64::INFINITY)?;
            let pooled = (t.m2 + c.m2) / ((t.n + c.n - 2) as f64);
            opts.mixing_sd * opts.mixing_sd * pooled
        }
    };
    if v == 0.0 || tau2 == 0.0 {
        if v == 0.0 && estimate != opts.null {
            return Err(Error::ZeroVariance);
        }
        return Ok(MsprtResult {
            estimate,
            std_error: v.sqrt(),
            tau2,
            likelihood_ratio: 1.0,
            p_value: 1.0,
            ci_low: if v == 0.0 {
                estimate
            } else {
                f64::NEG_INFINITY
            },
            ci_high: if v == 0.0 { estimate } else { f64::INFINITY },
            reject: false,
        });
    }
    let d = estimate - opts.null;
    let ln_lr = 0.5 * (v / (v + tau2)).ln() + tau2 * d * d / (2.0 * v * (v + tau2));
    let p_value = (-ln_lr).exp().min(1.0);
    let half =
        (v * (v + tau2) / tau2 * (2.0 * (1.0 / opts.alpha).ln() + ((v + tau2) / v).ln())).sqrt();
    Ok(MsprtResult {
        estimate,
        std_error: v.sqrt(),
        tau2,
        likelihood_ratio: ln_lr.exp(),
        p_value,
        ci_low: estimate - half,
        ci_high: estimate + half,
        reject: p_value <= opts.alpha,
    })
}

/// The running state of an mSPRT over several looks: the always-valid p-value (the running
/// minimum of `1/Λ`) and the confidence sequence (the running intersection).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MsprtSequence {
    /// Looks so far.
    pub looks: u32,
    /// The always-valid p-value.
    pub p_value: f64,
    /// Lower bound of the confidence sequence.
    pub ci_low: f64,
    /// Upper bound.
    pub ci_high: f64,
}

impl Default for MsprtSequence {
    fn default() -> Self {
        MsprtSequence {
            looks: 0,
            p_value: 1.0,
            ci_low: f64::NEG_INFINITY,
            ci_high: f64::INFINITY,
        }
    }
}

impl MsprtSequence {
    /// Folds in one look.
    pub fn update(&mut self, look: &MsprtResult) {
        self.looks += 1;
        self.p_value = self.p_value.min(look.p_value);
        self.ci_low = self.ci_low.max(look.ci_low);
        self.ci_high = self.ci_high.min(look.ci_high);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_value_and_sequence_agree() {
        // At the confidence sequence's boundary, the p-value is exactly α.
        let c = Summary::from_moments(400, 0.0, 4.0);
        let o = MsprtOptions {
            tau2: Some(0.05),
            ..Default::default()
        };
        let r0 = msprt(&Summary::from_moments(400, 0.1, 4.0), &c, &o).unwrap();
        let half = r0.ci_high - r0.estimate;
        let at = msprt(&Summary::from_moments(400, half, 4.0), &c, &o).unwrap();
        assert!((at.p_value - 0.05).abs() < 1e-12, "{}", at.p_value);
        // No effect at all: Λ = sqrt(V/(V+τ²)) < 1, p = 1.
        let none = msprt(&c, &c, &o).unwrap();
        assert_eq!(none.p_value, 1.0);
    }

    #[test]
    fn the_sequence_only_tightens() {
        let mut s = MsprtSequence::default();
        let c = Summary::from_moments(100, 0.0, 1.0);
        for (n, m) in [(100, 0.3), (200, 0.1), (400, 0.2)] {
            let t = Summary::from_moments(n, m, 1.0);
            let c = Summary::from_moments(n, 0.0, 1.0);
            s.update(&msprt(&t, &c, &MsprtOptions::default()).unwrap());
        }
        assert_eq!(s.looks, 3);
        assert!(s.ci_low < s.ci_high && s.p_value <= 1.0);
        assert!(
            msprt(
                &Summary::from_moments(1, 0.0, 0.0),
                &c,
                &MsprtOptions::default()
            )
            .is_err()
        );
    }
}
