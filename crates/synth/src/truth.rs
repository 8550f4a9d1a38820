//! The ground truth of a resolved blueprint: what every test downstream is judged against.
//!
//! Per metric and group: the true mean and variance of the whole group (mixing over
//! segments, zero-inflation and offset); per treatment arm against the control: the true
//! absolute and relative effect on the mean and the Mann–Whitney estimand
//! `P(T > C) + ½·P(T = C)`, each with whether its null holds.
//!
//! The estimand is computed from each arm's law, a finite mixture of pieces (an atom at 0
//! for zero-inflation, and the base distribution shifted by the offset in each segment
//! cell): exact sums over the support for integer pieces, and adaptive double-exponential
//! quadrature (the `quadrature` crate) with a target error of 1e-11 for continuous pairs.

use crate::blueprint::{MetricModel, Resolved};
use crate::dist::Dist;
use serde::Serialize;

/// Relative tolerance under which an effect counts as exactly zero (float noise from
/// resolving a lift).
const NULL_TOL: f64 = 1e-9;

/// True mean and variance of one metric in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMoments {
    /// Group name.
    pub group: String,
    /// True mean.
    pub mean: f64,
    /// True variance.
    pub variance: f64,
}

/// A treatment arm against the control, for one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// The treatment arm.
    pub group: String,
    /// The control arm.
    pub control: String,
    /// `mean(T) − mean(C)`.
    pub abs_effect: f64,
    /// `mean(T) / mean(C) − 1`; `None` when the control mean is 0.
    pub rel_effect: Option<f64>,
    /// `P(T > C) + ½·P(T = C)` for independent draws (the Mann–Whitney estimand).
    pub prob_superiority: Option<f64>,
    /// Whether the means are equal (the null of t-, z- and rate tests).
    pub mean_null: bool,
    /// Whether `prob_superiority` is ½ (the null of the Mann–Whitney test).
    pub prob_superiority_null: Option<bool>,
    /// Whether the two groups follow exactly the same law.
    pub identical: bool,
}

/// The truth of one metric column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricTruth {
    /// Column name.
    pub metric: String,
    /// `poisson`, `gamma`, … or `pre_period` for a pre-period twin.
    pub distribution: String,
    /// Whether the column holds integers.
    pub integer: bool,
    /// Per group, in group order.
    pub groups: Vec<GroupMoments>,
    /// Per treatment arm, against the control.
    pub effects: Vec<Effect>,
}

/// Planned and realised share of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocation {
    /// Group name.
    pub group: String,
    /// Planned share (normalised `groups` weight).
    pub planned: f64,
    /// Share the generator realises in expectation.
    pub actual: f64,
}

/// The ground truth of a resolved blueprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    /// Experiment id.
    pub experiment_id: String,
    /// The seed it was resolved with.
    pub seed: u64,
    /// The control group.
    pub control_group: String,
    /// Allocation per group.
    pub allocation: Vec<Allocation>,
    /// Whether the realised split differs from the planned one (a sample-ratio mismatch).
    pub sample_ratio_mismatch: bool,
    /// One entry per metric column (pre-period twins included), in column order.
    pub metrics: Vec<MetricTruth>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece {
    /// A point mass at 0 (zero-inflation).
    Zero,
    /// `dist + shift`.
    Shifted(Dist, f64),
}

type Law = Vec<(f64, Piece)>;

impl Piece {
    fn mean(&self) -> f64 {
        match self {
            Piece::Zero => 0.0,
            Piece::Shifted(d, s) => d.mean() + s,
        }
    }
    fn second_moment(&self) -> f64 {
        match self {
            Piece::Zero => 0.0,
            Piece::Shifted(d, s) => d.variance() + (d.mean() + s).powi(2),
        }
    }
}

