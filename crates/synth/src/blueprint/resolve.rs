//! Resolution: every `choose` drawn, every lift turned into explicit parameters.

use super::{ArmSpec, Blueprint, Metric, Param, PrePeriod, Prior, Segment};
use crate::Cancel;
use crate::design::Design;
use crate::dist::{Dist, DistKind};
use crate::error::{Error, Problem, Result, Tally};
use crate::rng::{Stream, stream_rng};
use crate::truth::{self, Failed, Stop, Truth};
use rand::RngExt;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::HashMap;

/// One `choose` or prior drawn during resolution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Choice {
    /// Field path of the parameter.
    pub path: String,
    /// The options it had (none for a prior).
    pub options: Vec<f64>,
    /// The prior it was drawn from, for a lift drawn from a prior.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prior: Option<Prior>,
    /// The value drawn.
    pub chosen: f64,
}

impl Choice {
    /// Where the value came from: `[1, 2, 3]` for a choose, `normal(mean 0, sd 0.02)` for
    /// a prior.
    pub fn source(&self) -> String {
        match &self.prior {
            Some(p) => p.to_string(),
            None => {
                let opts: Vec<String> = self.options.iter().map(|o| format!("{o}")).collect();
                format!("[{}]", opts.join(", "))
            }
        }
    }
}

/// A segment of a resolved metric: which customers it covers and every arm's law there.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentModel {
    /// (attribute index, accepted value indices); all must match.
    pub when: Vec<(usize, Vec<usize>)>,
    /// The law of each arm, in group order.
    pub arms: Vec<Dist>,
}

/// A metric with every parameter fixed, ready to sample and to reason about.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricModel {
    /// Column name.
    pub name: String,
    /// Family.
    pub kind: DistKind,
    /// Added to every draw that is not zero-inflated.
    pub offset: f64,
    /// Probability of a structural zero.
    pub zero_inflation: f64,
    /// Correlation of the `pre_` twin, when there is one.
    pub pre_correlation: Option<f64>,
    /// The law of each arm outside every segment, in group order.
    pub base: Vec<Dist>,
    /// Segments; the first that matches a customer applies.
    pub segments: Vec<SegmentModel>,
    /// When the effect changes with the day (`[time]`'s `novelty` or `ramp`): per day, per
    /// cell (the segments, then "no segment") the law of each arm; empty otherwise.
    pub daily: Vec<Vec<Vec<Dist>>>,
}

impl MetricModel {
    /// Index of the first segment matching `attrs`, if any.
    #[inline]
    pub fn cell(&self, attrs: &[u16]) -> Option<usize> {
        self.segments.iter().position(|s| {
            s.when
                .iter()
                .all(|(a, vals)| vals.contains(&usize::from(attrs[*a])))
        })
    }
}

/// A blueprint with every choice fixed: what the generator and the truth work from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The resolved blueprint: no `choose`, no lift; valid input in its own right.
    pub blueprint: Blueprint,
    /// The choices drawn, in document order.
    pub choices: Vec<Choice>,
    /// Each metric's fixed model, in column order.
    pub metrics: Vec<MetricModel>,
    /// The clusters and the arrivals, drawn from the seed.
    pub design: Design,
    /// The ground truth, computed once within its limits ([`crate::truth`]).
    pub(crate) truth: Truth,
}

impl Blueprint {
    /// Fixes every `choose` (drawn from the blueprint's seed, in document order), turns
    /// lifts into explicit parameters, and computes the ground truth.
    ///
    /// # Errors
    /// [`Error::Invalid`] when a lift asks for a mean the family cannot have, or the truth
    /// would take more than its limits ([`crate::truth`]; the problem names the metric).
    pub fn resolve(&self) -> Result<Resolved> {
        self.resolve_cancellable(&Cancel::new())
    }

    /// [`Blueprint::resolve`], stopped with [`Error::Cancelled`] soon after `cancel` is set
    /// (it is checked between bounded steps of the truth computation).
    ///
    /// # Errors
    /// As [`Blueprint::resolve`], and [`Error::Cancelled`].
    pub fn resolve_cancellable(&self, cancel: &Cancel) -> Result<Resolved> {
        let Fixed {
            blueprint,
            choices,
            mut models,
        } = self.fix()?;
        let design = Design::draw(&blueprint);
        let problem = copula_problem(&blueprint, &models)
            .or_else(|| design_problem(&blueprint, &design))
            .or_else(|| daily_laws(&blueprint, &design, &mut models).err());
        if let Some(p) = problem {
            let mut problems = Tally::default();
            problems.push(p);
            return Err(Error::Invalid(problems.into_problems()));
        }
        match truth::compute(&blueprint, &models, &design, cancel) {
            Ok(truth) => Ok(Resolved {
                blueprint,
                choices,
                metrics: models,
                design,
                truth,
            }),
            Err(f) if f.stop == Stop::Cancelled => Err(Error::Cancelled),
            Err(f) => {
                let mut problems = Tally::default();
                problems.push(truth_problem(&blueprint, &f));
                Err(Error::Invalid(problems.into_problems()))
            }
        }
    }

