//! A two-sample permutation test of the difference of means, seeded and parallel.

use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Group, Result, check_open};
use crate::hypothesis::{Alternative, Hypothesis};
use crate::resample::{BLOCK, Indices, block_rng};

/// Salt of the permutation test's random streams.
const SALT: u64 = 0x9E27;

/// Options of [`permutation_test`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PermutationOptions {
    /// Number of random permutations (at least 10).
    pub resamples: u32,
    /// Seed: the same seed gives the same p-value, whatever the thread count.
    pub seed: u64,
    /// Alternative and α; the null value must be "no effect" (`null = None`).
    pub hypothesis: Hypothesis,
}

impl Default for PermutationOptions {
    fn default() -> Self {
        PermutationOptions {
            resamples: 9999,
            seed: 0,
            hypothesis: Hypothesis::default(),
        }
    }
}

/// The result of [`permutation_test`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PermutationResult {
    /// The observed `mean(T) − mean(C)`.
    pub statistic: f64,
    /// The Monte Carlo p-value.
    pub p_value: f64,
    /// Permutations drawn.
    pub resamples: u32,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at α (`p_value ≤ alpha`).
    pub reject: bool,
}

/// The randomised permutation test of `mean(T) − mean(C)` (scipy
/// `stats.permutation_test((t, c), statistic, permutation_type='independent',
/// n_resamples=B)` with a random, not exhaustive, null distribution).
///
/// H0: the labels are exchangeable (the two groups have the same law). Each permutation
/// reassigns the pooled values to groups of the original sizes by a partial Fisher–Yates
/// shuffle of the smaller group's size, and computes the statistic from that group's sum
/// `s`: `d* = s_t/n_t − (S − s_t)/n_c`. With `γ = 100 ε |d|` absorbing rounding,
///
/// ```text
/// greater:   p = (1 + #{d* ≥ d − γ}) / (B + 1)        less: p = (1 + #{d* ≤ d + γ}) / (B + 1)
/// two-sided: p = min(1, 2 · min(p_greater, p_less))
/// ```
///
/// exactly scipy's conventions (Phipson & Smyth, "Permutation p-values should never be
/// zero", Stat. Appl. Genet. Mol. Biol. 9, 2010, for the `+1`). The p-value is valid at
/// every `B`; its Monte Carlo standard error is about `sqrt(p(1 − p)/B)`. As a test of the
/// means alone it assumes equal spreads (like Student's t); under unequal variances and
/// unequal sizes use Welch's test.
///
/// Permutations run in blocks of 64, each block from its own seeded stream starting from
/// the original order, so the result depends on the seed only, not on the thread count.
///
/// ```
/// use abforge_stats::{PermutationOptions, permutation_test};
///
/// let c = [3.1, 4.7, 2.2, 3.9, 4.1, 3.3, 2.8];
/// let t = [5.2, 6.0, 7.9, 5.5, 4.9, 6.6];
/// let r = permutation_test(&t, &c, &PermutationOptions { resamples: 5000, seed: 3, ..Default::default() })?;
/// assert!(r.p_value < 0.01 && r.reject);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::TooFewObservations`] for an empty group, [`Error::NonFinite`],
/// [`Error::InvalidParameter`] for fewer than 10 resamples or a bad α,
/// [`Error::InvalidInput`] for a null value.
pub fn permutation_test(
    treatment: &[f64],
    control: &[f64],
    opts: &PermutationOptions,
) -> Result<PermutationResult> {
    let h = &opts.hypothesis;
    h.check_no_null("the permutation test")?;
    check_open("alpha", h.alpha, 0.0, 1.0)?;
    if opts.resamples < 10 {
        return Err(Error::InvalidParameter {
            name: "resamples",
            value: f64::from(opts.resamples),
            expected: "at least 10 permutations",
        });
    }
    for (xs, group) in [(treatment, Group::Treatment), (control, Group::Control)] {
        if xs.is_empty() {
            return Err(Error::TooFewObservations {
                group,
                n: 0,
                needed: 1,
            });
        }
        if let Some(index) = xs.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite { group, index });
        }
    }
    let (nt, nc) = (treatment.len(), control.len());
    if (nt + nc) as u64 > u64::from(u32::MAX) {
        return Err(Error::InvalidParameter {
            name: "sample size",
            value: (nt + nc) as f64,
            expected: "at most 2^32 − 1 values in both groups",
        });
    }
    let pooled: Vec<f64> = treatment.iter().chain(control).copied().collect();
    let total: f64 = pooled.iter().sum();
    let (ntf, ncf) = (nt as f64, nc as f64);
    let stat = |s_t: f64| s_t / ntf - (total - s_t) / ncf;
    let observed = stat(treatment.iter().sum());
    // Shuffle the smaller group's share into the front; its sum gives the statistic.
    let k = nt.min(nc);
    let front_is_treatment = nt <= nc;
    let gamma = (100.0 * f64::EPSILON * observed).abs();
    let b = opts.resamples;
    let blocks = b.div_ceil(BLOCK);
    let (ge, le) = (0..blocks)
        .into_par_iter()
        .map(|blk| {
            let mut rng = block_rng(opts.seed, SALT, u64::from(blk));
            let mut work = pooled.clone();
            let len = BLOCK.min(b - blk * BLOCK);
            let (mut ge, mut le) = (0u64, 0u64);
            for _ in 0..len {
                let s = partial_shuffle_sum(&mut work, k, &mut rng);
                let s_t = if front_is_treatment { s } else { total - s };
                let d = stat(s_t);
                ge += u64::from(d >= observed - gamma);
                le += u64::from(d <= observed + gamma);
            }
            (ge, le)
        })
        .reduce(|| (0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
    let denom = f64::from(b) + 1.0;
    let p_greater = (ge as f64 + 1.0) / denom;
    let p_less = (le as f64 + 1.0) / denom;
    let p_value = match h.alternative {
        Alternative::TwoSided => (2.0 * p_greater.min(p_less)).min(1.0),
        Alternative::Greater => p_greater,
        Alternative::Less => p_less,
    };
    Ok(PermutationResult {
        statistic: observed,
        p_value,
        resamples: b,
        alternative: h.alternative,
        reject: h.rejects(p_value),
    })
}

/// Moves a uniformly random `k`-subset of `xs` to its front (partial Fisher–Yates; the
/// selection is uniform whatever the current order) and returns its sum.
fn partial_shuffle_sum<R: Rng + ?Sized>(xs: &mut [f64], k: usize, rng: &mut R) -> f64 {
    let n = xs.len();
    let mut s = 0.0;
    for i in 0..k {
        let j = i + Indices::new(n - i).draw(rng);
        xs.swap(i, j);
        s += xs[i];
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_thread_independent() {
        let t: Vec<f64> = (0..40).map(|i| (i % 7) as f64).collect();
        let c: Vec<f64> = (0..30).map(|i| (i % 5) as f64).collect();
        let o = PermutationOptions {
            resamples: 999,
            seed: 4,
            ..Default::default()
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| permutation_test(&t, &c, &o).unwrap());
        assert_eq!(one, permutation_test(&t, &c, &o).unwrap());
        assert!(one.p_value > 0.0 && one.p_value <= 1.0);
    }

    #[test]
    fn identical_groups_never_reject() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let r = permutation_test(&x, &x, &PermutationOptions::default()).unwrap();
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn one_sided_p_values() {
        let t = [5.0, 6.0, 7.0, 8.0, 9.0];
        let c = [1.0, 2.0, 3.0, 4.0, 5.5];
        let mk = |alternative| PermutationOptions {
            resamples: 2000,
            seed: 1,
            hypothesis: Hypothesis::one_sided(alternative, 0.05),
        };
        let g = permutation_test(&t, &c, &mk(Alternative::Greater)).unwrap();
        let l = permutation_test(&t, &c, &mk(Alternative::Less)).unwrap();
        // Exact: 1 of C(10, 5) = 252 splits is as extreme, p = 1/252 ≈ 0.004.
        assert!(g.p_value < 0.02, "{}", g.p_value);
        assert!(l.p_value > 0.98);
    }

    #[test]
    fn errors() {
        let o = PermutationOptions::default();
        assert!(permutation_test(&[], &[1.0], &o).is_err());
        assert!(permutation_test(&[f64::NAN], &[1.0], &o).is_err());
        let bad = PermutationOptions {
            hypothesis: Hypothesis::default().with_null(1.0),
            ..o
        };
        assert!(permutation_test(&[1.0], &[1.0], &bad).is_err());
    }
}
