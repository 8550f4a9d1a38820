//! The truth's Mann–Whitney estimand `P(T > C) + ½·P(T = C)` against closed forms, its
//! symmetry under swapping the arms, and simulation from the generator's rows.

use crate::common::{assert_within, generate, resolve, superiority};
use abforge_synth::Truth;
use statrs::distribution::{
    ContinuousCDF, Discrete, Gamma, LogNormal, NegativeBinomial, Normal, Poisson,
};
use statrs::function::beta::beta_reg;

/// Tolerance of the truth against closed forms.
const CLOSED: f64 = 1e-6;
/// Tolerance of `p(T, C) + p(C, T) = 1`.
const SYMMETRY: f64 = 1e-9;

/// A two-arm blueprint with one metric `m`; `body` holds its keys after `distribution`.
fn blueprint(control_group: &str, dist: &str, body: &str) -> String {
    format!(
        "id = \"fit-sup\"\nseed = 1\ncustomers = 10\nstart_date = 2026-11-23\ndays = 1\n\
         control_group = \"{control_group}\"\n\n[groups]\na = 1\nb = 1\n\n\
         [metrics.m]\ndistribution = \"{dist}\"\n{body}\n"
    )
}

/// `P(b > a) + ½·P(b = a)` by the truth, `a` being the control.
fn prob(dist: &str, body: &str) -> f64 {
    let truth = resolve(&blueprint("a", dist, body)).truth();
    effect_p(&truth)
}

fn effect_p(truth: &Truth) -> f64 {
    let e = &truth.metrics[0].effects[0];
    let p = e.prob_superiority.expect("a metric has the estimand");
    assert!((0.0..=1.0).contains(&p), "estimand {p} outside [0, 1]");
    p
}

#[track_caller]
fn assert_closed(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() < CLOSED,
        "{what}: truth {got}, closed form {want}, difference {}",
        got - want
    );
}

fn phi(x: f64) -> f64 {
    Normal::new(0.0, 1.0).expect("valid").cdf(x)
}

#[test]
fn normal_and_lognormal_match_the_closed_form() {
    // Standard deviations within a factor 3 of each other; wider ratios are in
    // `narrow_control_against_wide_treatment`.
    let cases: [(f64, f64, f64, f64); 5] = [
        (10.0, 2.0, 10.5, 3.0),
        (0.0, 1.0, -1.0, 0.5),
        (100.0, 20.0, 100.2, 20.0),
        (-5.0, 1.0, -4.0, 3.0),
        (3.0, 1.5, 3.0, 1.4),
    ];
    for (mc, sc, mt, st) in cases {
        let want = phi((mt - mc) / (sc * sc + st * st).sqrt());
        let body = format!("a = {{ mean = {mc}, sd = {sc} }}\nb = {{ mean = {mt}, sd = {st} }}");
        assert_closed(
            &format!("normal({mt}, {st}) vs normal({mc}, {sc})"),
            prob("normal", &body),
            want,
        );
        if mc.abs() <= 10.0 && sc <= 3.0 && st <= 3.0 {
            let body =
                format!("a = {{ mu = {mc}, sigma = {sc} }}\nb = {{ mu = {mt}, sigma = {st} }}");
            assert_closed(
                &format!("lognormal({mt}, {st}) vs lognormal({mc}, {sc})"),
                prob("lognormal", &body),
                want,
            );
        }
    }
    // A lift on a lognormal keeps sigma: the log means differ by ln(1 + lift).
    let p = prob(
        "lognormal",
        "a = { mu = 3, sigma = 1.5 }\nb = { lift = 0.03 }",
    );
    assert_closed(
        "lognormal lift 3 %",
        p,
        phi((1.03f64).ln() / (2.0 * 1.5 * 1.5f64).sqrt()),
    );
    // With an offset (the same for both arms) nothing changes.
    let p = prob(
        "lognormal",
        "offset = -4\na = { mu = 0.5, sigma = 1 }\nb = { mu = 0.7, sigma = 0.6 }",
    );
    assert_closed("lognormal with offset", p, phi(0.2 / (1.36f64).sqrt()));
}

