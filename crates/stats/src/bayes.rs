//! Bayesian comparisons: beta-binomial for conversions, a normal model for means; and the
//! prior of one metric's comparison as a command line writes it ([`MetricPrior`]).

use serde::Serialize;
use statrs::function::beta::ln_beta;

use crate::dist;
use crate::error::{Error, Group, Result, check_open};
use crate::summary::Summary;

/// Terms above which `P(X > Y)` of two betas uses the normal approximation instead of the
/// exact sum (it is then accurate to far better than 1e-6).
const EXACT_TERMS: f64 = 5e6;

/// Which posterior model a [`BayesResult`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BayesModel {
    /// Beta prior, binomial likelihood (conversions).
    BetaBinomial,
    /// Normal approximation of each group's mean (any metric).
    Normal,
}

/// Options of the Bayesian comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BayesOptions {
    /// The credible interval has level `1 − alpha`; the decision rule (`reject`) declares a
    /// difference when `P(T > C)` is above `1 − α/2` or below `α/2`.
    pub alpha: f64,
    /// The Beta(a, b) prior of each conversion rate (default Beta(1, 1), uniform).
    pub prior: (f64, f64),
    /// A normal prior on the difference `T − C` for [`normal_means`] (default none: flat).
    /// [`beta_binomial`] has no prior on the difference and refuses one.
    pub effect_prior: Option<EffectPrior>,
}

impl Default for BayesOptions {
    fn default() -> Self {
        BayesOptions {
            alpha: 0.05,
            prior: (1.0, 1.0),
            effect_prior: None,
        }
    }
}

/// A normal prior `N(mean, sd²)` on the difference of the means `T − C`, the conjugate prior
/// of [`normal_means`]'s normal likelihood.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EffectPrior {
    /// Prior mean of `T − C`.
    pub mean: f64,
    /// Prior standard deviation of `T − C` (finite, > 0).
    pub sd: f64,
}

impl EffectPrior {
    /// The posterior mean and standard deviation of `T − C` from an estimate `d` with
    /// standard error `se > 0`: precisions add, `1/s² = 1/se² + 1/τ²`, and the mean is the
    /// precision-weighted `s²(d/se² + μ₀/τ²)` (Gelman et al., *Bayesian Data Analysis*,
    /// 3rd ed., §2.5).
    pub fn update(&self, d: f64, se: f64) -> (f64, f64) {
        let (wd, wp) = (1.0 / (se * se), 1.0 / (self.sd * self.sd));
        let var = 1.0 / (wd + wp);
        (var * (wd * d + wp * self.mean), var.sqrt())
    }

    fn check(&self) -> Result<()> {
        crate::error::check_finite("effect prior mean", self.mean)?;
        check_open("effect prior sd", self.sd, 0.0, f64::INFINITY)?;
        Ok(())
    }
}

/// A Bayesian comparison of treatment and control.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BayesResult {
    /// The model.
    pub model: BayesModel,
    /// Posterior mean of `T − C`.
    pub estimate: f64,
    /// Posterior probability that the treatment's mean (rate) is above the control's.
    pub prob_treatment_better: f64,
    /// `E[max(C − T, 0)]`: the expected loss of shipping the treatment.
    pub expected_loss_treatment: f64,
    /// `E[max(T − C, 0)]`: the expected loss of keeping the control.
    pub expected_loss_control: f64,
    /// Lower bound of the equal-tailed `1 − α` credible interval of `T − C`.
    pub ci_low: f64,
    /// Upper bound.
    pub ci_high: f64,
    /// `P(T > C) > 1 − α/2` or `< α/2`: a credible difference.
    pub reject: bool,
}

