//! The truth of the design: the clusters' ICC and design effects, and the effect of each
//! day of a run whose effect changes with time.

use super::budget::{Budget, Stop};
use super::hermite::{self, Coefficients};
use crate::blueprint::{Blueprint, MetricModel, WEEKDAYS};
use crate::design::{Arrivals, ClusterDesign, Design};
use crate::dist::Dist;
use chrono::Datelike;
use serde::Serialize;

/// Work the observed ICCs of one metric may take: past it, they are not given.
pub const ICC_BUDGET: u64 = 1 << 22;

/// The truth of the clusters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterTruth {
    /// Number of clusters.
    pub count: u64,
    /// `cluster` (whole clusters randomised) or `customer`.
    pub assignment: String,
    /// Customers per cluster on average.
    pub mean_size: f64,
    /// The coefficient of variation of the clusters' expected sizes, as drawn.
    pub size_cv: f64,
    /// Per metric with an ICC, in column order.
    pub metrics: Vec<ClusterMetricTruth>,
}

/// The clustering of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterMetricTruth {
    /// The metric.
    pub metric: String,
    /// The ICC of its normal scores, as the blueprint gives it.
    pub icc_normal_scores: f64,
    /// Per group, in group order.
    pub groups: Vec<ClusterGroupTruth>,
    /// Per treatment arm, the design effect of its difference in means with the control.
    pub effects: Vec<ClusterEffectTruth>,
}

/// The clustering of one metric in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterGroupTruth {
    /// The group.
    pub group: String,
    /// The ICC of the metric's values: the correlation of two customers of one cluster
    /// (`None` when too costly to compute, see [`ICC_BUDGET`]).
    pub icc: Option<f64>,
    /// A bound on the error of `icc`.
    pub icc_error: Option<f64>,
    /// `1 + (m − 1)·icc`, `m` the group's size-weighted mean cluster size: the variance of
    /// its mean over that of as many independent customers (cluster assignment only).
    pub design_effect: Option<f64>,
}

/// The design effect of a treatment arm's difference in means with the control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterEffectTruth {
    /// The treatment arm.
    pub group: String,
    /// The control.
    pub control: String,
    /// The variance of the difference in means over the variance it would have with
    /// independent customers. Under customer assignment it is 1 (to first order, the
    /// clusters' shares of the two arms are balanced); `None` when an ICC is not known.
    pub design_effect: Option<f64>,
}

/// The truth of the arrivals and of an effect that changes with time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeTruth {
    /// Each day of the run.
    pub days: Vec<DayTruth>,
    /// Per metric and treatment arm, the effect on each day (empty when it is the same
    /// every day).
    pub effects: Vec<DailyEffect>,
}

/// One day of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayTruth {
    /// The date (`YYYY-MM-DD`).
    pub date: String,
    /// Its weekday (`mon` … `sun`).
    pub weekday: String,
    /// Customers arriving that day.
    pub customers: u64,
    /// The multiple of the blueprint's effect that day.
    pub multiplier: f64,
}

/// A treatment arm's effect on one metric, day by day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyEffect {
    /// The metric.
    pub metric: String,
    /// The treatment arm.
    pub group: String,
    /// The control.
    pub control: String,
    /// The difference in means on each day.
    pub daily: Vec<f64>,
    /// The difference in means over the whole run (the days weighted by their customers).
    pub whole_run: f64,
}

/// The components of an arm's law: each cell's (and, when the effect changes with time,
/// each day's) law with its probability.
pub(super) fn components(
    m: &MetricModel,
    arm: usize,
    cells: &[f64],
    design: &Design,
) -> Vec<(f64, Dist)> {
    let cell_law = |c: usize| {
        if c < m.segments.len() {
            m.segments[c].arms[arm]
        } else {
            m.base[arm]
        }
    };
    let weighted = cells.iter().enumerate().filter(|(_, w)| **w > 0.0);
    match design.arrivals.as_ref().filter(|_| !m.daily.is_empty()) {
        None => weighted.map(|(c, w)| (*w, cell_law(c))).collect(),
        Some(a) => {
            let total: u64 = a.counts.iter().sum();
            let mut out = Vec::new();
            for (d, n) in a.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                let share = *n as f64 / total as f64;
                for (c, w) in weighted.clone() {
                    out.push((share * w, m.daily[d][c][arm]));
                }
            }
            out
        }
    }
}

