//! Every environment variable abforge reads is documented: named in `docs/` or in the
//! Lambda function's README.

use abforge_env::EnvVars;
use std::path::Path;

fn markdown(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_variable_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut docs = String::new();
    markdown(&root.join("docs"), &mut docs);
    docs.push_str(&std::fs::read_to_string(root.join("crates/lambda/README.md")).unwrap());
    let missing: Vec<&str> = EnvVars::ALL
        .iter()
        .copied()
        .filter(|v| !docs.contains(v))
        .collect();
    assert!(missing.is_empty(), "not in docs/: {missing:?}");
}
