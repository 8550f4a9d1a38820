//! A JSON Schema (draft 2020-12) of the blueprint format, for editors and other tools.
//!
//! Written out rather than derived: the format mixes fixed keys with group names inside a
//! metric, and its parameter names depend on the distribution, which derive macros cannot
//! express. A test checks every shipped example against it.

use crate::dist::DistKind;
use serde_json::{Value, json};

/// A bound of a number: the value and whether it is inclusive.
type Bound = Option<(f64, bool)>;

fn param(desc: &str, min: Bound, max: Bound) -> Value {
    let mut n = json!({ "type": "number" });
    if let Some((v, inclusive)) = min {
        n[if inclusive {
            "minimum"
        } else {
            "exclusiveMinimum"
        }] = json!(v);
    }
    if let Some((v, inclusive)) = max {
        n[if inclusive {
            "maximum"
        } else {
            "exclusiveMaximum"
        }] = json!(v);
    }
    json!({
        "description": desc,
        "oneOf": [
            n.clone(),
            { "type": "object", "additionalProperties": false, "required": ["choose"],
              "properties": { "choose": { "type": "array", "minItems": 1, "items": n,
                "description": "Options; one is drawn per run from the seed." } } }
        ]
    })
}

fn clusters() -> Value {
    use crate::blueprint::{CLUSTERS, MAX_ICC, MAX_SIZE_CV};
    json!({
        "type": "object", "additionalProperties": false, "required": ["count"],
        "description": "Customers belong to clusters; a metric with an ICC shares part of its normal score with its cluster (its law is unchanged).",
        "properties": {
            "count": { "type": "integer", "minimum": CLUSTERS.start(), "maximum": CLUSTERS.end(),
                       "description": "Number of clusters." },
            "size_cv": { "type": "number", "minimum": 0, "maximum": MAX_SIZE_CV, "default": 0,
                         "description": "Coefficient of variation of the expected cluster sizes (lognormal); 0: equal sizes." },
            "assignment": { "enum": ["cluster", "customer"], "default": "cluster",
                            "description": "Randomise whole clusters, or each customer." },
            "icc": { "type": "object", "description": "Metric = intra-cluster correlation of its normal scores.",
                     "additionalProperties": { "type": "number", "minimum": 0, "maximum": MAX_ICC } }
        }
    })
}

fn time() -> Value {
    use crate::blueprint::{MAX_EFFECT_DAYS, WEEKDAYS};
    let day = json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 1e6 });
    let days: serde_json::Map<String, Value> = WEEKDAYS
        .iter()
        .map(|d| (d.to_string(), day.clone()))
        .collect();
    json!({
        "type": "object", "additionalProperties": false,
        "description": "Customers arrive day by day in customer_id order, with weekday weights; the effect may change with the day.",
        "properties": {
            "weekdays": { "type": "object", "additionalProperties": false, "properties": days,
                          "description": "Weekday = relative arrival weight (1 when not named)." },
            "novelty": { "type": "object", "additionalProperties": false, "required": ["boost", "half_life"],
                         "description": "Effect on day d: (1 + boost·2^(−d/half_life)) × the blueprint's effect.",
                         "properties": { "boost": { "type": "number", "minimum": -1, "maximum": 100 },
                                         "half_life": { "type": "number", "exclusiveMinimum": 0, "maximum": 36_600 } } },
            "ramp": { "type": "object", "additionalProperties": false, "required": ["days"],
                      "description": "Effect on day d: min(1, (d + 1)/days) × the blueprint's effect.",
                      "properties": { "days": { "type": "integer", "minimum": 1, "maximum": MAX_EFFECT_DAYS } } }
        },
        "not": { "required": ["novelty", "ramp"] }
    })
}

