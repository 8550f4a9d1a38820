//! The SQL transforms, kept in `crates/lake/sql/*.sql`, and the few pieces of them that come
//! from the run's resolved blueprint: the columns, the rules of the quality gate.
//!
//! A template's `{{slot}}`s are replaced by [`render`]; the blueprint's values enter the SQL
//! as literals (strings quoted, dates as `DATE 'YYYY-MM-DD'`, numbers in Rust's shortest
//! round-trip form) and its names as quoted identifiers.

use abforge_synth::blueprint::Resolved;
use abforge_synth::dist::DistKind;

/// bronze/customers ← the relational store.
pub const BRONZE: &str = include_str!("../sql/bronze.sql");
/// The run's rows typed, conformed and checked ← bronze/customers.
pub const SILVER_CHECKED: &str = include_str!("../sql/silver_checked.sql");
/// The customers more than one row holds ← bronze/customers.
pub const SILVER_REPEATED: &str = include_str!("../sql/silver_repeated.sql");
/// silver/customers and silver/quarantine ← the checked rows and the repeated customers.
pub const SILVER: &str = include_str!("../sql/silver.sql");
/// gold/group_daily ← silver/customers (one block per metric).
pub const GOLD_GROUP_DAILY: &str = include_str!("../sql/gold_group_daily.sql");
/// gold/group_quantiles ← silver/customers (one block per metric).
pub const GOLD_GROUP_QUANTILES: &str = include_str!("../sql/gold_group_quantiles.sql");
/// The run's customers, as the analysis reads them ← silver/customers.
pub const SILVER_READ: &str = include_str!("../sql/silver_read.sql");
/// silver/customers ← the classified rows that passed.
pub const SILVER_CUSTOMERS: &str = include_str!("../sql/silver_customers.sql");
/// silver/quarantine ← the classified rows that broke a rule.
pub const SILVER_QUARANTINE: &str = include_str!("../sql/silver_quarantine.sql");
/// The gate's counts per rule ← silver/quarantine.
pub const QUARANTINE_COUNTS: &str = include_str!("../sql/quarantine_counts.sql");

/// `template` with each `{{name}}` replaced by its value.
///
/// # Panics
/// When a slot is left unfilled: the templates and their callers ship together.
/// Whole-line comments (the templates' headers, which name the slots) are dropped first, so
/// that a filled-in value never lands inside a comment.
pub fn render(template: &str, slots: &[(&str, String)]) -> String {
    let mut out = template
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for (name, value) in slots {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    assert!(!out.contains("{{"), "an unfilled slot in:\n{out}");
    out
}

/// A quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal.
pub fn string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL date literal.
pub fn date(d: chrono::NaiveDate) -> String {
    format!("DATE '{}'", d.format("%Y-%m-%d"))
}

/// A DOUBLE literal (infinities included).
fn double(x: f64) -> String {
    if x.is_finite() {
        format!("CAST({x:?} AS DOUBLE)")
    } else if x > 0.0 {
        "CAST('inf' AS DOUBLE)".into()
    } else {
        "CAST('-inf' AS DOUBLE)".into()
    }
}

/// The type of a blueprint column in silver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `customer_id` and integer metrics: BIGINT.
    Int,
    /// Real metrics and `pre_` twins: DOUBLE.
    Real,
    /// Ids, the group, attributes: VARCHAR, trimmed.
    Text,
    /// `purchase_date`: DATE.
    Date,
}

/// The blueprint's columns in order, with their kind.
pub fn columns(resolved: &Resolved) -> Vec<(String, Kind)> {
    let bp = &resolved.blueprint;
    let mut cols = vec![
        ("customer_id".to_string(), Kind::Int),
        ("experiment_id".to_string(), Kind::Text),
        ("group".to_string(), Kind::Text),
    ];
    cols.extend(bp.attributes.iter().map(|a| (a.name.clone(), Kind::Text)));
    if bp.clusters.is_some() {
        cols.push(("cluster_id".into(), Kind::Int));
    }
    cols.push(("purchase_date".into(), Kind::Date));
    for m in &bp.metrics {
        let kind = if m.distribution.is_integer() {
            Kind::Int
        } else {
            Kind::Real
        };
        cols.push((m.name.clone(), kind));
        if m.pre_period.is_some() {
            cols.push((format!("pre_{}", m.name), Kind::Real));
        }
    }
    cols
}

