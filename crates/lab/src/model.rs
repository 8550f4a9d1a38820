//! A resolved blueprint made ready for the replication loop: samplers per segment cell and
//! arm, and per treatment arm the truth every test is judged against and its analytic power.

use crate::method::{Method, MetricClass, Null};
use abforge_stats::{
    NormalIndPower, PoissonPowerOptions, PowerOptions, TTestIndPower, poisson_ratio_power,
    proportions_power,
};
use abforge_synth::blueprint::MetricModel;
use abforge_synth::dist::{DistKind, Sampler};
use abforge_synth::generate::cumulative_weights;
use abforge_synth::truth::{QuantileEffect, Truth};
use abforge_synth::{Resolved, dist::Dist};
use std::collections::BTreeMap;

/// How one cell × arm draws its base values.
#[derive(Debug, Clone)]
pub(crate) enum Draw {
    /// synth's sampler (`rand_distr`).
    Sampler(Sampler),
    /// Walker's alias method over the support `0..prob.len()` of an integer law with a
    /// small mean (Poisson, negative binomial): one uniform and one comparison per draw,
    /// without the data-dependent loop of Knuth's Poisson sampler.
    Alias(Alias),
}

impl Draw {
    #[inline]
    pub(crate) fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Draw::Sampler(s) => s.sample(rng),
            Draw::Alias(a) => a.sample(rng),
        }
    }
}

/// An alias table (Walker 1977; Vose 1991) of a law on `0..n`.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    /// Probability of keeping column `i` rather than taking its alias.
    keep: Vec<f64>,
    alias: Vec<u32>,
}

/// Largest support an alias table is built for.
const ALIAS_MAX: usize = 1 << 14;

impl Alias {
    /// The table of `pmf` (summing to about 1; normalised here).
    fn new(pmf: &[f64]) -> Alias {
        let n = pmf.len();
        let total: f64 = pmf.iter().sum();
        let mut scaled: Vec<f64> = pmf.iter().map(|p| p * n as f64 / total).collect();
        let mut keep = vec![1.0; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            keep[s] = scaled[s];
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        Alias { keep, alias }
    }

    /// The table of a Poisson or negative binomial law with a mean of at most 256 (its
    /// support cut where the terms fall below 1e-18), or `None`.
    fn of(d: &Dist) -> Option<Alias> {
        // p(0) and the ratio p(k+1)/p(k).
        let (p0, ratio): (f64, Box<dyn Fn(f64) -> f64>) = match *d {
            Dist::Poisson { lambda } if lambda <= 256.0 => {
                ((-lambda).exp(), Box::new(move |k| lambda / (k + 1.0)))
            }
            Dist::NegativeBinomial { r, p } if p < 1.0 && d.mean() <= 256.0 => (
                p.powf(r),
                Box::new(move |k| (k + r) / (k + 1.0) * (1.0 - p)),
            ),
            _ => return None,
        };
        if p0.is_nan() || p0 <= 1e-300 {
            return None;
        }
        let mut pmf = vec![p0];
        let mut pk = p0;
        let mut k = 0.0;
        // Past the mean the terms fall at least geometrically: stop when they are below
        // 1e-18, leaving out a mass far below 2⁻⁵³.
        while k < d.mean() || pk > 1e-18 {
            pk *= ratio(k);
            k += 1.0;
            pmf.push(pk);
            if pmf.len() > ALIAS_MAX {
                break;
            }
        }
        (pmf.len() <= ALIAS_MAX).then(|| Alias::new(&pmf))
    }

    #[inline]
    fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // 53 random bits: the column from the integer part of u·n, the coin from the rest.
        let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let x = u * self.keep.len() as f64;
        let i = (x as usize).min(self.keep.len() - 1);
        let j = if x - (i as f64) < self.keep[i] {
            i
        } else {
            self.alias[i] as usize
        };
        j as f64
    }
}

