//! The tests of a comparison that need more than the metric's two samples, added to what
//! [`abforge_stats::analyze_arms`] computed: CUPED on the metric's own `pre_<metric>`
//! column, Lin's regression on every `pre_*` column, the cluster-robust difference of means
//! on the cluster ids, the quantiles asked for, Welch's test on capped values when asked for,
//! a group-sequential test replayed over the rows when asked for, and the Bayesian comparison
//! under a prior given for the metric. A test that applies but fails is recorded in the comparison's
//! `errors` under its name, as the others are.

use crate::error::{Result, invalid, invalid_value};
use crate::input::{Dataset, MetricData};
use crate::report::SequentialPlan;
use abforge_stats::{
    Arm, ArmComparison, BayesOptions, Covariance, EffectPrior, Hypothesis, LinOptions, MetricKind,
    MetricPrior, PRIOR_FORMS, PriorLaw, ReferenceLaw, Summary, WinsorOptions, beta_binomial,
    gsd_means, lin_regression, normal_means, quantile_test, winsorized_welch,
};
use std::collections::BTreeMap;

/// The most quantile probabilities an analysis takes (each is a sort of every continuous
/// metric's groups, per arm).
pub const MAX_QUANTILES: usize = 20;

/// The largest cluster id: ids are read as numbers, exact up to 2⁵³.
const MAX_CLUSTER_ID: f64 = 9_007_199_254_740_992.0;

/// The key of the test of the `p`-quantile in `errors` and in the decisions:
/// `quantile_<p>`, `p` written as it reads back (`quantile_0.9`).
pub fn quantile_key(p: f64) -> String {
    format!("quantile_{p}")
}

/// What the extra tests read: the data, the control group, the hypothesis and the options.
pub(crate) struct Extra<'a> {
    pub ds: &'a Dataset,
    pub control: usize,
    pub h: Hypothesis,
    /// The quantiles besides the median, increasing.
    pub quantiles: Vec<f64>,
    pub priors: &'a [MetricPrior],
    /// The caps of the winsorised Welch test, when asked for.
    pub winsorize: Option<WinsorOptions>,
    /// The plan of the group-sequential test, when asked for.
    pub group_sequential: Option<SequentialPlan>,
    /// The cluster ids by group, when the data has a cluster column.
    pub clusters: Option<Vec<Vec<u64>>>,
}

