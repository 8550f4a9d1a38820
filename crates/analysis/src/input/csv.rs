//! CSV files, read with the `csv` crate so that every bad value is reported with its line
//! and column.

use super::columns::pick_columns;
use super::partial::{Partial, merge};
use super::{Dataset, Source};
use crate::error::{Error, Result, bad_file};
use std::path::Path;

pub(super) fn read_csv(path: &Path, src: &Source<'_>) -> Result<Dataset> {
    let req = src.cols;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)?;
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad_file(path.display(), e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(bad_file(path.display(), "no header line"));
    }
    let mut records = rdr.records();
    let first = match records.next() {
        None => {
            return Err(bad_file(
                path.display(),
                "the file has a header but no rows",
            ));
        }
        Some(r) => r.map_err(|e| csv_error(path, e))?,
    };
    let columns: Vec<(String, bool)> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let numeric = first.get(i).is_some_and(|v| v.parse::<f64>().is_ok());
            (h.clone(), numeric)
        })
        .collect();
    // An explicitly named metric whose first value is not a number: name the line.
    for m in req.metrics.iter().chain(&req.extra) {
        if let Some(i) = header.iter().position(|h| h == m) {
            check_number(path, &first, i, m)?;
        }
    }
    let (metrics, analyzed) = pick_columns(src, &columns)?;
    let gi = header
        .iter()
        .position(|h| *h == req.group_column)
        .expect("checked");
    let mi: Vec<usize> = metrics
        .iter()
        .map(|m| header.iter().position(|h| h == m).expect("checked"))
        .collect();
    let mut part = Partial::new(metrics.len());
    let mut add = |rec: &csv::StringRecord| -> Result<()> {
        let label = rec.get(gi).unwrap_or_default();
        if label.is_empty() {
            return Err(bad_file(
                path.display(),
                format!(
                    "line {}: the group column {:?} is empty",
                    line(rec),
                    req.group_column
                ),
            ));
        }
        let g = part.label(label);
        part.counts[g] += 1;
        for (m, (&i, name)) in mi.iter().zip(&metrics).enumerate() {
            let v = check_number(path, rec, i, name)?;
            part.values[m][g].push(v);
        }
        Ok(())
    };
    add(&first)?;
    for rec in records {
        add(&rec.map_err(|e| csv_error(path, e))?)?;
    }
    Ok(merge(vec![part], metrics, analyzed, None))
}

fn line(rec: &csv::StringRecord) -> u64 {
    rec.position().map_or(0, csv::Position::line)
}

fn check_number(path: &Path, rec: &csv::StringRecord, i: usize, name: &str) -> Result<f64> {
    let raw = rec.get(i).unwrap_or_default();
    if raw.is_empty() {
        return Err(bad_file(
            path.display(),
            format!(
                "line {}: column {name:?} is empty; expected a number",
                line(rec)
            ),
        ));
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad_file(
            path.display(),
            format!(
                "line {}: column {name:?} holds {raw:?}, which is not a finite number",
                line(rec)
            ),
        )),
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::Io(_) => Error::Csv(e).context(path.display().to_string()),
        _ => bad_file(path.display(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use crate::input::read;
    use crate::input::tests::{cols, csv_file, message};

    #[test]
    fn two_column_csv_splits_by_group_in_order_of_appearance() {
        let f = csv_file("group,value\ntreatment,1.5\ncontrol,2\ntreatment,3\n");
        let ds = read(f.path(), &cols(&[])).unwrap();
        assert_eq!(ds.labels, ["treatment", "control"]);
        assert_eq!(ds.counts, [2, 1]);
        assert_eq!(ds.metrics.len(), 1);
        assert_eq!(ds.metrics[0].by_group, vec![vec![1.5, 3.0], vec![2.0]]);
    }

    #[test]
    fn a_bad_value_names_its_line_and_column() {
        let f = csv_file("group,value\ncontrol,1\ntreatment,abc\n");
        let m = message(read(f.path(), &cols(&[])).unwrap_err());
        assert!(
            m.contains("line 3") && m.contains("\"value\"") && m.contains("abc"),
            "{m}"
        );
        let f = csv_file("group,value\ncontrol,1\ntreatment,\n");
        let m = message(read(f.path(), &cols(&["value"])).unwrap_err());
        assert!(m.contains("line 3") && m.contains("empty"), "{m}");
    }
}
