//! Which columns are read: the metrics asked for or found, the extra columns, and the
//! `pre_<metric>` covariates; in Arrow data, which columns are numeric and the blueprint in
//! the schema's metadata.

use super::{DEFAULT_CLUSTER_COLUMN, Source};
use crate::error::{Result, bad_file, invalid, invalid_value};
use abforge_synth::Blueprint;
use arrow_schema::{DataType, Schema};

/// Whether a column is an id, never a metric by default.
fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("_id")
}

/// The columns to read: the metrics, then the extra columns not among them; and how many
/// are metrics.
pub(super) fn pick_columns(
    src: &Source<'_>,
    columns: &[(String, bool)],
) -> Result<(Vec<String>, usize)> {
    let mut read = pick_metrics(src, columns)?;
    let analyzed = read.len();
    for x in &src.cols.extra {
        match columns.iter().find(|(n, _)| n == x) {
            None => {
                return Err(invalid(
                    "ratios",
                    format!(
                        "no column {x:?} in {}; the columns are {}",
                        src.label,
                        columns
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            Some((_, false)) => {
                return Err(invalid(
                    "ratios",
                    format!("column {x:?} of {} is not numeric", src.label),
                ));
            }
            Some(_) if !read.contains(x) => read.push(x.clone()),
            Some(_) => {}
        }
    }
    if let Some(c) = cluster_column(src, columns)?
        && !read.contains(&c)
    {
        read.push(c);
    }
    // Every numeric pre-period column `pre_*`: CUPED uses a metric's own `pre_<metric>`,
    // the regression adjustment all of them.
    for (n, num) in columns {
        if *num && n.starts_with("pre_") && *n != src.cols.group_column && !read.contains(n) {
            read.push(n.clone());
        }
    }
    Ok((read, analyzed))
}

/// The column of cluster ids to read: the one asked for (which must be numeric), else
/// [`DEFAULT_CLUSTER_COLUMN`] when there is a numeric column of that name.
fn cluster_column(src: &Source<'_>, columns: &[(String, bool)]) -> Result<Option<String>> {
    let Some(name) = &src.cols.cluster_column else {
        let found = columns
            .iter()
            .any(|(n, num)| *num && n == DEFAULT_CLUSTER_COLUMN);
        return Ok(found.then(|| DEFAULT_CLUSTER_COLUMN.to_string()));
    };
    match columns.iter().find(|(n, _)| n == name) {
        None => Err(invalid_value(
            "cluster_column",
            name,
            format!(
                "no such column in {}; the columns are {}",
                src.label,
                columns
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        Some((_, false)) => Err(invalid_value(
            "cluster_column",
            name,
            format!(
                "column {name:?} of {} is not numeric; expected whole-number cluster ids",
                src.label
            ),
        )),
        Some(_) if *name == src.cols.group_column => Err(invalid_value(
            "cluster_column",
            name,
            "that is the group column",
        )),
        Some(_) => Ok(Some(name.clone())),
    }
}

/// Picks the metric columns among `columns` (name, numeric?).
fn pick_metrics(src: &Source<'_>, columns: &[(String, bool)]) -> Result<Vec<String>> {
    let req = src.cols;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    // `Err(message)` for a column that is not there.
    let find = |name: &str| -> Result<(), String> {
        if names.contains(&name) {
            return Ok(());
        }
        let hint = names
            .iter()
            .map(|a| (strsim::levenshtein(name, a), a))
            .filter(|(d, a)| *d <= 2.max(a.len() / 4))
            .min_by_key(|(d, _)| *d)
            .map(|(_, s)| format!(" (did you mean {s:?}?)"))
            .unwrap_or_default();
        Err(format!(
            "no column {name:?} in {}{hint}; the columns are {}",
            src.label,
            names.join(", ")
        ))
    };
    find(&req.group_column).map_err(|e| invalid("group_column", e))?;
    if !req.metrics.is_empty() {
        for m in &req.metrics {
            find(m).map_err(|e| invalid("metrics", e))?;
            if *m == req.group_column {
                return Err(invalid_value("metrics", m, "that is the group column"));
            }
            let numeric = columns.iter().any(|(n, num)| n == m && *num);
            if !numeric {
                return Err(invalid_value(
                    "metrics",
                    m,
                    format!("column {m:?} of {} is not numeric", src.label),
                ));
            }
        }
        let mut seen = Vec::new();
        for m in &req.metrics {
            if !seen.contains(m) {
                seen.push(m.clone());
            }
        }
        return Ok(seen);
    }
    let numeric: Vec<&str> = columns
        .iter()
        .filter(|(n, num)| {
            *num && *n != req.group_column && !is_id(n) && Some(n) != req.cluster_column.as_ref()
        })
        .map(|(n, _)| n.as_str())
        .collect();
    let picked: Vec<String> = numeric
        .iter()
        .filter(|n| {
            n.strip_prefix("pre_")
                .is_none_or(|base| !numeric.contains(&base))
        })
        .map(|n| n.to_string())
        .collect();
    if picked.is_empty() {
        return Err(bad_file(
            src.label,
            format!(
                "no numeric column to analyze besides the group and ids (columns: {})",
                names.join(", ")
            ),
        ));
    }
    Ok(picked)
}

fn numeric_type(t: &DataType) -> bool {
    t.is_numeric() && !matches!(t, DataType::Decimal32(..) | DataType::Decimal64(..))
        || matches!(t, DataType::Boolean)
}

/// Every column of `schema`: (name, numeric?).
pub(super) fn schema_columns(schema: &Schema) -> Vec<(String, bool)> {
    schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), numeric_type(f.data_type())))
        .collect()
}

/// The blueprint in the metadata of `schema`, if any (and readable).
pub(super) fn blueprint_of(schema: &Schema) -> Option<Blueprint> {
    schema
        .metadata()
        .get(abforge_synth::generate::META_BLUEPRINT)
        .and_then(|json| Blueprint::from_json(json).ok())
}

#[cfg(test)]
mod tests {
    use crate::input::read;
    use crate::input::tests::{cols, csv_file};

    #[test]
    fn ids_text_and_covariates_are_not_metrics_by_default() {
        let f = csv_file(
            "customer_id,group,region,spend,pre_spend,pre_other\n1,control,eu,1,2,3\n2,treatment,us,4,5,6\n",
        );
        let ds = read(f.path(), &cols(&[])).unwrap();
        let names: Vec<&str> = ds.metrics[..ds.analyzed]
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["spend", "pre_other"]);
        // spend's covariate is read too, as an extra column, for CUPED.
        assert_eq!(
            ds.column("pre_spend").unwrap().by_group,
            vec![vec![2.0], vec![5.0]]
        );
    }
}
