//! The design: clusters whose realised ICC, group assignment and sizes match the truth, and
//! arrivals in order with the weekday shares and daily effects the truth gives.

use crate::common::{Rows, Summary, Z, generate, metric};
use abforge_synth::Truth;
use abforge_synth::truth::ClusterMetricTruth;
use std::collections::HashMap;

const CLUSTERED: &str = r#"
id = "clustered"
seed = 5
customers = 200000
start_date = 2026-11-02
days = 7
[groups]
control = 1
treatment = 1
[attributes.device]
mobile = 2
desktop = 1
[metrics.score]
distribution = "normal"
control = { mean = 10, sd = 2 }
treatment = { mean = 10.5, sd = 2 }
[metrics.visits]
distribution = "poisson"
zero_inflation = 0.3
offset = 1
control = { lambda = 3 }
treatment = { lift = 0.1 }
[[metrics.visits.segments]]
when = { device = "desktop" }
control = { lambda = 6 }
treatment = { lambda = 6.5 }
[metrics.spend]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { lift = 0.05 }
[metrics.plain]
distribution = "lognormal"
control = { mu = 1, sigma = 0.5 }
treatment = { mu = 1, sigma = 0.5 }
[clusters]
count = 2000
size_cv = 0.6
icc = { score = 0.2, visits = 0.1, spend = 0.3 }
"#;

/// Per cluster: its rows' values of `col` in group `g`.
fn by_cluster(rows: &Rows, col: &str, g: usize) -> Vec<Vec<f64>> {
    let mut out: HashMap<u64, Vec<f64>> = HashMap::new();
    let (cl, x) = (rows.col("cluster_id"), rows.col(col));
    for i in 0..rows.len() {
        if rows.group[i] == g {
            out.entry(cl[i] as u64).or_default().push(x[i]);
        }
    }
    let mut v: Vec<(u64, Vec<f64>)> = out.into_iter().filter(|(_, x)| x.len() > 1).collect();
    v.sort_by_key(|(k, _)| *k);
    v.into_iter().map(|(_, x)| x).collect()
}

/// The one-way ANOVA estimate of the ICC of `clusters`, and its standard error at the true
/// `rho` (Swiger et al. 1964).
fn anova_icc(clusters: &[Vec<f64>], rho: f64) -> (f64, f64) {
    let k = clusters.len() as f64;
    let n: f64 = clusters.iter().map(|c| c.len() as f64).sum();
    let grand = clusters.iter().flatten().sum::<f64>() / n;
    let (mut ssb, mut ssw) = (0.0, 0.0);
    for c in clusters {
        let m = c.iter().sum::<f64>() / c.len() as f64;
        ssb += c.len() as f64 * (m - grand).powi(2);
        ssw += c.iter().map(|x| (x - m).powi(2)).sum::<f64>();
    }
    let (msb, msw) = (ssb / (k - 1.0), ssw / (n - k));
    let n0 = (n - clusters
        .iter()
        .map(|c| (c.len() as f64).powi(2))
        .sum::<f64>()
        / n)
        / (k - 1.0);
    let icc = (msb - msw) / (msb + (n0 - 1.0) * msw);
    let var = 2.0 * (n - 1.0) * (1.0 - rho).powi(2) * (1.0 + (n0 - 1.0) * rho).powi(2)
        / (n0 * n0 * (n - k) * (k - 1.0));
    (icc, var.sqrt())
}

fn cluster_metric<'t>(truth: &'t Truth, name: &str) -> &'t ClusterMetricTruth {
    let c = truth.clusters.as_ref().expect("cluster truth");
    c.metrics.iter().find(|m| m.metric == name).expect("metric")
}

#[test]
fn clusters_have_the_true_icc_in_every_group() {
    let (truth, rows) = generate(CLUSTERED);
    for name in ["score", "visits", "spend"] {
        let t = cluster_metric(&truth, name);
        for (g, gt) in t.groups.iter().enumerate() {
            let icc = gt.icc.expect("icc computed");
            assert!(gt.icc_error.unwrap() < 1e-6, "{name}: {gt:?}");
            let (got, se) = anova_icc(&by_cluster(&rows, name, g), icc);
            assert!(
                (got - icc).abs() < Z * se,
                "{name} in {}: realised ICC {got} vs true {icc} (se {se})",
                gt.group
            );
        }
    }
    // The normal's values keep the normal scores' ICC exactly.
    let s = cluster_metric(&truth, "score");
    assert!((s.groups[0].icc.unwrap() - 0.2).abs() < 1e-12);
    // A metric without an ICC has none to speak of.
    let plain = by_cluster(&rows, "plain", 0);
    let (got, se) = anova_icc(&plain, 0.0);
    assert!(got.abs() < Z * se, "plain: {got} (se {se})");
    assert!(
        truth
            .clusters
            .as_ref()
            .unwrap()
            .metrics
            .iter()
            .all(|m| m.metric != "plain")
    );
}

