//! The replication loop: draw, test, judge, count.

use crate::claims::{ArmPrior, BayesPrior, ClaimAcc, ClaimWho, blueprint_priors, given_priors};
use crate::engine::{
    Answer, BatchBuilder, EngineFailure, EngineOptions, EnginePlan, EngineReport, Engines, ItemKey,
    RequestHead, RequestMetric, estimand_target, look_size,
};
use crate::error::Result;
use crate::family::{FamilyAcc, FamilyItem, family_methods};
use crate::generated::{self, Drawn};
use crate::method::{Method, MetricClass, Null, Target};
use crate::model::{ArmTruth, Design, PMetric, Prepared, class_of};
use crate::report::{Calibration, ClaimCalibration, Confusion, TestResult, ks_uniform, wilson};
use crate::srm::{DEFAULT_SRM_ALPHA, calibrate_srm};
use abforge_env::Invalid;
use abforge_stats::group_sequential::{MAX_ALPHA, MAX_LOOKS, MIN_ALPHA};
use abforge_stats::{
    Alternative, Arm as LinArm, AsymptoticCsOptions, BayesOptions, BootstrapOptions, Boundary,
    Covariance, GsdDesign, GsdOptions, Hypothesis, LinOptions, MannWhitneyMethod,
    MannWhitneyOptions, MetricPrior, MsprtOptions, PermutationOptions, RateCompare, RateMethod,
    RatioSummary, ReferenceLaw, Summary, WinsorOptions, asymptotic_cs, beta_binomial, bootstrap,
    chi_square_2x2, cupac, cuped_from_summaries, fieller_means, gsd_design, lin_regression,
    mann_whitney_u_histograms, mann_whitney_u_sorted, msprt, norm_sf, normal_means,
    permutation_test, poisson_rate, quantile_bootstrap, quantile_test, relative_lift, student_t,
    t_two_sided, two_proportion_z, welch_t, winsorized_welch,
};
use abforge_synth::rng::column_rng;
use abforge_synth::{Blueprint, Resolved};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Replications per unit of parallel work (and of progress reports).
const BLOCK: u64 = 32;
/// Count metrics whose largest value is at most this are ranked by histogram.
const HISTOGRAM_MAX: f64 = 65_536.0;
/// Salts of the lab's seeds.
const SALT_REPLICATION: u64 = 0x1ab0_0001;
const SALT_CHOICES: u64 = 0x1ab0_0002;
const SALT_RESAMPLING: u64 = 0x1ab0_0003;
pub(crate) const SALT_SRM: u64 = 0x1ab0_0004;
/// Most prepared models kept for a blueprint with `choose`: one per distinct set of choices,
/// so many `choose` parameters cannot fill the memory. A lift drawn from a prior gives every
/// replication its own model, and none is kept.
const CACHE_MAX: usize = 256;

/// Receives progress from [`calibrate`] and [`crate::sweep()`]. Implemented by the CLI's
/// progress bar.
pub trait Reporter: Send + Sync {
    /// The run will simulate `total` replications in all.
    fn on_start(&self, _total: u64) {}
    /// `n` more replications are done.
    fn on_replications(&self, n: u64);
    /// Whether the caller wants the run stopped: checked before each block of
    /// replications, it ends the run with [`abforge_synth::Error::Cancelled`].
    fn cancelled(&self) -> bool {
        false
    }
}

/// A reporter that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {
    fn on_replications(&self, _n: u64) {}
}

/// What to simulate and which tests to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct LabOptions {
    /// Simulated experiments (at least 1).
    pub replications: u64,
    /// Customers per experiment, all groups together [default: the blueprint's].
    pub customers: Option<u64>,
    /// Significance level of every test, in (0, 1).
    pub alpha: f64,
    /// Seed of the run [default: the blueprint's]. Replication `r` draws from streams
    /// derived from `(seed, r)` only.
    pub seed: Option<u64>,
    /// Looks at the data per experiment, at `k/K` of the customers for `k = 1..=K`. With
    /// `K > 1` a test "rejects" when it rejected at any look (naive peeking), its p-value is
    /// the smallest over the looks and its interval must cover the truth at every look. The
    /// group-sequential tests take these looks as their planned ones (at most 50).
    pub peeks: u32,
    /// The tests [default: [`Method::DEFAULT`], plus the bootstrap and the permutation test
    /// when their resamples are given].
    pub methods: Option<Vec<Method>>,
    /// Bootstrap resamples per experiment (1 000 when a bootstrap test is named without it).
    pub bootstrap_resamples: Option<u32>,
    /// Permutations per experiment (1 000 when the permutation test is named without it).
    pub permutation_resamples: Option<u32>,
    /// Metrics to calibrate [default: every metric of the blueprint].
    pub metrics: Vec<String>,
    /// mSPRT mixing standard deviation, in units of the metric's standard deviation.
    pub msprt_mixing_sd: f64,
    /// The prior of the Bayesian test: flat (as `abforge analyze`), or the blueprint's prior
    /// of each lift drawn from one (see [`BayesPrior`]).
    pub bayes_prior: BayesPrior,
    /// An external engine judged beside abforge's tests (`docs/engine-protocol.md`).
    pub engine: Option<EngineOptions>,
    /// Priors of the Bayesian test given per metric; they override
    /// [`LabOptions::bayes_prior`] for their metrics.
    pub priors: Vec<MetricPrior>,
    /// Level of the sample-ratio checks ([`crate::srm`]), in (0, 1) [default
    /// [`DEFAULT_SRM_ALPHA`], the threshold of `abforge analyze`].
    pub srm_alpha: f64,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            replications: 1000,
            customers: None,
            alpha: 0.05,
            seed: None,
            peeks: 1,
            methods: None,
            bootstrap_resamples: None,
            permutation_resamples: None,
            metrics: Vec::new(),
            msprt_mixing_sd: MsprtOptions::default().mixing_sd,
            bayes_prior: BayesPrior::Flat,
            engine: None,
            priors: Vec::new(),
            srm_alpha: DEFAULT_SRM_ALPHA,
        }
    }
}

/// SplitMix64's finaliser.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of stream `index` of the run's `salt` part.
pub(crate) fn derive(seed: u64, salt: u64, index: u64) -> u64 {
    mix(mix(seed ^ salt).wrapping_add(mix(index.wrapping_add(salt))))
}

/// The blueprint's group sizes; every group needs at least 2 customers.
fn group_sizes(bp: &Blueprint) -> Result<Vec<u64>> {
    let sizes = split(bp.customers, &bp.actual_allocation());
    if let Some((g, n)) = sizes.iter().enumerate().find(|(_, n)| **n < 2) {
        return Err(Invalid::new(
            "customers",
            format!(
                "{} customers give group {:?} only {n}; every group needs at least 2",
                bp.customers, bp.groups[g].0
            ),
        )
        .into());
    }
    Ok(sizes)
}

/// The median test is judged against the true p = 0.5 quantiles: the truth computes those of
/// the blueprint's list, so 0.5 joins the list (in order) when it is not there.
fn with_median(quantiles: &mut Vec<f64>) {
    if !quantiles.contains(&0.5) {
        let i = quantiles.partition_point(|&p| p < 0.5);
        quantiles.insert(i, 0.5);
    }
}

/// The group-sequential designs named, each built once per run: two-sided Lan–DeMets
/// α-spending at the information fractions `k/K` of the `K` looks (the lab looks after `k/K`
/// of each arm's customers, so the information grows in that proportion).
fn gsd_designs(requested: &[Method], opts: &LabOptions) -> Result<Vec<(Method, GsdDesign)>> {
    let Some(&first) = requested.iter().find(|m| m.is_group_sequential()) else {
        return Ok(Vec::new());
    };
    let k = opts.peeks;
    if k as usize > MAX_LOOKS {
        let msg = format!("{first} plans at most {MAX_LOOKS} looks");
        return Err(Invalid::new("peeks", msg).value(k).into());
    }
    if !(MIN_ALPHA..=MAX_ALPHA).contains(&opts.alpha) {
        let msg = format!("{first} takes an α in [{MIN_ALPHA}, {MAX_ALPHA}]");
        return Err(Invalid::new("alpha", msg).value(opts.alpha).into());
    }
    let fractions: Vec<f64> = (1..=k).map(|i| f64::from(i) / f64::from(k)).collect();
    let mut out = Vec::new();
    for &m in requested.iter().filter(|m| m.is_group_sequential()) {
        let boundary = if m == Method::GroupSequentialObf {
            Boundary::LanDemetsObrienFleming
        } else {
            Boundary::LanDemetsPocock
        };
        let o = GsdOptions {
            alpha: opts.alpha,
            alternative: Alternative::TwoSided,
            boundary,
        };
        let d = gsd_design(&fractions, &o)
            .map_err(|e| Invalid::new("methods", format!("{m}: {e}")).value(m))?;
        out.push((m, d));
    }
    Ok(out)
}

/// Fixed group sizes from the shares, by largest remainder (they sum to `n`).
fn split(n: u64, shares: &[f64]) -> Vec<u64> {
    let exact: Vec<f64> = shares.iter().map(|s| s * n as f64).collect();
    let mut sizes: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut left = n.saturating_sub(sizes.iter().sum());
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    for &g in order.iter().cycle() {
        if left == 0 {
            break;
        }
        sizes[g] += 1;
        left -= 1;
    }
    sizes
}

