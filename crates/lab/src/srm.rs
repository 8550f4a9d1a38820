//! The sample-ratio checks calibrated: how often do the checks of the split of customers over
//! the groups raise an alarm, against the blueprint's truth (a mismatch exactly when its
//! `[actual_groups]` shares differ from the planned `[groups]`)?
//!
//! Each replication draws the customers' groups as `abforge generate` assigns them: every
//! customer independently, with the realised shares (the planned ones without
//! `[actual_groups]`), so the counts per group are multinomial. The customers arrive in order
//! and the experiment is looked at `K` times (the lab's peeks): look `k` sees the first
//! `⌈kN/K⌉` customers, and the counts of each look's new customers are drawn as a multinomial
//! (a chain of binomials) on top of the previous look's. Three checks are judged:
//!
//! * [`SrmCheck::ChiSquareFinal`]: Pearson's χ² test of the final counts
//!   ([`abforge_stats::srm()`], as `abforge analyze` runs it), flagged when `p < α`;
//! * [`SrmCheck::ChiSquarePeeking`]: the same test at every look, flagged when any look flags
//!   (checked daily, its false-alarm rate grows with the looks);
//! * [`SrmCheck::Sequential`]: the anytime-valid test of Lindon & Malek (2022) folded over the
//!   looks ([`SrmSequence`]), flagged when its p-value is at most α at some look.
//!
//! Only counts are drawn, so the section costs little beside the tests. Replication `r`
//! draws from a stream seeded by `(seed, r)` alone, and the counts are merged as integers:
//! the result does not depend on the thread count.

use crate::error::Result;
use crate::report::{as_map, wilson};
use abforge_env::Invalid;
use abforge_stats::srm_sequential::DEFAULT_CONCENTRATION;
use abforge_stats::{SequentialSrmOptions, SrmSequence, srm};
use abforge_synth::Blueprint;
use rand::SeedableRng;
use rand_distr::{Binomial, Distribution};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

/// The default level of the sample-ratio checks: the threshold at which `abforge analyze`
/// reports a mismatch (`p < 0.001`).
pub const DEFAULT_SRM_ALPHA: f64 = 0.001;
/// Replications per unit of parallel work.
const BLOCK: u64 = 256;
/// Two allocations closer than this (share by share) are the same.
const SAME_SHARE: f64 = 1e-12;

/// A sample-ratio check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SrmCheck {
    /// Pearson's χ² test of the final counts, `p < α`.
    ChiSquareFinal,
    /// Pearson's χ² test at every look, flagged if any look has `p < α` (naive peeking).
    ChiSquarePeeking,
    /// The anytime-valid Dirichlet–multinomial test (Lindon & Malek 2022), flagged if its
    /// p-value is at most α at some look.
    Sequential,
}

impl SrmCheck {
    /// The checks, in report order.
    pub const ALL: [SrmCheck; 3] = [
        SrmCheck::ChiSquareFinal,
        SrmCheck::ChiSquarePeeking,
        SrmCheck::Sequential,
    ];

    /// The check's name, as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            SrmCheck::ChiSquareFinal => "chi_square_final",
            SrmCheck::ChiSquarePeeking => "chi_square_peeking",
            SrmCheck::Sequential => "sequential",
        }
    }
}

/// One sample-ratio check over the replications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmCheckResult {
    /// The check.
    pub check: SrmCheck,
    /// Replications judged.
    pub replications: u64,
    /// Replications where it flagged a mismatch.
    pub flagged: u64,
    /// `flagged / replications`.
    pub flag_rate: f64,
    /// Wilson 95 % interval of the flag rate.
    pub ci_low: f64,
    /// Upper bound.
    pub ci_high: f64,
    /// The flag rate when there is no mismatch (`null` when there is one).
    pub false_alarm_rate: Option<f64>,
    /// The flag rate when there is a mismatch (`null` when there is none).
    pub power: Option<f64>,
    /// With no mismatch, α lies below the Wilson interval of the false-alarm rate (too many
    /// alarms) or, for the final-look χ² only, above it (too few).
    pub miscalibrated: bool,
    /// The mean look (from 1) of the first flag, over the flagged replications (the checks
    /// made at every look).
    pub mean_flag_look: Option<f64>,
    /// The mean customers seen at the first flag, over the flagged replications.
    pub mean_flag_customers: Option<f64>,
}

/// The sample-ratio section of a calibration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmCalibration {
    /// The level of the three checks.
    pub alpha: f64,
    /// Looks per experiment (the lab's peeks).
    pub looks: u32,
    /// The truth: the realised shares differ from the planned ones.
    pub mismatch: bool,
    /// The planned shares (normalised `[groups]`), which the checks test.
    #[serde(serialize_with = "as_map")]
    pub planned_shares: Vec<(String, f64)>,
    /// The shares customers are drawn with (`[actual_groups]`, else the planned ones).
    #[serde(serialize_with = "as_map")]
    pub actual_shares: Vec<(String, f64)>,
    /// The Dirichlet concentration of the sequential test's prior (centred on the plan).
    pub concentration: f64,
    /// One entry per check, in the order of [`SrmCheck::ALL`].
    pub checks: Vec<SrmCheckResult>,
}

