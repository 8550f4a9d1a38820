//! The generator's rows against the ground truth: per-group means and variances of every
//! column, effects, the realised split, segment cells and pre-period twins.

use crate::common::{
    Summary, assert_close, assert_within, check_moments, correlation, generate, metric, mixture,
    zero_inflated,
};
use abforge_synth::Truth;

/// Customers per scenario.
const CUSTOMERS: u64 = 200_000;

fn header(id: &str, seed: u64) -> String {
    format!(
        "id = \"{id}\"\nseed = {seed}\ncustomers = {CUSTOMERS}\nstart_date = 2026-11-23\ndays = 7\n"
    )
}

/// The truth's mean and variance of `col` in `group`.
fn truth_of(truth: &Truth, col: &str, group: &str) -> (f64, f64) {
    let g = metric(truth, col)
        .groups
        .iter()
        .find(|g| g.group == group)
        .expect("group");
    (g.mean, g.variance)
}

#[track_caller]
fn assert_truth(truth: &Truth, col: &str, group: &str, want: (f64, f64)) {
    let got = truth_of(truth, col, group);
    assert_close(
        &format!("true mean of {col} in {group}"),
        got.0,
        want.0,
        1e-9,
    );
    assert_close(
        &format!("true variance of {col} in {group}"),
        got.1,
        want.1,
        1e-9,
    );
}

#[test]
fn zero_inflation_and_offset() {
    let toml = header("fit-zi-offset", 101)
        + r#"
[groups]
control = 1
treatment = 1

[metrics.items]
distribution = "poisson"
offset = 1
zero_inflation = 0.25
control = { lambda = 2.5 }
treatment = { lambda = 3.0 }

[metrics.revenue]
distribution = "gamma"
offset = 5
zero_inflation = 0.4
control = { shape = 1.5, scale = 10 }
treatment = { shape = 1.8, scale = 10 }

[metrics.orders]
distribution = "negative_binomial"
offset = 2
zero_inflation = 0.5
control = { r = 2.5, p = 0.3 }
treatment = { r = 0.7, p = 0.2 }

[metrics.basket]
distribution = "lognormal"
offset = -1.5
zero_inflation = 0.3
control = { mu = 1.0, sigma = 0.5 }
treatment = { mu = 1.1, sigma = 0.4 }

[metrics.score]
distribution = "normal"
offset = 3
zero_inflation = 0.1
control = { mean = -2, sd = 1.5 }
treatment = { mean = 0, sd = 1 }

[metrics.converted]
distribution = "bernoulli"
offset = 1
zero_inflation = 0.2
control = { p = 0.03 }
treatment = { p = 0.05 }
"#;
    let (truth, rows) = generate(&toml);
    let ln = |mu: f64, s: f64| {
        (
            (mu + s * s / 2.0).exp(),
            (s * s).exp_m1() * (2.0 * mu + s * s).exp(),
        )
    };
    // (column, zero-inflation, offset, [(group, base mean, base variance)]).
    let cases = [
        (
            "items",
            0.25,
            1.0,
            [("control", 2.5, 2.5), ("treatment", 3.0, 3.0)],
        ),
        (
            "revenue",
            0.4,
            5.0,
            [("control", 15.0, 150.0), ("treatment", 18.0, 180.0)],
        ),
        (
            "orders",
            0.5,
            2.0,
            [
                ("control", 2.5 * 0.7 / 0.3, 2.5 * 0.7 / 0.09),
                ("treatment", 0.7 * 0.8 / 0.2, 0.7 * 0.8 / 0.04),
            ],
        ),
        (
            "basket",
            0.3,
            -1.5,
            [
                ("control", ln(1.0, 0.5).0, ln(1.0, 0.5).1),
                ("treatment", ln(1.1, 0.4).0, ln(1.1, 0.4).1),
            ],
        ),
        (
            "score",
            0.1,
            3.0,
            [("control", -2.0, 2.25), ("treatment", 0.0, 1.0)],
        ),
        (
            "converted",
            0.2,
            1.0,
            [
                ("control", 0.03, 0.03 * 0.97),
                ("treatment", 0.05, 0.05 * 0.95),
            ],
        ),
    ];
    for (col, zi, offset, arms) in cases {
        for (g, m, v) in arms {
            assert_truth(&truth, col, g, zero_inflated(zi, offset, m, v));
            // Zeros are structural only (no base value plus offset is exactly 0 here), and
            // every other value is at least the offset for the non-negative families.
            let x = rows.select(col, rows.group_index(g), None);
            let zeros = x.iter().filter(|v| **v == 0.0).count() as f64;
            let n = x.len() as f64;
            assert_within(
                &format!("share of zeros of {col} in {g}"),
                zeros / n,
                zi,
                (zi * (1.0 - zi) / n).sqrt(),
            );
            if !matches!(col, "basket" | "score") {
                assert!(
                    x.iter().all(|v| *v == 0.0 || *v >= offset),
                    "{col} in {g}: a value below the offset"
                );
            }
        }
    }
    check_moments(&truth, &rows);
}