/// Everything fixed for a run.
struct Plan {
    bp: Blueprint,
    seed: u64,
    design: Design,
    peeks: u32,
    bootstrap: Option<u32>,
    permutation: Option<u32>,
    msprt_mixing_sd: f64,
    has_choices: bool,
    /// Name and class of each calibrated metric.
    metrics: Vec<(String, MetricClass)>,
    base: Option<Arc<Prepared>>,
    /// (calibrated metric position, arm group index, method): one per result.
    entries: Vec<(usize, usize, Method)>,
    /// Per calibrated metric and group, the prior the Bayesian test takes on the arm's lift
    /// (`None`: flat).
    priors: Vec<Vec<Option<ArmPrior>>>,
    /// Prepared models by their choices, at most [`CACHE_MAX`]; none when a lift is drawn
    /// from a prior (no two replications share a model then).
    cache: Option<Mutex<HashMap<Vec<u64>, Arc<Prepared>>>>,
    /// The group-sequential designs named, built once for the run (see [`gsd_designs`]).
    gsd: Vec<(Method, GsdDesign)>,
    /// Whether replications are drawn by synth's generator ([`generated`]) rather than
    /// metric by metric.
    generated: bool,
    /// The methods run on two or more metric × arm pairs: each a family whose multiple
    /// testing is judged (see [`crate::family`]).
    family: Vec<Method>,
    /// The external engine, when one is judged.
    engine: Option<EnginePlan>,
}

impl Plan {
    fn new(bp: &Blueprint, opts: &LabOptions) -> Result<Plan> {
        check_options(opts)?;
        let mut bp = bp.clone();
        if let Some(n) = opts.customers {
            bp.customers = n;
        }
        let seed = opts.seed.unwrap_or(bp.seed);
        let sizes = group_sizes(&bp)?;
        let requested = requested_methods(opts);
        if requested.contains(&Method::QuantileMedian)
            || requested.contains(&Method::QuantileBootstrap)
        {
            with_median(&mut bp.quantiles);
        }
        let gsd = gsd_designs(&requested, opts)?;
        let control = bp.control_index();
        let has_choices = bp.has_choices();
        let first = if has_choices {
            bp.with_seed(derive(seed, SALT_CHOICES, 0)).resolve()?
        } else {
            bp.resolve()?
        };
        let metric_indices = metric_indices(&first, &bp.id, &opts.metrics)?;
        let has_clusters = generated::has_clusters(&bp);
        let methods = applicable_methods(&first, &metric_indices, &requested, has_clusters);
        if opts.methods.is_some() {
            check_methods_apply(&requested, &methods)?;
        }
        let uses = |f: fn(Method) -> bool| requested.iter().any(|m| f(*m));
        let bootstrap =
            uses(Method::is_bootstrap).then(|| opts.bootstrap_resamples.unwrap_or(1000));
        let permutation =
            uses(|m| m == Method::Permutation).then(|| opts.permutation_resamples.unwrap_or(1000));
        let design = Design {
            sizes,
            control,
            alpha: opts.alpha,
            metric_indices,
            methods,
        };
        let entries = entries(&design, bp.groups.len());
        let metrics: Vec<(String, MetricClass)> = design
            .metric_indices
            .iter()
            .map(|&i| (first.metrics[i].name.clone(), class_of(&first.metrics[i])))
            .collect();
        let per_replication = has_choices || generated::truth_per_replication(&bp);
        let base =
            (!per_replication).then(|| Arc::new(Prepared::new(&first, &first.truth(), &design)));
        let priors = match opts.bayes_prior {
            BayesPrior::Blueprint => blueprint_priors(&bp, &design.metric_indices, control)?
                .into_iter()
                .map(|arms| arms.into_iter().map(|p| p.map(ArmPrior::Lift)).collect())
                .collect(),
            BayesPrior::Flat => vec![vec![None; bp.groups.len()]; design.metric_indices.len()],
        };
        let priors = given_priors(priors, &opts.priors, &metrics, control)?;
        let cache = (!bp.has_priors() && !generated::truth_per_replication(&bp))
            .then(|| Mutex::new(HashMap::new()));
        let family = family_methods(&entries);
        let generated = generated::needs_generator(&bp);
        let engine = match &opts.engine {
            Some(e) => Some(engine_plan(e, &bp, &first, &design, opts.peeks)?),
            None => None,
        };
        let plan = Plan {
            bp,
            seed,
            design,
            peeks: opts.peeks,
            bootstrap,
            permutation,
            msprt_mixing_sd: opts.msprt_mixing_sd,
            has_choices,
            metrics,
            base,
            entries,
            priors,
            cache,
            gsd,
            generated,
            family,
            engine,
        };
        if has_choices {
            plan.insert(&first);
        }
        Ok(plan)
    }

    /// The critical value of `method`'s group-sequential design at look `k` (from 1).
    fn gsd_critical(&self, method: Method, k: usize) -> Option<f64> {
        let (_, d) = self.gsd.iter().find(|(m, _)| *m == method)?;
        Some(d.looks.get(k.checked_sub(1)?)?.critical_value)
    }

    /// The prepared model of `resolved`, from the cache when its choices were seen.
    fn insert(&self, resolved: &Resolved) -> Arc<Prepared> {
        let prepare = || Arc::new(Prepared::new(resolved, &resolved.truth(), &self.design));
        let Some(cache) = &self.cache else {
            return prepare();
        };
        let key: Vec<u64> = resolved
            .choices
            .iter()
            .map(|c| c.chosen.to_bits())
            .collect();
        if let Some(p) = cache.lock().expect("not poisoned").get(&key) {
            return Arc::clone(p);
        }
        // Computed outside the lock; two threads may compute the same truth (identical).
        let p = prepare();
        let mut cache = cache.lock().expect("not poisoned");
        if cache.len() >= CACHE_MAX {
            return p;
        }
        cache.entry(key).or_insert(p).clone()
    }

    /// The prepared model of replication `r`.
    fn prepared(&self, r: u64) -> Result<Arc<Prepared>> {
        match &self.base {
            Some(b) => Ok(Arc::clone(b)),
            None => {
                let resolved = self
                    .bp
                    .with_seed(derive(self.seed, SALT_CHOICES, r))
                    .resolve()?;
                Ok(self.insert(&resolved))
            }
        }
    }
}

/// The options' ranges: replications, α, peeks, the mSPRT mixing sd, the resamples.
fn check_options(opts: &LabOptions) -> Result<()> {
    if opts.replications == 0 {
        return Err(Invalid::new("replications", "must be at least 1").into());
    }
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        return Err(
            Invalid::new("alpha", "expected a number strictly between 0 and 1")
                .value(opts.alpha)
                .into(),
        );
    }
    if opts.peeks == 0 {
        return Err(Invalid::new("peeks", "must be at least 1").into());
    }
    if !(opts.srm_alpha > 0.0 && opts.srm_alpha < 1.0) {
        return Err(
            Invalid::new("srm_alpha", "expected a number strictly between 0 and 1")
                .value(opts.srm_alpha)
                .into(),
        );
    }
    if !(opts.msprt_mixing_sd > 0.0 && opts.msprt_mixing_sd.is_finite()) {
        return Err(Invalid::new("msprt_mixing_sd", "must be a positive number").into());
    }
    for (r, name) in [
        (opts.bootstrap_resamples, "bootstrap_resamples"),
        (opts.permutation_resamples, "permutation_resamples"),
    ] {
        if let Some(r) = r.filter(|&r| r < 10) {
            return Err(Invalid::new(name, "expected at least 10 resamples")
                .value(r)
                .into());
        }
    }
    Ok(())
}

/// The positions of the calibrated metrics in the resolved blueprint: those `--metric`
/// names (each once, in the order given), or every metric.
fn metric_indices(first: &Resolved, id: &str, wanted: &[String]) -> Result<Vec<usize>> {
    let names: Vec<&str> = first.metrics.iter().map(|m| m.name.as_str()).collect();
    if wanted.is_empty() {
        return Ok((0..names.len()).collect());
    }
    let mut out = Vec::new();
    for m in wanted {
        let i = names.iter().position(|n| n == m).ok_or_else(|| {
            Invalid::new(
                "metrics",
                format!(
                    "no such metric in blueprint {id:?}; the metrics are {}",
                    names.join(", ")
                ),
            )
            .value(m)
        })?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

/// The methods asked for (sorted, each once), or the defaults with the resampling methods
/// whose resamples were given.
fn requested_methods(opts: &LabOptions) -> Vec<Method> {
    if let Some(m) = opts.methods.as_ref().filter(|m| !m.is_empty()) {
        let mut v = m.clone();
        v.sort();
        v.dedup();
        return v;
    }
    let mut v = Method::DEFAULT.to_vec();
    if opts.bootstrap_resamples.is_some() {
        v.extend([
            Method::BootstrapPercentile,
            Method::BootstrapBca,
            Method::BootstrapLiftPercentile,
            Method::BootstrapLiftBca,
        ]);
    }
    if opts.permutation_resamples.is_some() {
        v.push(Method::Permutation);
    }
    v
}

/// For each calibrated metric, the requested methods that apply to its class.
fn applicable_methods(
    first: &Resolved,
    indices: &[usize],
    requested: &[Method],
    has_clusters: bool,
) -> Vec<Vec<Method>> {
    indices
        .iter()
        .map(|&i| {
            let m = &first.metrics[i];
            let class = class_of(m);
            requested
                .iter()
                .copied()
                .filter(|x| x.applies(class, m.pre_correlation.is_some(), has_clusters))
                .collect()
        })
        .collect()
}

/// Every method named with `--tests` applies to some calibrated metric.
fn check_methods_apply(requested: &[Method], methods: &[Vec<Method>]) -> Result<()> {
    for &x in requested {
        if !methods.iter().any(|ms| ms.contains(&x)) {
            return Err(Invalid::new(
                "methods",
                format!(
                    "applies to {} only, and no calibrated metric is one",
                    x.applies_to()
                ),
            )
            .value(x)
            .into());
        }
    }
    Ok(())
}

/// One result per (calibrated metric, treatment arm, method), in that order.
fn entries(design: &Design, groups: usize) -> Vec<(usize, usize, Method)> {
    let mut entries = Vec::new();
    for (pos, ms) in design.methods.iter().enumerate() {
        for g in (0..groups).filter(|g| *g != design.control) {
            for &m in ms {
                entries.push((pos, g, m));
            }
        }
    }
    entries
}

/// How a test is judged: its null, what its interval estimates, whether its guarantee
/// holds at every look, and the method whose analytic power applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Judge {
    pub null: Null,
    pub target: Target,
    pub always_valid: bool,
    pub analytic: Option<Method>,
}

impl Judge {
    pub(crate) fn of(m: Method) -> Judge {
        Judge {
            null: m.null(),
            target: m.target(),
            always_valid: m.is_always_valid(),
            analytic: Some(m),
        }
    }
}

/// One test's outcome at one look.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Failed,
    Done {
        reject: bool,
        p: Option<f64>,
        covered: Option<bool>,
        /// The Bayesian test's `P(T > C)` and expected loss of shipping the treatment.
        claim: Option<(f64, f64)>,
        /// The estimate, on the scale of the method's [`Target`].
        estimate: Option<f64>,
    },
}

