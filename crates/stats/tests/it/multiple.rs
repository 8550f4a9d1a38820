//! Multiple-testing corrections against statsmodels `multipletests`, and A/B/n families.

use abforge_stats::{AbnOptions, Correction, MetricSamples, adjust, analyze_arms};

#[test]
fn statsmodels_multipletests() {
    // statsmodels.stats.multitest.multipletests(p, method=m)[1]
    let p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205];
    let bonf = [0.008, 0.064, 0.312, 0.328, 0.336, 0.48, 0.592, 1.0];
    let holm = [0.008, 0.056, 0.234, 0.234, 0.234, 0.234, 0.234, 0.234];
    let bh = [
        0.008,
        0.032,
        0.0672,
        0.0672,
        0.0672,
        0.08,
        0.08457142857142856,
        0.205,
    ];
    for (method, want) in [
        (Correction::Bonferroni, bonf),
        (Correction::Holm, holm),
        (Correction::BenjaminiHochberg, bh),
    ] {
        let got = adjust(&p, method).unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{method:?}: {got:?}");
        }
    }
}

#[test]
fn abn_family_is_corrected_across_arms_and_metrics() {
    let control: Vec<f64> = (0..400).map(|i| ((i * 7919) % 100) as f64 / 10.0).collect();
    let strong: Vec<f64> = control.iter().map(|x| x + 1.5).collect();
    let null: Vec<f64> = control.iter().rev().copied().collect();
    let arms = [("strong", &strong[..]), ("null", &null[..])];
    let metrics = [
        MetricSamples {
            metric: "a",
            control: &control,
            arms: &arms,
        },
        MetricSamples {
            metric: "b",
            control: &control,
            arms: &arms[..1],
        },
    ];
    for correction in [
        Correction::Bonferroni,
        Correction::Holm,
        Correction::BenjaminiHochberg,
    ] {
        let r = analyze_arms(
            &metrics,
            &AbnOptions {
                correction,
                ..AbnOptions::default()
            },
        )
        .unwrap();
        assert_eq!(r.family_size, 3);
        let strong = &r.comparisons[0];
        assert!(strong.reject && strong.p_adjusted >= strong.p_value.unwrap());
        let null = &r.comparisons[1];
        assert_eq!(null.arm, "null");
        assert!(!null.reject && null.p_adjusted == 1.0);
    }
}
