//! The resampling methods against scipy on fixed data, within Monte Carlo error.
//!
//! Reference values: scipy 1.17.1, `stats.bootstrap((t, c), statistic, n_resamples=200_000,
//! method=..., vectorized=True, confidence_level=0.95, rng=np.random.default_rng(12345))` and
//! `stats.permutation_test((t, c), mean difference, n_resamples=200_000,
//! permutation_type='independent')` on the data of `data()` (computed once with the bench
//! venv's Python, hard-coded here). Our runs use 20 000 resamples: the tolerances are about
//! four Monte Carlo standard errors of the two runs combined.

use abforge_stats::{
    Alternative, BootstrapOptions, Hypothesis, PermutationOptions, bootstrap, permutation_test,
};

fn data() -> (Vec<f64>, Vec<f64>) {
    let t = (0..60)
        .map(|i| ((i * 7 % 23) as f64).powi(2) / 10.0)
        .collect();
    let c = (0..50)
        .map(|i| ((i * 5 % 19) as f64).powi(2) / 10.0)
        .collect();
    (t, c)
}

#[test]
fn bootstrap_intervals_match_scipy() {
    let (t, c) = data();
    let r = bootstrap(
        &t,
        &c,
        &BootstrapOptions {
            resamples: 20_000,
            seed: 2026,
            alpha: 0.05,
        },
    )
    .unwrap();
    let d = r.mean_difference;
    let l = r.relative_lift.unwrap();
    // (ours, scipy, tolerance)
    let cases = [
        (
            "diff percentile low",
            d.percentile_low,
            0.9373333333333314,
            0.2,
        ),
        (
            "diff percentile high",
            d.percentile_high,
            10.52835833333333,
            0.2,
        ),
        ("diff BCa low", d.bca_low, 1.0146666666666664, 0.25),
        ("diff BCa high", d.bca_high, 10.600745030406989, 0.25),
        ("diff se", d.std_error, 2.450851291616757, 0.05),
        (
            "lift percentile low",
            l.percentile_low,
            0.07286539592889914,
            0.025,
        ),
        (
            "lift percentile high",
            l.percentile_high,
            1.1742060511176153,
            0.025,
        ),
        ("lift BCa low", l.bca_low, 0.06782600985768467, 0.03),
        ("lift BCa high", l.bca_high, 1.169798906288343, 0.03),
        ("lift se", l.std_error, 0.2823180853894394, 0.01),
    ];
    for (name, ours, scipy, tol) in cases {
        assert!(
            (ours - scipy).abs() < tol,
            "{name}: ours {ours}, scipy {scipy}"
        );
    }
    assert!((d.estimate - 5.694).abs() < 1e-12);
}

#[test]
fn permutation_p_values_match_scipy() {
    let (t, c) = data();
    let run = |alternative| {
        permutation_test(
            &t,
            &c,
            &PermutationOptions {
                resamples: 20_000,
                seed: 7,
                hypothesis: Hypothesis::one_sided(alternative, 0.05),
            },
        )
        .unwrap()
    };
    let two = run(Alternative::TwoSided);
    assert!((two.statistic - 5.694000000000003).abs() < 1e-12);
    assert!(
        (two.p_value - 0.026989865050674747).abs() < 0.007,
        "{}",
        two.p_value
    );
    let greater = run(Alternative::Greater);
    assert!(
        (greater.p_value - 0.014274928625356873).abs() < 0.004,
        "{}",
        greater.p_value
    );
}