#[test]
fn gamma_with_one_scale_matches_the_incomplete_beta() {
    // Shapes in [0.3, 25]; larger and tinier ones are in `gamma_with_a_large_or_tiny_shape`.
    // T ~ Gamma(a, θ), C ~ Gamma(b, θ): C/(T + C) ~ Beta(b, a), so P(T > C) = 1 − I_½(a, b).
    let cases = [
        (2.0, 3.0, 10.0),
        (0.5, 0.7, 1.0),
        (3.885, 3.7, 2.0),
        (25.0, 20.0, 0.1),
        (0.3, 0.6, 5.0),
        (1.0, 1.0, 3.0),
    ];
    for (a, b, theta) in cases {
        let want = 1.0 - beta_reg(a, b, 0.5);
        let body = format!(
            "a = {{ shape = {b}, scale = {theta} }}\nb = {{ shape = {a}, scale = {theta} }}"
        );
        assert_closed(
            &format!("gamma({a}) vs gamma({b}), scale {theta}"),
            prob("gamma", &body),
            want,
        );
    }
}

#[test]
fn zero_inflated_continuous_matches_the_mixture() {
    // T = 0 w.p. z, else X_T + s; likewise C. Then
    // p = (1 − z)²·P(X_T > X_C) + z(1 − z)·[P(X_T + s > 0) + P(X_C + s < 0)] + z²/2.
    for (z, s) in [(0.3, 0.0), (0.6, 2.5), (0.5, -7.0), (0.9, -20.0)] {
        let (a, b, theta) = (2.0, 3.0, 4.0);
        let (ft, fc) = (
            Gamma::new(a, 1.0 / theta).expect("valid"),
            Gamma::new(b, 1.0 / theta).expect("valid"),
        );
        let below = |f: &Gamma, x: f64| if x <= 0.0 { 0.0 } else { f.cdf(x) };
        let core = 1.0 - beta_reg(a, b, 0.5);
        let want = (1.0 - z) * (1.0 - z) * core
            + z * (1.0 - z) * ((1.0 - below(&ft, -s)) + below(&fc, -s))
            + z * z / 2.0;
        let body = format!(
            "zero_inflation = {z}\noffset = {s}\na = {{ shape = {b}, scale = {theta} }}\nb = {{ shape = {a}, scale = {theta} }}"
        );
        assert_closed(
            &format!("zero-inflated gamma z = {z}, offset {s}"),
            prob("gamma", &body),
            want,
        );

        let (mt, st, mc, sc) = (0.4, 0.9, 0.1, 1.2);
        let (lt, lc) = (
            LogNormal::new(mt, st).expect("valid"),
            LogNormal::new(mc, sc).expect("valid"),
        );
        let below = |f: &LogNormal, x: f64| if x <= 0.0 { 0.0 } else { f.cdf(x) };
        let core = phi((mt - mc) / (st * st + sc * sc).sqrt());
        let want = (1.0 - z) * (1.0 - z) * core
            + z * (1.0 - z) * ((1.0 - below(&lt, -s)) + below(&lc, -s))
            + z * z / 2.0;
        let body = format!(
            "zero_inflation = {z}\noffset = {s}\na = {{ mu = {mc}, sigma = {sc} }}\nb = {{ mu = {mt}, sigma = {st} }}"
        );
        assert_closed(
            &format!("zero-inflated lognormal z = {z}, offset {s}"),
            prob("lognormal", &body),
            want,
        );

        let nt = Normal::new(1.0 + s, 2.0).expect("valid");
        let nc = Normal::new(s, 1.0).expect("valid");
        let core = phi(1.0 / 5.0f64.sqrt());
        let want = (1.0 - z) * (1.0 - z) * core
            + z * (1.0 - z) * ((1.0 - nt.cdf(0.0)) + nc.cdf(0.0))
            + z * z / 2.0;
        let body = format!(
            "zero_inflation = {z}\noffset = {s}\na = {{ mean = 0, sd = 1 }}\nb = {{ mean = 1, sd = 2 }}"
        );
        assert_closed(
            &format!("zero-inflated normal z = {z}, offset {s}"),
            prob("normal", &body),
            want,
        );
    }
}

/// An integer law as (value, probability) pairs: `zi·δ0 + (1 − zi)·(D + offset)`, with `D`
/// given by its pmf, truncated where the remaining mass is below 1e-15.
fn integer_law(pmf: impl Fn(u64) -> f64, zi: f64, offset: f64) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, zi)];
    let mut total = 0.0;
    let mut k = 0u64;
    while total < 1.0 - 1e-15 && k < 1_000_000 {
        let p = pmf(k);
        total += p;
        out.push((k as f64 + offset, (1.0 - zi) * p));
        k += 1;
    }
    out
}

/// `P(T > C) + ½·P(T = C)` by brute force over both supports.
fn brute(t: &[(f64, f64)], c: &[(f64, f64)]) -> f64 {
    let mut s = 0.0;
    for (x, px) in t {
        for (y, py) in c {
            if x > y {
                s += px * py;
            } else if x == y {
                s += 0.5 * px * py;
            }
        }
    }
    s
}

