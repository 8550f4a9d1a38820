//! The blueprint: a declarative description of one A/B experiment.
//!
//! A blueprint is read from TOML or JSON ([`Blueprint::from_toml`], [`Blueprint::from_json`],
//! [`Blueprint::from_path`]), validated with every problem reported at once (each naming its
//! field path and what is allowed), and written back ([`Blueprint::to_toml`],
//! [`Blueprint::to_json_value`]) in the same structure. [`Blueprint::resolve`] fixes every
//! `choose` and turns lifts into explicit parameters; the result is a
//! [`Resolved`](crate::Resolved) blueprint, the input of the generator and of the truth.

mod parse;
mod resolve;
mod schema;
mod write;

pub use resolve::{Choice, MetricModel, Resolved, SegmentModel};
pub use schema::json_schema;

use crate::dist::DistKind;
use chrono::NaiveDate;

/// Largest number of customers a blueprint may ask for.
pub const MAX_CUSTOMERS: u64 = 10_000_000_000;
/// Smallest and largest number of arms (groups), the control included.
pub const ARMS: std::ops::RangeInclusive<usize> = 2..=26;
/// Largest number of days a purchase window may span.
pub const MAX_DAYS: u32 = 36_600;
/// Largest number of values one attribute may take.
pub const MAX_ATTRIBUTE_VALUES: usize = 10_000;
/// The probabilities of the true quantiles when a blueprint names none.
pub const DEFAULT_QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];
/// Largest number of quantile probabilities a blueprint may list.
pub const MAX_QUANTILES: usize = 99;
/// Smallest and largest number of clusters.
pub const CLUSTERS: std::ops::RangeInclusive<u64> = 2..=1_000_000;
/// Largest intra-cluster correlation of a metric's normal scores.
pub const MAX_ICC: f64 = 0.5;
/// Largest coefficient of variation of the expected cluster sizes.
pub const MAX_SIZE_CV: f64 = 10.0;
/// Largest number of days of a run whose effect changes with time (`novelty` or `ramp`):
/// each day has its own treatment laws.
pub const MAX_EFFECT_DAYS: u32 = 366;

/// A numeric parameter: fixed, chosen once per run among options, or (a lift only) drawn
/// once per run from a prior.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A fixed value.
    Fixed(f64),
    /// `{ choose = [...] }`: one option is drawn per run from the seed, uniformly.
    Choose(Vec<f64>),
    /// `{ prior = "normal", mean = m, sd = s }` or `{ prior = "uniform", low = a, high = b }`:
    /// one value is drawn per run from the seed. Only `lift` and `lift_abs` take a prior.
    Prior(Prior),
}

impl Param {
    /// The value, if fixed.
    pub fn fixed(&self) -> Option<f64> {
        match self {
            Param::Fixed(v) => Some(*v),
            Param::Choose(_) | Param::Prior(_) => None,
        }
    }

    /// Whether a value is drawn per run (`choose` or a prior).
    pub fn is_drawn(&self) -> bool {
        !matches!(self, Param::Fixed(_))
    }
}

/// The law a lift is drawn from, once per run: an effect that is itself random, so that a
/// Bayesian claim ("92 % chance to beat control") can be checked against many draws.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "prior", rename_all = "snake_case")]
pub enum Prior {
    /// Normal with mean `mean` (finite) and standard deviation `sd` (finite, > 0).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        sd: f64,
    },
    /// Uniform on `[low, high]` (finite, `low < high`).
    Uniform {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
}

impl Prior {
    /// The names of the prior families, as the blueprint spells them.
    pub const FAMILIES: [&'static str; 2] = ["normal", "uniform"];

    /// The family's name.
    pub fn name(&self) -> &'static str {
        match self {
            Prior::Normal { .. } => "normal",
            Prior::Uniform { .. } => "uniform",
        }
    }

    /// Its mean.
    pub fn mean(&self) -> f64 {
        match *self {
            Prior::Normal { mean, .. } => mean,
            Prior::Uniform { low, high } => 0.5 * (low + high),
        }
    }

    /// Its standard deviation.
    pub fn sd(&self) -> f64 {
        match *self {
            Prior::Normal { sd, .. } => sd,
            Prior::Uniform { low, high } => (high - low) / 12f64.sqrt(),
        }
    }

    /// One draw from `rng`.
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        use rand::RngExt;
        match *self {
            Prior::Normal { mean, sd } => {
                let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
                mean + sd * z
            }
            Prior::Uniform { low, high } => low + (high - low) * rng.random::<f64>(),
        }
    }
}

impl std::fmt::Display for Prior {
    /// `normal(mean 0, sd 0.02)`, `uniform(-0.05, 0.05)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prior::Normal { mean, sd } => write!(f, "normal(mean {mean}, sd {sd})"),
            Prior::Uniform { low, high } => write!(f, "uniform({low}, {high})"),
        }
    }
}

