//! `abforge pipeline backfill`: every run date of a range, in order, with one progress bar
//! over the dates (on a terminal, unless `--quiet`) and a summary at the end.

use super::pipeline::{StepFailed, open, pipeline_error, runtime, settings};
use crate::cli::PipelineBackfillArgs;
use abforge_pipeline::backfill::{BackfillObserver, run_dates};
use abforge_pipeline::{BackfillOptions, BackfillReport, DateOutcome, DateReport, Every};
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::time::Duration;

/// Runs `abforge pipeline backfill`.
pub fn run(a: &PipelineBackfillArgs, quiet: bool) -> anyhow::Result<()> {
    let every: Every = a.every.parse().map_err(pipeline_error)?;
    let dates = run_dates(a.from, a.to, every).map_err(pipeline_error)?;
    let settings = settings(&a.backends, a.blueprint.clone(), a.attempts)?;
    let blueprint = super::load_blueprint(&settings.blueprint)?;
    let report = runtime()?.block_on(async {
        let pipeline = open(settings).await?;
        let bar = DateBar::new(quiet, dates.len() as u64);
        let options = BackfillOptions {
            fail_fast: a.fail_fast,
        };
        let report = pipeline
            .backfill(&blueprint, &dates, options, &bar)
            .await
            .map_err(pipeline_error)?;
        bar.0.finish_and_clear();
        anyhow::Ok(report)
    })?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else if !quiet {
        write_summary(&mut out, &report, a, every)?;
    }
    if report.failed > 0 {
        let failed: Vec<String> = report
            .dates
            .iter()
            .filter(|d| d.outcome == DateOutcome::Failed)
            .map(|d| d.run_date.to_string())
            .collect();
        return Err(StepFailed(format!(
            "{} of {} run dates failed ({}); run the same backfill again to resume them",
            report.failed,
            dates.len(),
            failed.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// One bar over the dates, a line per date above it (on a terminal); without a terminal, a
/// line per date on stderr as it ends (unless `--quiet`).
struct DateBar(ProgressBar, bool);

impl DateBar {
    fn new(quiet: bool, dates: u64) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(dates), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} backfill [{elapsed_precise}] {wide_bar} {pos}/{len} dates  {msg}",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        let lines = !quiet && bar.is_hidden();
        DateBar(bar, lines)
    }
}

impl BackfillObserver for DateBar {
    fn date_started(&self, run_date: chrono::NaiveDate, _index: usize, _total: usize) {
        self.0.set_message(format!("running {run_date}"));
    }

    fn date_finished(&self, r: &DateReport) {
        if self.1 {
            let _ = writeln!(std::io::stderr().lock(), "{}", date_line(r));
        } else {
            self.0.println(date_line(r));
        }
        self.0.inc(1);
    }
}

fn date_line(r: &DateReport) -> String {
    let mut line = format!("{}  {:<24}", r.run_date, r.run_id);
    match r.outcome {
        DateOutcome::Succeeded => line.push_str("  succeeded"),
        DateOutcome::Skipped => line.push_str("  skipped (had succeeded)"),
        DateOutcome::Failed => line.push_str("  FAILED"),
    }
    if let Some(n) = r.rows {
        line.push_str(&format!("  {} customers", HumanCount(n)));
    }
    if r.outcome != DateOutcome::Skipped {
        line.push_str(&format!("  {:.2} s", r.duration_ms as f64 / 1000.0));
    }
    if let Some(step) = r.resumed_from {
        line.push_str(&format!("  (resumed from {step})"));
    }
    if let Some(step) = r.failed_step {
        line.push_str(&format!("  at {step}"));
    }
    if let Some(e) = &r.error {
        line.push_str(&format!(": {e}"));
    }
    line
}

fn write_summary(
    out: &mut impl Write,
    r: &BackfillReport,
    a: &PipelineBackfillArgs,
    every: Every,
) -> std::io::Result<()> {
    writeln!(
        out,
        "backfill of {} from {} to {} every {every}: {} run dates",
        r.experiment_id,
        a.from,
        a.to,
        r.dates.len() + r.not_reached
    )?;
    for d in &r.dates {
        writeln!(out, "  {}", date_line(d))?;
    }
    write!(
        out,
        "{} succeeded, {} skipped (had succeeded), {} failed",
        r.succeeded, r.skipped, r.failed
    )?;
    if r.not_reached > 0 {
        write!(out, ", {} not reached (--fail-fast)", r.not_reached)?;
    }
    writeln!(out, " in {:.1} s", r.duration_ms as f64 / 1000.0)?;
    if r.failed > 0 {
        writeln!(
            out,
            "run the same command again to resume the failed dates; the others are skipped"
        )?;
    }
    Ok(())
}
