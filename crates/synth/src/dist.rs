//! The distributions a metric can follow: parameters, moments, sampling and probabilities.
//!
//! Sampling uses `rand_distr`; probabilities (for the ground truth) use `statrs`.
//! Negative binomial follows the `numpy`/`statrs` convention: the number of failures
//! before the `r`-th success with success probability `p`, mean `r(1-p)/p`; it is sampled
//! as a Gamma–Poisson mixture, which allows a real `r`.

use rand::Rng;
use rand_distr::Distribution as _;
use statrs::distribution::{Continuous, ContinuousCDF, Discrete, DiscreteCDF};

/// The family of a metric's distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DistKind {
    /// Poisson(`lambda`): counts.
    Poisson,
    /// Gamma(`shape`, `scale`): positive amounts.
    Gamma,
    /// Bernoulli(`p`): conversions, 0 or 1.
    Bernoulli,
    /// LogNormal(`mu`, `sigma`) of the log: heavy-tailed amounts.
    Lognormal,
    /// Normal(`mean`, `sd`).
    Normal,
    /// Negative binomial(`r`, `p`): over-dispersed counts.
    NegativeBinomial,
}

impl DistKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [DistKind; 6] = [
        DistKind::Poisson,
        DistKind::Gamma,
        DistKind::Bernoulli,
        DistKind::Lognormal,
        DistKind::Normal,
        DistKind::NegativeBinomial,
    ];

    /// The name used in blueprints.
    pub fn name(self) -> &'static str {
        match self {
            DistKind::Poisson => "poisson",
            DistKind::Gamma => "gamma",
            DistKind::Bernoulli => "bernoulli",
            DistKind::Lognormal => "lognormal",
            DistKind::Normal => "normal",
            DistKind::NegativeBinomial => "negative_binomial",
        }
    }

    /// Parses a blueprint name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Parameter names, in order.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            DistKind::Poisson => &["lambda"],
            DistKind::Gamma => &["shape", "scale"],
            DistKind::Bernoulli => &["p"],
            DistKind::Lognormal => &["mu", "sigma"],
            DistKind::Normal => &["mean", "sd"],
            DistKind::NegativeBinomial => &["r", "p"],
        }
    }

    /// What each parameter allows, as said in error messages, in [`DistKind::params`] order.
    pub fn param_ranges(self) -> &'static [&'static str] {
        match self {
            DistKind::Poisson => &["a number in (0, 1e12]"],
            DistKind::Gamma => &["a number > 0", "a number > 0"],
            DistKind::Bernoulli => &["a number in [0, 1]"],
            DistKind::Lognormal => &["a finite number, |mu| <= 700", "a number in (0, 20]"],
            DistKind::Normal => &["a finite number", "a number > 0"],
            DistKind::NegativeBinomial => &["a number > 0", "a number in (0, 1]"],
        }
    }

    /// Whether values are integers (an Int64 column) rather than reals (Float64).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DistKind::Poisson | DistKind::Bernoulli | DistKind::NegativeBinomial
        )
    }

    /// Whether `value` is allowed for parameter number `i`.
    pub fn param_ok(self, i: usize, v: f64) -> bool {
        if !v.is_finite() {
            return false;
        }
        match (self, i) {
            (DistKind::Poisson, 0) => v > 0.0 && v <= 1e12,
            (DistKind::Gamma, _) => v > 0.0,
            (DistKind::Bernoulli, 0) => (0.0..=1.0).contains(&v),
            (DistKind::Lognormal, 0) => v.abs() <= 700.0,
            (DistKind::Lognormal, 1) => v > 0.0 && v <= 20.0,
            (DistKind::Normal, 0) => true,
            (DistKind::Normal, 1) => v > 0.0,
            (DistKind::NegativeBinomial, 0) => v > 0.0,
            (DistKind::NegativeBinomial, 1) => v > 0.0 && v <= 1.0,
            _ => false,
        }
    }
}

