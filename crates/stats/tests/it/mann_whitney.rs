//! Mann–Whitney U against scipy `mannwhitneyu` (asymptotic with continuity correction, and
//! exact for `tiny_groups`).

use abforge_stats::{MannWhitneyMethod, MannWhitneyOptions, mann_whitney_u, mann_whitney_u_sorted};

use crate::common::{Case, Field, Tol, check, field, reference, report};

pub fn fields(case: &Case) -> Vec<Field> {
    let mw = case.analysis.tests.mann_whitney_u.unwrap();
    let r = mw.result;
    let p_tol = if case.name == "identical_groups" {
        Tol::Exact
    } else {
        Tol::P
    };
    let mut f = vec![
        field("mann_whitney/U_treatment", r.u_treatment, Tol::Exact),
        field("mann_whitney/U_control", r.u_control, Tol::Exact),
        field("mann_whitney/pvalue_asymptotic_cc", r.p_value, p_tol),
        field(
            "mann_whitney/prob_superiority",
            r.prob_superiority,
            Tol::Stat,
        ),
    ];
    if let Some(p) = mw.p_value_exact {
        f.push(field("mann_whitney/pvalue_exact", p, Tol::P));
    }
    f
}

#[test]
fn reference_mann_whitney() {
    let mut n = 0;
    let asym = MannWhitneyOptions::with_method(MannWhitneyMethod::Asymptotic);
    for case in &reference().cases {
        n += check(case, "mann_whitney", &fields(case));
        // The direct call (sort + merge) agrees with the analysis (which ranks counts by
        // histogram), and so does the pre-sorted variant.
        let direct = mann_whitney_u(&case.treatment, &case.control, &asym).unwrap();
        assert_eq!(
            direct,
            case.analysis.tests.mann_whitney_u.unwrap().result,
            "{}",
            case.name
        );
        let (mut t, mut c) = (case.treatment.clone(), case.control.clone());
        t.sort_by(f64::total_cmp);
        c.sort_by(f64::total_cmp);
        assert_eq!(mann_whitney_u_sorted(&t, &c, &asym).unwrap(), direct);
        if case.get("mann_whitney/pvalue_exact").is_some() {
            let exact = MannWhitneyOptions::with_method(MannWhitneyMethod::Exact);
            let e = mann_whitney_u(&case.treatment, &case.control, &exact).unwrap();
            check(
                case,
                "mann_whitney",
                &[field("mann_whitney/pvalue_exact", e.p_value, Tol::P)],
            );
        }
    }
    assert!(n >= reference().cases.len() * 4);
    report("mann_whitney");
}