    /// The choices drawn and the lifts made explicit: the resolved blueprint, the choices
    /// and the metric models.
    fn fix(&self) -> Result<Fixed> {
        let mut fixing = Fixing::new(self);
        let mut models = Vec::new();
        let mut metrics = Vec::new();
        for m in &self.metrics {
            if let Some(model) = fixing.metric(m) {
                metrics.push(explicit_metric(&self.groups, m, &model));
                models.push(model);
            }
        }
        if !fixing.problems.is_empty() {
            return Err(Error::Invalid(fixing.problems.into_problems()));
        }
        let blueprint = Blueprint {
            metrics,
            ..self.clone()
        };
        Ok(Fixed {
            blueprint,
            choices: fixing.choices,
            models,
        })
    }

    /// This blueprint with another seed.
    pub fn with_seed(&self, seed: u64) -> Blueprint {
        Blueprint {
            seed,
            ..self.clone()
        }
    }
}

/// What `Blueprint::fix` makes: the resolved blueprint, its choices and its models.
struct Fixed {
    /// The blueprint with every parameter explicit.
    blueprint: Blueprint,
    /// The choices drawn, in document order.
    choices: Vec<Choice>,
    /// Each metric's fixed model, in column order.
    models: Vec<MetricModel>,
}

/// Why a control group cannot be lifted.
const CONTROL_NEEDS_PARAMS: &str =
    "the control group needs explicit parameters; lifts are relative to it";

/// One resolution under way: the `choose` stream, the choices drawn and the problems found.
struct Fixing<'a> {
    /// The blueprint being resolved.
    bp: &'a Blueprint,
    /// Index of its control group.
    ctrl: usize,
    /// Its attributes by name, for the segments' `when`.
    index: AttrIndex<'a>,
    /// The stream the `choose` options are drawn from.
    rng: Xoshiro256PlusPlus,
    /// The choices drawn so far, in document order.
    choices: Vec<Choice>,
    /// The problems found so far.
    problems: Tally,
}

impl<'a> Fixing<'a> {
    /// A resolution of `bp` from its seed, nothing drawn yet.
    fn new(bp: &'a Blueprint) -> Self {
        Self {
            bp,
            ctrl: bp.control_index(),
            index: AttrIndex::new(&bp.attributes),
            rng: stream_rng(bp.seed, Stream::Resolve, 0),
            choices: Vec::new(),
            problems: Tally::default(),
        }
    }

    /// The value of `p`: itself when fixed, else an option drawn and recorded at `path`.
    fn draw(&mut self, p: &Param, path: String) -> f64 {
        match p {
            Param::Fixed(x) => *x,
            Param::Choose(opts) => {
                let chosen = opts[self.rng.random_range(0..opts.len())];
                self.choices.push(Choice {
                    path,
                    options: opts.clone(),
                    prior: None,
                    chosen,
                });
                chosen
            }
            Param::Prior(prior) => {
                let chosen = prior.sample(&mut self.rng);
                self.choices.push(Choice {
                    path,
                    options: Vec::new(),
                    prior: Some(*prior),
                    chosen,
                });
                chosen
            }
        }
    }