impl Outcome {
    /// The outcome with its estimate.
    fn est(self, e: f64) -> Outcome {
        match self {
            Outcome::Done {
                reject,
                p,
                covered,
                claim,
                ..
            } => Outcome::Done {
                reject,
                p,
                covered,
                claim,
                estimate: Some(e),
            },
            Outcome::Failed => Outcome::Failed,
        }
    }

    fn rejects(&self) -> bool {
        matches!(self, Outcome::Done { reject: true, .. })
    }
}

/// Counts of one result over a block of replications.
#[derive(Debug, Clone, Default)]
struct Acc {
    evaluated: u64,
    failed: u64,
    null_true: u64,
    confusion: Confusion,
    coverage_n: u64,
    covered: u64,
    analytic_sum: f64,
    analytic_n: u64,
    p_null: Vec<f64>,
    claims: ClaimAcc,
    /// Σ (estimate − truth), its square, and their count.
    bias_sum: f64,
    bias_sq: f64,
    bias_n: u64,
    /// Σ customers at stopping, and the count (sequential methods with several looks).
    stop_sum: f64,
    stop_n: u64,
}

impl Acc {
    fn merge(&mut self, o: Acc) {
        self.evaluated += o.evaluated;
        self.failed += o.failed;
        self.null_true += o.null_true;
        self.confusion.correct_accept += o.confusion.correct_accept;
        self.confusion.correct_reject += o.confusion.correct_reject;
        self.confusion.type_i += o.confusion.type_i;
        self.confusion.type_ii += o.confusion.type_ii;
        self.coverage_n += o.coverage_n;
        self.covered += o.covered;
        self.analytic_sum += o.analytic_sum;
        self.analytic_n += o.analytic_n;
        self.p_null.extend(o.p_null);
        self.claims.merge(&o.claims);
        self.bias_sum += o.bias_sum;
        self.bias_sq += o.bias_sq;
        self.bias_n += o.bias_n;
        self.stop_sum += o.stop_sum;
        self.stop_n += o.stop_n;
    }
}

/// Per-thread buffers, reused across replications.
#[derive(Debug, Default)]
struct Scratch {
    values: Vec<Vec<f64>>,
    covariates: Vec<Vec<f64>>,
    cells: Vec<usize>,
    attrs: Vec<u16>,
    ranks: RankScratch,
    /// A replication drawn by the generator.
    drawn: Drawn,
    /// The members of each family in this replication, by [`Plan::family`] position.
    family: Vec<Vec<FamilyItem>>,
}

/// Simulates `opts.replications` experiments from `bp` and judges every test against the
/// truth (see the crate documentation).
///
/// # Errors
///
/// [`Error::Usage`] for options out of range or naming what does not exist,
/// [`Error::Blueprint`] when the blueprint does not resolve.
pub fn calibrate(
    bp: &Blueprint,
    opts: &LabOptions,
    reporter: &dyn Reporter,
) -> Result<Calibration> {
    let plan = Plan::new(bp, opts)?;
    reporter.on_start(opts.replications);
    run(&plan, opts, reporter)
}

pub(crate) fn plan_check(bp: &Blueprint, opts: &LabOptions) -> Result<()> {
    Plan::new(bp, opts).map(|_| ())
}

pub(crate) fn calibrate_quiet_start(
    bp: &Blueprint,
    opts: &LabOptions,
    reporter: &dyn Reporter,
) -> Result<Calibration> {
    let plan = Plan::new(bp, opts)?;
    run(&plan, opts, reporter)
}

fn run(plan: &Plan, opts: &LabOptions, reporter: &dyn Reporter) -> Result<Calibration> {
    let r_total = opts.replications;
    let blocks = r_total.div_ceil(BLOCK);
    let n_entries = plan.entries.len();
    let n_families = plan.family.len();
    let per_block: Vec<(Vec<Acc>, Vec<FamilyAcc>, EngineAccs)> = (0..blocks)
        .into_par_iter()
        .map_init(Scratch::default, |scratch, b| -> Result<_> {
            if reporter.cancelled() {
                return Err(abforge_synth::Error::Cancelled.into());
            }
            let mut accs = vec![Acc::default(); n_entries];
            let mut fams = vec![FamilyAcc::default(); n_families];
            let reps = b * BLOCK..((b + 1) * BLOCK).min(r_total);
            let count = reps.end - reps.start;
            let mut batch = EngineBatch::default();
            for r in reps {
                let prepared = replicate(plan, r, scratch, &mut accs)?;
                for (f, items) in fams.iter_mut().zip(&mut scratch.family) {
                    f.add(items, plan.design.alpha);
                    items.clear();
                }
                if let Some(e) = &plan.engine {
                    batch.keep(e, r, prepared, &scratch.drawn);
                }
            }
            let engine = match &plan.engine {
                Some(e) => judge_engine(plan, e, b, &mut batch)?,
                None => EngineAccs::default(),
            };
            reporter.on_replications(count);
            Ok((accs, fams, engine))
        })
        .collect::<Result<_>>()?;
    let mut total = vec![Acc::default(); n_entries];
    let mut families = vec![FamilyAcc::default(); n_families];
    let mut engine = EngineAccs::default();
    for (block, fams, e) in per_block {
        engine.merge(e);
        for (t, a) in total.iter_mut().zip(block) {
            t.merge(a);
        }
        for (t, f) in families.iter_mut().zip(&fams) {
            t.merge(f);
        }
    }
    let families = plan
        .family
        .iter()
        .zip(&families)
        .filter_map(|(m, f)| f.finish(*m, plan.design.alpha))
        .collect();
    let bp = &plan.bp;
    let claims = claims(plan, &total);
    let srm = calibrate_srm(bp, plan.seed, r_total, plan.peeks, opts.srm_alpha)?;
    let results = plan
        .entries
        .iter()
        .zip(total)
        .map(|(&(pos, g, method), acc)| finish(plan, (pos, g), method, Judge::of(method), acc))
        .collect();
    Ok(Calibration {
        experiment_id: bp.id.clone(),
        replications: r_total,
        customers: bp.customers,
        group_sizes: bp
            .groups
            .iter()
            .map(|(g, _)| g.clone())
            .zip(plan.design.sizes.iter().copied())
            .collect(),
        alpha: plan.design.alpha,
        seed: plan.seed,
        peeks: plan.peeks,
        choices_per_replication: plan.has_choices,
        bootstrap_resamples: plan.bootstrap,
        permutation_resamples: plan.permutation,
        results,
        claims,
        families,
        engine: plan.engine.as_ref().map(|e| engine_report(plan, e, engine)),
        srm,
    })
}

/// The engine's processes and the request it gets, after its handshake: its tests that
/// apply to each calibrated metric (by kind, and by covariate when a test needs one).
fn engine_plan(
    opts: &EngineOptions,
    bp: &Blueprint,
    first: &Resolved,
    design: &Design,
    peeks: u32,
) -> Result<EnginePlan> {
    let engines = Engines::start(opts.clone())?;
    let offered = engines.handshake.tests.clone();
    let mut used: Vec<usize> = Vec::new();
    let mut entries = Vec::new();
    let mut metrics = Vec::new();
    for (pos, &mi) in design.metric_indices.iter().enumerate() {
        let m = &first.metrics[mi];
        let kind = match class_of(m) {
            MetricClass::Binary => "binary",
            MetricClass::Count => "count",
            MetricClass::Continuous => "continuous",
        };
        let has_pre = m.pre_correlation.is_some();
        metrics.push(RequestMetric {
            name: m.name.clone(),
            kind,
            covariate: has_pre.then(|| format!("pre_{}", m.name)),
        });
        for (ti, t) in offered.iter().enumerate() {
            if !t.kinds.iter().any(|k| k == kind) || (t.needs_covariate && !has_pre) {
                continue;
            }
            if !used.contains(&ti) {
                used.push(ti);
            }
            for g in (0..bp.groups.len()).filter(|g| *g != design.control) {
                entries.push((pos, g, ti));
            }
        }
    }
    if entries.is_empty() {
        return Err(Invalid::new(
            "engine",
            "none of the engine's tests applies to the calibrated metrics (by kind, or for \
             want of a pre_period covariate)",
        )
        .into());
    }
    let head = RequestHead {
        alpha: design.alpha,
        control: bp.groups[design.control].0.clone(),
        arms: (0..bp.groups.len())
            .filter(|g| *g != design.control)
            .map(|g| bp.groups[g].0.clone())
            .collect(),
        looks: peeks,
        metrics,
        tests: used.iter().map(|&i| offered[i].name.clone()).collect(),
    };
    Ok(EnginePlan {
        engines,
        head,
        tests: offered,
        entries,
        command: opts.command.clone(),
        groups: bp.groups.iter().map(|(g, _)| g.clone()).collect(),
    })
}

