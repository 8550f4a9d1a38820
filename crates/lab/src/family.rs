//! Families of tests: one test run on several metric × arm pairs of a replication, its
//! p-values corrected for multiplicity (none, Bonferroni, Holm, Benjamini–Hochberg) and the
//! decisions judged against the truth. Each correction promises one rate — Bonferroni and
//! Holm the family-wise error rate (FWER, the chance of any false rejection), BH the false
//! discovery rate (FDR, the expected share of false rejections among rejections) — and the
//! lab measures the rate it promised, with its power, over metrics that may be correlated.

use crate::method::Method;
use crate::report::{CorrectionResult, FamilyResult, wilson};
use abforge_stats::{Correction, adjust};

/// The corrections judged, with the rate each promises to hold at α.
const CORRECTIONS: [(Correction, &str, Promise); 4] = [
    (Correction::None, "none", Promise::Nothing),
    (Correction::Bonferroni, "bonferroni", Promise::Fwer),
    (Correction::Holm, "holm", Promise::Fwer),
    (
        Correction::BenjaminiHochberg,
        "benjamini_hochberg",
        Promise::Fdr,
    ),
];

/// `z_{0.975}`, for the normal interval of the FDR.
const Z95: f64 = 1.959_963_984_540_054;

/// The error rate a correction keeps at or below α.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Promise {
    Nothing,
    Fwer,
    Fdr,
}

impl Promise {
    fn name(self) -> &'static str {
        match self {
            Promise::Nothing => "none",
            Promise::Fwer => "fwer",
            Promise::Fdr => "fdr",
        }
    }
}

/// One member of a family in one replication: its p-value (`None`: the test gave none, so
/// it cannot reject) and whether its null is true.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FamilyItem {
    pub p: Option<f64>,
    pub null: bool,
}

/// The counts of one correction over replications.
#[derive(Debug, Clone, Default)]
struct Counts {
    /// Replications with at least one false rejection.
    any_false: u64,
    /// Σ V/max(R, 1) and its square, for the FDR's mean and standard error.
    fdp_sum: f64,
    fdp_sq: f64,
    /// Rejected false nulls, and false nulls, summed over replications.
    true_discoveries: u64,
    false_nulls: u64,
}

/// The counts of one family (one test) over a block of replications.
#[derive(Debug, Clone, Default)]
pub(crate) struct FamilyAcc {
    replications: u64,
    members: usize,
    counts: [Counts; 4],
}

impl FamilyAcc {
    /// Counts one replication's family at level `alpha`.
    pub(crate) fn add(&mut self, items: &[FamilyItem], alpha: f64) {
        if items.len() < 2 {
            return;
        }
        let p: Vec<f64> = items.iter().map(|i| i.p.unwrap_or(1.0)).collect();
        self.replications += 1;
        self.members = self.members.max(items.len());
        for (k, (correction, _, _)) in CORRECTIONS.iter().enumerate() {
            let adjusted = adjust(&p, *correction).unwrap_or_else(|_| vec![1.0; p.len()]);
            let c = &mut self.counts[k];
            let (mut v, mut r) = (0u64, 0u64);
            for (item, q) in items.iter().zip(adjusted) {
                let reject = q <= alpha;
                r += u64::from(reject);
                v += u64::from(reject && item.null);
                c.true_discoveries += u64::from(reject && !item.null);
                c.false_nulls += u64::from(!item.null);
            }
            c.any_false += u64::from(v > 0);
            let fdp = v as f64 / r.max(1) as f64;
            c.fdp_sum += fdp;
            c.fdp_sq += fdp * fdp;
        }
    }

    pub(crate) fn merge(&mut self, o: &FamilyAcc) {
        self.replications += o.replications;
        self.members = self.members.max(o.members);
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            a.any_false += b.any_false;
            a.fdp_sum += b.fdp_sum;
            a.fdp_sq += b.fdp_sq;
            a.true_discoveries += b.true_discoveries;
            a.false_nulls += b.false_nulls;
        }
    }

    /// The report of the family of `test`; `None` when no replication had two members.
    pub(crate) fn finish(&self, test: Method, alpha: f64) -> Option<FamilyResult> {
        let n = self.replications;
        if n == 0 {
            return None;
        }
        let corrections = CORRECTIONS
            .iter()
            .zip(&self.counts)
            .map(|(&(_, name, promise), c)| correction(name, promise, c, n, alpha))
            .collect();
        Some(FamilyResult {
            test,
            members: self.members,
            replications: n,
            corrections,
        })
    }
}

