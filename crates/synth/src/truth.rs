//! The ground truth of a resolved blueprint: what every test downstream is judged against.
//!
//! Per metric and group: the true mean and variance of the whole group (mixing over
//! segments, zero-inflation and offset) and its true quantiles at the blueprint's
//! probabilities; per treatment arm against the control: the true absolute and relative
//! effect on the mean, the Mann–Whitney estimand `P(T > C) + ½·P(T = C)` and the difference
//! of each quantile, each with whether its null holds.
//!
//! With `[time]` and an effect that changes with the day, each arm's law is the mixture of
//! its days' laws, weighted by the customers of each day, and the truth gives each day's
//! effect ([`TimeTruth`]). With clusters, it gives each clustered metric's ICC and design
//! effects ([`ClusterTruth`]; see the `hermite` module for how the ICC is computed).
//!
//! A quantile is the smallest `x` with `P(X ≤ x) ≥ p`, found on the law's exact CDF
//! (see [`quantile`](self::quantile)): exact on integer laws, the root of the computed CDF
//! to floating-point resolution on continuous ones. A pre-period twin has no quantiles (its
//! law is a convolution with a normal, not one of the pieces below).
//!
//! The estimand is computed from each arm's law, a finite mixture of pieces (an atom at 0
//! for zero-inflation, and the base distribution shifted by the offset in each segment
//! cell; equal pieces merged): closed forms where they exist (Normal, LogNormal and Gamma
//! pairs), exact sums over the support for integer pieces, and adaptive double-exponential
//! quadrature (the `quadrature` crate) with a target error of 1e-11 for other continuous
//! pairs.
//!
//! # Limits
//!
//! The truth is computed when a blueprint is resolved ([`Blueprint::resolve`]), under a
//! budget, so that no blueprint — a few hundred bytes can ask for a negative binomial of
//! `p` = 1e-9, or segments over many attributes — takes unbounded time or memory:
//!
//! * [`TRUTH_BUDGET`] units of work per blueprint (one unit: one evaluation of a pmf, CDF,
//!   density or quadrature integrand, or one step of the walk over segment cells);
//!   [`CELL_BUDGET`] of them at most for one metric's segment cells. Past either, the
//!   blueprint is invalid: the problem names the metric (`metrics.<name>`, or
//!   `metrics.<name>.segments`) and the limit.
//! * Two Poisson laws whose Berry–Esseen bound `0.4748/√(λ_T + λ_C)` is within
//!   [`MAX_APPROX_ERROR`] (from `λ_T + λ_C` = 2.25·10⁹ on) are compared by the normal
//!   approximation, within that bound.
//! * Otherwise a Mann–Whitney sum over an integer law is exact (up to the rounding of
//!   statrs' pmf) over at most [`MAX_EXACT_SUPPORT`] support points (the shorter of the two
//!   laws' supports is walked). Past it, the sum is *bracketed* (see [`MAX_BRACKET_BINS`]):
//!   the value reported is within [`MAX_APPROX_ERROR`] of the exact one, a bound computed
//!   from CDF values, not an estimate. A pair whose bracket stays wider is refused
//!   (`metrics.<name>.<group>`), and so is a bracketed law whose support reaches past
//!   [`MAX_SUPPORT_END`], where the CDF values themselves are not that accurate.
//! * A quadrature evaluates its integrand a bounded number of times (at most 7 levels of
//!   the double-exponential rule on each of at most 38 panels, both ways).
//!
//! A computation is stopped from outside by a [`Cancel`] flag
//! ([`Blueprint::resolve_cancellable`]), checked between bounded steps.
//!
//! [`Blueprint::resolve`]: crate::Blueprint::resolve
//! [`Blueprint::resolve_cancellable`]: crate::Blueprint::resolve_cancellable

mod bracket;
mod budget;
mod cells;
mod design;
mod hermite;
mod quantile;
mod ratio;

pub(crate) use budget::Stop;
pub use budget::{
    BERRY_ESSEEN, CELL_BUDGET, MAX_APPROX_ERROR, MAX_BRACKET_BINS, MAX_EXACT_SUPPORT,
    MAX_SUPPORT_END, QUANTILE_BUDGET, TRUTH_BUDGET,
};
pub use design::{
    ClusterEffectTruth, ClusterGroupTruth, ClusterMetricTruth, ClusterTruth, DailyEffect, DayTruth,
    ICC_BUDGET, TimeTruth,
};
pub use ratio::{MAX_RATIO_CELLS, RatioEffect, RatioGroup, RatioTruth};