/// A block's replications as sent to the engine, with what judging them needs.
#[derive(Default)]
struct EngineBatch {
    builder: BatchBuilder,
    /// (replication, its prepared truth, customers per group).
    kept: Vec<(u64, Arc<Prepared>, Vec<u64>)>,
}

impl EngineBatch {
    fn keep(&mut self, e: &EnginePlan, r: u64, prepared: Arc<Prepared>, drawn: &Drawn) {
        self.builder
            .push(r, &e.groups, &drawn.values, &drawn.covariates);
        let sizes = drawn
            .values
            .first()
            .map(|m| m.iter().map(|v| v.len() as u64).collect())
            .unwrap_or_default();
        self.kept.push((r, prepared, sizes));
    }
}

/// The counts of the engine's entries and its failures, over a block or the run.
#[derive(Default)]
struct EngineAccs {
    accs: Vec<Acc>,
    failures: HashMap<(usize, String), u64>,
}

impl EngineAccs {
    fn merge(&mut self, o: EngineAccs) {
        if self.accs.is_empty() {
            self.accs = o.accs;
        } else {
            for (a, b) in self.accs.iter_mut().zip(o.accs) {
                a.merge(b);
            }
        }
        for (k, n) in o.failures {
            *self.failures.entry(k).or_default() += n;
        }
    }
}

/// Sends block `b` to the engine and judges every answer against the truth, as abforge's
/// own tests are: one outcome per look, folded over the looks.
fn judge_engine(
    plan: &Plan,
    e: &EnginePlan,
    b: u64,
    batch: &mut EngineBatch,
) -> Result<EngineAccs> {
    let (answers, transport) = e.engines.run_batch(&e.head, b, &mut batch.builder)?;
    let mut out = EngineAccs {
        accs: vec![Acc::default(); e.entries.len()],
        failures: HashMap::new(),
    };
    let ctrl = plan.design.control;
    let looks = plan.peeks;
    for (r, prepared, sizes) in &batch.kept {
        for (i, &(pos, g, ti)) in e.entries.iter().enumerate() {
            let test = &e.tests[ti];
            let judge = engine_judge(test);
            let truth = prepared.metrics[pos].arms[g].as_ref();
            let target = truth.and_then(|t| target_of(t, judge.target));
            let ks: Vec<u32> = if test.sequential {
                (1..=looks).collect()
            } else {
                vec![0]
            };
            let (mut combined, mut stop) = (None, None);
            for &k in &ks {
                let key = ItemKey {
                    replication: *r,
                    metric: plan.metrics[pos].0.clone(),
                    arm: plan.bp.groups[g].0.clone(),
                    test: test.name.clone(),
                    look: k,
                };
                let o = match answers.get(&key) {
                    Some(Answer::Decision {
                        reject,
                        p,
                        estimate,
                        interval,
                    }) => Outcome::Done {
                        reject: *reject,
                        p: *p,
                        covered: interval.zip(target).map(|((lo, hi), x)| lo <= x && x <= hi),
                        claim: None,
                        estimate: *estimate,
                    },
                    Some(Answer::Failed(why)) => {
                        *out.failures.entry((ti, why.clone())).or_default() += 1;
                        Outcome::Failed
                    }
                    None => {
                        let why = transport.clone().unwrap_or_else(|| "no answer".into());
                        *out.failures.entry((ti, why)).or_default() += 1;
                        Outcome::Failed
                    }
                };
                if stop.is_none() && o.rejects() {
                    let kk = k.max(1);
                    stop = Some(look_size(sizes[g], kk, looks) + look_size(sizes[ctrl], kk, looks));
                }
                combined = Some(combine(combined, o, k == *ks.last().expect("a look")));
            }
            let acc = &mut out.accs[i];
            let o = combined.unwrap_or(Outcome::Failed);
            record(acc, judge, truth, o);
            if looks > 1 && test.sequential && matches!(o, Outcome::Done { .. }) {
                acc.stop_sum += stop.unwrap_or(sizes[g] + sizes[ctrl]) as f64;
                acc.stop_n += 1;
            }
        }
    }
    batch.kept.clear();
    Ok(out)
}

/// How an engine's test is judged: against equal means, its interval against its
/// estimand's truth; a sequential test's guarantee holds at every look.
fn engine_judge(t: &crate::engine::EngineTest) -> Judge {
    Judge {
        null: Null::Mean,
        target: estimand_target(&t.estimand),
        always_valid: t.sequential,
        analytic: None,
    }
}

/// The engine's report: its results judged as abforge's, and its failures.
fn engine_report(plan: &Plan, e: &EnginePlan, accs: EngineAccs) -> EngineReport {
    let h = &e.engines.handshake;
    let results = e
        .entries
        .iter()
        .zip(
            accs.accs
                .into_iter()
                .chain(std::iter::repeat_with(Acc::default)),
        )
        .map(|(&(pos, g, ti), acc)| {
            let t = &e.tests[ti];
            finish(plan, (pos, g), t.name.clone(), engine_judge(t), acc)
        })
        .collect();
    let mut failures: Vec<EngineFailure> = accs
        .failures
        .into_iter()
        .map(|((ti, reason), items)| EngineFailure {
            test: e.tests[ti].name.clone(),
            reason,
            items,
        })
        .collect();
    failures.sort_by(|a, b| {
        b.items
            .cmp(&a.items)
            .then_with(|| a.test.cmp(&b.test))
            .then_with(|| a.reason.cmp(&b.reason))
    });
    failures.truncate(20);
    let used: Vec<_> = e
        .tests
        .iter()
        .filter(|t| e.head.tests.contains(&t.name))
        .cloned()
        .collect();
    EngineReport {
        engine: h.engine.clone(),
        version: h.version.clone(),
        protocol: h.protocol.clone(),
        command: e.command.clone(),
        tests: used,
        results,
        failures,
    }
}

/// The calibration of the Bayesian test's claims, per metric × arm, when the truth varies
/// across replications (a `choose` or a prior); none otherwise.
fn claims(plan: &Plan, total: &[Acc]) -> Vec<ClaimCalibration> {
    if !plan.has_choices {
        return Vec::new();
    }
    plan.entries
        .iter()
        .zip(total)
        .filter(|((_, _, m), _)| *m == Method::Bayes)
        .filter_map(|(&(pos, g, _), acc)| {
            let who = ClaimWho {
                metric: plan.metrics[pos].0.clone(),
                arm: plan.bp.groups[g].0.clone(),
                coverage: (acc.coverage_n > 0).then(|| acc.covered as f64 / acc.coverage_n as f64),
            };
            acc.claims.finish(who, plan.priors[pos][g].as_ref())
        })
        .collect()
}

fn finish<T>(
    plan: &Plan,
    (pos, g): (usize, usize),
    test: T,
    judge: Judge,
    mut acc: Acc,
) -> TestResult<T> {
    let bp = &plan.bp;
    let c = acc.confusion;
    let rejections = c.correct_reject + c.type_i;
    let n = acc.evaluated;
    let (ci_low, ci_high) = wilson(rejections, n);
    let n_null = c.type_i + c.correct_accept;
    let n_alt = c.correct_reject + c.type_ii;
    let rate = |k: u64, n: u64| (n > 0).then(|| k as f64 / n as f64);
    let null_true = if n_null == n && n > 0 {
        Some(true)
    } else if n_alt == n && n > 0 {
        Some(false)
    } else {
        None
    };
    let miscalibrated = n_null > 0 && {
        let (lo, hi) = wilson(c.type_i, n_null);
        // The always-valid methods promise type I ≤ α at any stopping time, so they are
        // conservative at a fixed horizon by design: only an error above α counts.
        plan.design.alpha < lo || (plan.design.alpha > hi && !judge.always_valid)
    };
    let ks = ks_uniform(&mut acc.p_null);
    let (name, class) = plan.metrics[pos].clone();
    TestResult {
        metric: name,
        arm: bp.groups[g].0.clone(),
        test,
        kind: class,
        null: judge.null,
        null_true,
        replications: n,
        failed: acc.failed,
        rejection_rate: rate(rejections, n).unwrap_or(0.0),
        ci_low,
        ci_high,
        type_i_error: rate(c.type_i, n_null),
        power: rate(c.correct_reject, n_alt),
        // The formula is the flat prior's; a prior on the difference shrinks the estimate.
        analytic_power: (acc.analytic_n > 0
            && !(judge.analytic == Some(Method::Bayes) && plan.priors[pos][g].is_some()))
        .then(|| acc.analytic_sum / acc.analytic_n as f64),
        ci_coverage: rate(acc.covered, acc.coverage_n),
        bias: (acc.bias_n > 0).then(|| acc.bias_sum / acc.bias_n as f64),
        bias_se: (acc.bias_n > 1).then(|| {
            let nb = acc.bias_n as f64;
            let mean = acc.bias_sum / nb;
            ((acc.bias_sq / nb - mean * mean).max(0.0) / (nb - 1.0)).sqrt()
        }),
        mean_customers_at_stop: (acc.stop_n > 0).then(|| acc.stop_sum / acc.stop_n as f64),
        p_value_ks: ks.map(|k| k.0),
        p_value_ks_p: ks.map(|k| k.1),
        miscalibrated,
        confusion: c,
    }
}

