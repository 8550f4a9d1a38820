//! How calibrated the Bayesian test's claims are: when it says "92 % chance to beat control",
//! do 92 % of such experiments have a treatment that truly beats the control?
//!
//! Each replication of a blueprint whose parameters are drawn per run (a lift drawn from a
//! prior, or a `choose`) has its own true effect. The Bayesian test claims
//! `P(T > C)`; the lab records the claim and whether the **true** mean difference is
//! positive. [`ClaimCalibration`] bins the claims in tenths and gives per bin the mean claim
//! beside the realised share with its binomial standard error, and overall the Brier score
//! against its value under calibration and Spiegelhalter's test of calibration. Everything is
//! a running sum: memory does not grow with the replications.
//!
//! Which prior the test uses is [`BayesPrior`]: the flat prior of `abforge analyze`, or the
//! blueprint's own prior of the lift ([`BayesPrior::Blueprint`]), under which the claims are
//! calibrated by construction — the check of the method — while the flat prior overstates
//! its certainty when the prior's spread is not large against the standard error.

use abforge_env::Invalid;
use abforge_stats::{EffectPrior, MetricPrior, PriorLaw};
use abforge_synth::Blueprint;
use abforge_synth::blueprint::{ArmSpec, Param, Prior};
use serde::Serialize;

/// Bins of the claimed probability: `[0, 0.1), [0.1, 0.2), …, [0.9, 1]`.
pub const CLAIM_BINS: usize = 10;

/// The prior of the Bayesian test (`bayes`) in a calibration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BayesPrior {
    /// The flat prior on each mean (Beta(1, 1) on a conversion rate), as `abforge analyze`.
    #[default]
    Flat,
    /// For an arm whose lift is drawn from a normal prior: that prior, as a prior on the
    /// difference `T − C` of the normal model (a relative lift `N(m, s²)` times the control's
    /// sample mean `x̄_c`: `N(m·x̄_c, (s·x̄_c)²)`; conversions then use the normal model too).
    /// Other arms keep the flat prior.
    Blueprint,
}

impl BayesPrior {
    /// Its name, as `--bayes-prior` spells it.
    pub fn name(self) -> &'static str {
        match self {
            BayesPrior::Flat => "flat",
            BayesPrior::Blueprint => "blueprint",
        }
    }
}

/// The prior of one arm's Bayesian test: a normal prior on its lift (or difference), or a
/// beta prior on each rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ArmPrior {
    Lift(LiftPrior),
    Beta { a: f64, b: f64 },
}

impl ArmPrior {
    pub(crate) fn describe(&self) -> String {
        match self {
            ArmPrior::Lift(p) => p.describe(),
            ArmPrior::Beta { a, b } => format!("beta({a}, {b}) on each rate"),
        }
    }
}

/// For each calibrated metric and treatment arm, the priors of `given` (by metric name,
/// checked: a calibrated metric, a beta prior on a 0/1 metric only) over `base`.
///
/// # Errors
/// [`Invalid`] at `priors` for a metric not calibrated, named twice, or a beta prior on a
/// metric that is not 0/1.
pub(crate) fn given_priors(
    base: Vec<Vec<Option<ArmPrior>>>,
    given: &[MetricPrior],
    metrics: &[(String, crate::method::MetricClass)],
    control: usize,
) -> Result<Vec<Vec<Option<ArmPrior>>>, Invalid> {
    let mut out = base;
    let mut seen = Vec::new();
    for p in given {
        let Some(pos) = metrics.iter().position(|(m, _)| *m == p.metric) else {
            let names: Vec<&str> = metrics.iter().map(|(m, _)| m.as_str()).collect();
            return Err(Invalid::new(
                "priors",
                format!(
                    "{} is not a calibrated metric; expected one of {}",
                    p.metric,
                    names.join(", ")
                ),
            ));
        };
        if seen.contains(&pos) {
            return Err(Invalid::new(
                "priors",
                format!("{} has two priors", p.metric),
            ));
        }
        seen.push(pos);
        if let Err(why) = p.law.check() {
            return Err(Invalid::new(
                "priors",
                format!("{}={}: {why}", p.metric, p.law),
            ));
        }
        let arm = match p.law {
            PriorLaw::Normal { mean, sd } => ArmPrior::Lift(LiftPrior {
                mean,
                sd,
                relative: false,
            }),
            PriorLaw::Beta { a, b } => {
                if metrics[pos].1 != crate::method::MetricClass::Binary {
                    return Err(Invalid::new(
                        "priors",
                        format!(
                            "{}: a beta prior is for a 0/1 metric; use normal:MEAN,SD",
                            p.metric
                        ),
                    ));
                }
                ArmPrior::Beta { a, b }
            }
        };
        for (g, slot) in out[pos].iter_mut().enumerate() {
            if g != control {
                *slot = Some(arm);
            }
        }
    }
    Ok(out)
}