/// Beta-binomial comparison of two conversion rates.
///
/// With a Beta(a, b) prior, the posteriors are `p_t ~ Beta(a + x_t, b + n_t − x_t)` and
/// `p_c ~ Beta(a + x_c, b + n_c − x_c)`. With `h(α₁, β₁; α₂, β₂) = P(Beta(α₁, β₁) >
/// Beta(α₂, β₂))`:
///
/// ```text
/// P(p_t > p_c) = h(α_t, β_t; α_c, β_c) = Σ_{i=0}^{α_t − 1} B(α_c + i, β_c + β_t) / ((β_t + i) B(1 + i, β_t) B(α_c, β_c))
/// E[max(p_c − p_t, 0)] = E[p_c] h(α_c + 1, β_c; α_t, β_t) − E[p_t] h(α_c, β_c; α_t + 1, β_t)
/// ```
///
/// (the exact sum for an integer `α_t`, E. Miller, "Formulas for Bayesian A/B Testing",
/// 2015; the loss by size-biasing `p·Beta(α, β) ∝ Beta(α + 1, β)`, C. Stucchio, "Bayesian
/// A/B Testing at VWO", 2015). The sum runs over the smallest integer parameter among the
/// four equivalent forms (by `P(X > Y) = 1 − P(Y > X)` and `X ↦ 1 − X`), its terms by the
/// ratio `(α₂+i)(β₁+i) / ((α₂+β₂+β₁+i)(1+i))` in logs, so it is stable for any count and
/// accurate to about 1e-11 (the `ln Γ` of the first term limits it); with non-integer
/// parameters or more than 5·10⁶ terms it is `Φ((m₁ − m₂)/√(v₁ + v₂))` from the posterior
/// moments. The credible interval of `p_t − p_c` is the normal
/// one from the posterior means and variances.
///
/// ```
/// use abforge_stats::{BayesOptions, beta_binomial};
///
/// let r = beta_binomial(60, 1000, 40, 1000, &BayesOptions::default())?;
/// assert!(r.prob_treatment_better > 0.97 && r.prob_treatment_better < 0.99);
/// assert!(r.expected_loss_treatment < r.expected_loss_control);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for `n = 0`, [`Error::InvalidInput`] for `x > n`,
/// [`Error::InvalidParameter`] for a bad α or prior.
pub fn beta_binomial(
    x_t: u64,
    n_t: u64,
    x_c: u64,
    n_c: u64,
    opts: &BayesOptions,
) -> Result<BayesResult> {
    check_open("alpha", opts.alpha, 0.0, 1.0)?;
    if opts.effect_prior.is_some() {
        return Err(Error::InvalidInput(
            "the beta-binomial model has a prior on each rate, not on their difference; \
             compare the rates with normal_means for a prior on the difference"
                .into(),
        ));
    }
    let (a0, b0) = opts.prior;
    check_open("prior a", a0, 0.0, f64::INFINITY)?;
    check_open("prior b", b0, 0.0, f64::INFINITY)?;
    for (x, n, group) in [(x_t, n_t, Group::Treatment), (x_c, n_c, Group::Control)] {
        if n == 0 {
            return Err(Error::TooFewObservations {
                group,
                n: 0,
                needed: 1,
            });
        }
        if x > n {
            return Err(Error::InvalidInput(format!(
                "the {group} group has {x} successes out of {n} trials"
            )));
        }
    }
    let (at, bt) = (a0 + x_t as f64, b0 + (n_t - x_t) as f64);
    let (ac, bc) = (a0 + x_c as f64, b0 + (n_c - x_c) as f64);
    let prob = prob_beta_greater(at, bt, ac, bc);
    let (mt, vt) = beta_moments(at, bt);
    let (mc, vc) = beta_moments(ac, bc);
    let loss_t = (mc * prob_beta_greater(ac + 1.0, bc, at, bt)
        - mt * prob_beta_greater(ac, bc, at + 1.0, bt))
    .max(0.0);
    let loss_c = (mt * prob_beta_greater(at + 1.0, bt, ac, bc)
        - mc * prob_beta_greater(at, bt, ac + 1.0, bc))
    .max(0.0);
    let estimate = mt - mc;
    let h = dist::norm_isf(0.5 * opts.alpha) * (vt + vc).sqrt();
    Ok(BayesResult {
        model: BayesModel::BetaBinomial,
        estimate,
        prob_treatment_better: prob,
        expected_loss_treatment: loss_t,
        expected_loss_control: loss_c,
        ci_low: estimate - h,
        ci_high: estimate + h,
        reject: decide(prob, opts.alpha),
    })
}