    /// The law made, if any; a law that could not be made is recorded as a problem at `path`.
    fn settle(&mut self, law: Option<Result<Dist, String>>, path: String) -> Option<Dist> {
        match law {
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                self.problems.push(Problem::new(path, e));
                None
            }
            None => None,
        }
    }

    /// One metric's model, or `None` when an arm's law outside the segments cannot be fixed
    /// (the problems recorded).
    fn metric(&mut self, m: &Metric) -> Option<MetricModel> {
        let path = format!("metrics.{}", m.name);
        let zi = self.draw(&m.zero_inflation, format!("{path}.zero_inflation"));
        let pre = m
            .pre_period
            .as_ref()
            .map(|p| self.draw(&p.correlation, format!("{path}.pre_period.correlation")));
        let base = self.base_arms(m, zi, &path)?;
        let segments = m
            .segments
            .iter()
            .enumerate()
            .map(|(si, s)| self.segment(m, zi, &base, s, &format!("{path}.segments[{si}]")))
            .collect();
        Some(MetricModel {
            name: m.name.clone(),
            kind: m.distribution,
            offset: m.offset,
            zero_inflation: zi,
            pre_correlation: pre,
            base,
            segments,
            daily: Vec::new(),
        })
    }

    /// Every arm's law outside the segments: explicit parameters first (the control's are
    /// needed by lifts), then lifts against the control; `None` when one cannot be fixed.
    fn base_arms(&mut self, m: &Metric, zi: f64, path: &str) -> Option<Vec<Dist>> {
        let mut base: Vec<Option<Dist>> = Vec::with_capacity(m.arms.len());
        for (g, spec) in &m.arms {
            let ap = format!("{path}.{g}");
            let law = self.fixed(m, spec, None, &ap);
            base.push(self.settle(law, ap));
        }
        let Some(control) = base[self.ctrl] else {
            if matches!(m.arms[self.ctrl].1, ArmSpec::Lift(_) | ArmSpec::LiftAbs(_)) {
                let ap = format!("{path}.{}", self.bp.control_group);
                self.problems.push(Problem::new(ap, CONTROL_NEEDS_PARAMS));
            }
            return None;
        };
        for (i, (g, spec)) in m.arms.iter().enumerate() {
            if base[i].is_none() {
                let ap = format!("{path}.{g}");
                let law = self.lifted(m, zi, spec, &control, &ap);
                base[i] = self.settle(law, ap);
            }
        }
        base.into_iter().collect()
    }

    /// One segment's model at path `sp`: the base laws with the segment's explicit
    /// overrides, then its lifts against the segment's control.
    fn segment(
        &mut self,
        m: &Metric,
        zi: f64,
        base: &[Dist],
        s: &Segment,
        sp: &str,
    ) -> SegmentModel {
        let bp = self.bp;
        let groups = &bp.groups;
        let mut arms = base.to_vec();
        let spec_of = |g: &str| s.arms.iter().find(|(n, _)| n == g).map(|(_, a)| a);
        for (i, (g, _)) in groups.iter().enumerate() {
            if let Some(spec) = spec_of(g) {
                let ap = format!("{sp}.{g}");
                let law = self.fixed(m, spec, Some(&base[i]), &ap);
                if let Some(d) = self.settle(law, ap) {
                    arms[i] = d;
                }
            }
        }
        let seg_control = arms[self.ctrl];
        for (i, (g, _)) in groups.iter().enumerate() {
            let Some(spec) = spec_of(g) else { continue };
            let ap = format!("{sp}.{g}");
            if i == self.ctrl && !matches!(spec, ArmSpec::Params(_)) {
                self.problems.push(Problem::new(ap, CONTROL_NEEDS_PARAMS));
                continue;
            }
            let law = self.lifted(m, zi, spec, &seg_control, &ap);
            if let Some(d) = self.settle(law, ap) {
                arms[i] = d;
            }
        }
        let when = s
            .when
            .iter()
            .map(|(a, vals)| self.index.get(a, vals))
            .collect();
        SegmentModel { when, arms }
    }

    /// The law of an arm with explicit parameters (over `base`'s, when given, else over
    /// none); `None` for a lift.
    fn fixed(
        &mut self,
        m: &Metric,
        spec: &ArmSpec,
        base: Option<&Dist>,
        path: &str,
    ) -> Option<Result<Dist, String>> {
        let ArmSpec::Params(ps) = spec else {
            return None;
        };
        let names = m.distribution.params();
        let mut vals = base.map_or_else(|| vec![f64::NAN; names.len()], Dist::values);
        for (name, p) in ps {
            let i = names.iter().position(|n| n == name).expect("validated");
            vals[i] = self.draw(p, format!("{path}.{name}"));
        }
        Some(Dist::new(m.distribution, &vals))
    }

    /// The law of a lifted arm: `control`'s moved to the lifted mean (of the metric with
    /// zero inflation `zi`); `None` for explicit parameters.
    fn lifted(
        &mut self,
        m: &Metric,
        zi: f64,
        spec: &ArmSpec,
        control: &Dist,
        path: &str,
    ) -> Option<Result<Dist, String>> {
        let mean = (1.0 - zi) * (control.mean() + m.offset);
        let (p, key) = match spec {
            ArmSpec::Lift(p) => (p, "lift"),
            ArmSpec::LiftAbs(p) => (p, "lift_abs"),
            ArmSpec::Params(_) => return None,
        };
        let l = self.draw(p, format!("{path}.{key}"));
        if l == 0.0 {
            return Some(Ok(*control));
        }
        let target = if key == "lift" {
            mean * (1.0 + l)
        } else {
            mean + l
        };
        let law = control.with_mean(target / (1.0 - zi) - m.offset);
        Some(match (law, p) {
            // A drawn value the family cannot take: say which, and where it came from.
            (Err(e), Param::Prior(prior)) => Err(format!(
                "{key} {l} drawn from the prior {prior} (seed {}) gives a law the family \
                 cannot have: {e}; narrow the prior so that its likely draws are all reachable",
                self.bp.seed
            )),
            (law, _) => law,
        })
    }
}