impl Extra<'_> {
    /// Adds every extra test that applies to each comparison.
    pub fn add(&self, comparisons: &mut [ArmComparison]) -> Result<()> {
        for c in comparisons {
            let (Some(y), Some(arm)) = (self.ds.column(&c.analysis.metric), self.ds.group(&c.arm))
            else {
                continue;
            };
            self.cuped(c, y, arm);
            self.regression(c, y, arm);
            self.cluster_robust(c, y, arm);
            self.quantiles(c, y, arm);
            self.winsorized(c, y, arm);
            self.group_sequential(c, y, arm);
            self.prior(c, y, arm)?;
        }
        Ok(())
    }

    /// CUPED on the metric's own `pre_<metric>` column.
    fn cuped(&self, c: &mut ArmComparison, y: &MetricData, arm: usize) {
        let Some(x) = self.ds.column(&format!("pre_{}", y.name)) else {
            return;
        };
        let r = abforge_stats::cuped(
            &y.by_group[arm],
            &x.by_group[arm],
            &y.by_group[self.control],
            &x.by_group[self.control],
            &self.h,
        );
        record(
            &mut c.analysis.tests.cuped,
            &mut c.analysis.errors,
            "cuped",
            r,
        );
    }

    /// Lin's interacted regression on every `pre_*` column but the metric itself, HC2 and
    /// Student t.
    fn regression(&self, c: &mut ArmComparison, y: &MetricData, arm: usize) {
        let covariates: Vec<&MetricData> = self
            .ds
            .metrics
            .iter()
            .filter(|m| m.name.starts_with("pre_") && m.name != y.name)
            .collect();
        if covariates.is_empty() {
            return;
        }
        let names: Vec<&str> = covariates.iter().map(|m| m.name.as_str()).collect();
        let of = |g: usize| -> Vec<&[f64]> {
            covariates
                .iter()
                .map(|m| m.by_group[g].as_slice())
                .collect()
        };
        let (xt, xc) = (of(arm), of(self.control));
        let o = LinOptions {
            hypothesis: self.h,
            covariance: Covariance::Hc2,
            reference: ReferenceLaw::StudentT,
            interact: true,
            covariate_names: &names,
        };
        let r = lin_regression(
            &Arm {
                outcome: &y.by_group[arm],
                covariates: &xt,
                clusters: None,
            },
            &Arm {
                outcome: &y.by_group[self.control],
                covariates: &xc,
                clusters: None,
            },
            &o,
        );
        let (tests, errors) = (&mut c.analysis.tests, &mut c.analysis.errors);
        record(&mut tests.regression_hc2, errors, "regression_hc2", r);
    }

    /// The difference of means with the CR2 standard error on the cluster ids.
    fn cluster_robust(&self, c: &mut ArmComparison, y: &MetricData, arm: usize) {
        let Some(ids) = &self.clusters else {
            return;
        };
        let o = LinOptions {
            hypothesis: self.h,
            covariance: Covariance::Cr2,
            reference: ReferenceLaw::StudentT,
            interact: true,
            covariate_names: &[],
        };
        let r = lin_regression(
            &Arm {
                outcome: &y.by_group[arm],
                covariates: &[],
                clusters: Some(&ids[arm]),
            },
            &Arm {
                outcome: &y.by_group[self.control],
                covariates: &[],
                clusters: Some(&ids[self.control]),
            },
            &o,
        );
        let (tests, errors) = (&mut c.analysis.tests, &mut c.analysis.errors);
        record(&mut tests.cluster_robust, errors, "cluster_robust", r);
    }

    /// The quantile tests asked for, on continuous metrics, testing equal quantiles.
    fn quantiles(&self, c: &mut ArmComparison, y: &MetricData, arm: usize) {
        if c.analysis.kind != MetricKind::Continuous {
            return;
        }
        let h = Hypothesis {
            null: None,
            ..self.h
        };
        for &p in &self.quantiles {
            match quantile_test(&y.by_group[arm], &y.by_group[self.control], p, &h) {
                Ok(r) => c.analysis.tests.quantiles.push(r),
                Err(e) => {
                    c.analysis.errors.insert(quantile_key(p), e.to_string());
                }
            }
        }
    }

    /// Welch's test on the values capped at the pooled quantiles, on metrics that are not
    /// 0/1 (capping a 0/1 metric changes nothing or everything).
    fn winsorized(&self, c: &mut ArmComparison, y: &MetricData, arm: usize) {
        let Some(w) = &self.winsorize else {
            return;
        };
        if c.analysis.kind == MetricKind::Binary {
            return;
        }
        let r = winsorized_welch(&y.by_group[arm], &y.by_group[self.control], w, &self.h);
        let (tests, errors) = (&mut c.analysis.tests, &mut c.analysis.errors);
        record(&mut tests.winsorized_welch, errors, "winsorized_welch", r);
    }

    /// The group-sequential test replayed over the rows in file order, on equal means (no
    /// margin) under the analysis's alternative.
    fn group_sequential(&self, c: &mut ArmComparison, y: &MetricData, arm: usize) {
        let Some(g) = &self.group_sequential else {
            return;
        };
        let r = gsd_means(
            &y.by_group[arm],
            &y.by_group[self.control],
            g.looks,
            self.h.alpha,
            self.h.alternative,
            g.boundary,
        );
        let (tests, errors) = (&mut c.analysis.tests, &mut c.analysis.errors);
        record(&mut tests.group_sequential, errors, "group_sequential", r);
    }

    /// The Bayesian comparison again, under the prior given for the metric.
    fn prior(&self, c: &mut ArmComparison, y: &MetricData, arm: usize) -> Result<()> {
        let Some(prior) = self.priors.iter().find(|p| p.metric == y.name) else {
            return Ok(());
        };
        let binary = c.analysis.kind == MetricKind::Binary;
        let opts = BayesOptions {
            alpha: self.h.alpha,
            ..BayesOptions::default()
        };
        let (t, ctl) = (
            Summary::from_slice(&y.by_group[arm]),
            Summary::from_slice(&y.by_group[self.control]),
        );
        let r = match (prior.law, binary) {
            (PriorLaw::Beta { a, b }, true) => {
                let (xt, xc) = (t.sum().round() as u64, ctl.sum().round() as u64);
                let opts = BayesOptions {
                    prior: (a, b),
                    ..opts
                };
                beta_binomial(xt, t.n, xc, ctl.n, &opts)
            }
            (PriorLaw::Normal { mean, sd }, false) => {
                let opts = BayesOptions {
                    effect_prior: Some(EffectPrior { mean, sd }),
                    ..opts
                };
                normal_means(&t, &ctl, &opts)
            }
            _ => {
                let kind = if binary {
                    "a 0/1 metric"
                } else {
                    "not a 0/1 metric"
                };
                return Err(invalid_value(
                    "priors",
                    format!("{}={p}", y.name, p = prior.law),
                    format!("{:?} is {kind}; expected {PRIOR_FORMS}", y.name),
                ));
            }
        };
        c.analysis.errors.remove("bayes");
        c.analysis.tests.bayes = None;
        record(
            &mut c.analysis.tests.bayes,
            &mut c.analysis.errors,
            "bayes",
            r,
        );
        Ok(())
    }
}