#[test]
fn segment_effects_mix_over_segments() {
    let toml = header("fit-segments", 202)
        + r#"
[groups]
control = 0.5
treatment = 0.5

[attributes.device]
MOBILE = 0.4
COMPUTER = 0.6

[attributes.region]
EUR = 2
NAM = 1
ASA = 1

[metrics.items]
distribution = "poisson"
offset = 1
control = { lambda = 2.0 }
treatment = { lambda = 2.0 }

[[metrics.items.segments]]
when = { device = "MOBILE" }
treatment = { lambda = 2.5 }

[[metrics.items.segments]]
when = { device = ["MOBILE", "COMPUTER"], region = ["NAM", "ASA"] }
control = { lambda = 1.0 }
treatment = { lift = 0.5 }

[metrics.revenue]
distribution = "gamma"
zero_inflation = 0.2
pre_period = { correlation = 0.6 }
control = { shape = 2, scale = 10 }
treatment = { lift = 0.02 }

[[metrics.revenue.segments]]
when = { region = "EUR", device = "COMPUTER" }
control = { scale = 20 }
treatment = { shape = 3 }
"#;
    let (truth, rows) = generate(&toml);
    let pois = |l: f64| (l + 1.0, l);
    // items: MOBILE (0.4) is segment 0 even in NAM/ASA (the first match wins); COMPUTER in
    // NAM/ASA (0.3) is segment 1, where the lift of 50 % on a mean of 2 gives lambda 2;
    // COMPUTER in EUR (0.3) is the base.
    let cells_items = [
        (
            "control",
            [(0.4, pois(2.0)), (0.3, pois(1.0)), (0.3, pois(2.0))],
        ),
        (
            "treatment",
            [(0.4, pois(2.5)), (0.3, pois(2.0)), (0.3, pois(2.0))],
        ),
    ];
    for (g, cells) in cells_items {
        let parts: Vec<(f64, f64, f64)> = cells.iter().map(|(w, (m, v))| (*w, *m, *v)).collect();
        assert_truth(&truth, "items", g, mixture(&parts));
    }
    // revenue: the treatment's base is the lifted control, gamma(2, 10.2); in the segment
    // (COMPUTER in EUR, 0.3) the control is gamma(2, 20), the treatment gamma(3, 10.2).
    let gamma = |k: f64, s: f64| zero_inflated(0.2, 0.0, k * s, k * s * s);
    let cells_revenue = [
        (
            "control",
            [(0.3, gamma(2.0, 20.0)), (0.7, gamma(2.0, 10.0))],
        ),
        (
            "treatment",
            [(0.3, gamma(3.0, 10.2)), (0.7, gamma(2.0, 10.2))],
        ),
    ];
    for (g, cells) in cells_revenue {
        let parts: Vec<(f64, f64, f64)> = cells.iter().map(|(w, (m, v))| (*w, *m, *v)).collect();
        assert_truth(&truth, "revenue", g, mixture(&parts));
    }
    // The pre-period twin has the control's mixture in every group.
    let ctrl = truth_of(&truth, "revenue", "control");
    for g in ["control", "treatment"] {
        assert_truth(&truth, "pre_revenue", g, ctrl);
    }
    check_moments(&truth, &rows);

    // Cell by cell: the realised split of the attributes and the law in each cell.
    let mobile = rows.attr("device").is_in(&["MOBILE"]);
    let computer = rows.attr("device").is_in(&["COMPUTER"]);
    let eur = rows.attr("region").is_in(&["EUR"]);
    let n = rows.len() as f64;
    let share = |k: &[bool]| k.iter().filter(|b| **b).count() as f64 / n;
    assert_within("share of MOBILE", share(&mobile), 0.4, (0.24 / n).sqrt());
    assert_within("share of EUR", share(&eur), 0.5, (0.25 / n).sqrt());
    // items: segment 0 is MOBILE, segment 1 COMPUTER outside EUR, the base COMPUTER in EUR.
    let comp_other: Vec<bool> = computer.iter().zip(&eur).map(|(c, e)| *c && !*e).collect();
    let comp_eur: Vec<bool> = computer.iter().zip(&eur).map(|(c, e)| *c && *e).collect();
    // revenue: the segment is COMPUTER in EUR, the base everything else.
    let not_comp_eur: Vec<bool> = comp_eur.iter().map(|b| !*b).collect();
    for (g, gi) in [("control", 0), ("treatment", 1)] {
        for (ci, keep) in [&mobile, &comp_other, &comp_eur].into_iter().enumerate() {
            let (m, v) = cells_items[gi].1[ci].1;
            let s = Summary::of(&rows.select("items", gi, Some(keep)));
            assert_within(
                &format!("mean of items in {g}, cell {ci}"),
                s.mean,
                m,
                s.se_mean(),
            );
            assert_within(
                &format!("variance of items in {g}, cell {ci}"),
                s.var,
                v,
                s.se_var(),
            );
        }
        for (ci, keep) in [&comp_eur, &not_comp_eur].into_iter().enumerate() {
            let (m, v) = cells_revenue[gi].1[ci].1;
            let y = rows.select("revenue", gi, Some(keep));
            let s = Summary::of(&y);
            assert_within(
                &format!("mean of revenue in {g}, cell {ci}"),
                s.mean,
                m,
                s.se_mean(),
            );
            assert_within(
                &format!("variance of revenue in {g}, cell {ci}"),
                s.var,
                v,
                s.se_var(),
            );
            // Within a cell the twin correlates with the metric at exactly rho...
            let pre = rows.select("pre_revenue", gi, Some(keep));
            let (r, se) = correlation(&y, &pre);
            assert_within(
                &format!("correlation of pre_revenue in {g}, cell {ci}"),
                r,
                0.6,
                se,
            );
            // ...and follows the control's law of that cell.
            let (mc, vc) = cells_revenue[0].1[ci].1;
            let s = Summary::of(&pre);
            assert_within(
                &format!("mean of pre_revenue in {g}, cell {ci}"),
                s.mean,
                mc,
                s.se_mean(),
            );
            assert_within(
                &format!("variance of pre_revenue in {g}, cell {ci}"),
                s.var,
                vc,
                s.se_var(),
            );
        }
    }
}

