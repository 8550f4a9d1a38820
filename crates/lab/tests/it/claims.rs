//! The calibration of the Bayesian claims `P(T > C)` against lifts drawn from a prior: under
//! the blueprint's own prior the claims are calibrated, under the flat prior they overstate
//! their certainty when the prior's spread is comparable with the standard error.

use abforge_lab::{
    BayesPrior, Calibration, ClaimCalibration, LabOptions, Method, NoReporter, calibrate,
};
use abforge_synth::Blueprint;

/// A normal metric of sd 2 around 10, 200 customers per arm (se of the difference 0.2), and a
/// treatment lift drawn from `lift` (sd 0.02: the true difference has sd 0.2 too).
fn bp(lift: &str) -> Blueprint {
    Blueprint::from_toml(&format!(
        r#"
id = "claims"
seed = 5
customers = 400
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
[metrics.revenue]
distribution = "normal"
control = {{ mean = 10.0, sd = 2.0 }}
treatment = {{ {lift} }}
"#
    ))
    .unwrap()
}

const NORMAL: &str = r#"lift = { prior = "normal", mean = 0.0, sd = 0.02 }"#;

fn run(b: &Blueprint, prior: BayesPrior, replications: u64) -> abforge_lab::Result<Calibration> {
    calibrate(
        b,
        &LabOptions {
            replications,
            methods: Some(vec![Method::Bayes, Method::WelchT]),
            bayes_prior: prior,
            ..LabOptions::default()
        },
        &NoReporter,
    )
}

fn only(c: &Calibration) -> &ClaimCalibration {
    assert_eq!(c.claims.len(), 1, "{:?}", c.claims);
    &c.claims[0]
}

#[test]
fn claims_under_the_blueprints_prior_are_calibrated() {
    let c = run(&bp(NORMAL), BayesPrior::Blueprint, 1500).unwrap();
    assert!(c.choices_per_replication);
    let k = only(&c);
    assert_eq!(
        (k.metric.as_str(), k.arm.as_str()),
        ("revenue", "treatment")
    );
    assert_eq!(k.prior, "lift ~ normal(mean 0, sd 0.02)");
    assert_eq!(k.replications, 1500);
    assert!(!k.miscalibrated, "{k:#?}");
    for b in k.bins.iter().filter(|b| b.replications >= 30) {
        let (m, r, se) = (b.mean_claim.unwrap(), b.realised.unwrap(), b.se.unwrap());
        assert!((m - r).abs() < 4.0 * se, "bin {b:?}");
        assert!(b.low <= m && m <= b.high);
    }
    // The Brier score is what calibrated claims give, and well below the base rate's.
    assert!((k.brier - k.brier_if_calibrated).abs() < 0.01, "{k:#?}");
    assert!(k.brier < k.brier_base_rate - 0.03);
    // The credible interval covers the drawn effect 95 % of the time, over the prior.
    let cov = k.credible_coverage.unwrap();
    assert!((0.93..=0.97).contains(&cov), "coverage {cov}");
    // Welch's confidence interval covers it in every experiment, so on average too.
    let welch = c.results.iter().find(|r| r.test == Method::WelchT).unwrap();
    assert!((0.93..=0.97).contains(&welch.ci_coverage.unwrap()));
    // The expected loss of shipping the treatment is what shipping it loses, on average.
    let d = k.expected_loss_realised - k.expected_loss_claimed;
    assert!(d.abs() < 4.0 * k.expected_loss_se, "{k:#?}");
    assert!(k.expected_loss_claimed > 0.0);
    // The analytic power is the flat prior's formula: not given for the shrunk posterior.
    let bayes = c.results.iter().find(|r| r.test == Method::Bayes).unwrap();
    assert_eq!(bayes.analytic_power, None);
    assert!(welch.analytic_power.is_some());
}

#[test]
fn the_flat_prior_overstates_its_certainty() {
    let c = run(&bp(NORMAL), BayesPrior::Flat, 1500).unwrap();
    let k = only(&c);
    assert_eq!(k.prior, "flat");
    assert!(k.miscalibrated && k.spiegelhalter_z > 4.0, "{k:#?}");
    assert!(k.brier > k.brier_if_calibrated + 0.02, "{k:#?}");
    // Its most confident claims come true less often than claimed, on both sides.
    let (low, high) = (&k.bins[0], &k.bins[9]);
    assert!(low.realised.unwrap() > low.mean_claim.unwrap() + 3.0 * low.se.unwrap());
    assert!(high.realised.unwrap() < high.mean_claim.unwrap() - 3.0 * high.se.unwrap());
    // Unshrunk, its posterior spreads the effect wider than the prior does, and claims a
    // larger expected loss than shipping loses (0.143 against 0.081 on this seed).
    let d = k.expected_loss_claimed - k.expected_loss_realised;
    assert!(d > 4.0 * k.expected_loss_se, "{k:#?}");
}

#[test]
fn the_report_is_the_same_on_any_thread_count() {
    let b = bp(NORMAL);
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run(&b, BayesPrior::Blueprint, 100).unwrap())
    };
    assert_eq!(on(1), on(3));
}

