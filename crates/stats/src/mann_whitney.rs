//! The Mann–Whitney U test (Wilcoxon rank-sum), in O(n log n) by sorting and merging.

use rayon::prelude::*;
use serde::Serialize;
use statrs::function::gamma::ln_gamma;

use crate::dist;
use crate::error::{Error, Group, Result};
use crate::hypothesis::{Alternative, Hypothesis};

/// Slices longer than this are sorted with rayon's parallel sort.
const PAR_SORT: usize = 1 << 15;
/// The exact null law is computed only when `n_t · n_c` is at most this.
pub const EXACT_MAX_PAIRS: u64 = 10_000_000;

/// How the p-value is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MannWhitneyMethod {
    /// scipy's `'auto'`: exact when a group has at most 8 observations and there are no
    /// ties, else asymptotic. (Here also asymptotic when `n_t · n_c` exceeds
    /// [`EXACT_MAX_PAIRS`], where scipy would still try the exact law.)
    #[default]
    Auto,
    /// The tie-corrected normal approximation (scipy `method='asymptotic'`).
    Asymptotic,
    /// The exact permutation law of U, valid without ties (scipy `method='exact'`).
    Exact,
}

/// Options of [`mann_whitney_u`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MannWhitneyOptions {
    /// Alternative and α. The null must be "no effect" (`null = None`).
    pub hypothesis: Hypothesis,
    /// Exact or asymptotic p-value.
    pub method: MannWhitneyMethod,
    /// Apply the ±0.5 continuity correction to the normal approximation (scipy's default).
    pub continuity: bool,
}

impl Default for MannWhitneyOptions {
    fn default() -> Self {
        MannWhitneyOptions {
            hypothesis: Hypothesis::default(),
            method: MannWhitneyMethod::Auto,
            continuity: true,
        }
    }
}

impl MannWhitneyOptions {
    /// The default options with another method.
    pub fn with_method(method: MannWhitneyMethod) -> Self {
        MannWhitneyOptions {
            method,
            ..Self::default()
        }
    }
}

/// The result of [`mann_whitney_u`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MannWhitneyResult {
    /// `U_t = #(t > c) + ½·#(t = c)` over all pairs: scipy's statistic for the first sample.
    pub u_treatment: f64,
    /// `U_c = n_t·n_c − U_t`.
    pub u_control: f64,
    /// `U_t / (n_t·n_c)`, the probability that a random treatment value beats a random
    /// control value (ties count one half).
    pub prob_superiority: f64,
    /// The continuity-corrected, tie-corrected normal deviate of `U_t`,
    /// `(U_t − n_t n_c/2 − ½·sign(U_t − n_t n_c/2)) / σ` (0 when σ = 0).
    pub z: f64,
    /// The p-value for the alternative, by `method`.
    pub p_value: f64,
    /// The method actually used (never `Auto`).
    pub method: MannWhitneyMethod,
    /// Whether some values are tied (within or across groups).
    pub ties: bool,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at α (`p_value ≤ alpha`).
    pub reject: bool,
}

/// What the merge of two sorted samples yields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RankSums {
    pub n_t: u64,
    pub n_c: u64,
    /// `2·U_t`, an exact integer.
    pub twice_u: u128,
    /// `Σ (t_k³ − t_k)` over tie groups of the pooled sample.
    pub tie_term: f64,
    pub ties: bool,
}