/// Relative effect of `t` against `c` and its delta-method standard error.
fn relative(t: &Summary, c: &Summary) -> (f64, f64) {
    let ratio = t.mean / c.mean;
    let se = ratio * ((t.se_mean() / t.mean).powi(2) + (c.se_mean() / c.mean).powi(2)).sqrt();
    (ratio - 1.0, se)
}

#[test]
fn lifts_are_realised() {
    let toml = header("fit-lifts", 303)
        + r#"
[groups]
control = 1
small = 1
big = 1

[metrics.revenue]
distribution = "gamma"
zero_inflation = 0.3
control = { shape = 2, scale = 10 }
small = { lift = 0.05 }
big = { lift = 0.2 }

[metrics.score]
distribution = "normal"
offset = 10
zero_inflation = 0.05
control = { mean = 50, sd = 20 }
small = { lift_abs = 0.5 }
big = { lift_abs = -3 }

[metrics.orders]
distribution = "negative_binomial"
zero_inflation = 0.5
offset = 1
control = { r = 2, p = 0.5 }
small = { lift = 0.1 }
big = { lift = -0.3 }

[metrics.basket]
distribution = "lognormal"
offset = 2
control = { mu = 3, sigma = 0.8 }
small = { lift = 0.1 }
big = { lift_abs = 4 }

[metrics.items]
distribution = "poisson"
offset = 1
control = { lambda = 2.5 }
small = { lift = 0.1 }
big = { lift = 0 }

[metrics.converted]
distribution = "bernoulli"
control = { p = 0.04 }
small = { lift = 0.25 }
big = { lift_abs = 0.02 }
"#;
    let (truth, rows) = generate(&toml);
    check_moments(&truth, &rows);
    // (column, arm, relative lift or None, absolute lift or None).
    let cases: [(&str, &str, Option<f64>, Option<f64>); 12] = [
        ("revenue", "small", Some(0.05), None),
        ("revenue", "big", Some(0.2), None),
        ("score", "small", None, Some(0.5)),
        ("score", "big", None, Some(-3.0)),
        ("orders", "small", Some(0.1), None),
        ("orders", "big", Some(-0.3), None),
        ("basket", "small", Some(0.1), None),
        ("basket", "big", None, Some(4.0)),
        ("items", "small", Some(0.1), None),
        ("items", "big", Some(0.0), Some(0.0)),
        ("converted", "small", Some(0.25), None),
        ("converted", "big", None, Some(0.02)),
    ];
    for (col, arm, rel, abs) in cases {
        let m = metric(&truth, col);
        let e = m.effects.iter().find(|e| e.group == arm).expect("effect");
        assert_eq!(e.control, "control");
        let c = Summary::of(&rows.select(col, rows.group_index("control"), None));
        let t = Summary::of(&rows.select(col, rows.group_index(arm), None));
        if let Some(l) = rel {
            assert_close(
                &format!("true relative effect of {col} in {arm}"),
                e.rel_effect.expect("rel"),
                l,
                1e-9,
            );
            let (got, se) = relative(&t, &c);
            assert_within(
                &format!("realised relative effect of {col} in {arm}"),
                got,
                l,
                se,
            );
        }
        if let Some(l) = abs {
            assert_close(
                &format!("true absolute effect of {col} in {arm}"),
                e.abs_effect,
                l,
                1e-9,
            );
            let se = (t.se_mean().powi(2) + c.se_mean().powi(2)).sqrt();
            assert_within(
                &format!("realised absolute effect of {col} in {arm}"),
                t.mean - c.mean,
                l,
                se,
            );
        }
        let null = rel == Some(0.0) || abs == Some(0.0);
        assert_eq!(e.mean_null, null, "{col} in {arm}: mean_null");
        assert_eq!(e.identical, null, "{col} in {arm}: identical");
    }
}

