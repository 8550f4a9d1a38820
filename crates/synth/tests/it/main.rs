//! Integration tests of abforge-synth, one module per area.

mod determinism;
mod limits;
mod prior;
mod roundtrip;
mod schema;
mod validation;

use abforge_synth::Blueprint;
use std::path::PathBuf;

/// The repository's examples folder.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every shipped example blueprint, with its file name.
pub fn examples() -> Vec<(String, Blueprint)> {
    let mut out: Vec<(String, Blueprint)> = std::fs::read_dir(examples_dir())
        .expect("examples folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let bp = Blueprint::from_path(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), bp)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 6, "expected the shipped examples");
    out
}