/// The Mann–Whitney U test of treatment against control (scipy
/// `mannwhitneyu(treatment, control, use_continuity, alternative, method)`).
///
/// Both samples are copied and sorted (in parallel for long ones), then merged once:
/// O(n log n) time, O(n) memory. With `N = n_t + n_c`, `μ = n_t n_c / 2` and tie groups of
/// sizes `t_k` in the pooled sample:
///
/// ```text
/// σ² = n_t n_c / 12 · [(N + 1) − Σ(t_k³ − t_k) / (N (N − 1))]
/// two-sided:  p = min(1, 2·Φ̄((max(U_t, U_c) − μ − ½)/σ))
/// greater:    p = Φ̄((U_t − μ − ½)/σ)          less: p = Φ̄((U_c − μ − ½)/σ)
/// ```
///
/// (without the ½ when `continuity` is off). The exact p-value is `P(U ≥ u)` under the
/// permutation law (doubled and clipped at 1 for two-sided, with `u = max(U_t, U_c)`),
/// computed from the Gaussian binomial coefficients `[N choose n_t]_q` exactly as counts.
///
/// When every value is equal, σ = 0: scipy returns NaN; here `z = 0` and `p = 1`.
///
/// ```
/// use abforge_stats::{MannWhitneyMethod, MannWhitneyOptions, mann_whitney_u};
///
/// let t = [5.2, 6.0, 7.9];
/// let c = [3.1, 4.7];
/// let exact = mann_whitney_u(&t, &c, &MannWhitneyOptions::default())?;
/// assert_eq!((exact.u_treatment, exact.method), (6.0, MannWhitneyMethod::Exact));
/// assert!((exact.p_value - 0.2).abs() < 1e-15);
/// let asym = mann_whitney_u(&t, &c, &MannWhitneyOptions::with_method(MannWhitneyMethod::Asymptotic))?;
/// assert!((asym.p_value - 0.14891467317876572).abs() < 1e-15);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] for a NaN (±∞ are ranked like any value),
/// [`Error::TooFewObservations`] for an empty group, [`Error::InvalidInput`] for
/// `Exact` with ties or too large samples, or a null value.
pub fn mann_whitney_u(
    treatment: &[f64],
    control: &[f64],
    opts: &MannWhitneyOptions,
) -> Result<MannWhitneyResult> {
    opts.hypothesis.check_no_null("the Mann–Whitney U test")?;
    let (t, c) = rayon::join(
        || sorted_keys(treatment, Group::Treatment),
        || sorted_keys(control, Group::Control),
    );
    let sums = rank_sums(&t?, &c?)?;
    from_rank_sums(&sums, opts)
}

/// [`mann_whitney_u`] on samples already sorted ascending (no copy, no sort: one O(n)
/// merge), for Monte Carlo loops. `-0.0` and `0.0` count as tied.
///
/// # Errors
///
/// As [`mann_whitney_u`], plus [`Error::InvalidInput`] when a slice is not sorted.
pub fn mann_whitney_u_sorted(
    treatment: &[f64],
    control: &[f64],
    opts: &MannWhitneyOptions,
) -> Result<MannWhitneyResult> {
    opts.hypothesis.check_no_null("the Mann–Whitney U test")?;
    check_sorted(treatment, Group::Treatment)?;
    check_sorted(control, Group::Control)?;
    let sums = rank_sums(treatment, control)?;
    from_rank_sums(&sums, opts)
}

/// The order-preserving integer key of a non-NaN float (`-0.0` and `0.0` share one key):
/// sorting keys sorts the floats, and equal keys are equal floats.
#[inline]
fn sort_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The sorted keys of `xs`; NaN is an error.
pub(crate) fn sorted_keys(xs: &[f64], group: Group) -> Result<Vec<u64>> {
    if let Some(index) = xs.iter().position(|x| x.is_nan()) {
        return Err(Error::NonFinite { group, index });
    }
    let mut v: Vec<u64> = if xs.len() > PAR_SORT {
        xs.par_iter().map(|&x| sort_key(x)).collect()
    } else {
        xs.iter().map(|&x| sort_key(x)).collect()
    };
    if v.len() > PAR_SORT {
        v.par_sort_unstable();
    } else {
        v.sort_unstable();
    }
    Ok(v)
}

/// The histogram of small non-negative integers (`xs` holds only integers in `0..=max`).
pub(crate) fn count_histogram(xs: &[f64], max: usize) -> Vec<u64> {
    let count = |chunk: &[f64]| {
        let mut h = vec![0u64; max + 1];
        for &x in chunk {
            h[x as usize] += 1;
        }
        h
    };
    if xs.len() <= PAR_SORT {
        return count(xs);
    }
    xs.par_chunks(1 << 18).map(count).reduce(
        || vec![0u64; max + 1],
        |mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
            a
        },
    )
}

