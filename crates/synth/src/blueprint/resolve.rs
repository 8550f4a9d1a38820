//! Resolution: every `choose` drawn, every lift turned into explicit parameters.

use super::{ArmSpec, Blueprint, Metric, Param, PrePeriod, Segment};
use crate::Cancel;
use crate::dist::{Dist, DistKind};
use crate::error::{Error, Problem, Result, Tally};
use crate::rng::{Stream, stream_rng};
use crate::truth::{self, Failed, Stop, Truth};
use rand::RngExt;
use std::collections::HashMap;

/// One `choose` drawn during resolution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Choice {
    /// Field path of the parameter.
    pub path: String,
    /// The options it had.
    pub options: Vec<f64>,
    /// The option drawn.
    pub chosen: f64,
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
        let (blueprint, choices, models) = self.fix()?;
        match truth::compute(&blueprint, &models, cancel) {
            Ok(truth) => Ok(Resolved {
                blueprint,
                choices,
                metrics: models,
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
    #[allow(clippy::type_complexity)]
    fn fix(&self) -> Result<(Blueprint, Vec<Choice>, Vec<MetricModel>)> {
        let mut rng = stream_rng(self.seed, Stream::Resolve, 0);
        let mut choices = Vec::new();
        let mut draw = |p: &Param, path: String| -> f64 {
            match p {
                Param::Fixed(x) => *x,
                Param::Choose(opts) => {
                    let chosen = opts[rng.random_range(0..opts.len())];
                    choices.push(Choice {
                        path,
                        options: opts.clone(),
                        chosen,
                    });
                    chosen
                }
            }
        };
        let ctrl = self.control_index();
        let mut problems = Tally::default();
        let index = AttrIndex::new(&self.attributes);
        let mut models = Vec::new();
        let mut metrics = Vec::new();
        for m in &self.metrics {
            let path = format!("metrics.{}", m.name);
            let zi = draw(&m.zero_inflation, format!("{path}.zero_inflation"));
            let pre = m
                .pre_period
                .as_ref()
                .map(|p| draw(&p.correlation, format!("{path}.pre_period.correlation")));
            // Explicit parameters of every arm first (the control's may be needed by lifts).
            let fixed = |spec: &ArmSpec,
                         base: Option<&Dist>,
                         path: &str,
                         draw: &mut dyn FnMut(&Param, String) -> f64|
             -> Option<Result<Dist, String>> {
                match spec {
                    ArmSpec::Params(ps) => {
                        let mut vals = base.map_or_else(
                            || vec![f64::NAN; m.distribution.params().len()],
                            Dist::values,
                        );
                        for (name, p) in ps {
                            let i = m
                                .distribution
                                .params()
                                .iter()
                                .position(|n| n == name)
                                .expect("validated");
                            vals[i] = draw(p, format!("{path}.{name}"));
                        }
                        Some(Dist::new(m.distribution, &vals))
                    }
                    _ => None,
                }
            };
            let mut base: Vec<Option<Dist>> = Vec::with_capacity(m.arms.len());
            for (g, spec) in &m.arms {
                let ap = format!("{path}.{g}");
                base.push(match fixed(spec, None, &ap, &mut draw) {
                    Some(Ok(d)) => Some(d),
                    Some(Err(e)) => {
                        problems.push(Problem::new(ap, e));
                        None
                    }
                    None => None,
                });
            }
            let Some(control) = base[ctrl] else {
                let ap = format!("{path}.{}", self.control_group);
                if matches!(m.arms[ctrl].1, ArmSpec::Lift(_) | ArmSpec::LiftAbs(_)) {
                    problems.push(Problem::new(
                        ap,
                        "the control group needs explicit parameters; lifts are relative to it",
                    ));
                }
                continue;
            };
            let lifted = |spec: &ArmSpec,
                          control: &Dist,
                          path: &str,
                          draw: &mut dyn FnMut(&Param, String) -> f64|
             -> Option<Result<Dist, String>> {
                let mean = (1.0 - zi) * (control.mean() + m.offset);
                let target = match spec {
                    ArmSpec::Lift(p) => {
                        let l = draw(p, format!("{path}.lift"));
                        if l == 0.0 {
                            return Some(Ok(*control));
                        }
                        mean * (1.0 + l)
                    }
                    ArmSpec::LiftAbs(p) => {
                        let l = draw(p, format!("{path}.lift_abs"));
                        if l == 0.0 {
                            return Some(Ok(*control));
                        }
                        mean + l
                    }
                    ArmSpec::Params(_) => return None,
                };
                Some(control.with_mean(target / (1.0 - zi) - m.offset))
            };
            for (i, (g, spec)) in m.arms.iter().enumerate() {
                if base[i].is_none() {
                    let ap = format!("{path}.{g}");
                    match lifted(spec, &control, &ap, &mut draw) {
                        Some(Ok(d)) => base[i] = Some(d),
                        Some(Err(e)) => problems.push(Problem::new(ap, e)),
                        None => {}
                    }
                }
            }
            if base.iter().any(Option::is_none) {
                continue;
            }
            let base: Vec<Dist> = base.into_iter().map(|d| d.expect("checked")).collect();

            let mut segs = Vec::new();
            for (si, s) in m.segments.iter().enumerate() {
                let sp = format!("{path}.segments[{si}]");
                let mut arms = base.clone();
                let spec_of = |g: &str| s.arms.iter().find(|(n, _)| n == g).map(|(_, a)| a);
                // Explicit overrides first, then lifts against the segment's control.
                for (i, (g, _)) in self.groups.iter().enumerate() {
                    if let Some(spec) = spec_of(g) {
                        match fixed(spec, Some(&base[i]), &format!("{sp}.{g}"), &mut draw) {
                            Some(Ok(d)) => arms[i] = d,
                            Some(Err(e)) => problems.push(Problem::new(format!("{sp}.{g}"), e)),
                            None => {}
                        }
                    }
                }
                let seg_control = arms[ctrl];
                for (i, (g, _)) in self.groups.iter().enumerate() {
                    if let Some(spec) = spec_of(g) {
                        if i == ctrl && !matches!(spec, ArmSpec::Params(_)) {
                            problems.push(Problem::new(format!("{sp}.{g}"), "the control group needs explicit parameters; lifts are relative to it"));
                            continue;
                        }
                        match lifted(spec, &seg_control, &format!("{sp}.{g}"), &mut draw) {
                            Some(Ok(d)) => arms[i] = d,
                            Some(Err(e)) => problems.push(Problem::new(format!("{sp}.{g}"), e)),
                            None => {}
                        }
                    }
                }
                let when = s.when.iter().map(|(a, vals)| index.get(a, vals)).collect();
                segs.push(SegmentModel { when, arms });
            }

            let explicit = |d: &Dist| {
                ArmSpec::Params(
                    m.distribution
                        .params()
                        .iter()
                        .zip(d.values())
                        .map(|(n, v)| (n.to_string(), Param::Fixed(v)))
                        .collect(),
                )
            };
            metrics.push(Metric {
                name: m.name.clone(),
                distribution: m.distribution,
                offset: m.offset,
                zero_inflation: Param::Fixed(zi),
                pre_period: pre.map(|c| PrePeriod {
                    correlation: Param::Fixed(c),
                }),
                arms: self
                    .groups
                    .iter()
                    .zip(&base)
                    .map(|((g, _), d)| (g.clone(), explicit(d)))
                    .collect(),
                segments: m
                    .segments
                    .iter()
                    .zip(&segs)
                    .map(|(s, sm)| Segment {
                        when: s.when.clone(),
                        // Every arm the segment named, now with complete explicit parameters.
                        arms: self
                            .groups
                            .iter()
                            .enumerate()
                            .filter(|(_, (g, _))| s.arms.iter().any(|(n, _)| n == g))
                            .map(|(i, (g, _))| (g.clone(), explicit(&sm.arms[i])))
                            .collect(),
                    })
                    .collect(),
            });
            models.push(MetricModel {
                name: m.name.clone(),
                kind: m.distribution,
                offset: m.offset,
                zero_inflation: zi,
                pre_correlation: pre,
                base,
                segments: segs,
            });
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems.into_problems()));
        }
        let blueprint = Blueprint {
            metrics,
            ..self.clone()
        };
        Ok((blueprint, choices, models))
    }

    /// This blueprint with another seed.
    pub fn with_seed(&self, seed: u64) -> Blueprint {
        Blueprint {
            seed,
            ..self.clone()
        }
    }
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