impl Resolved {
    /// Computes the ground truth.
    pub fn truth(&self) -> Truth {
        let bp = &self.blueprint;
        let ctrl = bp.control_index();
        let planned = bp.planned_allocation();
        let actual = bp.actual_allocation();
        let allocation = bp
            .groups
            .iter()
            .zip(planned.iter().zip(&actual))
            .map(|((g, _), (p, a))| Allocation {
                group: g.clone(),
                planned: *p,
                actual: *a,
            })
            .collect();
        let srm = planned
            .iter()
            .zip(&actual)
            .any(|(p, a)| (p - a).abs() > 1e-12);
        let mut metrics = Vec::new();
        for m in &self.metrics {
            let cells = self.cell_weights(m);
            let laws: Vec<Law> = (0..bp.groups.len())
                .map(|arm| law(m, arm, &cells))
                .collect();
            let moments: Vec<(f64, f64)> = laws.iter().map(moments).collect();
            let effects = bp
                .groups
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != ctrl)
                .map(|(i, (g, _))| {
                    let identical = laws[i] == laws[ctrl];
                    let p = if identical {
                        0.5
                    } else {
                        superiority(&laws[i], &laws[ctrl])
                    };
                    effect(
                        g,
                        &bp.control_group,
                        moments[i].0,
                        moments[ctrl].0,
                        Some(p),
                        identical,
                    )
                })
                .collect();
            metrics.push(MetricTruth {
                metric: m.name.clone(),
                distribution: m.kind.name().into(),
                integer: m.kind.is_integer(),
                groups: bp
                    .groups
                    .iter()
                    .zip(&moments)
                    .map(|((g, _), (mean, var))| GroupMoments {
                        group: g.clone(),
                        mean: *mean,
                        variance: *var,
                    })
                    .collect(),
                effects,
            });
            if m.pre_correlation.is_some() {
                // The twin has the control's mean and variance in every cell, in every group:
                // no treatment has happened in the pre-period.
                let (mean, var) = moments[ctrl];
                metrics.push(MetricTruth {
                    metric: format!("pre_{}", m.name),
                    distribution: "pre_period".into(),
                    integer: false,
                    groups: bp
                        .groups
                        .iter()
                        .map(|(g, _)| GroupMoments {
                            group: g.clone(),
                            mean,
                            variance: var,
                        })
                        .collect(),
                    effects: bp
                        .groups
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != ctrl)
                        .map(|(_, (g, _))| effect(g, &bp.control_group, mean, mean, None, false))
                        .collect(),
                });
            }
        }
        Truth {
            experiment_id: bp.id.clone(),
            seed: bp.seed,
            control_group: bp.control_group.clone(),
            allocation,
            sample_ratio_mismatch: srm,
            metrics,
        }
    }

    /// Probability of each segment cell of `m` (index `segments.len()` is "no segment").
    pub(crate) fn cell_weights(&self, m: &MetricModel) -> Vec<f64> {
        let attrs = &self.blueprint.attributes;
        let mut out = vec![0.0; m.segments.len() + 1];
        let mut used: Vec<usize> = m
            .segments
            .iter()
            .flat_map(|s| s.when.iter().map(|(a, _)| *a))
            .collect();
        used.sort_unstable();
        used.dedup();
        let probs: Vec<Vec<f64>> = attrs
            .iter()
            .map(|a| {
                let t: f64 = a.values.iter().map(|(_, w)| w).sum();
                a.values.iter().map(|(_, w)| w / t).collect()
            })
            .collect();
        let mut idx = vec![0u16; attrs.len()];
        loop {
            let p: f64 = used
                .iter()
                .map(|a| probs[*a][usize::from(idx[*a])])
                .product();
            out[m.cell(&idx).unwrap_or(m.segments.len())] += p;
            // Odometer over the attributes the segments use.
            let mut carry = true;
            for a in &used {
                if !carry {
                    break;
                }
                idx[*a] += 1;
                if usize::from(idx[*a]) == probs[*a].len() {
                    idx[*a] = 0;
                } else {
                    carry = false;
                }
            }
            if carry {
                break;
            }
        }
        out
    }
}