#[test]
fn clusters_keep_each_metrics_law_and_are_randomised_whole() {
    let (truth, rows) = generate(CLUSTERED);
    let cl = rows.col("cluster_id");
    let mut group_of: HashMap<u64, usize> = HashMap::new();
    for (&c, &group) in cl.iter().zip(&rows.group) {
        let g = *group_of.entry(c as u64).or_insert(group);
        assert_eq!(g, group, "cluster {c} is in two groups");
    }
    // Means within 5 standard errors inflated by the design effect.
    for name in ["score", "visits", "spend"] {
        let t = metric(&truth, name);
        let c = cluster_metric(&truth, name);
        for (g, gt) in t.groups.iter().enumerate() {
            let s = Summary::of(&rows.select(name, g, None));
            let de = c.groups[g].design_effect.expect("design effect");
            assert!(de > 1.0);
            let se = s.se_mean() * de.sqrt();
            assert!(
                (s.mean - gt.mean).abs() < Z * se,
                "{name} in {}: mean {} vs {} (se {se})",
                gt.group,
                s.mean,
                gt.mean
            );
        }
        assert!(c.effects[0].design_effect.unwrap() > 1.0);
    }
    let ct = truth.clusters.as_ref().unwrap();
    assert_eq!(ct.count, 2000);
    assert!((ct.size_cv - 0.6).abs() < 0.1, "{}", ct.size_cv);
    assert_eq!(ct.mean_size, 100.0);
}

#[test]
fn customer_assignment_mixes_groups_within_clusters() {
    let toml = CLUSTERED.replace("count = 2000", "count = 200\nassignment = \"customer\"");
    let (truth, rows) = generate(&toml);
    let cl = rows.col("cluster_id");
    let mixed = (0..200)
        .filter(|k| {
            let gs: Vec<usize> = (0..rows.len())
                .filter(|i| cl[*i] as usize == *k)
                .map(|i| rows.group[i])
                .collect();
            gs.contains(&0) && gs.contains(&1)
        })
        .count();
    assert_eq!(mixed, 200);
    let s = cluster_metric(&truth, "spend");
    assert_eq!(s.effects[0].design_effect, Some(1.0));
    assert!(s.groups[0].design_effect.is_none());
}

const TIMED: &str = r#"
id = "timed"
seed = 9
customers = 300000
start_date = 2026-11-02
days = 14
[groups]
control = 1
treatment = 1
[metrics.spend]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { lift = 0.05 }
[metrics.converted]
distribution = "bernoulli"
control = { p = 0.1 }
treatment = { lift_abs = 0.01 }
[time]
weekdays = { mon = 0.8, fri = 1.3, sat = 1.8, sun = 1.6 }
novelty = { boost = 2.0, half_life = 3 }
"#;

#[test]
fn arrivals_come_in_order_with_the_weekday_shares() {
    let (truth, rows) = generate(TIMED);
    let t = truth.time.as_ref().expect("time truth");
    assert_eq!(t.days.len(), 14);
    let n = rows.len() as f64;
    let weight = |d: &str| match d {
        "mon" => 0.8,
        "fri" => 1.3,
        "sat" => 1.8,
        "sun" => 1.6,
        _ => 1.0,
    };
    let total: f64 = t.days.iter().map(|d| weight(&d.weekday)).sum();
    for day in &t.days {
        let p = weight(&day.weekday) / total;
        let se = (p * (1.0 - p) / n).sqrt();
        let share = day.customers as f64 / n;
        assert!((share - p).abs() < Z * se, "{}: {share} vs {p}", day.date);
    }
    assert_eq!(t.days.iter().map(|d| d.customers).sum::<u64>(), 300_000);
    assert_eq!(t.days[0].weekday, "mon");
}