/// `m` as a resolved blueprint states it: the values drawn, and every arm (outside and in
/// each segment it names) with the complete explicit parameters of its law in `model`.
fn explicit_metric(groups: &[(String, f64)], m: &Metric, model: &MetricModel) -> Metric {
    let explicit = |d: &Dist| explicit_params(m.distribution, d);
    Metric {
        name: m.name.clone(),
        distribution: m.distribution,
        offset: m.offset,
        zero_inflation: Param::Fixed(model.zero_inflation),
        pre_period: model.pre_correlation.map(|c| PrePeriod {
            correlation: Param::Fixed(c),
        }),
        arms: groups
            .iter()
            .zip(&model.base)
            .map(|((g, _), d)| (g.clone(), explicit(d)))
            .collect(),
        segments: m
            .segments
            .iter()
            .zip(&model.segments)
            .map(|(s, sm)| Segment {
                when: s.when.clone(),
                // Every arm the segment named, now with complete explicit parameters.
                arms: groups
                    .iter()
                    .enumerate()
                    .filter(|(_, (g, _))| s.arms.iter().any(|(n, _)| n == g))
                    .map(|(i, (g, _))| (g.clone(), explicit(&sm.arms[i])))
                    .collect(),
            })
            .collect(),
    }
}

/// The explicit parameters of the law `d` of family `kind`.
fn explicit_params(kind: DistKind, d: &Dist) -> ArmSpec {
    ArmSpec::Params(
        kind.params()
            .iter()
            .zip(d.values())
            .map(|(n, v)| (n.to_string(), Param::Fixed(v)))
            .collect(),
    )
}

/// Largest work of one CDF evaluation (see [`Dist::cdf_cost`]) of a law joined by the
/// copula, which draws every value through the law's inverse CDF: a gamma shape, a Poisson
/// rate or a negative binomial mean up to about 2.3·10⁵.
pub const MAX_COPULA_CDF_COST: u64 = 64;

/// The problem of a correlated metric (or one with a cluster ICC) whose law's inverse CDF
/// is too costly to draw from.
fn copula_problem(bp: &Blueprint, models: &[MetricModel]) -> Option<Problem> {
    let icc = bp
        .clusters
        .iter()
        .flat_map(|c| c.icc.iter().map(|(m, _)| m));
    let joined = bp.correlations.iter().flat_map(|c| c.metrics.iter());
    for name in joined.chain(icc) {
        let m = models.iter().find(|m| &m.name == name)?;
        let mut laws = m.base.iter().chain(m.segments.iter().flat_map(|s| &s.arms));
        let costly = |d: &&Dist| d.cdf_cost().is_none_or(|c| c > MAX_COPULA_CDF_COST);
        if let Some(d) = laws.find(costly) {
            return Some(Problem::new(
                "correlations".to_string(),
                format!(
                    "metric {name:?} has a {} law of mean {:e}; a metric joined by \
                     correlations is drawn through its inverse CDF, which for a gamma shape, a \
                     Poisson rate or a negative binomial mean past about 2.3e5 is too costly; \
                     use smaller ones, or leave the metric out of correlations",
                    d.kind().name(),
                    d.mean()
                ),
            ));
        }
    }
    None
}

/// The problem of a design that cannot run: a group with no cluster under cluster
/// assignment.
fn design_problem(bp: &Blueprint, design: &Design) -> Option<Problem> {
    let c = design.clusters.as_ref()?;
    let empty =
        (0..bp.groups.len()).find(|g| !c.arms.is_empty() && !c.arms.contains(&(*g as u16)))?;
    Some(Problem::new(
        "clusters.count".to_string(),
        format!(
            "with {} clusters randomised by cluster, group {:?} drew none (seed {}); use more \
             clusters, another seed, or assignment = \"customer\"",
            c.arms.len(),
            bp.groups[empty].0,
            bp.seed
        ),
    ))
}

