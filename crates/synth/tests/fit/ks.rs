//! The samplers against their analytical laws (statrs): a one-sample Kolmogorov–Smirnov
//! test for continuous families, a chi-square goodness-of-fit test for integer ones.

use abforge_synth::dist::Dist;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use statrs::distribution::{
    ChiSquared, ContinuousCDF, Discrete, DiscreteCDF, Gamma, LogNormal, NegativeBinomial, Normal,
    Poisson,
};

/// Draws per continuous law.
const N_CONTINUOUS: usize = 20_000;
/// Draws per integer law.
const N_INTEGER: usize = 100_000;
/// The asymptotic 0.1 % critical value of `sqrt(n)·D`.
pub(crate) const KS_CRITICAL: f64 = 1.949;
/// Smallest p-value a correct sampler is allowed.
const ALPHA: f64 = 0.001;

fn draw(d: Dist, n: usize, seed: u64) -> Vec<f64> {
    let sampler = d.sampler();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n).map(|_| sampler.sample(&mut rng)).collect()
}

/// `sup |F_n − F|` of the sample `x` against `cdf`.
pub(crate) fn ks_statistic(mut x: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    assert!(x.iter().all(|v| v.is_finite()), "non-finite draw");
    x.sort_by(f64::total_cmp);
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, v)| {
            let f = cdf(*v);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max)
}

#[track_caller]
fn assert_ks(what: &str, d: Dist, seed: u64, cdf: impl Fn(f64) -> f64) {
    let d_n = ks_statistic(draw(d, N_CONTINUOUS, seed), cdf);
    let critical = KS_CRITICAL / (N_CONTINUOUS as f64).sqrt();
    assert!(
        d_n < critical,
        "{what}: KS statistic {d_n} >= 0.1 % critical value {critical}"
    );
}

#[test]
fn gamma_matches_its_cdf() {
    for (i, (shape, scale)) in [
        (0.5, 1.0),
        (1.0, 3.0),
        (3.7, 0.25),
        (0.5, 40.0),
        (25.0, 2.0),
    ]
    .into_iter()
    .enumerate()
    {
        let law = Gamma::new(shape, 1.0 / scale).expect("valid");
        assert_ks(
            &format!("gamma({shape}, {scale})"),
            Dist::Gamma { shape, scale },
            10 + i as u64,
            |x| {
                if x <= 0.0 { 0.0 } else { law.cdf(x) }
            },
        );
    }
}

#[test]
fn lognormal_matches_its_cdf() {
    for (i, (mu, sigma)) in [(1.0, 0.8), (-2.0, 2.0), (3.0, 1.5)]
        .into_iter()
        .enumerate()
    {
        let law = LogNormal::new(mu, sigma).expect("valid");
        assert_ks(
            &format!("lognormal({mu}, {sigma})"),
            Dist::Lognormal { mu, sigma },
            20 + i as u64,
            |x| {
                if x <= 0.0 { 0.0 } else { law.cdf(x) }
            },
        );
    }
}

#[test]
fn normal_matches_its_cdf() {
    for (i, (mean, sd)) in [(0.0, 1.0), (-3.0, 2.0), (50.0, 20.0)]
        .into_iter()
        .enumerate()
    {
        let law = Normal::new(mean, sd).expect("valid");
        assert_ks(
            &format!("normal({mean}, {sd})"),
            Dist::Normal { mean, sd },
            30 + i as u64,
            |x| law.cdf(x),
        );
    }
}

#[test]
fn ks_statistic_detects_a_wrong_law() {
    // The test itself has power: gamma(3.7) draws against gamma(3.7·1.03)'s CDF fail.
    let law = Gamma::new(3.7 * 1.03, 1.0).expect("valid");
    let d_n = ks_statistic(
        draw(
            Dist::Gamma {
                shape: 3.7,
                scale: 1.0,
            },
            N_CONTINUOUS,
            1,
        ),
        |x| law.cdf(x),
    );
    assert!(d_n > KS_CRITICAL / (N_CONTINUOUS as f64).sqrt(), "{d_n}");
}

/// Chi-square goodness of fit of integer draws against `pmf`/`sf`; bins are consecutive
/// values pooled (the last is the upper tail) so that every expected count is at least 5.
/// Returns the statistic, the degrees of freedom and the p-value.
fn chi_square(x: &[f64], pmf: impl Fn(u64) -> f64, sf: impl Fn(u64) -> f64) -> (f64, f64, f64) {
    let n = x.len() as f64;
    let mut counts: Vec<u64> = Vec::new();
    for v in x {
        assert!(
            *v >= 0.0 && v.fract() == 0.0 && *v < 1e9,
            "not a count: {v}"
        );
        let k = *v as usize;
        if k >= counts.len() {
            counts.resize(k + 1, 0);
        }
        counts[k] += 1;
    }
    // (expected, observed) per bin.
    let mut bins: Vec<(f64, f64)> = Vec::new();
    let (mut e, mut o) = (0.0, 0.0);
    for (k, c) in counts.iter().enumerate() {
        e += n * pmf(k as u64);
        o += *c as f64;
        if e >= 5.0 && n * sf(k as u64) >= 5.0 {
            bins.push((e, o));
            (e, o) = (0.0, 0.0);
        }
    }
    // The upper tail: the values after the last closed bin, observed or not.
    let closed_at = bins.iter().map(|b| b.1).sum::<f64>();
    let tail_o = n - closed_at;
    let tail_e = n - bins.iter().map(|b| b.0).sum::<f64>();
    let tail_e = if bins.is_empty() { n } else { tail_e.max(0.0) };
    if tail_e >= 5.0 || bins.is_empty() {
        bins.push((tail_e, tail_o));
    } else {
        let last = bins.last_mut().expect("a bin");
        last.0 += tail_e;
        last.1 += tail_o;
    }
    assert!(bins.len() >= 2, "one bin only");
    let stat: f64 = bins.iter().map(|(e, o)| (o - e) * (o - e) / e).sum();
    let df = (bins.len() - 1) as f64;
    (stat, df, ChiSquared::new(df).expect("df > 0").sf(stat))
}