/// A lift: a number, `{ choose = [...] }`, or a prior to draw it from once per run.
fn lift(desc: &str) -> Value {
    let mut v = param(desc, None, None);
    let finite = json!({ "type": "number" });
    let positive = json!({ "type": "number", "exclusiveMinimum": 0 });
    let priors = [
        json!({ "type": "object", "additionalProperties": false, "required": ["prior", "mean", "sd"],
                "description": "Drawn once per run from a normal law.",
                "properties": { "prior": { "const": "normal" }, "mean": finite, "sd": positive } }),
        json!({ "type": "object", "additionalProperties": false, "required": ["prior", "low", "high"],
                "description": "Drawn once per run, uniformly on [low, high] (low < high).",
                "properties": { "prior": { "const": "uniform" }, "low": finite, "high": finite } }),
    ];
    v["oneOf"]
        .as_array_mut()
        .expect("param() gives a oneOf")
        .extend(priors);
    v
}

fn dist_params(kind: DistKind) -> Value {
    let bounds = |i: usize| -> (Bound, Bound) {
        match (kind, i) {
            (DistKind::Poisson, 0) => (Some((0.0, false)), Some((1e12, true))),
            (DistKind::Gamma, _) | (DistKind::Normal, 1) | (DistKind::NegativeBinomial, 0) => {
                (Some((0.0, false)), None)
            }
            (DistKind::Bernoulli, 0) => (Some((0.0, true)), Some((1.0, true))),
            (DistKind::Lognormal, 0) => (Some((-700.0, true)), Some((700.0, true))),
            (DistKind::Lognormal, 1) => (Some((0.0, false)), Some((20.0, true))),
            (DistKind::NegativeBinomial, 1) => (Some((0.0, false)), Some((1.0, true))),
            _ => (None, None),
        }
    };
    let props: serde_json::Map<String, Value> = kind
        .params()
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let (lo, hi) = bounds(i);
            (n.to_string(), param(kind.param_ranges()[i], lo, hi))
        })
        .collect();
    json!({
        "oneOf": [
            { "type": "object", "additionalProperties": false, "properties": props,
              "description": format!("Explicit {} parameters (all of them for an arm; some, in a segment).", kind.name()) },
            { "type": "object", "additionalProperties": false, "required": ["lift"],
              "properties": { "lift": lift("Relative change of the metric's mean against the control.") } },
            { "type": "object", "additionalProperties": false, "required": ["lift_abs"],
              "properties": { "lift_abs": lift("Absolute change of the metric's mean against the control.") } }
        ]
    })
}

/// The rule of a label — a group name, an attribute value — as validation has it: no
/// control character (NUL included), no whitespace at either end, no `{{`.
fn label() -> Value {
    json!({ "allOf": [
        { "pattern": "^[^\u{0}-\u{1f}\u{7f}-\u{9f}]*$" },
        { "not": { "pattern": "^\\s|\\s$" } },
        { "not": { "pattern": "\\{\\{" } }
    ] })
}

