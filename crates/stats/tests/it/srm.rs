//! Sample-ratio mismatch against scipy `chisquare([n_c, n_t], f_exp=[N/2, N/2])`.

use abforge_stats::srm;

use crate::common::{Case, Field, Tol, check, field, reference, report};

pub fn fields(case: &Case) -> Vec<Field> {
    assert_eq!(
        case.expected["srm"]["expected_split"], "50/50",
        "{}",
        case.name
    );
    let r = srm(
        &[case.control.len() as u64, case.treatment.len() as u64],
        &[1.0, 1.0],
    )
    .unwrap();
    vec![
        field("srm/statistic", r.statistic, Tol::Stat),
        field("srm/pvalue", r.p_value, Tol::P),
    ]
}

#[test]
fn reference_srm() {
    let mut n = 0;
    for case in &reference().cases {
        n += check(case, "srm", &fields(case));
    }
    assert_eq!(n, 2 * reference().cases.len());
    report("srm");
}