/// One replication: draw every metric of every group, run every test, count.
fn replicate(
    plan: &Plan,
    r: u64,
    scratch: &mut Scratch,
    accs: &mut [Acc],
) -> Result<Arc<Prepared>> {
    let prepared = plan.prepared(r)?;
    let rep_seed = derive(plan.seed, SALT_REPLICATION, r);
    let groups = plan.design.sizes.len();
    scratch.values.resize_with(groups, Vec::new);
    scratch.covariates.resize_with(groups, Vec::new);
    scratch.family.resize_with(plan.family.len(), Vec::new);
    if plan.generated {
        let names: Vec<&str> = plan.metrics.iter().map(|(n, _)| n.as_str()).collect();
        let resolved = plan
            .bp
            .with_seed(derive(plan.seed, SALT_CHOICES, r))
            .resolve()?;
        generated::draw(resolved, &names, &mut scratch.drawn);
    } else {
        draw_all(plan, &prepared, rep_seed, scratch);
    }
    let mut entry = 0;
    for (pos, pm) in prepared.metrics.iter().enumerate() {
        let methods = &plan.design.methods[pos];
        for g in (0..groups).filter(|g| *g != plan.design.control) {
            let outcomes = arm_outcomes(plan, pm, pos, g, rep_seed, scratch);
            let truth = pm.arms[g].as_ref();
            for (i, (&method, (o, stop))) in methods.iter().zip(outcomes).enumerate() {
                let acc = &mut accs[entry + i];
                record(acc, Judge::of(method), truth, o);
                if plan.peeks > 1 && method.is_sequential() && matches!(o, Outcome::Done { .. }) {
                    acc.stop_sum += stop as f64;
                    acc.stop_n += 1;
                }
                let family = plan.family.iter().position(|m| *m == method);
                if let (Some(f), Some(null)) = (family, truth.and_then(|t| t.null(method.null()))) {
                    let p = match o {
                        Outcome::Done { p, .. } => p,
                        Outcome::Failed => None,
                    };
                    scratch.family[f].push(FamilyItem { p, null });
                }
            }
            entry += methods.len();
        }
    }
    Ok(prepared)
}

/// Draws every calibrated metric (and its pre-period twin) of every group into
/// `s.drawn`, each metric from its own streams: the lab's own draws.
fn draw_all(plan: &Plan, prepared: &Prepared, rep_seed: u64, s: &mut Scratch) {
    let groups = plan.design.sizes.len();
    s.drawn.reset(prepared.metrics.len(), groups);
    for (pos, pm) in prepared.metrics.iter().enumerate() {
        for g in 0..groups {
            draw(pm, g, plan.design.sizes[g] as usize, rep_seed, s);
            std::mem::swap(&mut s.values[g], &mut s.drawn.values[pos][g]);
            if pm.rho.is_some() {
                std::mem::swap(&mut s.covariates[g], &mut s.drawn.covariates[pos][g]);
            }
        }
    }
}

/// Every method of metric `pos` on arm `g` at each look, folded over the looks, with the
/// customers (both arms) when the method first rejected, or all of them.
fn arm_outcomes(
    plan: &Plan,
    pm: &PMetric,
    pos: usize,
    g: usize,
    rep_seed: u64,
    s: &mut Scratch,
) -> Vec<(Outcome, u64)> {
    let ctrl = plan.design.control;
    let methods = &plan.design.methods[pos];
    let sizes = &s.drawn.values[pos];
    let (n_t, n_c) = (sizes[g].len() as u64, sizes[ctrl].len() as u64);
    let mut combined: Vec<Option<Outcome>> = vec![None; methods.len()];
    let mut stop: Vec<Option<u64>> = vec![None; methods.len()];
    for k in 1..=plan.peeks {
        let look = |n: u64| {
            ((n * u64::from(k)).div_ceil(u64::from(plan.peeks)) as usize)
                .max(2)
                .min(n as usize)
        };
        let (nt, nc) = (look(n_t), look(n_c));
        let seed = derive(
            rep_seed,
            SALT_RESAMPLING,
            ((pos as u64) << 40) ^ ((g as u64) << 20) ^ u64::from(k),
        );
        let arm = ArmCtx {
            pos,
            g,
            truth: pm.arms[g].as_ref(),
            prior: plan.priors[pos][g],
            look: k as usize,
        };
        let outcomes = evaluate(plan, pm, &arm, (nt, nc), methods, seed, s);
        for (i, o) in outcomes.into_iter().enumerate() {
            if stop[i].is_none() && o.rejects() {
                stop[i] = Some((nt + nc) as u64);
            }
            combined[i] = Some(combine(combined[i], o, k == plan.peeks));
        }
    }
    combined
        .into_iter()
        .zip(stop)
        .map(|(c, st)| (c.unwrap_or(Outcome::Failed), st.unwrap_or(n_t + n_c)))
        .collect()
}

/// Folds one look into the running outcome (reject at any look, smallest p, covered at
/// every look; failed when the final look failed).
fn combine(prev: Option<Outcome>, now: Outcome, last: bool) -> Outcome {
    match (prev, now) {
        (_, Outcome::Failed) if last => Outcome::Failed,
        (None | Some(Outcome::Failed), o) => o,
        (Some(p), Outcome::Failed) => p,
        (
            Some(Outcome::Done {
                reject: r0,
                p: p0,
                covered: c0,
                ..
            }),
            Outcome::Done {
                reject,
                p,
                covered,
                claim,
                estimate,
            },
        ) => Outcome::Done {
            // The claim and the estimate of the last look.
            claim,
            estimate,
            reject: r0 || reject,
            p: match (p0, p) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            covered: match (c0, covered) {
                (Some(a), Some(b)) => Some(a && b),
                (a, b) => a.or(b),
            },
        },
    }
}

/// Counts one outcome; a failed test, or one whose null the truth does not know (no true
/// median), counts as failed.
fn record(acc: &mut Acc, judge: Judge, truth: Option<&ArmTruth>, o: Outcome) {
    let (
        Some(t),
        Outcome::Done {
            reject,
            p,
            covered,
            claim,
            estimate,
        },
    ) = (truth, o)
    else {
        acc.failed += 1;
        return;
    };
    let Some(null) = t.null(judge.null) else {
        acc.failed += 1;
        return;
    };
    if let Some((p, loss)) = claim {
        acc.claims.add(p, loss, t.abs_effect);
    }
    acc.evaluated += 1;
    match (null, reject) {
        (true, true) => acc.confusion.type_i += 1,
        (true, false) => acc.confusion.correct_accept += 1,
        (false, true) => acc.confusion.correct_reject += 1,
        (false, false) => acc.confusion.type_ii += 1,
    }
    if null {
        acc.null_true += 1;
        if let Some(p) = p {
            acc.p_null.push(p);
        }
    } else if let Some(&a) = judge.analytic.and_then(|m| t.analytic.get(&m)) {
        acc.analytic_sum += a;
        acc.analytic_n += 1;
    }
    if let Some(c) = covered {
        acc.coverage_n += 1;
        acc.covered += u64::from(c);
    }
    if let (Some(e), Some(target)) = (estimate, target_of(t, judge.target)) {
        let d = e - target;
        if d.is_finite() {
            acc.bias_sum += d;
            acc.bias_sq += d * d;
            acc.bias_n += 1;
        }
    }
}

/// The true value of `target` (`None`: not known, or no interval).
pub(crate) fn target_of(t: &ArmTruth, target: Target) -> Option<f64> {
    match target {
        Target::Difference => Some(t.abs_effect),
        Target::Ratio => t.ratio,
        Target::Lift => t.rel_effect,
        Target::MedianDifference => t.median.map(|q| q.difference),
        Target::None => None,
    }
}