/// Normal-model comparison of two means.
///
/// With a flat prior on each group's mean and the sample variance plugged in, the
/// posterior of each mean is approximately `N(x̄_g, s_g²/n_g)` (the large-sample limit of the
/// Student-t posterior under the Jeffreys prior; Gelman et al., *Bayesian Data Analysis*,
/// 3rd ed., §3.2), so `D = μ_t − μ_c ~ N(d, se²)` with `d = x̄_t − x̄_c`,
/// `se² = s_t²/n_t + s_c²/n_c`:
///
/// ```text
/// P(T > C) = Φ(d / se)
/// E[max(C − T, 0)] = se·φ(d/se) − d·Φ(−d/se)        E[max(T − C, 0)] = se·φ(d/se) + d·Φ(d/se)
/// credible interval: d ± z_{1−α/2} se
/// ```
///
/// The interval equals the normal (Wald) confidence interval, which is why this posterior
/// holds its frequentist type I error.
///
/// With [`BayesOptions::effect_prior`] `N(μ₀, τ²)` on `T − C`, the posterior is
/// `N(m, s²)` with `1/s² = 1/se² + 1/τ²` and `m = s²(d/se² + μ₀/τ²)` ([`EffectPrior::update`]),
/// and the formulas above hold with `(m, s)` for `(d, se)`. When the true effects are drawn
/// from that prior, `P(T > C)` is calibrated: among the experiments where it says 0.9,
/// nine in ten have a positive effect. The flat prior overstates its certainty when the
/// prior spread `τ` is not large against `se`.
///
/// ```
/// use abforge_stats::{BayesOptions, Summary, normal_means};
///
/// let t = Summary::from_moments(1000, 10.3, 4.0);
/// let c = Summary::from_moments(1000, 10.0, 4.0);
/// let r = normal_means(&t, &c, &BayesOptions::default())?;
/// assert!((r.prob_treatment_better - 0.99957).abs() < 1e-4);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for fewer than 2 values in a group, [`Error::ZeroVariance`]
/// when both groups are constant and differ, [`Error::InvalidParameter`] for a bad α.
pub fn normal_means(t: &Summary, c: &Summary, opts: &BayesOptions) -> Result<BayesResult> {
    check_open("alpha", opts.alpha, 0.0, 1.0)?;
    t.require(Group::Treatment, 2)?;
    c.require(Group::Control, 2)?;
    t.check(Group::Treatment)?;
    c.check(Group::Control)?;
    let d = t.mean - c.mean;
    let se = (t.variance() / t.n as f64 + c.variance() / c.n as f64).sqrt();
    if se == 0.0 {
        if d != 0.0 {
            return Err(Error::ZeroVariance);
        }
        return Ok(BayesResult {
            model: BayesModel::Normal,
            estimate: 0.0,
            prob_treatment_better: 0.5,
            expected_loss_treatment: 0.0,
            expected_loss_control: 0.0,
            ci_low: 0.0,
            ci_high: 0.0,
            reject: false,
        });
    }
    // With a prior on the difference the posterior is normal too, narrower and shrunk.
    let (d, se) = match opts.effect_prior {
        Some(p) => {
            p.check()?;
            p.update(d, se)
        }
        None => (d, se),
    };
    let z = d / se;
    let prob = dist::norm_cdf(z);
    let pdf = dist::norm_pdf(z);
    let h = dist::norm_isf(0.5 * opts.alpha) * se;
    Ok(BayesResult {
        model: BayesModel::Normal,
        estimate: d,
        prob_treatment_better: prob,
        expected_loss_treatment: (se * pdf - d * dist::norm_cdf(-z)).max(0.0),
        expected_loss_control: (se * pdf + d * prob).max(0.0),
        ci_low: d - h,
        ci_high: d + h,
        reject: decide(prob, opts.alpha),
    })
}

fn decide(prob: f64, alpha: f64) -> bool {
    prob > 1.0 - 0.5 * alpha || prob < 0.5 * alpha
}

fn beta_moments(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (a / s, a * b / (s * s * (s + 1.0)))
}

fn is_int(x: f64) -> bool {
    x.fract() == 0.0 && x >= 1.0
}