fn effect(group: &str, control: &str, mt: f64, mc: f64, p: Option<f64>, identical: bool) -> Effect {
    let abs = mt - mc;
    let scale = mt.abs().max(mc.abs()).max(1e-300);
    let mean_null = identical || abs.abs() <= NULL_TOL * scale;
    Effect {
        group: group.into(),
        control: control.into(),
        abs_effect: if mean_null { 0.0 } else { abs },
        rel_effect: (mc != 0.0).then(|| if mean_null { 0.0 } else { mt / mc - 1.0 }),
        prob_superiority: p.map(|p| if identical { 0.5 } else { p }),
        mean_null,
        prob_superiority_null: p.map(|p| identical || (p - 0.5).abs() <= NULL_TOL),
        identical,
    }
}

fn law(m: &MetricModel, arm: usize, cells: &[f64]) -> Law {
    let mut out = Vec::new();
    for (c, w) in cells.iter().enumerate() {
        if *w <= 0.0 {
            continue;
        }
        let d = if c < m.segments.len() {
            m.segments[c].arms[arm]
        } else {
            m.base[arm]
        };
        if m.zero_inflation > 0.0 {
            out.push((w * m.zero_inflation, Piece::Zero));
        }
        out.push((w * (1.0 - m.zero_inflation), Piece::Shifted(d, m.offset)));
    }
    out
}

fn moments(l: &Law) -> (f64, f64) {
    let mean: f64 = l.iter().map(|(w, p)| w * p.mean()).sum();
    let m2: f64 = l.iter().map(|(w, p)| w * p.second_moment()).sum();
    (mean, (m2 - mean * mean).max(0.0))
}

/// `P(T > C) + ½·P(T = C)` for independent `T ~ t`, `C ~ c`.
fn superiority(t: &Law, c: &Law) -> f64 {
    let mut s = 0.0;
    for (wt, pt) in t {
        for (wc, pc) in c {
            s += wt * wc * pair(pt, pc);
        }
    }
    s.clamp(0.0, 1.0)
}

fn pair(t: &Piece, c: &Piece) -> f64 {
    match (t, c) {
        (Piece::Zero, Piece::Zero) => 0.5,
        (Piece::Zero, Piece::Shifted(d, s)) => atom_vs(0.0, d, *s),
        (Piece::Shifted(..), Piece::Zero) => 1.0 - pair(c, t),
        (Piece::Shifted(dt, st), Piece::Shifted(dc, sc)) => {
            if dt == dc && st == sc {
                return 0.5;
            }
            let delta = st - sc;
            match (dt.kind().is_integer(), dc.kind().is_integer()) {
                (true, true) => integer_pair(dt, dc, delta),
                (true, false) => support(dt)
                    .map(|k| dt.pmf(k) * dc.cdf(k as f64 + delta))
                    .sum(),
                (false, true) => 1.0 - pair(c, t),
                (false, false) => closed_form_pair(dt, dc, delta)
                    .unwrap_or_else(|| continuous_pair(dt, dc, delta)),
            }
        }
    }
}

