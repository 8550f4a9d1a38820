//! Times `lin_regression` on a large clustered experiment: 200 000 rows, 5 covariates
//! (12 design columns with the interactions) and 2 000 clusters of 50 to 150 rows, with
//! HC2, CR1 and CR2 errors. Prints each fit's wall time and its estimate, standard error and
//! degrees of freedom (to compare two builds' answers as well as their speed).
//!
//! Run with `cargo run -p abforge-stats --release --example regadj_timing [REPEATS]`; each
//! covariance is fitted REPEATS times (default 3) and the median time is printed.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use abforge_stats::{Arm, Covariance, LinOptions, lin_regression};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const CLUSTERS: u64 = 2_000;
const COVARIATES: usize = 5;
const ROWS: usize = 200_000;

/// One arm: outcome, covariates (one column each) and cluster ids.
struct ArmData {
    y: Vec<f64>,
    x: Vec<Vec<f64>>,
    ids: Vec<u64>,
}

/// Cluster-randomised data: even clusters are treated; sizes 50..=150, mean 100.
fn data() -> (ArmData, ArmData) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20_130_101);
    let empty = || ArmData {
        y: Vec::new(),
        x: vec![Vec::new(); COVARIATES],
        ids: Vec::new(),
    };
    let (mut t, mut c) = (empty(), empty());
    let mut rows = 0;
    for g in 0..CLUSTERS {
        let size = if g + 1 == CLUSTERS {
            ROWS - rows
        } else {
            50 + (g as usize * 37) % 101
        };
        rows += size;
        let arm = if g % 2 == 0 { &mut t } else { &mut c };
        let shift = uniform(&mut rng) - 0.5;
        for _ in 0..size {
            let xs: Vec<f64> = (0..COVARIATES)
                .map(|j| shift + uniform(&mut rng) * (j + 1) as f64)
                .collect();
            let noise = (uniform(&mut rng) - 0.5) * (1.0 + xs[0].abs());
            let effect = if g % 2 == 0 { 0.3 } else { 0.0 };
            let y = effect + xs.iter().sum::<f64>() + 2.0 * shift + noise;
            arm.y.push(y);
            arm.ids.push(g);
            arm.x.iter_mut().zip(&xs).for_each(|(col, v)| col.push(*v));
        }
    }
    (t, c)
}

/// A uniform draw in (0, 1).
fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .map_or(3, |s| s.parse().expect("REPEATS is a count"));
    let (t, c) = data();
    let (xt, xc): (Vec<&[f64]>, Vec<&[f64]>) = (
        t.x.iter().map(Vec::as_slice).collect(),
        c.x.iter().map(Vec::as_slice).collect(),
    );
    for cov in [Covariance::Hc2, Covariance::Cr1, Covariance::Cr2] {
        let ids = |a: &ArmData| cov.is_cluster().then(|| a.ids.clone());
        let (it, ic) = (ids(&t), ids(&c));
        let at = Arm {
            outcome: &t.y,
            covariates: &xt,
            clusters: it.as_deref(),
        };
        let ac = Arm {
            outcome: &c.y,
            covariates: &xc,
            clusters: ic.as_deref(),
        };
        let o = LinOptions {
            covariance: cov,
            ..LinOptions::default()
        };
        let mut times = Vec::with_capacity(repeats);
        let mut last = None;
        for _ in 0..repeats.max(1) {
            let start = Instant::now();
            last = Some(lin_regression(&at, &ac, &o).expect("the fit succeeds"));
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let r = last.expect("at least one fit");
        println!(
            "{:<4} median {:8.1} ms  estimate {:.17e}  se {:.17e}  df {:.17e}",
            cov.name(),
            times[times.len() / 2] * 1e3,
            r.estimate,
            r.std_error,
            r.df
        );
    }
}