/// The mean of a metric whose law mixes `components`.
fn mean_of(m: &MetricModel, components: impl Iterator<Item = (f64, Dist)>) -> f64 {
    let zi = m.zero_inflation;
    components
        .map(|(w, d)| w * (1.0 - zi) * (d.mean() + m.offset))
        .sum()
}

/// The truth of the arrivals, and the daily effects of every metric whose effect changes.
pub(super) fn time_truth(
    bp: &Blueprint,
    models: &[MetricModel],
    weights: &[Vec<f64>],
    arrivals: &Arrivals,
) -> TimeTruth {
    let days = arrivals
        .counts
        .iter()
        .zip(&arrivals.multipliers)
        .enumerate()
        .map(|(d, (n, k))| {
            let date = bp.start_date + chrono::Days::new(d as u64);
            DayTruth {
                date: date.format("%Y-%m-%d").to_string(),
                weekday: WEEKDAYS[date.weekday().num_days_from_monday() as usize].into(),
                customers: *n,
                multiplier: *k,
            }
        })
        .collect();
    let ctrl = bp.control_index();
    let total: u64 = arrivals.counts.iter().sum();
    let mut effects = Vec::new();
    for (m, cells) in models
        .iter()
        .zip(weights)
        .filter(|(m, _)| !m.daily.is_empty())
    {
        let day_mean = |d: usize, arm: usize| {
            let laws = cells
                .iter()
                .enumerate()
                .map(|(c, w)| (*w, m.daily[d][c][arm]));
            mean_of(m, laws)
        };
        for (arm, (g, _)) in bp.groups.iter().enumerate().filter(|(i, _)| *i != ctrl) {
            let daily: Vec<f64> = (0..arrivals.counts.len())
                .map(|d| day_mean(d, arm) - day_mean(d, ctrl))
                .collect();
            let whole_run = daily
                .iter()
                .zip(&arrivals.counts)
                .map(|(e, n)| e * *n as f64 / total as f64)
                .sum();
            effects.push(DailyEffect {
                metric: m.name.clone(),
                group: g.clone(),
                control: bp.control_group.clone(),
                daily,
                whole_run,
            });
        }
    }
    TimeTruth { days, effects }
}

/// The truth of the clusters: for each metric with an ICC, its ICC and design effect in
/// every group. `moments[metric][arm]` are the arms' means and variances.
pub(super) fn cluster_truth(
    bp: &Blueprint,
    models: &[MetricModel],
    weights: &[Vec<f64>],
    moments: &[Vec<(f64, f64)>],
    design: &Design,
    budget: &Budget,
) -> Result<ClusterTruth, Stop> {
    let c = design.clusters.as_ref().expect("a clustered design");
    let spec = bp.clusters.as_ref().expect("validated");
    let sizes = size_moments(c, bp.groups.len(), bp.customers);
    let mut metrics = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let rho = c.icc[i];
        if rho == 0.0 {
            continue;
        }
        let mut part = budget.part(ICC_BUDGET);
        let groups: Vec<ClusterGroupTruth> = (0..bp.groups.len())
            .map(|arm| {
                let comps = components(m, arm, &weights[i], design);
                let var = moments[i][arm].1;
                let icc = observed_icc(m, &comps, rho, var, &mut part);
                if matches!(icc, Err(Stop::Cancelled)) {
                    return Err(Stop::Cancelled);
                }
                let icc = icc.ok();
                let design_effect = match (&sizes, icc) {
                    (Some(s), Some((r, _))) => Some(1.0 + (s[arm] - 1.0) * r),
                    _ => None,
                };
                Ok(ClusterGroupTruth {
                    group: bp.groups[arm].0.clone(),
                    icc: icc.map(|x| x.0),
                    icc_error: icc.map(|x| x.1),
                    design_effect,
                })
            })
            .collect::<Result<_, Stop>>()?;
        let effects = cluster_effects(bp, c, &groups, &moments[i], sizes.is_some());
        metrics.push(ClusterMetricTruth {
            metric: m.name.clone(),
            icc_normal_scores: rho,
            groups,
            effects,
        });
    }
    let n = c.weights.len() as f64;
    let mean_w = 1.0 / n;
    let var_w = c.weights.iter().map(|w| (w - mean_w).powi(2)).sum::<f64>() / n;
    Ok(ClusterTruth {
        count: spec.count,
        assignment: spec.assignment.name().into(),
        mean_size: bp.customers as f64 / n,
        size_cv: var_w.sqrt() / mean_w,
        metrics,
    })
}