#[test]
fn actual_groups_set_the_realised_split() {
    let toml = header("fit-srm", 404)
        + r#"
[groups]
control = 1
a = 1
b = 1

[actual_groups]
control = 0.5
a = 0.3
b = 0.2

[metrics.revenue]
distribution = "gamma"
control = { shape = 3, scale = 10 }
a = { lift = 0 }
b = { lift = 0.05 }
"#;
    let (truth, rows) = generate(&toml);
    assert!(truth.sample_ratio_mismatch);
    let n = rows.len() as f64;
    for (gi, (g, actual)) in [("control", 0.5), ("a", 0.3), ("b", 0.2)]
        .into_iter()
        .enumerate()
    {
        let alloc = &truth.allocation[gi];
        assert_eq!(alloc.group, g);
        assert_close(
            &format!("planned share of {g}"),
            alloc.planned,
            1.0 / 3.0,
            1e-12,
        );
        assert_close(&format!("actual share of {g}"), alloc.actual, actual, 1e-12);
        let share = rows.group.iter().filter(|x| **x == gi).count() as f64 / n;
        let se = (actual * (1.0 - actual) / n).sqrt();
        assert_within(&format!("realised share of {g}"), share, actual, se);
        assert!(
            (share - 1.0 / 3.0).abs() > 20.0 * se,
            "{g}: realised {share} is the planned share"
        );
    }
    check_moments(&truth, &rows);

    // Without actual_groups, the planned split is realised and there is no mismatch.
    let toml = header("fit-split", 405)
        + r#"
[groups]
control = 7
treatment = 3

[metrics.items]
distribution = "poisson"
control = { lambda = 1 }
treatment = { lambda = 1 }
"#;
    let (truth, rows) = generate(&toml);
    assert!(!truth.sample_ratio_mismatch);
    let share = rows.group.iter().filter(|x| **x == 0).count() as f64 / n;
    assert_within("realised share of control", share, 0.7, (0.21 / n).sqrt());
    assert_close(
        "actual share of control",
        truth.allocation[0].actual,
        0.7,
        1e-12,
    );
    check_moments(&truth, &rows);
}

