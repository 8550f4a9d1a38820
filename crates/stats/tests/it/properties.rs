//! Property tests: invariances and sanity of every family on random samples.

use abforge_stats::{
    Alternative, Correction, Hypothesis, MannWhitneyMethod, MannWhitneyOptions, NormalIndPower,
    PowerOptions, RateCompare, RateMethod, Summary, TTestIndPower, adjust, mann_whitney_u,
    poisson_rate, relative_lift, student_t, two_proportion_z, welch_t,
};
use proptest::prelude::*;

fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1000.0..1000.0f64, 2..60)
}

/// Values on a grid of 1/4 in a small range: shifts by integers keep ties and order exactly.
fn grid_sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-200i32..200).prop_map(|k| k as f64 * 0.25), 2..60)
}

fn asym() -> MannWhitneyOptions {
    MannWhitneyOptions::with_method(MannWhitneyMethod::Asymptotic)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300) || (a - b).abs() < 1e-12
}

fn alternative() -> impl Strategy<Value = Alternative> {
    prop_oneof![
        Just(Alternative::TwoSided),
        Just(Alternative::Greater),
        Just(Alternative::Less)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn p_values_are_probabilities(t in sample(), c in sample(), alt in alternative()) {
        let h = Hypothesis::one_sided(alt, 0.05);
        let (st, sc) = (Summary::from_slice(&t), Summary::from_slice(&c));
        for r in [welch_t(&st, &sc, &h), student_t(&st, &sc, &h)].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&r.p_value));
            prop_assert!(r.ci_low <= r.estimate && r.estimate <= r.ci_high);
        }
        let o = MannWhitneyOptions { hypothesis: h, ..asym() };
        let m = mann_whitney_u(&t, &c, &o).unwrap();
        prop_assert!((0.0..=1.0).contains(&m.p_value));
        prop_assert_eq!(m.u_treatment + m.u_control, (t.len() * c.len()) as f64);
    }

    #[test]
    fn swapping_groups_flips_signs(t in sample(), c in sample()) {
        let h = Hypothesis::default();
        let (st, sc) = (Summary::from_slice(&t), Summary::from_slice(&c));
        for (a, b) in [
            (welch_t(&st, &sc, &h).unwrap(), welch_t(&sc, &st, &h).unwrap()),
            (student_t(&st, &sc, &h).unwrap(), student_t(&sc, &st, &h).unwrap()),
        ] {
            prop_assert_eq!(a.statistic, -b.statistic);
            prop_assert_eq!(a.estimate, -b.estimate);
            prop_assert_eq!(a.p_value, b.p_value);
            prop_assert!(close(a.ci_low, -b.ci_high, 1e-12));
        }
        let a = mann_whitney_u(&t, &c, &asym()).unwrap();
        let b = mann_whitney_u(&c, &t, &asym()).unwrap();
        prop_assert_eq!(a.u_treatment, b.u_control);
        prop_assert_eq!(a.z, -b.z);
        prop_assert_eq!(a.p_value, b.p_value);
    }

    #[test]
    fn swapping_binary_and_count_groups(
        xt in 0u64..500, nt in 1u64..500, xc in 0u64..500, nc in 1u64..500,
    ) {
        let (xt, xc) = (xt.min(nt), xc.min(nc));
        let h = Hypothesis::default();
        if let (Ok(a), Ok(b)) = (two_proportion_z(xt, nt, xc, nc, &h), two_proportion_z(xc, nc, xt, nt, &h)) {
            prop_assert_eq!(a.statistic, -b.statistic);
            prop_assert_eq!(a.p_value, b.p_value);
        }
        let (yt, yc) = (xt as f64, xc as f64);
        for m in [RateMethod::Score, RateMethod::Wald] {
            for cmp in [RateCompare::Ratio, RateCompare::Diff] {
                let a = poisson_rate(yt, nt as f64, yc, nc as f64, cmp, m, &h).unwrap();
                let b = poisson_rate(yc, nc as f64, yt, nt as f64, cmp, m, &h).unwrap();
                prop_assert!(close(a.statistic, -b.statistic, 1e-12), "{:?} {:?}", a, b);
                prop_assert!(close(a.p_value, b.p_value, 1e-12));
                prop_assert!((0.0..=1.0).contains(&a.p_value));
                prop_assert!(a.ci_low <= a.ci_high);
            }
        }
    }

    #[test]
    fn shifting_both_groups_changes_nothing(t in grid_sample(), c in grid_sample(), k in -1000i32..1000) {
        let shift = |v: &[f64]| v.iter().map(|x| x + k as f64).collect::<Vec<_>>();
        let (t2, c2) = (shift(&t), shift(&c));
        let a = mann_whitney_u(&t, &c, &asym()).unwrap();
        prop_assert_eq!(a, mann_whitney_u(&t2, &c2, &asym()).unwrap());
        let h = Hypothesis::default();
        let w = |t: &[f64], c: &[f64]| welch_t(&Summary::from_slice(t), &Summary::from_slice(c), &h);
        if let (Ok(x), Ok(y)) = (w(&t, &c), w(&t2, &c2)) {
            prop_assert!(close(x.statistic, y.statistic, 1e-9));
            prop_assert!(close(x.p_value, y.p_value, 1e-9));
            prop_assert!(close(x.df, y.df, 1e-9));
        }
    }

    #[test]
    fn scaling_both_groups_keeps_t_and_p(t in sample(), c in sample(), scale in 1e-3..1e3f64) {
        let h = Hypothesis::default();
        let sc = |v: &[f64]| Summary::from_slice(&v.iter().map(|x| x * scale).collect::<Vec<_>>());
        let (a, b) = (Summary::from_slice(&t), Summary::from_slice(&c));
        for (x, y) in [
            (welch_t(&a, &b, &h), welch_t(&sc(&t), &sc(&c), &h)),
            (student_t(&a, &b, &h), student_t(&sc(&t), &sc(&c), &h)),
            (relative_lift(&a, &b, &h).map(|_| welch_t(&a, &b, &h).unwrap()), relative_lift(&sc(&t), &sc(&c), &h).map(|_| welch_t(&sc(&t), &sc(&c), &h).unwrap())),
        ] {
            if let (Ok(x), Ok(y)) = (x, y) {
                prop_assert!(close(x.statistic, y.statistic, 1e-9));
                prop_assert!(close(x.p_value, y.p_value, 1e-8));
            }
        }
        if let (Ok(x), Ok(y)) = (relative_lift(&a, &b, &h), relative_lift(&sc(&t), &sc(&c), &h)) {
            prop_assert!(close(x.estimate, y.estimate, 1e-9));
            prop_assert!(x.ci_low <= x.estimate && x.estimate <= x.ci_high);
        }
    }

    #[test]
    fn power_is_monotone(d in 0.01..1.5f64, n in 3.0..5000.0f64, ratio in 0.2..5.0f64, alt in alternative()) {
        let o = PowerOptions { ratio, alternative: alt, ..PowerOptions::default() };
        let d = if alt == Alternative::Less { -d } else { d };
        for power in [
            |d, n, o: &PowerOptions| TTestIndPower.power(d, n, o).unwrap(),
            |d, n, o: &PowerOptions| NormalIndPower.power(d, n, o).unwrap(),
        ] {
            let p = power(d, n, &o);
            prop_assert!((0.0..=1.0).contains(&p));
            prop_assert!(power(d, n * 1.5, &o) >= p - 1e-12);
            prop_assert!(power(d * 1.5, n, &o) >= p - 1e-12);
            prop_assert!(p >= 0.05 * 0.999 || alt != Alternative::TwoSided);
        }
    }

    #[test]
    fn adjusted_p_values_are_monotone(p in prop::collection::vec(0.0..=1.0f64, 0..40)) {
        for method in [Correction::Bonferroni, Correction::Holm, Correction::BenjaminiHochberg] {
            let a = adjust(&p, method).unwrap();
            prop_assert_eq!(a.len(), p.len());
            for i in 0..p.len() {
                prop_assert!(a[i] >= p[i] && a[i] <= 1.0);
                for j in 0..p.len() {
                    if p[i] <= p[j] {
                        prop_assert!(a[i] <= a[j], "{:?}: {:?} -> {:?}", method, p, a);
                    }
                }
            }
        }
    }

    #[test]
    fn summaries_merge_like_concatenation(a in sample(), b in sample()) {
        let mut m = Summary::from_slice(&a);
        m.merge(&Summary::from_slice(&b));
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let s = Summary::from_slice(&all);
        prop_assert_eq!(m.n, s.n);
        prop_assert!(close(m.mean, s.mean, 1e-9) || (m.mean - s.mean).abs() < 1e-10);
        prop_assert!(close(m.variance(), s.variance(), 1e-9));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn ratio_metrics_are_consistent(
        pairs_t in prop::collection::vec((0.0..100.0f64, 1.0..5.0f64), 2..50),
        pairs_c in prop::collection::vec((0.0..100.0f64, 1.0..5.0f64), 2..50),
    ) {
        use abforge_stats::{RatioSummary, ratio_test};
        let split = |p: &[(f64, f64)]| -> (Vec<f64>, Vec<f64>) { p.iter().copied().unzip() };
        let ((xt, yt), (xc, yc)) = (split(&pairs_t), split(&pairs_c));
        let t = RatioSummary::from_slices(&xt, &yt).unwrap();
        let c = RatioSummary::from_slices(&xc, &yc).unwrap();
        let h = Hypothesis::default();
        let r = ratio_test(&t, &c, &h).unwrap();
        prop_assert!((0.0..=1.0).contains(&r.p_value));
        prop_assert!(r.ci_low <= r.estimate && r.estimate <= r.ci_high);
        let s = ratio_test(&c, &t, &h).unwrap();
        prop_assert_eq!(r.statistic, -s.statistic);
        prop_assert_eq!(r.p_value, s.p_value);
        // Pushing pair by pair gives the same summary.
        let mut pushed = RatioSummary::default();
        for (x, y) in &pairs_t {
            pushed.push(*x, *y);
        }
        prop_assert!(close(pushed.ratio(), t.ratio(), 1e-12));
        prop_assert!(close(pushed.cov_xy(), t.cov_xy(), 1e-9) || (pushed.cov_xy() - t.cov_xy()).abs() < 1e-9);
    }

    #[test]
    fn lift_interval_matches_its_test(t in sample(), c in sample()) {
        let (st, sc) = (Summary::from_slice(&t), Summary::from_slice(&c));
        let h = Hypothesis::default();
        if let Ok(r) = relative_lift(&st, &sc, &h) {
            prop_assert!((0.0..=1.0).contains(&r.p_value));
            prop_assert!(r.ci_low <= r.estimate && r.estimate <= r.ci_high);
            // The interval excludes 0 exactly when the test rejects (same normal quantile).
            if r.p_value < 0.049 || r.p_value > 0.051 {
                prop_assert_eq!(r.reject, r.ci_low > 0.0 || r.ci_high < 0.0);
            }
        }
    }

    #[test]
    fn exact_mann_whitney_is_a_probability(
        t in prop::collection::hash_set(-1000i32..1000, 1..9),
        c in prop::collection::hash_set(1000i32..3000, 1..12),
        shift in -2000i32..2000,
    ) {
        // Distinct values in both groups: no ties, so the exact law applies.
        let t: Vec<f64> = t.into_iter().map(|x| (x + shift) as f64 + 0.5).collect();
        let c: Vec<f64> = c.into_iter().map(f64::from).collect();
        for alt in [Alternative::TwoSided, Alternative::Greater, Alternative::Less] {
            let o = MannWhitneyOptions {
                hypothesis: Hypothesis::one_sided(alt, 0.05),
                method: MannWhitneyMethod::Exact,
                continuity: true,
            };
            let r = mann_whitney_u(&t, &c, &o).unwrap();
            prop_assert!(r.p_value > 0.0 && r.p_value <= 1.0);
        }
    }
}
