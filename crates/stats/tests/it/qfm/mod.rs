//! Quantile differences, Fieller's sets and multiplicity-adjusted intervals against
//! `tests/data/reference/qfm.json` (computed by `qfm.py` with numpy, scipy and statsmodels),
//! published examples, seeded Monte Carlo checks and property tests.

mod fieller;
mod quantile;
mod simultaneous;

use std::sync::OnceLock;

use serde_json::Value;

/// `qfm.json`, loaded once.
pub fn reference() -> &'static Value {
    static REF: OnceLock<Value> = OnceLock::new();
    REF.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reference/qfm.json");
        let text = std::fs::read_to_string(&path).expect("qfm.json");
        serde_json::from_str(&text).expect("valid JSON")
    })
}

/// A number of the reference; JSON `null` is `if_null` (an open bound).
pub fn num(v: &Value, if_null: f64) -> f64 {
    if v.is_null() {
        if_null
    } else {
        v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
    }
}

/// A number array of the reference.
pub fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| num(x, f64::NAN))
        .collect()
}

/// `got` is within relative `rel` of `want` (absolute `rel` near 0); infinities must match.
#[track_caller]
pub fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    if want.is_infinite() || got.is_infinite() {
        assert_eq!(got, want, "{what}");
        return;
    }
    let err = (got - want).abs();
    assert!(
        err <= rel * want.abs().max(1.0),
        "{what}: got {got:e}, want {want:e} (error {err:e}, tolerance {rel:e})"
    );
}

/// p-values: relative `rel`, or absolute 1e-15 below 1e-8 (as the main suite's `Tol::P`).
#[track_caller]
pub fn assert_p(what: &str, got: f64, want: f64, rel: f64) {
    let err = (got - want).abs();
    let ok = if want < 1e-8 {
        err <= 1e-15
    } else {
        err <= rel * want
    };
    assert!(ok, "{what}: got {got:e}, want {want:e} (error {err:e})");
}
