//! Binary metrics against statsmodels `proportions_ztest` and scipy `chi2_contingency` and
//! `fisher_exact`.

use abforge_stats::{Alternative, Hypothesis, MetricKind, fisher_exact};

use crate::common::{Case, Field, Tol, check, field, reference, report};

pub fn fields(case: &Case) -> Vec<Field> {
    if case.analysis.kind != MetricKind::Binary {
        return Vec::new();
    }
    let t = &case.analysis.tests;
    let g = &case.analysis.groups;
    let (xt, xc) = (g.treatment.sum, g.control.sum);
    let (nt, nc) = (g.treatment.n as f64, g.control.n as f64);
    let z = t.two_proportion_z.unwrap();
    let chi = t.chi_square.unwrap();
    let fisher = t.fisher_exact.unwrap();
    vec![
        field("binary/successes_treatment", xt, Tol::Exact),
        field("binary/successes_control", xc, Tol::Exact),
        field("binary/table_2x2/0/0", xt, Tol::Exact),
        field("binary/table_2x2/0/1", nt - xt, Tol::Exact),
        field("binary/table_2x2/1/0", xc, Tol::Exact),
        field("binary/table_2x2/1/1", nc - xc, Tol::Exact),
        field(
            "binary/proportions_ztest_pooled/statistic",
            z.statistic,
            Tol::Stat,
        ),
        field("binary/proportions_ztest_pooled/pvalue", z.p_value, Tol::P),
        field(
            "binary/chi2_no_correction/statistic",
            chi.statistic,
            Tol::Stat,
        ),
        field("binary/chi2_no_correction/pvalue", chi.p_value, Tol::P),
        field("binary/chi2_no_correction/dof", chi.df as f64, Tol::Exact),
        field(
            "binary/chi2_yates/statistic",
            chi.yates_statistic,
            Tol::Stat,
        ),
        field("binary/chi2_yates/pvalue", chi.yates_p_value, Tol::P),
        field("binary/chi2_yates/dof", chi.df as f64, Tol::Exact),
        field(
            "binary/fisher_exact/odds_ratio",
            fisher.odds_ratio,
            Tol::Stat,
        ),
        field("binary/fisher_exact/pvalue", fisher.p_value, Tol::P),
    ]
}

#[test]
fn reference_proportions() {
    let mut binary = 0;
    for case in &reference().cases {
        if case.expected.get("binary").is_some() {
            assert_eq!(case.analysis.kind, MetricKind::Binary, "{}", case.name);
            assert_eq!(check(case, "proportions", &fields(case)), 16);
            binary += 1;
        }
    }
    assert!(binary > 0);
    report("proportions");
}

/// The one-sided Fisher p-values of a table add up to 1 + P(observed table).
#[test]
fn fisher_one_sided_tails_overlap_by_the_observed_table() {
    for case in &reference().cases {
        if case.analysis.kind != MetricKind::Binary {
            continue;
        }
        let g = &case.analysis.groups;
        let (xt, xc) = (g.treatment.sum as u64, g.control.sum as u64);
        let (nt, nc) = (g.treatment.n, g.control.n);
        let p = |alt| {
            fisher_exact(xt, nt, xc, nc, &Hypothesis::one_sided(alt, 0.05))
                .unwrap()
                .p_value
        };
        let (less, greater) = (p(Alternative::Less), p(Alternative::Greater));
        assert!(
            less + greater >= 1.0 && less + greater < 1.5,
            "{}",
            case.name
        );
    }
}