/// Counts of one check over a block of replications.
#[derive(Debug, Clone, Copy, Default)]
struct CheckAcc {
    flagged: u64,
    look_sum: u64,
    customers_sum: u128,
}

impl CheckAcc {
    fn flag_at(&mut self, look: u32, customers: u64) {
        self.flagged += 1;
        self.look_sum += u64::from(look);
        self.customers_sum += u128::from(customers);
    }

    fn merge(&mut self, o: CheckAcc) {
        self.flagged += o.flagged;
        self.look_sum += o.look_sum;
        self.customers_sum += o.customers_sum;
    }
}

/// What is fixed for the section's run.
struct SrmPlan {
    seed: u64,
    customers: u64,
    looks: u32,
    alpha: f64,
    planned: Vec<f64>,
    actual: Vec<f64>,
    sequence: SrmSequence,
}

/// Calibrates the three sample-ratio checks on `replications` experiments of `bp` (its
/// `customers` already set), looked at `looks` times, at level `alpha`; replication `r`
/// draws from a stream derived from `(seed, r)`. `None` for a blueprint with a single group,
/// which has no split to check.
///
/// # Errors
///
/// [`crate::Error::Invalid`] naming `groups` when the stats crate refuses the planned shares
/// (it does not for a validated blueprint).
pub fn calibrate_srm(
    bp: &Blueprint,
    seed: u64,
    replications: u64,
    looks: u32,
    alpha: f64,
) -> Result<Option<SrmCalibration>> {
    if bp.groups.len() < 2 {
        return Ok(None);
    }
    let planned = bp.planned_allocation();
    let opts = SequentialSrmOptions {
        alpha,
        ..SequentialSrmOptions::default()
    };
    let sequence = SrmSequence::new(&planned, opts).map_err(|e| {
        Invalid::new(
            "groups",
            format!("the sample-ratio check refuses them: {e}"),
        )
    })?;
    let plan = SrmPlan {
        seed,
        customers: bp.customers,
        looks: looks.max(1),
        alpha,
        actual: bp.actual_allocation(),
        planned,
        sequence,
    };
    let accs = run_blocks(&plan, replications)?;
    Ok(Some(report(bp, &plan, replications, accs)))
}

/// The replications in parallel blocks, merged in block order (integer sums: the same
/// whatever the thread count).
fn run_blocks(plan: &SrmPlan, replications: u64) -> Result<[CheckAcc; 3]> {
    let blocks: Vec<[CheckAcc; 3]> = (0..replications.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| -> Result<[CheckAcc; 3]> {
            let mut accs = [CheckAcc::default(); 3];
            let mut buf = Counts::new(plan.planned.len());
            for r in b * BLOCK..((b + 1) * BLOCK).min(replications) {
                replicate(plan, r, &mut buf, &mut accs)?;
            }
            Ok(accs)
        })
        .collect::<Result<_>>()?;
    let mut total = [CheckAcc::default(); 3];
    for block in blocks {
        for (t, a) in total.iter_mut().zip(block) {
            t.merge(a);
        }
    }
    Ok(total)
}

/// Per-block buffers: the cumulative counts and the latest look's new ones.
struct Counts {
    cumulative: Vec<u64>,
    new: Vec<u64>,
}

impl Counts {
    fn new(groups: usize) -> Self {
        Counts {
            cumulative: vec![0; groups],
            new: vec![0; groups],
        }
    }
}

/// Customers seen at look `k` of `looks`: `⌈kN/K⌉`.
fn seen(customers: u64, k: u32, looks: u32) -> u64 {
    let n = u128::from(customers) * u128::from(k);
    u64::try_from(n.div_ceil(u128::from(looks))).unwrap_or(customers)
}

