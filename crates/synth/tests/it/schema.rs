//! The JSON Schema accepts every shipped example and rejects what validation rejects.

use abforge_synth::json_schema;
use serde_json::json;

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&json_schema())
        .expect("the schema is a valid draft 2020-12 schema")
}

#[test]
fn every_example_conforms() {
    let v = validator();
    for (name, bp) in crate::examples() {
        let doc = bp.to_json_value();
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        // The resolved blueprint too.
        let resolved = bp.resolve().unwrap().blueprint.to_json_value();
        assert!(v.is_valid(&resolved), "{name} resolved");
    }
}

#[test]
fn schema_rejects_what_validation_rejects() {
    let v = validator();
    let base = json!({
        "id": "x", "customers": 10, "start_date": "2026-01-01", "days": 3,
        "groups": {"control": 1, "treatment": 1},
        "metrics": {"m": {"distribution": "poisson", "control": {"lambda": 1}, "treatment": {"lift": 0.1}}}
    });
    assert!(v.is_valid(&base));
    let bad = [
        ("/metrics/m/control/lambda", json!(-1)),
        ("/metrics/m/distribution", json!("weibull")),
        ("/metrics/m/control/shape", json!(1)),
        ("/customers", json!(0)),
        ("/id", json!("Not An Id")),
        ("/colour", json!("red")),
    ];
    for (ptr, value) in bad {
        let mut doc = base.clone();
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        doc.pointer_mut(if parent.is_empty() { "" } else { parent })
            .unwrap()[key] = value.clone();
        assert!(!v.is_valid(&doc), "{ptr} = {value} should be rejected");
        assert!(
            abforge_synth::Blueprint::from_value(&doc).is_err(),
            "{ptr} = {value} should fail validation too"
        );
    }
}