/// Draws group `g`'s values of metric `pm` (and its pre-period twin) into the scratch.
fn draw(pm: &PMetric, g: usize, n: usize, rep_seed: u64, s: &mut Scratch) {
    let mut rng = column_rng(rep_seed, g as u64, &pm.name);
    let no_segment = pm.cells.len() - 1;
    let zi = pm.zero_inflation;
    let off = pm.offset;
    let values = &mut s.values[g];
    values.clear();
    values.reserve(n);
    match &pm.segments {
        None => {
            let law = &pm.cells[no_segment][g];
            if zi > 0.0 {
                for _ in 0..n {
                    let v = if rng.random::<f64>() < zi {
                        0.0
                    } else {
                        law.sampler.sample(&mut rng) + off
                    };
                    values.push(v);
                }
            } else {
                values.extend((0..n).map(|_| law.sampler.sample(&mut rng) + off));
            }
        }
        Some(seg) => {
            s.cells.clear();
            s.attrs.clear();
            s.attrs.resize(seg.n_attrs, 0);
            for _ in 0..n {
                for (a, cdf) in &seg.attrs {
                    let u: f64 = rng.random();
                    s.attrs[*a] = cdf.partition_point(|c| *c <= u) as u16;
                }
                let cell = seg.model.cell(&s.attrs).unwrap_or(no_segment);
                s.cells.push(cell);
                let v = if zi > 0.0 && rng.random::<f64>() < zi {
                    0.0
                } else {
                    pm.cells[cell][g].sampler.sample(&mut rng) + off
                };
                values.push(v);
            }
        }
    }
    if let Some(rho) = pm.rho {
        // The generator's twin: μc + σc (ρ (Y − μY)/σY + sqrt(1 − ρ²) Z).
        let mut rng = column_rng(rep_seed, g as u64, &pm.pre_name);
        let cov = &mut s.covariates[g];
        cov.clear();
        let ctrl_of = |cell: usize| &pm.cells[cell];
        for (i, &y) in values.iter().enumerate() {
            let cell = if pm.segments.is_some() {
                s.cells[i]
            } else {
                no_segment
            };
            let row = ctrl_of(cell);
            let (law, ctrl) = (&row[g], &row[pm.control]);
            let z: f64 = StandardNormal.sample(&mut rng);
            let (std_y, rho) = if law.sd > 0.0 {
                ((y - law.mean) / law.sd, rho)
            } else {
                (0.0, 0.0)
            };
            cov.push(ctrl.mean + ctrl.sd * (rho * std_y + (1.0 - rho * rho).sqrt() * z));
        }
    }
}

/// One treatment arm of one metric at one look of a replication: its group, its truth, the
/// prior of its Bayesian test, and the look's number (from 1, of [`Plan::peeks`]).
struct ArmCtx<'a> {
    pos: usize,
    g: usize,
    truth: Option<&'a ArmTruth>,
    prior: Option<ArmPrior>,
    look: usize,
}

/// Runs every method on the first `nt` treatment and `nc` control values.
fn evaluate(
    plan: &Plan,
    pm: &PMetric,
    arm: &ArmCtx,
    (nt, nc): (usize, usize),
    methods: &[Method],
    seed: u64,
    s: &mut Scratch,
) -> Vec<Outcome> {
    let (g, truth) = (arm.g, arm.truth);
    let ctrl = plan.design.control;
    let d = &s.drawn;
    let (t, c) = (&d.values[arm.pos][g][..nt], &d.values[arm.pos][ctrl][..nc]);
    let look = Look {
        plan,
        truth,
        prior: arm.prior,
        t,
        c,
        // The pre-period twins are drawn only for a metric that has them.
        cov: pm.rho.map(|_| {
            (
                &d.covariates[arm.pos][g][..nt],
                &d.covariates[arm.pos][ctrl][..nc],
            )
        }),
        features: if methods.contains(&Method::Cupac) || methods.contains(&Method::RegressionHc2) {
            let with = |g: usize, n: usize| -> Vec<&[f64]> {
                d.covariates
                    .iter()
                    .filter(|c| c[g].len() >= n && n > 0)
                    .map(|c| &c[g][..n])
                    .collect()
            };
            (with(g, nt), with(ctrl, nc))
        } else {
            (Vec::new(), Vec::new())
        },
        clusters: match (d.clusters.get(g), d.clusters.get(ctrl)) {
            (Some(a), Some(b)) if a.len() >= nt && b.len() >= nc && nt > 0 => {
                Some((&a[..nt], &b[..nc]))
            }
            _ => None,
        },
        st: Summary::from_slice_serial(t),
        sc: Summary::from_slice_serial(c),
        h: Hypothesis::two_sided(plan.design.alpha),
        seed,
    };
    let mut boot = None;
    let mut out = Vec::with_capacity(methods.len());
    for &m in methods {
        out.push(match m {
            Method::WelchT | Method::StudentT => {
                let truth = truth.map(|t| t.abs_effect);
                t_test(m == Method::WelchT, &look.st, &look.sc, &look.h, truth)
            }
            Method::WinsorizedWelch => look.winsorized(),
            Method::ClusterRobust => look.cluster_robust(),
            Method::MannWhitneyU => look.mann_whitney(pm.class, &mut s.ranks),
            Method::TwoProportionZ | Method::ChiSquareYates if pm.class == MetricClass::Binary => {
                look.binary(m)
            }
            Method::Bayes => look.bayes(pm.class),
            Method::TwoProportionZ | Method::ChiSquareYates => Outcome::Failed,
            Method::PoissonRate => look.poisson(),
            Method::RelativeLift => look.lift(),
            Method::QuantileMedian => look.quantile_median(),
            Method::QuantileBootstrap => look.quantile_bootstrap(),
            Method::Fieller => look.fieller(),
            Method::Cuped => look.cuped(),
            Method::Cupac => look.cupac(),
            Method::RegressionHc2 => look.regression(),
            Method::Msprt => look.msprt(),
            Method::ConfidenceSequence => look.confidence_sequence(arm.g),
            Method::GroupSequentialObf | Method::GroupSequentialPocock => {
                look.group_sequential(m, arm.look)
            }
            Method::BootstrapPercentile
            | Method::BootstrapBca
            | Method::BootstrapLiftPercentile
            | Method::BootstrapLiftBca => look.bootstrap(m, &mut boot),
            Method::Permutation => look.permutation(),
        });
    }
    out
}

/// The buffers of the rank tests, reused across replications.
#[derive(Debug, Default)]
struct RankScratch {
    sorted_t: Vec<f64>,
    sorted_c: Vec<f64>,
    hist_t: Vec<u64>,
    hist_c: Vec<u64>,
}

/// What every method of one look reads: the two samples, their summaries, the hypothesis
/// and the truth the intervals are checked against.
struct Look<'a> {
    plan: &'a Plan,
    truth: Option<&'a ArmTruth>,
    /// The prior of the Bayesian test on the arm's lift (`None`: flat).
    prior: Option<ArmPrior>,
    t: &'a [f64],
    c: &'a [f64],
    /// The pre-period twins `(treatment, control)`, for a metric that has them.
    cov: Option<(&'a [f64], &'a [f64])>,
    /// Each customer's cluster `(treatment, control)`, for a blueprint with clusters.
    clusters: Option<(&'a [u64], &'a [u64])>,
    /// Every calibrated metric's pre-period twin `(treatment, control)`: CUPAC's features
    /// (filled only when CUPAC runs).
    features: (Vec<&'a [f64]>, Vec<&'a [f64]>),
    st: Summary,
    sc: Summary,
    h: Hypothesis,
    /// The seed of the resampling methods.
    seed: u64,
}

