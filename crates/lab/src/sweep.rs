//! Power curves: one calibration per value of a blueprint parameter or of the customer
//! count.
//!
//! The parameter is written `PARAM=FROM..TO:STEPS`: `STEPS` evenly spaced values from
//! `FROM` to `TO`, both included. `PARAM` is
//!
//! * `customers`: the number of customers per experiment (rounded to whole customers);
//! * `metrics.<metric>.<group>.lift` or `.lift_abs`: the group's lift over the control
//!   (relative or absolute) — the usual effect size;
//! * `metrics.<metric>.<group>.<param>`: one of the group's distribution parameters, e.g.
//!   `metrics.items.treatment.lambda` (the group must give explicit parameters);
//! * `metrics.<metric>.zero_inflation` or `metrics.<metric>.pre_period.correlation`.
//!
//! These are the blueprint's own field paths, as `abforge truth` prints them for choices.
//! Every point uses the same seed (common random numbers), so the curve is smooth.

use crate::error::{Error, Result};
use crate::report::Calibration;
use crate::run::{LabOptions, Reporter, calibrate_quiet_start, plan_check};
use abforge_env::Invalid;
use abforge_synth::Blueprint;
use abforge_synth::blueprint::{ArmSpec, Param, PrePeriod};
use serde::Serialize;
use std::str::FromStr;

/// Which arm setting is swept.
#[derive(Debug, Clone, PartialEq)]
pub enum ArmKey {
    /// `lift`: relative to the control mean.
    Lift,
    /// `lift_abs`: absolute.
    LiftAbs,
    /// A distribution parameter by name.
    Param(String),
}

/// What a sweep varies.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepParam {
    /// The customers per experiment.
    Customers,
    /// A metric's zero-inflation.
    ZeroInflation {
        /// The metric.
        metric: String,
    },
    /// The correlation of a metric's pre-period twin.
    PreCorrelation {
        /// The metric.
        metric: String,
    },
    /// A setting of one group of one metric.
    Arm {
        /// The metric.
        metric: String,
        /// The group.
        group: String,
        /// The setting.
        key: ArmKey,
    },
}

/// A parsed `--sweep PARAM=FROM..TO:STEPS`.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// The parameter.
    pub param: SweepParam,
    /// `PARAM` as written.
    pub path: String,
    /// First value.
    pub from: f64,
    /// Last value.
    pub to: f64,
    /// Number of values (at least 1).
    pub steps: u32,
}

const GRAMMAR: &str = "expected PARAM=FROM..TO:STEPS, e.g. customers=200..5000:10 or \
     metrics.revenue.treatment.lift=0..0.2:9; PARAM is customers, \
     metrics.<metric>.<group>.lift, .lift_abs or .<distribution parameter>, \
     metrics.<metric>.zero_inflation or metrics.<metric>.pre_period.correlation";

impl FromStr for SweepSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{s:?} is not a sweep ({why}); {GRAMMAR}");
        let (path, range) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
        let (span, steps) = range.rsplit_once(':').ok_or_else(|| bad("no ':STEPS'"))?;
        let (from, to) = span.split_once("..").ok_or_else(|| bad("no 'FROM..TO'"))?;
        let num = |x: &str, what: &str| -> Result<f64, String> {
            x.trim()
                .replace('_', "")
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(&format!("{what} {x:?} is not a number")))
        };
        let (from, to) = (num(from, "FROM")?, num(to, "TO")?);
        let steps: u32 = steps
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad("STEPS must be a whole number from 1 to 1000"))?;
        let path = path.trim().to_string();
        let parts: Vec<&str> = path.split('.').collect();
        let param = match parts.as_slice() {
            ["customers"] => SweepParam::Customers,
            ["metrics", m, "zero_inflation"] => SweepParam::ZeroInflation {
                metric: m.to_string(),
            },
            ["metrics", m, "pre_period", "correlation"] => SweepParam::PreCorrelation {
                metric: m.to_string(),
            },
            ["metrics", m, g, k] => SweepParam::Arm {
                metric: m.to_string(),
                group: g.to_string(),
                key: match *k {
                    "lift" => ArmKey::Lift,
                    "lift_abs" => ArmKey::LiftAbs,
                    p => ArmKey::Param(p.to_string()),
                },
            },
            _ => return Err(bad(&format!("unknown PARAM {path:?}"))),
        };
        if param == SweepParam::Customers && from.min(to) < 1.0 {
            return Err(bad("customers must be at least 1"));
        }
        Ok(SweepSpec {
            param,
            path,
            from,
            to,
            steps,
        })
    }
}

impl SweepSpec {
    /// The values swept, in order.
    pub fn values(&self) -> Vec<f64> {
        if self.steps == 1 {
            return vec![self.from];
        }
        let n = f64::from(self.steps - 1);
        (0..self.steps)
            .map(|i| {
                let v = self.from + (self.to - self.from) * f64::from(i) / n;
                if self.param == SweepParam::Customers {
                    v.round()
                } else {
                    // 12 significant digits: 0.6 · 1/3 is printed and used as 0.2.
                    format!("{v:.11e}").parse().unwrap_or(v)
                }
            })
            .collect()
    }

