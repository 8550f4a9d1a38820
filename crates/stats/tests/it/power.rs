//! Power against statsmodels `TTestIndPower` (observed power and `solve_power`).

use abforge_stats::{PowerOptions, TTestIndPower, cohens_d};

use crate::common::{Case, Field, Tol, check, field, reference, report};

const EFFECTS: [&str; 3] = ["0.1", "0.2", "0.5"];

pub fn fields(case: &Case) -> Vec<Field> {
    let (t, c) = case.summaries();
    let d = cohens_d(&t, &c).unwrap();
    let ratio = c.n as f64 / t.n as f64;
    let opts = PowerOptions {
        ratio,
        ..PowerOptions::default()
    };
    let mut f = vec![
        field("power/cohens_d_pooled", d, Tol::Stat),
        field("power/nobs1_treatment", t.n as f64, Tol::Exact),
        field("power/ratio_control_over_treatment", ratio, Tol::Stat),
        field(
            "power/observed_power",
            TTestIndPower.power(d, t.n as f64, &opts).unwrap(),
            Tol::P,
        ),
    ];
    for e in EFFECTS {
        let n1 = TTestIndPower
            .solve_nobs1(e.parse().unwrap(), 0.8, &opts)
            .unwrap();
        let base = format!("power/required_n_80pct_power_this_allocation/{e}");
        f.push(field(&format!("{base}/nobs_treatment"), n1, Tol::Solve));
        f.push(field(
            &format!("{base}/nobs_control"),
            n1 * ratio,
            Tol::Solve,
        ));
        f.push(field(
            &format!("{base}/nobs_treatment_ceil"),
            n1.ceil(),
            Tol::Exact,
        ));
        f.push(field(
            &format!("{base}/nobs_control_ceil"),
            (n1 * ratio).ceil(),
            Tol::Exact,
        ));
    }
    f
}

#[test]
fn reference_power() {
    let mut n = 0;
    for case in &reference().cases {
        n += check(case, "power", &fields(case));
    }
    assert_eq!(n, reference().cases.len() * 16);
    report("power");
}

#[test]
fn reference_equal_allocation() {
    let top = &reference().root["power_reference_equal_allocation"];
    let top = top.as_object().expect("power_reference_equal_allocation");
    assert_eq!(top.len(), 3);
    for (e, want) in top {
        let n = TTestIndPower
            .solve_nobs1(e.parse().unwrap(), 0.8, &PowerOptions::default())
            .unwrap();
        let exact = want["nobs_per_group"].as_f64().unwrap();
        assert!(
            ((n - exact) / exact).abs() < 1e-6,
            "d = {e}: {n} vs {exact}"
        );
        assert_eq!(n.ceil(), want["nobs_per_group_ceil"].as_f64().unwrap());
    }
}