/// One cell × arm: the sampler and the moments of the whole law there (zero-inflation and
/// offset included), for the pre-period twin.
#[derive(Debug, Clone)]
pub(crate) struct CellArm {
    pub sampler: Draw,
    pub mean: f64,
    pub sd: f64,
}

/// How to draw a customer's segment cell: the attributes the segments use, by their CDFs.
#[derive(Debug, Clone)]
pub(crate) struct Segments {
    /// (attribute index, CDF of its values; the last entry is +∞).
    pub attrs: Vec<(usize, Vec<f64>)>,
    /// Number of attributes of the blueprint.
    pub n_attrs: usize,
    pub model: MetricModel,
}

/// The truth of one treatment arm of one metric, and what follows for each test.
#[derive(Debug, Clone)]
pub(crate) struct ArmTruth {
    /// Equal means.
    pub mean_null: bool,
    /// `P(T > C) + ½P(T = C) = ½`.
    pub superiority_null: bool,
    pub abs_effect: f64,
    pub rel_effect: Option<f64>,
    /// `mean(T) / mean(C)`.
    pub ratio: Option<f64>,
    /// The true medians' difference and whether it is 0 (`None`: the truth has no p = 0.5
    /// quantile, as when its CDF is too costly to evaluate).
    pub median: Option<QuantileEffect>,
    /// Analytic power at the planned sizes, per method, where a formula exists and the
    /// method's null is false.
    pub analytic: BTreeMap<Method, f64>,
}

impl ArmTruth {
    /// Whether `null` holds (`None`: not known).
    pub(crate) fn null(&self, null: Null) -> Option<bool> {
        match null {
            Null::Mean => Some(self.mean_null),
            Null::Superiority => Some(self.superiority_null),
            Null::Median => self.median.map(|q| q.null),
        }
    }
}

/// One metric of a prepared replication.
#[derive(Debug, Clone)]
pub(crate) struct PMetric {
    pub name: String,
    pub pre_name: String,
    pub class: MetricClass,
    pub offset: f64,
    pub zero_inflation: f64,
    pub rho: Option<f64>,
    /// The control's group index.
    pub control: usize,
    /// `cells[cell][arm]`; the last cell is "no segment".
    pub cells: Vec<Vec<CellArm>>,
    pub segments: Option<Segments>,
    /// Per group; `None` for the control.
    pub arms: Vec<Option<ArmTruth>>,
}

/// Everything a replication needs from a resolved blueprint.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub metrics: Vec<PMetric>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn alias_tables_draw_the_law() {
        for d in [
            Dist::Poisson { lambda: 3.0 },
            Dist::NegativeBinomial { r: 2.0, p: 0.3 },
            Dist::Poisson { lambda: 0.01 },
        ] {
            let a = Alias::of(&d).unwrap();
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
            let n = 400_000;
            let xs: Vec<f64> = (0..n).map(|_| a.sample(&mut rng)).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
            let se = (d.variance() / n as f64).sqrt();
            assert!((m - d.mean()).abs() < 5.0 * se, "{d:?}: mean {m}");
            assert!((v / d.variance() - 1.0).abs() < 0.03, "{d:?}: variance {v}");
        }
        assert!(Alias::of(&Dist::Poisson { lambda: 1e6 }).is_none());
        assert!(
            Alias::of(&Dist::Gamma {
                shape: 2.0,
                scale: 1.0
            })
            .is_none()
        );
    }
}

/// The class of a resolved metric's values.
pub(crate) fn class_of(m: &MetricModel) -> MetricClass {
    if m.kind == DistKind::Bernoulli && m.offset == 0.0 {
        MetricClass::Binary
    } else if m.kind.is_integer() && m.offset >= 0.0 && m.offset.fract() == 0.0 {
        MetricClass::Count
    } else {
        MetricClass::Continuous
    }
}