use crate::Cancel;
use crate::blueprint::{Blueprint, MetricModel, Resolved};
use crate::design::Design;
use crate::dist::Dist;
use budget::Budget;
use serde::Serialize;
use std::collections::HashMap;

/// Relative tolerance under which an effect counts as exactly zero (float noise from
/// resolving a lift).
const NULL_TOL: f64 = 1e-9;

/// True mean, variance and quantiles of one metric in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMoments {
    /// Group name.
    pub group: String,
    /// True mean.
    pub mean: f64,
    /// True variance.
    pub variance: f64,
    /// True quantiles at the blueprint's probabilities (none for a pre-period twin, or for a
    /// law whose CDF is too costly to evaluate: see [`QUANTILE_BUDGET`]).
    pub quantiles: Vec<Quantile>,
}

/// The true `p`-quantile of a metric in one group: the smallest `x` with `P(X ≤ x) ≥ p`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantile {
    /// The probability.
    pub p: f64,
    /// The quantile.
    pub value: f64,
    /// Whether `value` has positive probability (every value of an integer metric; 0 under
    /// zero-inflation): sample quantiles near an atom do not have the usual normal law.
    pub atom: bool,
}

/// A treatment arm's `p`-quantile against the control's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QuantileEffect {
    /// The probability.
    pub p: f64,
    /// `quantile(T) − quantile(C)`.
    pub difference: f64,
    /// Whether the two quantiles are equal (the null of a quantile test).
    pub null: bool,
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
    /// The difference of each quantile (none for a pre-period twin).
    pub quantile_effects: Vec<QuantileEffect>,
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

/// The truth of a correlation between two metrics (the same in every group).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationTruth {
    /// The two metrics.
    pub metrics: [String; 2],
    /// The correlation of their normal scores: the Gaussian copula's `rho`.
    pub normal_scores: f64,
    /// Spearman's rank correlation, `(6/π)·asin(ρ/2)`: exact when both metrics are continuous
    /// and not zero-inflated in every group; `None` otherwise (ties change it).
    pub spearman: Option<f64>,
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
    /// The correlations between metrics, as the blueprint lists them.
    pub correlations: Vec<CorrelationTruth>,
    /// The clusters' ICCs and design effects, when customers belong to clusters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClusterTruth>,
    /// The arrivals per day and the effect of each day, when the blueprint has `[time]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeTruth>,
    /// The blueprint's ratio metrics, in its order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratios: Vec<RatioTruth>,
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
    /// The ground truth, computed when the blueprint was resolved (within the limits in
    /// the [module docs](self)).
    pub fn truth(&self) -> Truth {
        self.truth.clone()
    }

    /// The document of `abforge truth --json`: the truth's fields, the resolved blueprint
    /// (`blueprint`) and the choices drawn (`choices`); `clusters`, `time` and `ratios` only
    /// when the blueprint has them.
    pub fn truth_json(&self) -> serde_json::Value {
        let t = &self.truth;
        let mut doc = serde_json::json!({
            "experiment_id": t.experiment_id,
            "seed": t.seed,
            "control_group": t.control_group,
            "choices": self.choices,
            "allocation": t.allocation,
            "sample_ratio_mismatch": t.sample_ratio_mismatch,
            "metrics": t.metrics,
            "correlations": t.correlations,
            "blueprint": self.blueprint.to_json_value(),
        });
        if let Some(c) = &t.clusters {
            doc["clusters"] = serde_json::json!(c);
        }
        if let Some(time) = &t.time {
            doc["time"] = serde_json::json!(time);
        }
        if !t.ratios.is_empty() {
            doc["ratios"] = serde_json::json!(t.ratios);
        }
        doc
    }
}

/// Where and why a truth computation stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Failed {
    /// Index of the metric.
    pub metric: usize,
    /// The treatment arm, when it was its estimand.
    pub group: Option<usize>,
    /// Whether it was the walk over segment cells.
    pub cells: bool,
    /// Why.
    pub stop: Stop,
}