#[test]
fn a_fixed_effect_has_no_claims_report() {
    let c = run(&bp("lift = 0.01"), BayesPrior::Flat, 50).unwrap();
    assert!(c.claims.is_empty());
    let json = serde_json::to_value(&c).unwrap();
    assert!(json.get("claims").is_none());
}

#[test]
fn the_blueprint_prior_must_exist_and_be_normal() {
    let field = |e: abforge_lab::Error| {
        let i = e.invalid().expect("an invalid option").clone();
        (i.field, e.to_string())
    };
    let (f, msg) = field(run(&bp("lift = 0.01"), BayesPrior::Blueprint, 10).unwrap_err());
    assert_eq!(f, "bayes_prior");
    assert!(
        msg.contains("no calibrated treatment arm has a lift drawn from a prior"),
        "{msg}"
    );
    let uniform = bp(r#"lift = { prior = "uniform", low = -0.05, high = 0.05 }"#);
    let (f, msg) = field(run(&uniform, BayesPrior::Blueprint, 10).unwrap_err());
    assert_eq!(f, "bayes_prior");
    assert!(
        msg.contains("metrics.revenue.treatment draws its lift from uniform(-0.05, 0.05)"),
        "{msg}"
    );
    // The flat prior takes any prior, and a uniform one is drawn from.
    let k = run(&uniform, BayesPrior::Flat, 200).unwrap();
    assert_eq!(only(&k).replications, 200);
}

#[test]
fn a_draw_the_family_cannot_take_stops_the_run_with_the_prior_named() {
    let b = Blueprint::from_toml(
        &bp(r#"lift = { prior = "normal", mean = 0.0, sd = 0.6 }"#)
            .to_toml()
            .replace(r#"distribution = "normal""#, r#"distribution = "gamma""#)
            .replace("mean = 10, sd = 2", "shape = 2, scale = 5"),
    )
    .unwrap();
    let e = run(&b, BayesPrior::Flat, 200).unwrap_err();
    let msg = e.to_string();
    assert!(e.is_user_error());
    assert!(
        msg.contains("metrics.revenue.treatment: lift -") && msg.contains("normal(mean 0, sd 0.6)"),
        "{msg}"
    );
}

/// A prior given per metric: the normal prior the lifts are drawn from, on the difference
/// (a relative sd of 0.02 on a mean of 10 is 0.2), calibrates the claims as the blueprint's
/// does; a beta prior goes to the beta-binomial model of a 0/1 metric and says so.
#[test]
fn priors_given_per_metric_reach_their_metric() {
    use abforge_lab::MetricPrior;
    let given: MetricPrior = "revenue=normal:0,0.2".parse().unwrap();
    let opts = LabOptions {
        replications: 1500,
        methods: Some(vec![Method::Bayes]),
        priors: vec![given],
        ..LabOptions::default()
    };
    let c = calibrate(&bp(NORMAL), &opts, &NoReporter).unwrap();
    let k = only(&c);
    assert_eq!(k.prior, "lift_abs ~ normal(mean 0, sd 0.2)");
    assert!(!k.miscalibrated, "{k:#?}");

    let conv = Blueprint::from_toml(
        r#"
id = "conv"
seed = 5
customers = 2000
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
[metrics.converted]
distribution = "bernoulli"
control = { p = 0.2 }
treatment = { p = { choose = [0.2, 0.24] } }
"#,
    )
    .unwrap();
    let opts = LabOptions {
        replications: 200,
        methods: Some(vec![Method::Bayes]),
        priors: vec!["converted=beta:2,8".parse().unwrap()],
        ..LabOptions::default()
    };
    let c = calibrate(&conv, &opts, &NoReporter).unwrap();
    assert_eq!(only(&c).prior, "beta(2, 8) on each rate");
    assert_eq!(c.results[0].failed, 0);
}

#[test]
fn priors_given_per_metric_are_checked() {
    use abforge_lab::MetricPrior;
    for (text, why) in [
        ("revenue=normal:0,-1", "sd finite and > 0"),
        ("revenue=gamma:1,2", "not normal or beta"),
        ("revenue=beta:1", "two parameters"),
        ("=normal:0,1", "no metric"),
        ("revenue", "no `=`"),
    ] {
        let e = text.parse::<MetricPrior>().unwrap_err();
        assert!(
            e.contains(why) && e.contains("METRIC=normal:MEAN,SD"),
            "{text}: {e}"
        );
    }
    for (prior, why) in [
        ("revenue=beta:1,1", "0/1 metric"),
        ("sales=normal:0,1", "not a calibrated metric"),
    ] {
        let opts = LabOptions {
            replications: 5,
            priors: vec![prior.parse().unwrap()],
            ..LabOptions::default()
        };
        let e = calibrate(&bp(NORMAL), &opts, &NoReporter).unwrap_err();
        assert_eq!(e.invalid().map(|i| i.field), Some("priors"), "{e}");
        assert!(e.to_string().contains(why), "{e}");
    }
}
