//! Integration tests of abforge-stats: every field of the scipy/statsmodels reference suite
//! (one module per family), the JSON of `analyze_metric`, and property tests.

mod analyze;
mod avcs;
mod common;
mod cupac;
mod group_sequential;
mod mann_whitney;
mod multiple;
mod poisson;
mod power;
mod properties;
mod proportions;
mod qfm;
mod regression;
mod resampling;
mod srm;
mod summary;
mod ttest;
mod winsor;

use std::collections::BTreeSet;

use common::reference;

/// Leaves of a case that describe it rather than being results.
fn is_metadata(path: &str) -> bool {
    matches!(
        path,
        "kind" | "description" | "seed" | "csv" | "csv_bytes" | "srm/expected_split"
    ) || path.starts_with("truth/")
}

/// Every case of `expected.json` is loaded (and matches a CSV), and every result field of
/// every case is claimed by one of the family modules, so nothing is skipped silently.
#[test]
fn every_reference_field_is_checked() {
    let r = reference();
    let names: Vec<&String> = r.root["cases"].as_object().unwrap().keys().collect();
    assert!(!names.is_empty());
    assert_eq!(r.cases.len(), names.len());
    let csvs = std::fs::read_dir(common::dir().join("cases"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "csv")
        })
        .count();
    assert_eq!(csvs, names.len(), "one CSV per case");
    if common::dir().ends_with("tests/data/reference") {
        assert_eq!(names.len(), 19, "the bundled suite has 19 cases");
    }
    let mut total = 0;
    for case in &r.cases {
        let claimed: BTreeSet<String> = [
            summary::fields(case),
            ttest::fields(case),
            mann_whitney::fields(case),
            proportions::fields(case),
            poisson::fields(case),
            power::fields(case),
            srm::fields(case),
        ]
        .into_iter()
        .flatten()
        .map(|f| f.path)
        .collect();
        let mut leaves = Vec::new();
        common::leaves(&case.expected, "", &mut leaves);
        for (path, value) in &leaves {
            if is_metadata(path) {
                continue;
            }
            assert!(
                claimed.contains(path),
                "{}: field {path} = {value} is not checked",
                case.name
            );
            total += 1;
        }
    }
    assert!(total > 19 * 30, "only {total} fields");
}
