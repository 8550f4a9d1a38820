//! The truth's quantiles against closed forms (normal, lognormal, exponential, an
//! exponential under zero-inflation, Bernoulli), an independent sum of the Poisson pmf, and
//! the empirical CDF of generated rows for mixtures over segments.

use crate::common::{Z, generate, metric, resolve};
use abforge_synth::Truth;

/// Φ⁻¹ at 0.5, 0.9, 0.99 and 0.975 (Abramowitz & Stegun, table 26.5, to 16 digits).
const Z_SCORES: [(f64, f64); 4] = [
    (0.5, 0.0),
    (0.9, 1.281_551_565_544_600_5),
    (0.99, 2.326_347_874_040_840_8),
    (0.975, 1.959_963_984_540_054),
];

fn header(customers: u64) -> String {
    format!(
        "id = \"q\"\nseed = 11\ncustomers = {customers}\nstart_date = 2026-11-23\ndays = 7\n\
         quantiles = [0.5, 0.9, 0.975, 0.99]\n\
         [groups]\ncontrol = 1\ntreatment = 1\n\
         [attributes.region]\nnorth = 1\nsouth = 3\n"
    )
}

/// The true `p`-quantile of `col` in `group`, and whether it is an atom.
fn quantile(truth: &Truth, col: &str, group: &str, p: f64) -> (f64, bool) {
    let m = metric(truth, col);
    let g = m.groups.iter().find(|g| g.group == group).expect("group");
    let q = g.quantiles.iter().find(|q| q.p == p).expect("probability");
    (q.value, q.atom)
}

#[track_caller]
fn assert_close(what: &str, got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: {got} != {want} (tolerance {tol:e})"
    );
}

#[test]
fn closed_forms_hold_to_1e_9() {
    let r = resolve(&format!(
        "{}\
         [metrics.norm]\ndistribution = \"normal\"\ncontrol = {{ mean = 10, sd = 3 }}\n\
         treatment = {{ mean = 10.5, sd = 3 }}\n\
         [metrics.logn]\ndistribution = \"lognormal\"\noffset = 2\n\
         control = {{ mu = 1, sigma = 0.75 }}\ntreatment = {{ mu = 1, sigma = 0.75 }}\n\
         [metrics.expo]\ndistribution = \"gamma\"\ncontrol = {{ shape = 1, scale = 40 }}\n\
         treatment = {{ shape = 1, scale = 44 }}\n\
         [metrics.zexpo]\ndistribution = \"gamma\"\nzero_inflation = 0.7\n\
         control = {{ shape = 1, scale = 5 }}\ntreatment = {{ shape = 1, scale = 5 }}\n",
        header(1000)
    ));
    let t = r.truth();
    for (p, z) in Z_SCORES {
        assert_close(
            "normal",
            quantile(&t, "norm", "control", p).0,
            10.0 + 3.0 * z,
        );
        assert_close(
            "normal",
            quantile(&t, "norm", "treatment", p).0,
            10.5 + 3.0 * z,
        );
        let want = 2.0 + (1.0 + 0.75 * z).exp();
        assert_close("lognormal + 2", quantile(&t, "logn", "control", p).0, want);
        assert_close(
            "exponential",
            quantile(&t, "expo", "control", p).0,
            -40.0 * (-p).ln_1p(),
        );
        // 70 % zeros: the quantiles up to 0.7 sit on the atom, the rest in the exponential.
        let (v, atom) = quantile(&t, "zexpo", "control", p);
        if p <= 0.7 {
            assert_eq!((v, atom), (0.0, true), "zero-inflated p = {p}");
        } else {
            assert!(!atom);
            assert_close("zero-inflated", v, -5.0 * (-(p - 0.7) / 0.3).ln_1p());
        }
    }
    let norm = metric(&t, "norm");
    for e in &norm.effects[0].quantile_effects {
        assert_close("shifted normal", e.difference, 0.5);
        assert!(!e.null);
    }
    let logn = metric(&t, "logn");
    assert!(
        logn.effects[0]
            .quantile_effects
            .iter()
            .all(|e| e.null && e.difference == 0.0)
    );
    // A scale change moves every quantile of an exponential by the same factor.
    for e in &metric(&t, "expo").effects[0].quantile_effects {
        assert_close("exponential scale", e.difference, -4.0 * (-e.p).ln_1p());
    }
}