/// Computes the ground truth of a resolved blueprint and its metric models.
pub(crate) fn compute(
    bp: &Blueprint,
    models: &[MetricModel],
    design: &Design,
    cancel: &Cancel,
) -> Result<Truth, Failed> {
    let mut budget = Budget::new(TRUTH_BUDGET, cancel);
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
    let mut all_weights = Vec::new();
    let mut all_moments = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let weights =
            cells::cell_weights(&bp.attributes, m, &mut budget).map_err(|stop| Failed {
                metric: i,
                group: None,
                cells: true,
                stop,
            })?;
        let laws: Vec<Law> = (0..bp.groups.len())
            .map(|arm| law(m, &design::components(m, arm, &weights, design)))
            .collect();
        let (truth, twin) =
            metric_truth(bp, m, &laws, &mut budget).map_err(|f| Failed { metric: i, ..f })?;
        metrics.push(truth);
        metrics.extend(twin);
        all_moments.push(laws.iter().map(moments).collect::<Vec<_>>());
        all_weights.push(weights);
    }
    let clusters = match design.clusters {
        None => None,
        Some(_) => Some(
            design::cluster_truth(bp, models, &all_weights, &all_moments, design, &budget)
                .map_err(|stop| Failed {
                    metric: 0,
                    group: None,
                    cells: false,
                    stop,
                })?,
        ),
    };
    let time = design
        .arrivals
        .as_ref()
        .map(|a| design::time_truth(bp, models, &all_weights, a));
    let ratios = ratios(bp, models, &all_moments, design, &mut budget)?;
    let continuous = |name: &str| {
        models
            .iter()
            .find(|m| m.name == name)
            .is_some_and(|m| !m.kind.is_integer() && m.zero_inflation == 0.0)
    };
    let correlations = bp
        .correlations
        .iter()
        .map(|c| CorrelationTruth {
            metrics: c.metrics.clone(),
            normal_scores: c.rho,
            spearman: c
                .metrics
                .iter()
                .all(|m| continuous(m))
                .then(|| 6.0 / std::f64::consts::PI * (c.rho / 2.0).asin()),
        })
        .collect();
    Ok(Truth {
        experiment_id: bp.id.clone(),
        seed: bp.seed,
        control_group: bp.control_group.clone(),
        allocation,
        sample_ratio_mismatch: srm,
        metrics,
        correlations,
        clusters,
        time,
        ratios,
    })
}

/// The truth of the blueprint's ratio metrics; `moments[metric][arm]` are the metrics'
/// means and variances.
fn ratios(
    bp: &Blueprint,
    models: &[MetricModel],
    moments: &[Vec<(f64, f64)>],
    design: &Design,
    budget: &mut Budget,
) -> Result<Vec<RatioTruth>, Failed> {
    let at = |name: &str| {
        models
            .iter()
            .position(|m| m.name == name)
            .expect("validated")
    };
    let copula = crate::copula::Copula::new(bp);
    let joined = |i: usize| copula.as_ref().is_some_and(|c| c.metrics.contains(&i));
    bp.ratios
        .iter()
        .map(|r| {
            let (n, d) = (at(&r.numerator), at(&r.denominator));
            let means = |i: usize| moments[i].iter().map(|m| m.0).collect::<Vec<_>>();
            ratio::ratio_truth(
                bp,
                (&models[n], &models[d]),
                (&means(n), &means(d)),
                joined(n) && joined(d),
                design,
                budget,
            )
            .map_err(|stop| Failed {
                metric: d,
                group: None,
                cells: false,
                stop,
            })
        })
        .collect()
}