/// `P(T + δ > C)` in closed form where one exists, `None` otherwise:
///
/// * Normal vs Normal, any δ: `Φ((μ_T + δ − μ_C) / sqrt(σ_T² + σ_C²))`.
/// * LogNormal vs LogNormal, δ = 0: the same on the log scale.
/// * Gamma(a, θ_T) vs Gamma(b, θ_C), δ = 0: with `U ~ Γ(a)`, `V ~ Γ(b)`, `U/(U+V) ~ Beta(a, b)`,
///   so `P(θ_T U > θ_C V) = I_{θ_T/(θ_T+θ_C)}(b, a)` (regularised incomplete beta; this form
///   keeps full precision in both tails).
///
/// One special-function call instead of an adaptive quadrature: this is what makes the truth
/// of a typical blueprint cost microseconds (the params API computes one per PUT).
fn closed_form_pair(t: &Dist, c: &Dist, delta: f64) -> Option<f64> {
    let phi = |z: f64| 0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2);
    match (*t, *c) {
        (Dist::Normal { mean: mt, sd: st }, Dist::Normal { mean: mc, sd: sc }) => {
            Some(phi((mt + delta - mc) / st.hypot(sc)))
        }
        (Dist::Lognormal { mu: mt, sigma: st }, Dist::Lognormal { mu: mc, sigma: sc })
            if delta == 0.0 =>
        {
            Some(phi((mt - mc) / st.hypot(sc)))
        }
        (
            Dist::Gamma {
                shape: a,
                scale: theta_t,
            },
            Dist::Gamma {
                shape: b,
                scale: theta_c,
            },
        ) if delta == 0.0 => {
            let x = theta_t / (theta_t + theta_c);
            let p = statrs::function::beta::beta_reg(b, a, x);
            p.is_finite().then_some(p.clamp(0.0, 1.0))
        }
        _ => None,
    }
}

/// `Σ_k P(T = k)·[P(C < k + δ) + ½·P(C = k + δ)]` over `T`'s support.
///
/// Walks `k` upward keeping `P(C ≤ m)` as a compensated running sum of `C`'s pmf, so a
/// support of n integers costs O(n) pmf evaluations and a handful of CDF calls: a Poisson
/// of rate 1e9 (1.6 M support points) takes a fraction of a second instead of minutes of
/// incomplete-gamma evaluations. Long jumps (a zero-probability stretch) restart the sum
/// from an exact CDF.
fn integer_pair(dt: &Dist, dc: &Dist, delta: f64) -> f64 {
    /// `P(C ≤ m)` for non-decreasing `m`.
    struct RunningCdf<'a> {
        d: &'a Dist,
        upto: Option<u64>,
        sum: f64,
        compensation: f64,
    }
    impl RunningCdf<'_> {
        fn at(&mut self, m: u64) -> f64 {
            match self.upto {
                Some(u) if m <= u => {}
                Some(u) if m - u <= 64 => {
                    for j in u + 1..=m {
                        // Neumaier summation: the terms are tiny against the sum.
                        let x = self.d.pmf(j);
                        let t = self.sum + x;
                        self.compensation += if self.sum.abs() >= x.abs() {
                            (self.sum - t) + x
                        } else {
                            (x - t) + self.sum
                        };
                        self.sum = t;
                    }
                    self.upto = Some(m);
                }
                _ => {
                    self.sum = self.d.cdf_int(m);
                    self.compensation = 0.0;
                    self.upto = Some(m);
                }
            }
            (self.sum + self.compensation).clamp(0.0, 1.0)
        }
    }
    let mut c = RunningCdf {
        d: dc,
        upto: None,
        sum: 0.0,
        compensation: 0.0,
    };
    let mut s = 0.0;
    for k in support(dt) {
        let p = dt.pmf(k);
        if p == 0.0 {
            continue;
        }
        let x = k as f64 + delta;
        let (below, at) = if x < 0.0 || x >= u64::MAX as f64 {
            (if x < 0.0 { 0.0 } else { 1.0 }, 0.0)
        } else if x.fract() == 0.0 {
            let m = x as u64;
            let below = if m == 0 { 0.0 } else { c.at(m - 1) };
            (below, dc.pmf(m))
        } else {
            (c.at(x.floor() as u64), 0.0)
        };
        s += p * (below + 0.5 * at);
    }
    s
}

/// `P(a > D + s) + ½·P(a = D + s)`.
fn atom_vs(a: f64, d: &Dist, s: f64) -> f64 {
    if d.kind().is_integer() {
        d.prob_below(a - s) + 0.5 * d.prob_at(a - s)
    } else {
        d.cdf(a - s)
    }
}