impl Look<'_> {
    fn alpha(&self) -> f64 {
        self.plan.design.alpha
    }

    /// What `method`'s interval estimates, from the truth (`None`: not known, or the method
    /// has no interval).
    fn target(&self, method: Method) -> Option<f64> {
        target_of(self.truth?, method.target())
    }

    /// Whether `[lo, hi]` holds what `method`'s interval estimates (`None`: no truth known,
    /// or the method has no interval).
    fn covers(&self, method: Method, lo: f64, hi: f64) -> Option<bool> {
        let target = self.target(method)?;
        Some(lo <= target && target <= hi)
    }

    fn done(&self, reject: bool, p: Option<f64>, covered: Option<bool>) -> Outcome {
        Outcome::Done {
            reject,
            p,
            covered,
            claim: None,
            estimate: None,
        }
    }

    /// The Bayesian comparison: beta-binomial for a 0/1 metric under the flat prior, else the
    /// normal model, with the arm's prior on the difference when it has one.
    fn bayes(&self, class: MetricClass) -> Outcome {
        let m = Method::Bayes;
        let mut opts = bayes_opts(self.alpha());
        match self.prior {
            None if class == MetricClass::Binary => return self.binary(m),
            None => {}
            Some(ArmPrior::Beta { a, b }) => {
                opts.prior = (a, b);
                return self.beta_binomial(&opts);
            }
            Some(ArmPrior::Lift(p)) => opts.effect_prior = Some(p.on_difference(self.sc.mean)),
        }
        self.ok(normal_means(&self.st, &self.sc, &opts), |r| {
            bayes_outcome(&r, self.covers(m, r.ci_low, r.ci_high))
        })
    }

    /// The beta-binomial comparison with `opts`' prior on each rate.
    fn beta_binomial(&self, opts: &BayesOptions) -> Outcome {
        let (xt, xc) = (self.st.sum().round() as u64, self.sc.sum().round() as u64);
        let (n_t, n_c) = (self.t.len() as u64, self.c.len() as u64);
        self.ok(beta_binomial(xt, n_t, xc, n_c, opts), |r| {
            bayes_outcome(&r, self.covers(Method::Bayes, r.ci_low, r.ci_high))
        })
    }

    /// `f` of a test's result, or a failed outcome when the test could not run.
    fn ok<R, E>(&self, r: std::result::Result<R, E>, f: impl FnOnce(R) -> Outcome) -> Outcome {
        r.map_or(Outcome::Failed, f)
    }

    /// Welch's test of the means capped at the pooled 99th percentile.
    fn winsorized(&self) -> Outcome {
        let r = winsorized_welch(self.t, self.c, &WinsorOptions::default(), &self.h);
        self.ok(r, |r| {
            let t = r.test;
            let covered = self.covers(Method::WinsorizedWelch, t.ci_low, t.ci_high);
            self.done(t.reject, Some(t.p_value), covered)
                .est(t.estimate)
        })
    }

    /// The cluster-level delta-method comparison of per-customer means; fails without
    /// clusters (or with a cluster in both arms).
    fn cluster_robust(&self) -> Outcome {
        let Some((ct, cc)) = self.clusters else {
            return Outcome::Failed;
        };
        let arm = |outcome, clusters| LinArm {
            outcome,
            covariates: &[],
            clusters: Some(clusters),
        };
        let o = LinOptions {
            hypothesis: self.h,
            covariance: Covariance::Cr2,
            reference: ReferenceLaw::StudentT,
            interact: true,
            covariate_names: &[],
        };
        self.ok(
            lin_regression(&arm(self.t, ct), &arm(self.c, cc), &o),
            |r| {
                let covered = self.covers(Method::ClusterRobust, r.ci_low, r.ci_high);
                self.done(r.reject, Some(r.p_value), covered)
                    .est(r.estimate)
            },
        )
    }

    /// Mann–Whitney U: from histograms for small whole-number values, else from sorted copies.
    fn mann_whitney(&self, class: MetricClass, s: &mut RankScratch) -> Outcome {
        let opts = MannWhitneyOptions {
            hypothesis: self.h,
            method: MannWhitneyMethod::Asymptotic,
            continuity: true,
        };
        let (t, c) = (self.t, self.c);
        // Counts and 0/1 values only: a continuous metric goes to the sorted copies.
        let max = if class == MetricClass::Continuous {
            f64::INFINITY
        } else {
            t.iter().chain(c).fold(0.0f64, |a, &b| a.max(b))
        };
        let r = if max <= HISTOGRAM_MAX {
            histogram(t, max as usize, &mut s.hist_t);
            histogram(c, max as usize, &mut s.hist_c);
            mann_whitney_u_histograms(&s.hist_t, &s.hist_c, &opts)
        } else {
            sorted_mw(t, c, &mut s.sorted_t, &mut s.sorted_c, &opts)
        };
        self.ok(r, |r| self.done(r.reject, Some(r.p_value), None))
    }

    /// The tests of a 0/1 metric on its counts: two-proportion z, chi-square with Yates'
    /// correction, the beta-binomial Bayesian comparison.
    fn binary(&self, m: Method) -> Outcome {
        let (xt, xc) = (self.st.sum().round() as u64, self.sc.sum().round() as u64);
        let (n_t, n_c) = (self.t.len() as u64, self.c.len() as u64);
        match m {
            Method::TwoProportionZ => self.ok(two_proportion_z(xt, n_t, xc, n_c, &self.h), |r| {
                self.done(
                    r.reject,
                    Some(r.p_value),
                    self.covers(m, r.ci_low, r.ci_high),
                )
                .est(r.estimate)
            }),
            Method::ChiSquareYates => self.ok(chi_square_2x2(xt, n_t, xc, n_c, &self.h), |r| {
                self.done(r.yates_reject, Some(r.yates_p_value), None)
            }),
            _ => self.ok(
                beta_binomial(xt, n_t, xc, n_c, &bayes_opts(self.alpha())),
                |r| bayes_outcome(&r, self.covers(m, r.ci_low, r.ci_high)),
            ),
        }
    }

    /// The Poisson rate-ratio score test on the totals.
    fn poisson(&self) -> Outcome {
        let r = poisson_rate(
            self.st.sum().round(),
            self.t.len() as f64,
            self.sc.sum().round(),
            self.c.len() as f64,
            RateCompare::Ratio,
            RateMethod::Score,
            &self.h,
        );
        self.ok(r, |r| {
            let covered = self.covers(Method::PoissonRate, r.ci_low, r.ci_high);
            self.done(r.reject, Some(r.p_value), covered)
                .est(r.rate_ratio)
        })
    }

    /// The relative lift's delta-method z test.
    fn lift(&self) -> Outcome {
        self.ok(relative_lift(&self.st, &self.sc, &self.h), |r| {
            let covered = self.covers(Method::RelativeLift, r.ci_low, r.ci_high);
            self.done(r.reject, Some(r.p_value), covered)
                .est(r.estimate)
        })
    }

    /// The median test: Deng, Knoblich & Lu's order-statistic standard error, refused on an
    /// atom ([`abforge_stats::Error::QuantileOnAtom`]), which counts as failed.
    fn quantile_median(&self) -> Outcome {
        self.ok(quantile_test(self.t, self.c, 0.5, &self.h), |r| {
            let covered = self.covers(Method::QuantileMedian, r.ci_low, r.ci_high);
            self.done(r.reject, Some(r.p_value), covered)
                .est(r.estimate)
        })
    }

    /// The exact order-statistic bootstrap of the medians' difference (percentile interval).
    fn quantile_bootstrap(&self) -> Outcome {
        let o = BootstrapOptions {
            resamples: self.plan.bootstrap.unwrap_or(1000),
            seed: self.seed,
            alpha: self.alpha(),
        };
        self.ok(quantile_bootstrap(self.t, self.c, 0.5, &o), |r| {
            let covered = self.covers(Method::QuantileBootstrap, r.ci_low, r.ci_high);
            self.done(!(r.ci_low <= 0.0 && 0.0 <= r.ci_high), None, covered)
                .est(r.estimate)
        })
    }

    /// Fieller's set for `mean(T) / mean(C)` and its test of a ratio of 1 (equal means). An
    /// unbounded or exclusive set covers the true ratio when it contains it.
    fn fieller(&self) -> Outcome {
        self.ok(fieller_means(&self.st, &self.sc, &self.h), |r| {
            let covered = self.target(Method::Fieller).map(|x| r.set.contains(x));
            self.done(r.reject, Some(r.p_value), covered)
                .est(r.estimate)
        })
    }

    /// Lin's interacted regression on the pre-period twin, HC2 standard error, Student t.
    fn regression(&self) -> Outcome {
        let (xt, xc) = &self.features;
        if xt.is_empty() || xt.len() != xc.len() {
            return Outcome::Failed;
        }
        let arm = |outcome, covariates| LinArm {
            outcome,
            covariates,
            clusters: None,
        };
        let names: Vec<String> = (0..xt.len()).map(|i| format!("pre_{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let o = LinOptions {
            hypothesis: self.h,
            covariance: Covariance::Hc2,
            reference: ReferenceLaw::StudentT,
            interact: true,
            covariate_names: &names,
        };
        self.ok(
            lin_regression(&arm(self.t, xt), &arm(self.c, xc), &o),
            |r| {
                let covered = self.covers(Method::RegressionHc2, r.ci_low, r.ci_high);
                self.done(r.reject, Some(r.p_value), covered)
                    .est(r.estimate)
            },
        )
    }

    /// The group-sequential test at look `k`: the Welch z against the design's look-`k`
    /// critical value `c_k`, and the repeated confidence interval `estimate ± c_k·se`
    /// ([`GsdDesign::decide`] and [`GsdDesign::repeated_ci`] at one look; [`combine`] folds
    /// the looks). Its p-value is the z test's with one look; none with more, where a look's
    /// nominal p-value is not the sequential test's.
    fn group_sequential(&self, m: Method, k: usize) -> Outcome {
        let Some(c) = self.plan.gsd_critical(m, k) else {
            return Outcome::Failed;
        };
        let (nt, nc) = (self.st.n as f64, self.sc.n as f64);
        let se = (self.st.variance() / nt + self.sc.variance() / nc).sqrt();
        if !(se > 0.0 && se.is_finite()) {
            return Outcome::Failed;
        }
        let est = self.st.mean - self.sc.mean;
        let z = est / se;
        let p = (self.plan.peeks == 1).then(|| (2.0 * norm_sf(z.abs())).min(1.0));
        self.done(z.abs() >= c, p, self.covers(m, est - c * se, est + c * se))
            .est(est)
    }

    /// CUPAC: CUPED on the cross-fitted prediction of the metric from every calibrated
    /// metric's pre-period twin.
    fn cupac(&self) -> Outcome {
        let (ft, fc) = &self.features;
        if ft.is_empty() || ft.len() != fc.len() {
            return Outcome::Failed;
        }
        self.ok(cupac(self.t, ft, self.c, fc, &self.h), |r| {
            let a = r.cuped.adjusted;
            let covered = self.covers(Method::Cupac, a.ci_low, a.ci_high);
            self.done(a.reject, Some(a.p_value), covered)
                .est(a.estimate)
        })
    }

    /// CUPED with the pre-period twins as covariates.
    fn cuped(&self) -> Outcome {
        let Some((cov_t, cov_c)) = self.cov else {
            return Outcome::Failed;
        };
        let r = RatioSummary::from_slices(self.t, cov_t).and_then(|a| {
            let b = RatioSummary::from_slices(self.c, cov_c)?;
            cuped_from_summaries(&a, &b, &self.h)
        });
        self.ok(r, |r| {
            let a = r.adjusted;
            let covered = self.covers(Method::Cuped, a.ci_low, a.ci_high);
            self.done(a.reject, Some(a.p_value), covered)
                .est(a.estimate)
        })
    }

    /// GrowthBook's asymptotic confidence sequence, tuned to the planned total size of the
    /// two arms (their size at the last look).
    fn confidence_sequence(&self, g: usize) -> Outcome {
        let d = &self.plan.design;
        let o = AsymptoticCsOptions {
            hypothesis: self.h,
            planned_n: (d.sizes[g] + d.sizes[d.control]) as f64,
            rho: None,
        };
        self.ok(asymptotic_cs(&self.st, &self.sc, &o), |r| {
            let covered = self.covers(Method::ConfidenceSequence, r.ci_low, r.ci_high);
            self.done(r.reject, Some(r.p_value), covered)
                .est(r.estimate)
        })
    }

    /// The mSPRT with the plan's mixing standard deviation.
    fn msprt(&self) -> Outcome {
        let o = MsprtOptions {
            alpha: self.alpha(),
            mixing_sd: self.plan.msprt_mixing_sd,
            ..MsprtOptions::default()
        };
        self.ok(msprt(&self.st, &self.sc, &o), |r| {
            let covered = self.covers(Method::Msprt, r.ci_low, r.ci_high);
            self.done(r.reject, Some(r.p_value), covered)
                .est(r.estimate)
        })
    }

    /// One of the bootstrap intervals; the resampling runs once per look (`boot`) for all.
    fn bootstrap(
        &self,
        m: Method,
        boot: &mut Option<Option<abforge_stats::BootstrapResult>>,
    ) -> Outcome {
        let b = boot.get_or_insert_with(|| {
            let o = BootstrapOptions {
                resamples: self.plan.bootstrap.unwrap_or(1000),
                seed: self.seed,
                alpha: self.alpha(),
            };
            bootstrap(self.t, self.c, &o).ok()
        });
        let iv = b.as_ref().and_then(|b| match m {
            Method::BootstrapPercentile | Method::BootstrapBca => Some(b.mean_difference),
            _ => b.relative_lift,
        });
        let Some(iv) = iv else {
            return Outcome::Failed;
        };
        let (lo, hi) = match m {
            Method::BootstrapPercentile | Method::BootstrapLiftPercentile => {
                (iv.percentile_low, iv.percentile_high)
            }
            _ => (iv.bca_low, iv.bca_high),
        };
        self.done(!(lo <= 0.0 && 0.0 <= hi), None, self.covers(m, lo, hi))
            .est(iv.estimate)
    }

    /// The permutation test of the mean difference.
    fn permutation(&self) -> Outcome {
        let o = PermutationOptions {
            resamples: self.plan.permutation.unwrap_or(1000),
            seed: self.seed,
            hypothesis: self.h,
        };
        self.ok(permutation_test(self.t, self.c, &o), |r| {
            self.done(r.reject, Some(r.p_value), None)
        })
    }
}

