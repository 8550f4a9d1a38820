//! Designs the lab draws through synth's generator — clusters, effects that change by day,
//! correlated metrics — and what it measures on them: the naive test's inflated type I error
//! beside the cluster-robust one, coverage of the whole run's effect, families of tests over
//! correlated metrics, the bias of capped means, the sample size at stopping. Seeded and
//! small; the bands are several Monte Carlo standard errors wide.

use abforge_lab::{Calibration, LabOptions, Method, NoReporter, TestResult, calibrate};
use abforge_synth::Blueprint;

fn bp(customers: u64, body: &str) -> Blueprint {
    Blueprint::from_toml(&format!(
        "id = \"real\"\nseed = 5\ncustomers = {customers}\nstart_date = 2026-11-23\ndays = 7\n\
         [groups]\ncontrol = 1\ntreatment = 1\n{body}"
    ))
    .unwrap()
}

fn find<'a>(cal: &'a Calibration, metric: &str, test: Method) -> &'a TestResult {
    cal.results
        .iter()
        .find(|r| r.metric == metric && r.test == test)
        .unwrap_or_else(|| panic!("no {metric} {test}"))
}

fn opts(replications: u64, methods: &[Method]) -> LabOptions {
    LabOptions {
        replications,
        methods: Some(methods.to_vec()),
        ..LabOptions::default()
    }
}

const CLUSTERED: &str = r#"
[metrics.revenue]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { lift = 0 }
[clusters]
count = 60
size_cv = 0.5
assignment = "cluster"
icc = { revenue = 0.1 }
"#;

/// Whole clusters randomised with an ICC: Welch treats customers as independent and
/// rejects a true null far more often than α; the cluster-level comparison stays near α.
#[test]
fn clusters_inflate_the_naive_test_but_not_the_cluster_robust_one() {
    let cal = calibrate(
        &bp(6000, CLUSTERED),
        &opts(300, &[Method::WelchT, Method::ClusterRobust]),
        &NoReporter,
    )
    .unwrap();
    let welch = find(&cal, "revenue", Method::WelchT);
    let robust = find(&cal, "revenue", Method::ClusterRobust);
    assert_eq!(welch.null_true, Some(true));
    assert!(
        welch.type_i_error.unwrap() > 0.3 && welch.miscalibrated,
        "{welch:?}"
    );
    assert_eq!(robust.failed, 0);
    // 30 clusters an arm: CR2 with Bell–McCaffrey degrees of freedom holds α.
    assert!(robust.type_i_error.unwrap() < 0.12, "{robust:?}");
    assert!(robust.ci_coverage.unwrap() > 0.87, "{robust:?}");
}

/// The cluster-robust test applies to blueprints with clusters, and says so; customers
/// randomised inside clusters leave Welch near α, and CR2 too.
#[test]
fn the_cluster_robust_test_needs_clusters() {
    let body = CLUSTERED.split("[clusters]").next().unwrap();
    let e = calibrate(
        &bp(400, body),
        &opts(5, &[Method::ClusterRobust]),
        &NoReporter,
    )
    .unwrap_err();
    assert!(
        e.is_user_error() && e.to_string().contains("[clusters]"),
        "{e}"
    );
    let within = CLUSTERED.replace("\"cluster\"", "\"customer\"");
    let methods = [Method::WelchT, Method::ClusterRobust];
    let cal = calibrate(&bp(3000, &within), &opts(200, &methods), &NoReporter).unwrap();
    for m in methods {
        let r = find(&cal, "revenue", m);
        assert!(r.type_i_error.unwrap() < 0.12 && r.failed == 0, "{r:?}");
    }
}

/// A novelty effect: each replication draws its own days, and the whole run's effect (the
/// days weighted by their customers) is what Welch's interval covers at the nominal rate.
#[test]
fn a_novelty_effect_is_judged_against_the_whole_runs_effect() {
    let body = r#"
[metrics.spend]
distribution = "normal"
control = { mean = 10, sd = 2 }
treatment = { mean = 10.2, sd = 2 }
[time]
novelty = { boost = 3, half_life = 1 }
"#;
    let cal = calibrate(&bp(2000, body), &opts(300, &[Method::WelchT]), &NoReporter).unwrap();
    let w = find(&cal, "spend", Method::WelchT);
    // ± 3 standard errors of 0.95 over 300 replications.
    assert!((0.91..=0.99).contains(&w.ci_coverage.unwrap()), "{w:?}");
    assert!(w.bias.unwrap().abs() < 4.0 * w.bias_se.unwrap(), "{w:?}");
    assert!(w.power.unwrap() > 0.5, "{w:?}");
}