/// The truth of one metric, and of its pre-period twin when it has one (the failure's
/// `metric` is left to the caller).
fn metric_truth(
    bp: &Blueprint,
    m: &MetricModel,
    laws: &[Law],
    budget: &mut Budget,
) -> Result<(MetricTruth, Option<MetricTruth>), Failed> {
    let fail = |group, stop| Failed {
        metric: 0,
        group: Some(group),
        cells: false,
        stop,
    };
    let ctrl = bp.control_index();
    let moments: Vec<(f64, f64)> = laws.iter().map(moments).collect();
    let quantiles = match all_quantiles(bp, m, laws, budget) {
        Ok(q) => q,
        Err(Stop::Cancelled) => return Err(fail(ctrl, Stop::Cancelled)),
        // Too costly (see QUANTILE_BUDGET): the metric's quantiles are not given.
        Err(_) => vec![Vec::new(); laws.len()],
    };
    let mut effects = Vec::new();
    for (i, (g, _)) in bp.groups.iter().enumerate().filter(|(i, _)| *i != ctrl) {
        let identical = laws[i] == laws[ctrl];
        let p = if identical {
            0.5
        } else {
            superiority(&laws[i], &laws[ctrl], budget).map_err(|s| fail(i, s))?
        };
        let (mt, mc) = (moments[i].0, moments[ctrl].0);
        let mut e = effect(g, &bp.control_group, mt, mc, Some(p), identical);
        e.quantile_effects = quantile_effects(&quantiles[i], &quantiles[ctrl], identical);
        effects.push(e);
    }
    let truth = MetricTruth {
        metric: m.name.clone(),
        distribution: m.kind.name().into(),
        integer: m.kind.is_integer(),
        groups: bp
            .groups
            .iter()
            .zip(moments.iter().zip(quantiles))
            .map(|((g, _), ((mean, var), quantiles))| GroupMoments {
                group: g.clone(),
                mean: *mean,
                variance: *var,
                quantiles,
            })
            .collect(),
        effects,
    };
    // The twin has the control's mean and variance in every cell, in every group: no
    // treatment has happened in the pre-period.
    let twin = m.pre_correlation.map(|_| {
        let (mean, var) = moments[ctrl];
        MetricTruth {
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
                    quantiles: Vec::new(),
                })
                .collect(),
            effects: bp
                .groups
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != ctrl)
                .map(|(_, (g, _))| effect(g, &bp.control_group, mean, mean, None, false))
                .collect(),
        }
    });
    Ok((truth, twin))
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
        quantile_effects: Vec::new(),
    }
}

/// The quantiles of every arm's law at the blueprint's probabilities, within
/// [`QUANTILE_BUDGET`] for the metric.
fn all_quantiles(
    bp: &Blueprint,
    m: &MetricModel,
    laws: &[Law],
    budget: &Budget,
) -> Result<Vec<Vec<Quantile>>, Stop> {
    let mut part = budget.part(QUANTILE_BUDGET);
    laws.iter()
        .map(|l| {
            bp.quantiles
                .iter()
                .map(|&p| {
                    let (value, atom) = quantile::quantile(l, p, m.kind.is_integer(), &mut part)?;
                    Ok(Quantile { p, value, atom })
                })
                .collect()
        })
        .collect()
}

/// Each quantile of a treatment arm against the control's: equal (null) within the
/// relative tolerance of the means.
fn quantile_effects(t: &[Quantile], c: &[Quantile], identical: bool) -> Vec<QuantileEffect> {
    t.iter()
        .zip(c)
        .map(|(qt, qc)| {
            let difference = qt.value - qc.value;
            let scale = qt.value.abs().max(qc.value.abs()).max(1e-300);
            let null = identical || difference.abs() <= NULL_TOL * scale;
            QuantileEffect {
                p: qt.p,
                difference: if null { 0.0 } else { difference },
                null,
            }
        })
        .collect()
}

/// The law of a metric whose value comes from one of `components` (weight, law), with its
/// zero-inflation and offset.
fn law(m: &MetricModel, components: &[(f64, Dist)]) -> Law {
    let mut out: Law = Vec::new();
    // Equal pieces merged (many segments often share a law): index by their bits.
    let mut seen: HashMap<(u8, [u64; 3]), usize> = HashMap::new();
    let mut add = |w: f64, piece: Piece| {
        let key = match piece {
            Piece::Zero => (0, [0; 3]),
            Piece::Shifted(d, s) => {
                let v = d.values();
                let bits = |i: usize| v.get(i).map_or(0, |x| x.to_bits());
                (1 + d.kind() as u8, [bits(0), bits(1), s.to_bits()])
            }
        };
        match seen.get(&key) {
            Some(i) => out[*i].0 += w,
            None => {
                seen.insert(key, out.len());
                out.push((w, piece));
            }
        }
    };
    for &(w, d) in components {
        if m.zero_inflation > 0.0 {
            add(w * m.zero_inflation, Piece::Zero);
        }
        add(w * (1.0 - m.zero_inflation), Piece::Shifted(d, m.offset));
    }
    out
}

fn moments(l: &Law) -> (f64, f64) {
    let mean: f64 = l.iter().map(|(w, p)| w * p.mean()).sum();
    let m2: f64 = l.iter().map(|(w, p)| w * p.second_moment()).sum();
    (mean, (m2 - mean * mean).max(0.0))
}

