//! The truth of ratio metrics: per group, the ratio of the two metrics' means and, where it
//! is defined, the mean of the customers' own ratios.
//!
//! The mean of per-customer ratios `E[N/D]` is defined when the denominator is never 0 or
//! negative and `E[1/D]` is finite: no zero-inflation, and a positive offset or a law that
//! stays above 0 (a gamma of shape above 1, a lognormal; an integer law needs an offset of
//! at least 1). A customer's numerator and denominator are independent given their segment
//! cells and their day unless the copula joins them (then it is not given), so `E[N/D]` is
//! `Σ P(cell, day)·E[N | cell, day]·E[1/D | cell, day]` over the combinations of the
//! attribute values the two metrics' segments use (at most [`MAX_RATIO_CELLS`]) and the days.
//! `E[1/D]` is a closed form (gamma, lognormal), an exact sum over an integer support (its
//! rest bounded by the tail mass), or the trapezoid rule in the law's normal score, whose
//! error is estimated by halving the step.

use super::budget::{Budget, Stop};
use crate::blueprint::{Attribute, Blueprint, MetricModel};
use crate::design::Design;
use crate::dist::Dist;
use serde::Serialize;

/// Largest number of combinations of attribute values walked for a mean of ratios.
pub const MAX_RATIO_CELLS: usize = 4096;

/// The truth of one ratio metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioTruth {
    /// The numerator metric.
    pub numerator: String,
    /// The denominator metric.
    pub denominator: String,
    /// Per group, in group order.
    pub groups: Vec<RatioGroup>,
    /// Per treatment arm, its ratio of means against the control's.
    pub effects: Vec<RatioEffect>,
}

/// A ratio metric in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioGroup {
    /// The group.
    pub group: String,
    /// `E[N] / E[D]` (`None` when `E[D]` is 0).
    pub ratio_of_means: Option<f64>,
    /// `E[N / D]`, where defined (see the module docs).
    pub mean_of_ratios: Option<f64>,
    /// A bound on the error of `mean_of_ratios`.
    pub mean_of_ratios_error: Option<f64>,
}

/// A treatment arm's ratio of means against the control's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioEffect {
    /// The treatment arm.
    pub group: String,
    /// The control.
    pub control: String,
    /// `ratio(T) − ratio(C)` of the ratios of means.
    pub difference: Option<f64>,
    /// Whether the two ratios of means are equal (within 1e-9, relative).
    pub null: Option<bool>,
}

/// A metric's law in one combination of cell and day: its base law.
fn law_of(m: &MetricModel, attrs: &[u16], day: Option<usize>, arm: usize) -> Dist {
    let cell = m.cell(attrs).unwrap_or(m.segments.len());
    match day.filter(|_| !m.daily.is_empty()) {
        Some(d) => m.daily[d][cell][arm],
        None if cell < m.segments.len() => m.segments[cell].arms[arm],
        None => m.base[arm],
    }
}

/// The mean of a metric's value (zero-inflation and offset included) under law `d`.
fn mean(m: &MetricModel, d: &Dist) -> f64 {
    (1.0 - m.zero_inflation) * (d.mean() + m.offset)
}

/// The truth of the ratio `num / den` (metric indices), given each arm's mean of both.
pub(super) fn ratio_truth(
    bp: &Blueprint,
    (num, den): (&MetricModel, &MetricModel),
    means: (&[f64], &[f64]),
    joined: bool,
    design: &Design,
    budget: &mut Budget,
) -> Result<RatioTruth, Stop> {
    let ctrl = bp.control_index();
    let ratio = |a: usize| (means.1[a] != 0.0).then(|| means.0[a] / means.1[a]);
    let combos = if joined {
        None
    } else {
        combinations(&bp.attributes, &[num, den])
    };
    let mut groups = Vec::with_capacity(bp.groups.len());
    for (arm, (g, _)) in bp.groups.iter().enumerate() {
        let mor = match &combos {
            Some(c) => mean_of_ratios(num, den, c, arm, design, budget)?,
            None => None,
        };
        groups.push(RatioGroup {
            group: g.clone(),
            ratio_of_means: ratio(arm),
            mean_of_ratios: mor.map(|x| x.0),
            mean_of_ratios_error: mor.map(|x| x.1),
        });
    }
    let effects = (0..bp.groups.len())
        .filter(|a| *a != ctrl)
        .map(|arm| {
            let d = ratio(arm).zip(ratio(ctrl)).map(|(t, c)| t - c);
            let null = ratio(arm)
                .zip(ratio(ctrl))
                .map(|(t, c)| (t - c).abs() <= super::NULL_TOL * t.abs().max(c.abs()).max(1e-300));
            RatioEffect {
                group: bp.groups[arm].0.clone(),
                control: bp.control_group.clone(),
                difference: d.map(|d| if null == Some(true) { 0.0 } else { d }),
                null,
            }
        })
        .collect();
    Ok(RatioTruth {
        numerator: num.name.clone(),
        denominator: den.name.clone(),
        groups,
        effects,
    })
}

