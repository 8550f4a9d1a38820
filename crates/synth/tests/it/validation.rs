//! Validation: every problem at once, each with its field path and what is allowed.

use abforge_synth::{Blueprint, Error, MAX_MESSAGE_LEN, MAX_PATH_LEN, MAX_PROBLEMS};
use std::fmt::Write;

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

/// 1 000 bad values: the first `MAX_PROBLEMS` listed, then one problem counting the rest.
#[test]
fn problems_are_capped_with_a_count_of_the_rest() {
    let mut toml = String::from("[attributes.a]\n");
    for v in 0..1000 {
        writeln!(toml, "v{v} = -1").unwrap();
    }
    let text = format!(
        "id = \"t\"\ncustomers = 100\nstart_date = 2026-11-23\ndays = 7\n\
         [groups]\ncontrol = 1\ntreatment = 1\n{toml}"
    );
    let Err(Error::Invalid(p)) = Blueprint::from_toml(&text) else {
        panic!("expected problems")
    };
    assert_eq!(p.0.len(), MAX_PROBLEMS + 1);
    let last = p.0.last().unwrap();
    assert_eq!(last.path, "");
    assert!(last.message.starts_with("and 900 more problems"), "{last}");
}

/// A bad `when` value against an attribute of 10 000 values: before, each such problem
/// listed all of them (≈ 90 kB); now a few, then "and N more", and every message and path
/// within its limit, however long the value sent.
#[test]
fn messages_are_bounded() {
    let mut toml = String::from("[attributes.a]\n");
    for v in 0..10_000 {
        writeln!(toml, "value_{v:05} = 1").unwrap();
    }
    let long = "z".repeat(100_000);
    toml.push_str(
        "[metrics.m]\ndistribution = \"poisson\"\ncontrol = { lambda = 1 }\n\
         treatment = { lambda = 1 }\n[[metrics.m.segments]]\n",
    );
    writeln!(
        toml,
        "when = {{ a = [\"nope\", \"{long}\"] }}\ntreatment = {{ lambda = 2 }}"
    )
    .unwrap();
    writeln!(toml, "[metrics.{long}]\ndistribution = \"poisson\"").unwrap();
    let text = format!(
        "id = \"{long}\"\ncustomers = 100\nstart_date = 2026-11-23\ndays = 7\n\
         [groups]\ncontrol = 1\ntreatment = 1\n{toml}"
    );
    let Err(Error::Invalid(p)) = Blueprint::from_toml(&text) else {
        panic!("expected problems")
    };
    for q in &p.0 {
        assert!(
            q.message.len() <= MAX_MESSAGE_LEN,
            "{} bytes",
            q.message.len()
        );
        assert!(q.path.len() <= MAX_PATH_LEN, "{} bytes", q.path.len());
    }
    let when =
        p.0.iter()
            .find(|q| q.message.starts_with("\"nope\" is not a value of a"))
            .unwrap_or_else(|| panic!("{p}"));
    assert!(
        when.message.ends_with("value_00007 and 9992 more"),
        "{}",
        when.message
    );
}

/// Group names and attribute values end up in column values, file and table names, log
/// lines and rendered templates: no control character (NUL included), no whitespace at
/// either end, no `{{`. Each refused with its path, by validation and by the JSON Schema.
#[test]
fn labels_are_printable_trimmed_and_not_templates() {
    let schema = jsonschema::draft202012::new(&abforge_synth::json_schema()).unwrap();
    let bad = [
        ("nul\0", "control character"),
        ("tab\there", "control character"),
        ("line\nbreak", "control character"),
        ("del\u{7f}", "control character"),
        (" lead", "whitespace"),
        ("trail ", "whitespace"),
        ("nbsp\u{a0}", "whitespace"),
        ("{{ name }}", "template marker"),
        ("a{{b", "template marker"),
    ];
    for (label, why) in bad {
        let doc = serde_json::json!({
            "id": "t", "customers": 10, "start_date": "2026-01-01", "days": 3,
            "groups": { "control": 1, label: 1 },
            "attributes": { "device": { "MOBILE": 1, label: 1 } },
            "metrics": { "m": { "distribution": "poisson", "control": { "lambda": 1 },
                                label: { "lift": 0.1 } } }
        });
        let Err(Error::Invalid(p)) = Blueprint::from_value(&doc) else {
            panic!("{label:?} should be refused");
        };
        let quoted = format!("{label:?}");
        for path in [
            format!("groups.{quoted}"),
            format!("attributes.device.{quoted}"),
        ] {
            let found = p.0.iter().find(|q| q.path == path);
            let q = found.unwrap_or_else(|| panic!("no problem at {path}: {p}"));
            assert!(q.message.contains(why), "{q}");
        }
        assert!(!schema.is_valid(&doc), "the schema takes {label:?}");
    }
    // Inner spaces, braces alone and non-ASCII are fine.
    for label in ["two words", "a{b}c", "café", "{", "}}"] {
        let doc = serde_json::json!({
            "id": "t", "customers": 10, "start_date": "2026-01-01", "days": 3,
            "groups": { "control": 1, label: 1 },
            "attributes": { "device": { label: 1 } },
            "metrics": { "m": { "distribution": "poisson", "control": { "lambda": 1 },
                                label: { "lift": 0.1 } } }
        });
        Blueprint::from_value(&doc).unwrap_or_else(|e| panic!("{label:?}: {e}"));
        assert!(schema.is_valid(&doc), "the schema refuses {label:?}");
    }
}

