//! Quantile differences: the type-1 definition (lake and numpy), order-statistic ranks
//! (scipy.stats.binom), the Deng–Knoblich–Lu standard error (direct numpy), the percentile
//! bootstrap (scipy.stats.bootstrap), coverage by Monte Carlo, the refusal at atoms.

use std::collections::BTreeMap;

use abforge_stats::{
    BootstrapOptions, Error, Group, GroupQuantile, Hypothesis, order_statistic_ranks,
    quantile_bootstrap, quantile_test, sample_quantile,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

use super::{assert_close, assert_p, num, nums, reference};

/// Every order statistic and rank is compared exactly; standard errors, densities and
/// differences to relative 1e-12 (the same arithmetic in another order); p-values and
/// binomial coverages to relative 1e-9.
const REL: f64 = 1e-12;
const REL_P: f64 = 1e-9;

#[test]
fn type_1_quantiles_follow_the_lake_and_numpy() {
    let mut data: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let cases = reference()["quantile_definition"].as_array().unwrap();
    for case in cases {
        let name = case["data"].as_str().unwrap();
        if let Some(v) = case.get("values") {
            data.insert(name.to_owned(), nums(v));
        }
        let p = num(&case["p"], f64::NAN);
        let got = sample_quantile(&data[name], p).unwrap();
        assert_eq!(got, num(&case["value"], f64::NAN), "{name} p = {p}");
        // numpy's 'inverted_cdf' agrees except where n·p rounds past an integer.
        if !case["numpy_agrees"].as_bool().unwrap() {
            assert_eq!((name, p), ("ints_1_100", 0.07));
            assert_eq!(num(&case["numpy_inverted_cdf"], f64::NAN), 8.0);
        }
    }
    assert_eq!(cases.len(), 27);
}

#[test]
fn order_statistic_ranks_match_scipy_binom() {
    for case in reference()["order_statistic_ranks"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap();
        let (p, a) = (num(&case["p"], 0.0), num(&case["alpha"], 0.0));
        let r = order_statistic_ranks(n, p, a).unwrap();
        let what = format!("n = {n}, p = {p}, α = {a}");
        assert_eq!(r.ci_low, case["l"].as_u64().unwrap(), "{what}");
        assert_eq!(r.ci_high, case["u"].as_u64().unwrap(), "{what}");
        assert_p(&what, r.coverage, num(&case["coverage"], 0.0), REL_P);
        assert!(r.coverage >= 1.0 - a);
    }
    // Hahn & Meeker (Statistical Intervals, Wiley 1991), quoted in stats.stackexchange.com
    // q/99829: for n = 100, p = 0.90 at 95 %, "l = 85 and u = 97 will work" (coverage
    // B(96) − B(84) = 0.9523 per scipy). The equal-tailed rule picks [x₍₈₄₎, x₍₉₆₎]: as
    // short (12 ranks) and covering more (0.9557).
    let hm = &reference()["hahn_meeker"];
    let r = order_statistic_ranks(100, 0.9, 0.05).unwrap();
    assert_eq!((r.ci_low, r.ci_high), (84, 96));
    assert_eq!(
        r.ci_high - r.ci_low,
        hm["u"].as_u64().unwrap() - hm["l"].as_u64().unwrap()
    );
    assert!(r.coverage > num(&hm["coverage"], 0.0) && r.coverage >= 0.95);
    assert!(order_statistic_ranks(0, 0.5, 0.05).is_err());
    assert!(order_statistic_ranks(1 << 33, 0.5, 0.05).is_err());
}

fn groups(name: &str) -> (Vec<f64>, Vec<f64>) {
    let d = &reference()["deng_data"][name];
    (nums(&d["treatment"]), nums(&d["control"]))
}

fn check_group(what: &str, got: &GroupQuantile, want: &Value) {
    let exact = |field: &str, g: f64| {
        assert_eq!(g, num(&want[field], f64::NAN), "{what} {field}");
    };
    for (field, g) in [
        ("n", got.n),
        ("rank", got.rank),
        ("bracket_rank_low", got.bracket_rank_low),
        ("bracket_rank_high", got.bracket_rank_high),
        ("ci_rank_low", got.ci_rank_low),
        ("ci_rank_high", got.ci_rank_high),
    ] {
        assert_eq!(Some(g), want[field].as_u64(), "{what} {field}");
    }
    exact("estimate", got.estimate);
    exact("bracket_low", got.bracket_low);
    exact("bracket_high", got.bracket_high);
    assert_eq!(
        got.ci_low,
        num(&want["ci_low"], f64::NEG_INFINITY),
        "{what}"
    );
    assert_eq!(got.ci_high, num(&want["ci_high"], f64::INFINITY), "{what}");
    assert_close(what, got.std_error, num(&want["std_error"], 0.0), REL);
    assert_close(what, got.density, num(&want["density"], 0.0), REL);
    assert_p(what, got.ci_coverage, num(&want["ci_coverage"], 0.0), REL_P);
}

#[test]
fn deng_standard_errors_and_tests_match_numpy() {
    let mut refused = 0;
    for case in reference()["deng"].as_array().unwrap() {
        let name = case["data"].as_str().unwrap();
        let (p, a) = (num(&case["p"], 0.0), num(&case["alpha"], 0.0));
        let what = format!("{name} p = {p}");
        let (t, c) = groups(name);
        let got = quantile_test(&t, &c, p, &Hypothesis::two_sided(a));
        // The first failing group (treatment first) is the one named.
        let failing = [(Group::Treatment, "treatment"), (Group::Control, "control")]
            .into_iter()
            .find(|(_, g)| case[*g].get("error").is_some());
        if let Some((group, key)) = failing {
            refused += 1;
            match (case[key]["error"].as_str().unwrap(), got) {
                (
                    "atom",
                    Err(Error::QuantileOnAtom {
                        group: g,
                        p: q,
                        value,
                    }),
                ) => {
                    assert_eq!((g, q), (group, p), "{what}");
                    assert_eq!(value, num(&case[key]["value"], f64::NAN));
                }
                ("too_few", Err(Error::TooFewObservations { group: g, .. })) => {
                    assert_eq!(g, group, "{what}");
                }
                (e, got) => panic!("{what}: want {e}, got {got:?}"),
            }
            continue;
        }
        let r = got.unwrap_or_else(|e| panic!("{what}: {e}"));
        check_group(
            &format!("{what} treatment"),
            &r.treatment,
            &case["treatment"],
        );
        check_group(&format!("{what} control"), &r.control, &case["control"]);
        for (field, g) in [
            ("estimate", r.estimate),
            ("std_error", r.std_error),
            ("statistic", r.statistic),
            ("ci_low", r.ci_low),
            ("ci_high", r.ci_high),
        ] {
            assert_close(&format!("{what} {field}"), g, num(&case[field], 0.0), REL);
        }
        assert_p(&what, r.p_value, num(&case["p_value"], 0.0), REL_P);
        let greater = Hypothesis::one_sided(abforge_stats::Alternative::Greater, a);
        let g = quantile_test(&t, &c, p, &greater).unwrap();
        assert_p(&what, g.p_value, num(&case["p_value_greater"], 0.0), REL_P);
    }
    assert_eq!(refused, 3, "two atoms and one too-extreme quantile");
}

#[test]
fn bootstrap_matches_scipy_within_monte_carlo_error() {
    let (t, c) = groups("lognormal");
    for case in reference()["bootstrap"].as_array().unwrap() {
        let p = num(&case["p"], 0.0);
        let o = BootstrapOptions {
            resamples: 20_000,
            seed: 2026,
            alpha: 0.05,
        };
        let r = quantile_bootstrap(&t, &c, p, &o).unwrap();
        assert_eq!(r.estimate, num(&case["estimate"], 0.0));
        // scipy used 200 000 resamples; `sd_at_20000` is the spread of scipy's endpoints over
        // 20 runs of 20 000. Tolerance: 6 of those (both runs' errors, and a rough sd).
        let sd = nums(&case["sd_at_20000"]);
        for (i, (field, got)) in [
            ("ci_low", r.ci_low),
            ("ci_high", r.ci_high),
            ("std_error", r.std_error),
        ]
        .into_iter()
        .enumerate()
        {
            let want = num(&case[field], 0.0);
            assert!(
                (got - want).abs() <= 6.0 * sd[i],
                "p = {p} {field}: ours {got}, scipy {want}, sd {}",
                sd[i]
            );
        }
    }
}

#[test]
fn bootstrap_depends_on_the_seed_not_the_threads() {
    let (t, c) = groups("normal_small");
    let o = BootstrapOptions {
        resamples: 1000,
        seed: 11,
        alpha: 0.1,
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| quantile_bootstrap(&t, &c, 0.5, &o).unwrap())
    };
    assert_eq!(run(1), run(3));
    let other = quantile_bootstrap(&t, &c, 0.5, &BootstrapOptions { seed: 12, ..o }).unwrap();
    // The endpoints are differences of order statistics (discrete); the spread is not.
    assert_ne!(run(1).std_error, other.std_error);
}