/// The integers carrying all but ~1e-16 of an integer distribution's mass.
fn support(d: &Dist) -> impl Iterator<Item = u64> {
    let (mean, sd) = (d.mean(), d.variance().sqrt());
    let lo = (mean - 40.0 * sd).floor().max(0.0) as u64;
    let mut hi = (mean + 12.0 * sd + 10.0).ceil() as u64;
    let mut step = hi.max(16);
    while 1.0 - d.cdf_int(hi) > 1e-16 && step < u64::MAX / 4 {
        hi = hi.saturating_add(step);
        step = step.saturating_mul(2);
    }
    lo..=hi
}

/// `P(T + delta > C)` for continuous `T` and `C`.
///
/// Computed both as `∫ f_T(x) F_C(x + delta) dx` and as `1 − ∫ f_C(y) F_T(y − delta) dy`;
/// the one with the smaller error estimate is kept (integrating over the narrower law
/// keeps the other's CDF smooth). Each integral runs over the law's own scale (`log x` for
/// Gamma and LogNormal, so tiny and huge shapes are both well resolved), between its
/// 1e-15 quantiles, cut into panels at equal steps and at the other law's quantiles (where
/// its CDF climbs), each panel by double-exponential quadrature.
fn continuous_pair(t: &Dist, c: &Dist, delta: f64) -> f64 {
    let (a, ea) = expect_cdf(t, c, delta);
    let (b, eb) = expect_cdf(c, t, -delta);
    if ea <= eb { a } else { 1.0 - b }
}

