//! `abforge generate`.

use super::load;
use crate::cli::{FormatArg, GenerateArgs};
use crate::progress::RowBar;
use crate::{BadInput, Interrupted};
use abforge_synth::{AtomicFile, BatchWriter, Format, Generator};
use anyhow::Context;
use indicatif::{HumanBytes, HumanCount};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Generates the dataset and writes it.
pub fn run(args: &GenerateArgs, quiet: bool) -> anyhow::Result<()> {
    let bp = load(&args.source)?;
    let resolved = bp
        .resolve()
        .with_context(|| args.source.blueprint.display().to_string())?;
    let to_stdout = args.out == Path::new("-");
    let format = match args.format {
        Some(FormatArg::Parquet) => Format::Parquet,
        Some(FormatArg::Csv) => Format::Csv,
        Some(FormatArg::Jsonl) => Format::Jsonl,
        None if to_stdout => Format::Csv,
        None => Format::from_path(&args.out).unwrap_or(Format::Parquet),
    };
    if to_stdout && format == Format::Parquet && std::io::stdout().is_terminal() {
        return Err(BadInput("--out - with --format parquet would print binary to the terminal; redirect it or use --format csv|jsonl".into()).into());
    }
    if !to_stdout && args.out.is_dir() {
        return Err(BadInput(format!(
            "--out {} is a directory; give a file path, e.g. {}",
            args.out.display(),
            args.out.join("customers.parquet").display()
        ))
        .into());
    }
    let generator = Generator::new(resolved);
    let chunks = generator.chunks(args.shard)?;
    let rows = generator.rows_in(&chunks);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.map_or(0, usize::from))
        .build()
        .context("cannot start worker threads")?;
    let bar = RowBar::new(rows, quiet);
    let started = Instant::now();
    let schema = generator.schema();
    // Ctrl-C or SIGTERM stops the run between windows; the temporary file is then removed
    // as the error unwinds, so nothing is left behind.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the signal handler")?;
    let check = || -> abforge_synth::Result<()> {
        if stop.load(Ordering::SeqCst) {
            Err(abforge_synth::Error::Usage(Interrupted.to_string()))
        } else {
            Ok(())
        }
    };
    let result = pool.install(|| -> anyhow::Result<u64> {
        if to_stdout {
            let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
            let mut w = BatchWriter::new(out, format, schema)?;
            generator.run(chunks, |b| check().and_then(|()| w.write(&b)), &bar)?;
            Ok(w.finish()?.1)
        } else {
            let file = AtomicFile::create(&args.out)?;
            let mut w = BatchWriter::new(file.writer()?, format, schema)?;
            generator.run(chunks, |b| check().and_then(|()| w.write(&b)), &bar)?;
            let (_, bytes) = w.finish()?;
            file.commit()?;
            Ok(bytes)
        }
    });
    bar.finish();
    if stop.load(Ordering::SeqCst) {
        return Err(Interrupted.into());
    }
    let bytes = result?;
    let secs = started.elapsed().as_secs_f64();
    if !quiet {
        let shard = args
            .shard
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default();
        let dest = if to_stdout {
            "stdout".to_string()
        } else {
            args.out.display().to_string()
        };
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "wrote {} rows × {} columns ({}{shard}) to {dest}: {} in {secs:.2} s, {} rows/s",
            HumanCount(rows),
            generator.schema().fields().len(),
            format.name(),
            HumanBytes(bytes),
            HumanCount((rows as f64 / secs.max(1e-9)) as u64),
        )?;
    }
    Ok(())
}
