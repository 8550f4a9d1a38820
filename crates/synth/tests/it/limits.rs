//! Bounded work: every blueprint's truth within its budget, or a problem naming the field
//! and the limit. No test here asserts a time: each bounds the work (the truth's budget)
//! and says which limit applies.

use abforge_synth::truth::{CELL_BUDGET, MAX_APPROX_ERROR, MAX_SUPPORT_END, TRUTH_BUDGET};
use abforge_synth::{Blueprint, Cancel, Error, Problem};
use std::fmt::Write;

fn blueprint(metrics: &str) -> Blueprint {
    let toml = format!(
        "id = \"t\"\ncustomers = 100\nstart_date = 2026-11-23\ndays = 7\n\
         [groups]\ncontrol = 1\ntreatment = 1\n{metrics}"
    );
    Blueprint::from_toml(&toml).unwrap_or_else(|e| panic!("{e}"))
}

fn two_arms(dist: &str, control: &str, treatment: &str) -> Blueprint {
    blueprint(&format!(
        "[metrics.m]\ndistribution = \"{dist}\"\ncontrol = {{ {control} }}\n\
         treatment = {{ {treatment} }}\n"
    ))
}

fn superiority(bp: &Blueprint) -> f64 {
    let truth = bp.resolve().unwrap_or_else(|e| panic!("{e}")).truth();
    truth.metrics[0].effects[0].prob_superiority.unwrap()
}

fn invalid(bp: &Blueprint) -> Vec<Problem> {
    match bp.resolve() {
        Err(Error::Invalid(p)) => p.0,
        Err(e) => panic!("expected a validation problem, got {e}"),
        Ok(_) => panic!("expected the blueprint to be refused"),
    }
}

/// Negative binomials of tiny `p` are nearly exponential (Gamma of shape r): with r = 1,
/// `P(T > C) → θ_T / (θ_T + θ_C)`. Before: 42 s at p = 1e-6 (3.7·10⁷ support points).
/// Now bracketed past `MAX_EXACT_SUPPORT`, within `MAX_APPROX_ERROR`.
#[test]
fn negative_binomials_of_small_p_are_bracketed() {
    let bp = two_arms(
        "negative_binomial",
        "r = 1.0, p = 1e-6",
        "r = 1.0, p = 5e-7",
    );
    let got = superiority(&bp);
    // The discrete law's correction to the exponential limit is O(p).
    let limit = 2.0 / 3.0;
    assert!(
        (got - limit).abs() < MAX_APPROX_ERROR + 1e-5,
        "{got} vs {limit}"
    );
}

/// p = 1e-9: before, no end in hours (3.7·10¹⁰ support points). Its support reaches past
/// `MAX_SUPPORT_END`, where statrs' CDF is no longer accurate to the bound: refused, naming
/// the arm and the limit. The same law in both arms needs no sum (½).
#[test]
fn negative_binomials_of_tiny_p_are_refused_unless_identical() {
    let bp = two_arms(
        "negative_binomial",
        "r = 1.0, p = 1e-9",
        "r = 1.0, p = 5e-10",
    );
    let problems = invalid(&bp);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "metrics.m.treatment");
    assert!(
        problems[0].message.contains(&MAX_SUPPORT_END.to_string()),
        "{}",
        problems[0]
    );
    let same = two_arms(
        "negative_binomial",
        "r = 1.0, p = 1e-9",
        "r = 1.0, p = 1e-9",
    );
    assert_eq!(superiority(&same), 0.5);
}

/// A Poisson of rate 1e12 has a support of 5·10⁷ points (sd 10⁶), each an inexact pmf at
/// that rate: a normal approximation instead, within its Berry–Esseen bound
/// 0.4748/√(2·10¹²) = 3.4e-7 of the exact value.
#[test]
fn huge_poisson_rates_use_the_normal_approximation() {
    // Before: 13 s, and 0.2391235 — 6.3e-4 off, from the rounding of statrs' pmf at this rate.
    let bp = two_arms("poisson", "lambda = 1e12", "lambda = 9.99999e11");
    let got = superiority(&bp);
    let z = -1e6 / (1.999999e12f64).sqrt();
    let normal = 0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2);
    assert!((got - normal).abs() < 1e-12, "{got} vs {normal}");
}

/// Segments over many attributes: before, the cells were an odometer over every value of
/// every attribute used (100⁶ = 10¹² combinations here). Values no `when` tells apart are
/// now one class (2 per attribute here: 2⁶ combinations at most).
#[test]
fn segment_cells_are_walked_by_classes() {
    let mut toml = String::new();
    for a in 0..6 {
        writeln!(toml, "[attributes.a{a}]").unwrap();
        for v in 0..100 {
            writeln!(toml, "v{v} = 1").unwrap();
        }
    }
    toml.push_str(
        "[metrics.m]\ndistribution = \"poisson\"\ncontrol = { lambda = 1 }\n\
         treatment = { lambda = 1 }\n[[metrics.m.segments]]\n",
    );
    let when: Vec<String> = (0..6).map(|a| format!("a{a} = \"v0\"")).collect();
    writeln!(
        toml,
        "when = {{ {} }}\ntreatment = {{ lambda = 2 }}",
        when.join(", ")
    )
    .unwrap();
    let truth = blueprint(&toml).resolve().unwrap().truth();
    let mean = truth.metrics[0].groups[1].mean;
    // One customer in 10¹² is in the segment (mean 2 instead of 1).
    assert!((mean - (1.0 + 1e-12)).abs() < 1e-15, "{mean}");
}