/// `P(X > Y)` for independent `X ~ Beta(a, b)`, `Y ~ Beta(c, d)`.
pub fn prob_beta_greater(a: f64, b: f64, c: f64, d: f64) -> f64 {
    // Four equivalent forms; each sums over its first parameter (which must be an integer).
    let forms = [
        (a, b, c, d, false), // h(a, b; c, d)
        (c, d, a, b, true),  // 1 − h(c, d; a, b)
        (d, c, b, a, false), // X ↦ 1 − X: h(d, c; b, a)
        (b, a, d, c, true),  // 1 − h(b, a; d, c)
    ];
    let best = forms
        .iter()
        .filter(|f| is_int(f.0) && f.0 <= EXACT_TERMS)
        .min_by(|x, y| x.0.total_cmp(&y.0));
    match best {
        Some(&(p, q, r, s, complement)) => {
            let v = miller_sum(p, q, r, s);
            if complement { 1.0 - v } else { v }.clamp(0.0, 1.0)
        }
        None => {
            let (m1, v1) = beta_moments(a, b);
            let (m2, v2) = beta_moments(c, d);
            dist::norm_cdf((m1 - m2) / (v1 + v2).sqrt())
        }
    }
}

/// `Σ_{i=0}^{a−1} B(c+i, d+b) / ((b+i) B(1+i, b) B(c, d))` for an integer `a`.
fn miller_sum(a: f64, b: f64, c: f64, d: f64) -> f64 {
    // Term 0 = B(c, d + b) / B(c, d) (since b·B(1, b) = 1); then the ratio recurrence.
    let mut ln_term = ln_beta(c, d + b) - ln_beta(c, d);
    let mut sum = 0.0;
    let terms = a as u64;
    for i in 0..terms {
        let i = i as f64;
        sum += ln_term.exp();
        ln_term += ((c + i) * (b + i)).ln() - ((c + d + b + i) * (1.0 + i)).ln();
    }
    sum
}

/// The forms a [`MetricPrior`] is written in, for messages.
pub const PRIOR_FORMS: &str = "METRIC=normal:MEAN,SD (SD > 0; metrics that are not 0/1) or \
                               METRIC=beta:A,B (A, B > 0; 0/1 metrics)";

/// The prior of one metric's Bayesian comparison, written `METRIC=normal:MEAN,SD` or
/// `METRIC=beta:A,B` (`abforge analyze --prior`, `abforge calibrate --prior`).
///
/// ```
/// use abforge_stats::{MetricPrior, PriorLaw};
///
/// let p: MetricPrior = "revenue=normal:0,0.2".parse().unwrap();
/// assert_eq!(p.law, PriorLaw::Normal { mean: 0.0, sd: 0.2 });
/// assert_eq!(p.law.to_string(), "normal:0,0.2");
/// let e = "revenue=beta:0,1".parse::<MetricPrior>().unwrap_err();
/// assert!(e.contains("both shapes must be finite and > 0") && e.contains("METRIC=beta:A,B"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPrior {
    /// The metric.
    pub metric: String,
    /// The prior (JSON `prior`).
    #[serde(rename = "prior")]
    pub law: PriorLaw,
}

/// The law of a [`MetricPrior`]. Which metrics take which law is the caller's check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "law")]
pub enum PriorLaw {
    /// `N(mean, sd²)` on the difference of the means `T − C` ([`EffectPrior`],
    /// [`normal_means`]); for metrics that are not 0/1.
    Normal {
        /// Prior mean of the difference (finite).
        mean: f64,
        /// Prior standard deviation (finite, > 0).
        sd: f64,
    },
    /// `Beta(a, b)` on each group's conversion rate ([`BayesOptions::prior`],
    /// [`beta_binomial`]); for 0/1 metrics.
    Beta {
        /// First shape (finite, > 0).
        a: f64,
        /// Second shape (finite, > 0).
        b: f64,
    },
}

