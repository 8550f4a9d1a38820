//! Always-valid inference: the asymptotic confidence sequences against GrowthBook's gbstats,
//! the sequential SRM against Lindon's `ssrm-test`, a closed-form numpy/scipy Bayes factor and
//! mpmath (`tests/data/reference/avcs.py` → `avcs.json`), and seeded Monte Carlo checks of
//! what "always valid" promises under daily peeking.

use std::path::PathBuf;
use std::sync::OnceLock;

use abforge_stats::{
    Alternative, AsymptoticCsOptions, AsymptoticCsResult, AsymptoticCsSequence, CsScale,
    Hypothesis, SequentialSrmOptions, SrmSequence, Summary, asymptotic_cs, asymptotic_cs_lift, srm,
    srm_sequential,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

fn json() -> &'static Value {
    static J: OnceLock<Value> = OnceLock::new();
    J.get_or_init(|| {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference/avcs.json");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&text).expect("valid JSON")
    })
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `got` within relative `rel` of `want` (absolute 1e-12 near 0); JSON `null` is ±∞.
fn close(got: f64, want: &Value, rel: f64) -> bool {
    match want.as_f64() {
        None => got.is_infinite(),
        Some(w) => (got - w).abs() <= rel * w.abs() || (got - w).abs() <= 1e-12,
    }
}

// ---------------------------------------------------------------------------------------
// Confidence sequences against gbstats
// ---------------------------------------------------------------------------------------

fn summary(v: &Value) -> Summary {
    Summary::from_moments(v["n"].as_u64().unwrap(), f(&v["mean"]), f(&v["variance"]))
}

fn cs_of(case: &Value) -> AsymptoticCsResult {
    let alternative = match case["alternative"].as_str().unwrap() {
        "two_sided" => Alternative::TwoSided,
        "greater" => Alternative::Greater,
        "less" => Alternative::Less,
        other => panic!("{other}"),
    };
    let opts = AsymptoticCsOptions {
        hypothesis: Hypothesis::one_sided(alternative, f(&case["alpha"]))
            .with_null(f(&case["null"])),
        planned_n: f(&case["planned_n"]),
        rho: case["rho"].as_f64(),
    };
    let (t, c) = (summary(&case["treatment"]), summary(&case["control"]));
    match case["scale"].as_str().unwrap() {
        "difference" => asymptotic_cs(&t, &c, &opts).unwrap(),
        _ => asymptotic_cs_lift(&t, &c, &opts).unwrap(),
    }
}

/// Every field of every gbstats case: relative 1e-9 for the estimate, its standard error,
/// ρ, the bounds and the two-sided p-value. The one-sided p-value is our closed form; it
/// matches the exact root of gbstats' own one-sided boundary (`p_value_root`) to 1e-9, and
/// gbstats' bisection (tolerance 1e-6 on the bound, clamped to [1e-5, 0.4999]) to 1e-4
/// relative inside the clamps. gbstats' relative lift divides by |x̄_c|, so for a negative
/// control mean ours is its negative and the interval its mirror image.
#[test]
fn reference_confidence_sequences_match_gbstats() {
    let cases = json()["confidence_sequence"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    let mut compared = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let e = &case["expected"];
        let r = cs_of(case);
        let mirrored = r.scale == CsScale::RelativeLift && f(&case["control"]["mean"]) < 0.0;
        let (est, lo, hi) = if mirrored {
            (-r.estimate, -r.ci_high, -r.ci_low)
        } else {
            (r.estimate, r.ci_low, r.ci_high)
        };
        let checks = [
            ("estimate", est, &e["estimate"]),
            ("std_error", r.std_error, &e["std_error"]),
            ("rho", r.rho, &e["rho"]),
            ("n", r.n as f64, &e["n"]),
            ("ci_low", lo, &e["ci_low"]),
            ("ci_high", hi, &e["ci_high"]),
        ];
        for (field, got, want) in checks {
            assert!(
                close(got, want, 1e-9),
                "{name}/{field}: got {got:e}, want {want}"
            );
            compared += 1;
        }
        if r.alternative == Alternative::TwoSided {
            assert!(
                close(r.p_value, &e["p_value"], 1e-9),
                "{name}/p: {:e}",
                r.p_value
            );
        } else {
            assert!(
                close(r.p_value, &e["p_value_root"], 1e-9),
                "{name}/p_root: {:e}",
                r.p_value
            );
            let gb = f(&e["p_value"]);
            if gb >= 0.4999 {
                assert!(r.p_value >= 0.4999, "{name}: {}", r.p_value);
            } else if gb <= 1e-5 {
                assert!(r.p_value <= 1e-5, "{name}: {}", r.p_value);
            } else {
                assert!(
                    (r.p_value - gb).abs() <= 1e-4 * gb,
                    "{name}: {} vs {gb}",
                    r.p_value
                );
            }
            compared += 1;
        }
        compared += 1;
        assert_eq!(r.reject, r.p_value <= f(&case["alpha"]), "{name}");
    }
    assert_eq!(compared, 18 * 7 + 5);
}

// ---------------------------------------------------------------------------------------
// Sequential SRM against ssrm-test, numpy and mpmath
// ---------------------------------------------------------------------------------------

fn srm_opts(case: &Value) -> SequentialSrmOptions {
    SequentialSrmOptions {
        alpha: 0.05,
        concentration: f(&case["concentration"]),
        prior_mean: case["prior_mean"]
            .as_array()
            .map(|m| m.iter().map(f).collect()),
    }
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

/// The absolute error `ln Γ` differences allow: a few ulps of the largest term,
/// `ln Γ(A + n) ≈ (A + n) ln(A + n)`.
fn log_bf_tolerance(a_plus_n: f64) -> f64 {
    1e-15 * a_plus_n * a_plus_n.ln().max(1.0) + 1e-12
}

/// Every look of every case, replayed day by day through [`SrmSequence::push`]:
/// `ln BF` against the closed form in numpy/scipy `gammaln` (absolute
/// [`log_bf_tolerance`]; numpy's own error is of that size too), and against Lindon's
/// `ssrm-test` 0.1.5, which multiplies Dirichlet-multinomial posterior predictives batch by
/// batch (the same tolerance, doubled); the running p-value against `ssrm-test`'s
/// `sequential_p_values` (relative error = the absolute error of `ln BF`).
#[test]
#[allow(clippy::print_stderr)] // the measured figures, with --no-capture
fn reference_sequential_srm_matches_ssrm_test() {
    let cases = json()["srm"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    let mut worst = 0.0f64;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let w = f64s(&case["weights"]);
        let opts = srm_opts(case);
        let mut seq = SrmSequence::new(&w, opts.clone()).unwrap();
        let e = &case["expected"];
        let mut prev = vec![0u64; w.len()];
        for (i, cum) in case["cumulative"].as_array().unwrap().iter().enumerate() {
            let cum = u64s(cum);
            let day: Vec<u64> = cum.iter().zip(&prev).map(|(c, p)| c - p).collect();
            let look = seq.push(&day).unwrap();
            assert_eq!(seq.counts(), &cum[..]);
            let once = srm_sequential(&cum, &w, &opts).unwrap();
            assert_eq!(once.log_bayes_factor, look.log_bayes_factor, "{name}");
            let a_plus_n = opts.concentration + look.total as f64;
            let tol = log_bf_tolerance(a_plus_n);
            let want = f(&e["log_bayes_factor"][i]);
            let err = (look.log_bayes_factor - want).abs();
            worst = worst.max(err / tol);
            assert!(
                err <= tol,
                "{name}[{i}]: {} vs numpy {want} (err {err:e})",
                look.log_bayes_factor
            );
            let ssrm = f(&e["log_bayes_factor_ssrm"][i]);
            assert!(
                (look.log_bayes_factor - ssrm).abs() <= 2.0 * tol,
                "{name}[{i}] vs ssrm {ssrm}"
            );
            let p = f(&e["p_value_ssrm"][i]);
            assert!(
                (seq.p_value() - p).abs() <= 2.0 * tol * p,
                "{name}[{i}]: p {} vs {p}",
                seq.p_value()
            );
            prev = cum;
        }
    }
    eprintln!("sequential SRM: worst |ln BF − numpy| = {worst:.3} × tolerance");
}

/// The worked example of Lindon's published code: `test_sequential_posteriors` in
/// optimizely/ssrm `ssrm_test/test_ssrm_test.py` (plan 0.4/0.4/0.2, Dirichlet(1, 1, 1),
/// units in arms 1, 2, 1, 2, 3), whose expected log marginal likelihoods M1 and M0 are
/// quoted here; `ln BF = M1 − M0`, to 1e-12.
#[test]
fn published_worked_example() {
    let m1 = [
        -1.0986122886681096,
        -2.4849066497880004,
        -3.401197381662155,
        -4.499809670330265,
        -6.4457198193855785,
    ];
    let m0 = [
        -0.916290731874155,
        -1.83258146374831,
        -2.748872195622465,
        -3.66516292749662,
        -5.27460083993072,
    ];
    let opts = SequentialSrmOptions {
        concentration: 3.0,
        prior_mean: Some(vec![1.0, 1.0, 1.0]),
        ..Default::default()
    };
    let mut s = SrmSequence::new(&[0.4, 0.4, 0.2], opts).unwrap();
    for (i, unit) in [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
        .iter()
        .enumerate()
    {
        let look = s.push(unit).unwrap();
        let want = m1[i] - m0[i];
        assert!(
            (look.log_bayes_factor - want).abs() < 1e-12,
            "{i}: {}",
            look.log_bayes_factor
        );
    }
    assert_eq!((s.p_value(), s.flagged()), (1.0, false));
}

/// Large counts against the closed form in mpmath at 60 digits (the exact value for these
/// floats), within [`log_bf_tolerance`]; numpy's `gammaln` is off by about as much (1e-5 at
/// 1e10 units).
#[test]
#[allow(clippy::print_stderr)] // the measured figures, with --no-capture
fn large_counts_match_mpmath() {
    let cases = json()["srm_large"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let counts = u64s(&case["counts"]);
        let opts = srm_opts(case);
        let r = srm_sequential(&counts, &f64s(&case["weights"]), &opts).unwrap();
        let want = f(&case["expected"]["log_bayes_factor_mpmath"]);
        let numpy = f(&case["expected"]["log_bayes_factor_numpy"]);
        let tol = log_bf_tolerance(opts.concentration + r.total as f64);
        let err = (r.log_bayes_factor - want).abs();
        eprintln!(
            "{name}: |ours − mpmath| = {err:.2e}, |numpy − mpmath| = {:.2e}, tolerance {tol:.2e}",
            (numpy - want).abs()
        );
        assert!(err <= tol, "{name}: {} vs {want}", r.log_bayes_factor);
    }
}

// ---------------------------------------------------------------------------------------
// Monte Carlo: what peeking does
// ---------------------------------------------------------------------------------------

/// `Φ⁻¹(0.975)`.
const Z975: f64 = 1.959963984540054;

fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Under H0 (both groups Bernoulli(0.3), the truth is a difference of 0), 2000 seeded
/// experiments of 40 looks, 50 new units per group between looks, ρ planned for the final
/// 4000 units: the running intersection of the asymptotic confidence sequence excludes the
/// truth in at most about α = 5 % of the experiments (the guarantee is asymptotic; measured
/// 1.5 %), while the fixed-horizon 95 % normal interval checked at every look does in far
/// more (measured 31 %).
#[test]
#[allow(clippy::print_stderr)] // the measured figures, with --no-capture
fn monte_carlo_confidence_sequence_under_peeking() {
    let (runs, looks, batch) = (2000, 40, 50);
    let opts = AsymptoticCsOptions {
        planned_n: (2 * looks * batch) as f64,
        ..Default::default()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20240611);
    let (mut cs_miss, mut fixed_miss) = (0, 0);
    for _ in 0..runs {
        let (mut t, mut c) = (Summary::default(), Summary::default());
        let mut seq = AsymptoticCsSequence::default();
        let mut fixed = false;
        for _ in 0..looks {
            for _ in 0..batch {
                t.push(f64::from(u8::from(uniform(&mut rng) < 0.3)));
                c.push(f64::from(u8::from(uniform(&mut rng) < 0.3)));
            }
            if let Ok(r) = asymptotic_cs(&t, &c, &opts) {
                seq.update(&r);
            }
            // The fixed-horizon 95 % interval, Δ̂ ± z_{0.975}·sqrt(V).
            let se = (t.variance() / t.n as f64 + c.variance() / c.n as f64).sqrt();
            fixed |= (t.mean - c.mean).abs() > Z975 * se;
        }
        cs_miss += usize::from(seq.ci_low > 0.0 || seq.ci_high < 0.0);
        fixed_miss += usize::from(fixed);
    }
    let (cs, fx) = (
        cs_miss as f64 / runs as f64,
        fixed_miss as f64 / runs as f64,
    );
    eprintln!("confidence sequence misses {cs:.4}, fixed-horizon CI peeked misses {fx:.4}");
    // 0.05 + 3 Monte Carlo standard errors (sqrt(0.05·0.95/2000) = 0.0049).
    assert!(cs <= 0.065, "{cs}");
    assert!(fx >= 0.15, "{fx}");
}

/// `Binomial(64·words, ½)` exactly: the number of ones in `words` random 64-bit words.
fn fair_coins(rng: &mut Xoshiro256PlusPlus, words: usize) -> u64 {
    (0..words)
        .map(|_| u64::from(rng.next_u64().count_ones()))
        .sum()
}

/// Under a true 50/50 split, 2000 seeded experiments of 30 daily looks at 1024 new units a
/// day: the sequential SRM flags a mismatch in at most α = 5 % of them (measured 0.65 %),
/// the χ² SRM of `srm()` checked every day at the same α in far more (measured 27 %).
#[test]
#[allow(clippy::print_stderr)] // the measured figures, with --no-capture
fn monte_carlo_srm_false_alarms_under_daily_peeking() {
    let (runs, days, words) = (2000, 30, 16);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let (mut seq_alarms, mut chi2_alarms) = (0, 0);
    for _ in 0..runs {
        let mut s = SrmSequence::new(&[1.0, 1.0], SequentialSrmOptions::default()).unwrap();
        let mut chi2 = false;
        for _ in 0..days {
            let a = fair_coins(&mut rng, words);
            s.push(&[a, 64 * words as u64 - a]).unwrap();
            chi2 |= srm(s.counts(), &[1.0, 1.0]).unwrap().p_value <= 0.05;
        }
        seq_alarms += usize::from(s.flagged());
        chi2_alarms += usize::from(chi2);
    }
    let (sq, ch) = (
        seq_alarms as f64 / runs as f64,
        chi2_alarms as f64 / runs as f64,
    );
    eprintln!("sequential SRM false alarms {sq:.4}, daily chi-square {ch:.4}");
    assert!(sq <= 0.05, "{sq}");
    assert!(ch >= 0.15, "{ch}");
}

/// A real 52/48 split at 1000 units a day is flagged within 30 days in every one of 200
/// seeded experiments (measured: always, after 9 days at the median).
#[test]
#[allow(clippy::print_stderr)] // the measured figures, with --no-capture
fn monte_carlo_srm_flags_a_52_48_mismatch() {
    let (runs, days, per_day) = (200, 30, 1000);
    let threshold = (0.52 * 2f64.powi(64)) as u64;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut flagged_days = Vec::new();
    for _ in 0..runs {
        let mut s = SrmSequence::new(&[1.0, 1.0], SequentialSrmOptions::default()).unwrap();
        for _ in 0..days {
            let a = (0..per_day).filter(|_| rng.next_u64() < threshold).count() as u64;
            s.push(&[a, per_day - a]).unwrap();
        }
        flagged_days.push(s.flagged_at().unwrap_or(u32::MAX));
    }
    flagged_days.sort_unstable();
    eprintln!(
        "52/48 flagged after {} days at the median",
        flagged_days[runs / 2]
    );
    assert!(flagged_days.iter().all(|&d| d <= days), "{flagged_days:?}");
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn alternative() -> impl Strategy<Value = Alternative> {
    prop_oneof![
        Just(Alternative::TwoSided),
        Just(Alternative::Greater),
        Just(Alternative::Less)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Looks of growing samples: each look's p-value is a probability, the running
    /// intersection lies inside every look's interval and inside the previous intersection,
    /// and the running p-value never increases.
    #[test]
    fn cs_intervals_nest_and_p_never_increases(
        batches in prop::collection::vec(
            (prop::collection::vec(-50.0..50.0f64, 2..30), prop::collection::vec(-50.0..50.0f64, 2..30)),
            1..12,
        ),
        alt in alternative(),
        lift in any::<bool>(),
    ) {
        let opts = AsymptoticCsOptions {
            hypothesis: Hypothesis::one_sided(alt, 0.05),
            planned_n: 500.0,
            rho: None,
        };
        let (mut t, mut c) = (Summary::default(), Summary::default());
        let mut seq = AsymptoticCsSequence::default();
        for (bt, bc) in &batches {
            t.merge(&Summary::from_slice(bt));
            c.merge(&Summary::from_slice(&bc.iter().map(|x| x + 100.0).collect::<Vec<_>>()));
            let r = if lift { asymptotic_cs_lift(&t, &c, &opts) } else { asymptotic_cs(&t, &c, &opts) };
            let Ok(r) = r else { continue };
            prop_assert!((0.0..=1.0).contains(&r.p_value));
            prop_assert!(r.ci_low <= r.estimate && r.estimate <= r.ci_high);
            let before = seq;
            seq.update(&r);
            prop_assert!(seq.p_value <= before.p_value);
            prop_assert!(seq.ci_low >= before.ci_low && seq.ci_high <= before.ci_high);
            prop_assert!(seq.ci_low >= r.ci_low && seq.ci_high <= r.ci_high);
        }
    }

    /// With the same means and variances, more units give a narrower interval, at every ρ.
    #[test]
    fn cs_width_shrinks_with_n(
        n in 2u64..100_000, grow in 1u64..100_000, var in 1e-3..1e3f64,
        alt in alternative(), planned in 10.0..1e7f64,
    ) {
        let opts = AsymptoticCsOptions {
            hypothesis: Hypothesis::one_sided(alt, 0.05),
            planned_n: planned,
            rho: None,
        };
        let width = |n: u64| {
            let (t, c) = (Summary::from_moments(n, 1.0, var), Summary::from_moments(n, 0.5, var));
            let r = asymptotic_cs(&t, &c, &opts).unwrap();
            if alt == Alternative::Less { r.ci_high - r.estimate } else { r.estimate - r.ci_low }
        };
        prop_assert!(width(n + grow) < width(n));
    }

    /// The look rejects exactly when its interval excludes the null value (away from the
    /// boundary, where rounding decides).
    #[test]
    fn cs_reject_agrees_with_the_interval(
        mt in -2.0..2.0f64, n in 10u64..50_000, null in -1.0..1.0f64, alt in alternative(),
    ) {
        let opts = AsymptoticCsOptions {
            hypothesis: Hypothesis::one_sided(alt, 0.05).with_null(null),
            ..Default::default()
        };
        let (t, c) = (Summary::from_moments(n, mt, 4.0), Summary::from_moments(n, 0.0, 9.0));
        let r = asymptotic_cs(&t, &c, &opts).unwrap();
        if (r.p_value - 0.05).abs() > 1e-9 {
            prop_assert_eq!(r.reject, r.ci_low > null || r.ci_high < null);
        }
    }

    /// The sequential SRM: p-values are probabilities and never increase along the fold;
    /// batching the same units differently, permuting the arms or scaling the weights
    /// changes nothing.
    #[test]
    fn srm_p_never_increases_and_ignores_batching(
        days in prop::collection::vec(prop::collection::vec(0u64..500, 3), 1..20),
        weights in prop::collection::vec(0.1..10.0f64, 3),
        k in 1.0..1e5f64,
    ) {
        let opts = SequentialSrmOptions { concentration: k, ..Default::default() };
        let mut s = SrmSequence::new(&weights, opts.clone()).unwrap();
        let mut p = 1.0;
        for d in &days {
            let look = s.push(d).unwrap();
            prop_assert!((0.0..=1.0).contains(&look.p_value));
            prop_assert!(s.p_value() <= p && s.p_value() <= look.p_value);
            p = s.p_value();
        }
        let once = srm_sequential(s.counts(), &weights, &opts).unwrap();
        let last = {
            let mut s2 = SrmSequence::new(&weights, opts.clone()).unwrap();
            s2.push(s.counts()).unwrap()
        };
        prop_assert_eq!(once.log_bayes_factor, last.log_bayes_factor);
        let c = s.counts();
        let w_perm = [weights[2], weights[0], weights[1]];
        let permuted = srm_sequential(&[c[2], c[0], c[1]], &w_perm, &opts).unwrap();
        let w_scaled: Vec<f64> = weights.iter().map(|w| w * 7.0).collect();
        let scaled = srm_sequential(c, &w_scaled, &opts).unwrap();
        let tol = 1e-9 * (1.0 + once.log_bayes_factor.abs());
        prop_assert!((permuted.log_bayes_factor - once.log_bayes_factor).abs() <= tol);
        prop_assert!((scaled.log_bayes_factor - once.log_bayes_factor).abs() <= tol);
    }
}