#[test]
fn pre_period_twins_correlate_and_stay_untreated() {
    let toml = header("fit-pre", 505)
        + r#"
[groups]
control = 1
treatment = 1

[metrics.revenue]
distribution = "normal"
pre_period = { correlation = 0.7 }
control = { mean = 50, sd = 20 }
treatment = { lift_abs = 5 }

[metrics.items]
distribution = "poisson"
offset = 1
pre_period = { correlation = -0.4 }
control = { lambda = 4 }
treatment = { lift = 0.25 }

[metrics.spend]
distribution = "gamma"
zero_inflation = 0.3
offset = 2
pre_period = { correlation = 0.5 }
control = { shape = 2, scale = 10 }
treatment = { shape = 4, scale = 8 }

[metrics.flag]
distribution = "bernoulli"
pre_period = { correlation = 0.9 }
control = { p = 0.2 }
treatment = { lift = 0.5 }

[metrics.heavy]
distribution = "lognormal"
pre_period = { correlation = 1 }
control = { mu = 1, sigma = 0.3 }
treatment = { mu = 1.2, sigma = 0.3 }
"#;
    let (truth, rows) = generate(&toml);
    check_moments(&truth, &rows);
    for (col, rho) in [
        ("revenue", 0.7),
        ("items", -0.4),
        ("spend", 0.5),
        ("flag", 0.9),
        ("heavy", 1.0),
    ] {
        let pre = format!("pre_{col}");
        let tm = metric(&truth, &pre);
        assert_eq!(tm.distribution, "pre_period");
        assert!(!tm.integer);
        let ctrl = truth_of(&truth, col, "control");
        let treated = truth_of(&truth, col, "treatment");
        assert!(
            (treated.0 - ctrl.0).abs() > 0.01 * ctrl.0.abs(),
            "{col}: the treatment must move the mean"
        );
        for g in ["control", "treatment"] {
            assert_truth(&truth, &pre, g, ctrl);
            let gi = rows.group_index(g);
            let (y, x) = (rows.select(col, gi, None), rows.select(&pre, gi, None));
            let (r, se) = correlation(&y, &x);
            if rho == 1.0 {
                assert!(r > 1.0 - 1e-9, "{pre} in {g}: correlation {r}, expected 1");
            } else {
                assert_within(
                    &format!("correlation of {pre} with {col} in {g}"),
                    r,
                    rho,
                    se,
                );
            }
            if col == "revenue" {
                // For a normal metric the delta-method SE is (1 − rho²)/sqrt(n).
                let n = y.len() as f64;
                assert_within(
                    &format!("correlation of {pre} in {g}"),
                    r,
                    rho,
                    (1.0 - rho * rho) / n.sqrt(),
                );
            }
        }
        for e in &tm.effects {
            assert!(
                e.mean_null && e.abs_effect == 0.0,
                "{pre}: the twin has no effect"
            );
            assert_eq!(e.prob_superiority, None);
        }
    }
    // `rows` holds every column of the schema's metrics and twins.
    assert_eq!(rows.cols.len(), 10);
}