/// The design a calibration runs: sizes, level and the methods per metric.
#[derive(Debug, Clone)]
pub(crate) struct Design {
    pub sizes: Vec<u64>,
    pub control: usize,
    pub alpha: f64,
    /// Indices into `Resolved::metrics` of the metrics calibrated.
    pub metric_indices: Vec<usize>,
    /// The methods run, per calibrated metric.
    pub methods: Vec<Vec<Method>>,
}

impl Prepared {
    pub(crate) fn new(resolved: &Resolved, truth: &Truth, design: &Design) -> Prepared {
        let bp = &resolved.blueprint;
        let metrics = design
            .metric_indices
            .iter()
            .zip(&design.methods)
            .map(|(&mi, methods)| {
                let m = &resolved.metrics[mi];
                let zi = m.zero_inflation;
                let cell = |d: &Dist| {
                    let mu = d.mean() + m.offset;
                    let mean = (1.0 - zi) * mu;
                    let m2 = (1.0 - zi) * (d.variance() + mu * mu);
                    CellArm {
                        sampler: Alias::of(d)
                            .map_or_else(|| Draw::Sampler(d.sampler()), Draw::Alias),
                        mean,
                        sd: (m2 - mean * mean).max(0.0).sqrt(),
                    }
                };
                let mut cells: Vec<Vec<CellArm>> = m
                    .segments
                    .iter()
                    .map(|s| s.arms.iter().map(cell).collect())
                    .collect();
                cells.push(m.base.iter().map(cell).collect());
                let segments = (!m.segments.is_empty()).then(|| {
                    let mut used: Vec<usize> = m
                        .segments
                        .iter()
                        .flat_map(|s| s.when.iter().map(|(a, _)| *a))
                        .collect();
                    used.sort_unstable();
                    used.dedup();
                    Segments {
                        attrs: used
                            .into_iter()
                            .map(|a| {
                                (
                                    a,
                                    cumulative_weights(
                                        bp.attributes[a].values.iter().map(|(_, w)| *w),
                                    ),
                                )
                            })
                            .collect(),
                        n_attrs: bp.attributes.len(),
                        model: m.clone(),
                    }
                });
                let class = class_of(m);
                let mt = truth.metrics.iter().find(|t| t.metric == m.name);
                let arms = bp
                    .groups
                    .iter()
                    .enumerate()
                    .map(|(g, (name, _))| {
                        if g == design.control {
                            return None;
                        }
                        let mt = mt?;
                        let e = mt.effects.iter().find(|e| e.group == *name)?;
                        let (mean_t, var_t) = (mt.groups[g].mean, mt.groups[g].variance);
                        let (mean_c, var_c) = (
                            mt.groups[design.control].mean,
                            mt.groups[design.control].variance,
                        );
                        let mut arm = ArmTruth {
                            mean_null: e.mean_null,
                            superiority_null: e.prob_superiority_null.unwrap_or(e.mean_null),
                            abs_effect: e.abs_effect,
                            rel_effect: e.rel_effect,
                            ratio: e.rel_effect.map(|r| 1.0 + r),
                            median: e.quantile_effects.iter().find(|q| q.p == 0.5).copied(),
                            analytic: BTreeMap::new(),
                        };
                        let ctx = PowerCtx {
                            n_t: design.sizes[g] as f64,
                            n_c: design.sizes[design.control] as f64,
                            alpha: design.alpha,
                            mean_t,
                            mean_c,
                            var_t,
                            var_c,
                        };
                        for &method in methods {
                            if arm.null(method.null()) != Some(false) {
                                continue;
                            }
                            if let Some(p) = ctx.power(method, class, m, e.prob_superiority) {
                                arm.analytic.insert(method, p);
                            }
                        }
                        Some(arm)
                    })
                    .collect();
                PMetric {
                    name: m.name.clone(),
                    pre_name: format!("pre_{}", m.name),
                    class,
                    offset: m.offset,
                    zero_inflation: zi,
                    rho: m.pre_correlation,
                    control: design.control,
                    cells,
                    segments,
                    arms,
                }
            })
            .collect();
        Prepared { metrics }
    }
}