/// The rank sums of two samples given by their histograms over the same ordered values.
pub(crate) fn rank_sums_from_histograms(t: &[u64], c: &[u64]) -> Result<RankSums> {
    let (n_t, n_c): (u64, u64) = (t.iter().sum(), c.iter().sum());
    if n_t == 0 {
        return Err(Error::TooFewObservations {
            group: Group::Treatment,
            n: 0,
            needed: 1,
        });
    }
    if n_c == 0 {
        return Err(Error::TooFewObservations {
            group: Group::Control,
            n: 0,
            needed: 1,
        });
    }
    let mut acc = Accumulator::default();
    for (&a, &b) in t.iter().zip(c) {
        acc.add(a as u128, b as u128);
    }
    Ok(acc.finish(n_t, n_c))
}

/// Running `2·U_t` and tie term over the distinct values in increasing order.
#[derive(Default)]
struct Accumulator {
    control_below: u128,
    twice_u: u128,
    tie_term: u128,
    ties: bool,
}

impl Accumulator {
    /// `a` treatment and `b` control values equal to the next distinct value.
    #[inline]
    fn add(&mut self, a: u128, b: u128) {
        // Each treatment value here beats the smaller control values and ties with b.
        self.twice_u += a * (2 * self.control_below + b);
        self.control_below += b;
        let k = a + b;
        if k > 1 {
            self.ties = true;
            self.tie_term += k * k * k - k;
        }
    }

    fn finish(self, n_t: u64, n_c: u64) -> RankSums {
        RankSums {
            n_t,
            n_c,
            twice_u: self.twice_u,
            tie_term: self.tie_term as f64,
            ties: self.ties,
        }
    }
}

fn check_sorted(xs: &[f64], group: Group) -> Result<()> {
    if let Some(index) = xs.iter().position(|x| x.is_nan()) {
        return Err(Error::NonFinite { group, index });
    }
    if xs.windows(2).any(|w| w[0] > w[1]) {
        return Err(Error::InvalidInput(format!(
            "the {group} sample is not sorted ascending"
        )));
    }
    Ok(())
}

/// Merges two ascending samples: `2·U_t` and the tie term.
pub(crate) fn rank_sums<T: Copy + PartialOrd>(t: &[T], c: &[T]) -> Result<RankSums> {
    if t.is_empty() {
        return Err(Error::TooFewObservations {
            group: Group::Treatment,
            n: 0,
            needed: 1,
        });
    }
    if c.is_empty() {
        return Err(Error::TooFewObservations {
            group: Group::Control,
            n: 0,
            needed: 1,
        });
    }
    // The length of the run of values equal to `xs[from]` (`==` treats -0.0 and 0.0 alike).
    fn run<T: Copy + PartialOrd>(xs: &[T], from: usize) -> usize {
        let v = xs[from];
        xs[from + 1..]
            .iter()
            .position(|&x| x != v)
            .map_or(xs.len() - from, |k| k + 1)
    }
    let (nt, nc) = (t.len(), c.len());
    let (mut i, mut j) = (0usize, 0usize);
    let mut acc = Accumulator::default();
    while i < nt && j < nc {
        let (a, b) = (t[i], c[j]);
        if a < b {
            let k = run(t, i);
            acc.add(k as u128, 0);
            i += k;
        } else if b < a {
            let k = run(c, j);
            acc.add(0, k as u128);
            j += k;
        } else {
            let (ka, kb) = (run(t, i), run(c, j));
            acc.add(ka as u128, kb as u128);
            i += ka;
            j += kb;
        }
    }
    while i < nt {
        let k = run(t, i);
        acc.add(k as u128, 0);
        i += k;
    }
    while j < nc {
        let k = run(c, j);
        acc.add(0, k as u128);
        j += k;
    }
    Ok(acc.finish(nt as u64, nc as u64))
}