/// A normal prior of one arm's lift, as the Bayesian test uses it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LiftPrior {
    pub mean: f64,
    pub sd: f64,
    /// A relative lift (`lift`), scaled by the control's mean; else `lift_abs`.
    pub relative: bool,
}

impl LiftPrior {
    /// The prior on `T − C` given the control's sample mean.
    pub(crate) fn on_difference(&self, control_mean: f64) -> EffectPrior {
        let scale = if self.relative { control_mean } else { 1.0 };
        EffectPrior {
            mean: self.mean * scale,
            sd: self.sd * scale.abs(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        let key = if self.relative { "lift" } else { "lift_abs" };
        format!("{key} ~ normal(mean {}, sd {})", self.mean, self.sd)
    }
}

/// For each calibrated metric (indices into the blueprint's metrics) and group, the
/// blueprint's normal prior of the arm's lift when the Bayesian test is to use it.
///
/// # Errors
/// [`Invalid`] at `bayes_prior` when no calibrated arm has a lift drawn from a prior, when
/// one is uniform (the normal model's conjugate prior is normal), or when segments make an
/// arm's effect more than its lift.
pub(crate) fn blueprint_priors(
    bp: &Blueprint,
    metric_indices: &[usize],
    control: usize,
) -> Result<Vec<Vec<Option<LiftPrior>>>, Invalid> {
    let mut any = false;
    let mut out = Vec::with_capacity(metric_indices.len());
    for &mi in metric_indices {
        let m = &bp.metrics[mi];
        let mut arms = Vec::with_capacity(m.arms.len());
        for (g, (group, spec)) in m.arms.iter().enumerate() {
            let (param, relative) = match spec {
                ArmSpec::Lift(p) => (p, true),
                ArmSpec::LiftAbs(p) => (p, false),
                ArmSpec::Params(_) => (&Param::Fixed(0.0), true),
            };
            let path = format!("metrics.{}.{group}", m.name);
            let prior = match param {
                Param::Prior(p) if g != control => *p,
                _ => {
                    arms.push(None);
                    continue;
                }
            };
            let Prior::Normal { mean, sd } = prior else {
                return Err(Invalid::new(
                    "bayes_prior",
                    format!(
                        "{path} draws its lift from {prior}; the Bayesian normal model takes a \
                         normal prior only (its conjugate); use a normal prior or `flat`"
                    ),
                )
                .value("blueprint"));
            };
            let named = |s: &abforge_synth::blueprint::Segment| {
                s.arms
                    .iter()
                    .any(|(n, _)| *n == *group || *n == bp.groups[control].0)
            };
            if m.segments.iter().any(named) {
                return Err(Invalid::new(
                    "bayes_prior",
                    format!(
                        "{path}: segments change this arm's or the control's law, so the \
                         effect is not the lift alone and its prior is not known; use `flat`"
                    ),
                )
                .value("blueprint"));
            }
            any = true;
            arms.push(Some(LiftPrior { mean, sd, relative }));
        }
        out.push(arms);
    }
    if !any {
        return Err(Invalid::new(
            "bayes_prior",
            "no calibrated treatment arm has a lift drawn from a prior \
             (`lift = { prior = \"normal\", mean = …, sd = … }`); use `flat`",
        )
        .value("blueprint"));
    }
    Ok(out)
}

/// Running sums of one bin.
#[derive(Debug, Clone, Copy, Default)]
struct BinSums {
    n: u64,
    claims: f64,
    hits: u64,
    /// `Σ p(1 − p)`: the variance of the hits if the claims were calibrated.
    var: f64,
}

/// Running sums of the claims of one metric × arm.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClaimAcc {
    bins: [BinSums; CLAIM_BINS],
    /// `Σ (p − y)²`.
    brier: f64,
    /// `Σ (y − p)(1 − 2p)` and `Σ (1 − 2p)² p(1 − p)`: Spiegelhalter's numerator and variance.
    spiegel_num: f64,
    spiegel_var: f64,
    /// `Σ` claimed expected loss of shipping the treatment, `Σ` realised loss
    /// `max(0, −true effect)`, and `Σ (realised − claimed)²`.
    loss_claimed: f64,
    loss_realised: f64,
    loss_diff_sq: f64,
}

impl ClaimAcc {
    /// One claim: `p` of `P(T > C)` and `loss`, the expected loss of shipping the
    /// treatment `E[max(0, C − T)]`, against the true mean difference `effect`.
    pub(crate) fn add(&mut self, p: f64, loss: f64, effect: f64) {
        if !(p.is_finite() && loss.is_finite()) {
            return;
        }
        let positive = effect > 0.0;
        let realised = (-effect).max(0.0);
        self.loss_claimed += loss;
        self.loss_realised += realised;
        self.loss_diff_sq += (realised - loss) * (realised - loss);
        let p = p.clamp(0.0, 1.0);
        let y = if positive { 1.0 } else { 0.0 };
        let b = &mut self.bins[((p * CLAIM_BINS as f64) as usize).min(CLAIM_BINS - 1)];
        b.n += 1;
        b.claims += p;
        b.hits += u64::from(positive);
        b.var += p * (1.0 - p);
        self.brier += (p - y) * (p - y);
        self.spiegel_num += (y - p) * (1.0 - 2.0 * p);
        self.spiegel_var += (1.0 - 2.0 * p).powi(2) * p * (1.0 - p);
    }