/// How an arm's parameters are given for one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum ArmSpec {
    /// Explicit distribution parameters, by name (complete for an arm, partial in a segment).
    Params(Vec<(String, Param)>),
    /// The control's parameters with the metric's mean multiplied by `1 + lift`.
    Lift(Param),
    /// The control's parameters with the metric's mean shifted by `lift_abs`.
    LiftAbs(Param),
}

/// A heterogeneous effect: parameters that apply to customers matching `when`.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Attribute name → accepted values (any of them); all attributes must match.
    pub when: Vec<(String, Vec<String>)>,
    /// Arm name → parameters overriding the arm's own inside the segment.
    pub arms: Vec<(String, ArmSpec)>,
}

/// A pre-period twin of a metric, `pre_<metric>`, for variance reduction.
#[derive(Debug, Clone, PartialEq)]
pub struct PrePeriod {
    /// Pearson correlation of the twin with the metric, in `[-1, 1]`.
    pub correlation: Param,
}

/// One metric column and the law of each arm.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Column name: `[a-z_][a-z0-9_]*`, at most 63 characters.
    pub name: String,
    /// The base distribution.
    pub distribution: DistKind,
    /// Added to every draw that is not zero-inflated (an integer for integer metrics).
    pub offset: f64,
    /// Probability that a value is 0 instead of a draw, in `[0, 1)`.
    pub zero_inflation: Param,
    /// An optional `pre_<name>` twin column.
    pub pre_period: Option<PrePeriod>,
    /// Parameters per arm, in the order of [`Blueprint::groups`].
    pub arms: Vec<(String, ArmSpec)>,
    /// Segment overrides; the first segment a customer matches applies.
    pub segments: Vec<Segment>,
}

/// A correlation between two metrics of the same customer, drawn through a Gaussian copula:
/// the normal scores behind the two metrics have correlation `rho`, and each metric keeps its
/// own law.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    /// The two metrics (distinct, in the order given).
    pub metrics: [String; 2],
    /// The correlation of their normal scores, strictly between -1 and 1.
    pub rho: f64,
}

/// How customers of a clustered experiment are randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// Every customer of a cluster is in the cluster's group (cluster randomisation).
    Cluster,
    /// Each customer is randomised on their own, whatever their cluster.
    Customer,
}

impl Assignment {
    /// The blueprint's name of the assignment.
    pub fn name(self) -> &'static str {
        match self {
            Assignment::Cluster => "cluster",
            Assignment::Customer => "customer",
        }
    }
}

/// Customers belong to clusters (stores, schools, cities): each customer is in one of
/// `count` clusters, whose expected sizes vary with coefficient of variation `size_cv`, and
/// a metric with an ICC shares part of its normal score with the rest of its cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// Number of clusters, in [`CLUSTERS`].
    pub count: u64,
    /// Coefficient of variation of the expected cluster sizes (lognormal), `0` for equal
    /// sizes, at most [`MAX_SIZE_CV`].
    pub size_cv: f64,
    /// Whether whole clusters or single customers are randomised.
    pub assignment: Assignment,
    /// Metric → the intra-cluster correlation of its normal scores, in `[0, MAX_ICC]`;
    /// metrics not named have none.
    pub icc: Vec<(String, f64)>,
}

/// How a treatment's effect changes over the run's days (day 0 is `start_date`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EffectCurve {
    /// The same effect every day.
    Constant,
    /// A novelty effect: on day `d` the effect is `1 + boost·2^(−d/half_life)` times the
    /// blueprint's (long-run) effect.
    Novelty {
        /// Extra effect on day 0, relative to the long-run effect (`-1` to `100`).
        boost: f64,
        /// Days for the extra effect to halve (positive).
        half_life: f64,
    },
    /// A ramp: on day `d` the effect is `min(1, (d + 1)/days)` times the blueprint's.
    Ramp {
        /// Days until the full effect.
        days: u32,
    },
}

impl EffectCurve {
    /// The multiple of the blueprint's effect on day `d`.
    pub fn multiplier(&self, d: u32) -> f64 {
        match *self {
            EffectCurve::Constant => 1.0,
            EffectCurve::Novelty { boost, half_life } => {
                1.0 + boost * (-f64::from(d) / half_life).exp2()
            }
            EffectCurve::Ramp { days } => (f64::from(d + 1) / f64::from(days)).min(1.0),
        }
    }
}

/// Customers arrive over the run's days in order: day by day, with a weight per weekday, so
/// that the generated order (`customer_id`) is the order of arrival; and the effect may
/// change with the day.
#[derive(Debug, Clone, PartialEq)]
pub struct Time {
    /// Relative arrival weight of each weekday, Monday first (positive).
    pub weekdays: [f64; 7],
    /// How the treatments' effects change over the days.
    pub effect: EffectCurve,
}

