//! Validation: every problem at once, each with its field path and what is allowed.

use abforge_synth::{Blueprint, Error};

fn problems(toml: &str) -> String {
    match Blueprint::from_toml(toml) {
        Ok(_) => panic!("expected the blueprint to be rejected"),
        Err(Error::Invalid(p)) => p.to_string(),
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

fn resolve_problems(toml: &str) -> String {
    let bp = Blueprint::from_toml(toml).expect("valid structure");
    match bp.resolve() {
        Ok(_) => panic!("expected resolution to fail"),
        Err(e) => e.to_string(),
    }
}

const HEAD: &str = r#"
id = "t"
customers = 100
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
"#;

#[test]
fn reports_every_problem_with_its_path() {
    let got = problems(
        r#"
id = "Bad Id!"
seed = -1
customers = 0
start_date = "2026-13-01"
days = 0
colour = "red"
[groups]
control = 1
treatment = -2
[attributes.device]
MOBILE = 1
COMPUTER = 0
[metrics.num_diff_items]
distribution = "poisson"
offset = 1.5
control = { lambda = -2.0 }
treatment = { lamda = 2.5 }
[metrics.price]
distribution = "gama"
control = { shape = 1, scale = 1 }
"#,
    );
    insta::assert_snapshot!(got);
}

#[test]
fn unknown_distribution_lists_the_allowed_ones() {
    let got = problems(&format!(
        "{HEAD}[metrics.x]\ndistribution = \"weibull\"\ncontrol = {{ p = 1 }}\ntreatment = {{ p = 1 }}\n"
    ));
    assert!(got.contains("metrics.x.distribution: \"weibull\" is not a distribution; expected one of poisson, gamma, bernoulli, lognormal, normal, negative_binomial"), "{got}");
}

#[test]
fn choose_options_are_checked_one_by_one() {
    let got = problems(&format!(
        "{HEAD}[metrics.x]\ndistribution = \"bernoulli\"\ncontrol = {{ p = {{ choose = [0.1, 1.5, \"a\"] }} }}\ntreatment = {{ p = {{ choose = [] }} }}\n"
    ));
    insta::assert_snapshot!(got);
}

#[test]
fn groups_and_control_are_checked() {
    let one = problems(
        "id = \"t\"\ncustomers = 1\nstart_date = 2026-01-01\ndays = 1\n[groups]\nonly = 1\n[metrics]\n",
    );
    assert!(
        one.contains("groups: has 1 arms; expected from 2 to 26"),
        "{one}"
    );
    assert!(
        one.contains("the control group \"control\" is not among the groups"),
        "{one}"
    );
    let srm = problems(&format!(
        "{HEAD}[actual_groups]\ncontrol = 0.5\nother = 0.5\n[metrics]\n"
    ));
    assert!(srm.contains("actual_groups.treatment: is missing"), "{srm}");
    assert!(
        srm.contains("actual_groups.other: is not a group of `groups`"),
        "{srm}"
    );
}

#[test]
fn segments_are_checked_against_attributes_and_groups() {
    let got = problems(&format!(
        r#"{HEAD}
[attributes.device]
MOBILE = 1
COMPUTER = 1
[metrics.items]
distribution = "poisson"
control = {{ lambda = 1 }}
treatment = {{ lambda = 1 }}
[[metrics.items.segments]]
when = {{ device = "TABLET", region = "EUR" }}
treatment = {{ lambda = 2, shape = 3 }}
variant = {{ lambda = 2 }}
"#
    ));
    insta::assert_snapshot!(got);
}

#[test]
fn column_names_must_not_collide() {
    let got = problems(&format!(
        r#"{HEAD}
[attributes.items]
A = 1
[metrics.items]
distribution = "poisson"
control = {{ lambda = 1 }}
treatment = {{ lift = 0 }}
[metrics.pre_x]
distribution = "normal"
control = {{ mean = 0, sd = 1 }}
treatment = {{ mean = 0, sd = 1 }}
[metrics.x]
distribution = "normal"
pre_period = {{ correlation = 0.5 }}
control = {{ mean = 0, sd = 1 }}
treatment = {{ mean = 0, sd = 1 }}
"#
    ));
    assert!(
        got.contains("metrics.items: column \"items\" is already taken by attributes.items"),
        "{got}"
    );
    assert!(
        got.contains("metrics.x.pre_period: column \"pre_x\" is already taken by metrics.pre_x"),
        "{got}"
    );
}

#[test]
fn typos_get_a_suggestion() {
    let got = problems(&format!("custmers = 5\n{HEAD}[metrics]\n"));
    assert!(
        got.contains("custmers: unknown key (did you mean `customers`?)"),
        "{got}"
    );
}

#[test]
fn missing_arms_and_parameters_are_named() {
    let got = problems(&format!(
        "{HEAD}[metrics.price]\ndistribution = \"gamma\"\ncontrol = {{ shape = 2 }}\n"
    ));
    assert!(
        got.contains("metrics.price.control.scale: is missing; gamma needs shape and scale"),
        "{got}"
    );
    assert!(
        got.contains("metrics.price.treatment: is missing; every group needs parameters"),
        "{got}"
    );
}

#[test]
fn integer_metrics_need_whole_offsets() {
    let got = problems(&format!(
        "{HEAD}[metrics.n]\ndistribution = \"poisson\"\noffset = 0.5\ncontrol = {{ lambda = 1 }}\ntreatment = {{ lambda = 1 }}\n"
    ));
    assert!(got.contains("metrics.n.offset: 0.5 is not allowed; expected a whole number (the metric is an integer)"), "{got}");
}

#[test]
fn syntax_errors_are_one_problem() {
    let got = problems("id = \n");
    assert!(got.starts_with("1 problem\n  - TOML syntax:"), "{got}");
    let json = match Blueprint::from_json("{\"id\": ") {
        Err(Error::Invalid(p)) => p.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(json.contains("JSON syntax"), "{json}");
}

#[test]
fn impossible_lifts_fail_resolution_with_the_path() {
    let got = resolve_problems(&format!(
        "{HEAD}[metrics.c]\ndistribution = \"bernoulli\"\ncontrol = {{ p = 0.8 }}\ntreatment = {{ lift = 0.5 }}\n"
    ));
    assert!(
        got.contains("metrics.c.treatment: the lift needs a bernoulli mean of 1.2"),
        "{got}"
    );
    let got = resolve_problems(&format!(
        "{HEAD}[metrics.c]\ndistribution = \"poisson\"\ncontrol = {{ lift = 0.1 }}\ntreatment = {{ lambda = 1 }}\n"
    ));
    assert!(
        got.contains("metrics.c.control: the control group needs explicit parameters"),
        "{got}"
    );
}

#[test]
fn json_blueprints_follow_the_same_rules() {
    let got = match Blueprint::from_json(
        r#"{"id": "ok", "customers": 1e11, "start_date": "2026-01-01", "days": 1, "groups": {"a": 1, "b": 1}, "control_group": "a", "metrics": {}}"#,
    ) {
        Err(Error::Invalid(p)) => p.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(got.contains("customers: 100000000000.0 is not allowed; expected a whole number from 1 to 10000000000"), "{got}");
}
