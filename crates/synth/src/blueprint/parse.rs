//! Reading a blueprint from TOML or JSON, with every problem reported at once.
//!
//! The document is first turned into a `serde_json::Value` (TOML dates become strings),
//! then walked by hand: serde's derive stops at the first error, and a blueprint author
//! wants all of them, each with its field path and what is allowed.

use super::{
    ARMS, ArmSpec, Attribute, Blueprint, Correlation, DEFAULT_QUANTILES, MAX_ATTRIBUTE_VALUES,
    MAX_CUSTOMERS, MAX_DAYS, MAX_QUANTILES, Metric, Param, PrePeriod, Prior, Segment,
};
use crate::dist::DistKind;
use crate::error::{Error, Problem, Problems, Result, Tally};
use chrono::NaiveDate;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;

mod design;

/// Keys of a metric table that are not arm names.
pub(super) const METRIC_KEYS: [&str; 5] = [
    "distribution",
    "offset",
    "zero_inflation",
    "pre_period",
    "segments",
];
const TOP_KEYS: [&str; 16] = [
    "id",
    "description",
    "seed",
    "customers",
    "start_date",
    "days",
    "control_group",
    "groups",
    "actual_groups",
    "attributes",
    "metrics",
    "quantiles",
    "correlations",
    "clusters",
    "time",
    "ratios",
];
/// Column names the generator always writes.
pub(super) const RESERVED_COLUMNS: [&str; 4] =
    ["customer_id", "experiment_id", "group", "purchase_date"];

impl Blueprint {
    /// Reads a blueprint file: JSON when the name ends in `.json`, TOML otherwise.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::Invalid`] with every problem.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Blueprint> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read blueprint {}", path.display()), e))?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Blueprint::from_json(&text)
        } else {
            Blueprint::from_toml(&text)
        }
    }

    /// Parses and validates a TOML blueprint.
    ///
    /// # Errors
    /// [`Error::Invalid`] listing every problem (a syntax error is one problem).
    pub fn from_toml(text: &str) -> Result<Blueprint> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Problems(vec![Problem::new(
                "",
                format!("TOML syntax: {}", e.to_string().trim_end()),
            )])
        })?;
        Blueprint::from_value(&toml_to_json(toml::Value::Table(table)))
    }

    /// Parses and validates a JSON blueprint.
    ///
    /// # Errors
    /// [`Error::Invalid`] listing every problem (a syntax error is one problem).
    pub fn from_json(text: &str) -> Result<Blueprint> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Problems(vec![Problem::new("", format!("JSON syntax: {e}"))]))?;
        Blueprint::from_value(&v)
    }

    /// Validates a blueprint given as a JSON value (the structure of the TOML format).
    ///
    /// # Errors
    /// [`Error::Invalid`] listing every problem, in document order.
    pub fn from_value(v: &Value) -> Result<Blueprint> {
        let mut cx = Cx::default();
        let bp = cx.blueprint(v);
        match bp {
            Some(bp) if cx.problems.is_empty() => Ok(bp),
            _ => Err(Error::Invalid(cx.problems.into_problems())),
        }
    }
}

/// Converts a TOML value into the JSON value of the same structure (dates become strings).
pub fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

fn join(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if simple {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// `s` quoted as in Rust (escapes shown), cut after 40 characters: a value echoed in a
/// message, which must stay short whatever was sent.
fn quoted(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}…", &s[..end]),
        None => format!("{s:?}"),
    }
}

/// At most [`LISTED`] of `names`, comma-separated, then "and N more" for the rest.
/// Whether two correlations pair the same metrics (in either order).
fn same_pair(a: &Correlation, b: &Correlation) -> bool {
    let [x, y] = &a.metrics;
    b.metrics == [x.clone(), y.clone()] || b.metrics == [y.clone(), x.clone()]
}

fn some_of<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    listed(names, LISTED)
}

/// Values listed in a message before "and N more" (keys: up to [`LISTED_KEYS`]).
const LISTED: usize = 8;
/// Allowed keys listed in a message: every fixed key and up to 26 groups.
const LISTED_KEYS: usize = 32;

fn listed<'a>(names: impl ExactSizeIterator<Item = &'a str>, most: usize) -> String {
    let total = names.len();
    let shown: Vec<String> = names.take(most).map(quoted_if_needed).collect();
    if total > most {
        format!("{} and {} more", shown.join(", "), total - most)
    } else {
        shown.join(", ")
    }
}