/// Seeded Monte Carlo: treatment 1.2·LogNormal(0, 1) (n = 400), control LogNormal(0, 1)
/// (n = 300), 400 experiments; the true difference of p-quantiles is 0.2·exp(Φ⁻¹(p)). The
/// z interval and the percentile bootstrap (500 resamples) should cover about 95 %; the band
/// [0.92, 0.99] is ±3 Monte Carlo sd (0.011) around 0.95, widened above because the
/// order-statistic interval is conservative at high quantiles.
#[test]
#[allow(clippy::print_stderr)] // the figures, with --nocapture
fn intervals_cover_about_95_percent_on_a_lognormal() {
    let law = LogNormal::new(0.0, 1.0).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7_300_010);
    let reps = 400;
    for (p, z_p) in [(0.5, 0.0), (0.9, 1.281_551_565_544_600_5)] {
        let truth = 0.2 * f64::exp(z_p);
        let (mut z_cover, mut boot_cover) = (0, 0);
        for rep in 0..reps {
            let t: Vec<f64> = (0..400).map(|_| 1.2 * law.sample(&mut rng)).collect();
            let c: Vec<f64> = (0..300).map(|_| law.sample(&mut rng)).collect();
            let r = quantile_test(&t, &c, p, &Hypothesis::default()).unwrap();
            z_cover += usize::from(r.ci_low <= truth && truth <= r.ci_high);
            let o = BootstrapOptions {
                resamples: 500,
                seed: rep,
                alpha: 0.05,
            };
            let b = quantile_bootstrap(&t, &c, p, &o).unwrap();
            boot_cover += usize::from(b.ci_low <= truth && truth <= b.ci_high);
        }
        let (zc, bc) = (z_cover as f64 / 400.0, boot_cover as f64 / 400.0);
        eprintln!("p = {p}: z interval covers {zc}, bootstrap {bc}");
        assert!((0.92..=0.99).contains(&zc), "p = {p}: z coverage {zc}");
        assert!(
            (0.92..=0.99).contains(&bc),
            "p = {p}: bootstrap coverage {bc}"
        );
    }
}