/// The combinations of the values of the attributes `models`' segments use, with their
/// probabilities, as full attribute vectors (unused attributes at 0); `None` past
/// [`MAX_RATIO_CELLS`].
fn combinations(attrs: &[Attribute], models: &[&MetricModel]) -> Option<Vec<(f64, Vec<u16>)>> {
    let mut used: Vec<usize> = models
        .iter()
        .flat_map(|m| {
            m.segments
                .iter()
                .flat_map(|s| s.when.iter().map(|(a, _)| *a))
        })
        .collect();
    used.sort_unstable();
    used.dedup();
    let mut out = vec![(1.0, vec![0u16; attrs.len()])];
    for a in used {
        let values = &attrs[a].values;
        if out.len() * values.len() > MAX_RATIO_CELLS {
            return None;
        }
        let total: f64 = values.iter().map(|(_, w)| w).sum();
        out = out
            .into_iter()
            .flat_map(|(p, row)| {
                values.iter().enumerate().map(move |(v, (_, w))| {
                    let mut r = row.clone();
                    r[a] = v as u16;
                    (p * w / total, r)
                })
            })
            .collect();
    }
    Some(out)
}

/// `E[N/D]` in group `arm` and its error bound, or `None` where it is not defined.
fn mean_of_ratios(
    num: &MetricModel,
    den: &MetricModel,
    combos: &[(f64, Vec<u16>)],
    arm: usize,
    design: &Design,
    budget: &mut Budget,
) -> Result<Option<(f64, f64)>, Stop> {
    if den.zero_inflation > 0.0 {
        return Ok(None);
    }
    let days: Vec<(f64, Option<usize>)> = match &design.arrivals {
        Some(a) if !num.daily.is_empty() || !den.daily.is_empty() => {
            let total: u64 = a.counts.iter().sum();
            a.counts
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(d, n)| (*n as f64 / total as f64, Some(d)))
                .collect()
        }
        _ => vec![(1.0, None)],
    };
    let (mut sum, mut err) = (0.0, 0.0);
    for (pd, day) in &days {
        for (pc, attrs) in combos {
            let dn = law_of(num, attrs, *day, arm);
            let dd = law_of(den, attrs, *day, arm);
            let Some((inv, e)) = inverse_mean(&dd, den.offset, budget)? else {
                return Ok(None);
            };
            let n = mean(num, &dn);
            sum += pd * pc * n * inv;
            err += pd * pc * n.abs() * e;
        }
    }
    Ok(Some((sum, err)))
}

/// `E[1/(X + offset)]` for `X ~ d` and a bound on its error, or `None` when `X + offset`
/// can be 0 or negative or the mean is infinite.
fn inverse_mean(d: &Dist, offset: f64, budget: &mut Budget) -> Result<Option<(f64, f64)>, Stop> {
    match *d {
        Dist::Normal { .. } => Ok(None),
        _ if offset < 0.0 => Ok(None),
        Dist::Poisson { .. } | Dist::NegativeBinomial { .. } | Dist::Bernoulli { .. } => {
            if offset < 1.0 {
                return Ok(None);
            }
            integer_inverse(d, offset, budget).map(Some)
        }
        Dist::Gamma { shape, scale } if offset == 0.0 => {
            Ok((shape > 1.0).then(|| (1.0 / (scale * (shape - 1.0)), 0.0)))
        }
        Dist::Lognormal { mu, sigma } if offset == 0.0 => {
            Ok(Some(((-mu + sigma * sigma / 2.0).exp(), 0.0)))
        }
        _ => continuous_inverse(d, offset, budget).map(Some),
    }
}