/// Checks that every prior names an analysed metric (once) and has allowed numbers.
pub(crate) fn check_priors(priors: &[MetricPrior], ds: &Dataset) -> Result<()> {
    let metrics: Vec<&str> = ds.metrics[..ds.analyzed]
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    for (i, p) in priors.iter().enumerate() {
        let m = &p.metric;
        let value = format!("{m}={}", p.law);
        if let Err(why) = p.law.check() {
            return Err(invalid_value(
                "priors",
                value,
                format!("{why}; expected {PRIOR_FORMS}"),
            ));
        }
        if !metrics.contains(&m.as_str()) {
            return Err(invalid_value(
                "priors",
                value,
                format!(
                    "{m:?} is not a metric analysed; the metrics are {}",
                    metrics.join(", ")
                ),
            ));
        }
        if priors[..i].iter().any(|x| x.metric == *m) {
            return Err(invalid_value(
                "priors",
                value,
                format!("{m:?} has two priors"),
            ));
        }
    }
    Ok(())
}

/// The cluster ids of the cluster column read, by group: whole numbers from 0 to 2⁵³.
pub(crate) fn cluster_ids(ds: &Dataset, name: &str) -> Result<Option<Vec<Vec<u64>>>> {
    let Some(col) = ds.column(name) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(col.by_group.len());
    for (g, values) in col.by_group.iter().enumerate() {
        let bad = values
            .iter()
            .find(|&&v| !((0.0..=MAX_CLUSTER_ID).contains(&v) && v.fract() == 0.0));
        if let Some(v) = bad {
            return Err(invalid(
                "cluster_column",
                format!(
                    "column {name:?} holds {v} in group {:?}; expected whole-number cluster \
                     ids from 0 to 2^53",
                    ds.labels[g]
                ),
            ));
        }
        out.push(values.iter().map(|&v| v as u64).collect());
    }
    Ok(Some(out))
}