/// The largest gamma shape, Poisson rate or negative binomial mean whose CDF abforge
/// evaluates (see [`Dist::cdf_cost`]).
pub const MAX_CDF_SCALE: f64 = 1e7;

/// A distribution with every parameter fixed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Poisson.
    Poisson {
        /// Mean and variance.
        lambda: f64,
    },
    /// Gamma with shape `k` and scale `θ`: mean `kθ`, variance `kθ²`.
    Gamma {
        /// Shape.
        shape: f64,
        /// Scale.
        scale: f64,
    },
    /// Bernoulli.
    Bernoulli {
        /// Probability of a 1.
        p: f64,
    },
    /// `exp(N(mu, sigma²))`.
    Lognormal {
        /// Mean of the log.
        mu: f64,
        /// Standard deviation of the log.
        sigma: f64,
    },
    /// Normal.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Failures before the `r`-th success.
    NegativeBinomial {
        /// Number of successes (real, > 0).
        r: f64,
        /// Success probability.
        p: f64,
    },
}

impl Dist {
    /// Builds a distribution of `kind` from its parameters in [`DistKind::params`] order.
    ///
    /// # Errors
    /// Names the first parameter outside its range.
    pub fn new(kind: DistKind, v: &[f64]) -> Result<Self, String> {
        if v.len() != kind.params().len() {
            return Err(format!(
                "{} takes {} parameters",
                kind.name(),
                kind.params().len()
            ));
        }
        for (i, x) in v.iter().enumerate() {
            if !kind.param_ok(i, *x) {
                return Err(format!(
                    "{} = {x} is out of range: {} must be {}",
                    kind.params()[i],
                    kind.params()[i],
                    kind.param_ranges()[i]
                ));
            }
        }
        let d = match kind {
            DistKind::Poisson => Dist::Poisson { lambda: v[0] },
            DistKind::Gamma => Dist::Gamma {
                shape: v[0],
                scale: v[1],
            },
            DistKind::Bernoulli => Dist::Bernoulli { p: v[0] },
            DistKind::Lognormal => Dist::Lognormal {
                mu: v[0],
                sigma: v[1],
            },
            DistKind::Normal => Dist::Normal {
                mean: v[0],
                sd: v[1],
            },
            DistKind::NegativeBinomial => Dist::NegativeBinomial { r: v[0], p: v[1] },
        };
        // Each parameter can be in range while the moments overflow (a lognormal with
        // mu = 700 and sigma = 20): such a law has no truth to check tests against.
        if !(d.mean().is_finite() && d.variance().is_finite() && d.mean().abs() <= 1e300) {
            return Err(format!(
                "{} with these parameters has a mean or variance beyond floating point \
                 (mean {}, variance {}); use smaller parameters",
                kind.name(),
                d.mean(),
                d.variance()
            ));
        }
        Ok(d)
    }

    /// The family.
    pub fn kind(&self) -> DistKind {
        match self {
            Dist::Poisson { .. } => DistKind::Poisson,
            Dist::Gamma { .. } => DistKind::Gamma,
            Dist::Bernoulli { .. } => DistKind::Bernoulli,
            Dist::Lognormal { .. } => DistKind::Lognormal,
            Dist::Normal { .. } => DistKind::Normal,
            Dist::NegativeBinomial { .. } => DistKind::NegativeBinomial,
        }
    }

    /// Parameter values in [`DistKind::params`] order.
    pub fn values(&self) -> Vec<f64> {
        match *self {
            Dist::Poisson { lambda } => vec![lambda],
            Dist::Gamma { shape, scale } => vec![shape, scale],
            Dist::Bernoulli { p } => vec![p],
            Dist::Lognormal { mu, sigma } => vec![mu, sigma],
            Dist::Normal { mean, sd } => vec![mean, sd],
            Dist::NegativeBinomial { r, p } => vec![r, p],
        }
    }

