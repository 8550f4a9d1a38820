//! The Mann–Whitney U test of small counts from their histograms, for Monte Carlo loops.

use crate::error::Result;
use crate::mann_whitney::{self, MannWhitneyOptions, MannWhitneyResult};

/// [`mann_whitney_u`](crate::mann_whitney_u) of two samples of non-negative integers given
/// by their histograms (`treatment[k]` = how many treatment values equal `k`; the slices may
/// differ in length): one O(max value) merge, no sort. The result is identical to the test
/// on the raw values.
///
/// ```
/// use abforge_stats::{MannWhitneyOptions, mann_whitney_u, mann_whitney_u_histograms};
///
/// let t = [0.0, 1.0, 1.0, 3.0, 2.0];
/// let c = [0.0, 0.0, 1.0, 2.0];
/// let by_hist = mann_whitney_u_histograms(&[1, 2, 1, 1], &[2, 1, 1], &MannWhitneyOptions::default())?;
/// assert_eq!(by_hist, mann_whitney_u(&t, &c, &MannWhitneyOptions::default())?);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// As [`mann_whitney_u`](crate::mann_whitney_u): an empty group, a null value, `Exact`
/// with ties.
pub fn mann_whitney_u_histograms(
    treatment: &[u64],
    control: &[u64],
    opts: &MannWhitneyOptions,
) -> Result<MannWhitneyResult> {
    opts.hypothesis.check_no_null("the Mann–Whitney U test")?;
    let len = treatment.len().max(control.len());
    let pad = |h: &[u64]| -> Vec<u64> {
        let mut v = h.to_vec();
        v.resize(len, 0);
        v
    };
    let sums = if treatment.len() == control.len() {
        mann_whitney::rank_sums_from_histograms(treatment, control)?
    } else {
        mann_whitney::rank_sums_from_histograms(&pad(treatment), &pad(control))?
    };
    mann_whitney::from_rank_sums(&sums, opts)
}
