//! The experiment's design, drawn once per blueprint and seed: which cluster each customer
//! may join and with what probability, which group each cluster is in, and how many
//! customers arrive on each day and with what multiple of the effect.
//!
//! Everything here is drawn from its own design stream ([`design_rng`]), so it depends on
//! the blueprint and the seed only; the generator and the truth both read it.

use crate::blueprint::{Assignment, Blueprint};
use crate::generate::cumulative_weights;
use crate::rng::design_rng;
use chrono::Datelike;
use rand::RngExt;
use rand_distr::{Binomial, Distribution, StandardNormal};

/// The resolved design of a blueprint.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Design {
    /// The clusters, when the blueprint has `[clusters]`.
    pub clusters: Option<ClusterDesign>,
    /// The arrivals per day, when the blueprint has `[time]`.
    pub arrivals: Option<Arrivals>,
}

/// The clusters of a blueprint, drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterDesign {
    /// The probability that a customer belongs to each cluster (they sum to 1).
    pub weights: Vec<f64>,
    /// Each cluster's group (an index into the blueprint's groups) under cluster
    /// assignment; empty when customers are randomised one by one.
    pub arms: Vec<u16>,
    /// Per metric (in blueprint order), the ICC of its normal scores (0: none).
    pub icc: Vec<f64>,
}

/// The arrivals of a blueprint with `[time]`, drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrivals {
    /// Customers arriving on each day of the run (they sum to `customers`).
    pub counts: Vec<u64>,
    /// The multiple of the blueprint's effect on each day.
    pub multipliers: Vec<f64>,
    /// The first customer of each day, and the total at the end: `starts[d]..starts[d+1]`
    /// arrive on day `d`.
    starts: Vec<u64>,
}

impl Arrivals {
    /// The day (0-based) customer `row` arrives on.
    #[inline]
    pub fn day_of(&self, row: u64) -> u32 {
        (self.starts.partition_point(|s| *s <= row) - 1) as u32
    }

    /// Whether the effect is the same every day.
    pub fn constant_effect(&self) -> bool {
        self.multipliers.iter().all(|m| *m == 1.0)
    }
}

impl Design {
    /// The design of `bp` (validated), drawn from its seed.
    pub fn draw(bp: &Blueprint) -> Design {
        Design {
            clusters: bp.clusters.as_ref().map(|c| {
                let names: Vec<&str> = bp.metrics.iter().map(|m| m.name.as_str()).collect();
                ClusterDesign {
                    weights: cluster_weights(bp.seed, c.count, c.size_cv),
                    arms: match c.assignment {
                        Assignment::Cluster => cluster_arms(bp, c.count),
                        Assignment::Customer => Vec::new(),
                    },
                    icc: names
                        .iter()
                        .map(|n| c.icc.iter().find(|(m, _)| m == n).map_or(0.0, |(_, r)| *r))
                        .collect(),
                }
            }),
            arrivals: bp.time.as_ref().map(|t| {
                let counts = day_counts(bp, &t.weekdays);
                let multipliers = (0..bp.days).map(|d| t.effect.multiplier(d)).collect();
                let mut starts = Vec::with_capacity(counts.len() + 1);
                let mut at = 0;
                starts.push(0);
                for c in &counts {
                    at += c;
                    starts.push(at);
                }
                Arrivals {
                    counts,
                    multipliers,
                    starts,
                }
            }),
        }
    }

    /// Whether any effect changes with the day.
    pub fn effect_changes(&self) -> bool {
        self.arrivals.as_ref().is_some_and(|a| !a.constant_effect())
    }
}

