//! Correlated metrics (the Gaussian copula): each metric keeps its law exactly, and the
//! generated rows have the rank correlations the truth gives.

use crate::common::{Summary, Z, generate, metric};
use crate::ks::{KS_CRITICAL, ks_statistic};
use statrs::distribution::{
    ChiSquared, ContinuousCDF, Discrete, Gamma, LogNormal, Normal, Poisson,
};

const BLUEPRINT: &str = r#"
id = "copula"
seed = 17
customers = 200000
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
[metrics.score]
distribution = "normal"
control = { mean = 5, sd = 2 }
treatment = { mean = 5.5, sd = 2 }
[metrics.spend]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { shape = 2, scale = 12 }
[metrics.basket]
distribution = "lognormal"
offset = 1
control = { mu = 1, sigma = 0.8 }
treatment = { mu = 1, sigma = 0.8 }
[metrics.visits]
distribution = "poisson"
control = { lambda = 3 }
treatment = { lambda = 3.3 }
[metrics.orders]
distribution = "gamma"
zero_inflation = 0.6
control = { shape = 1, scale = 20 }
treatment = { shape = 1, scale = 20 }
[[correlations]]
metrics = ["score", "spend"]
rho = 0.7
[[correlations]]
metrics = ["spend", "basket"]
rho = -0.4
[[correlations]]
metrics = ["score", "visits"]
rho = 0.5
[[correlations]]
metrics = ["basket", "orders"]
rho = 0.45
"#;

/// Average ranks (ties share their mean rank).
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|a, b| x[*a].total_cmp(&x[*b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            r[idx[k]] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    r
}

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (ranks(x), ranks(y));
    let (sx, sy) = (Summary::of(&rx), Summary::of(&ry));
    let cov: f64 = rx
        .iter()
        .zip(&ry)
        .map(|(a, b)| (a - sx.mean) * (b - sy.mean))
        .sum::<f64>()
        / (rx.len() as f64 - 1.0);
    cov / (sx.var * sy.var).sqrt()
}

#[test]
fn each_metric_keeps_its_law() {
    let (truth, rows) = generate(BLUEPRINT);
    type Cdf = Box<dyn Fn(f64) -> f64>;
    let laws: [(&str, usize, Cdf); 5] = [
        (
            "score",
            0,
            Box::new(|x| Normal::new(5.0, 2.0).unwrap().cdf(x)),
        ),
        (
            "score",
            1,
            Box::new(|x| Normal::new(5.5, 2.0).unwrap().cdf(x)),
        ),
        (
            "spend",
            0,
            Box::new(|x| Gamma::new(2.0, 0.1).unwrap().cdf(x)),
        ),
        (
            "spend",
            1,
            Box::new(|x| Gamma::new(2.0, 1.0 / 12.0).unwrap().cdf(x)),
        ),
        (
            "basket",
            1,
            Box::new(|x| LogNormal::new(1.0, 0.8).unwrap().cdf(x - 1.0)),
        ),
    ];
    for (col, g, cdf) in laws {
        let x = rows.select(col, g, None);
        let d = ks_statistic(x.clone(), cdf) * (x.len() as f64).sqrt();
        assert!(d < KS_CRITICAL, "{col} in group {g}: sqrt(n)·D = {d}");
    }
    // The Poisson: a chi-square over 0..=9 and the tail, against the 0.1 % critical value.
    let x = rows.select("visits", 0, None);
    let n = x.len() as f64;
    let pois = Poisson::new(3.0).unwrap();
    let mut chi2 = 0.0;
    for k in 0..=10u64 {
        let observed = x
            .iter()
            .filter(|v| if k < 10 { **v == k as f64 } else { **v >= 10.0 })
            .count();
        let p = if k < 10 {
            pois.pmf(k)
        } else {
            1.0 - (0..10).map(|j| pois.pmf(j)).sum::<f64>()
        };
        chi2 += (observed as f64 - n * p).powi(2) / (n * p);
    }
    let critical = ChiSquared::new(10.0).unwrap().inverse_cdf(0.999);
    assert!(chi2 < critical, "visits: chi-square {chi2} >= {critical}");
    // The zero-inflated one: its mean and variance are the truth's, within 5 standard errors.
    let orders = Summary::of(&rows.select("orders", 0, None));
    let t = &metric(&truth, "orders").groups[0];
    assert!(
        (orders.mean - t.mean).abs() < Z * orders.se_mean(),
        "{} vs {}",
        orders.mean,
        t.mean
    );
    assert!((orders.var - t.variance).abs() < Z * orders.se_var());
}

#[test]
fn rank_correlations_are_the_truths() {
    let (truth, rows) = generate(BLUEPRINT);
    let mut checked = 0;
    for c in &truth.correlations {
        let [a, b] = &c.metrics;
        let Some(want) = c.spearman else {
            // An integer or zero-inflated law: only the direction is certain.
            let got = spearman(rows.col(a), rows.col(b));
            assert_eq!(got.signum(), c.normal_scores.signum(), "{a} and {b}: {got}");
            continue;
        };
        for g in 0..2 {
            let (x, y) = (rows.select(a, g, None), rows.select(b, g, None));
            let got = spearman(&x, &y);
            // The standard error of Spearman's rho is below 1.1/√n for a normal copula.
            let se = 1.1 / (x.len() as f64).sqrt();
            assert!(
                (got - want).abs() < Z * se,
                "{a} and {b} in group {g}: {got} vs {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "score–spend and spend–basket in both groups");
    // A pair not listed has normal scores of correlation 0, though both correlate with spend.
    let got = spearman(rows.col("score"), rows.col("basket"));
    assert!(
        got.abs() < Z * 1.1 / (rows.len() as f64).sqrt(),
        "score and basket: {got}"
    );
}