/// One replication: the looks' counts drawn incrementally, each check judged.
fn replicate(plan: &SrmPlan, r: u64, buf: &mut Counts, accs: &mut [CheckAcc; 3]) -> Result<()> {
    let mut rng =
        Xoshiro256PlusPlus::seed_from_u64(crate::run::derive(plan.seed, crate::run::SALT_SRM, r));
    let mut sequence = plan.sequence.clone();
    buf.cumulative.fill(0);
    let (mut before, mut peek_flagged) = (0, false);
    let refused = |e: abforge_stats::Error| Invalid::new("groups", e.to_string());
    for k in 1..=plan.looks {
        let now = seen(plan.customers, k, plan.looks);
        multinomial(now - before, &plan.actual, &mut rng, &mut buf.new);
        before = now;
        for (c, x) in buf.cumulative.iter_mut().zip(&buf.new) {
            *c += x;
        }
        let chi_flags = now > 0
            && srm(&buf.cumulative, &plan.planned)
                .map_err(refused)?
                .p_value
                < plan.alpha;
        if chi_flags && !peek_flagged {
            peek_flagged = true;
            accs[1].flag_at(k, now);
        }
        if chi_flags && k == plan.looks {
            accs[0].flag_at(k, now);
        }
        let was = sequence.flagged();
        sequence.push(&buf.new).map_err(refused)?;
        if sequence.flagged() && !was {
            accs[2].flag_at(k, now);
        }
    }
    Ok(())
}

/// `n` customers over the groups with probabilities `shares` (summing to 1): a chain of
/// binomials, each group's count given those before it.
fn multinomial(n: u64, shares: &[f64], rng: &mut Xoshiro256PlusPlus, out: &mut [u64]) {
    let (mut left, mut mass) = (n, 1.0f64);
    let last = shares.len() - 1;
    for (g, (&s, o)) in shares.iter().zip(out.iter_mut()).enumerate() {
        let p = if mass > 0.0 {
            (s / mass).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let x = if g == last || p >= 1.0 {
            left
        } else if left == 0 || p <= 0.0 {
            0
        } else {
            Binomial::new(left, p).map_or(0, |b| b.sample(rng))
        };
        *o = x;
        left -= x;
        mass -= s;
    }
}

/// The section from the merged counts.
fn report(
    bp: &Blueprint,
    plan: &SrmPlan,
    replications: u64,
    accs: [CheckAcc; 3],
) -> SrmCalibration {
    let mismatch = plan
        .planned
        .iter()
        .zip(&plan.actual)
        .any(|(p, a)| (p - a).abs() > SAME_SHARE);
    let named = |shares: &[f64]| {
        bp.groups
            .iter()
            .map(|(g, _)| g.clone())
            .zip(shares.iter().copied())
            .collect()
    };
    let checks = SrmCheck::ALL
        .iter()
        .zip(accs)
        .map(|(&check, acc)| check_result(check, acc, replications, plan.alpha, mismatch))
        .collect();
    SrmCalibration {
        alpha: plan.alpha,
        looks: plan.looks,
        mismatch,
        planned_shares: named(&plan.planned),
        actual_shares: named(&plan.actual),
        concentration: DEFAULT_CONCENTRATION,
        checks,
    }
}

fn check_result(
    check: SrmCheck,
    acc: CheckAcc,
    n: u64,
    alpha: f64,
    mismatch: bool,
) -> SrmCheckResult {
    let (ci_low, ci_high) = wilson(acc.flagged, n);
    let rate = (n > 0).then(|| acc.flagged as f64 / n as f64);
    let too_many = alpha < ci_low;
    let too_few = alpha > ci_high && check == SrmCheck::ChiSquareFinal;
    let flagged = acc.flagged as f64;
    let every_look = check != SrmCheck::ChiSquareFinal && acc.flagged > 0;
    SrmCheckResult {
        check,
        replications: n,
        flagged: acc.flagged,
        flag_rate: rate.unwrap_or(0.0),
        ci_low,
        ci_high,
        false_alarm_rate: rate.filter(|_| !mismatch),
        power: rate.filter(|_| mismatch),
        miscalibrated: !mismatch && n > 0 && (too_many || too_few),
        mean_flag_look: every_look.then(|| acc.look_sum as f64 / flagged),
        mean_flag_customers: every_look.then(|| acc.customers_sum as f64 / flagged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_see_the_first_customers_rounded_up() {
        assert_eq!(seen(10, 1, 3), 4);
        assert_eq!(seen(10, 2, 3), 7);
        assert_eq!(seen(10, 3, 3), 10);
        assert_eq!(seen(10_000_000_000, 999, 1000), 9_990_000_000);
    }

    #[test]
    fn the_multinomial_keeps_every_customer_and_its_shares() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let shares = [0.2, 0.5, 0.3];
        let mut out = [0u64; 3];
        let mut sum = [0u64; 3];
        for _ in 0..200 {
            multinomial(1000, &shares, &mut rng, &mut out);
            assert_eq!(out.iter().sum::<u64>(), 1000);
            for (s, o) in sum.iter_mut().zip(out) {
                *s += o;
            }
        }
        // 200 000 draws: each share within 5 standard errors (≤ 0.0011 · 5).
        for (s, p) in sum.iter().zip(shares) {
            assert!((*s as f64 / 200_000.0 - p).abs() < 0.0056, "{sum:?}");
        }
        multinomial(0, &shares, &mut rng, &mut out);
        assert_eq!(out, [0, 0, 0]);
    }
}