/// What the analytic power formulas need.
struct PowerCtx {
    n_t: f64,
    n_c: f64,
    alpha: f64,
    mean_t: f64,
    mean_c: f64,
    var_t: f64,
    var_c: f64,
}

impl PowerCtx {
    fn opts(&self) -> PowerOptions {
        PowerOptions {
            alpha: self.alpha,
            ratio: self.n_c / self.n_t,
            ..PowerOptions::default()
        }
    }

    /// The normal-test power for a statistic whose mean is `shift` standard errors.
    fn normal_shift(&self, shift: f64) -> Option<f64> {
        let nobs = 1.0 / (1.0 / self.n_t + 1.0 / self.n_c);
        NormalIndPower
            .power(shift / nobs.sqrt(), self.n_t, &self.opts())
            .ok()
    }

    fn pooled_var(&self) -> f64 {
        ((self.n_t - 1.0) * self.var_t + (self.n_c - 1.0) * self.var_c)
            / (self.n_t + self.n_c - 2.0)
    }

    fn t_power(&self, var: f64) -> Option<f64> {
        if var <= 0.0 {
            return None;
        }
        let d = (self.mean_t - self.mean_c) / var.sqrt();
        TTestIndPower.power(d, self.n_t, &self.opts()).ok()
    }

    fn power(
        &self,
        method: Method,
        class: MetricClass,
        m: &MetricModel,
        prob_superiority: Option<f64>,
    ) -> Option<f64> {
        let diff = self.mean_t - self.mean_c;
        let se = (self.var_t / self.n_t + self.var_c / self.n_c).sqrt();
        match method {
            Method::WelchT | Method::StudentT => self.t_power(self.pooled_var()),
            Method::Bayes if class == MetricClass::Binary => {
                proportions_power(self.mean_t, self.mean_c, self.n_t, &self.opts()).ok()
            }
            Method::Bayes => (se > 0.0).then(|| self.normal_shift(diff / se)).flatten(),
            Method::TwoProportionZ => {
                proportions_power(self.mean_t, self.mean_c, self.n_t, &self.opts()).ok()
            }
            Method::PoissonRate => (self.mean_t > 0.0 && self.mean_c > 0.0)
                .then(|| {
                    poisson_ratio_power(
                        self.mean_t,
                        self.mean_c,
                        self.n_t,
                        &self.opts(),
                        &PoissonPowerOptions::default(),
                    )
                    .ok()
                })
                .flatten(),
            // Lin's regression has CUPED's asymptotic variance when the slopes are equal.
            Method::Cuped | Method::RegressionHc2 => {
                let rho = m.pre_correlation?;
                if !m.segments.is_empty() {
                    return None;
                }
                self.t_power(self.pooled_var() * (1.0 - rho * rho))
            }
            Method::RelativeLift => {
                if self.mean_c == 0.0 {
                    return None;
                }
                let (mt, mc) = (self.mean_t, self.mean_c);
                let se = (self.var_t / (self.n_t * mc * mc)
                    + mt * mt * self.var_c / (self.n_c * mc.powi(4)))
                .sqrt();
                (se > 0.0)
                    .then(|| self.normal_shift((mt / mc - 1.0) / se))
                    .flatten()
            }
            // Noether (1987): U is approximately normal with sd sqrt(n_t n_c (N + 1) / 12) ·
            // per pair; valid for continuous laws (no ties).
            Method::MannWhitneyU if class == MetricClass::Continuous && m.zero_inflation == 0.0 => {
                let p = prob_superiority?;
                let shift =
                    (12.0 * self.n_t * self.n_c / (self.n_t + self.n_c + 1.0)).sqrt() * (p - 0.5);
                self.normal_shift(shift)
            }
            _ => None,
        }
    }
}