/// The test from the merged rank sums.
pub(crate) fn from_rank_sums(s: &RankSums, opts: &MannWhitneyOptions) -> Result<MannWhitneyResult> {
    let h = &opts.hypothesis;
    let (nt, nc) = (s.n_t as f64, s.n_c as f64);
    let pairs = nt * nc;
    let u_t = s.twice_u as f64 / 2.0;
    let u_c = pairs - u_t;
    let method = match opts.method {
        MannWhitneyMethod::Auto => {
            if (s.n_t <= 8 || s.n_c <= 8) && !s.ties && exact_feasible(s.n_t, s.n_c) {
                MannWhitneyMethod::Exact
            } else {
                MannWhitneyMethod::Asymptotic
            }
        }
        m => m,
    };
    let (z, sigma) = asymptotic_z(s, opts.continuity);
    let p_value = match method {
        MannWhitneyMethod::Exact => {
            if s.ties {
                return Err(Error::InvalidInput(
                    "the exact Mann–Whitney law assumes no ties; use the asymptotic method".into(),
                ));
            }
            if !exact_feasible(s.n_t, s.n_c) {
                return Err(Error::InvalidInput(format!(
                    "the exact Mann–Whitney law is limited to n_t·n_c ≤ {EXACT_MAX_PAIRS}"
                )));
            }
            // U values are integers without ties.
            let law = ExactLaw::new(s.n_t, s.n_c);
            match h.alternative {
                Alternative::TwoSided => (2.0 * law.sf(u_t.max(u_c) as u64)).min(1.0),
                Alternative::Greater => law.sf(u_t as u64),
                Alternative::Less => law.sf(u_c as u64),
            }
        }
        _ => {
            if sigma == 0.0 {
                1.0
            } else {
                let mu = 0.5 * pairs;
                let cc = if opts.continuity { 0.5 } else { 0.0 };
                let u = match h.alternative {
                    Alternative::TwoSided => u_t.max(u_c),
                    Alternative::Greater => u_t,
                    Alternative::Less => u_c,
                };
                let f = if h.alternative == Alternative::TwoSided {
                    2.0
                } else {
                    1.0
                };
                (f * dist::norm_sf((u - mu - cc) / sigma)).clamp(0.0, 1.0)
            }
        }
    };
    Ok(MannWhitneyResult {
        u_treatment: u_t,
        u_control: u_c,
        prob_superiority: u_t / pairs,
        z,
        p_value,
        method,
        ties: s.ties,
        alternative: h.alternative,
        reject: h.rejects(p_value),
    })
}

/// The signed, corrected z of `U_t` and σ.
fn asymptotic_z(s: &RankSums, continuity: bool) -> (f64, f64) {
    let (nt, nc) = (s.n_t as f64, s.n_c as f64);
    let n = nt + nc;
    let tie = if n > 1.0 {
        s.tie_term / (n * (n - 1.0))
    } else {
        0.0
    };
    let var = nt * nc / 12.0 * ((n + 1.0) - tie);
    let sigma = if var > 0.0 { var.sqrt() } else { 0.0 };
    if sigma == 0.0 {
        return (0.0, 0.0);
    }
    let d = s.twice_u as f64 / 2.0 - 0.5 * nt * nc;
    let cc = if continuity { 0.5 * d.signum() } else { 0.0 };
    let cc = if d == 0.0 { 0.0 } else { cc };
    ((d - cc) / sigma, sigma)
}

fn exact_feasible(n_t: u64, n_c: u64) -> bool {
    let pairs = n_t.saturating_mul(n_c);
    let (m, n) = (n_t.min(n_c) as f64, n_t.max(n_c) as f64);
    let ln_total = ln_gamma(m + n + 1.0) - ln_gamma(m + 1.0) - ln_gamma(n + 1.0);
    pairs <= EXACT_MAX_PAIRS && ln_total < 700.0
}