    /// Mean of the distribution.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Poisson { lambda } => lambda,
            Dist::Gamma { shape, scale } => shape * scale,
            Dist::Bernoulli { p } => p,
            Dist::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Normal { mean, .. } => mean,
            Dist::NegativeBinomial { r, p } => r * (1.0 - p) / p,
        }
    }

    /// Variance of the distribution.
    pub fn variance(&self) -> f64 {
        match *self {
            Dist::Poisson { lambda } => lambda,
            Dist::Gamma { shape, scale } => shape * scale * scale,
            Dist::Bernoulli { p } => p * (1.0 - p),
            Dist::Lognormal { mu, sigma } => {
                let s2 = sigma * sigma;
                s2.exp_m1() * (2.0 * mu + s2).exp()
            }
            Dist::Normal { sd, .. } => sd * sd,
            Dist::NegativeBinomial { r, p } => r * (1.0 - p) / (p * p),
        }
    }

    /// The same family with the mean moved to `target`, keeping the shape-like parameter
    /// (Gamma's shape, LogNormal's sigma, Normal's sd, the negative binomial's `r`).
    ///
    /// # Errors
    /// When no parameters of this family have that mean (e.g. a Bernoulli `p` above 1).
    pub fn with_mean(&self, target: f64) -> Result<Dist, String> {
        let out = match *self {
            Dist::Poisson { .. } => Dist::Poisson { lambda: target },
            Dist::Gamma { shape, .. } => Dist::Gamma {
                shape,
                scale: target / shape,
            },
            Dist::Bernoulli { .. } => Dist::Bernoulli { p: target },
            Dist::Lognormal { sigma, .. } => {
                if target <= 0.0 {
                    return Err(format!(
                        "a lognormal mean must be > 0, the lift asks for {target}"
                    ));
                }
                Dist::Lognormal {
                    mu: target.ln() - sigma * sigma / 2.0,
                    sigma,
                }
            }
            Dist::Normal { sd, .. } => Dist::Normal { mean: target, sd },
            Dist::NegativeBinomial { r, .. } => Dist::NegativeBinomial {
                r,
                p: r / (r + target),
            },
        };
        let kind = out.kind();
        for (i, v) in out.values().iter().enumerate() {
            if !kind.param_ok(i, *v) {
                return Err(format!(
                    "the lift needs a {} mean of {target}, which gives {} = {v}, outside {}",
                    kind.name(),
                    kind.params()[i],
                    kind.param_ranges()[i]
                ));
            }
        }
        Ok(out)
    }

    /// A sampler for this distribution.
    pub fn sampler(&self) -> Sampler {
        // Parameters were validated by `Dist::new`/`with_mean`; the constructors cannot fail.
        match *self {
            Dist::Poisson { lambda } => {
                Sampler::Poisson(rand_distr::Poisson::new(lambda).expect("validated"))
            }
            Dist::Gamma { shape, scale } => {
                Sampler::Gamma(rand_distr::Gamma::new(shape, scale).expect("validated"))
            }
            Dist::Bernoulli { p } => {
                Sampler::Bernoulli(rand_distr::Bernoulli::new(p).expect("validated"))
            }
            Dist::Lognormal { mu, sigma } => {
                Sampler::Lognormal(rand_distr::LogNormal::new(mu, sigma).expect("validated"))
            }
            Dist::Normal { mean, sd } => {
                Sampler::Normal(rand_distr::Normal::new(mean, sd).expect("validated"))
            }
            Dist::NegativeBinomial { r, p } => {
                if p >= 1.0 {
                    Sampler::Zero
                } else {
                    Sampler::GammaPoisson(
                        rand_distr::Gamma::new(r, (1.0 - p) / p).expect("validated"),
                    )
                }
            }
        }
    }

    // ---- probabilities, for the ground truth ----

    /// P(X = k) for an integer distribution.
    pub(crate) fn pmf(&self, k: u64) -> f64 {
        match *self {
            Dist::Poisson { lambda } => statrs::distribution::Poisson::new(lambda)
                .expect("validated")
                .pmf(k),
            Dist::Bernoulli { p } => match k {
                0 => 1.0 - p,
                1 => p,
                _ => 0.0,
            },
            // statrs gives NaN at p = 1 (0·ln 0): the law is a point mass at 0.
            Dist::NegativeBinomial { p, .. } if p >= 1.0 => f64::from(u8::from(k == 0)),
            Dist::NegativeBinomial { r, p } => statrs::distribution::NegativeBinomial::new(r, p)
                .expect("validated")
                .pmf(k),
            _ => 0.0,
        }
    }

    /// P(X <= k) for an integer distribution.
    pub(crate) fn cdf_int(&self, k: u64) -> f64 {
        match *self {
            Dist::Poisson { lambda } => statrs::distribution::Poisson::new(lambda)
                .expect("validated")
                .cdf(k),
            Dist::Bernoulli { p } => {
                if k == 0 {
                    1.0 - p
                } else {
                    1.0
                }
            }
            Dist::NegativeBinomial { p, .. } if p >= 1.0 => 1.0,
            Dist::NegativeBinomial { r, p } => statrs::distribution::NegativeBinomial::new(r, p)
                .expect("validated")
                .cdf(k),
            _ => f64::NAN,
        }
    }

    /// P(X < y) for an integer distribution and any real `y`.
    pub(crate) fn prob_below(&self, y: f64) -> f64 {
        if y <= 0.0 {
            0.0
        } else {
            let k = y.ceil() - 1.0;
            if k >= u64::MAX as f64 {
                1.0
            } else {
                self.cdf_int(k as u64)
            }
        }
    }

    /// P(X = y) for an integer distribution and any real `y`.
    pub(crate) fn prob_at(&self, y: f64) -> f64 {
        if y < 0.0 || y.fract() != 0.0 || y >= u64::MAX as f64 {
            0.0
        } else {
            self.pmf(y as u64)
        }
    }

    /// Density of a continuous distribution.
    pub(crate) fn pdf(&self, x: f64) -> f64 {
        match *self {
            Dist::Gamma { shape, scale } => statrs::distribution::Gamma::new(shape, 1.0 / scale)
                .expect("validated")
                .pdf(x),
            Dist::Lognormal { mu, sigma } => statrs::distribution::LogNormal::new(mu, sigma)
                .expect("validated")
                .pdf(x),
            Dist::Normal { mean, sd } => statrs::distribution::Normal::new(mean, sd)
                .expect("validated")
                .pdf(x),
            _ => f64::NAN,
        }
    }

    /// P(X <= x) of a continuous distribution.
    pub(crate) fn cdf(&self, x: f64) -> f64 {
        match *self {
            Dist::Gamma { shape, scale } => {
                if x <= 0.0 {
                    0.0
                } else {
                    statrs::distribution::Gamma::new(shape, 1.0 / scale)
                        .expect("validated")
                        .cdf(x)
                }
            }
            Dist::Lognormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    statrs::distribution::LogNormal::new(mu, sigma)
                        .expect("validated")
                        .cdf(x)
                }
            }
            Dist::Normal { mean, sd } => statrs::distribution::Normal::new(mean, sd)
                .expect("validated")
                .cdf(x),
            _ => f64::NAN,
        }
    }

    /// The work of one CDF evaluation, in truth-budget units (one: about 64 terms of a
    /// series); `None` when it is not bounded. statrs' regularised incomplete gamma (behind
    /// the Gamma and Poisson CDFs) sums a series of about `8.5·√a` terms for a shape (or a
    /// count) `a` below `x`, but its continued fraction above `x` can run past 2³¹ terms
    /// (and overflow its counter) for `a` = 10¹², and its series never ends once `a + 1`
    /// rounds to `a`: past [`MAX_CDF_SCALE`] the cost is taken as unbounded.
    pub fn cdf_cost(&self) -> Option<u64> {
        let series = |a: f64| (a <= MAX_CDF_SCALE).then(|| 1 + (8.5 * a.sqrt() / 64.0) as u64);
        match *self {
            Dist::Gamma { shape, .. } => series(shape),
            Dist::Poisson { lambda } => series(lambda),
            // The incomplete beta's continued fraction: of the order of √mean terms.
            Dist::NegativeBinomial { .. } => series(self.mean()),
            _ => Some(1),
        }
    }

    /// The value at probability `u` (strictly between 0 and 1) of the law's inverse CDF,
    /// the smallest `x` with `P(X ≤ x) ≥ u`: what a uniform `u` becomes under this law.
    /// Integer laws search the CDF by bisection (see [`InverseTable`] for a faster way on
    /// short supports).
    pub fn inverse_cdf(&self, u: f64) -> f64 {
        match *self {
            Dist::Bernoulli { p } => f64::from(u8::from(u > 1.0 - p)),
            Dist::Poisson { .. } | Dist::NegativeBinomial { .. } => {
                let (mut lo, mut hi) = (
                    0u64,
                    (self.mean() + 10.0 * self.variance().sqrt()) as u64 + 1,
                );
                while self.cdf_int(hi) < u && hi < u64::MAX / 2 {
                    hi *= 2;
                }
                if self.cdf_int(0) >= u {
                    return 0.0;
                }
                // F(lo) < u <= F(hi).
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if self.cdf_int(mid) >= u {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                hi as f64
            }
            _ => self.quantile(u),
        }
    }

    /// The quantile of a continuous distribution.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        match *self {
            Dist::Gamma { shape, scale } => statrs::distribution::Gamma::new(shape, 1.0 / scale)
                .expect("validated")
                .inverse_cdf(q),
            Dist::Lognormal { mu, sigma } => statrs::distribution::LogNormal::new(mu, sigma)
                .expect("validated")
                .inverse_cdf(q),
            Dist::Normal { mean, sd } => statrs::distribution::Normal::new(mean, sd)
                .expect("validated")
                .inverse_cdf(q),
            _ => f64::NAN,
        }
    }
}