#[test]
fn each_day_has_its_true_effect() {
    let (truth, rows) = generate(TIMED);
    let t = truth.time.as_ref().unwrap();
    // Rows arrive in order: day d's customers are the next `customers` rows.
    let mut start = 0usize;
    for name in ["spend", "converted"] {
        let e = t.effects.iter().find(|e| e.metric == name).unwrap();
        let whole = metric(&truth, name).effects[0].abs_effect;
        assert!((e.whole_run - whole).abs() < 1e-9 * whole.abs(), "{name}");
        assert!(e.daily[0] > 2.5 * e.daily[13], "{name}: {:?}", e.daily);
    }
    let x = rows.col("spend");
    let e = t.effects.iter().find(|e| e.metric == "spend").unwrap();
    for (d, day) in t.days.iter().enumerate() {
        let range = start..start + day.customers as usize;
        start = range.end;
        let pick = |g: usize| -> Vec<f64> {
            range
                .clone()
                .filter(|i| rows.group[*i] == g)
                .map(|i| x[i])
                .collect()
        };
        let (c, tr) = (Summary::of(&pick(0)), Summary::of(&pick(1)));
        let se = (c.se_mean().powi(2) + tr.se_mean().powi(2)).sqrt();
        let got = tr.mean - c.mean;
        assert!(
            (got - e.daily[d]).abs() < Z * se,
            "day {d}: effect {got} vs {} (se {se})",
            e.daily[d]
        );
    }
}

/// The ICC of `g` by brute force: `pairs` pairs of customers of one cluster, their normal
/// scores of correlation `rho`, each drawing its segment cell independently (`cells`:
/// probability and inverse CDF), and the sample correlation of their values; with its
/// standard error (Fisher's z).
fn simulated_icc(cells: &[(f64, &dyn Fn(f64) -> f64)], rho: f64, pairs: usize) -> (f64, f64) {
    use rand::{RngExt, SeedableRng};
    use rand_distr::{Distribution, StandardNormal};
    use statrs::distribution::{ContinuousCDF, Normal};
    let phi = Normal::standard();
    let mut r = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
    let draw = |shared: f64, r: &mut rand_xoshiro::Xoshiro256PlusPlus| {
        let e: f64 = StandardNormal.sample(r);
        let u = phi.cdf(rho.sqrt() * shared + (1.0 - rho).sqrt() * e);
        let mut pick: f64 = r.random();
        for (p, g) in cells {
            if pick < *p {
                return g(u);
            }
            pick -= p;
        }
        (cells.last().unwrap().1)(u)
    };
    let (mut x, mut y) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    for _ in 0..pairs {
        let b: f64 = StandardNormal.sample(&mut r);
        x.push(draw(b, &mut r));
        y.push(draw(b, &mut r));
    }
    // Both members of a pair have one law: the pooled correlation is the ICC.
    let all: Vec<f64> = x.iter().chain(&y).copied().collect();
    let s = Summary::of(&all);
    let cov = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - s.mean) * (b - s.mean))
        .sum::<f64>()
        / pairs as f64;
    let icc = cov / s.var;
    (icc, (1.0 - icc * icc) / (pairs as f64).sqrt())
}

#[test]
fn the_icc_truth_agrees_with_brute_force_simulation() {
    use statrs::distribution::{ContinuousCDF, DiscreteCDF, Gamma, Poisson};
    let truth = crate::common::resolve(CLUSTERED).truth();
    // visits: zero-inflated (0.3) Poisson with offset 1; λ 3 (mobile, 2/3) or 6 (desktop),
    // treatment 3.3 and 6.5.
    let inflated = |lambda: f64| {
        move |u: f64| {
            if u < 0.3 {
                0.0
            } else {
                let v = ((u - 0.3) / 0.7).min(1.0 - 1e-16);
                Poisson::new(lambda).unwrap().inverse_cdf(v) as f64 + 1.0
            }
        }
    };
    let t = cluster_metric(&truth, "visits");
    for (g, (mobile, desktop)) in [(3.0, 6.0), (3.3, 6.5)].into_iter().enumerate() {
        let (m, d) = (inflated(mobile), inflated(desktop));
        let cells: [(f64, &dyn Fn(f64) -> f64); 2] = [(2.0 / 3.0, &m), (1.0 / 3.0, &d)];
        let (icc, se) = simulated_icc(&cells, 0.1, 400_000);
        let truth = t.groups[g].icc.unwrap();
        assert!(
            (icc - truth).abs() < Z * se,
            "visits {g}: {icc} vs {truth} (se {se})"
        );
        // The values' ICC is well below the scores' (the atom and the steps dilute it).
        assert!(truth < 0.09, "{truth}");
    }
    let spend = |u: f64| Gamma::new(2.0, 0.1).unwrap().inverse_cdf(u);
    let cells: [(f64, &dyn Fn(f64) -> f64); 1] = [(1.0, &spend)];
    let (icc, se) = simulated_icc(&cells, 0.3, 400_000);
    let truth = cluster_metric(&truth, "spend").groups[0].icc.unwrap();
    assert!(
        (icc - truth).abs() < Z * se,
        "spend: {icc} vs {truth} (se {se})"
    );
    assert!(truth < 0.295, "{truth}");
}