/// `P(T > C) + ½·P(T = C)` for independent `T ~ t`, `C ~ c`.
fn superiority(t: &Law, c: &Law, budget: &mut Budget) -> Result<f64, Stop> {
    let mut s = 0.0;
    for (wt, pt) in t {
        for (wc, pc) in c {
            budget.charge(1)?;
            s += wt * wc * pair(pt, pc, budget)?;
        }
    }
    Ok(s.clamp(0.0, 1.0))
}

fn pair(t: &Piece, c: &Piece, budget: &mut Budget) -> Result<f64, Stop> {
    Ok(match (t, c) {
        (Piece::Zero, Piece::Zero) => 0.5,
        (Piece::Zero, Piece::Shifted(d, s)) => atom_vs(0.0, d, *s),
        (Piece::Shifted(..), Piece::Zero) => 1.0 - pair(c, t, budget)?,
        (Piece::Shifted(dt, st), Piece::Shifted(dc, sc)) => {
            if dt == dc && st == sc {
                return Ok(0.5);
            }
            let delta = st - sc;
            match (dt.kind().is_integer(), dc.kind().is_integer()) {
                (true, true) => integer_vs_integer(dt, dc, delta, budget)?,
                (true, false) => {
                    let g = |k: u64| dc.cdf(k as f64 + delta);
                    sum_over(dt, &g, None, budget)?
                }
                (false, true) => 1.0 - pair(c, t, budget)?,
                (false, false) => match closed_form_pair(dt, dc, delta) {
                    Some(p) => p,
                    None => continuous_pair(dt, dc, delta, budget)?,
                },
            }
        }
    })
}

/// `P(T + δ > C) + ½·P(T + δ = C)` for integer laws: for two Poisson laws of large rates
/// by [`normal_poisson`], otherwise over the shorter support ([`sum_over`]).
fn integer_vs_integer(dt: &Dist, dc: &Dist, delta: f64, budget: &mut Budget) -> Result<f64, Stop> {
    if let Some(p) = normal_poisson(dt, dc, delta) {
        return Ok(p);
    }
    let (st, sc) = (support(dt, budget)?, support(dc, budget)?);
    if st.end() - st.start() <= sc.end() - sc.start() {
        let g = |k: u64| {
            let x = k as f64 + delta;
            dc.prob_below(x) + 0.5 * dc.prob_at(x)
        };
        sum_over(dt, &g, Some((dc, delta)), budget)
    } else {
        let g = |k: u64| {
            let x = k as f64 - delta;
            dt.prob_below(x) + 0.5 * dt.prob_at(x)
        };
        Ok(1.0 - sum_over(dc, &g, Some((dt, -delta)), budget)?)
    }
}

/// `P(T + δ > C) + ½·P(T + δ = C)` for two Poisson laws, as `Φ((λ_T + δ − λ_C) / √(λ_T + λ_C))`,
/// when the Berry–Esseen bound of `T − C` (infinitely divisible: the limit of sums of `n`
/// terms of third absolute moment `(λ_T + λ_C)/n`), `0.4748 / √(λ_T + λ_C)`, is within
/// [`MAX_APPROX_ERROR`]; it bounds `|F − Φ|` at `−δ` and just below it, hence the error of
/// `1 − ½·(F(−δ) + F(−δ⁻))`. `None` otherwise.
///
/// From `λ_T + λ_C` = 2.25·10⁹ on: the walk would be as long as the support, statrs'
/// Poisson CDF needs `O(√λ)` terms per call (too many to bracket with), and its pmf, through
/// `λ·ln λ`, loses more than this bound to rounding.
fn normal_poisson(t: &Dist, c: &Dist, delta: f64) -> Option<f64> {
    let (Dist::Poisson { lambda: lt }, Dist::Poisson { lambda: lc }) = (*t, *c) else {
        return None;
    };
    let var = lt + lc;
    (budget::BERRY_ESSEEN / var.sqrt() <= MAX_APPROX_ERROR).then(|| {
        let z = (lt + delta - lc) / var.sqrt();
        0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2)
    })
}

