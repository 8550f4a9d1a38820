//! Reading the experiment's design (its `[clusters]` and its `[time]`) and its ratio
//! metrics.

use super::{Cx, describe, join, some_of};
use crate::blueprint::{
    Assignment, Attribute, CLUSTERS, Clusters, Correlation, EffectCurve, MAX_EFFECT_DAYS, MAX_ICC,
    MAX_SIZE_CV, Metric, Ratio, Time, WEEKDAYS,
};
use serde_json::{Map, Value};

const CLUSTER_KEYS: [&str; 4] = ["count", "size_cv", "assignment", "icc"];
const TIME_KEYS: [&str; 3] = ["weekdays", "novelty", "ramp"];

impl Cx {
    /// `[clusters]`: `count`, optional `size_cv`, `assignment` and `icc` (metric → ICC).
    pub(super) fn clusters(
        &mut self,
        v: &Value,
        metrics: &[Metric],
        correlations: &[Correlation],
        attributes: &[Attribute],
    ) -> Option<Clusters> {
        let t = self.table(v, "clusters")?;
        self.unknown_keys(t, "clusters", &CLUSTER_KEYS);
        let count = match t.get("count") {
            Some(c) => self.whole(c, "clusters.count", (*CLUSTERS.start(), *CLUSTERS.end())),
            None => {
                self.err(
                    "clusters.count",
                    format!(
                        "is missing; expected a whole number from {} to {}",
                        CLUSTERS.start(),
                        CLUSTERS.end()
                    ),
                );
                None
            }
        };
        let size_cv = match t.get("size_cv") {
            Some(c) => self.bounded(c, "clusters.size_cv", 0.0, MAX_SIZE_CV),
            None => Some(0.0),
        };
        let assignment = match t.get("assignment") {
            None => Some(Assignment::Cluster),
            Some(a) => match a.as_str() {
                Some("cluster") => Some(Assignment::Cluster),
                Some("customer") => Some(Assignment::Customer),
                _ => {
                    self.err(
                        "clusters.assignment",
                        format!(
                            "{} is not allowed; expected \"cluster\" (whole clusters are \
                             randomised) or \"customer\"",
                            describe(a)
                        ),
                    );
                    None
                }
            },
        };
        let icc = match t.get("icc") {
            Some(i) => self.icc(i, metrics, correlations),
            None => Some(Vec::new()),
        };
        let names = metrics.iter().map(|m| m.name.as_str());
        if names
            .chain(attributes.iter().map(|a| a.name.as_str()))
            .any(|n| n == "cluster_id")
        {
            self.err(
                "clusters",
                "adds the column \"cluster_id\", which a metric or an attribute already has; \
                 rename it",
            );
            return None;
        }
        Some(Clusters {
            count: count?,
            size_cv: size_cv?,
            assignment: assignment?,
            icc: icc?,
        })
    }

    /// `clusters.icc`: metric → ICC of its normal scores, each in `[0, MAX_ICC]`; a metric
    /// joined by `correlations` cannot have one.
    fn icc(
        &mut self,
        v: &Value,
        metrics: &[Metric],
        correlations: &[Correlation],
    ) -> Option<Vec<(String, f64)>> {
        let t = self.table(v, "clusters.icc")?;
        let mut out = Vec::new();
        let mut good = true;
        for (name, x) in t {
            let path = join("clusters.icc", name);
            if !metrics.iter().any(|m| &m.name == name) {
                let known = some_of(metrics.iter().map(|m| m.name.as_str()));
                self.err(
                    &path,
                    format!("is not a metric of this blueprint; the metrics are {known}"),
                );
                good = false;
                continue;
            }
            if correlations.iter().any(|c| c.metrics.contains(name)) {
                self.err(
                    &path,
                    "the metric is also in `correlations`; a metric may have a cluster ICC or \
                     correlations with other metrics, not both",
                );
                good = false;
                continue;
            }
            match self.bounded(x, &path, 0.0, MAX_ICC) {
                Some(r) => out.push((name.clone(), r)),
                None => good = false,
            }
        }
        good.then_some(out)
    }

