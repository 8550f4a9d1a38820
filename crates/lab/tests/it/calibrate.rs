//! Calibration smoke tests: small, seeded runs, so every number is exact and fast; the wide
//! bands below are several Monte Carlo standard errors.

use abforge_lab::{
    LabOptions, Method, NoReporter, SweepSpec, TestResult, calibrate, plot_calibration, plot_sweep,
    sweep,
};
use abforge_synth::Blueprint;

fn bp(body: &str) -> Blueprint {
    Blueprint::from_toml(&format!(
        "id = \"lab\"\nseed = 11\ncustomers = 400\nstart_date = 2026-11-23\ndays = 7\n{body}"
    ))
    .unwrap()
}

fn find<'a>(rs: &'a [TestResult], metric: &str, test: Method) -> &'a TestResult {
    rs.iter()
        .find(|r| r.metric == metric && r.test == test)
        .unwrap_or_else(|| panic!("no {metric} {test}"))
}

const NULL: &str = r#"
[groups]
control = 1
treatment = 1
[metrics.revenue]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { lift = 0 }
[metrics.items]
distribution = "poisson"
offset = 1
control = { lambda = 3 }
treatment = { lift = 0 }
[metrics.converted]
distribution = "bernoulli"
control = { p = 0.3 }
treatment = { p = 0.3 }
"#;

#[test]
fn every_default_test_holds_alpha_on_a_null_blueprint() {
    let cal = calibrate(
        &bp(NULL),
        &LabOptions {
            replications: 600,
            ..LabOptions::default()
        },
        &NoReporter,
    )
    .unwrap();
    assert_eq!(
        cal.group_sizes,
        [("control".into(), 200), ("treatment".into(), 200)]
    );
    for r in &cal.results {
        assert_eq!(r.null_true, Some(true), "{} {}", r.metric, r.test);
        assert_eq!(r.replications + r.failed, 600);
        let t1 = r.type_i_error.unwrap();
        // mSPRT and Yates are conservative by design; the rest sit near α.
        let (lo, hi) = match r.test {
            Method::Msprt | Method::ChiSquareYates => (0.0, 0.06),
            _ => (0.02, 0.085),
        };
        assert!(t1 >= lo && t1 <= hi, "{} {}: type I {t1}", r.metric, r.test);
        assert!(r.power.is_none() && r.analytic_power.is_none());
        if let Some(cov) = r.ci_coverage {
            assert!(cov > 0.9, "{} {}: coverage {cov}", r.metric, r.test);
        }
    }
    let welch = find(&cal.results, "revenue", Method::WelchT);
    assert!(!welch.miscalibrated);
    assert!(welch.p_value_ks.unwrap() < 0.08 && welch.p_value_ks_p.unwrap() > 0.001);
    // Only the tests that apply: no Poisson test on 0/1 values, no z test on revenue.
    assert!(
        cal.results
            .iter()
            .all(|r| r.test != Method::PoissonRate || r.metric == "items")
    );
    assert!(
        cal.results
            .iter()
            .all(|r| r.test != Method::TwoProportionZ || r.metric == "converted")
    );
}

#[test]
fn power_matches_the_analytic_power() {
    // Normal(10, 4) vs +0.8: d = 0.2, n = 200 per group, analytic power ≈ 0.51.
    let b = bp(r#"
[groups]
control = 1
treatment = 1
[metrics.score]
distribution = "normal"
control = { mean = 10, sd = 4 }
treatment = { lift_abs = 0.8 }
"#);
    let cal = calibrate(
        &b,
        &LabOptions {
            replications: 800,
            methods: Some(vec![
                Method::WelchT,
                Method::MannWhitneyU,
                Method::RelativeLift,
            ]),
            ..LabOptions::default()
        },
        &NoReporter,
    )
    .unwrap();
    for test in [Method::WelchT, Method::MannWhitneyU, Method::RelativeLift] {
        let r = find(&cal.results, "score", test);
        assert_eq!(r.null_true, Some(false));
        let (emp, ana) = (r.power.unwrap(), r.analytic_power.unwrap());
        assert!(
            (emp - ana).abs() < 0.06,
            "{test}: empirical {emp}, analytic {ana}"
        );
        assert!(ana > 0.45 && ana < 0.56, "{test}: analytic {ana}");
        assert_eq!(r.confusion.correct_reject + r.confusion.type_ii, 800);
    }
    let welch = find(&cal.results, "score", Method::WelchT);
    assert!(welch.ci_coverage.unwrap() > 0.92);
}

#[test]
fn student_is_miscalibrated_with_unequal_sizes_and_variances() {
    let b = bp(r#"
[groups]
control = 4
treatment = 1
[metrics.x]
distribution = "normal"
control = { mean = 5, sd = 1 }
treatment = { mean = 5, sd = 4 }
"#);
    let cal = calibrate(
        &b,
        &LabOptions {
            replications: 600,
            customers: Some(100),
            methods: Some(vec![Method::WelchT, Method::StudentT]),
            ..LabOptions::default()
        },
        &NoReporter,
    )
    .unwrap();
    let student = find(&cal.results, "x", Method::StudentT);
    assert!(student.miscalibrated && student.type_i_error.unwrap() > 0.15);
    assert!(!find(&cal.results, "x", Method::WelchT).miscalibrated);
}

#[test]
fn identical_whatever_the_thread_count() {
    let b = bp(r#"
[groups]
control = 1
treatment = 1
[attributes.device]
MOBILE = 1
COMPUTER = 2
[metrics.revenue]
distribution = "gamma"
pre_period = { correlation = 0.5 }
control = { shape = { choose = [1, 2] }, scale = 10 }
treatment = { lift = { choose = [0, 0.1] } }
[[metrics.revenue.segments]]
when = { device = "MOBILE" }
treatment = { lift = 0.2 }
"#);
    let opts = LabOptions {
        replications: 70,
        peeks: 2,
        bootstrap_resamples: Some(100),
        permutation_resamples: Some(100),
        ..LabOptions::default()
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| serde_json::to_string(&calibrate(&b, &opts, &NoReporter).unwrap()).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["choices_per_replication"], true);
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["test"] == "cuped")
    );
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["test"] == "bootstrap_bca")
    );
}