/// `Σ P(X = j)/(j + offset)` over the support until its CDF is within 1e-16 of 1; the rest
/// is below the tail mass over the last `j + offset`.
fn integer_inverse(d: &Dist, offset: f64, budget: &mut Budget) -> Result<(f64, f64), Stop> {
    let cost = d.cdf_cost().ok_or(Stop::Exhausted)?;
    let (mut sum, mut mass) = (0.0, 0.0);
    let mut j = 0u64;
    loop {
        budget.charge(cost)?;
        let p = d.pmf(j);
        sum += p / (j as f64 + offset);
        mass += p;
        if mass >= 1.0 - 1e-16 || (j > 10 && d.cdf_int(j) >= 1.0 - 1e-16) {
            let tail = (1.0 - mass).max(0.0);
            return Ok((sum, tail / (j as f64 + offset) + 1e-15 * sum));
        }
        j += 1;
    }
}

/// `∫ φ(w)/(G(Φ(w)) + offset) dw` (`G` the inverse CDF, offset > 0) by the trapezoid rule
/// on `[−14, 8.2]`, the error estimated by halving the step.
fn continuous_inverse(d: &Dist, offset: f64, budget: &mut Budget) -> Result<(f64, f64), Stop> {
    const STEP: f64 = 1.0 / 64.0;
    let (lo, hi) = (-14.0, 8.2);
    let n = ((hi - lo) / STEP).ceil() as usize;
    let cost = d.cdf_cost().unwrap_or(1) * 4;
    let (mut fine, mut coarse, mut largest) = (0.0, 0.0, 0.0f64);
    for i in 0..=n {
        budget.charge(cost)?;
        let w = lo + i as f64 * STEP;
        let u = 0.5 * statrs::function::erf::erfc(-w / std::f64::consts::SQRT_2);
        let phi = (-0.5 * w * w).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let x = match *d {
            Dist::Lognormal { mu, sigma } => (mu + sigma * w).exp(),
            _ => d.quantile(u),
        };
        let f = phi / (x + offset) * STEP;
        if !f.is_finite() {
            continue;
        }
        largest = largest.max(1.0 / (x + offset));
        fine += f;
        if i % 2 == 0 {
            coarse += 2.0 * f;
        }
    }
    // The mass outside the range is below 1e-15; above it the values are smaller than
    // inside, below it at most 1/offset (the largest inside stands in when it is finite).
    let outside = if largest.is_finite() {
        largest
    } else {
        1.0 / offset
    };
    Ok((fine, (fine - coarse).abs() + 1e-15 * outside))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cancel;

    fn inv(d: Dist, offset: f64) -> Option<(f64, f64)> {
        let cancel = Cancel::new();
        inverse_mean(&d, offset, &mut Budget::new(1 << 30, &cancel)).unwrap()
    }

    #[test]
    fn inverse_means_match_closed_forms() {
        let (v, _) = inv(
            Dist::Gamma {
                shape: 3.0,
                scale: 2.0,
            },
            0.0,
        )
        .unwrap();
        assert!((v - 0.25).abs() < 1e-15);
        assert!(
            inv(
                Dist::Gamma {
                    shape: 0.8,
                    scale: 2.0
                },
                0.0
            )
            .is_none()
        );
        // E[1/(X + 1)] for X ~ Poisson(λ) is (1 − e^{−λ})/λ.
        let (v, e) = inv(Dist::Poisson { lambda: 3.0 }, 1.0).unwrap();
        let exact = (1.0 - (-3.0f64).exp()) / 3.0;
        assert!((v - exact).abs() < 1e-14 && e < 1e-14, "{v} {exact} {e}");
        assert!(inv(Dist::Poisson { lambda: 3.0 }, 0.0).is_none());
        assert!(
            inv(
                Dist::Normal {
                    mean: 10.0,
                    sd: 1.0
                },
                0.0
            )
            .is_none()
        );
        // The quadrature against a closed form: a lognormal through its quantiles, with a
        // tiny offset; and an exponential with offset 1, E = e·E₁(1) = 0.596347362323194.
        let (v, e) = inv(
            Dist::Lognormal {
                mu: 0.5,
                sigma: 0.4,
            },
            1e-300,
        )
        .unwrap();
        let exact = (-0.5f64 + 0.08).exp();
        assert!((v - exact).abs() < 1e-10 && e < 1e-9, "{v} {exact} {e}");
        let (v, e) = inv(
            Dist::Gamma {
                shape: 1.0,
                scale: 1.0,
            },
            1.0,
        )
        .unwrap();
        assert!(
            (v - 0.596_347_362_323_194).abs() < 1e-9 && e < 1e-8,
            "{v} {e}"
        );
    }
}