/// `Σ_k P(T = k)·g(k)` over `t`'s support, `g` non-decreasing in `[0, 1]`: exact up to
/// [`MAX_EXACT_SUPPORT`] points (with `integer`, the other law and δ, by the running CDF of
/// [`integer_pair`]), bracketed past it.
fn sum_over(
    t: &Dist,
    g: &dyn Fn(u64) -> f64,
    integer: Option<(&Dist, f64)>,
    budget: &mut Budget,
) -> Result<f64, Stop> {
    let range = support(t, budget)?;
    let n = range.end() - range.start() + 1;
    if n > MAX_EXACT_SUPPORT {
        if *range.end() > MAX_SUPPORT_END {
            return Err(Stop::Support(*range.end()));
        }
        return bracket::bracketed(t, g, *range.end(), budget);
    }
    budget.charge(n)?;
    match integer {
        Some((c, delta)) => integer_pair(t, c, delta, range, budget),
        None => {
            let mut s = 0.0;
            for k in range {
                if k % CHECK_EVERY == 0 {
                    budget.charge(0)?;
                }
                s += t.pmf(k) * g(k);
            }
            Ok(s)
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
fn integer_pair(
    dt: &Dist,
    dc: &Dist,
    delta: f64,
    range: std::ops::RangeInclusive<u64>,
    budget: &mut Budget,
) -> Result<f64, Stop> {
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
    for k in range {
        if k % CHECK_EVERY == 0 {
            budget.charge(0)?;
        }
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
    Ok(s)
}

/// Support points walked between two checks of the [`Cancel`] flag.
const CHECK_EVERY: u64 = 1 << 16;

/// `P(a > D + s) + ½·P(a = D + s)`.
fn atom_vs(a: f64, d: &Dist, s: f64) -> f64 {
    if d.kind().is_integer() {
        d.prob_below(a - s) + 0.5 * d.prob_at(a - s)
    } else {
        d.cdf(a - s)
    }
}

/// The integers carrying all but ~1e-16 of an integer distribution's mass (at most 64
/// CDF evaluations to find).
fn support(d: &Dist, budget: &mut Budget) -> Result<std::ops::RangeInclusive<u64>, Stop> {
    let (mean, sd) = (d.mean(), d.variance().sqrt());
    let lo = (mean - 40.0 * sd).floor().max(0.0) as u64;
    let mut hi = (mean + 12.0 * sd + 10.0).ceil() as u64;
    let mut step = hi.max(16);
    budget.charge(1)?;
    while 1.0 - d.cdf_int(hi) > 1e-16 && step < u64::MAX / 4 {
        budget.charge(1)?;
        hi = hi.saturating_add(step);
        step = step.saturating_mul(2);
    }
    Ok(lo..=hi)
}

/// `P(T + delta > C)` for continuous `T` and `C`.
///
/// Computed both as `∫ f_T(x) F_C(x + delta) dx` and as `1 − ∫ f_C(y) F_T(y − delta) dy`;
/// the one with the smaller error estimate is kept (integrating over the narrower law
/// keeps the other's CDF smooth). Each integral runs over the law's own scale (`log x` for
/// Gamma and LogNormal, so tiny and huge shapes are both well resolved), between its
/// 1e-15 quantiles, cut into panels at equal steps and at the other law's quantiles (where
/// its CDF climbs), each panel by double-exponential quadrature.
///
/// Each CDF value is charged at its cost ([`Dist::cdf_cost`]); a law whose CDF has no
/// bounded cost (a gamma shape past 10⁷, where statrs' series runs for hours or never ends)
/// stops the computation.
fn continuous_pair(t: &Dist, c: &Dist, delta: f64, budget: &mut Budget) -> Result<f64, Stop> {
    let cost = t
        .cdf_cost()
        .zip(c.cdf_cost())
        .map(|(a, b)| a.max(b))
        .ok_or(Stop::Exhausted)?;
    budget.charge(cost)?;
    let (a, ea) = expect_cdf(t, c, delta, cost, budget)?;
    let (b, eb) = expect_cdf(c, t, -delta, cost, budget)?;
    Ok(if ea <= eb { a } else { 1.0 - b })
}

/// `∫ f_T(x) F_C(x + delta) dx` and its error estimate; `cost`: the units of one CDF value.
fn expect_cdf(
    t: &Dist,
    c: &Dist,
    delta: f64,
    cost: u64,
    budget: &mut Budget,
) -> Result<(f64, f64), Stop> {
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
        return Ok((f64::NAN, f64::INFINITY));
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
        // Each evaluation of the integrand is a density and a CDF.
        budget.charge((1 + cost) * u64::from(o.num_function_evaluations))?;
        sum += o.integral;
        err += o.error_estimate;
    }
    Ok((sum, err))
}

/// Equal panels of a continuous integral (more are added at the other law's quantiles).
const PANELS: u32 = 24;

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` with a whole budget.
    fn run<T>(f: impl FnOnce(&mut Budget) -> Result<T, Stop>) -> T {
        let cancel = Cancel::new();
        f(&mut Budget::new(TRUTH_BUDGET, &cancel)).unwrap()
    }

    fn exact(dt: &Dist, dc: &Dist, delta: f64) -> f64 {
        run(|b| integer_pair(dt, dc, delta, support(dt, b)?, b))
    }

    /// The direct sum, one CDF call per support point: what `integer_pair` replaces.
    fn direct(dt: &Dist, dc: &Dist, delta: f64) -> f64 {
        run(|b| support(dt, b))
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
                    let (a, b) = (exact(t, c, delta), direct(t, c, delta));
                    assert!((a - b).abs() < 1e-12, "{t:?} vs {c:?} δ {delta}: {a} {b}");
                }
            }
        }
    }

    #[test]
    fn the_quadrature_charges_each_cdf_value_at_its_cost() {
        let cancel = Cancel::new();
        // Gammas of shape 10⁶ cost 1 + 8.5·1000/64 = 133 units per CDF value: a budget of
        // 10⁴ units buys fewer than 100 values, and the quadrature stops.
        let (t, c) = (
            Dist::Gamma {
                shape: 1e6,
                scale: 1.0,
            },
            Dist::Gamma {
                shape: 1e6,
                scale: 1.001,
            },
        );
        let mut small = Budget::new(10_000, &cancel);
        assert_eq!(
            continuous_pair(&t, &c, 0.5, &mut small),
            Err(Stop::Exhausted)
        );
        let mut ample = Budget::new(1 << 30, &cancel);
        let p = continuous_pair(&t, &c, 0.5, &mut ample).unwrap();
        assert!(p > 0.0 && p < 0.5, "{p}");
        // Past the scale where statrs' series may not end, nothing is evaluated at all.
        let huge = Dist::Gamma {
            shape: 1e13,
            scale: 1.0,
        };
        let mut any = Budget::new(1 << 30, &cancel);
        assert_eq!(
            continuous_pair(&huge, &c, 0.5, &mut any),
            Err(Stop::Exhausted)
        );
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
                let quad = run(|bu| continuous_pair(&a, &b, 0.0, bu));
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
        assert!((closed - run(|b| continuous_pair(&n1, &n2, -0.7, b))).abs() < 1e-9);
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
        let p = exact(&t, &c, 0.0);
        let z: f64 = -1e5 / 2.0001e9_f64.sqrt();
        let normal = 0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2);
        assert!((p - normal).abs() < 2e-4, "{p} vs {normal}");
    }

    #[test]
    fn brackets_hold_the_exact_sum() {
        let laws = [
            (
                Dist::NegativeBinomial { r: 1.5, p: 2e-4 },
                Dist::NegativeBinomial { r: 1.5, p: 2.1e-4 },
            ),
            (
                Dist::NegativeBinomial { r: 40.0, p: 0.01 },
                Dist::NegativeBinomial { r: 40.0, p: 0.0102 },
            ),
            (
                Dist::NegativeBinomial { r: 0.3, p: 1e-3 },
                Dist::Bernoulli { p: 0.3 },
            ),
        ];
        for (t, c) in laws {
            let want = exact(&t, &c, 0.0);
            let g = |k: u64| c.prob_below(k as f64) + 0.5 * c.prob_at(k as f64);
            let hi = *run(|b| support(&t, b)).end();
            let got = run(|b| bracket::bracketed(&t, &g, hi, b));
            assert!(
                (got - want).abs() <= MAX_APPROX_ERROR,
                "{t:?} vs {c:?}: {got} {want}"
            );
        }
    }

    #[test]
    fn a_set_flag_stops_the_next_charge() {
        let cancel = Cancel::new();
        let mut budget = Budget::new(10, &cancel);
        assert_eq!(budget.charge(4), Ok(()));
        assert_eq!(budget.charge(7), Err(Stop::Exhausted));
        cancel.cancel();
        assert_eq!(budget.charge(0), Err(Stop::Cancelled));
    }
}