#[test]
fn peeking_inflates_type_i_but_not_for_the_always_valid_tests() {
    let b = bp(r#"
[groups]
control = 1
treatment = 1
[metrics.score]
distribution = "normal"
control = { mean = 0, sd = 1 }
treatment = { lift_abs = 0 }
"#);
    let cal = calibrate(
        &b,
        &LabOptions {
            replications: 1000,
            customers: Some(2000),
            peeks: 10,
            methods: Some(vec![
                Method::WelchT,
                Method::Msprt,
                Method::ConfidenceSequence,
            ]),
            ..LabOptions::default()
        },
        &NoReporter,
    )
    .unwrap();
    let naive = find(&cal.results, "score", Method::WelchT);
    let seq = find(&cal.results, "score", Method::Msprt);
    // Ten looks at a 5 % test: about 19 % (Armitage, McPherson & Rowe, 1969).
    assert!(
        naive.type_i_error.unwrap() > 0.12,
        "{}",
        naive.type_i_error.unwrap()
    );
    assert!(naive.miscalibrated);
    assert!(
        seq.type_i_error.unwrap() <= 0.05,
        "{}",
        seq.type_i_error.unwrap()
    );
    assert!(seq.ci_coverage.unwrap() >= 0.95);
    assert!(naive.ci_coverage.unwrap() < 0.9);
    // GrowthBook's confidence sequence is asymptotic: at 1,000 per arm its level holds up to
    // the Monte Carlo error (0.05 + 3 SE of 1,000 replications ≈ 0.071).
    let cs = find(&cal.results, "score", Method::ConfidenceSequence);
    let t1 = cs.type_i_error.unwrap();
    assert!(t1 <= 0.071, "{t1}");
    assert!(
        !cs.miscalibrated || t1 > 0.05,
        "conservative is not miscalibrated"
    );
    assert!(cs.ci_coverage.unwrap() >= 0.93, "{:?}", cs.ci_coverage);
}

#[test]
fn cuped_gains_power_at_equal_type_i() {
    // As examples/abn_cuped.toml: one arm with an effect, one without.
    let b = bp(r#"
[groups]
control = 1
price_anchor = 1
placebo = 1
[metrics.revenue]
distribution = "normal"
pre_period = { correlation = 0.7 }
control = { mean = 50, sd = 20 }
price_anchor = { lift_abs = 3 }
placebo = { lift_abs = 0 }
"#);
    let cal = calibrate(
        &b,
        &LabOptions {
            replications: 400,
            customers: Some(600),
            methods: Some(vec![Method::WelchT, Method::Cuped]),
            ..LabOptions::default()
        },
        &NoReporter,
    )
    .unwrap();
    let get = |arm: &str, t| {
        cal.results
            .iter()
            .find(|r| r.arm == arm && r.test == t)
            .unwrap()
    };
    let (w, c) = (
        get("price_anchor", Method::WelchT),
        get("price_anchor", Method::Cuped),
    );
    // d = 0.15 at n = 200: Welch ≈ 0.32; CUPED removes ρ² = 49 % of the variance: ≈ 0.56.
    assert!(
        c.power.unwrap() > w.power.unwrap() + 0.12,
        "{:?} {:?}",
        c.power,
        w.power
    );
    assert!((c.power.unwrap() - c.analytic_power.unwrap()).abs() < 0.08);
    let (w0, c0) = (
        get("placebo", Method::WelchT),
        get("placebo", Method::Cuped),
    );
    for r in [w0, c0] {
        assert!(!r.miscalibrated, "{} type I {:?}", r.test, r.type_i_error);
    }
}

#[test]
fn choices_mix_nulls_and_effects() {
    let b = bp(r#"
[groups]
control = 0.5
treatment = 0.5
[metrics.items]
distribution = "poisson"
offset = 1
control = { lambda = { choose = [1, 2] } }
treatment = { lambda = { choose = [1, 2] } }
"#);
    let cal = calibrate(
        &b,
        &LabOptions {
            replications: 400,
            methods: Some(vec![Method::PoissonRate, Method::MannWhitneyU]),
            ..LabOptions::default()
        },
        &NoReporter,
    )
    .unwrap();
    assert!(cal.choices_per_replication);
    for r in &cal.results {
        assert_eq!(r.null_true, None);
        let c = r.confusion;
        assert_eq!(
            c.correct_accept + c.correct_reject + c.type_i + c.type_ii,
            400
        );
        // About half the replications draw equal lambdas.
        assert!(c.type_i + c.correct_accept > 140 && c.type_i + c.correct_accept < 260);
        assert!(r.type_i_error.unwrap() < 0.1 && r.power.unwrap() > 0.9);
    }
}

#[test]
fn a_sweep_draws_a_rising_power_curve() {
    let b = bp(r#"
[groups]
control = 1
treatment = 1
[metrics.converted]
distribution = "bernoulli"
control = { p = 0.2 }
treatment = { lift = 0.1 }
"#);
    let spec: SweepSpec = "metrics.converted.treatment.lift=0..0.6:4".parse().unwrap();
    let opts = LabOptions {
        replications: 200,
        methods: Some(vec![Method::TwoProportionZ, Method::Bayes]),
        ..LabOptions::default()
    };
    let s = sweep(&b, &spec, &opts, &NoReporter).unwrap();
    assert_eq!(s.values, [0.0, 0.2, 0.4, 0.6]);
    let z: Vec<f64> = s
        .points
        .iter()
        .map(|p| find(&p.calibration.results, "converted", Method::TwoProportionZ).rejection_rate)
        .collect();
    assert!(
        z[0] < 0.1 && z[3] > 0.7 && z.windows(2).all(|w| w[1] >= w[0] - 0.05),
        "{z:?}"
    );
    assert_eq!(s.points[0].calibration.results[0].null_true, Some(true));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("curve.svg");
    plot_sweep(&path, &s).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("two_proportion_z") && svg.contains("<text"));
    let path = dir.path().join("rates.svg");
    plot_calibration(&path, &s.points[1].calibration).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("bayes"));
}

#[test]
fn bad_options_name_what_is_allowed() {
    let b = bp(NULL);
    let err = |o: LabOptions| calibrate(&b, &o, &NoReporter).unwrap_err().to_string();
    let e = err(LabOptions {
        metrics: vec!["revenu".into()],
        ..LabOptions::default()
    });
    assert!(e.contains("revenue, items, converted"), "{e}");
    let e = err(LabOptions {
        metrics: vec!["revenue".into()],
        methods: Some(vec![Method::PoissonRate]),
        ..LabOptions::default()
    });
    assert!(e.contains("count"), "{e}");
    let e = err(LabOptions {
        customers: Some(3),
        ..LabOptions::default()
    });
    assert!(e.contains("at least 2"), "{e}");
    let spec: SweepSpec = "metrics.revenue.treatment.lamda=1..2:2".parse().unwrap();
    let e = sweep(&b, &spec, &LabOptions::default(), &NoReporter)
        .unwrap_err()
        .to_string();
    assert!(e.contains("shape, scale"), "{e}");
}

/// The replications draw independent customers with one effect for the whole run: a design
/// they would ignore is refused, naming what would be ignored, rather than calibrated as if
/// it were another experiment; weekday weights alone change no metric's test and run.
#[test]
fn designs_the_replications_do_not_draw_are_refused() {
    let opts = LabOptions {
        replications: 20,
        ..LabOptions::default()
    };
    let refused = [
        (
            "[clusters]\ncount = 10\nicc = { revenue = 0.1 }\nassignment = \"customer\"\n",
            "the ICC of revenue",
        ),
        (
            "[clusters]\ncount = 10\n",
            "randomisation by whole clusters",
        ),
        (
            "[time]\nnovelty = { boost = 1, half_life = 2 }\n",
            "an effect that changes by day",
        ),
        (
            "[time]\nramp = { days = 3 }\n",
            "an effect that changes by day",
        ),
    ];
    for (extra, what) in refused {
        let e = calibrate(&bp(&format!("{NULL}{extra}")), &opts, &NoReporter).unwrap_err();
        assert!(e.is_user_error(), "{e}");
        assert_eq!(e.invalid().map(|i| i.field), Some("blueprint"), "{e}");
        assert!(e.to_string().contains(what), "{extra}: {e}");
    }
    let allowed = [
        "[time]\nweekdays = { sat = 2, sun = 2 }\n",
        "[clusters]\ncount = 10\nassignment = \"customer\"\n",
    ];
    for extra in allowed {
        let cal = calibrate(&bp(&format!("{NULL}{extra}")), &opts, &NoReporter).unwrap();
        assert!(!cal.results.is_empty(), "{extra}");
    }
}