/// The JSON Schema of the blueprint format.
pub fn json_schema() -> Value {
    let weights = |what: &str| {
        json!({ "type": "object", "minProperties": 1, "description": what,
                "propertyNames": label(),
                "additionalProperties": { "type": "number", "exclusiveMinimum": 0 } })
    };
    let metric_variants: Vec<Value> = DistKind::ALL
        .iter()
        .map(|k| {
            json!({
                "if": { "properties": { "distribution": { "const": k.name() } } },
                "then": { "additionalProperties": dist_params(*k),
                          "properties": {
                              "distribution": true, "offset": true, "zero_inflation": true, "pre_period": true,
                              "segments": { "items": { "properties": { "when": true },
                                                       "additionalProperties": dist_params(*k) } } } }
            })
        })
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://abforge.dev/schema/blueprint.json",
        "title": "abforge blueprint",
        "description": "An A/B experiment whose truth is known: groups, attributes and the law of each metric in each group.",
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "customers", "start_date", "days", "groups"],
        "properties": {
            "id": { "type": "string", "pattern": "^[a-z0-9_-]{1,64}$", "description": "Experiment id." },
            "description": { "type": "string", "description": "One line on what the experiment shows." },
            "seed": { "type": "integer", "minimum": 0, "maximum": u64::MAX, "default": 0,
                      "description": "Seed of every draw: same blueprint and seed, same bytes." },
            "customers": { "type": "integer", "minimum": 1, "maximum": 10_000_000_000u64,
                           "description": "Customers across all groups." },
            "start_date": { "type": "string", "format": "date", "description": "First purchase date (TOML: a date)." },
            "days": { "type": "integer", "minimum": 1, "maximum": 36_600,
                      "description": "purchase_date is uniform over [start_date, start_date + days)." },
            "control_group": { "type": "string", "default": "control", "description": "The arm the others are compared with." },
            "groups": { "allOf": [ weights("Arm name = planned allocation weight (normalised); 2 to 26 arms."),
                                   { "minProperties": 2, "maxProperties": 26 } ] },
            "quantiles": { "type": "array", "minItems": 1, "maxItems": crate::blueprint::MAX_QUANTILES,
                           "items": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1 },
                           "default": crate::blueprint::DEFAULT_QUANTILES,
                           "description": "Probabilities of the true quantiles given for every metric in every group, in increasing order." },
            "correlations": { "type": "array", "description": "Correlations between metrics of the same customer, drawn through a Gaussian copula (each metric keeps its law); together a positive-definite matrix.",
                              "items": { "type": "object", "additionalProperties": false, "required": ["metrics", "rho"],
                                         "properties": {
                                             "metrics": { "type": "array", "minItems": 2, "maxItems": 2, "items": { "type": "string" },
                                                          "description": "Two different metrics." },
                                             "rho": { "type": "number", "exclusiveMinimum": -1, "exclusiveMaximum": 1,
                                                      "description": "Correlation of their normal scores." } } } },
            "clusters": clusters(),
            "time": time(),
            "ratios": { "type": "array", "description": "Ratio metrics whose truth is given (ratio of means, mean of per-customer ratios).",
                        "items": { "type": "object", "additionalProperties": false, "required": ["numerator", "denominator"],
                                   "properties": { "numerator": { "type": "string" }, "denominator": { "type": "string" } } } },
            "actual_groups": weights("Realised allocation weights, for a sample-ratio mismatch on purpose; same keys as groups."),
            "attributes": { "type": "object", "description": "Categorical columns: name = { value = weight }.",
                            "propertyNames": { "pattern": "^[a-z_][a-z0-9_]{0,62}$" },
                            "additionalProperties": weights("Value = weight.") },
            "metrics": {
                "type": "object",
                "description": "Metric columns: name = its law in each group.",
                "propertyNames": { "pattern": "^[a-z_][a-z0-9_]{0,62}$" },
                "additionalProperties": {
                    "type": "object",
                    "required": ["distribution"],
                    "description": "Keys other than the fixed ones are group names, each with its parameters.",
                    "properties": {
                        "distribution": { "enum": DistKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>() },
                        "offset": { "type": "number", "description": "Added to every draw (a whole number for integer metrics)." },
                        "zero_inflation": param("Probability of a structural zero.", Some((0.0, true)), Some((1.0, false))),
                        "pre_period": { "type": "object", "additionalProperties": false, "required": ["correlation"],
                                        "properties": { "correlation": param("Correlation of pre_<metric> with the metric.", Some((-1.0, true)), Some((1.0, true))) } },
                        "segments": { "type": "array", "items": {
                            "type": "object", "required": ["when"],
                            "properties": { "when": { "type": "object", "minProperties": 1,
                                "additionalProperties": { "oneOf": [ { "type": "string" },
                                    { "type": "array", "minItems": 1, "items": { "type": "string" } } ] } } } } }
                    },
                    "allOf": metric_variants
                }
            }
        }
    })
}