#[track_caller]
fn assert_chi_square(what: &str, x: &[f64], pmf: impl Fn(u64) -> f64, sf: impl Fn(u64) -> f64) {
    let (stat, df, p) = chi_square(x, pmf, sf);
    assert!(
        p > ALPHA,
        "{what}: chi-square {stat} on {df} df, p = {p} <= {ALPHA}"
    );
}

#[test]
fn poisson_matches_its_pmf() {
    for (i, lambda) in [0.3, 4.0, 250.0].into_iter().enumerate() {
        let law = Poisson::new(lambda).expect("valid");
        let x = draw(Dist::Poisson { lambda }, N_INTEGER, 40 + i as u64);
        assert_chi_square(
            &format!("poisson({lambda})"),
            &x,
            |k| law.pmf(k),
            |k| law.sf(k),
        );
    }
}

#[test]
fn bernoulli_matches_its_pmf() {
    for (i, p) in [0.03, 0.5, 0.97].into_iter().enumerate() {
        let x = draw(Dist::Bernoulli { p }, N_INTEGER, 50 + i as u64);
        let pmf = |k: u64| match k {
            0 => 1.0 - p,
            1 => p,
            _ => 0.0,
        };
        let sf = |k: u64| if k == 0 { p } else { 0.0 };
        assert_chi_square(&format!("bernoulli({p})"), &x, pmf, sf);
    }
    // The degenerate ends.
    assert!(
        draw(Dist::Bernoulli { p: 0.0 }, 1000, 1)
            .iter()
            .all(|v| *v == 0.0)
    );
    assert!(
        draw(Dist::Bernoulli { p: 1.0 }, 1000, 1)
            .iter()
            .all(|v| *v == 1.0)
    );
}

#[test]
fn negative_binomial_matches_its_pmf() {
    // statrs' convention: failures before the r-th success, mean r(1 − p)/p.
    for (i, (r, p)) in [(2.5, 0.3), (0.7, 0.9), (0.7, 0.05), (40.0, 0.5)]
        .into_iter()
        .enumerate()
    {
        let law = NegativeBinomial::new(r, p).expect("valid");
        let x = draw(Dist::NegativeBinomial { r, p }, N_INTEGER, 60 + i as u64);
        assert_chi_square(
            &format!("negative_binomial({r}, {p})"),
            &x,
            |k| law.pmf(k),
            |k| law.sf(k),
        );
    }
    // p = 1: no failure ever.
    assert!(
        draw(Dist::NegativeBinomial { r: 2.0, p: 1.0 }, 1000, 1)
            .iter()
            .all(|v| *v == 0.0)
    );
}

#[test]
fn chi_square_detects_a_wrong_law() {
    // NB(2.5, 0.3) draws against the other convention's law (successes before r failures,
    // mean r·p/(1 − p)) and against a Poisson of the same mean: both must fail.
    let x = draw(Dist::NegativeBinomial { r: 2.5, p: 0.3 }, N_INTEGER, 7);
    let swapped = NegativeBinomial::new(2.5, 0.7).expect("valid");
    assert!(chi_square(&x, |k| swapped.pmf(k), |k| swapped.sf(k)).2 < ALPHA);
    let poisson = Poisson::new(2.5 * 0.7 / 0.3).expect("valid");
    assert!(chi_square(&x, |k| poisson.pmf(k), |k| poisson.sf(k)).2 < ALPHA);
}

#[test]
fn sampler_moments_match_dist_moments() {
    // `Dist::mean`/`variance` (used by the truth) against the samplers, 5 standard errors.
    let cases = [
        Dist::Poisson { lambda: 4.0 },
        Dist::Gamma {
            shape: 0.5,
            scale: 10.0,
        },
        Dist::Bernoulli { p: 0.03 },
        Dist::Lognormal {
            mu: 1.0,
            sigma: 0.5,
        },
        Dist::Normal {
            mean: -3.0,
            sd: 2.0,
        },
        Dist::NegativeBinomial { r: 0.7, p: 0.3 },
    ];
    for (i, d) in cases.into_iter().enumerate() {
        let s = crate::common::Summary::of(&draw(d, N_INTEGER, 70 + i as u64));
        crate::common::assert_within(&format!("mean of {d:?}"), s.mean, d.mean(), s.se_mean());
        crate::common::assert_within(
            &format!("variance of {d:?}"),
            s.var,
            d.variance(),
            s.se_var(),
        );
    }
}