/// Welch's or Student's t-test as [`welch_t`] / [`student_t`] compute it (same statistic,
/// degrees of freedom and p-value function), with the coverage of `truth` checked as
/// `P(|T| > |x̄_t − x̄_c − truth| / se) ≥ α`, which is the same as the interval containing
/// it, without the interval's quantile (a Newton iteration per replication). Degenerate
/// samples (zero standard error) go through the stats crate's own functions.
fn t_test(welch: bool, st: &Summary, sc: &Summary, h: &Hypothesis, truth: Option<f64>) -> Outcome {
    let (nt, nc) = (st.n as f64, sc.n as f64);
    let (se, df) = if welch {
        let (vt, vc) = (st.variance() / nt, sc.variance() / nc);
        let v = vt + vc;
        (
            v.sqrt(),
            v * v / (vt * vt / (nt - 1.0) + vc * vc / (nc - 1.0)),
        )
    } else {
        let df = nt + nc - 2.0;
        (((st.m2 + sc.m2) / df * (1.0 / nt + 1.0 / nc)).sqrt(), df)
    };
    let est = st.mean - sc.mean;
    if !(se > 0.0 && se.is_finite() && df > 0.0) {
        let r = if welch {
            welch_t(st, sc, h)
        } else {
            student_t(st, sc, h)
        };
        return match r {
            Ok(r) => Outcome::Done {
                reject: r.reject,
                p: Some(r.p_value),
                covered: truth.map(|d| r.ci_low <= d && d <= r.ci_high),
                claim: None,
                estimate: Some(r.estimate),
            },
            Err(_) => Outcome::Failed,
        };
    }
    let p = t_two_sided(est / se, df);
    Outcome::Done {
        reject: p <= h.alpha,
        p: Some(p),
        covered: truth.map(|d| t_two_sided((est - d) / se, df) >= h.alpha),
        claim: None,
        estimate: Some(est),
    }
}

fn bayes_opts(alpha: f64) -> BayesOptions {
    BayesOptions {
        alpha,
        ..BayesOptions::default()
    }
}

/// The Bayesian decision as a test: its "p-value" is the two-sided posterior tail
/// `2 min(P(T > C), P(T < C))`.
fn bayes_outcome(r: &abforge_stats::BayesResult, covered: Option<bool>) -> Outcome {
    let p = r.prob_treatment_better;
    Outcome::Done {
        reject: r.reject,
        p: Some((2.0 * p.min(1.0 - p)).min(1.0)),
        covered,
        claim: Some((p, r.expected_loss_treatment)),
        estimate: Some(r.estimate),
    }
}

fn histogram(xs: &[f64], max: usize, h: &mut Vec<u64>) {
    h.clear();
    h.resize(max + 1, 0);
    for &x in xs {
        h[x as usize] += 1;
    }
}

fn sorted_mw(
    t: &[f64],
    c: &[f64],
    bt: &mut Vec<f64>,
    bc: &mut Vec<f64>,
    opts: &MannWhitneyOptions,
) -> abforge_stats::Result<abforge_stats::MannWhitneyResult> {
    for (src, dst) in [(t, &mut *bt), (c, &mut *bc)] {
        dst.clear();
        dst.extend_from_slice(src);
        dst.sort_unstable_by(f64::total_cmp);
    }
    mann_whitney_u_sorted(bt, bc, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_matches_the_stats_crate() {
        let xs: Vec<f64> = (0..1001)
            .map(|i| ((i * 37) % 101) as f64 * 0.5 + 1e6)
            .collect();
        let (a, b) = (Summary::from_slice_serial(&xs), Summary::from_slice(&xs));
        assert_eq!(a.n, b.n);
        assert!((a.mean - b.mean).abs() < 1e-9 && (a.m2 / b.m2 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_t_test_fast_path_is_the_stats_crates_test() {
        let h = Hypothesis::two_sided(0.05);
        for (k, shift) in [(0u64, 0.0), (1, 0.3), (2, 1.0), (3, -0.2)] {
            let t: Vec<f64> = (0..300)
                .map(|i| ((i * 7 + k) % 31) as f64 * 0.1 + shift)
                .collect();
            let c: Vec<f64> = (0..250)
                .map(|i| ((i * 11 + k) % 37) as f64 * 0.12)
                .collect();
            let (st, sc) = (Summary::from_slice(&t), Summary::from_slice(&c));
            for welch in [true, false] {
                let r = if welch {
                    welch_t(&st, &sc, &h)
                } else {
                    student_t(&st, &sc, &h)
                }
                .unwrap();
                let Outcome::Done {
                    reject, p, covered, ..
                } = t_test(welch, &st, &sc, &h, Some(0.25))
                else {
                    panic!("failed")
                };
                assert_eq!(reject, r.reject);
                assert!((p.unwrap() - r.p_value).abs() < 1e-15);
                assert_eq!(covered, Some(r.ci_low <= 0.25 && 0.25 <= r.ci_high));
            }
        }
    }

    /// The lab's per-look decision `|z| ≥ c_k` and interval `estimate ± c_k·se` are the
    /// design's own (`decide`, `repeated_ci`); with one look both designs are the z test.
    #[test]
    fn group_sequential_designs_are_built_once_from_the_looks() {
        let opts = |peeks| LabOptions {
            peeks,
            methods: Some(vec![
                Method::GroupSequentialObf,
                Method::GroupSequentialPocock,
            ]),
            ..LabOptions::default()
        };
        for (_, d) in gsd_designs(&requested_methods(&opts(1)), &opts(1)).unwrap() {
            assert!((d.looks[0].critical_value - 1.959_963_984_540_054).abs() < 1e-6);
        }
        let designs = gsd_designs(&requested_methods(&opts(5)), &opts(5)).unwrap();
        let (m, obf) = &designs[0];
        assert_eq!(*m, Method::GroupSequentialObf);
        assert!((obf.looks[0].critical_value - 4.877).abs() < 1e-3);
        let z = [1.0, -3.5, 2.5, 2.2, -2.1];
        let decided = designs[1].1.decide(&z).unwrap();
        for (l, z) in decided.looks.iter().zip(z) {
            assert_eq!(l.crossed, z.abs() >= l.critical_value);
        }
        let ci = obf.repeated_ci(&[0.5], &[0.2]).unwrap()[0];
        let c = obf.looks[0].critical_value;
        assert_eq!((ci.ci_low, ci.ci_high), (0.5 - c * 0.2, 0.5 + c * 0.2));
        let e = gsd_designs(&requested_methods(&opts(51)), &opts(51)).unwrap_err();
        assert_eq!(e.invalid().map(|i| i.field), Some("peeks"), "{e}");
    }

    #[test]
    fn the_median_joins_the_truths_quantiles() {
        let mut q = vec![0.1, 0.9];
        with_median(&mut q);
        assert_eq!(q, [0.1, 0.5, 0.9]);
        with_median(&mut q);
        assert_eq!(q, [0.1, 0.5, 0.9]);
    }

    #[test]
    fn sizes_sum_to_the_total() {
        assert_eq!(split(2000, &[0.5, 0.5]), [1000, 1000]);
        assert_eq!(split(10, &[1.0 / 3.0; 3]), [4, 3, 3]);
        assert_eq!(split(101, &[0.52, 0.48]), [53, 48]);
    }
}
