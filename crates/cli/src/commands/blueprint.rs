//! `abforge blueprint check|schema`.

use abforge_synth::Blueprint;
use std::io::Write;
use std::path::PathBuf;

/// Validates each file; lists every problem of every file, then fails if any had one.
pub fn check(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut failed = Vec::new();
    for f in files {
        let result = Blueprint::from_path(f).and_then(|bp| bp.resolve().map(|r| (bp, r)));
        match result {
            Ok((bp, r)) => {
                writeln!(
                    out,
                    "{}: ok: experiment {}, {} groups, {} attributes, {} metrics, {} choices, {} customers",
                    f.display(),
                    bp.id,
                    bp.groups.len(),
                    bp.attributes.len(),
                    bp.metrics.len(),
                    r.choices.len(),
                    bp.customers
                )?;
            }
            Err(e) => {
                let mut err = std::io::stderr().lock();
                writeln!(err, "{}: {e}", f.display())?;
                failed.push(f);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        let n = failed.len();
        Err(crate::BadInput(format!(
            "{n} of {} blueprint{} invalid",
            files.len(),
            if files.len() == 1 { " is" } else { "s are" }
        ))
        .into())
    }
}

/// Prints the JSON Schema.
pub fn schema() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &abforge_synth::json_schema())?;
    writeln!(out)?;
    Ok(())
}
