//! Lifts drawn from a prior: parsed, validated, written back, in the schema, and drawn per
//! run from the seed like a `choose`.

use abforge_synth::blueprint::{ArmSpec, Param, Prior};
use abforge_synth::{Blueprint, Error, json_schema};
use serde_json::json;

/// A blueprint whose treatment's lift of a normal metric is `lift`.
fn with_lift(lift: &str) -> String {
    format!(
        r#"
id = "prior"
seed = 3
customers = 1000
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
    )
}

fn problems(toml: &str) -> String {
    match Blueprint::from_toml(toml) {
        Ok(_) => panic!("expected the blueprint to be rejected:\n{toml}"),
        Err(Error::Invalid(p)) => p.to_string(),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

#[test]
fn priors_parse_and_write_back() {
    let cases = [
        (
            r#"lift = { prior = "normal", mean = 0, sd = 0.02 }"#,
            ArmSpec::Lift(Param::Prior(Prior::Normal {
                mean: 0.0,
                sd: 0.02,
            })),
        ),
        (
            r#"lift_abs = { prior = "uniform", low = -0.5, high = 1.5 }"#,
            ArmSpec::LiftAbs(Param::Prior(Prior::Uniform {
                low: -0.5,
                high: 1.5,
            })),
        ),
    ];
    for (text, spec) in cases {
        let bp = Blueprint::from_toml(&with_lift(text)).unwrap();
        assert_eq!(bp.metrics[0].arms[1].1, spec);
        assert!(bp.has_choices() && bp.has_priors());
        let toml = bp.to_toml();
        assert!(toml.contains(text), "{toml}");
        assert_eq!(Blueprint::from_toml(&toml).unwrap(), bp);
        assert_eq!(Blueprint::from_json(&bp.to_json()).unwrap(), bp);
    }
    let fixed = Blueprint::from_toml(&with_lift("lift = 0.1")).unwrap();
    assert!(!fixed.has_choices() && !fixed.has_priors());
}

#[test]
fn bad_priors_name_the_field_and_what_is_allowed() {
    let cases = [
        (
            r#"lift = { prior = "cauchy", mean = 0, sd = 1 }"#,
            "metrics.revenue.treatment.lift.prior: \"cauchy\" is not a prior; expected normal or uniform",
        ),
        (
            r#"lift = { prior = "normal", mean = 0, sd = 0 }"#,
            "metrics.revenue.treatment.lift.sd: 0 is out of range; expected a finite `sd` > 0",
        ),
        (
            r#"lift = { prior = "normal", mean = 0, sd = -1 }"#,
            "metrics.revenue.treatment.lift.sd: -1 is out of range",
        ),
        (
            r#"lift = { prior = "normal", sd = 1 }"#,
            "metrics.revenue.treatment.lift.mean: is missing; a normal prior needs a finite `mean`",
        ),
        (
            r#"lift = { prior = "normal", mean = 0, sd = inf }"#,
            "metrics.revenue.treatment.lift.sd: expected a number, found the string \"inf\"",
        ),
        (
            r#"lift = { prior = "normal", mean = 0, sd = 1, low = 2 }"#,
            "metrics.revenue.treatment.lift.low: unknown key; allowed keys: prior, mean, sd",
        ),
        (
            r#"lift_abs = { prior = "uniform", low = 1, high = 1 }"#,
            "metrics.revenue.treatment.lift_abs.high: 1 is not above low = 1; expected low < high",
        ),
        (
            r#"lift = { prior = 3, mean = 0, sd = 1 }"#,
            "metrics.revenue.treatment.lift.prior: expected a string, found the number 3",
        ),
        (
            r#"mean = { prior = "normal", mean = 0, sd = 1 }, sd = 2"#,
            "metrics.revenue.treatment.mean.prior: only `lift` and `lift_abs` may be drawn from a prior",
        ),
    ];
    for (text, expected) in cases {
        let got = problems(&with_lift(text));
        assert!(got.contains(expected), "{text}:\n{got}");
    }
}

#[test]
fn the_schema_takes_priors_as_validation_does() {
    let v = jsonschema::draft202012::new(&json_schema()).unwrap();
    let doc = |lift: serde_json::Value| {
        json!({
            "id": "x", "customers": 10, "start_date": "2026-01-01", "days": 3,
            "groups": {"control": 1, "treatment": 1},
            "metrics": {"m": {"distribution": "normal", "control": {"mean": 1, "sd": 1}, "treatment": {"lift": lift}}}
        })
    };
    for good in [
        json!({"prior": "normal", "mean": 0, "sd": 0.02}),
        json!({"prior": "uniform", "low": -0.1, "high": 0.1}),
    ] {
        assert!(v.is_valid(&doc(good.clone())), "{good}");
        assert!(Blueprint::from_value(&doc(good)).is_ok());
    }
    for bad in [
        json!({"prior": "normal", "mean": 0, "sd": 0}),
        json!({"prior": "normal", "mean": 0}),
        json!({"prior": "beta", "a": 1, "b": 1}),
        json!({"prior": "uniform", "low": 0, "high": 1, "sd": 1}),
    ] {
        assert!(!v.is_valid(&doc(bad.clone())), "{bad}");
        assert!(Blueprint::from_value(&doc(bad)).is_err());
    }
}

#[test]
fn a_prior_is_drawn_per_seed_and_recorded() {
    let bp = Blueprint::from_toml(&with_lift(
        r#"lift = { prior = "normal", mean = 0.0, sd = 0.02 }"#,
    ))
    .unwrap();
    let r = bp.resolve().unwrap();
    assert_eq!(r.choices.len(), 1);
    let c = &r.choices[0];
    assert_eq!(c.path, "metrics.revenue.treatment.lift");
    assert_eq!(c.source(), "normal(mean 0, sd 0.02)");
    assert!(c.options.is_empty());
    // The resolved blueprint has the drawn lift as explicit parameters, and no prior left.
    assert!(!r.blueprint.has_choices());
    let treatment = &r.blueprint.metrics[0].arms[1].1;
    let mean = 10.0 * (1.0 + c.chosen);
    assert_eq!(
        *treatment,
        ArmSpec::Params(vec![
            ("mean".into(), Param::Fixed(mean)),
            ("sd".into(), Param::Fixed(2.0))
        ])
    );
    let effect = &r.truth().metrics[0].effects[0];
    assert!((effect.rel_effect.unwrap() - c.chosen).abs() < 1e-12);
    // The same seed draws the same lift; another seed another.
    assert_eq!(bp.resolve().unwrap().choices, r.choices);
    assert_ne!(
        bp.with_seed(4).resolve().unwrap().choices[0].chosen,
        c.chosen
    );
    let json = serde_json::to_value(c).unwrap();
    assert_eq!(
        json["prior"],
        json!({"prior": "normal", "mean": 0.0, "sd": 0.02})
    );
}

/// Mean and standard deviation of the lift drawn over `n` seeds.
fn draws(lift: &str, n: u64) -> (f64, f64, f64, f64) {
    let bp = Blueprint::from_toml(&with_lift(lift)).unwrap();
    let xs: Vec<f64> = (0..n)
        .map(|s| bp.with_seed(s).resolve().unwrap().choices[0].chosen)
        .collect();
    let m = xs.iter().sum::<f64>() / n as f64;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (m, v.sqrt(), lo, hi)
}

#[test]
fn draws_follow_the_prior() {
    let n = 2000;
    let (m, sd, ..) = draws(r#"lift = { prior = "normal", mean = 0.01, sd = 0.02 }"#, n);
    let se = 0.02 / (n as f64).sqrt();
    assert!((m - 0.01).abs() < 5.0 * se, "mean {m}");
    // The sample sd of a normal has standard error about sd/√(2n).
    assert!(
        (sd - 0.02).abs() < 5.0 * 0.02 / (2.0 * n as f64).sqrt(),
        "sd {sd}"
    );
    let (m, sd, lo, hi) = draws(r#"lift_abs = { prior = "uniform", low = -1, high = 3 }"#, n);
    let true_sd = 4.0 / 12f64.sqrt();
    assert!(
        (m - 1.0).abs() < 5.0 * true_sd / (n as f64).sqrt(),
        "mean {m}"
    );
    // Var of the sample variance of a uniform: (μ₄ − σ⁴)/n with μ₄ = 9σ⁴/5.
    let se_var = (0.8f64 / n as f64).sqrt() * true_sd * true_sd;
    assert!(
        (sd * sd - true_sd * true_sd).abs() < 5.0 * se_var,
        "sd {sd}"
    );
    assert!((-1.0..3.0).contains(&lo) && (-1.0..3.0).contains(&hi));
}

#[test]
fn an_unreachable_draw_is_an_error_naming_the_prior() {
    let toml = with_lift(r#"lift = { prior = "normal", mean = -2.0, sd = 0.01 }"#)
        .replace(r#"distribution = "normal""#, r#"distribution = "gamma""#)
        .replace("mean = 10.0, sd = 2.0", "shape = 2.0, scale = 5.0");
    let err = Blueprint::from_toml(&toml).unwrap().resolve().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("metrics.revenue.treatment: lift -")
            && msg.contains("drawn from the prior normal(mean -2, sd 0.01) (seed 3)")
            && msg.contains("narrow the prior"),
        "{msg}"
    );
}