const CORRELATED: &str = r#"
[metrics.a]
distribution = "normal"
control = { mean = 0, sd = 1 }
treatment = { mean = 0, sd = 1 }
[metrics.b]
distribution = "normal"
control = { mean = 0, sd = 1 }
treatment = { mean = 0, sd = 1 }
[metrics.c]
distribution = "normal"
control = { mean = 0, sd = 1 }
treatment = { mean = 0, sd = 1 }
[metrics.d]
distribution = "normal"
control = { mean = 0, sd = 1 }
treatment = { mean = 0.25, sd = 1 }
[[correlations]]
metrics = ["a", "b"]
rho = 0.5
[[correlations]]
metrics = ["b", "c"]
rho = 0.5
"#;

/// Four correlated metrics, three true nulls: uncorrected Welch makes a false rejection in
/// the family far more often than α; Bonferroni and Holm keep the family-wise error rate and
/// Benjamini–Hochberg the false discovery rate at α, with power on the true effect.
#[test]
fn families_over_correlated_metrics_keep_what_each_correction_promises() {
    let cal = calibrate(
        &bp(800, CORRELATED),
        &opts(600, &[Method::WelchT]),
        &NoReporter,
    )
    .unwrap();
    assert_eq!(cal.families.len(), 1);
    let f = &cal.families[0];
    assert_eq!(
        (f.test, f.members, f.replications),
        (Method::WelchT, 4, 600)
    );
    let by = |name: &str| f.corrections.iter().find(|c| c.correction == name).unwrap();
    let none = by("none");
    assert!(none.fwer > 0.09, "{none:?}");
    for name in ["bonferroni", "holm", "benjamini_hochberg"] {
        let c = by(name);
        assert!(!c.breaks_promise, "{c:?}");
        assert!(c.fdr < 0.07 && c.power.unwrap() > 0.5, "{c:?}");
    }
    // The FWER corrections hold the FWER; BH, which promises only the FDR, need not.
    assert!(by("bonferroni").fwer_ci_low < 0.05 && by("holm").fwer_ci_low < 0.05);
    assert!(by("benjamini_hochberg").fwer >= by("holm").fwer);
    assert!(by("holm").power >= by("bonferroni").power);
}

/// Capping a heavy upper tail: the capped test keeps α on an A/A test, but under a lift its
/// estimate of the capped means lands below the true difference of means, which the
/// uncapped Welch estimates without bias.
#[test]
fn capped_means_are_another_estimand() {
    let body = r#"
[metrics.revenue]
distribution = "lognormal"
control = { mu = 0, sigma = 1.5 }
treatment = { lift = 0.2 }
"#;
    let methods = [Method::WelchT, Method::WinsorizedWelch];
    let cal = calibrate(&bp(2000, body), &opts(300, &methods), &NoReporter).unwrap();
    let capped = find(&cal, "revenue", Method::WinsorizedWelch);
    let welch = find(&cal, "revenue", Method::WelchT);
    let (b, se) = (capped.bias.unwrap(), capped.bias_se.unwrap());
    assert!(b + 4.0 * se < 0.0, "capped bias {b} ± {se}");
    let (bw, sew) = (welch.bias.unwrap(), welch.bias_se.unwrap());
    assert!(bw.abs() < 4.0 * sew, "welch bias {bw} ± {sew}");
    let aa = calibrate(
        &bp(2000, &body.replace("0.2", "0")),
        &opts(300, &methods),
        &NoReporter,
    )
    .unwrap();
    let t1 = find(&aa, "revenue", Method::WinsorizedWelch)
        .type_i_error
        .unwrap();
    assert!((0.02..=0.09).contains(&t1), "{t1}");
}