#[test]
fn quantile_probabilities_are_checked() {
    let metric = "[metrics.x]\ndistribution = \"normal\"\ncontrol = { mean = 0, sd = 1 }\n\
                  treatment = { mean = 0, sd = 1 }\n";
    for (list, path, says) in [
        ("[]", "quantiles", "has 0 entries"),
        (
            "0.5",
            "quantiles",
            "expected a list of 1 to 99 probabilities",
        ),
        ("[0.5, 1.0]", "quantiles[1]", "1 is not allowed"),
        ("[0, 0.5]", "quantiles[0]", "0 is not allowed"),
        ("[0.9, 0.5]", "quantiles[1]", "0.5 does not follow 0.9"),
        ("[0.5, 0.5]", "quantiles[1]", "0.5 does not follow 0.5"),
        ("[0.5, \"p90\"]", "quantiles[1]", "expected a number"),
    ] {
        let p = problems(&format!("quantiles = {list}\n{HEAD}{metric}"));
        assert!(p.contains(&format!("{path}: {says}")), "{list}: {p}");
    }
    let many: Vec<String> = (1..=100)
        .map(|i| format!("{}", f64::from(i) / 101.0))
        .collect();
    let p = problems(&format!(
        "quantiles = [{}]\n{HEAD}{metric}",
        many.join(", ")
    ));
    assert!(p.contains("quantiles: has 100 entries"), "{p}");
}

#[test]
fn correlations_are_checked() {
    let metrics = "[metrics.a]\ndistribution = \"normal\"\ncontrol = { mean = 0, sd = 1 }\n\
                   treatment = { mean = 0, sd = 1 }\n\
                   [metrics.b]\ndistribution = \"poisson\"\ncontrol = { lambda = 1 }\n\
                   treatment = { lambda = 1 }\n\
                   [metrics.c]\ndistribution = \"gamma\"\ncontrol = { shape = 1, scale = 1 }\n\
                   treatment = { shape = 1, scale = 1 }\n";
    let pair = |m: &str, rho: &str| format!("[[correlations]]\nmetrics = {m}\nrho = {rho}\n");
    for (list, says) in [
        (
            pair("[\"a\", \"z\"]", "0.5"),
            "correlations[0].metrics: \"z\" is not a metric of this blueprint; the metrics are a, b, c",
        ),
        (
            pair("[\"a\", \"a\"]", "0.5"),
            "correlations[0].metrics: names \"a\" twice",
        ),
        (
            pair("[\"a\"]", "0.5"),
            "correlations[0].metrics: expected two metric names",
        ),
        (
            pair("[\"a\", \"b\"]", "1"),
            "correlations[0].rho: 1 is not allowed; expected a number strictly between -1 and 1",
        ),
        (
            pair("[\"a\", \"b\"]", "0.2") + &pair("[\"b\", \"a\"]", "0.3"),
            "correlations[1]: b and a are paired twice",
        ),
        (
            pair("[\"a\", \"b\"]", "0.9")
                + &pair("[\"b\", \"c\"]", "0.9")
                + &pair("[\"a\", \"c\"]", "-0.9"),
            "correlations: together these correlations are not a correlation matrix",
        ),
        (
            "[[correlations]]\nmetrics = [\"a\", \"b\"]\n".to_string(),
            "correlations[0].rho: is missing",
        ),
        (
            "[[correlations]]\nmetrics = [\"a\", \"b\"]\nrho = 0.1\nweight = 2\n".to_string(),
            "correlations[0].weight: unknown key",
        ),
    ] {
        let p = problems(&format!("{HEAD}{metrics}{list}"));
        assert!(p.contains(says), "{list}: {p}");
    }
}