/// The names of the weekdays in a blueprint, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A ratio metric: the ratio of two metrics, e.g. revenue per order.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    /// The numerator metric.
    pub numerator: String,
    /// The denominator metric (a different one).
    pub denominator: String,
}

/// A categorical customer attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Column name.
    pub name: String,
    /// Value → weight (positive, normalised).
    pub values: Vec<(String, f64)>,
}

/// A validated blueprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Blueprint {
    /// Experiment id: `[a-z0-9_-]{1,64}`.
    pub id: String,
    /// One line on what the experiment shows.
    pub description: Option<String>,
    /// Seed of every random draw (choices and rows).
    pub seed: u64,
    /// Customers across all groups, `1..=10^10`.
    pub customers: u64,
    /// First purchase date.
    pub start_date: NaiveDate,
    /// Purchase dates are uniform over `[start_date, start_date + days)`.
    pub days: u32,
    /// Name of the control arm (default `control`).
    pub control_group: String,
    /// Arms and their planned allocation weights (positive, normalised).
    pub groups: Vec<(String, f64)>,
    /// Realised allocation weights, when they differ from `groups` (a sample-ratio mismatch).
    pub actual_groups: Option<Vec<(String, f64)>>,
    /// Categorical attributes, in column order.
    pub attributes: Vec<Attribute>,
    /// Metrics, in column order.
    pub metrics: Vec<Metric>,
    /// The probabilities (strictly increasing, each in `(0, 1)`) of the true quantiles the
    /// truth gives for every metric in every group ([`DEFAULT_QUANTILES`] unless named).
    pub quantiles: Vec<f64>,
    /// Correlations between metrics (none: every metric drawn independently); together they
    /// form a positive-definite correlation matrix.
    pub correlations: Vec<Correlation>,
    /// The clusters customers belong to, if any.
    pub clusters: Option<Clusters>,
    /// Ordered arrivals over the days, and effects that change with time, if given.
    pub time: Option<Time>,
    /// Ratio metrics whose truth is given.
    pub ratios: Vec<Ratio>,
}

impl Blueprint {
    /// Index of the control arm in [`Blueprint::groups`].
    pub fn control_index(&self) -> usize {
        self.groups
            .iter()
            .position(|(g, _)| *g == self.control_group)
            .unwrap_or(0)
    }

    /// Planned allocation, normalised to sum to 1.
    pub fn planned_allocation(&self) -> Vec<f64> {
        normalise(self.groups.iter().map(|(_, w)| *w))
    }

    /// Realised allocation (the `actual_groups` weights when given), normalised.
    pub fn actual_allocation(&self) -> Vec<f64> {
        match &self.actual_groups {
            Some(a) => normalise(a.iter().map(|(_, w)| *w)),
            None => self.planned_allocation(),
        }
    }

    /// Whether any parameter is still drawn per run: a `choose` or a prior.
    pub fn has_choices(&self) -> bool {
        self.metrics.iter().any(|m| {
            m.zero_inflation.is_drawn()
                || m.pre_period
                    .as_ref()
                    .is_some_and(|p| p.correlation.is_drawn())
                || m.arms.iter().any(|(_, a)| arm_has(a, Param::is_drawn))
                || m.segments
                    .iter()
                    .any(|s| s.arms.iter().any(|(_, a)| arm_has(a, Param::is_drawn)))
        })
    }

    /// Whether any lift is drawn from a prior (a continuous draw: no two runs share it).
    pub fn has_priors(&self) -> bool {
        let prior = |p: &Param| matches!(p, Param::Prior(_));
        self.metrics.iter().any(|m| {
            m.arms.iter().any(|(_, a)| arm_has(a, prior))
                || m.segments
                    .iter()
                    .any(|s| s.arms.iter().any(|(_, a)| arm_has(a, prior)))
        })
    }

    /// Names of the columns the generator writes, in order.
    pub fn column_names(&self) -> Vec<String> {
        let mut cols: Vec<String> = ["customer_id", "experiment_id", "group"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        cols.extend(self.attributes.iter().map(|a| a.name.clone()));
        if self.clusters.is_some() {
            cols.push("cluster_id".into());
        }
        cols.push("purchase_date".into());
        for m in &self.metrics {
            cols.push(m.name.clone());
            if m.pre_period.is_some() {
                cols.push(format!("pre_{}", m.name));
            }
        }
        cols
    }
}

/// Whether any parameter of `a` is one `test` accepts.
fn arm_has(a: &ArmSpec, test: impl Fn(&Param) -> bool) -> bool {
    match a {
        ArmSpec::Params(ps) => ps.iter().any(|(_, p)| test(p)),
        ArmSpec::Lift(p) | ArmSpec::LiftAbs(p) => test(p),
    }
}

fn normalise(w: impl Iterator<Item = f64> + Clone) -> Vec<f64> {
    let total: f64 = w.clone().sum();
    w.map(|x| x / total).collect()
}