fn correction(
    name: &'static str,
    promise: Promise,
    c: &Counts,
    n: u64,
    alpha: f64,
) -> CorrectionResult {
    let (fwer_ci_low, fwer_ci_high) = wilson(c.any_false, n);
    let nf = n as f64;
    let fdr = c.fdp_sum / nf;
    let var = (c.fdp_sq / nf - fdr * fdr).max(0.0);
    let fdr_se = (var / nf).sqrt();
    let breaks_promise = match promise {
        Promise::Nothing => false,
        Promise::Fwer => fwer_ci_low > alpha,
        Promise::Fdr => fdr - Z95 * fdr_se > alpha,
    };
    CorrectionResult {
        correction: name,
        controls: promise.name(),
        fwer: c.any_false as f64 / nf,
        fwer_ci_low,
        fwer_ci_high,
        fdr,
        fdr_se,
        power: (c.false_nulls > 0).then(|| c.true_discoveries as f64 / c.false_nulls as f64),
        breaks_promise,
    }
}

/// The methods run on at least two metric × arm pairs, in report order.
pub(crate) fn family_methods(entries: &[(usize, usize, Method)]) -> Vec<Method> {
    let mut methods: Vec<Method> = entries.iter().map(|e| e.2).collect();
    methods.sort();
    let mut out = Vec::new();
    for w in methods.chunk_by(|a, b| a == b) {
        if w.len() >= 2 {
            out.push(w[0]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(p: f64, null: bool) -> FamilyItem {
        FamilyItem { p: Some(p), null }
    }

    /// One replication counted by hand: p = (0.01, 0.02, 0.04, 0.3), the first and third
    /// nulls true. Uncorrected, three rejections (two false); Bonferroni (×4) rejects the
    /// first only (0.04 ≤ 0.05), a false rejection; BH the first two.
    #[test]
    fn one_replication_by_hand() {
        let mut acc = FamilyAcc::default();
        let items = [
            item(0.01, true),
            item(0.02, false),
            item(0.04, true),
            item(0.3, false),
        ];
        acc.add(&items, 0.05);
        let r = acc.finish(Method::WelchT, 0.05).expect("a family");
        let by = |name: &str| r.corrections.iter().find(|c| c.correction == name).unwrap();
        let none = by("none");
        assert_eq!(
            (none.fwer, none.fdr, none.power),
            (1.0, 2.0 / 3.0, Some(0.5))
        );
        let bonf = by("bonferroni");
        assert_eq!((bonf.fwer, bonf.fdr, bonf.power), (1.0, 1.0, Some(0.0)));
        // BH: adjusted 0.04, 0.04, 0.0533, 0.3: rejects the first two.
        let bh = by("benjamini_hochberg");
        assert_eq!((bh.fwer, bh.fdr, bh.power), (1.0, 0.5, Some(0.5)));
        assert_eq!(r.members, 4);
    }

    #[test]
    fn a_family_needs_two_members_and_merges() {
        let mut a = FamilyAcc::default();
        a.add(&[item(0.01, true)], 0.05);
        assert!(a.finish(Method::WelchT, 0.05).is_none());
        let mut b = FamilyAcc::default();
        b.add(&[item(0.9, true), item(0.8, true)], 0.05);
        a.merge(&b);
        let r = a.finish(Method::WelchT, 0.05).unwrap();
        assert_eq!(r.replications, 1);
        assert!(
            r.corrections
                .iter()
                .all(|c| c.fwer == 0.0 && c.power.is_none())
        );
        let entries = [
            (0, 1, Method::WelchT),
            (1, 1, Method::WelchT),
            (0, 1, Method::Cuped),
        ];
        assert_eq!(family_methods(&entries), [Method::WelchT]);
    }
}