    pub(crate) fn merge(&mut self, o: &ClaimAcc) {
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            a.n += b.n;
            a.claims += b.claims;
            a.hits += b.hits;
            a.var += b.var;
        }
        self.brier += o.brier;
        self.spiegel_num += o.spiegel_num;
        self.spiegel_var += o.spiegel_var;
        self.loss_claimed += o.loss_claimed;
        self.loss_realised += o.loss_realised;
        self.loss_diff_sq += o.loss_diff_sq;
    }

    fn n(&self) -> u64 {
        self.bins.iter().map(|b| b.n).sum()
    }

    /// The report of these claims, or `None` when there are none.
    pub(crate) fn finish(
        &self,
        who: ClaimWho,
        prior: Option<&ArmPrior>,
    ) -> Option<ClaimCalibration> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let nf = n as f64;
        let hits: u64 = self.bins.iter().map(|b| b.hits).sum();
        let base = hits as f64 / nf;
        let expected = self.bins.iter().map(|b| b.var).sum::<f64>() / nf;
        let z = if self.spiegel_var > 0.0 {
            self.spiegel_num / self.spiegel_var.sqrt()
        } else {
            0.0
        };
        let p_value = 2.0 * abforge_stats::norm_sf(z.abs());
        let bins = self
            .bins
            .iter()
            .enumerate()
            .map(|(i, b)| ClaimBin {
                low: i as f64 / CLAIM_BINS as f64,
                high: (i + 1) as f64 / CLAIM_BINS as f64,
                replications: b.n,
                mean_claim: (b.n > 0).then(|| b.claims / b.n as f64),
                realised: (b.n > 0).then(|| b.hits as f64 / b.n as f64),
                se: (b.n > 0).then(|| b.var.sqrt() / b.n as f64),
            })
            .collect();
        Some(ClaimCalibration {
            metric: who.metric,
            arm: who.arm,
            prior: prior.map_or_else(|| "flat".to_string(), ArmPrior::describe),
            replications: n,
            share_positive: base,
            bins,
            brier: self.brier / nf,
            brier_if_calibrated: expected,
            brier_base_rate: base * (1.0 - base),
            spiegelhalter_z: z,
            spiegelhalter_p: p_value.min(1.0),
            miscalibrated: p_value < 0.01,
            credible_coverage: who.coverage,
            expected_loss_claimed: self.loss_claimed / nf,
            expected_loss_realised: self.loss_realised / nf,
            expected_loss_se: {
                let d = (self.loss_realised - self.loss_claimed) / nf;
                ((self.loss_diff_sq / nf - d * d).max(0.0) / (nf - 1.0).max(1.0)).sqrt()
            },
        })
    }
}