/// The blueprint's columns, quoted and comma-separated.
pub fn column_list(resolved: &Resolved) -> String {
    columns(resolved)
        .iter()
        .map(|(c, _)| ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `{{conformed}}` slot: each column typed and conformed.
fn conformed(resolved: &Resolved) -> String {
    columns(resolved)
        .iter()
        .map(|(c, k)| {
            let q = ident(c);
            let e = match k {
                Kind::Int => format!("CAST(bronze.{q} AS BIGINT)"),
                Kind::Real => format!("CAST(bronze.{q} AS DOUBLE)"),
                Kind::Text => format!("TRIM(CAST(bronze.{q} AS VARCHAR))"),
                Kind::Date => format!("CAST(bronze.{q} AS DATE)"),
            };
            format!("{e} AS {q}")
        })
        .collect::<Vec<_>>()
        .join(",\n    ")
}

/// The rules of the quality gate, in the order they are checked: (rule, SQL condition that
/// is true when a row breaks it). Conditions after the `not_null` ones see no NULL.
pub fn rules(resolved: &Resolved, experiment_id: &str) -> Vec<(String, String)> {
    let bp = &resolved.blueprint;
    let mut rules: Vec<(String, String)> = columns(resolved)
        .iter()
        .map(|(c, _)| (format!("not_null:{c}"), format!("{} IS NULL", ident(c))))
        .collect();
    rules.push((
        "experiment".into(),
        format!("experiment_id <> {}", string(experiment_id)),
    ));
    rules.push((
        "customer_id".into(),
        format!("customer_id < 0 OR customer_id >= {}", bp.customers),
    ));
    let set = |values: &mut dyn Iterator<Item = &String>| {
        values.map(|v| string(v)).collect::<Vec<_>>().join(", ")
    };
    rules.push((
        "group".into(),
        format!(
            "\"group\" NOT IN ({})",
            set(&mut bp.groups.iter().map(|(g, _)| g))
        ),
    ));
    for a in &bp.attributes {
        rules.push((
            format!("attribute:{}", a.name),
            format!(
                "{} NOT IN ({})",
                ident(&a.name),
                set(&mut a.values.iter().map(|(v, _)| v))
            ),
        ));
    }
    if let Some(c) = &bp.clusters {
        rules.push((
            "cluster_id".into(),
            format!("cluster_id < 0 OR cluster_id >= {}", c.count),
        ));
    }
    let end = bp.start_date + chrono::Days::new(u64::from(bp.days));
    rules.push((
        "purchase_date".into(),
        format!(
            "purchase_date < {} OR purchase_date >= {}",
            date(bp.start_date),
            date(end)
        ),
    ));
    for m in &resolved.metrics {
        let q = ident(&m.name);
        let off = m.offset;
        let mut ok = match m.kind {
            DistKind::Poisson | DistKind::NegativeBinomial => {
                format!("{q} >= {}", off as i64)
            }
            DistKind::Bernoulli => format!("{q} IN ({}, {})", off as i64, off as i64 + 1),
            DistKind::Gamma | DistKind::Lognormal => {
                format!("{q} > {} AND {q} < {}", double(off), double(f64::INFINITY))
            }
            DistKind::Normal => format!(
                "{q} > {} AND {q} < {}",
                double(f64::NEG_INFINITY),
                double(f64::INFINITY)
            ),
        };
        if m.zero_inflation > 0.0 {
            ok = format!("({ok}) OR {q} = 0");
        }
        rules.push((format!("metric:{}", m.name), format!("NOT ({ok})")));
        if m.pre_correlation.is_some() {
            let p = ident(&format!("pre_{}", m.name));
            rules.push((
                format!("finite:pre_{}", m.name),
                format!(
                    "NOT ({p} > {} AND {p} < {})",
                    double(f64::NEG_INFINITY),
                    double(f64::INFINITY)
                ),
            ));
        }
    }
    rules
}

/// The check of a run of `resolved`'s rows (`silver_checked.sql`).
pub fn silver_checked(resolved: &Resolved, experiment_id: &str) -> String {
    let checks = rules(resolved, experiment_id)
        .into_iter()
        .map(|(rule, cond)| format!("WHEN {cond} THEN {}", string(&rule)))
        .collect::<Vec<_>>()
        .join("\n      ");
    render(
        SILVER_CHECKED,
        &[("conformed", conformed(resolved)), ("checks", checks)],
    )
}

/// The silver transform of a run of `resolved` (`silver.sql`).
pub fn silver(resolved: &Resolved) -> String {
    render(SILVER, &[("columns", column_list(resolved))])
}

/// The gold/group_daily transform of a run of `resolved`: one block per metric.
pub fn gold_group_daily(resolved: &Resolved) -> String {
    resolved
        .metrics
        .iter()
        .map(|m| render(GOLD_GROUP_DAILY, &[("metric", m.name.clone())]))
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n")
}

/// The gold/group_quantiles transform of a run of `resolved`: one block per metric (the
/// probabilities are the `probs` table the gold step registers).
pub fn gold_group_quantiles(resolved: &Resolved) -> String {
    resolved
        .metrics
        .iter()
        .map(|m| render(GOLD_GROUP_QUANTILES, &[("metric", m.name.clone())]))
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n")
}

/// The query that reads a run's customers back from silver.
pub fn silver_read(resolved: &Resolved) -> String {
    render(SILVER_READ, &[("columns", column_list(resolved))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use abforge_synth::Blueprint;

    fn resolved() -> Resolved {
        Blueprint::from_toml(
            "id = \"t\"\nseed = 1\ncustomers = 10\nstart_date = 2026-01-05\ndays = 7\n\
             [groups]\ncontrol = 1\ntreatment = 1\n\
             [attributes.region]\nEU = 1\n\"O'Hare\" = 1\n\
             [metrics.items]\ndistribution = \"poisson\"\noffset = 1\nzero_inflation = 0.1\n\
             control = { lambda = 2 }\ntreatment = { lambda = 2 }\n\
             [metrics.spend]\ndistribution = \"gamma\"\npre_period = { correlation = 0.5 }\n\
             control = { shape = 2, scale = 1 }\ntreatment = { shape = 2, scale = 1 }\n",
        )
        .unwrap()
        .resolve()
        .unwrap()
    }

    #[test]
    fn rules_follow_the_blueprint() {
        let r = rules(&resolved(), "t");
        let names: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "not_null:customer_id",
                "not_null:experiment_id",
                "not_null:group",
                "not_null:region",
                "not_null:purchase_date",
                "not_null:items",
                "not_null:spend",
                "not_null:pre_spend",
                "experiment",
                "customer_id",
                "group",
                "attribute:region",
                "purchase_date",
                "metric:items",
                "metric:spend",
                "finite:pre_spend",
            ]
        );
        let get = |n: &str| r.iter().find(|(k, _)| k == n).unwrap().1.clone();
        let customers = resolved().blueprint.customers;
        assert_eq!(
            get("customer_id"),
            format!("customer_id < 0 OR customer_id >= {customers}")
        );
        assert_eq!(get("group"), "\"group\" NOT IN ('control', 'treatment')");
        assert_eq!(
            get("attribute:region"),
            "\"region\" NOT IN ('EU', 'O''Hare')"
        );
        assert_eq!(
            get("purchase_date"),
            "purchase_date < DATE '2026-01-05' OR purchase_date >= DATE '2026-01-12'"
        );
        assert_eq!(
            get("metric:items"),
            "NOT ((\"items\" >= 1) OR \"items\" = 0)"
        );
        assert!(get("metric:spend").contains("\"spend\" > CAST(0.0 AS DOUBLE)"));
    }

    #[test]
    fn templates_are_filled_completely() {
        let r = resolved();
        let s = silver_checked(&r, "t");
        assert!(s.contains("TRIM(CAST(bronze.\"region\" AS VARCHAR)) AS \"region\""));
        assert!(s.contains("WHEN \"group\" NOT IN"));
        assert!(silver(&r).contains("ORDER BY \"customer_id\", \"experiment_id\""));
        let g = gold_group_daily(&r);
        assert_eq!(g.matches("\nUNION ALL\n").count(), 1);
        assert!(g.contains("'spend' AS metric"));
        let q = gold_group_quantiles(&r);
        assert_eq!(q.matches("\nUNION ALL\n").count(), 1);
        assert!(q.contains("CAST(\"items\" AS DOUBLE) AS v"));
        assert!(silver_read(&r).contains("\"pre_spend\""));
    }

    #[test]
    #[should_panic(expected = "unfilled slot")]
    fn an_unfilled_slot_is_a_bug() {
        render("SELECT {{x}}", &[]);
    }
}