/// The permutation law of U for sample sizes `m` and `n` without ties.
///
/// The number of arrangements with `U = u` is the coefficient of `q^u` in the Gaussian
/// binomial `[m+n choose m]_q = Π_{i=1..m} (1 − q^{n+i}) / (1 − q^i)`, built one factor at a
/// time (multiply by `1 − q^{n+i}`, then divide by `1 − q^i` as a strided prefix sum). Only
/// the lower half of the symmetric coefficients is kept. The counts are exact integers while
/// they stay below 2^53, and rounded to 1 ulp beyond.
#[derive(Debug)]
pub(crate) struct ExactLaw {
    pairs: u64,
    /// Counts of `U = u` for `u ≤ pairs / 2`.
    counts: Vec<f64>,
    total: f64,
}

impl ExactLaw {
    pub(crate) fn new(n_t: u64, n_c: u64) -> Self {
        let (m, n) = (n_t.min(n_c) as usize, n_t.max(n_c) as usize);
        let pairs = (m * n) as u64;
        let half = m * n / 2;
        let mut c = vec![0.0f64; half + 1];
        c[0] = 1.0;
        for i in 1..=m {
            let shift = n + i;
            if shift <= half {
                for u in (shift..=half).rev() {
                    c[u] -= c[u - shift];
                }
            }
            for u in i..=half {
                c[u] += c[u - i];
            }
        }
        // Symmetry: c[u] = c[pairs − u].
        let mut total = 0.0;
        for (u, &x) in c.iter().enumerate() {
            total += if 2 * u as u64 == pairs { x } else { 2.0 * x };
        }
        ExactLaw {
            pairs,
            counts: c,
            total,
        }
    }

    /// `P(U ≤ u)`.
    fn cdf(&self, u: u64) -> f64 {
        if u >= self.pairs {
            return 1.0;
        }
        if 2 * u <= self.pairs {
            self.counts[..=u as usize].iter().sum::<f64>() / self.total
        } else {
            1.0 - self.sf(u + 1)
        }
    }

