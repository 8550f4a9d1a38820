//! The JSON of `analyze_metric`: the documented shape, which tests apply to which kind, and
//! consistency with the reference.

use abforge_stats::{AnalyzeOptions, Hypothesis, MetricKind, analyze_metric};
use serde_json::Value;

use crate::common::reference;

fn json_of(name: &str) -> Value {
    let case = reference().cases.iter().find(|c| c.name == name).unwrap();
    serde_json::to_value(&case.analysis).unwrap()
}

fn has(v: &Value, path: &str) -> bool {
    crate::common::lookup(v, path).is_some_and(|x| !x.is_null())
}

#[test]
fn count_metric_json_has_the_documented_fields() {
    let j = json_of("poisson_lift");
    assert_eq!(j["metric"], "poisson_lift");
    assert_eq!(j["kind"], "count");
    for path in [
        "groups/control/n",
        "groups/control/mean",
        "groups/control/variance",
        "groups/treatment/n",
        "groups/treatment/mean",
        "groups/treatment/variance",
        "tests/welch_t/statistic",
        "tests/welch_t/df",
        "tests/welch_t/p_value",
        "tests/welch_t/ci_low",
        "tests/welch_t/ci_high",
        "tests/student_t/statistic",
        "tests/student_t/df",
        "tests/student_t/p_value",
        "tests/mann_whitney_u/u_treatment",
        "tests/mann_whitney_u/p_value",
        "tests/poisson_rate/rate_ratio",
        "tests/poisson_rate/score/statistic",
        "tests/poisson_rate/score/p_value",
        "tests/poisson_rate/wald/statistic",
        "tests/poisson_rate/wald/p_value",
        "tests/relative_lift/estimate",
    ] {
        assert!(has(&j, path), "missing {path} in {j:#}");
    }
    assert_eq!(j["groups"]["control"]["n"], 1000);
    assert!(j["groups"]["treatment"]["n"].is_u64());
    for absent in ["two_proportion_z", "chi_square", "fisher_exact"] {
        assert!(
            j["tests"].get(absent).is_none(),
            "{absent} should be absent"
        );
    }
    assert!(j.get("errors").is_none());
}

#[test]
fn binary_and_continuous_metrics() {
    let b = json_of("bernoulli_rare");
    assert_eq!(b["kind"], "binary");
    for path in [
        "tests/two_proportion_z/statistic",
        "tests/two_proportion_z/p_value",
        "tests/chi_square/statistic",
        "tests/chi_square/p_value",
        "tests/chi_square/yates_statistic",
        "tests/chi_square/yates_p_value",
        "tests/fisher_exact/p_value",
    ] {
        assert!(has(&b, path), "missing {path}");
    }
    assert!(b["tests"].get("poisson_rate").is_none());
    let c = json_of("gamma_lift");
    assert_eq!(c["kind"], "continuous");
    for absent in [
        "two_proportion_z",
        "chi_square",
        "fisher_exact",
        "poisson_rate",
    ] {
        assert!(c["tests"].get(absent).is_none());
    }
    // Tiny groups without ties also carry scipy's exact p-value.
    let t = json_of("tiny_groups");
    assert_eq!(t["tests"]["mann_whitney_u"]["p_value_exact"], 0.2);
}

#[test]
fn kinds_follow_the_values() {
    for case in &reference().cases {
        let want = match case.expected["kind"].as_str().unwrap() {
            "binary" => MetricKind::Binary,
            // Ordinal {0, 1, 2} values are non-negative integers: a count metric here.
            "count" | "ordinal" => MetricKind::Count,
            _ => MetricKind::Continuous,
        };
        assert_eq!(case.analysis.kind, want, "{}", case.name);
    }
}

#[test]
fn one_sided_bounds_serialise_as_null() {
    let case = reference()
        .cases
        .iter()
        .find(|c| c.name == "gamma_lift")
        .unwrap();
    let opts = AnalyzeOptions {
        hypothesis: Hypothesis::non_inferiority(1.0, 0.025),
        ..AnalyzeOptions::default()
    };
    let a = analyze_metric("m", &case.control, &case.treatment, &opts).unwrap();
    let j = serde_json::to_value(&a).unwrap();
    assert!(j["tests"]["welch_t"]["ci_high"].is_null());
    assert!(j["tests"]["welch_t"]["ci_low"].is_f64());
    assert_eq!(j["tests"]["welch_t"]["alternative"], "greater");
    assert_eq!(j["tests"]["welch_t"]["null"], -1.0);
    // The non-inferiority p-value is smaller than the superiority one.
    let plain = case.analysis.tests.welch_t.unwrap();
    assert!(a.tests.welch_t.unwrap().p_value < plain.p_value / 2.0);
}

#[test]
fn degenerate_metrics_are_defined() {
    let o = AnalyzeOptions::default();
    // Nobody converted anywhere.
    let a = analyze_metric("none", &[0.0; 50], &[0.0; 40], &o).unwrap();
    let t = &a.tests;
    assert_eq!(t.welch_t.unwrap().p_value, 1.0);
    assert_eq!(t.two_proportion_z.unwrap().p_value, 1.0);
    assert_eq!(t.chi_square.unwrap().p_value, 1.0);
    assert_eq!(t.fisher_exact.unwrap().p_value, 1.0);
    assert_eq!(t.mann_whitney_u.unwrap().result.p_value, 1.0);
    assert!(a.errors.contains_key("relative_lift"));
    // Two different constants: the t-tests are infinite, the rank and exact tests are fine.
    let a = analyze_metric("const", &[1.0; 30], &[2.0; 30], &o).unwrap();
    assert!(a.errors.contains_key("welch_t") && a.errors.contains_key("student_t"));
    assert!(a.tests.mann_whitney_u.unwrap().result.p_value < 1e-3);
    assert!(a.tests.poisson_rate.unwrap().score.p_value < 0.05);
    // Two observations per group still work.
    let a = analyze_metric("n2", &[1.5, 2.5], &[3.0, 4.5], &o).unwrap();
    assert!(a.tests.welch_t.is_some() && a.tests.confidence_sequence.is_some());
    // But for the median test, whose bracketing order statistics need more.
    let errors: Vec<&str> = a.errors.keys().map(String::as_str).collect();
    assert_eq!(errors, ["quantile_median"], "{:?}", a.errors);
}