/// Whose claims: the metric, the arm and the coverage of the test's credible interval.
pub(crate) struct ClaimWho {
    pub metric: String,
    pub arm: String,
    pub coverage: Option<f64>,
}

/// Claims whose `P(T > C)` fell in `[low, high)` (the last bin includes 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimBin {
    /// Lower end of the claimed probability.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Replications whose claim fell here.
    pub replications: u64,
    /// Their mean claim.
    pub mean_claim: Option<f64>,
    /// The share of them whose true effect is positive.
    pub realised: Option<f64>,
    /// The binomial standard error of that share if the claims were calibrated:
    /// `√(Σ p(1 − p)) / n`.
    pub se: Option<f64>,
}

/// How calibrated the Bayesian test's `P(T > C)` is for one metric × arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimCalibration {
    /// The metric.
    pub metric: String,
    /// The treatment arm.
    pub arm: String,
    /// The test's prior: `flat`, or the blueprint's prior of the lift.
    pub prior: String,
    /// Replications with a claim.
    pub replications: u64,
    /// The share of replications whose true mean difference is positive.
    pub share_positive: f64,
    /// The claims by tenths of probability.
    pub bins: Vec<ClaimBin>,
    /// The Brier score `mean (p − y)²`, `y` = 1 when the true effect is positive.
    pub brier: f64,
    /// The Brier score expected if the claims were calibrated: `mean p(1 − p)`.
    pub brier_if_calibrated: f64,
    /// The Brier score of always claiming the share of positive effects (the reference of a
    /// skill score: a useful test scores below it).
    pub brier_base_rate: f64,
    /// Spiegelhalter's (1986) z: `Σ (y − p)(1 − 2p) / √Σ (1 − 2p)² p(1 − p)`, standard
    /// normal when the claims are calibrated.
    pub spiegelhalter_z: f64,
    /// Its two-sided p-value.
    pub spiegelhalter_p: f64,
    /// That p-value is below 0.01.
    pub miscalibrated: bool,
    /// The share of replications whose credible interval covered the true difference.
    pub credible_coverage: Option<f64>,
    /// The mean expected loss of shipping the treatment the test claimed,
    /// `E[max(0, C − T)]` under its posterior.
    pub expected_loss_claimed: f64,
    /// The mean loss realised had the treatment shipped: `max(0, −true difference)`.
    /// Calibrated claims match it within Monte Carlo error.
    pub expected_loss_realised: f64,
    /// The Monte Carlo standard error of realised − claimed.
    pub expected_loss_se: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrated_claims_pass_and_overconfident_ones_fail() {
        // Claims p whose outcomes are drawn with probability p (a fixed low-discrepancy
        // sequence), then the same outcomes claimed with more certainty.
        let (mut good, mut bold) = (ClaimAcc::default(), ClaimAcc::default());
        let n = 20_000;
        for i in 0..n {
            let p = (i as f64 + 0.5) / n as f64;
            let u = (i as f64 * 0.618_033_988_749_895).fract();
            // The sign of the effect is what counts here; no loss is claimed.
            let effect = if u < p { 1.0 } else { -1.0 };
            good.add(p, 0.0, effect);
            bold.add(if p > 0.5 { p.sqrt() } else { p * p }, 0.0, effect);
        }
        let who = || ClaimWho {
            metric: "m".into(),
            arm: "t".into(),
            coverage: None,
        };
        let g = good.finish(who(), None).unwrap();
        assert!(!g.miscalibrated, "{g:?}");
        assert!((g.brier - g.brier_if_calibrated).abs() < 0.01);
        for b in &g.bins {
            let (m, r, se) = (b.mean_claim.unwrap(), b.realised.unwrap(), b.se.unwrap());
            assert!((m - r).abs() < 4.0 * se, "{b:?}");
        }
        let b = bold.finish(who(), None).unwrap();
        assert!(b.miscalibrated && b.brier > b.brier_if_calibrated, "{b:?}");
        assert_eq!(ClaimAcc::default().finish(who(), None), None);
    }
}