    /// `P(U ≥ u)`.
    pub(crate) fn sf(&self, u: u64) -> f64 {
        if u == 0 {
            return 1.0;
        }
        if u > self.pairs {
            return 0.0;
        }
        // P(U ≥ u) = P(U ≤ pairs − u) by symmetry.
        let k = self.pairs - u;
        if 2 * k <= self.pairs {
            self.cdf(k)
        } else {
            1.0 - self.cdf(u - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact law by the positive recurrence p(i, j, u) = i/(i+j) p(i−1, j, u−j) +
    /// j/(i+j) p(i, j−1, u) (the largest value belongs to treatment or to control).
    fn law_by_recurrence(m: usize, n: usize) -> Vec<f64> {
        let size = m * n + 1;
        // prev[i] = law for (i, j − 1); built over j.
        let mut cur: Vec<Vec<f64>> = (0..=m)
            .map(|_| {
                let mut v = vec![0.0; size];
                v[0] = 1.0;
                v
            })
            .collect();
        for j in 1..=n {
            let mut next = cur.clone();
            for i in 1..=m {
                let (a, b) = (i as f64 / (i + j) as f64, j as f64 / (i + j) as f64);
                for u in 0..size {
                    let from_t = if u >= j { next[i - 1][u - j] } else { 0.0 };
                    next[i][u] = a * from_t + b * cur[i][u];
                }
            }
            cur = next;
        }
        cur.swap_remove(m)
    }

    #[test]
    fn exact_law_matches_the_recurrence() {
        for &(m, n) in &[(1usize, 1usize), (2, 3), (5, 5), (4, 11), (8, 30), (12, 12)] {
            let law = ExactLaw::new(m as u64, n as u64);
            let p = law_by_recurrence(m, n);
            for u in 0..=(m * n) {
                let want: f64 = p[u..].iter().sum();
                let got = law.sf(u as u64);
                assert!(
                    (got - want).abs() < 1e-13,
                    "m={m} n={n} u={u}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn exact_law_large_unbalanced_is_normalised() {
        let law = ExactLaw::new(8, 100_000);
        assert!((law.sf(0) - 1.0).abs() < 1e-15);
        // The law is symmetric: P(U ≥ mn/2 + k) = P(U ≤ mn/2 − k).
        let mid = 400_000u64;
        assert!((law.sf(mid + 1000) - law.cdf(mid - 1000)).abs() < 1e-13);
        assert!((law.sf(mid) + law.cdf(mid - 1) - 1.0).abs() < 1e-13);
    }

    #[test]
    fn rank_sums_count_ties_once() {
        let s = rank_sums(&[1.0, 2.0, 2.0, 3.0], &[2.0, 2.0, 4.0]).unwrap();
        // U_t: 1 beats 0, 2s tie with two (1 each), 3 beats two 2s.
        assert_eq!(s.twice_u, 2 * 4);
        assert_eq!(s.tie_term, 60.0); // one tie group of 4
        assert!(s.ties);
        let z = rank_sums(&[-0.0], &[0.0]).unwrap();
        assert_eq!(z.twice_u, 1);
        let keys = sorted_keys(
            &[3.0, -0.0, f64::NEG_INFINITY, -2.5, 0.0, 1e-300],
            Group::Control,
        );
        let back: Vec<u64> = [f64::NEG_INFINITY, -2.5, 0.0, 0.0, 1e-300, 3.0]
            .map(sort_key)
            .to_vec();
        assert_eq!(keys.unwrap(), back);
        let h = rank_sums_from_histograms(&[0, 1, 2, 1], &[0, 2, 0, 0]).unwrap();
        let direct = rank_sums(&[1.0, 2.0, 2.0, 3.0], &[1.0, 1.0]).unwrap();
        assert_eq!(h, direct);
        assert_eq!(count_histogram(&[0.0, 3.0, 3.0, 1.0], 3), vec![1, 1, 0, 2]);
    }

    #[test]
    fn all_tied_gives_p_one() {
        let opts = MannWhitneyOptions::with_method(MannWhitneyMethod::Asymptotic);
        let r = mann_whitney_u(&[3.0; 5], &[3.0; 7], &opts).unwrap();
        assert_eq!((r.z, r.p_value, r.u_treatment), (0.0, 1.0, 17.5));
    }

    #[test]
    fn errors() {
        let o = MannWhitneyOptions::default();
        assert_eq!(
            mann_whitney_u(&[1.0, f64::NAN], &[1.0], &o).unwrap_err(),
            Error::NonFinite {
                group: Group::Treatment,
                index: 1
            }
        );
        assert!(matches!(
            mann_whitney_u(&[], &[1.0], &o),
            Err(Error::TooFewObservations {
                group: Group::Treatment,
                ..
            })
        ));
        let exact = MannWhitneyOptions::with_method(MannWhitneyMethod::Exact);
        assert!(mann_whitney_u(&[1.0, 2.0], &[2.0, 3.0], &exact).is_err());
        assert!(mann_whitney_u_sorted(&[2.0, 1.0], &[3.0], &o).is_err());
        assert!(mann_whitney_u(&[1.0, f64::INFINITY], &[0.5, f64::NEG_INFINITY], &o).is_ok());
    }

    #[test]
    fn one_sided_exact_and_auto_with_ties() {
        let g = MannWhitneyOptions {
            hypothesis: Hypothesis::one_sided(Alternative::Greater, 0.05),
            method: MannWhitneyMethod::Exact,
            continuity: true,
        };
        // All 3 treatment values beat both controls: P(U ≥ 6) = 1 / C(5, 2) = 0.1.
        let r = mann_whitney_u(&[5.2, 6.0, 7.9], &[3.1, 4.7], &g).unwrap();
        assert!((r.p_value - 0.1).abs() < 1e-15);
        let auto = mann_whitney_u(&[1.0, 2.0], &[2.0, 3.0], &MannWhitneyOptions::default());
        assert_eq!(auto.unwrap().method, MannWhitneyMethod::Asymptotic);
    }
}