const TWO_METRICS: &str = "[metrics.a]\ndistribution = \"normal\"\ncontrol = { mean = 0, sd = 1 }\n\
    treatment = { mean = 0, sd = 1 }\n[metrics.b]\ndistribution = \"bernoulli\"\n\
    control = { p = 0.5 }\ntreatment = { lift = 0.5 }\n";

#[test]
fn clusters_are_checked() {
    for (table, says) in [
        (
            "[clusters]\nsize_cv = 1\n",
            "clusters.count: is missing; expected a whole number from 2 to 1000000",
        ),
        (
            "[clusters]\ncount = 1\n",
            "clusters.count: 1 is not allowed; expected a whole number from 2 to 1000000",
        ),
        (
            "[clusters]\ncount = 10\nsize_cv = 11\n",
            "clusters.size_cv: 11 is not allowed; expected a number from 0 to 10",
        ),
        (
            "[clusters]\ncount = 10\nassignment = \"store\"\n",
            "clusters.assignment: the string \"store\" is not allowed; expected \"cluster\"",
        ),
        (
            "[clusters]\ncount = 10\nicc = { z = 0.1 }\n",
            "clusters.icc.z: is not a metric of this blueprint; the metrics are a, b",
        ),
        (
            "[clusters]\ncount = 10\nicc = { a = 0.6 }\n",
            "clusters.icc.a: 0.6 is not allowed; expected a number from 0 to 0.5",
        ),
        (
            "[clusters]\ncount = 10\nseats = 3\n",
            "clusters.seats: unknown key",
        ),
        (
            "[[correlations]]\nmetrics = [\"a\", \"b\"]\nrho = 0.2\n[clusters]\ncount = 10\nicc = { a = 0.1 }\n",
            "clusters.icc.a: the metric is also in `correlations`",
        ),
    ] {
        let p = problems(&format!("{HEAD}{TWO_METRICS}{table}"));
        assert!(p.contains(says), "{table}: {p}");
    }
    let taken =
        format!("{HEAD}[attributes.cluster_id]\nx = 1\n{TWO_METRICS}[clusters]\ncount = 4\n");
    assert!(problems(&taken).contains("clusters: adds the column \"cluster_id\""));
    // Three clusters over two groups: with this seed, one group draws none.
    let few = (0..50)
        .map(|seed| {
            format!(
                "{}{TWO_METRICS}[clusters]\ncount = 2\n",
                HEAD.replace("id = \"t\"", &format!("id = \"t\"\nseed = {seed}"))
            )
        })
        .find(|t| Blueprint::from_toml(t).unwrap().resolve().is_err())
        .expect("some seed leaves a group without a cluster");
    assert!(
        resolve_problems(&few)
            .contains("clusters.count: with 2 clusters randomised by cluster, group")
    );
}

#[test]
fn time_is_checked() {
    for (table, says) in [
        (
            "[time]\nweekdays = { mon = 0 }\n",
            "time.weekdays.mon: 0 is not allowed; expected a weight above 0",
        ),
        (
            "[time]\nweekdays = { monday = 1 }\n",
            "time.weekdays.monday: unknown key",
        ),
        (
            "[time]\nnovelty = { boost = 1 }\n",
            "time.novelty.half_life: is missing; expected days",
        ),
        (
            "[time]\nnovelty = { boost = -2, half_life = 3 }\n",
            "time.novelty.boost: -2 is not allowed; expected a number from -1 to 100",
        ),
        (
            "[time]\nramp = { days = 0 }\n",
            "time.ramp.days: 0 is not allowed; expected a whole number from 1 to 366",
        ),
        (
            "[time]\nramp = { days = 3 }\nnovelty = { boost = 1, half_life = 3 }\n",
            "time: has both `novelty` and `ramp`",
        ),
    ] {
        let p = problems(&format!("{HEAD}{TWO_METRICS}{table}"));
        assert!(p.contains(says), "{table}: {p}");
    }
    let long = HEAD.replace("days = 7", "days = 400");
    assert!(
        problems(&format!(
            "{long}{TWO_METRICS}[time]\nramp = {{ days = 3 }}\n"
        ))
        .contains("time: an effect that changes with time takes a run of at most 366 days")
    );
    // A novelty that triples the effect asks the Bernoulli for p = 0.5·(1 + 3·0.5) > 1.
    let p = resolve_problems(&format!(
        "{HEAD}{TWO_METRICS}[time]\nnovelty = {{ boost = 2, half_life = 1 }}\n"
    ));
    assert!(p.contains("time: on day 0 the effect is 3 times the blueprint's, and metric \"b\" in group \"treatment\" cannot have that mean"), "{p}");
}