/// The ICC of a metric in a group whose law mixes `comps` (variance `var`), and its error.
fn observed_icc(
    m: &MetricModel,
    comps: &[(f64, Dist)],
    rho: f64,
    var: f64,
    budget: &mut Budget,
) -> Result<(f64, f64), Stop> {
    let zi = m.zero_inflation;
    let mut coefs: Vec<(f64, Coefficients)> = Vec::with_capacity(comps.len());
    let mut spread = 0.0;
    for (w, d) in comps {
        let c = hermite::coefficients(d, zi, m.offset, budget)?;
        let mu = d.mean() + m.offset;
        let m2 = (1.0 - zi) * (d.variance() + mu * mu);
        spread += w * (m2 - ((1.0 - zi) * mu).powi(2));
        coefs.push((*w, c));
    }
    if var <= 0.0 {
        return Ok((0.0, 0.0));
    }
    let (cov, err) = hermite::cluster_covariance(&coefs, rho, spread);
    Ok((cov / var, err / var))
}

/// Per group under cluster assignment, the size-weighted mean cluster size
/// `E[Σ nₖ²] / E[Σ nₖ]` over the group's clusters, with `customers` spread over them
/// multinomially (`E[nₖ] = N·wₖ`, `E[nₖ²] = N·wₖ·(1 − wₖ) + N²·wₖ²`); `None` under customer
/// assignment.
fn size_moments(c: &ClusterDesign, groups: usize, customers: u64) -> Option<Vec<f64>> {
    if c.arms.is_empty() {
        return None;
    }
    let n = customers as f64;
    let (mut s1, mut s2) = (vec![0.0; groups], vec![0.0; groups]);
    for (w, a) in c.weights.iter().zip(&c.arms) {
        s1[*a as usize] += w;
        s2[*a as usize] += w * w;
    }
    let m = s1
        .iter()
        .zip(&s2)
        .map(|(s1, s2)| {
            if *s1 == 0.0 {
                1.0
            } else {
                1.0 + (n - 1.0) * s2 / s1
            }
        })
        .collect();
    Some(m)
}

/// The design effect of each treatment arm's difference in means with the control.
fn cluster_effects(
    bp: &Blueprint,
    c: &ClusterDesign,
    groups: &[ClusterGroupTruth],
    moments: &[(f64, f64)],
    by_cluster: bool,
) -> Vec<ClusterEffectTruth> {
    let ctrl = bp.control_index();
    let share = |arm: usize| -> f64 {
        if by_cluster {
            c.weights
                .iter()
                .zip(&c.arms)
                .filter(|(_, a)| **a as usize == arm)
                .map(|(w, _)| w)
                .sum()
        } else {
            bp.actual_allocation()[arm]
        }
    };
    (0..bp.groups.len())
        .filter(|a| *a != ctrl)
        .map(|arm| {
            let design_effect = if !by_cluster {
                Some(1.0)
            } else {
                let plain = |a: usize| moments[a].1 / share(a);
                match (groups[arm].design_effect, groups[ctrl].design_effect) {
                    (Some(dt), Some(dc)) => {
                        let (pt, pc) = (plain(arm), plain(ctrl));
                        Some((pt * dt + pc * dc) / (pt + pc))
                    }
                    _ => None,
                }
            };
            ClusterEffectTruth {
                group: bp.groups[arm].0.clone(),
                control: bp.control_group.clone(),
                design_effect,
            }
        })
        .collect()
}
