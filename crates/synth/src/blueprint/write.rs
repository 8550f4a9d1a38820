//! Writing a blueprint back out, in the structure it is read in.

use super::{ArmSpec, Blueprint, Clusters, EffectCurve, Param, Prior, Time, WEEKDAYS};
use serde_json::{Map, Value, json};

fn num(x: f64) -> Value {
    // Whole numbers are written as integers, so TOML keeps `lambda = 2` readable and a
    // TOML → JSON → TOML round trip is stable.
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn param(p: &Param) -> Value {
    match p {
        Param::Fixed(x) => num(*x),
        Param::Choose(xs) => json!({ "choose": xs.iter().map(|x| num(*x)).collect::<Vec<_>>() }),
        Param::Prior(Prior::Normal { mean, sd }) => {
            json!({ "prior": "normal", "mean": num(*mean), "sd": num(*sd) })
        }
        Param::Prior(Prior::Uniform { low, high }) => {
            json!({ "prior": "uniform", "low": num(*low), "high": num(*high) })
        }
    }
}

fn arm(a: &ArmSpec) -> Value {
    match a {
        ArmSpec::Params(ps) => {
            Value::Object(ps.iter().map(|(k, p)| (k.clone(), param(p))).collect())
        }
        ArmSpec::Lift(p) => json!({ "lift": param(p) }),
        ArmSpec::LiftAbs(p) => json!({ "lift_abs": param(p) }),
    }
}

fn weights(w: &[(String, f64)]) -> Value {
    Value::Object(w.iter().map(|(k, x)| (k.clone(), num(*x))).collect())
}

fn clusters(c: &Clusters) -> Value {
    let mut t = Map::new();
    t.insert("count".into(), Value::from(c.count));
    if c.size_cv != 0.0 {
        t.insert("size_cv".into(), num(c.size_cv));
    }
    t.insert(
        "assignment".into(),
        Value::String(c.assignment.name().into()),
    );
    if !c.icc.is_empty() {
        t.insert("icc".into(), weights(&c.icc));
    }
    Value::Object(t)
}

fn time(t: &Time) -> Value {
    let mut m = Map::new();
    if t.weekdays != [1.0; 7] {
        let w = WEEKDAYS
            .iter()
            .zip(t.weekdays)
            .map(|(d, x)| (d.to_string(), num(x)))
            .collect();
        m.insert("weekdays".into(), Value::Object(w));
    }
    match t.effect {
        EffectCurve::Constant => {}
        EffectCurve::Novelty { boost, half_life } => {
            m.insert(
                "novelty".into(),
                json!({ "boost": num(boost), "half_life": num(half_life) }),
            );
        }
        EffectCurve::Ramp { days } => {
            m.insert("ramp".into(), json!({ "days": days }));
        }
    }
    Value::Object(m)
}

impl Blueprint {
    /// The blueprint as a JSON value, in the structure [`Blueprint::from_value`] reads.
    pub fn to_json_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        if let Some(d) = &self.description {
            m.insert("description".into(), Value::String(d.clone()));
        }
        m.insert("seed".into(), Value::from(self.seed));
        m.insert("customers".into(), Value::from(self.customers));
        m.insert(
            "start_date".into(),
            Value::String(self.start_date.format("%Y-%m-%d").to_string()),
        );
        m.insert("days".into(), Value::from(self.days));
        m.insert(
            "control_group".into(),
            Value::String(self.control_group.clone()),
        );
        m.insert("groups".into(), weights(&self.groups));
        if let Some(a) = &self.actual_groups {
            m.insert("actual_groups".into(), weights(a));
        }
        m.insert(
            "attributes".into(),
            Value::Object(
                self.attributes
                    .iter()
                    .map(|a| (a.name.clone(), weights(&a.values)))
                    .collect(),
            ),
        );
        if self.quantiles != super::DEFAULT_QUANTILES {
            m.insert(
                "quantiles".into(),
                Value::Array(self.quantiles.iter().map(|p| num(*p)).collect()),
            );
        }
        if !self.correlations.is_empty() {
            let cs = self
                .correlations
                .iter()
                .map(|c| json!({ "metrics": c.metrics, "rho": num(c.rho) }))
                .collect();
            m.insert("correlations".into(), Value::Array(cs));
        }
        if let Some(c) = &self.clusters {
            m.insert("clusters".into(), clusters(c));
        }
        if let Some(t) = &self.time {
            m.insert("time".into(), time(t));
        }
        if !self.ratios.is_empty() {
            let rs = self
                .ratios
                .iter()
                .map(|r| json!({ "numerator": r.numerator, "denominator": r.denominator }))
                .collect();
            m.insert("ratios".into(), Value::Array(rs));
        }
        let mut metrics = Map::new();
        for me in &self.metrics {
            let mut t = Map::new();
            t.insert(
                "distribution".into(),
                Value::String(me.distribution.name().into()),
            );
            if me.offset != 0.0 {
                t.insert("offset".into(), num(me.offset));
            }
            if me.zero_inflation != Param::Fixed(0.0) {
                t.insert("zero_inflation".into(), param(&me.zero_inflation));
            }
            if let Some(p) = &me.pre_period {
                t.insert(
                    "pre_period".into(),
                    json!({ "correlation": param(&p.correlation) }),
                );
            }
            for (g, a) in &me.arms {
                t.insert(g.clone(), arm(a));
            }
            if !me.segments.is_empty() {
                let segs = me
                    .segments
                    .iter()
                    .map(|s| {
                        let mut st = Map::new();
                        let when = s
                            .when
                            .iter()
                            .map(|(a, vals)| {
                                let v = match vals.as_slice() {
                                    [one] => Value::String(one.clone()),
                                    many => Value::Array(
                                        many.iter().cloned().map(Value::String).collect(),
                                    ),
                                };
                                (a.clone(), v)
                            })
                            .collect();
                        st.insert("when".into(), Value::Object(when));
                        for (g, a) in &s.arms {
                            st.insert(g.clone(), arm(a));
                        }
                        Value::Object(st)
                    })
                    .collect();
                t.insert("segments".into(), Value::Array(segs));
            }
            metrics.insert(me.name.clone(), Value::Object(t));
        }
        m.insert("metrics".into(), Value::Object(metrics));
        Value::Object(m)
    }

    /// The blueprint as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.to_json_value()).expect("a JSON value always serialises")
    }

    /// The blueprint as TOML, laid out as a person writes one: a table per group of
    /// settings, and each arm's parameters as an inline table on one line.
    pub fn to_toml(&self) -> String {
        use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};
        let Value::Object(top) = self.to_json_value() else {
            unreachable!("a blueprint is a table")
        };
        let mut doc = DocumentMut::new();
        for (k, v) in top {
            match (k.as_str(), v) {
                ("start_date", Value::String(d)) => {
                    let date: toml_edit::Datetime = d.parse().expect("a validated date");
                    doc[&k] = toml_edit::value(date);
                }
                ("groups" | "actual_groups", Value::Object(m)) => {
                    doc[&k] = Item::Table(flat_table(m))
                }
                ("attributes" | "metrics", Value::Object(m)) => {
                    let mut outer = Table::new();
                    outer.set_implicit(true);
                    for (name, inner) in m {
                        let Value::Object(fields) = inner else {
                            continue;
                        };
                        let mut t = Table::new();
                        for (f, fv) in fields {
                            match (f.as_str(), fv) {
                                ("segments", Value::Array(segs)) => {
                                    let mut arr = ArrayOfTables::new();
                                    for seg in segs {
                                        if let Value::Object(sm) = seg {
                                            arr.push(flat_table(sm));
                                        }
                                    }
                                    t.insert(&f, Item::ArrayOfTables(arr));
                                }
                                (_, fv) => {
                                    t.insert(&f, Item::Value(toml_value(fv)));
                                }
                            }
                        }
                        outer.insert(&name, Item::Table(t));
                    }
                    doc[&k] = Item::Table(outer);
                }
                (_, v) => doc[&k] = Item::Value(toml_value(v)),
            }
        }
        doc.to_string()
    }
}

/// A table whose values (numbers, strings, inline tables) sit one per line.
fn flat_table(m: Map<String, Value>) -> toml_edit::Table {
    let mut t = toml_edit::Table::new();
    for (k, v) in m {
        t.insert(&k, toml_edit::Item::Value(toml_value(v)));
    }
    t
}

/// A JSON value as a TOML value; objects become inline tables.
fn toml_value(v: Value) -> toml_edit::Value {
    match v {
        Value::Null => toml_edit::Value::from(""),
        Value::Bool(b) => toml_edit::Value::from(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml_edit::Value::from(i),
            // TOML integers are 64-bit signed: larger seeds only round-trip through JSON.
            None => toml_edit::Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => toml_edit::Value::from(s),
        Value::Array(a) => toml_edit::Value::Array(a.into_iter().map(toml_value).collect()),
        Value::Object(m) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in m {
                t.insert(&k, toml_value(v));
            }
            toml_edit::Value::InlineTable(t)
        }
    }
}