#[test]
fn integer_laws_match_brute_force() {
    // Bernoulli: ½ + (pT − pC)/2.
    for (pc, pt) in [(0.04, 0.05), (0.5, 0.1), (0.0, 1.0), (0.3, 0.3)] {
        let p = prob(
            "bernoulli",
            &format!("a = {{ p = {pc} }}\nb = {{ p = {pt} }}"),
        );
        assert_closed(
            &format!("bernoulli({pt}) vs bernoulli({pc})"),
            p,
            0.5 + (pt - pc) / 2.0,
        );
    }
    for (z, s) in [(0.0, 0.0), (0.3, 1.0), (0.5, -1.0), (0.2, -3.0), (0.6, 2.0)] {
        for (lc, lt) in [(0.3, 0.35), (4.0, 4.4), (25.0, 24.0)] {
            let pc = Poisson::new(lc).expect("valid");
            let pt = Poisson::new(lt).expect("valid");
            let want = brute(
                &integer_law(|k| pt.pmf(k), z, s),
                &integer_law(|k| pc.pmf(k), z, s),
            );
            let body = format!(
                "zero_inflation = {z}\noffset = {s}\na = {{ lambda = {lc} }}\nb = {{ lambda = {lt} }}"
            );
            assert_closed(
                &format!("poisson({lt}) vs poisson({lc}), z = {z}, offset {s}"),
                prob("poisson", &body),
                want,
            );
        }
        for ((rc, qc), (rt, qt)) in [
            ((2.5, 0.3), (0.7, 0.1)),
            ((0.7, 0.9), (0.7, 0.85)),
            ((2.0, 0.5), (2.0, 0.95)),
        ] {
            let nc = NegativeBinomial::new(rc, qc).expect("valid");
            let nt = NegativeBinomial::new(rt, qt).expect("valid");
            let want = brute(
                &integer_law(|k| nt.pmf(k), z, s),
                &integer_law(|k| nc.pmf(k), z, s),
            );
            let body = format!(
                "zero_inflation = {z}\noffset = {s}\na = {{ r = {rc}, p = {qc} }}\nb = {{ r = {rt}, p = {qt} }}"
            );
            assert_closed(
                &format!("nb({rt}, {qt}) vs nb({rc}, {qc}), z = {z}, offset {s}"),
                prob("negative_binomial", &body),
                want,
            );
        }
    }
}

/// The estimand with `a` as control and with `b` as control.
fn both_ways(dist: &str, body: &str) -> (f64, f64) {
    let ba = effect_p(&resolve(&blueprint("a", dist, body)).truth());
    let ab = effect_p(&resolve(&blueprint("b", dist, body)).truth());
    (ba, ab)
}