    /// `bp` with the parameter set to `value` (and `opts` with the customers, for
    /// [`SweepParam::Customers`]).
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] naming what exists when the metric, group or parameter does not, or
    /// when the value is out of its range.
    pub fn apply(
        &self,
        bp: &Blueprint,
        opts: &LabOptions,
        value: f64,
    ) -> Result<(Blueprint, LabOptions)> {
        let mut bp = bp.clone();
        let mut opts = opts.clone();
        let usage = |msg: String| Error::from(Invalid::new("sweep", msg).value(&self.path));
        let metric_index = |bp: &Blueprint, name: &str| {
            bp.metrics
                .iter()
                .position(|m| m.name == name)
                .ok_or_else(|| {
                    usage(format!(
                        "no metric {name:?}; the metrics are {}",
                        bp.metrics
                            .iter()
                            .map(|m| m.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        };
        match &self.param {
            SweepParam::Customers => opts.customers = Some(value.round().max(1.0) as u64),
            SweepParam::ZeroInflation { metric } => {
                let i = metric_index(&bp, metric)?;
                if !(0.0..1.0).contains(&value) {
                    return Err(usage(format!("zero_inflation {value} is outside [0, 1)")));
                }
                bp.metrics[i].zero_inflation = Param::Fixed(value);
            }
            SweepParam::PreCorrelation { metric } => {
                let i = metric_index(&bp, metric)?;
                if !(-1.0..=1.0).contains(&value) {
                    return Err(usage(format!("correlation {value} is outside [-1, 1]")));
                }
                bp.metrics[i].pre_period = Some(PrePeriod {
                    correlation: Param::Fixed(value),
                });
            }
            SweepParam::Arm { metric, group, key } => {
                let i = metric_index(&bp, metric)?;
                let m = &mut bp.metrics[i];
                let groups: Vec<String> = m.arms.iter().map(|(g, _)| g.clone()).collect();
                let a = groups.iter().position(|g| g == group).ok_or_else(|| {
                    usage(format!(
                        "no group {group:?} in metric {metric:?}; the groups are {}",
                        groups.join(", ")
                    ))
                })?;
                let is_control = *group == bp.control_group;
                let params = m.distribution.params();
                let spec = &mut m.arms[a].1;
                match key {
                    ArmKey::Lift | ArmKey::LiftAbs if is_control => {
                        return Err(usage(format!(
                            "{group} is the control group; lifts are relative to it, sweep a treatment group"
                        )));
                    }
                    ArmKey::Lift => *spec = ArmSpec::Lift(Param::Fixed(value)),
                    ArmKey::LiftAbs => *spec = ArmSpec::LiftAbs(Param::Fixed(value)),
                    ArmKey::Param(p) => {
                        if !params.contains(&p.as_str()) {
                            return Err(usage(format!(
                                "{p:?} is not a setting of a {} metric; expected lift, lift_abs or one of {}",
                                m.distribution.name(),
                                params.join(", ")
                            )));
                        }
                        match spec {
                            ArmSpec::Params(ps) => match ps.iter_mut().find(|(n, _)| n == p) {
                                Some(entry) => entry.1 = Param::Fixed(value),
                                None => ps.push((p.clone(), Param::Fixed(value))),
                            },
                            _ => {
                                return Err(usage(format!(
                                    "group {group:?} is given as a lift; sweep metrics.{metric}.{group}.lift (or lift_abs) instead"
                                )));
                            }
                        }
                    }
                }
            }
        }
        Ok((bp, opts))
    }
}

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// The parameter's value.
    pub value: f64,
    /// The calibration at that value.
    #[serde(flatten)]
    pub calibration: Calibration,
}

/// A power curve: a calibration per value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    /// The parameter swept, as written.
    pub param: String,
    /// The values, in order.
    pub values: Vec<f64>,
    /// One calibration per value.
    pub points: Vec<SweepPoint>,
}

/// Runs [`crate::calibrate`] at every value of `spec`, with the same seed at every point.
/// Every point is checked before the first one runs.
///
/// # Errors
///
/// As [`crate::calibrate`] and [`SweepSpec::apply`].
pub fn sweep(
    bp: &Blueprint,
    spec: &SweepSpec,
    opts: &LabOptions,
    reporter: &dyn Reporter,
) -> Result<SweepReport> {
    let values = spec.values();
    let mut runs = Vec::with_capacity(values.len());
    for &v in &values {
        let (b, o) = spec.apply(bp, opts, v)?;
        plan_check(&b, &o).map_err(|e| match e {
            e @ (Error::Usage(_) | Error::Invalid(_)) => Invalid::new("sweep", e.to_string())
                .value(format_args!("{} at {v}", spec.path))
                .into(),
            e => e,
        })?;
        runs.push((v, b, o));
    }
    reporter.on_start(opts.replications * values.len() as u64);
    let points = runs
        .into_iter()
        .map(|(value, b, o)| {
            Ok(SweepPoint {
                value,
                calibration: calibrate_quiet_start(&b, &o, reporter)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(SweepReport {
        param: spec.path.clone(),
        values,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let s: SweepSpec = "customers=200..5000:5".parse().unwrap();
        assert_eq!(s.values(), [200.0, 1400.0, 2600.0, 3800.0, 5000.0]);
        let s: SweepSpec = "metrics.revenue.treatment.lift=0..0.2:3".parse().unwrap();
        assert_eq!(
            s.param,
            SweepParam::Arm {
                metric: "revenue".into(),
                group: "treatment".into(),
                key: ArmKey::Lift
            }
        );
        assert_eq!(s.values(), [0.0, 0.1, 0.2]);
        for bad in [
            "customers",
            "customers=1..2",
            "customers=0..100:3",
            "revenue.lift=0..1:3",
            "customers=a..2:3",
            "customers=1..2:0",
        ] {
            let e = bad.parse::<SweepSpec>().unwrap_err();
            assert!(e.contains("PARAM=FROM..TO:STEPS"), "{bad}: {e}");
        }
    }
}
