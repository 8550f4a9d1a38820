//! Welch's and Student's t-tests against scipy `ttest_ind` and the exact audit.

use abforge_stats::{Hypothesis, student_t, welch_t};

use crate::common::{Case, Field, Tol, check, field, reference, report};

pub fn fields(case: &Case) -> Vec<Field> {
    let t = &case.analysis.tests;
    let exact = if case.name == "identical_groups" {
        Tol::Exact
    } else {
        Tol::Stat
    };
    let p_tol = if case.name == "identical_groups" {
        Tol::Exact
    } else {
        Tol::P
    };
    let mut f = Vec::new();
    for (name, r) in [
        ("welch", t.welch_t.unwrap()),
        ("student", t.student_t.unwrap()),
    ] {
        f.push(field(&format!("{name}/statistic"), r.statistic, exact));
        f.push(field(&format!("{name}/df"), r.df, Tol::Stat));
        f.push(field(&format!("{name}/pvalue"), r.p_value, p_tol));
        f.push(field(&format!("{name}/ci95_low"), r.ci_low, Tol::Stat));
        f.push(field(&format!("{name}/ci95_high"), r.ci_high, Tol::Stat));
        f.push(field(
            &format!("exact_audit/{name}_statistic"),
            r.statistic,
            exact,
        ));
    }
    f.push(field(
        "exact_audit/welch_df",
        t.welch_t.unwrap().df,
        Tol::Stat,
    ));
    f
}

#[test]
fn reference_t_tests() {
    let mut n = 0;
    for case in &reference().cases {
        n += check(case, "ttest", &fields(case));
        // The direct calls agree with the analysis.
        let (t, c) = case.summaries();
        assert_eq!(
            welch_t(&t, &c, &Hypothesis::default()).unwrap(),
            case.analysis.tests.welch_t.unwrap()
        );
        assert_eq!(
            student_t(&t, &c, &Hypothesis::default()).unwrap(),
            case.analysis.tests.student_t.unwrap()
        );
    }
    assert!(n >= reference().cases.len() * 13);
    report("ttest");
}

/// One constant group: Welch's df is the other group's n − 1, as in scipy.
#[test]
fn zero_variance_control_has_df_n_minus_one() {
    let case = reference()
        .cases
        .iter()
        .find(|c| c.name == "zero_variance_control")
        .unwrap();
    let w = case.analysis.tests.welch_t.unwrap();
    assert!((w.df - (case.treatment.len() - 1) as f64).abs() < 1e-9);
}