#[test]
fn integer_quantiles_are_exact() {
    let lambda: f64 = 3.7;
    let r = resolve(&format!(
        "{}\
         [metrics.items]\ndistribution = \"poisson\"\noffset = 1\n\
         control = {{ lambda = {lambda} }}\ntreatment = {{ lambda = {lambda} }}\n\
         [metrics.conv]\ndistribution = \"bernoulli\"\ncontrol = {{ p = 0.95 }}\n\
         treatment = {{ p = 0.02 }}\n",
        header(1000)
    ));
    let t = r.truth();
    for p in [0.5, 0.9, 0.975, 0.99] {
        // The smallest k with P(X ≤ k) ≥ p, by the pmf's recurrence P(k) = P(k−1)·λ/k.
        let (mut k, mut pmf) = (0u32, (-lambda).exp());
        let mut cdf = pmf;
        while cdf < p {
            k += 1;
            pmf *= lambda / f64::from(k);
            cdf += pmf;
        }
        assert_eq!(
            quantile(&t, "items", "control", p),
            (f64::from(k) + 1.0, true),
            "p = {p}"
        );
        // P(0) = 0.05 in control: every listed quantile is 1; 0.98 in treatment: 0 up to 0.98.
        assert_eq!(quantile(&t, "conv", "control", p).0, 1.0);
        assert_eq!(
            quantile(&t, "conv", "treatment", p).0,
            if p <= 0.98 { 0.0 } else { 1.0 }
        );
    }
}

/// `F_n(q⁻) ≤ p ≤ F_n(q)` within [`Z`] standard errors: the true quantile `q` splits the
/// generated values as `p` says, atoms and mixtures included.
#[track_caller]
fn assert_splits(values: &[f64], q: f64, p: f64, what: &str) {
    let n = values.len() as f64;
    let below = values.iter().filter(|v| **v < q).count() as f64 / n;
    let upto = values.iter().filter(|v| **v <= q).count() as f64 / n;
    let se = (p * (1.0 - p) / n).sqrt();
    assert!(
        below <= p + Z * se && upto >= p - Z * se,
        "{what}: q = {q}, F(q-) = {below}, F(q) = {upto}, p = {p} (se {se:e})"
    );
}

#[test]
fn generated_rows_split_at_the_true_quantiles() {
    let (truth, rows) = generate(&format!(
        "{}\
         [metrics.revenue]\ndistribution = \"lognormal\"\nzero_inflation = 0.4\noffset = 3\n\
         control = {{ mu = 2, sigma = 1 }}\ntreatment = {{ mu = 2.1, sigma = 1 }}\n\
         segments = [{{ when = {{ region = \"north\" }}, treatment = {{ mu = 3 }} }}]\n\
         [metrics.items]\ndistribution = \"negative_binomial\"\n\
         control = {{ r = 2, p = 0.3 }}\ntreatment = {{ r = 2, p = 0.25 }}\n\
         segments = [{{ when = {{ region = \"south\" }}, control = {{ p = 0.6 }} }}]\n\
         [metrics.spend]\ndistribution = \"gamma\"\n\
         control = {{ shape = 2, scale = 10 }}\ntreatment = {{ shape = 2, scale = 10 }}\n\
         segments = [{{ when = {{ region = \"north\" }}, treatment = {{ shape = 9 }} }}]\n",
        header(200_000)
    ));
    for col in ["revenue", "items", "spend"] {
        for (g, group) in rows.groups.iter().enumerate() {
            let values = rows.select(col, g, None);
            let m = metric(&truth, col);
            for q in &m.groups[g].quantiles {
                assert_splits(&values, q.value, q.p, &format!("{col} {group} p{}", q.p));
            }
        }
    }
}

#[test]
fn the_default_probabilities_are_the_median_p90_and_p99() {
    let toml = header(1000).replace("quantiles = [0.5, 0.9, 0.975, 0.99]\n", "")
        + "[metrics.x]\ndistribution = \"normal\"\ncontrol = { mean = 0, sd = 1 }\n\
           treatment = { lift_abs = 0 }\n";
    let t = resolve(&toml).truth();
    let ps: Vec<f64> = metric(&t, "x").groups[0]
        .quantiles
        .iter()
        .map(|q| q.p)
        .collect();
    assert_eq!(ps, [0.5, 0.9, 0.99]);
}