impl PriorLaw {
    /// `Err` with what is wrong unless the numbers are allowed: a finite mean and a finite
    /// sd > 0; finite shapes > 0.
    pub fn check(&self) -> std::result::Result<(), &'static str> {
        match *self {
            PriorLaw::Normal { mean, sd } if !(mean.is_finite() && sd.is_finite() && sd > 0.0) => {
                Err("the mean must be finite and the sd finite and > 0")
            }
            PriorLaw::Beta { a, b } if !(a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0) => {
                Err("both shapes must be finite and > 0")
            }
            _ => Ok(()),
        }
    }
}

impl std::fmt::Display for PriorLaw {
    /// `normal:MEAN,SD` or `beta:A,B`, as it is parsed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PriorLaw::Normal { mean, sd } => write!(f, "normal:{mean},{sd}"),
            PriorLaw::Beta { a, b } => write!(f, "beta:{a},{b}"),
        }
    }
}

impl std::str::FromStr for MetricPrior {
    type Err = String;

    /// Parses `METRIC=normal:MEAN,SD` or `METRIC=beta:A,B` (spaces around the parts
    /// allowed), checked by [`PriorLaw::check`]; the error says what is wrong and names the
    /// allowed forms ([`PRIOR_FORMS`]).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = |why: &str| format!("{s:?}: {why}; expected {PRIOR_FORMS}");
        let (metric, law) = s.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let (kind, args) = law.split_once(':').ok_or_else(|| bad("no `:`"))?;
        let nums: Vec<f64> = args
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad("the parameters are not numbers"))?;
        let [x, y] = nums[..] else {
            return Err(bad("two parameters are needed"));
        };
        let law = match kind.trim() {
            "normal" => PriorLaw::Normal { mean: x, sd: y },
            "beta" => PriorLaw::Beta { a: x, b: y },
            _ => return Err(bad("the law is not normal or beta")),
        };
        law.check().map_err(bad)?;
        let metric = metric.trim();
        if metric.is_empty() {
            return Err(bad("no metric"));
        }
        Ok(MetricPrior {
            metric: metric.to_string(),
            law,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `P(X > Y)` by the midpoint rule on a fine grid (independent of the closed form).
    fn brute(a: f64, b: f64, c: f64, d: f64) -> f64 {
        let n = 200_000;
        let (lb_x, lb_y) = (ln_beta(a, b), ln_beta(c, d));
        let pdf = |x: f64, p: f64, q: f64, lb: f64| {
            ((p - 1.0) * x.ln() + (q - 1.0) * (1.0 - x).ln() - lb).exp()
        };
        let h = 1.0 / n as f64;
        let mut cdf_y = 0.0;
        let mut s = 0.0;
        for k in 0..n {
            let x = (k as f64 + 0.5) * h;
            let fy = pdf(x, c, d, lb_y) * h;
            cdf_y += 0.5 * fy;
            s += pdf(x, a, b, lb_x) * h * cdf_y;
            cdf_y += 0.5 * fy;
        }
        s
    }

    #[test]
    fn exact_sum_matches_integration_and_symmetry() {
        for &(a, b, c, d) in &[
            (3.0, 5.0, 2.0, 6.0),
            (13.0, 40.0, 9.0, 44.0),
            (1.0, 1.0, 1.0, 1.0),
            (7.5, 3.0, 2.0, 9.0),
        ] {
            let p = prob_beta_greater(a, b, c, d);
            assert!((p - brute(a, b, c, d)).abs() < 1e-6, "{a} {b} {c} {d}: {p}");
            assert!((p + prob_beta_greater(c, d, a, b) - 1.0).abs() < 1e-10);
        }
        assert!((prob_beta_greater(1.0, 1.0, 1.0, 1.0) - 0.5).abs() < 1e-13);
    }

    #[test]
    fn large_counts_are_stable() {
        // 4 % vs 4.2 % on a million customers each: many terms, still a probability.
        let p = prob_beta_greater(42_001.0, 958_001.0, 40_001.0, 960_001.0);
        let (m1, v1) = beta_moments(42_001.0, 958_001.0);
        let (m2, v2) = beta_moments(40_001.0, 960_001.0);
        let normal = dist::norm_cdf((m1 - m2) / (v1 + v2).sqrt());
        assert!(
            p > 0.999_999 && p <= 1.0 && (p - normal).abs() < 1e-6,
            "{p} {normal}"
        );
    }

    #[test]
    fn an_effect_prior_shrinks_the_posterior() {
        let t = Summary::from_moments(100, 2.0, 4.0);
        let c = Summary::from_moments(100, 1.5, 4.0);
        let with = |sd: f64| BayesOptions {
            effect_prior: Some(EffectPrior { mean: 0.0, sd }),
            ..BayesOptions::default()
        };
        // d = 0.5, se² = 0.08; prior N(0, 0.2²): 1/s² = 12.5 + 25, m = 6.25/37.5.
        let r = normal_means(&t, &c, &with(0.2)).unwrap();
        assert!((r.estimate - 1.0 / 6.0).abs() < 1e-12);
        let s = (1.0f64 / 37.5).sqrt();
        let h = dist::norm_isf(0.025) * s;
        assert!((r.ci_low - (1.0 / 6.0 - h)).abs() < 1e-12);
        // math.erf: Φ(1.0206207261596576) = 0.8462829...
        assert!((r.prob_treatment_better - 0.846_282_9).abs() < 1e-6);
        assert!((r.expected_loss_treatment - r.expected_loss_control + r.estimate).abs() < 1e-12);
        // A very wide prior is the flat one.
        let flat = normal_means(&t, &c, &BayesOptions::default()).unwrap();
        let wide = normal_means(&t, &c, &with(1e6)).unwrap();
        assert!((wide.prob_treatment_better - flat.prob_treatment_better).abs() < 1e-9);
        assert!(normal_means(&t, &c, &with(0.0)).is_err());
        assert!(normal_means(&t, &c, &with(f64::NAN)).is_err());
        assert!(beta_binomial(5, 10, 4, 10, &with(0.1)).is_err());
    }

    #[test]
    fn losses_and_decisions() {
        let o = BayesOptions::default();
        let same = beta_binomial(50, 1000, 50, 1000, &o).unwrap();
        assert!((same.prob_treatment_better - 0.5).abs() < 1e-10);
        assert!((same.expected_loss_treatment - same.expected_loss_control).abs() < 1e-10);
        assert!(!same.reject);
        // Loss of choosing T minus loss of choosing C is E[C − T].
        let r = beta_binomial(30, 500, 45, 500, &o).unwrap();
        assert!((r.expected_loss_treatment - r.expected_loss_control + r.estimate).abs() < 1e-10);
        assert!(beta_binomial(3, 2, 1, 2, &o).is_err());
        let n = normal_means(
            &Summary::from_moments(50, 1.0, 1.0),
            &Summary::from_moments(50, 1.0, 1.0),
            &o,
        )
        .unwrap();
        assert_eq!(n.prob_treatment_better, 0.5);
        let t = Summary::from_moments(100, 2.0, 4.0);
        let c = Summary::from_moments(80, 1.5, 2.0);
        let n = normal_means(&t, &c, &o).unwrap();
        assert!((n.expected_loss_treatment - n.expected_loss_control + n.estimate).abs() < 1e-12);
    }
    #[test]
    fn metric_priors_parse_and_refuse_with_the_allowed_forms() {
        let p: MetricPrior = " converted = beta: 2, 8".parse().unwrap();
        assert_eq!(p.metric, "converted");
        assert_eq!(p.law, PriorLaw::Beta { a: 2.0, b: 8.0 });
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["prior"]["law"], "beta");
        for (text, why) in [
            ("x=normal:0,-1", "sd finite and > 0"),
            ("x=normal:inf,1", "the mean must be finite"),
            ("x=normal:0,NaN", "sd finite and > 0"),
            ("x=beta:0,1", "both shapes"),
            ("x=beta:1,inf", "both shapes"),
            ("x=gamma:1,2", "not normal or beta"),
            ("x=beta:1", "two parameters"),
            ("x=beta:1,2,3", "two parameters"),
            ("x=normal:a,1", "not numbers"),
            ("=normal:0,1", "no metric"),
            ("x=normal", "no `:`"),
            ("x", "no `=`"),
        ] {
            let e = text.parse::<MetricPrior>().unwrap_err();
            assert!(e.contains(why) && e.contains(PRIOR_FORMS), "{text}: {e}");
        }
    }
}