/// Records a test's result, or its failure in `errors` under `name`.
fn record<T>(
    slot: &mut Option<T>,
    errors: &mut BTreeMap<String, String>,
    name: &str,
    r: abforge_stats::Result<T>,
) {
    match r {
        Ok(v) => {
            *slot = Some(v);
        }
        Err(e) => {
            errors.insert(name.to_owned(), e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SequentialPlan;
    use crate::report::tests::{check_decisions, dataset, generator};
    use crate::{Options, analyze};
    use abforge_stats::{Alternative, Boundary, Error as StatsError, cuped};

    /// A dataset of two groups (control first) with the given columns, the first
    /// `analyzed` of them metrics.
    fn data(columns: Vec<(&str, Vec<f64>, Vec<f64>)>, analyzed: usize) -> Dataset {
        Dataset {
            labels: vec!["control".into(), "treatment".into()],
            counts: vec![columns[0].1.len() as u64, columns[0].2.len() as u64],
            metrics: columns
                .into_iter()
                .map(|(name, c, t)| MetricData {
                    name: name.into(),
                    by_group: vec![c, t],
                })
                .collect(),
            analyzed,
            blueprint: None,
        }
    }

    /// `n` deterministic pseudo-random numbers in [0, 1).
    fn uniform(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn quantiles_are_the_direct_tests_judged_against_the_truths_quantiles() {
        let g = generator("quantile_effect.toml", 4000);
        let mut opts = Options::new("q");
        // 0.8 is not among the blueprint's quantiles; 0.5 is the median, tested anyway.
        opts.quantiles = vec![0.8, 0.5, 0.25, 0.8];
        let ds = dataset(&g, &opts);
        let r = analyze(&opts, &ds).unwrap();
        let d = check_decisions(&r);
        let y = ds.column("revenue").unwrap();
        let (t, c) = (
            &y.by_group[ds.group("treatment").unwrap()],
            &y.by_group[ds.group("control").unwrap()],
        );
        let h = Hypothesis::two_sided(0.05);
        let tests = &r.metrics[0].analysis.tests;
        assert_eq!(
            tests.quantile_median,
            Some(quantile_test(t, c, 0.5, &h).unwrap())
        );
        let ps: Vec<f64> = tests.quantiles.iter().map(|q| q.p).collect();
        assert_eq!(ps, [0.25, 0.8]);
        assert_eq!(tests.quantiles[1], quantile_test(t, c, 0.8, &h).unwrap());
        // The truth of p = 0.8, computed as the analysis does: the blueprint's list plus it.
        let mut bp = g.resolved().blueprint.clone();
        bp.quantiles = vec![0.8];
        let truth = bp.resolve().unwrap().truth();
        let q80 = truth.metrics[0].effects[0].quantile_effects[0];
        assert!(!q80.null && q80.difference > 0.0, "{q80:?}");
        let row = |name: &str| d.iter().find(|x| x.test == name).unwrap();
        let x = row("quantile_0.8");
        assert_eq!(x.estimate, Some(tests.quantiles[1].estimate));
        assert_eq!(x.true_effect, Some(q80.difference));
        assert_eq!(x.null_true, Some(false));
        // The treatment spreads revenue out: the medians are equal in truth.
        let m = row("quantile_median");
        assert_eq!((m.null_true, m.true_effect), (Some(true), Some(0.0)));
        assert!(m.outcome.is_some());
    }

    #[test]
    fn a_quantile_on_an_atom_is_an_error_of_that_test_alone() {
        // 40 % zeros: the 0.3 quantile is the atom 0, the median and p90 are not.
        let spend = |seed| -> Vec<f64> {
            let u = uniform(500, seed);
            u.iter()
                .zip(uniform(500, seed + 7))
                .map(|(&z, v)| if z < 0.4 { 0.0 } else { 10.0 + 50.0 * v })
                .collect()
        };
        let ds = data(vec![("spend", spend(1), spend(2))], 1);
        let mut opts = Options::new("atoms");
        opts.quantiles = vec![0.3, 0.9];
        let r = analyze(&opts, &ds).unwrap();
        let a = &r.metrics[0].analysis;
        let (t, c) = (&ds.metrics[0].by_group[1], &ds.metrics[0].by_group[0]);
        let refusal = quantile_test(t, c, 0.3, &Hypothesis::default()).unwrap_err();
        assert!(matches!(refusal, StatsError::QuantileOnAtom { .. }));
        assert_eq!(a.errors["quantile_0.3"], refusal.to_string());
        assert!(a.errors["quantile_0.3"].contains("sits on an atom"));
        let ps: Vec<f64> = a.tests.quantiles.iter().map(|q| q.p).collect();
        assert_eq!(ps, [0.9]);
        assert!(a.tests.quantile_median.is_some() && a.tests.welch_t.is_some());
        // Probabilities out of (0, 1), or too many, are bad options.
        for bad in [
            vec![1.0],
            vec![0.0],
            vec![f64::NAN],
            vec![0.5; MAX_QUANTILES + 1],
        ] {
            opts.quantiles = bad;
            let e = analyze(&opts, &ds).unwrap_err();
            assert_eq!(e.invalid().unwrap().field, "quantiles", "{e}");
        }
    }

    #[test]
    fn the_regression_uses_every_pre_period_column() {
        let n = 300;
        let col = |seed| uniform(n, seed);
        let (xc, zc, xt, zt) = (col(1), col(2), col(3), col(4));
        let noise = |seed| col(seed).into_iter().map(|e| 0.5 * e);
        let y = |x: &[f64], z: &[f64], shift: f64, seed| -> Vec<f64> {
            x.iter()
                .zip(z)
                .zip(noise(seed))
                .map(|((x, z), e)| 2.0 * x - 3.0 * z + e + shift)
                .collect()
        };
        let (yc, yt) = (y(&xc, &zc, 0.0, 5), y(&xt, &zt, 0.4, 6));
        let ds = data(
            vec![
                ("spend", yc.clone(), yt.clone()),
                ("pre_spend", xc.clone(), xt.clone()),
                ("pre_visits", zc.clone(), zt.clone()),
            ],
            1,
        );
        let r = analyze(&Options::new("reg"), &ds).unwrap();
        let a = &r.metrics[0].analysis;
        let o = LinOptions {
            covariance: Covariance::Hc2,
            reference: ReferenceLaw::StudentT,
            covariate_names: &["pre_spend", "pre_visits"],
            ..LinOptions::default()
        };
        let (cov_t, cov_c): ([&[f64]; 2], [&[f64]; 2]) = ([&xt, &zt], [&xc, &zc]);
        let want = lin_regression(
            &Arm {
                outcome: &yt,
                covariates: &cov_t,
                clusters: None,
            },
            &Arm {
                outcome: &yc,
                covariates: &cov_c,
                clusters: None,
            },
            &o,
        )
        .unwrap();
        assert_eq!(a.tests.regression_hc2.as_ref(), Some(&want));
        assert_eq!(want.coefficients.len(), 6);
        // Both covariates explain the noise away: far tighter than Welch, and than CUPED on
        // the metric's own covariate alone (which it still runs, as before).
        let welch = a.tests.welch_t.unwrap();
        let c = a.tests.cuped.as_ref().unwrap();
        assert_eq!(
            c,
            &cuped(&yt, &xt, &yc, &xc, &Hypothesis::default()).unwrap()
        );
        assert!(
            want.std_error < 0.5 * c.adjusted.std_error,
            "{want:?} {c:?}"
        );
        assert!(c.adjusted.std_error < welch.std_error);
        // A constant covariate is refused for this test only.
        let ds = data(
            vec![
                ("spend", yc, yt),
                ("pre_visits", vec![1.0; n], vec![1.0; n]),
            ],
            1,
        );
        let a = &analyze(&Options::new("reg"), &ds).unwrap().metrics[0].analysis;
        assert!(
            a.errors["regression_hc2"].contains("pre_visits"),
            "{:?}",
            a.errors
        );
        assert!(a.tests.welch_t.is_some() && a.tests.cuped.is_none());
    }

    #[test]
    fn clustered_data_gets_the_cr2_test_beside_welch() {
        let g = generator("clustered_stores.toml", 4000);
        let opts = Options::new("stores");
        let ds = dataset(&g, &opts);
        let r = analyze(&opts, &ds).unwrap();
        check_decisions(&r);
        let ids = cluster_ids(&ds, "cluster_id").unwrap().unwrap();
        let (t, c) = (ds.group("treatment").unwrap(), ds.group("control").unwrap());
        for e in &r.metrics {
            let y = ds.column(&e.analysis.metric).unwrap();
            let o = LinOptions {
                covariance: Covariance::Cr2,
                ..LinOptions::default()
            };
            let arm = |g: usize| Arm {
                outcome: &y.by_group[g],
                covariates: &[],
                clusters: Some(&ids[g]),
            };
            let want = lin_regression(&arm(t), &arm(c), &o).unwrap();
            let got = e.analysis.tests.cluster_robust.as_ref().unwrap();
            assert_eq!(got, &want);
            assert!(want.clusters.is_some_and(|k| k > 100) && want.df < 400.0);
            let welch = e.analysis.tests.welch_t.unwrap();
            assert!((want.estimate - welch.estimate).abs() < 1e-9);
            let truth = e.truth.as_ref().unwrap();
            assert_eq!(
                truth.decisions.contains_key("cluster_robust"),
                truth.decisions.contains_key("welch_t")
            );
        }
        // A named column that is not there, or ids that are not whole numbers, are bad.
        let mut o = opts.clone();
        o.cluster_column = Some("store".into());
        let batches: Vec<_> = g.chunks(None).unwrap().map(|c| g.chunk(c)).collect();
        let e = Dataset::from_batches("s", &g.schema(), batches, &o.columns(), None).unwrap_err();
        assert_eq!(e.invalid().unwrap().field, "cluster_column");
        assert!(e.to_string().contains("no such column in s"), "{e}");
        let mut bad = ds.clone();
        let col = bad
            .metrics
            .iter_mut()
            .find(|m| m.name == "cluster_id")
            .unwrap();
        col.by_group[0][3] = 2.5;
        let e = analyze(&opts, &bad).unwrap_err();
        assert_eq!(e.invalid().unwrap().field, "cluster_column");
        assert!(e.to_string().contains("holds 2.5"), "{e}");
    }

    #[test]
    fn priors_replace_the_bayesian_comparison_of_their_metric() {
        let u = |seed| uniform(400, seed);
        let conv = |seed, rate| -> Vec<f64> {
            u(seed)
                .into_iter()
                .map(|x| f64::from(u8::from(x < rate)))
                .collect()
        };
        let ds = data(
            vec![
                ("converted", conv(1, 0.1), conv(2, 0.13)),
                ("spend", u(3), u(4).into_iter().map(|x| x + 0.05).collect()),
            ],
            2,
        );
        let mut opts = Options::new("priors");
        let effect = EffectPrior {
            mean: 0.0,
            sd: 0.01,
        };
        let normal = PriorLaw::Normal {
            mean: effect.mean,
            sd: effect.sd,
        };
        let beta = |a, b| PriorLaw::Beta { a, b };
        let prior = |metric: &str, law| MetricPrior {
            metric: metric.into(),
            law,
        };
        opts.priors = vec![prior("spend", normal), prior("converted", beta(2.0, 18.0))];
        let r = analyze(&opts, &ds).unwrap();
        let summaries = |m: usize| {
            let s = |g: usize| Summary::from_slice(&ds.metrics[m].by_group[g]);
            (s(1), s(0))
        };
        let (t, c) = summaries(1);
        let want = normal_means(
            &t,
            &c,
            &BayesOptions {
                effect_prior: Some(effect),
                ..BayesOptions::default()
            },
        )
        .unwrap();
        assert_eq!(r.metrics[1].analysis.tests.bayes, Some(want));
        // A tight prior at 0 pulls the difference towards 0.
        assert!(want.estimate.abs() < r.metrics[1].analysis.tests.welch_t.unwrap().estimate.abs());
        let (t, c) = summaries(0);
        let sum = |s: &Summary| s.sum().round() as u64;
        let o = BayesOptions {
            prior: (2.0, 18.0),
            ..BayesOptions::default()
        };
        let want = beta_binomial(sum(&t), t.n, sum(&c), c.n, &o).unwrap();
        assert_eq!(r.metrics[0].analysis.tests.bayes, Some(want));
        // The wrong form for the metric, an unknown metric, bad numbers, a metric twice.
        let bad = |priors: Vec<(&str, PriorLaw)>, needle: &str| {
            let mut o = opts.clone();
            o.priors = priors.into_iter().map(|(m, p)| prior(m, p)).collect();
            let e = analyze(&o, &ds).unwrap_err();
            assert!(e.is_usage());
            assert_eq!(e.invalid().unwrap().field, "priors");
            let text = e.to_string();
            assert!(text.contains(needle) && text.contains("priors"), "{text}");
        };
        bad(vec![("converted", normal)], "\"converted\" is a 0/1 metric");
        bad(
            vec![("spend", beta(1.0, 1.0))],
            "beta:A,B (A, B > 0; 0/1 metrics)",
        );
        bad(vec![("revenue", beta(1.0, 1.0))], "not a metric analysed");
        bad(vec![("converted", beta(0.0, 1.0))], "METRIC=normal:MEAN,SD");
        bad(
            vec![("spend", PriorLaw::Normal { mean: 0.0, sd: 0.0 })],
            "the sd finite and > 0",
        );
        let twice = vec![("spend", normal), ("spend", normal)];
        bad(twice, "has two priors");
    }

    #[test]
    fn winsorized_welch_runs_on_request_on_metrics_that_are_not_0_1() {
        let u = |seed| uniform(500, seed);
        let tail = |seed| -> Vec<f64> { u(seed).into_iter().map(|x| 1.0 / (1.0 - x)).collect() };
        let conv = |seed| -> Vec<f64> {
            u(seed)
                .into_iter()
                .map(|x| f64::from(u8::from(x < 0.2)))
                .collect()
        };
        let ds = data(
            vec![("spend", tail(1), tail(2)), ("converted", conv(3), conv(4))],
            2,
        );
        let mut opts = Options::new("winsor");
        let r = analyze(&opts, &ds).unwrap();
        assert!(
            r.metrics
                .iter()
                .all(|e| e.analysis.tests.winsorized_welch.is_none())
        );
        let w = WinsorOptions {
            lower: Some(0.01),
            upper: Some(0.95),
        };
        opts.winsorize = Some(w);
        let r = analyze(&opts, &ds).unwrap();
        let spend = &r.metrics[0].analysis.tests;
        let want = winsorized_welch(
            &ds.metrics[0].by_group[1],
            &ds.metrics[0].by_group[0],
            &w,
            &Hypothesis::two_sided(0.05),
        )
        .unwrap();
        assert_eq!(spend.winsorized_welch, Some(want));
        assert!(want.capped_treatment + want.capped_control >= 50);
        // Capping cuts the heavy tail's variance: a narrower interval than Welch's.
        let welch = spend.welch_t.unwrap();
        assert!(want.test.ci_high - want.test.ci_low < welch.ci_high - welch.ci_low);
        assert!(r.metrics[1].analysis.tests.winsorized_welch.is_none());
        // Levels outside (0, 1), no tail, crossed levels.
        for (lower, upper, needle) in [
            (None, Some(1.0), "strictly between 0 and 1"),
            (Some(0.0), Some(0.9), "strictly between 0 and 1"),
            (None, None, "no tail to cap"),
            (Some(0.9), Some(0.1), "is not below the upper level"),
        ] {
            opts.winsorize = Some(WinsorOptions { lower, upper });
            let e = analyze(&opts, &ds).unwrap_err();
            assert_eq!(e.invalid().map(|i| i.field), Some("winsorize"), "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn the_group_sequential_test_replays_the_rows_in_order() {
        let u = |seed| uniform(600, seed);
        let shifted = |seed, by: f64| -> Vec<f64> { u(seed).into_iter().map(|x| x + by).collect() };
        let ds = data(vec![("a", u(1), shifted(2, 0.2)), ("b", u(3), u(4))], 2);
        let mut opts = Options::new("gsd");
        opts.group_sequential = Some(SequentialPlan {
            looks: 5,
            boundary: Boundary::LanDemetsObrienFleming,
        });
        let r = analyze(&opts, &ds).unwrap();
        for (e, m) in r.metrics.iter().zip(&ds.metrics) {
            let want = gsd_means(
                &m.by_group[1],
                &m.by_group[0],
                5,
                0.05,
                Alternative::TwoSided,
                Boundary::LanDemetsObrienFleming,
            )
            .unwrap();
            assert_eq!(e.analysis.tests.group_sequential.as_ref(), Some(&want));
        }
        let a = r.metrics[0]
            .analysis
            .tests
            .group_sequential
            .as_ref()
            .unwrap();
        assert!(a.reject && a.stopped_at.is_some_and(|s| s < 5), "{a:?}");
        let b = r.metrics[1]
            .analysis
            .tests
            .group_sequential
            .as_ref()
            .unwrap();
        assert!(!b.reject && b.units_at_stop == 1200);
        // Looks past the design's limit, and an α it does not take.
        opts.group_sequential = Some(SequentialPlan {
            looks: 51,
            boundary: Boundary::LanDemetsPocock,
        });
        let e = analyze(&opts, &ds).unwrap_err();
        assert_eq!(e.invalid().map(|i| i.field), Some("looks"), "{e}");
        opts.group_sequential = Some(SequentialPlan {
            looks: 2,
            boundary: Boundary::LanDemetsPocock,
        });
        opts.alpha = 0.6;
        let e = analyze(&opts, &ds).unwrap_err();
        assert_eq!(e.invalid().map(|i| i.field), Some("alpha"), "{e}");
        // Too few rows for the looks is the test's error, not the analysis's.
        let tiny = data(vec![("a", u(1)[..4].to_vec(), u(2)[..4].to_vec())], 1);
        opts.alpha = 0.05;
        opts.group_sequential = Some(SequentialPlan {
            looks: 5,
            boundary: Boundary::LanDemetsPocock,
        });
        let r = analyze(&opts, &tiny).unwrap();
        let err = &r.metrics[0].analysis.errors["group_sequential"];
        assert!(err.contains("at least 2 at every look"), "{err}");
    }
}
