//! Count metrics against statsmodels `test_poisson_2indep` (ratio and diff, score and wald).

use abforge_stats::{Hypothesis, MetricKind, RateCompare, RateMethod, poisson_rate};

use crate::common::{Case, Field, Tol, check, field, reference, report};

pub fn fields(case: &Case) -> Vec<Field> {
    if case.expected.get("poisson_rate").is_none() {
        return Vec::new();
    }
    let g = &case.analysis.groups;
    let (yt, yc) = (g.treatment.sum, g.control.sum);
    let (nt, nc) = (g.treatment.n as f64, g.control.n as f64);
    let p = case
        .analysis
        .tests
        .poisson_rate
        .expect("a count metric has the Poisson tests");
    let diff =
        |m| poisson_rate(yt, nt, yc, nc, RateCompare::Diff, m, &Hypothesis::default()).unwrap();
    let mut f = vec![
        field("poisson_rate/count_treatment", yt, Tol::Exact),
        field("poisson_rate/exposure_treatment", nt, Tol::Exact),
        field("poisson_rate/count_control", yc, Tol::Exact),
        field("poisson_rate/exposure_control", nc, Tol::Exact),
    ];
    for (name, r) in [
        ("ratio_score", p.score),
        ("ratio_wald", p.wald),
        ("diff_score", diff(RateMethod::Score)),
        ("diff_wald", diff(RateMethod::Wald)),
    ] {
        f.push(field(
            &format!("poisson_rate/{name}/statistic"),
            r.statistic,
            Tol::Stat,
        ));
        f.push(field(
            &format!("poisson_rate/{name}/pvalue"),
            r.p_value,
            Tol::P,
        ));
    }
    f
}

#[test]
fn reference_poisson() {
    let mut counted = 0;
    for case in &reference().cases {
        if case.expected.get("poisson_rate").is_some() {
            assert_eq!(case.analysis.kind, MetricKind::Count, "{}", case.name);
            assert_eq!(check(case, "poisson", &fields(case)), 12);
            counted += 1;
        }
    }
    assert!(counted > 0);
    report("poisson");
}