/// `∫ f_T(x) F_C(x + delta) dx` and its error estimate.
fn expect_cdf(t: &Dist, c: &Dist, delta: f64) -> (f64, f64) {
    let log_scale = !matches!(t, Dist::Normal { .. });
    let to_u = |x: f64| if log_scale { x.ln() } else { x };
    let to_x = |u: f64| if log_scale { u.exp() } else { u };
    let bound = |q: f64, fallback: f64| {
        let x = t.quantile(q);
        if x.is_finite() && (!log_scale || x > 0.0) {
            to_u(x)
        } else {
            fallback
        }
    };
    let mean_u = to_u(t.mean());
    let (lo, hi) = match *t {
        // statrs' gamma quantile is not accurate this deep in the tails: use bounds.
        // Lower: P(X < x) <= (x/θ)^k / Γ(k+1). Upper: the tail beyond kθ + 40θ(√k + 1).
        Dist::Gamma { shape, scale } => (
            scale.ln() + (1e-15f64.ln() + statrs::function::gamma::ln_gamma(shape + 1.0)) / shape,
            (shape * scale + 40.0 * scale * (shape.sqrt() + 1.0)).ln(),
        ),
        _ => (
            bound(1e-15, mean_u - 800.0),
            bound(1.0 - 1e-15, mean_u + 60.0),
        ),
    };
    if lo.is_nan() || hi.is_nan() || lo >= hi {
        return (f64::NAN, f64::INFINITY);
    }
    let mut cuts: Vec<f64> = (0..=PANELS)
        .map(|i| lo + (hi - lo) * f64::from(i) / f64::from(PANELS))
        .collect();
    for q in [
        1e-12,
        1e-6,
        1e-3,
        0.01,
        0.1,
        0.25,
        0.5,
        0.75,
        0.9,
        0.99,
        0.999,
        1.0 - 1e-6,
        1.0 - 1e-12,
    ] {
        let x = c.quantile(q) - delta;
        if x.is_finite() && (!log_scale || x > 0.0) {
            let u = to_u(x);
            if u > lo && u < hi {
                cuts.push(u);
            }
        }
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let f = |u: f64| {
        let x = to_x(u);
        let jac = if log_scale { x } else { 1.0 };
        let y = t.pdf(x) * jac * c.cdf(x + delta);
        if y.is_finite() { y } else { 0.0 }
    };
    let (mut sum, mut err) = (0.0, 0.0);
    for w in cuts.windows(2) {
        let o = quadrature::double_exponential::integrate(f, w[0], w[1], 1e-14);
        sum += o.integral;
        err += o.error_estimate;
    }
    (sum, err)
}

/// Equal panels of a continuous integral (more are added at the other law's quantiles).
const PANELS: u32 = 24;

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct sum, one CDF call per support point: what `integer_pair` replaces.
    fn direct(dt: &Dist, dc: &Dist, delta: f64) -> f64 {
        support(dt)
            .map(|k| {
                let x = k as f64 + delta;
                dt.pmf(k) * (dc.prob_below(x) + 0.5 * dc.prob_at(x))
            })
            .sum()
    }

    #[test]
    fn running_cdf_sum_equals_the_direct_sum() {
        let laws = [
            Dist::Poisson { lambda: 3.0 },
            Dist::Poisson { lambda: 250.0 },
            Dist::NegativeBinomial { r: 2.5, p: 0.3 },
            Dist::Bernoulli { p: 0.2 },
        ];
        for t in &laws {
            for c in &laws {
                for delta in [0.0, 1.0, -2.0, 0.5, 3.25] {
                    let (a, b) = (integer_pair(t, c, delta), direct(t, c, delta));
                    assert!((a - b).abs() < 1e-12, "{t:?} vs {c:?} δ {delta}: {a} {b}");
                }
            }
        }
    }

    #[test]
    fn closed_forms_agree_with_the_quadrature() {
        let pairs = [
            (
                Dist::Gamma {
                    shape: 2.0,
                    scale: 10.0,
                },
                Dist::Gamma {
                    shape: 2.0,
                    scale: 11.0,
                },
            ),
            (
                Dist::Gamma {
                    shape: 0.3,
                    scale: 1.0,
                },
                Dist::Gamma {
                    shape: 7.0,
                    scale: 0.05,
                },
            ),
            (
                Dist::Gamma {
                    shape: 500.0,
                    scale: 2.0,
                },
                Dist::Gamma {
                    shape: 480.0,
                    scale: 2.1,
                },
            ),
            (
                Dist::Normal { mean: 1.0, sd: 2.0 },
                Dist::Normal {
                    mean: -1.0,
                    sd: 0.5,
                },
            ),
            (
                Dist::Lognormal {
                    mu: 1.0,
                    sigma: 1.5,
                },
                Dist::Lognormal {
                    mu: -0.125,
                    sigma: 2.0,
                },
            ),
        ];
        for (t, c) in pairs {
            for (a, b) in [(t, c), (c, t)] {
                let closed = closed_form_pair(&a, &b, 0.0).unwrap();
                let quad = continuous_pair(&a, &b, 0.0);
                assert!(
                    (closed - quad).abs() < 1e-9,
                    "{a:?} vs {b:?}: {closed} {quad}"
                );
            }
        }
        let (n1, n2) = (
            Dist::Normal { mean: 1.0, sd: 2.0 },
            Dist::Normal { mean: 0.0, sd: 1.0 },
        );
        let closed = closed_form_pair(&n1, &n2, -0.7).unwrap();
        assert!((closed - continuous_pair(&n1, &n2, -0.7)).abs() < 1e-9);
        let g = Dist::Gamma {
            shape: 2.0,
            scale: 1.0,
        };
        assert!(
            closed_form_pair(&g, &g, 0.5).is_none(),
            "shifted Gammas use the quadrature"
        );
    }

    #[test]
    fn huge_poisson_rates_are_cheap_and_right() {
        // Normal approximation: (1e9 − 1.0001e9) / sqrt(2.0001e9) = −2.2360…
        let t = Dist::Poisson { lambda: 1e9 };
        let c = Dist::Poisson { lambda: 1.0001e9 };
        let p = integer_pair(&t, &c, 0.0);
        let z: f64 = -1e5 / 2.0001e9_f64.sqrt();
        let normal = 0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2);
        assert!((p - normal).abs() < 2e-4, "{p} vs {normal}");
    }
}