/// Segments whose cells the walk cannot tell apart early: segment i needs `a_i = x` and
/// `a29 = x`, so every combination of a0…a28 leaves a different set of segments waiting
/// for a29 — 2²⁹ branches (only 30 cells, but the walk by attribute order cannot know).
/// Refused at `CELL_BUDGET` steps, naming the metric's segments.
#[test]
fn too_many_segment_cells_are_refused() {
    let mut toml = String::new();
    for a in 0..30 {
        writeln!(toml, "[attributes.a{a}]\nx = 1\ny = 1").unwrap();
    }
    toml.push_str(
        "[metrics.m]\ndistribution = \"normal\"\ncontrol = { mean = 0, sd = 1 }\n\
         treatment = { mean = 0, sd = 1 }\n",
    );
    for a in 0..29 {
        writeln!(
            toml,
            "[[metrics.m.segments]]\nwhen = {{ a{a} = \"x\", a29 = \"x\" }}\n\
             treatment = {{ mean = {a} }}"
        )
        .unwrap();
    }
    let problems = invalid(&blueprint(&toml));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "metrics.m.segments");
    assert!(
        problems[0].message.contains(&CELL_BUDGET.to_string()),
        "{}",
        problems[0]
    );
}

/// Many segments, each its own law in both arms: (n + 1)² Mann–Whitney pairs of Poisson
/// sums, more than `TRUTH_BUDGET` evaluations — refused naming the metric.
#[test]
fn truths_past_the_budget_are_refused() {
    let mut toml = String::from("[attributes.a]\n");
    for v in 0..400 {
        writeln!(toml, "v{v} = 1").unwrap();
    }
    toml.push_str(
        "[metrics.m]\ndistribution = \"poisson\"\ncontrol = { lambda = 1e6 }\n\
         treatment = { lambda = 1.1e6 }\n",
    );
    for v in 0..400 {
        let l = 1e6 + f64::from(v);
        writeln!(
            toml,
            "[[metrics.m.segments]]\nwhen = {{ a = \"v{v}\" }}\ncontrol = {{ lambda = {l} }}\n\
             treatment = {{ lambda = {} }}",
            l + 1.0
        )
        .unwrap();
    }
    let problems = invalid(&blueprint(&toml));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "metrics.m");
    assert!(
        problems[0].message.contains(&TRUTH_BUDGET.to_string()),
        "{}",
        problems[0]
    );
}

/// A set flag stops the truth at its first check: `Error::Cancelled`, not a result.
#[test]
fn a_cancelled_resolution_stops() {
    let bp = two_arms(
        "negative_binomial",
        "r = 1.0, p = 1e-9",
        "r = 1.0, p = 5e-10",
    );
    let cancel = Cancel::new();
    cancel.cancel();
    assert!(matches!(
        bp.resolve_cancellable(&cancel),
        Err(Error::Cancelled)
    ));
}

#[test]
fn quantiles_of_laws_too_costly_to_evaluate_are_left_out() {
    // statrs' incomplete gamma sums about 8.5·√shape terms, and never ends past 2^52: these
    // shapes would take hours (or forever) per CDF value; the quantile budget stops them at
    // once, and the rest of the truth stands.
    for shape in ["1e12", "1e200"] {
        // The same law in both arms: the Mann–Whitney estimand is ½ without a CDF value.
        let law = format!("shape = {shape}, scale = 1");
        let bp = two_arms("gamma", &law, &law);
        let truth = bp.resolve().unwrap_or_else(|e| panic!("{e}")).truth();
        let m = &truth.metrics[0];
        assert!(
            m.groups.iter().all(|g| g.quantiles.is_empty()),
            "shape {shape}"
        );
        assert!(m.effects[0].quantile_effects.is_empty());
        assert!(m.effects[0].prob_superiority.is_some());
    }
    // A moderate shape keeps its quantiles.
    let bp = two_arms(
        "gamma",
        "shape = 1e4, scale = 1",
        "shape = 1e4, scale = 1.01",
    );
    let truth = bp.resolve().unwrap_or_else(|e| panic!("{e}")).truth();
    assert_eq!(truth.metrics[0].groups[0].quantiles.len(), 3);
}

#[test]
fn correlated_metrics_need_laws_whose_inverse_cdf_is_cheap() {
    let bp = blueprint(
        "[metrics.a]\ndistribution = \"gamma\"\ncontrol = { shape = 1e9, scale = 1 }\n\
         treatment = { shape = 1e9, scale = 1 }\n\
         [metrics.b]\ndistribution = \"normal\"\ncontrol = { mean = 0, sd = 1 }\n\
         treatment = { mean = 0, sd = 1 }\n\
         [[correlations]]\nmetrics = [\"a\", \"b\"]\nrho = 0.5\n",
    );
    let problems = invalid(&bp);
    assert_eq!(problems[0].path, "correlations", "{problems:?}");
    assert!(
        problems[0].message.contains("metric \"a\" has a gamma law"),
        "{problems:?}"
    );
}