/// Seeded Monte Carlo on a zero-inflated metric (half the customers spend 0, the others
/// LogNormal(0, 1), treatment ×1.2; n = 400 per group): the p30 sits on the atom at 0 in
/// every experiment and is refused, naming the treatment; the p90 is tested and covers.
#[test]
#[allow(clippy::print_stderr)] // the figures, with --nocapture
fn zero_inflated_quantiles_on_the_atom_are_refused() {
    let law = LogNormal::new(0.0, 1.0).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7_300_011);
    let mut draw = |scale: f64| -> Vec<f64> {
        (0..400)
            .map(|_| {
                let v = scale * law.sample(&mut rng);
                if rand::RngExt::random::<f64>(&mut rng) < 0.5 {
                    0.0
                } else {
                    v
                }
            })
            .collect()
    };
    // P(X ≤ x) = 0.5 + 0.5·Φ(ln x) = 0.9 at x = exp(Φ⁻¹(0.8)).
    let truth = 0.2 * f64::exp(0.841_621_233_572_914_3);
    let (reps, mut cover) = (200u32, 0u32);
    for _ in 0..reps {
        let (t, c) = (draw(1.2), draw(1.0));
        let e = quantile_test(&t, &c, 0.3, &Hypothesis::default()).unwrap_err();
        assert_eq!(
            e,
            Error::QuantileOnAtom {
                group: Group::Treatment,
                p: 0.3,
                value: 0.0
            }
        );
        // The bootstrap is not refused: both quantiles are 0 in (nearly) every resample.
        let b = quantile_bootstrap(&t, &c, 0.3, &BootstrapOptions::default()).unwrap();
        assert_eq!(b.estimate, 0.0);
        let r = quantile_test(&t, &c, 0.9, &Hypothesis::default()).unwrap();
        cover += u32::from(r.ci_low <= truth && truth <= r.ci_high);
    }
    let share = f64::from(cover) / f64::from(reps);
    eprintln!("zero-inflated p90: z interval covers {share}");
    assert!((0.91..=0.99).contains(&share), "coverage {share}");
}

