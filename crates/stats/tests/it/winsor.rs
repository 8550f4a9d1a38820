//! Winsorised Welch tests against `tests/data/reference/winsor.json` (computed by
//! `winsor.py` with numpy and scipy), their refusals, properties, and a seeded Monte Carlo of
//! the type I error and of the bias the caps bring.

use abforge_stats::{Error, Hypothesis, WinsorOptions, winsorized_welch};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

/// Caps are order statistics: exact. Statistics, bounds and p-values: relative 1e-9 (scipy's
/// Welch and ours use different summation and t-quantile code).
const REL: f64 = 1e-9;

fn reference() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference/winsor.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("winsor.json")).expect("JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn close(name: &str, got: f64, want: f64) {
    let tol = REL * want.abs().max(1e-300);
    assert!((got - want).abs() <= tol, "{name}: {got} vs {want}");
}

#[test]
fn capped_welch_matches_scipy_on_clipped_values() {
    let r = reference();
    let cases = r["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 5);
    for c in cases {
        let name = c["name"].as_str().expect("name");
        let opts = WinsorOptions {
            lower: c["lower"].as_f64(),
            upper: c["upper"].as_f64(),
        };
        let h = Hypothesis::two_sided(c["alpha"].as_f64().expect("alpha"));
        let got = winsorized_welch(&floats(&c["treatment"]), &floats(&c["control"]), &opts, &h)
            .expect(name);
        assert_eq!(got.lower_cap, c["lower_cap"].as_f64(), "{name}");
        assert_eq!(got.upper_cap, c["upper_cap"].as_f64(), "{name}");
        assert_eq!(
            got.capped_treatment,
            c["capped_treatment"].as_u64().expect("n")
        );
        assert_eq!(got.capped_control, c["capped_control"].as_u64().expect("n"));
        for (field, value) in [
            ("estimate", got.test.estimate),
            ("statistic", got.test.statistic),
            ("df", got.test.df),
            ("p_value", got.test.p_value),
            ("ci_low", got.test.ci_low),
            ("ci_high", got.test.ci_high),
        ] {
            close(
                &format!("{name}.{field}"),
                value,
                c[field].as_f64().expect(field),
            );
        }
    }
}

#[test]
fn levels_out_of_range_or_crossed_are_refused() {
    let (t, c) = ([1.0, 2.0, 3.0], [2.0, 3.0, 4.0]);
    let h = Hypothesis::default();
    let run = |lower, upper| winsorized_welch(&t, &c, &WinsorOptions { lower, upper }, &h);
    assert!(matches!(run(None, None), Err(Error::InvalidInput(m)) if m.contains("neither")));
    for (lower, upper, name) in [
        (None, Some(1.0), "upper"),
        (Some(0.0), None, "lower"),
        (None, Some(f64::NAN), "upper"),
        (Some(0.6), Some(0.4), "lower"),
    ] {
        match run(lower, upper) {
            Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{lower:?} {upper:?}: {other:?}"),
        }
    }
    let with_nan = winsorized_welch(&[1.0, f64::NAN], &c, &WinsorOptions::default(), &h);
    assert!(
        matches!(with_nan, Err(Error::InvalidInput(_))),
        "{with_nan:?}"
    );
}

/// Under identical heavy-tailed laws the capped test keeps its level (the caps come from the
/// pooled sample, so the two arms are exchangeable); under a treatment that only moves the
/// upper tail, the capped difference underestimates the true difference of means — the bias
/// the changed estimand brings. 400 seeded replications of 2 × 400 lognormal(0, 1.5) values.
#[test]
fn capping_keeps_the_level_but_biases_the_mean_difference() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(41);
    let law = LogNormal::new(0.0, 1.5).expect("law");
    let h = Hypothesis::two_sided(0.05);
    let (reps, n) = (400, 400);
    let (mut rejections, mut bias_sum) = (0, 0.0);
    let true_mean = (1.5f64 * 1.5 / 2.0).exp();
    for _ in 0..reps {
        let c: Vec<f64> = (0..n).map(|_| law.sample(&mut rng)).collect();
        let t: Vec<f64> = (0..n).map(|_| law.sample(&mut rng)).collect();
        let r = winsorized_welch(&t, &c, &WinsorOptions::default(), &h).expect("test");
        rejections += u32::from(r.test.reject);
        // The treatment doubles every value: the true difference of means is `true_mean`.
        let t2: Vec<f64> = t.iter().map(|x| 2.0 * x).collect();
        let r2 = winsorized_welch(&t2, &c, &WinsorOptions::default(), &h).expect("test");
        bias_sum += r2.test.estimate - true_mean;
    }
    // Wilson 99.9 % band of 400 draws at 0.05 is about [0.025, 0.094].
    let rate = f64::from(rejections) / f64::from(reps);
    assert!((0.02..=0.095).contains(&rate), "type I {rate}");
    let bias = bias_sum / f64::from(reps);
    assert!(bias < -0.1 * true_mean, "bias {bias} of {true_mean}");
}

proptest! {
    /// Capping never moves a value past the caps, and clipping nothing (levels beyond the
    /// data's range) gives Welch's test itself.
    #[test]
    fn caps_bound_the_values(
        t in prop::collection::vec(-1e3f64..1e3, 3..40),
        c in prop::collection::vec(-1e3f64..1e3, 3..40),
        upper in 0.5f64..0.999,
    ) {
        let h = Hypothesis::default();
        let opts = WinsorOptions { lower: None, upper: Some(upper) };
        if let Ok(r) = winsorized_welch(&t, &c, &opts, &h) {
            let cap = r.upper_cap.expect("capped");
            let n_above = t.iter().chain(&c).filter(|x| **x > cap).count() as u64;
            prop_assert_eq!(r.capped_treatment + r.capped_control, n_above);
            let max_t = t.iter().map(|x| x.min(cap)).fold(f64::MIN, f64::max);
            prop_assert!(max_t <= cap);
        }
    }
}