/// Sequential tests report the customers at stopping: far fewer than all under a large
/// effect, nearly all under a true null; fixed-horizon tests report none.
#[test]
fn sequential_tests_report_the_sample_size_at_stopping() {
    let body = r#"
[metrics.x]
distribution = "normal"
control = { mean = 0, sd = 1 }
treatment = { mean = 0.3, sd = 1 }
"#;
    let mut o = opts(200, &[Method::WelchT, Method::Msprt]);
    o.peeks = 5;
    let cal = calibrate(&bp(2000, body), &o, &NoReporter).unwrap();
    let m = find(&cal, "x", Method::Msprt);
    assert!(m.mean_customers_at_stop.unwrap() < 0.8 * 2000.0, "{m:?}");
    assert!(
        find(&cal, "x", Method::WelchT)
            .mean_customers_at_stop
            .is_none()
    );
    let null = calibrate(&bp(2000, &body.replace("0.3", "0")), &o, &NoReporter).unwrap();
    let stop = find(&null, "x", Method::Msprt)
        .mean_customers_at_stop
        .unwrap();
    assert!(stop > 0.95 * 2000.0, "{stop}");
}

/// The generator's replications are the same whatever the thread count.
#[test]
fn generated_replications_ignore_the_thread_count() {
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let o = opts(40, &[Method::WelchT, Method::ClusterRobust]);
                calibrate(&bp(3000, CLUSTERED), &o, &NoReporter).unwrap()
            })
    };
    assert_eq!(run(1), run(3));
}

/// CUPAC's features are every metric's pre-period twin: where another metric's twin says
/// more about the metric than its own (correlated metrics), it beats CUPED's power, keeps α
/// on the null metric, and estimates the mean difference without bias.
#[test]
fn cupac_uses_the_other_metrics_pre_period() {
    let body = r#"
[metrics.y]
distribution = "normal"
pre_period = { correlation = 0.5 }
control = { mean = 10, sd = 2 }
treatment = { mean = 10.25, sd = 2 }
[metrics.z]
distribution = "normal"
pre_period = { correlation = 0.95 }
control = { mean = 5, sd = 1 }
treatment = { mean = 5, sd = 1 }
[[correlations]]
metrics = ["y", "z"]
rho = 0.8
"#;
    let cal = calibrate(
        &bp(1000, body),
        &opts(300, &[Method::Cuped, Method::Cupac]),
        &NoReporter,
    )
    .unwrap();
    let (cuped, cupac) = (
        find(&cal, "y", Method::Cuped),
        find(&cal, "y", Method::Cupac),
    );
    assert!(
        cupac.power.unwrap() > cuped.power.unwrap() + 0.1,
        "{cuped:?}\n{cupac:?}"
    );
    assert!(
        cupac.bias.unwrap().abs() < 4.0 * cupac.bias_se.unwrap(),
        "{cupac:?}"
    );
    let null = find(&cal, "z", Method::Cupac);
    assert!(
        (0.015..=0.095).contains(&null.type_i_error.unwrap()),
        "{null:?}"
    );
    assert_eq!(cupac.failed, 0);
}

/// The medians' difference by the exact order-statistic bootstrap, beside Deng et al.'s
/// standard error, where the treatment spreads revenue out and leaves the median: both hold
/// α against equal true medians and cover the true difference (0).
#[test]
fn the_median_bootstrap_holds_alpha_where_only_the_spread_moves() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/quantile_effect.toml");
    let b = Blueprint::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut o = opts(300, &[Method::QuantileMedian, Method::QuantileBootstrap]);
    o.customers = Some(2000);
    o.bootstrap_resamples = Some(200);
    let cal = calibrate(&b, &o, &NoReporter).unwrap();
    for m in [Method::QuantileMedian, Method::QuantileBootstrap] {
        let r = find(&cal, "revenue", m);
        assert_eq!(r.null_true, Some(true), "{r:?}");
        assert!((0.01..=0.1).contains(&r.type_i_error.unwrap()), "{r:?}");
        assert!(r.ci_coverage.unwrap() > 0.88 && r.failed == 0, "{r:?}");
    }
}