/// The CDF of an integer law tabulated over its support, for [`Dist::inverse_cdf`] by a
/// binary search of the table rather than of the CDF (a few dozen statrs evaluations per
/// value): supports up to [`InverseTable::MAX_LEN`] values are tabulated until the CDF
/// is within 1e-15 of 1; values past the table fall back to [`Dist::inverse_cdf`].
#[derive(Debug, Clone)]
pub struct InverseTable {
    dist: Dist,
    cdf: Vec<f64>,
}

impl InverseTable {
    /// Largest number of values tabulated.
    pub const MAX_LEN: usize = 1 << 16;

    /// The table of `dist` (empty for a continuous law, which has no support to tabulate).
    pub fn new(dist: Dist) -> Self {
        let mut cdf = Vec::new();
        if dist.kind().is_integer() {
            for k in 0..Self::MAX_LEN as u64 {
                let f = dist.cdf_int(k);
                cdf.push(f);
                if f >= 1.0 - 1e-15 {
                    break;
                }
            }
        }
        Self { dist, cdf }
    }

    /// No table: [`Dist::inverse_cdf`] itself, for laws too many to tabulate.
    pub fn untabulated(dist: Dist) -> Self {
        Self {
            dist,
            cdf: Vec::new(),
        }
    }

    /// [`Dist::inverse_cdf`] at `u`.
    #[inline]
    pub fn inverse_cdf(&self, u: f64) -> f64 {
        let k = self.cdf.partition_point(|f| *f < u);
        if k < self.cdf.len() {
            k as f64
        } else {
            self.dist.inverse_cdf(u)
        }
    }
}