#[test]
fn swapping_the_arms_complements_the_estimand() {
    let cases = [
        (
            "poisson",
            "offset = 3\na = { lambda = 2 }\nb = { lambda = 2.4 }",
        ),
        (
            "poisson",
            "offset = -2\nzero_inflation = 0.3\na = { lambda = 1.5 }\nb = { lambda = 1.2 }",
        ),
        ("poisson", "a = { lambda = 250 }\nb = { lambda = 260 }"),
        (
            "negative_binomial",
            "a = { r = 2.5, p = 0.3 }\nb = { r = 0.7, p = 0.1 }",
        ),
        (
            "negative_binomial",
            "zero_inflation = 0.5\noffset = 1\na = { r = 0.7, p = 0.9 }\nb = { r = 2, p = 0.6 }",
        ),
        (
            "bernoulli",
            "zero_inflation = 0.2\noffset = 1\na = { p = 0.03 }\nb = { p = 0.05 }",
        ),
        (
            "gamma",
            "zero_inflation = 0.4\noffset = -3\na = { shape = 0.5, scale = 10 }\nb = { shape = 0.7, scale = 8 }",
        ),
        (
            "gamma",
            "a = { shape = 2, scale = 10 }\nb = { shape = 3, scale = 5 }",
        ),
        (
            "lognormal",
            "zero_inflation = 0.7\na = { mu = 3, sigma = 1.5 }\nb = { mu = 3.1, sigma = 1.2 }",
        ),
        (
            "lognormal",
            "offset = 5\nzero_inflation = 0.1\na = { mu = 0, sigma = 2 }\nb = { mu = -0.5, sigma = 0.7 }",
        ),
        (
            "normal",
            "zero_inflation = 0.25\noffset = 1\na = { mean = -1, sd = 1 }\nb = { mean = 0.5, sd = 3 }",
        ),
    ];
    for (dist, body) in cases {
        let (ba, ab) = both_ways(dist, body);
        assert!(
            (ba + ab - 1.0).abs() < SYMMETRY,
            "{dist} [{body}]: p(b, a) = {ba}, p(a, b) = {ab}, sum − 1 = {}",
            ba + ab - 1.0
        );
        assert!(
            (ba - 0.5).abs() > 1e-4,
            "{dist} [{body}]: the arms should differ ({ba})"
        );
    }

    // With segments: the laws are mixtures over cells.
    let segmented = |control: &str| {
        format!(
            "{}\n[attributes.device]\nMOBILE = 2\nCOMPUTER = 3\n\n[metrics.n]\ndistribution = \"poisson\"\n\
             zero_inflation = 0.1\na = {{ lambda = 2 }}\nb = {{ lambda = 2 }}\n\n\
             [[metrics.n.segments]]\nwhen = {{ device = \"MOBILE\" }}\nb = {{ lambda = 3 }}\n",
            blueprint(
                control,
                "gamma",
                "a = { shape = 2, scale = 1 }\nb = { shape = 2, scale = 1 }"
            )
        )
    };
    let p = |control: &str| {
        let t = resolve(&segmented(control)).truth();
        let e = &t.metrics[1].effects[0];
        e.prob_superiority.expect("estimand")
    };
    let (ba, ab) = (p("a"), p("b"));
    assert!(
        (ba + ab - 1.0).abs() < SYMMETRY,
        "segments: {ba} + {ab} != 1"
    );
    assert!(
        ba > 0.5,
        "segments: the treatment is larger on MOBILE ({ba})"
    );

    // Identical laws give exactly ½, and the nulls hold.
    let t = resolve(&segmented("a")).truth();
    let e = &t.metrics[0].effects[0];
    assert!(e.identical && e.mean_null && e.prob_superiority == Some(0.5));
    assert_eq!(e.prob_superiority_null, Some(true));
}

/// The simulated estimand of every effect of every metric from the generator's rows: the
/// i-th row of a treatment arm paired with the i-th row of the control.
fn simulate(toml: &str) {
    let (truth, rows) = generate(toml);
    let ctrl = rows.group_index(&truth.control_group);
    for m in truth
        .metrics
        .iter()
        .filter(|m| m.distribution != "pre_period")
    {
        let c = rows.select(&m.metric, ctrl, None);
        for e in &m.effects {
            let t = rows.select(&m.metric, rows.group_index(&e.group), None);
            let n = t.len().min(c.len());
            assert!(n >= 400_000, "only {n} pairs");
            let (got, se) = superiority(&t, &c);
            let want = e.prob_superiority.expect("estimand");
            assert_within(
                &format!("P({} > {}) of {}", e.group, e.control, m.metric),
                got,
                want,
                se,
            );
            // Ties are present and counted half.
            let ties = t[..n].iter().zip(&c[..n]).filter(|(a, b)| a == b).count();
            assert!(ties > 0, "{}: no ties", m.metric);
        }
    }
}

/// Two arms of about 405 000 customers each.
const SIM_HEADER: &str = "start_date = 2026-11-23\ndays = 7\ncustomers = 810000\n";
/// Three arms of about 405 000 customers each.
const SIM_HEADER3: &str = "start_date = 2026-11-23\ndays = 7\ncustomers = 1215000\n";

#[test]
fn simulated_counts_with_ties() {
    simulate(&format!(
        "id = \"fit-sim-counts\"\nseed = 601\n{SIM_HEADER}{}",
        r#"
[groups]
control = 1
treatment = 1

[metrics.items]
distribution = "poisson"
zero_inflation = 0.3
offset = 1
control = { lambda = 1.5 }
treatment = { lift = 0.08 }

[metrics.orders]
distribution = "negative_binomial"
zero_inflation = 0.5
control = { r = 0.7, p = 0.6 }
treatment = { r = 2.5, p = 0.8 }
"#
    ));
}

#[test]
fn simulated_zero_inflated_amounts() {
    simulate(&format!(
        "id = \"fit-sim-amounts\"\nseed = 602\n{SIM_HEADER}{}",
        r#"
[groups]
control = 1
treatment = 1

[metrics.revenue]
distribution = "gamma"
zero_inflation = 0.6
offset = -3
control = { shape = 0.5, scale = 10 }
treatment = { shape = 0.6, scale = 8 }

[metrics.basket]
distribution = "lognormal"
zero_inflation = 0.4
control = { mu = 1, sigma = 1 }
treatment = { lift = 0.1 }
"#
    ));
}