    /// `ratios`: `[[ratios]]` tables of two different metrics, each pair once.
    pub(super) fn ratios(&mut self, v: &Value, metrics: &[Metric]) -> Option<Vec<Ratio>> {
        let Some(items) = v.as_array() else {
            self.err(
                "ratios",
                format!("expected [[ratios]] tables, found {}", describe(v)),
            );
            return None;
        };
        let mut out: Vec<Ratio> = Vec::new();
        let mut good = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("ratios[{i}]");
            match self.ratio(item, &path, metrics) {
                Some(r) if out.contains(&r) => {
                    self.err(
                        &path,
                        format!("{} / {} is listed twice", r.numerator, r.denominator),
                    );
                    good = false;
                }
                Some(r) => out.push(r),
                None => good = false,
            }
        }
        good.then_some(out)
    }

    /// One `[[ratios]]` table at `path`.
    fn ratio(&mut self, v: &Value, path: &str, metrics: &[Metric]) -> Option<Ratio> {
        let t = self.table(v, path)?;
        self.unknown_keys(t, path, &["numerator", "denominator"]);
        let metric = |cx: &mut Cx, key: &str| -> Option<String> {
            let p = join(path, key);
            let name = cx.field(t, path, key, "a metric of this blueprint")?;
            let name = cx.string(name, &p)?;
            if metrics.iter().any(|m| m.name == name) {
                Some(name.to_string())
            } else {
                let known = some_of(metrics.iter().map(|m| m.name.as_str()));
                cx.err(
                    &p,
                    format!("{name:?} is not a metric of this blueprint; the metrics are {known}"),
                );
                None
            }
        };
        let numerator = metric(self, "numerator");
        let denominator = metric(self, "denominator");
        let (numerator, denominator) = (numerator?, denominator?);
        if numerator == denominator {
            self.err(
                path,
                format!("divides {numerator:?} by itself; expected two different metrics"),
            );
            return None;
        }
        Some(Ratio {
            numerator,
            denominator,
        })
    }

    /// A number in `[lo, hi]` at `path`.
    fn bounded(&mut self, v: &Value, path: &str, lo: f64, hi: f64) -> Option<f64> {
        let x = self.number(v, path)?;
        if (lo..=hi).contains(&x) {
            Some(x)
        } else {
            self.err(
                path,
                format!("{x} is not allowed; expected a number from {lo} to {hi}"),
            );
            None
        }
    }

    /// `[time]`: optional `weekdays` (weekday → arrival weight) and one of `novelty` and
    /// `ramp`; `days` is the run's length in days.
    pub(super) fn time(&mut self, v: &Value, days: Option<u32>) -> Option<Time> {
        let t = self.table(v, "time")?;
        self.unknown_keys(t, "time", &TIME_KEYS);
        let weekdays = match t.get("weekdays") {
            Some(w) => self.weekdays(w),
            None => Some([1.0; 7]),
        };
        let effect = match (t.get("novelty"), t.get("ramp")) {
            (Some(_), Some(_)) => {
                self.err(
                    "time",
                    "has both `novelty` and `ramp`; an effect changes in one way: keep one",
                );
                None
            }
            (Some(n), None) => self.novelty(n),
            (None, Some(r)) => self.ramp(r),
            (None, None) => Some(EffectCurve::Constant),
        };
        if let (Some(e), Some(d)) = (effect, days)
            && e != EffectCurve::Constant
            && d > MAX_EFFECT_DAYS
        {
            self.err(
                "time",
                format!(
                    "an effect that changes with time takes a run of at most {MAX_EFFECT_DAYS} \
                     days (each day has its own laws); this one has {d}"
                ),
            );
            return None;
        }
        Some(Time {
            weekdays: weekdays?,
            effect: effect?,
        })
    }

    /// `time.weekdays`: a table of weekday (`mon` … `sun`) → positive weight; days not
    /// named weigh 1.
    fn weekdays(&mut self, v: &Value) -> Option<[f64; 7]> {
        let t = self.table(v, "time.weekdays")?;
        self.unknown_keys(t, "time.weekdays", &WEEKDAYS);
        let mut out = [1.0; 7];
        let mut good = true;
        for (i, day) in WEEKDAYS.iter().enumerate() {
            let Some(w) = t.get(*day) else { continue };
            let path = join("time.weekdays", day);
            match self.number(w, &path) {
                Some(x) if x > 0.0 && x <= 1e6 => out[i] = x,
                Some(x) => {
                    self.err(
                        &path,
                        format!("{x} is not allowed; expected a weight above 0, at most 1e6"),
                    );
                    good = false;
                }
                None => good = false,
            }
        }
        good.then_some(out)
    }

    /// `time.novelty`: `boost` in `[-1, 100]` and a positive `half_life` in days.
    fn novelty(&mut self, v: &Value) -> Option<EffectCurve> {
        let t = self.table(v, "time.novelty")?;
        self.unknown_keys(t, "time.novelty", &["boost", "half_life"]);
        let boost = self
            .field(t, "time.novelty", "boost", "a number from -1 to 100")
            .and_then(|b| self.bounded(b, "time.novelty.boost", -1.0, 100.0));
        let half_life = self
            .field(
                t,
                "time.novelty",
                "half_life",
                "days, above 0, at most 36600",
            )
            .and_then(|h| {
                let h = self.number(h, "time.novelty.half_life")?;
                if h > 0.0 && h <= 36_600.0 {
                    Some(h)
                } else {
                    self.err(
                        "time.novelty.half_life",
                        format!("{h} is not allowed; expected days, above 0, at most 36600"),
                    );
                    None
                }
            });
        Some(EffectCurve::Novelty {
            boost: boost?,
            half_life: half_life?,
        })
    }

    /// `time.ramp`: `days`, a whole number from 1 to [`MAX_EFFECT_DAYS`].
    fn ramp(&mut self, v: &Value) -> Option<EffectCurve> {
        let t = self.table(v, "time.ramp")?;
        self.unknown_keys(t, "time.ramp", &["days"]);
        let allowed = format!("a whole number from 1 to {MAX_EFFECT_DAYS}");
        let days = self
            .field(t, "time.ramp", "days", &allowed)
            .and_then(|d| self.whole(d, "time.ramp.days", (1, u64::from(MAX_EFFECT_DAYS))))?;
        Some(EffectCurve::Ramp { days: days as u32 })
    }

    /// The value of `key` in table `t` at `path`, or a problem saying it is missing.
    fn field<'v>(
        &mut self,
        t: &'v Map<String, Value>,
        path: &str,
        key: &str,
        what: &str,
    ) -> Option<&'v Value> {
        let got = t.get(key);
        if got.is_none() {
            self.err(&join(path, key), format!("is missing; expected {what}"));
        }
        got
    }
}