/// Fills each metric's per-day laws when the effect changes with the day: on day `d` a
/// treatment's law in a cell is its own with the mean moved to `μc + m(d)·(μt − μc)` (the
/// control's mean `μc`, its own `μt`, the day's multiple `m(d)`), the law's shape kept.
///
/// # Errors
/// The problem of a day whose mean the family cannot have (a probability above 1, …).
fn daily_laws(
    bp: &Blueprint,
    design: &Design,
    models: &mut [MetricModel],
) -> std::result::Result<(), Problem> {
    let Some(arrivals) = design.arrivals.as_ref().filter(|_| design.effect_changes()) else {
        return Ok(());
    };
    let ctrl = bp.control_index();
    for m in models.iter_mut() {
        let cells: Vec<&[Dist]> = m
            .segments
            .iter()
            .map(|s| s.arms.as_slice())
            .chain([m.base.as_slice()])
            .collect();
        let mut daily = Vec::with_capacity(arrivals.multipliers.len());
        for (d, &k) in arrivals.multipliers.iter().enumerate() {
            let mut day = Vec::with_capacity(cells.len());
            for arms in &cells {
                let law = |(i, t): (usize, &Dist)| {
                    let c = arms[ctrl];
                    if i == ctrl || k == 1.0 || t == &c {
                        return Ok(*t);
                    }
                    t.with_mean(c.mean() + k * (t.mean() - c.mean())).map_err(|why| {
                        Problem::new(
                            "time".to_string(),
                            format!(
                                "on day {d} the effect is {k} times the blueprint's, and metric \
                                 {:?} in group {:?} cannot have that mean: {why}",
                                m.name, bp.groups[i].0
                            ),
                        )
                    })
                };
                day.push(
                    arms.iter()
                        .enumerate()
                        .map(law)
                        .collect::<std::result::Result<Vec<_>, _>>()?,
                );
            }
            daily.push(day);
        }
        m.daily = daily;
    }
    Ok(())
}

/// The problem of a blueprint whose truth stopped before its end (not cancelled).
fn truth_problem(bp: &Blueprint, f: &Failed) -> Problem {
    let path = format!("metrics.{}", bp.metrics[f.metric].name);
    match (f.stop, f.group) {
        (Stop::Inexact, Some(g)) => Problem::new(
            format!("{path}.{}", bp.groups[g].0),
            format!(
                "the Mann–Whitney estimand against the control cannot be bounded within {:e} \
                 in {} bins (its support is too long and the two laws too alike); use laws \
                 with shorter supports",
                truth::MAX_APPROX_ERROR,
                truth::MAX_BRACKET_BINS
            ),
        ),
        (Stop::Support(end), Some(g)) => Problem::new(
            format!("{path}.{}", bp.groups[g].0),
            format!(
                "the Mann–Whitney estimand against the control needs the probabilities of a law \
                 (this arm's or the control's) whose support reaches {:.1e}; past {} they are \
                 not accurate to {:e} in floating point. Use a larger negative binomial `p` \
                 or `r`, or a continuous law (gamma)",
                end as f64,
                truth::MAX_SUPPORT_END,
                truth::MAX_APPROX_ERROR
            ),
        ),
        _ if f.cells => Problem::new(
            format!("{path}.segments"),
            format!(
                "the segments split customers into more attribute combinations than the truth \
                 may walk ({} steps, or {} for the whole blueprint); use fewer attributes or \
                 values in `when`",
                truth::CELL_BUDGET,
                truth::TRUTH_BUDGET
            ),
        ),
        _ => Problem::new(
            path,
            format!(
                "computing the truth needs more than {} evaluations (the limit per blueprint), \
                 reached at this metric; use fewer segments, arms or metrics, or laws with \
                 shorter supports",
                truth::TRUTH_BUDGET
            ),
        ),
    }
}

/// Attributes and their values by name, for the segments' `when`.
struct AttrIndex<'a>(HashMap<&'a str, (usize, HashMap<&'a str, usize>)>);

impl<'a> AttrIndex<'a> {
    fn new(attrs: &'a [super::Attribute]) -> Self {
        Self(
            attrs
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let values = a
                        .values
                        .iter()
                        .enumerate()
                        .map(|(j, (n, _))| (n.as_str(), j));
                    (a.name.as_str(), (i, values.collect()))
                })
                .collect(),
        )
    }

    /// The attribute's index and its values' indices (validated names).
    fn get(&self, attr: &str, values: &[String]) -> (usize, Vec<usize>) {
        let (i, by_name) = &self.0[attr];
        (*i, values.iter().map(|v| by_name[v.as_str()]).collect())
    }
}
