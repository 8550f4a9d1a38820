//! CUPAC against `tests/data/reference/cupac.json` (computed by `cupac.py` with numpy's
//! least squares and scipy's Welch test), its refusals, and a seeded Monte Carlo of its type
//! I error and variance reduction.

use abforge_stats::{Error, Hypothesis, Summary, cupac, welch_t};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::Value;

/// Relative 1e-9: QR (here) against numpy's SVD-based `lstsq` changes the predictions by
/// rounding only; p-values at relative 1e-7 (a small p amplifies the statistic's rounding).
const REL: f64 = 1e-9;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn columns(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().expect("array").iter().map(floats).collect()
}

fn close(name: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1.0),
        "{name}: {got} vs {want}"
    );
}

#[test]
fn cupac_matches_the_numpy_procedure() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference/cupac.json");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("cupac.json")).expect("JSON");
    let cases = r["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 4);
    for c in cases {
        let name = c["name"].as_str().expect("name");
        let (tf, cf) = (
            columns(&c["treatment_features"]),
            columns(&c["control_features"]),
        );
        let tf: Vec<&[f64]> = tf.iter().map(Vec::as_slice).collect();
        let cf: Vec<&[f64]> = cf.iter().map(Vec::as_slice).collect();
        let h = Hypothesis::two_sided(c["alpha"].as_f64().expect("alpha"));
        let got = cupac(
            &floats(&c["treatment"]),
            &tf,
            &floats(&c["control"]),
            &cf,
            &h,
        )
        .expect(name);
        assert_eq!(got.features, tf.len());
        let a = got.cuped.adjusted;
        for (field, value, rel) in [
            ("r_squared", got.r_squared, REL),
            ("theta", got.cuped.theta, REL),
            ("estimate", a.estimate, REL),
            ("statistic", a.statistic, REL),
            ("df", a.df, REL),
            ("p_value", a.p_value, 1e-7),
            ("ci_low", a.ci_low, REL),
            ("ci_high", a.ci_high, REL),
        ] {
            close(
                &format!("{name}.{field}"),
                value,
                c[field].as_f64().expect(field),
                rel,
            );
        }
    }
}

#[test]
fn bad_features_are_refused() {
    let (t, c) = (vec![1.0; 10], vec![2.0; 10]);
    let x: Vec<f64> = (0..10).map(f64::from).collect();
    let h = Hypothesis::default();
    let e = cupac(&t, &[], &c, &[], &h).unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput(ref m) if m.contains("1 to 64")),
        "{e}"
    );
    let e = cupac(&t, &[&x[..]], &c, &[&x[..5]], &h).unwrap_err();
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e}");
    let mut bad = x.clone();
    bad[3] = f64::NAN;
    assert!(matches!(
        cupac(&t, &[&bad[..]], &c, &[&x[..]], &h),
        Err(Error::InvalidInput(_))
    ));
    // Two copies of one feature are collinear.
    let y: Vec<f64> = x.iter().map(|v| v * 0.5 + (v * 7.0).sin()).collect();
    let e = cupac(&y, &[&x[..], &x[..]], &y, &[&x[..], &x[..]], &h).unwrap_err();
    assert!(e.to_string().contains("collinear"), "{e}");
    let short = [1.0, 2.0, 3.0];
    let e = cupac(&short, &[&short[..]], &c, &[&x[..]], &h).unwrap_err();
    assert!(e.to_string().contains("at least 3 rows"), "{e}");
}

/// 300 seeded A/A experiments of 2 × 200 customers whose metric depends on three
/// pre-period features: CUPAC keeps α and its standard error is well below Welch's.
#[test]
fn cupac_keeps_the_level_and_reduces_the_variance() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(77);
    let z = Normal::new(0.0, 1.0).expect("law");
    let h = Hypothesis::two_sided(0.05);
    let (reps, n) = (300, 200);
    let (mut rejections, mut ratio) = (0u32, 0.0);
    for _ in 0..reps {
        let mut arm = || {
            let f: Vec<Vec<f64>> = (0..3)
                .map(|_| (0..n).map(|_| z.sample(&mut rng)).collect())
                .collect();
            let y: Vec<f64> = (0..n)
                .map(|i| 2.0 * f[0][i] - f[1][i] + 0.5 * f[2][i] * f[2][i] + z.sample(&mut rng))
                .collect();
            (y, f)
        };
        let ((yt, ft), (yc, fc)) = (arm(), arm());
        let tf: Vec<&[f64]> = ft.iter().map(Vec::as_slice).collect();
        let cf: Vec<&[f64]> = fc.iter().map(Vec::as_slice).collect();
        let r = cupac(&yt, &tf, &yc, &cf, &h).expect("cupac");
        rejections += u32::from(r.cuped.adjusted.reject);
        let w = welch_t(&Summary::from_slice(&yt), &Summary::from_slice(&yc), &h).expect("welch");
        ratio += r.cuped.adjusted.std_error / w.std_error / f64::from(reps);
    }
    let rate = f64::from(rejections) / f64::from(reps);
    // Wilson 99.9 % band of 300 draws at 0.05 ≈ [0.022, 0.105].
    assert!((0.02..=0.105).contains(&rate), "type I {rate}");
    // Var(y) = 4 + 1 + 0.5 + 1 = 6.5, of which the linear fit leaves 0.5 + 1: se ratio ≈ 0.48.
    assert!((0.42..0.55).contains(&ratio), "se ratio {ratio}");
}