/// The expected shares of `count` clusters whose sizes are lognormal with coefficient of
/// variation `cv` (all equal when it is 0).
fn cluster_weights(seed: u64, count: u64, cv: f64) -> Vec<f64> {
    if cv == 0.0 {
        return vec![1.0 / count as f64; count as usize];
    }
    let sigma = (1.0 + cv * cv).ln().sqrt();
    let mut r = design_rng(seed, "cluster:size");
    let sizes: Vec<f64> = (0..count)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut r);
            (sigma * z).exp()
        })
        .collect();
    let total: f64 = sizes.iter().sum();
    sizes.into_iter().map(|s| s / total).collect()
}

/// Each cluster's group, drawn with the realised allocation weights.
fn cluster_arms(bp: &Blueprint, count: u64) -> Vec<u16> {
    let cdf = cumulative_weights(bp.actual_allocation().into_iter());
    let mut r = design_rng(bp.seed, "cluster:group");
    (0..count)
        .map(|_| {
            let u: f64 = r.random();
            cdf.partition_point(|c| *c <= u) as u16
        })
        .collect()
}

/// Customers per day: a multinomial draw over the run's days with weights by weekday.
fn day_counts(bp: &Blueprint, weekdays: &[f64; 7]) -> Vec<u64> {
    let weights: Vec<f64> = (0..bp.days)
        .map(|d| {
            let date = bp.start_date + chrono::Days::new(u64::from(d));
            weekdays[date.weekday().num_days_from_monday() as usize]
        })
        .collect();
    let mut r = design_rng(bp.seed, "arrivals");
    let mut left = bp.customers;
    let mut mass: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|w| {
            let p = (w / mass).clamp(0.0, 1.0);
            mass -= w;
            let n = if p >= 1.0 {
                left
            } else {
                Binomial::new(left, p).expect("p in [0, 1]").sample(&mut r)
            };
            left -= n;
            n
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bp(extra: &str) -> Blueprint {
        Blueprint::from_toml(&format!(
            r#"
id = "d"
customers = 100000
start_date = 2026-11-02
days = 14
groups = {{ control = 1, treatment = 1 }}
[metrics.x]
distribution = "normal"
control = {{ mean = 0, sd = 1 }}
treatment = {{ lift_abs = 1 }}
{extra}
"#
        ))
        .unwrap()
    }

    #[test]
    fn arrivals_cover_every_customer_in_order() {
        let b = bp("[time]\nweekdays = { sat = 3, sun = 3 }\nramp = { days = 7 }");
        let a = Design::draw(&b).arrivals.unwrap();
        assert_eq!(a.counts.iter().sum::<u64>(), 100_000);
        assert_eq!(a.day_of(0), 0);
        assert_eq!(a.day_of(99_999), 13);
        let mut last = 0;
        for row in (0..100_000).step_by(97) {
            let d = a.day_of(row);
            assert!(d >= last);
            last = d;
        }
        // 2026-11-07 is a Saturday: days 5, 6, 12 and 13 weigh 3.
        let weekend: u64 = [5, 6, 12, 13].iter().map(|d| a.counts[*d]).sum();
        let share = weekend as f64 / 100_000.0;
        let expected: f64 = 12.0 / 22.0;
        let se = (expected * (1.0 - expected) / 100_000.0).sqrt();
        assert!((share - expected).abs() < 5.0 * se, "{share} vs {expected}");
        assert_eq!(a.multipliers[0], 1.0 / 7.0);
        assert_eq!(a.multipliers[6], 1.0);
        assert_eq!(a.multipliers[13], 1.0);
    }

    #[test]
    fn clusters_are_drawn_from_the_seed() {
        let b = bp("[clusters]\ncount = 50\nsize_cv = 0.8\nicc = { x = 0.1 }");
        let d = Design::draw(&b).clusters.unwrap();
        assert_eq!(d.weights.len(), 50);
        assert!((d.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(d.arms.len(), 50);
        assert!(d.arms.iter().all(|a| *a < 2));
        assert_eq!(d.icc, vec![0.1]);
        assert_eq!(Design::draw(&b), Design::draw(&b));
        assert_ne!(Design::draw(&b), Design::draw(&b.with_seed(1)));
    }
}