/// A ready-to-draw distribution (see [`Dist::sampler`]).
#[derive(Debug, Clone, Copy)]
pub enum Sampler {
    /// Poisson.
    Poisson(rand_distr::Poisson<f64>),
    /// Gamma.
    Gamma(rand_distr::Gamma<f64>),
    /// Bernoulli.
    Bernoulli(rand_distr::Bernoulli),
    /// LogNormal.
    Lognormal(rand_distr::LogNormal<f64>),
    /// Normal.
    Normal(rand_distr::Normal<f64>),
    /// Negative binomial as Poisson(Gamma(r, (1-p)/p)).
    GammaPoisson(rand_distr::Gamma<f64>),
    /// Always 0 (a negative binomial with `p = 1`).
    Zero,
}

impl Sampler {
    /// One draw, as a real (integer families give whole numbers).
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Sampler::Poisson(d) => d.sample(rng),
            Sampler::Gamma(d) => d.sample(rng),
            Sampler::Bernoulli(d) => f64::from(u8::from(d.sample(rng))),
            Sampler::Lognormal(d) => d.sample(rng),
            Sampler::Normal(d) => d.sample(rng),
            Sampler::GammaPoisson(g) => {
                let lambda = g.sample(rng);
                if lambda > 0.0 {
                    match rand_distr::Poisson::new(lambda) {
                        Ok(p) => p.sample(rng),
                        Err(_) => lambda.round(),
                    }
                } else {
                    0.0
                }
            }
            Sampler::Zero => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_mean_moves_the_mean_exactly() {
        let cases = [
            Dist::Poisson { lambda: 2.0 },
            Dist::Gamma {
                shape: 3.0,
                scale: 10.0,
            },
            Dist::Bernoulli { p: 0.1 },
            Dist::Lognormal {
                mu: 1.0,
                sigma: 0.8,
            },
            Dist::Normal { mean: 5.0, sd: 2.0 },
            Dist::NegativeBinomial { r: 2.5, p: 0.3 },
        ];
        for d in cases {
            let target = d.mean() * 1.07;
            let e = d.with_mean(target).unwrap();
            assert!(
                (e.mean() - target).abs() < 1e-12 * target.abs().max(1.0),
                "{d:?} -> {e:?}"
            );
            assert_eq!(e.kind(), d.kind());
        }
    }