#[test]
fn hostile_inputs_are_refused() {
    let xs: Vec<f64> = (0..100).map(f64::from).collect();
    let h = Hypothesis::default();
    assert!(quantile_test(&xs, &xs, 0.0, &h).is_err());
    assert!(quantile_test(&xs, &xs, 1.0, &h).is_err());
    assert!(quantile_test(&xs, &xs, f64::NAN, &h).is_err());
    assert!(quantile_test(&xs, &[1.0], 0.5, &h).is_err());
    let mut bad = xs.clone();
    bad[17] = f64::NAN;
    assert_eq!(
        quantile_test(&xs, &bad, 0.5, &h).unwrap_err(),
        Error::NonFinite {
            group: Group::Control,
            index: 17
        }
    );
    let o = BootstrapOptions::default();
    for resamples in [0, 9, abforge_stats::MAX_RESAMPLES + 1] {
        let e = quantile_bootstrap(&xs, &xs, 0.5, &BootstrapOptions { resamples, ..o });
        assert!(matches!(
            e,
            Err(Error::InvalidParameter {
                name: "resamples",
                ..
            })
        ));
    }
    assert!(sample_quantile(&[], 0.5).is_err());
    assert!(sample_quantile(&[f64::INFINITY], 0.5).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn test_results_are_consistent(
        t in prop::collection::vec(-1000.0..1000.0f64, 2..300),
        c in prop::collection::vec(-1000.0..1000.0f64, 2..300),
        p in 0.01..0.99f64,
    ) {
        let h = Hypothesis::default();
        match (quantile_test(&t, &c, p, &h), quantile_test(&c, &t, p, &h)) {
            (Ok(a), Ok(b)) => {
                prop_assert!((0.0..=1.0).contains(&a.p_value));
                prop_assert!(a.ci_low < a.estimate && a.estimate < a.ci_high);
                prop_assert_eq!(a.estimate, -b.estimate);
                prop_assert_eq!(a.statistic, -b.statistic);
                prop_assert_eq!(a.reject, a.ci_low > 0.0 || a.ci_high < 0.0);
                for g in [a.treatment, a.control] {
                    prop_assert!(g.ci_low <= g.estimate && g.estimate <= g.ci_high);
                    prop_assert!(g.bracket_low < g.bracket_high);
                    prop_assert!(g.ci_coverage >= 0.95);
                }
            }
            // Too few values for this p: refused whichever group comes first.
            (Err(Error::TooFewObservations { .. }), Err(Error::TooFewObservations { .. })) => {}
            (a, b) => prop_assert!(false, "{a:?} vs {b:?}"),
        }
    }
}