fn quoted_if_needed(s: &str) -> String {
    if !s.is_empty() && s.len() <= 40 && s.chars().all(|c| c.is_ascii_graphic() && c != ',') {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// Why `s` cannot be a label — a group name or an attribute value, which end up in
/// column values, file and table names, log lines and rendered templates — if it cannot.
pub(super) fn label_problem(s: &str) -> Option<&'static str> {
    if s.chars().any(char::is_control) {
        Some("contains a control character (NUL, tab, newline, …); labels are printable text")
    } else if s.trim() != s {
        Some("starts or ends with whitespace")
    } else if s.contains("{{") {
        Some("contains `{{`, the template marker")
    } else {
        None
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quoted(s)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "a table".into(),
    }
}

pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

/// Whether `s` is a valid experiment id: `[a-z0-9_-]{1,64}`.
pub fn is_valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[derive(Default)]
struct Cx {
    problems: Tally,
}

impl Cx {
    fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.problems.push(Problem::new(path, msg));
    }

    fn table<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.err(path, format!("expected a table, found {}", describe(other)));
                None
            }
        }
    }

    fn unknown_keys(&mut self, m: &Map<String, Value>, path: &str, allowed: &[&str]) {
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = suggest(k, allowed);
                self.err(
                    &join(path, k),
                    format!(
                        "unknown key{hint}; allowed keys: {}",
                        listed(allowed.iter().copied(), LISTED_KEYS)
                    ),
                );
            }
        }
    }

    fn number(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            other => {
                self.err(
                    path,
                    format!("expected a number, found {}", describe(other)),
                );
                None
            }
        }
    }

    fn whole(&mut self, v: &Value, path: &str, range: (u64, u64)) -> Option<u64> {
        let allowed = format!("a whole number from {} to {}", range.0, range.1);
        let n = match v {
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Some(u)
                } else {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
                        .map(|f| f as u64)
                }
            }
            _ => None,
        };
        match n {
            Some(n) if (range.0..=range.1).contains(&n) => Some(n),
            _ => {
                self.err(
                    path,
                    format!("{} is not allowed; expected {allowed}", show(v)),
                );
                None
            }
        }
    }

    fn string<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.err(
                    path,
                    format!("expected a string, found {}", describe(other)),
                );
                None
            }
        }
    }

    /// A number or `{ choose = [numbers] }`, each value checked by `ok` (described by `allowed`).
    fn param(
        &mut self,
        v: &Value,
        path: &str,
        ok: &dyn Fn(f64) -> bool,
        allowed: &str,
    ) -> Option<Param> {
        match v {
            Value::Number(_) => {
                let x = self.number(v, path)?;
                if ok(x) {
                    Some(Param::Fixed(x))
                } else {
                    self.err(path, format!("{x} is out of range; expected {allowed}"));
                    None
                }
            }
            Value::Object(m) if m.contains_key("prior") => {
                self.err(
                    &join(path, "prior"),
                    format!(
                        "only `lift` and `lift_abs` may be drawn from a prior; expected a \
                         number or {{ choose = [...] }} of {allowed}"
                    ),
                );
                None
            }
            Value::Object(m) => {
                self.unknown_keys(m, path, &["choose"]);
                let Some(opts) = m.get("choose") else {
                    self.err(
                        path,
                        format!("expected a number or {{ choose = [...] }} of {allowed}"),
                    );
                    return None;
                };
                let cpath = join(path, "choose");
                let Value::Array(items) = opts else {
                    self.err(
                        &cpath,
                        format!("expected an array of numbers, found {}", describe(opts)),
                    );
                    return None;
                };
                if items.is_empty() {
                    self.err(&cpath, "must list at least one option");
                    return None;
                }
                let mut out = Vec::with_capacity(items.len());
                let mut good = true;
                for (i, it) in items.iter().enumerate() {
                    let ipath = format!("{cpath}[{i}]");
                    match self.number(it, &ipath) {
                        Some(x) if ok(x) => out.push(x),
                        Some(x) => {
                            self.err(&ipath, format!("{x} is out of range; expected {allowed}"));
                            good = false;
                        }
                        None => good = false,
                    }
                }
                good.then_some(Param::Choose(out))
            }
            other => {
                self.err(
                    path,
                    format!(
                        "expected a number or {{ choose = [...] }}, found {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    /// A `lift` or `lift_abs`: a finite number, `{ choose = [...] }` of them, or a prior.
    fn lift(&mut self, v: &Value, path: &str) -> Option<Param> {
        match v {
            Value::Object(m) if m.contains_key("prior") => self.prior(m, path).map(Param::Prior),
            _ => self.param(v, path, &f64::is_finite, "a finite number"),
        }
    }

    /// `{ prior = "normal", mean = m, sd = s }` or `{ prior = "uniform", low = a, high = b }`.
    fn prior(&mut self, m: &Map<String, Value>, path: &str) -> Option<Prior> {
        const FORMS: &str = "{ prior = \"normal\", mean = m, sd = s } (sd > 0) or \
                             { prior = \"uniform\", low = a, high = b } (a < b)";
        let ppath = join(path, "prior");
        let family = self.string(&m["prior"], &ppath)?;
        let keys: &[&str] = match family {
            "normal" => &["prior", "mean", "sd"],
            "uniform" => &["prior", "low", "high"],
            other => {
                self.err(
                    &ppath,
                    format!(
                        "{} is not a prior; expected {}, as {FORMS}",
                        quoted(other),
                        Prior::FAMILIES.join(" or ")
                    ),
                );
                return None;
            }
        };
        self.unknown_keys(m, path, keys);
        let mut number = |key: &str, ok: &dyn Fn(f64) -> bool, allowed: &str| {
            let kp = join(path, key);
            match m.get(key) {
                None => {
                    self.err(&kp, format!("is missing; a {family} prior needs {allowed}"));
                    None
                }
                Some(v) => self.number(v, &kp).filter(|x| {
                    let good = ok(*x);
                    if !good {
                        self.err(&kp, format!("{x} is out of range; expected {allowed}"));
                    }
                    good
                }),
            }
        };
        let finite = |x: f64| x.is_finite();
        let prior = if family == "normal" {
            let mean = number("mean", &finite, "a finite `mean`");
            let sd = number("sd", &|x| x.is_finite() && x > 0.0, "a finite `sd` > 0");
            Prior::Normal {
                mean: mean?,
                sd: sd?,
            }
        } else {
            let low = number("low", &finite, "a finite `low`");
            let high = number("high", &finite, "a finite `high`");
            let (low, high) = (low?, high?);
            if low >= high {
                self.err(
                    &join(path, "high"),
                    format!("{high} is not above low = {low}; expected low < high"),
                );
                return None;
            }
            Prior::Uniform { low, high }
        };
        (m.keys().all(|k| keys.contains(&k.as_str()))).then_some(prior)
    }

    fn weights(&mut self, v: &Value, path: &str, what: &str) -> Option<Vec<(String, f64)>> {
        let m = self.table(v, path)?;
        let mut out = Vec::with_capacity(m.len());
        let mut good = true;
        for (k, w) in m {
            let kp = join(path, k);
            match self.number(w, &kp) {
                Some(x) if x.is_finite() && x > 0.0 => out.push((k.clone(), x)),
                Some(x) => {
                    self.err(
                        &kp,
                        format!("weight {x} is not allowed; a {what} weight must be a number > 0"),
                    );
                    good = false;
                }
                None => good = false,
            }
        }
        good.then_some(out)
    }

    /// The whole blueprint, every part checked even when another has problems.
    fn blueprint(&mut self, v: &Value) -> Option<Blueprint> {
        let m = self.table(v, "")?;
        self.unknown_keys(m, "", &TOP_KEYS);
        let id = self.id(m);
        let description = m
            .get("description")
            .and_then(|v| self.string(v, "description"))
            .map(str::to_string);
        let seed = match m.get("seed") {
            Some(v) => self.whole(v, "seed", (0, u64::MAX)),
            None => Some(0),
        };
        let customers = self
            .required(m, "customers", "a whole number from 1 to 10000000000")
            .and_then(|v| self.whole(v, "customers", (1, MAX_CUSTOMERS)));
        let start_date = self.start_date(m);
        let days = self.days(m, start_date);
        let control_group = match m.get("control_group") {
            Some(v) => self.string(v, "control_group").map(str::to_string),
            None => Some("control".to_string()),
        };
        let groups = self.groups(m, control_group.as_deref());
        let actual_groups = m.get("actual_groups").and_then(|v| {
            let a = self.weights(v, "actual_groups", "group")?;
            self.actual_groups(a, groups.as_ref()?)
        });
        let attributes = match m.get("attributes") {
            Some(v) => self.attributes(v),
            None => Some(Vec::new()),
        };
        let metrics = self.blueprint_metrics(m, groups.as_deref(), attributes.as_deref());
        if let (Some(a), Some(ms)) = (&attributes, &metrics) {
            self.columns(a, ms);
        }
        let quantiles = match m.get("quantiles") {
            Some(v) => self.quantiles(v),
            None => Some(DEFAULT_QUANTILES.to_vec()),
        };
        let correlations = match (m.get("correlations"), &metrics) {
            (Some(v), Some(ms)) => self.correlations(v, ms),
            (Some(_), None) => None,
            (None, _) => Some(Vec::new()),
        };
        let clusters = match (m.get("clusters"), &metrics, &correlations, &attributes) {
            (Some(v), Some(ms), Some(cs), Some(a)) => self.clusters(v, ms, cs, a).map(Some),
            (Some(_), ..) => None,
            (None, ..) => Some(None),
        };
        let ratios = match (m.get("ratios"), &metrics) {
            (Some(v), Some(ms)) => self.ratios(v, ms),
            (Some(_), None) => None,
            (None, _) => Some(Vec::new()),
        };
        let time = match m.get("time") {
            Some(v) => self.time(v, days).map(Some),
            None => Some(None),
        };

        Some(Blueprint {
            id: id?,
            description,
            seed: seed?,
            customers: customers?,
            start_date: start_date?,
            days: days?,
            control_group: control_group?,
            groups: groups?,
            actual_groups,
            attributes: attributes?,
            metrics: metrics?,
            quantiles: quantiles?,
            correlations: correlations?,
            clusters: clusters?,
            time: time?,
            ratios: ratios?,
        })
    }

    /// `correlations`: `[[correlations]]` tables of two distinct metrics and a `rho`
    /// strictly between -1 and 1, each pair once, forming a positive-definite matrix.
    fn correlations(&mut self, v: &Value, metrics: &[Metric]) -> Option<Vec<Correlation>> {
        let Some(items) = v.as_array() else {
            let found = describe(v);
            self.err(
                "correlations",
                format!("expected [[correlations]] tables, found {found}"),
            );
            return None;
        };
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        let mut out: Vec<Correlation> = Vec::new();
        let mut good = true;
        for (i, item) in items.iter().enumerate() {
            match self.correlation(item, &format!("correlations[{i}]"), &names) {
                Some(c) if out.iter().any(|o| same_pair(o, &c)) => {
                    let [a, b] = &c.metrics;
                    self.err(
                        &format!("correlations[{i}]"),
                        format!("{a} and {b} are paired twice"),
                    );
                    good = false;
                }
                Some(c) => out.push(c),
                None => good = false,
            }
        }
        if good
            && !out.is_empty()
            && crate::copula::cholesky(&crate::copula::matrix(&out, &names).1).is_none()
        {
            self.err(
                "correlations",
                "together these correlations are not a correlation matrix (it is not positive \
                 definite: e.g. a strongly with b and b with c, but a against c); weaken or \
                 change some of them",
            );
            good = false;
        }
        good.then_some(out)
    }

    /// One `[[correlations]]` table at `path`.
    fn correlation(&mut self, v: &Value, path: &str, names: &[&str]) -> Option<Correlation> {
        let t = self.table(v, path)?;
        self.unknown_keys(t, path, &["metrics", "rho"]);
        let mpath = join(path, "metrics");
        let pair: Vec<&str> = match t.get("metrics").and_then(Value::as_array) {
            Some(a) if a.len() == 2 => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let metrics = match pair[..] {
            [a, b] if a == b => {
                self.err(
                    &mpath,
                    format!("names {a:?} twice; expected two different metrics"),
                );
                None
            }
            [a, b] => {
                let unknown: Vec<&str> =
                    [a, b].into_iter().filter(|m| !names.contains(m)).collect();
                for m in &unknown {
                    let known = some_of(names.iter().copied());
                    self.err(
                        &mpath,
                        format!("{m:?} is not a metric of this blueprint; the metrics are {known}"),
                    );
                }
                unknown.is_empty().then(|| [a.to_string(), b.to_string()])
            }
            _ => {
                self.err(
                    &mpath,
                    "expected two metric names, e.g. [\"revenue\", \"orders\"]",
                );
                None
            }
        };
        let rpath = join(path, "rho");
        let rho = match t.get("rho") {
            None => {
                self.err(
                    &rpath,
                    "is missing; expected a number strictly between -1 and 1",
                );
                None
            }
            Some(r) => self.number(r, &rpath).filter(|r| {
                let ok = r.abs() < 1.0;
                if !ok {
                    self.err(
                        &rpath,
                        format!("{r} is not allowed; expected a number strictly between -1 and 1"),
                    );
                }
                ok
            }),
        };
        Some(Correlation {
            metrics: metrics?,
            rho: rho?,
        })
    }

    /// `quantiles`: 1 to [`MAX_QUANTILES`] probabilities, each in `(0, 1)`, strictly
    /// increasing.
    fn quantiles(&mut self, v: &Value) -> Option<Vec<f64>> {
        const ALLOWED: &str = "a list of 1 to 99 probabilities, each strictly between 0 and 1, \
                               in increasing order, e.g. [0.5, 0.9, 0.99]";
        let Some(items) = v.as_array() else {
            self.err(
                "quantiles",
                format!("expected {ALLOWED}, found {}", describe(v)),
            );
            return None;
        };
        if items.is_empty() || items.len() > MAX_QUANTILES {
            let n = items.len();
            self.err("quantiles", format!("has {n} entries; expected {ALLOWED}"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("quantiles[{i}]");
            let p = self.number(item, &path)?;
            if !(p > 0.0 && p < 1.0) {
                self.err(&path, format!("{p} is not allowed; expected {ALLOWED}"));
                return None;
            }
            if out.last().is_some_and(|&last| p <= last) {
                self.err(
                    &path,
                    format!("{p} does not follow {}; expected {ALLOWED}", out[i - 1]),
                );
                return None;
            }
            out.push(p);
        }
        Some(out)
    }

    /// The value of the top-level `key`, or a problem saying it is missing (`what` is expected).
    fn required<'v>(
        &mut self,
        m: &'v Map<String, Value>,
        key: &str,
        what: &str,
    ) -> Option<&'v Value> {
        let got = m.get(key);
        if got.is_none() {
            self.err(key, format!("is missing; expected {what}"));
        }
        got
    }

    /// `id`: required, a valid experiment id.
    fn id(&mut self, m: &Map<String, Value>) -> Option<String> {
        self.required(
            m,
            "id",
            "an experiment id, [a-z0-9_-] with 1 to 64 characters",
        )
        .and_then(|v| self.string(v, "id"))
        .and_then(|s| {
            if is_valid_id(s) {
                Some(s.to_string())
            } else {
                self.err(
                    "id",
                    format!(
                        "{} is not allowed; expected [a-z0-9_-] with 1 to 64 characters",
                        quoted(s)
                    ),
                );
                None
            }
        })
    }

    /// `start_date`: required, a date `YYYY-MM-DD` between the years 1000 and 9000.
    fn start_date(&mut self, m: &Map<String, Value>) -> Option<NaiveDate> {
        self.required(m, "start_date", "a date like 2026-11-23")
            .and_then(|v| match v {
                Value::String(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                    Ok(d) if (1000..=9000).contains(&chrono::Datelike::year(&d)) => Some(d),
                    _ => {
                        self.err("start_date", format!("{} is not a date; expected YYYY-MM-DD between years 1000 and 9000", quoted(s)));
                        None
                    }
                },
                other => {
                    self.err("start_date", format!("expected a date like 2026-11-23, found {}", describe(other)));
                    None
                }
            })
    }

    /// `days`: required, a number of days whose window from `start_date` ends by the year 9999.
    fn days(&mut self, m: &Map<String, Value>, start_date: Option<NaiveDate>) -> Option<u32> {
        let days = self
            .required(m, "days", "a whole number of days from 1 to 36600")
            .and_then(|v| self.whole(v, "days", (1, u64::from(MAX_DAYS))))
            .map(|d| d as u32);
        if let (Some(d), Some(n)) = (start_date, days)
            && d.checked_add_days(chrono::Days::new(u64::from(n)))
                .is_none_or(|e| chrono::Datelike::year(&e) > 9999)
        {
            self.err("days", "the purchase window runs past the year 9999");
        }
        days
    }

    /// `groups`: required arm weights, their count and names checked, the control among them.
    fn groups(
        &mut self,
        m: &Map<String, Value>,
        control_group: Option<&str>,
    ) -> Option<Vec<(String, f64)>> {
        let groups = self
            .required(m, "groups", "a table of arm name = allocation weight")
            .and_then(|v| self.weights(v, "groups", "group"));
        if let Some(g) = &groups {
            if !ARMS.contains(&g.len()) {
                self.err(
                    "groups",
                    format!(
                        "has {} arms; expected from {} to {}",
                        g.len(),
                        ARMS.start(),
                        ARMS.end()
                    ),
                );
            }
            for (name, _) in g {
                self.group_name(name);
            }
            if let Some(c) = control_group
                && !g.iter().any(|(n, _)| n == c)
            {
                let path = if m.contains_key("control_group") {
                    "control_group"
                } else {
                    "groups"
                };
                self.err(
                    path,
                    format!(
                        "the control group {} is not among the groups; groups are: {}",
                        quoted(c),
                        some_of(g.iter().map(|(n, _)| n.as_str()))
                    ),
                );
            }
        }
        groups
    }

    /// Checks a group name: its length, not a metric key, a valid label.
    fn group_name(&mut self, name: &str) {
        if name.is_empty() || name.len() > 64 {
            self.err(
                &join("groups", name),
                "a group name must have 1 to 64 characters",
            );
        }
        if METRIC_KEYS.contains(&name) {
            self.err(
                &join("groups", name),
                format!(
                    "{name:?} is reserved (metric keys: {})",
                    METRIC_KEYS.join(", ")
                ),
            );
        }
        if let Some(why) = label_problem(name) {
            self.err(&join("groups", name), format!("the group name {why}"));
        }
    }

    /// `metrics`, checked against `groups` and `attributes`, or against their bare names
    /// when those have problems of their own (bad weights), so that every problem is
    /// reported at once.
    fn blueprint_metrics(
        &mut self,
        m: &Map<String, Value>,
        groups: Option<&[(String, f64)]>,
        attributes: Option<&[Attribute]>,
    ) -> Option<Vec<Metric>> {
        let raw_groups = raw_weights(m.get("groups"));
        let raw_attrs = raw_attributes(m.get("attributes"));
        match m.get("metrics") {
            // Too many arms: every metric would be wrong for each of them; say it once.
            Some(_) if raw_groups.len() > *ARMS.end() => None,
            Some(v) => self.metrics(
                v,
                groups.unwrap_or(&raw_groups),
                attributes.unwrap_or(&raw_attrs),
            ),
            None => Some(Vec::new()),
        }
    }

    /// `actual_groups` in the order of `groups`, when both name the same groups.
    fn actual_groups(
        &mut self,
        a: Vec<(String, f64)>,
        g: &[(String, f64)],
    ) -> Option<Vec<(String, f64)>> {
        let by_name: HashMap<&str, f64> = a.iter().map(|(n, w)| (n.as_str(), *w)).collect();
        let names: HashSet<&str> = g.iter().map(|(n, _)| n.as_str()).collect();
        let mut good = true;
        for (name, _) in g {
            if !by_name.contains_key(name.as_str()) {
                self.err(
                    &join("actual_groups", name),
                    "is missing; actual_groups needs a weight for every group",
                );
                good = false;
            }
        }
        for (name, _) in &a {
            if !names.contains(name.as_str()) {
                self.err(&join("actual_groups", name), "is not a group of `groups`");
                good = false;
            }
        }
        good.then(|| {
            g.iter()
                .map(|(n, _)| (n.clone(), by_name[n.as_str()]))
                .collect()
        })
    }

    fn attributes(&mut self, v: &Value) -> Option<Vec<Attribute>> {
        let m = self.table(v, "attributes")?;
        let mut out = Vec::new();
        let mut good = true;
        for (name, vals) in m {
            let path = join("attributes", name);
            if !is_identifier(name) {
                self.err(&path, "an attribute name must be a column name: [a-z_][a-z0-9_]*, at most 63 characters");
                good = false;
            }
            match self.weights(vals, &path, "value") {
                Some(values) if values.is_empty() => {
                    self.err(&path, "needs at least one value");
                    good = false;
                }
                Some(values) if values.len() > MAX_ATTRIBUTE_VALUES => {
                    self.err(
                        &path,
                        format!(
                            "has {} values; at most {MAX_ATTRIBUTE_VALUES} are allowed",
                            values.len()
                        ),
                    );
                    good = false;
                }
                Some(values) => {
                    for (value, _) in &values {
                        if let Some(why) = label_problem(value) {
                            self.err(&join(&path, value), format!("the value {why}"));
                            good = false;
                        }
                    }
                    out.push(Attribute {
                        name: name.clone(),
                        values,
                    });
                }
                None => good = false,
            }
        }
        good.then_some(out)
    }

    fn columns(&mut self, attrs: &[Attribute], metrics: &[Metric]) {
        let mut seen: HashMap<String, String> = RESERVED_COLUMNS
            .iter()
            .map(|c| (c.to_string(), "a built-in column".to_string()))
            .collect();
        let mut claim = |cx: &mut Cx, col: String, path: String| {
            if let Some(by) = seen.get(&col) {
                cx.err(
                    &path,
                    format!("column {col:?} is already {by}; choose another name"),
                );
            } else {
                seen.insert(col, format!("taken by {path}"));
            }
        };
        for a in attrs {
            claim(self, a.name.clone(), join("attributes", &a.name));
        }
        for m in metrics {
            let path = join("metrics", &m.name);
            claim(self, m.name.clone(), path.clone());
            if m.pre_period.is_some() {
                claim(self, format!("pre_{}", m.name), join(&path, "pre_period"));
            }
        }
    }

    fn metrics(
        &mut self,
        v: &Value,
        groups: &[(String, f64)],
        attrs: &[Attribute],
    ) -> Option<Vec<Metric>> {
        let m = self.table(v, "metrics")?;
        let attrs = Attrs::new(attrs);
        let mut out = Vec::new();
        let mut good = true;
        for (name, mv) in m {
            match self.metric(name, mv, groups, &attrs) {
                Some(metric) => out.push(metric),
                None => good = false,
            }
        }
        good.then_some(out)
    }

    /// One metric, every part checked even when another has problems.
    fn metric(
        &mut self,
        name: &str,
        v: &Value,
        groups: &[(String, f64)],
        attrs: &Attrs,
    ) -> Option<Metric> {
        let path = join("metrics", name);
        let mut good = true;
        if !is_identifier(name) {
            self.err(
                &path,
                "a metric name must be a column name: [a-z_][a-z0-9_]*, at most 63 characters",
            );
            good = false;
        }
        let m = self.table(v, &path)?;
        let kind = self.distribution(m, &path);
        good &= self.metric_keys(m, &path, groups);
        let offset = self.offset(m, &path, kind);
        let zero_inflation = match m.get("zero_inflation") {
            None => Some(Param::Fixed(0.0)),
            Some(z) => self.param(
                z,
                &join(&path, "zero_inflation"),
                &|x| (0.0..1.0).contains(&x),
                "a probability in [0, 1)",
            ),
        };
        let pre_period = self.pre_period(m, &path);
        let arms = self.metric_arms(m, &path, kind, groups);
        good &= arms.is_some();
        let segments = match (m.get("segments"), kind) {
            (None, _) => Some(Vec::new()),
            (Some(s), Some(k)) => self.segments(s, &join(&path, "segments"), k, groups, attrs),
            (Some(_), None) => None,
        };
        if good {
            Some(Metric {
                name: name.to_string(),
                distribution: kind?,
                offset: offset?,
                zero_inflation: zero_inflation?,
                pre_period: pre_period?,
                arms: arms?,
                segments: segments?,
            })
        } else {
            None
        }
    }

    /// A metric's `distribution`: required, the name of a family.
    fn distribution(&mut self, m: &Map<String, Value>, path: &str) -> Option<DistKind> {
        let kinds: Vec<&str> = DistKind::ALL.iter().map(|k| k.name()).collect();
        let dpath = join(path, "distribution");
        match m.get("distribution") {
            None => {
                self.err(
                    &dpath,
                    format!("is missing; expected one of {}", kinds.join(", ")),
                );
                None
            }
            Some(d) => self.string(d, &dpath).and_then(|s| {
                let k = DistKind::from_name(s);
                if k.is_none() {
                    self.err(
                        &dpath,
                        format!(
                            "{} is not a distribution; expected one of {}",
                            quoted(s),
                            kinds.join(", ")
                        ),
                    );
                }
                k
            }),
        }
    }

    /// Whether every key of a metric table is a metric key or a group (problems for the others).
    fn metric_keys(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        groups: &[(String, f64)],
    ) -> bool {
        let mut good = true;
        for k in m.keys() {
            if !METRIC_KEYS.contains(&k.as_str()) && !groups.iter().any(|(g, _)| g == k) {
                let mut allowed: Vec<&str> = METRIC_KEYS.to_vec();
                allowed.extend(groups.iter().map(|(g, _)| g.as_str()));
                self.err(
                    &join(path, k),
                    format!(
                        "unknown key{}; allowed keys: {} (the last are the groups)",
                        suggest(k, &allowed),
                        listed(allowed.iter().copied(), LISTED_KEYS)
                    ),
                );
                good = false;
            }
        }
        good
    }

    /// A metric's `offset` (0 when absent): finite, bounded, whole for an integer family.
    fn offset(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        kind: Option<DistKind>,
    ) -> Option<f64> {
        let Some(o) = m.get("offset") else {
            return Some(0.0);
        };
        let op = join(path, "offset");
        self.number(o, &op).and_then(|x| {
            let int = kind.is_some_and(DistKind::is_integer);
            if !x.is_finite() || x.abs() > 1e15 || (int && x.fract() != 0.0) {
                let what = if int {
                    "a whole number (the metric is an integer)"
                } else {
                    "a finite number"
                };
                self.err(
                    &op,
                    format!("{x} is not allowed; expected {what} of magnitude at most 1e15"),
                );
                None
            } else {
                Some(x)
            }
        })
    }

    /// A metric's `pre_period` (`Some(None)` when absent): a table with a correlation.
    fn pre_period(&mut self, m: &Map<String, Value>, path: &str) -> Option<Option<PrePeriod>> {
        let Some(p) = m.get("pre_period") else {
            return Some(None);
        };
        let pp = join(path, "pre_period");
        self.table(p, &pp).and_then(|t| {
            self.unknown_keys(t, &pp, &["correlation"]);
            let cp = join(&pp, "correlation");
            match t.get("correlation") {
                None => {
                    self.err(&cp, "is missing; expected a number in [-1, 1]");
                    None
                }
                Some(c) => self
                    .param(
                        c,
                        &cp,
                        &|x| (-1.0..=1.0).contains(&x),
                        "a number in [-1, 1]",
                    )
                    .map(|correlation| Some(PrePeriod { correlation })),
            }
        })
    }

    /// Every group's arm of a metric, in group order; `None` when one is missing or wrong
    /// (or the family is unknown).
    fn metric_arms(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        kind: Option<DistKind>,
        groups: &[(String, f64)],
    ) -> Option<Vec<(String, ArmSpec)>> {
        let mut arms = Vec::new();
        let mut good = true;
        for (g, _) in groups {
            let ap = join(path, g);
            match m.get(g) {
                None => {
                    self.err(&ap, "is missing; every group needs parameters (or `{ lift = 0 }` for no effect)");
                    good = false;
                }
                Some(a) => match kind.and_then(|k| self.arm(a, &ap, k, true)) {
                    Some(spec) => arms.push((g.clone(), spec)),
                    None => good = false,
                },
            }
        }
        good.then_some(arms)
    }

    fn arm(&mut self, v: &Value, path: &str, kind: DistKind, complete: bool) -> Option<ArmSpec> {
        let m = self.table(v, path)?;
        let lifts = ["lift", "lift_abs"];
        if let Some(l) = lifts.iter().find(|l| m.contains_key(**l)) {
            self.unknown_keys(m, path, &[l]);
            let lp = join(path, l);
            let p = self.lift(&m[*l], &lp)?;
            return Some(if *l == "lift" {
                ArmSpec::Lift(p)
            } else {
                ArmSpec::LiftAbs(p)
            });
        }
        let names = kind.params();
        let mut allowed: Vec<&str> = names.to_vec();
        allowed.extend(lifts);
        self.unknown_keys(m, path, &allowed);
        let mut out = Vec::new();
        let mut good = true;
        for (i, n) in names.iter().enumerate() {
            let pp = join(path, n);
            match m.get(*n) {
                None if complete => {
                    self.err(
                        &pp,
                        format!(
                            "is missing; {} needs {} (or give `lift` or `lift_abs`)",
                            kind.name(),
                            names.join(" and ")
                        ),
                    );
                    good = false;
                }
                None => {}
                Some(x) => {
                    match self.param(x, &pp, &|v| kind.param_ok(i, v), kind.param_ranges()[i]) {
                        Some(p) => out.push((n.to_string(), p)),
                        None => good = false,
                    }
                }
            }
        }
        if out.is_empty() && good {
            self.err(
                path,
                format!(
                    "gives no parameter; expected some of {}, or `lift`/`lift_abs`",
                    names.join(", ")
                ),
            );
            good = false;
        }
        (good && m.keys().all(|k| allowed.contains(&k.as_str()))).then_some(ArmSpec::Params(out))
    }

    fn segments(
        &mut self,
        v: &Value,
        path: &str,
        kind: DistKind,
        groups: &[(String, f64)],
        attrs: &Attrs,
    ) -> Option<Vec<Segment>> {
        let Value::Array(items) = v else {
            self.err(
                path,
                format!(
                    "expected an array of tables ([[...segments]]), found {}",
                    describe(v)
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut good = true;
        for (i, item) in items.iter().enumerate() {
            let sp = format!("{path}[{i}]");
            let Some(t) = self.table(item, &sp) else {
                good = false;
                continue;
            };
            let wp = join(&sp, "when");
            let when = match t.get("when") {
                None => {
                    self.err(&wp, "is missing; expected a table of attribute = value");
                    None
                }
                Some(w) => self.when(w, &wp, attrs),
            };
            good &= when.is_some();
            let when = when.unwrap_or_default();
            let mut arms = Vec::new();
            for (k, a) in t {
                if k == "when" {
                    continue;
                }
                let ap = join(&sp, k);
                if !groups.iter().any(|(g, _)| g == k) {
                    self.err(
                        &ap,
                        format!(
                            "unknown key; a segment has `when` and group names: {}",
                            some_of(groups.iter().map(|(g, _)| g.as_str()))
                        ),
                    );
                    good = false;
                    continue;
                }
                match self.arm(a, &ap, kind, false) {
                    Some(spec) => arms.push((k.clone(), spec)),
                    None => good = false,
                }
            }
            if arms.is_empty() && good {
                self.err(
                    &sp,
                    "overrides no group; give parameters for at least one group",
                );
                good = false;
            }
            out.push(Segment { when, arms });
        }
        good.then_some(out)
    }

    /// A segment's `when`: attribute = value or [values], each checked against `attrs`.
    fn when(&mut self, w: &Value, wp: &str, attrs: &Attrs) -> Option<Vec<(String, Vec<String>)>> {
        let wt = self.table(w, wp)?;
        if wt.is_empty() {
            self.err(wp, "is empty; name at least one attribute");
            return None;
        }
        let mut when = Vec::new();
        let mut good = true;
        for (a, val) in wt {
            let ap = join(wp, a);
            let Some((attr, values)) = attrs.get(a) else {
                self.err(
                    &ap,
                    format!(
                        "is not an attribute; attributes are: {}",
                        some_of(attrs.names())
                    ),
                );
                good = false;
                continue;
            };
            let vals: Vec<&Value> = match val {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            let mut chosen = Vec::new();
            for x in vals {
                match self.string(x, &ap) {
                    Some(s) if values.contains_key(s) => chosen.push(s.to_string()),
                    Some(s) => {
                        self.err(
                            &ap,
                            format!(
                                "{} is not a value of {a}; values are: {}",
                                quoted(s),
                                some_of(attr.values.iter().map(|(n, _)| n.as_str()))
                            ),
                        );
                        good = false;
                    }
                    None => good = false,
                }
            }
            if chosen.is_empty() && matches!(val, Value::Array(_)) {
                self.err(&ap, "lists no value");
                good = false;
            }
            when.push((a.clone(), chosen));
        }
        good.then_some(when)
    }
}

/// The attributes by name, each with its values by name: `when` looks values up in
/// constant time, so a long `when` list against a long attribute costs linear work.
struct Attrs<'a> {
    list: &'a [Attribute],
    by_name: HashMap<&'a str, (&'a Attribute, HashMap<&'a str, usize>)>,
}

impl<'a> Attrs<'a> {
    fn new(list: &'a [Attribute]) -> Self {
        let by_name = list
            .iter()
            .map(|a| {
                let values = a
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, (n, _))| (n.as_str(), i));
                (a.name.as_str(), (a, values.collect()))
            })
            .collect();
        Self { list, by_name }
    }

    fn get(&self, name: &str) -> Option<&(&'a Attribute, HashMap<&'a str, usize>)> {
        self.by_name.get(name)
    }

    fn names(&self) -> impl ExactSizeIterator<Item = &'a str> + use<'a> {
        self.list.iter().map(|a| a.name.as_str())
    }
}

/// The keys of a table, each of weight 1 (none when `v` is not a table): groups or an
/// attribute's values by name alone.
fn raw_weights(v: Option<&Value>) -> Vec<(String, f64)> {
    v.and_then(Value::as_object)
        .map_or_else(Vec::new, |t| t.keys().map(|n| (n.clone(), 1.0)).collect())
}

/// The attributes of an `attributes` table by name alone, each value of weight 1.
fn raw_attributes(v: Option<&Value>) -> Vec<Attribute> {
    v.and_then(Value::as_object).map_or_else(Vec::new, |t| {
        t.iter()
            .map(|(name, values)| Attribute {
                name: name.clone(),
                values: raw_weights(Some(values)),
            })
            .collect()
    })
}

fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => describe(other),
    }
}

/// " (did you mean `x`?)" when a close allowed key exists.
fn suggest(key: &str, allowed: &[&str]) -> String {
    allowed
        .iter()
        .map(|a| (strsim::levenshtein(key, a), a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| format!(" (did you mean `{a}`?)"))
        .unwrap_or_default()
}