#[test]
fn simulated_conversions_and_scores() {
    simulate(&format!(
        "id = \"fit-sim-conversions\"\nseed = 603\n{SIM_HEADER}{}",
        r#"
[groups]
control = 1
treatment = 1

[metrics.converted]
distribution = "bernoulli"
offset = 1
zero_inflation = 0.1
control = { p = 0.1 }
treatment = { p = 0.12 }

[metrics.score]
distribution = "normal"
zero_inflation = 0.3
offset = 0.5
control = { mean = 0, sd = 1 }
treatment = { mean = -0.2, sd = 2 }
"#
    ));
}

#[test]
fn simulated_segments_with_three_arms() {
    simulate(&format!(
        "id = \"fit-sim-segments\"\nseed = 604\n{SIM_HEADER3}{}",
        r#"
[groups]
control = 1
small = 1
big = 1

[attributes.device]
MOBILE = 0.4
COMPUTER = 0.6

[metrics.items]
distribution = "poisson"
zero_inflation = 0.2
control = { lambda = 2 }
small = { lambda = 2 }
big = { lift = 0.1 }

[[metrics.items.segments]]
when = { device = "MOBILE" }
small = { lambda = 2.5 }
big = { lambda = 1.5 }
"#
    ));
}

// ---- Regressions: each of these once failed (a quadrature that missed a steep CDF or a
// narrow peak, and statrs' NaN pmf of a negative binomial with p = 1). ----

#[test]
fn narrow_control_against_wide_treatment() {
    // ∫ φ(z)·F_C(μT + σT·z) dz over [-12, 12]: F_C jumps within σC/σT of one point, which the
    // single double-exponential pass over T's scale did not resolve.
    let cases: [(f64, f64, f64, f64); 4] = [
        (-5.0, 0.1, -4.0, 7.0),
        (0.0, 0.1, 0.3, 10.0),
        (0.0, 0.3, 0.3, 3.0),
        (0.0, 1.0, 0.3, 5.0),
    ];
    for (mc, sc, mt, st) in cases {
        let want = phi((mt - mc) / (sc * sc + st * st).sqrt());
        let body = format!("a = {{ mean = {mc}, sd = {sc} }}\nb = {{ mean = {mt}, sd = {st} }}");
        assert_closed(
            &format!("normal({mt}, {st}) vs normal({mc}, {sc})"),
            prob("normal", &body),
            want,
        );
        let body = format!("a = {{ mu = {mc}, sigma = {sc} }}\nb = {{ mu = {mt}, sigma = {st} }}");
        assert_closed(
            &format!("lognormal({mt}, {st}) vs lognormal({mc}, {sc})"),
            prob("lognormal", &body),
            want,
        );
    }
    let (ba, ab) = both_ways(
        "lognormal",
        "offset = 5\nzero_inflation = 0.1\na = { mu = 0, sigma = 2 }\nb = { mu = -0.5, sigma = 0.3 }",
    );
    assert!(
        (ba + ab - 1.0).abs() < SYMMETRY,
        "p(b, a) = {ba}, p(a, b) = {ab}, sum − 1 = {}",
        ba + ab - 1.0
    );
}

#[test]
fn gamma_with_a_large_or_tiny_shape() {
    for (a, b) in [
        (1000.0, 1010.0),
        (5000.0, 5050.0),
        (0.1, 0.1001),
        (0.2, 0.1),
    ] {
        let want = 1.0 - beta_reg(a, b, 0.5);
        let body = format!("a = {{ shape = {b}, scale = 1 }}\nb = {{ shape = {a}, scale = 1 }}");
        assert_closed(
            &format!("gamma({a}) vs gamma({b})"),
            prob("gamma", &body),
            want,
        );
    }
}

#[test]
fn degenerate_negative_binomial_has_an_estimand() {
    // NB(2, 1) is the point mass at 0 (the sampler draws 0); against NB(2, 0.5) the treatment
    // never wins and ties with probability 0.5^2: the estimand is 0.125.
    let p = prob(
        "negative_binomial",
        "a = { r = 2, p = 0.5 }\nb = { r = 2, p = 1 }",
    );
    assert_closed("nb(2, 1) vs nb(2, 0.5)", p, 0.125);
    // The same law reached by a lift of −100 %.
    let p = prob(
        "negative_binomial",
        "a = { r = 2, p = 0.5 }\nb = { lift = -1 }",
    );
    assert_closed("a lift of -100 %", p, 0.125);
}