const RATIOS: &str = r#"
id = "ratios"
seed = 3
customers = 200000
start_date = 2026-11-02
days = 7
[groups]
control = 1
treatment = 1
[attributes.device]
mobile = 3
desktop = 1
[metrics.revenue]
distribution = "gamma"
control = { shape = 2, scale = 30 }
treatment = { lift = 0.05 }
[[metrics.revenue.segments]]
when = { device = "desktop" }
control = { shape = 2, scale = 60 }
treatment = { shape = 2, scale = 66 }
[metrics.orders]
distribution = "poisson"
offset = 1
control = { lambda = 1.5 }
treatment = { lambda = 1.5 }
[[metrics.orders.segments]]
when = { device = "desktop" }
control = { lambda = 3 }
treatment = { lambda = 3 }
[metrics.minutes]
distribution = "lognormal"
control = { mu = 2, sigma = 0.5 }
treatment = { mu = 2, sigma = 0.5 }
[[ratios]]
numerator = "revenue"
denominator = "orders"
[[ratios]]
numerator = "orders"
denominator = "minutes"
[[ratios]]
numerator = "minutes"
denominator = "revenue"
"#;

#[test]
fn ratio_metrics_have_their_true_values() {
    let (truth, rows) = generate(RATIOS);
    assert_eq!(truth.ratios.len(), 3);
    for r in &truth.ratios {
        let (n, d) = (rows.col(&r.numerator), rows.col(&r.denominator));
        for (g, rg) in r.groups.iter().enumerate() {
            let idx: Vec<usize> = (0..rows.len()).filter(|i| rows.group[*i] == g).collect();
            let ratios: Vec<f64> = idx.iter().map(|i| n[*i] / d[*i]).collect();
            let s = Summary::of(&ratios);
            let want = rg.mean_of_ratios.expect("defined");
            assert!(rg.mean_of_ratios_error.unwrap() < 1e-8 * want.abs());
            assert!(
                (s.mean - want).abs() < Z * s.se_mean(),
                "{}/{} in {}: mean of ratios {} vs {want}",
                r.numerator,
                r.denominator,
                rg.group,
                s.mean
            );
            let (sn, sd) = (
                Summary::of(&idx.iter().map(|i| n[*i]).collect::<Vec<_>>()),
                Summary::of(&idx.iter().map(|i| d[*i]).collect::<Vec<_>>()),
            );
            let ratio = sn.mean / sd.mean;
            let want = rg.ratio_of_means.unwrap();
            // Delta method: the ratio's sd is at most that of N/μD plus that of μN·D/μD².
            let se = sn.se_mean() / sd.mean + sn.mean * sd.se_mean() / (sd.mean * sd.mean);
            assert!(
                (ratio - want).abs() < Z * se,
                "ratio of means {ratio} vs {want}"
            );
        }
    }
    // minutes / revenue: a gamma of shape 2 has E[1/X] = 1/scale per segment.
    let mr = &truth.ratios[2].groups[0];
    let e_minutes = (2.0f64 + 0.125).exp();
    let want = e_minutes * (0.75 / 30.0 + 0.25 / 60.0);
    assert!((mr.mean_of_ratios.unwrap() - want).abs() < 1e-12 * want);
    assert!(!truth.ratios[0].effects[0].null.unwrap());
    assert!(truth.ratios[1].effects[0].null.unwrap());
}

#[test]
fn a_mean_of_ratios_is_not_given_where_it_is_not_defined() {
    let toml = RATIOS.replace("offset = 1\n", "")
        + "[[ratios]]\nnumerator = \"minutes\"\ndenominator = \"orders\"\n";
    let truth = crate::common::resolve(&toml).truth();
    let r = truth
        .ratios
        .iter()
        .find(|r| r.denominator == "orders")
        .unwrap();
    assert!(r.groups[0].mean_of_ratios.is_none(), "orders can be 0");
    assert!(r.groups[0].ratio_of_means.is_some());
}