    #[test]
    fn with_mean_rejects_impossible_targets() {
        let err = Dist::Bernoulli { p: 0.8 }.with_mean(1.2).unwrap_err();
        assert!(err.contains("p = 1.2"), "{err}");
        assert!(Dist::Poisson { lambda: 1.0 }.with_mean(-1.0).is_err());
        assert!(
            Dist::Lognormal {
                mu: 0.0,
                sigma: 1.0
            }
            .with_mean(0.0)
            .is_err()
        );
    }

    #[test]
    fn laws_with_overflowing_moments_are_rejected() {
        let err = Dist::new(DistKind::Lognormal, &[700.0, 20.0]).unwrap_err();
        assert!(
            err.starts_with(
                "lognormal with these parameters has a mean or variance beyond floating point"
            ),
            "{err}"
        );
        assert!(Dist::new(DistKind::Gamma, &[1e200, 1e200]).is_err());
        assert!(Dist::new(DistKind::Lognormal, &[3.0, 1.5]).is_ok());
    }

    #[test]
    fn new_names_the_bad_parameter() {
        let err = Dist::new(DistKind::Gamma, &[1.0, -2.0]).unwrap_err();
        assert_eq!(
            err,
            "scale = -2 is out of range: scale must be a number > 0"
        );
        assert!(Dist::new(DistKind::Poisson, &[1.0, 2.0]).is_err());
        assert!(Dist::new(DistKind::Normal, &[f64::NAN, 1.0]).is_err());
    }

    #[test]
    fn integer_probabilities_are_consistent() {
        let d = Dist::NegativeBinomial { r: 2.0, p: 0.4 };
        let s: f64 = (0..200).map(|k| d.pmf(k)).sum();
        assert!((s - 1.0).abs() < 1e-12);
        assert!((d.prob_below(3.5) - d.cdf_int(3)).abs() < 1e-15);
        assert_eq!(d.prob_below(0.0), 0.0);
        assert_eq!(d.prob_at(2.5), 0.0);
        assert!((d.prob_at(2.0) - d.pmf(2)).abs() < 1e-15);
    }
}
