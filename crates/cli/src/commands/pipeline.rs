//! `abforge pipeline run` and `abforge pipeline step`: one run (or one step of it) on the
//! configured backends, with a progress line per step on a terminal and a summary at the end.

use crate::BadInput;
use crate::cli::{Backends, PipelineCommand};
use crate::format;
use abforge_analysis::Verdict;
use abforge_pipeline::{
    Observer, Overrides, Pipeline, RunPlan, RunReport, Settings, Step, StepReport, StepState,
};
use abforge_store::relational::{ResultRow, RunStatus};
use abforge_synth::Shard;
use anyhow::Context;
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// A step failed: the run is recorded as failed, exit 1.
#[derive(Debug)]
pub struct StepFailed(pub String);

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StepFailed {}

/// Runs `abforge pipeline …`.
pub fn run(cmd: PipelineCommand, quiet: bool) -> anyhow::Result<()> {
    match cmd {
        PipelineCommand::Backfill(a) => super::backfill::run(&a, quiet),
        PipelineCommand::Run(a) => {
            let settings = settings(&a.backends, a.blueprint, a.attempts)?;
            let plan = plan(&settings, a.run_date)?;
            let report = runtime()?.block_on(async {
                let pipeline = open(settings).await?;
                let bars = Bars::new(quiet);
                let report = pipeline.run(&plan, &bars).await.map_err(pipeline_error)?;
                bars.clear();
                anyhow::Ok((report, pipeline.settings().clone()))
            })?;
            let (report, settings) = report;
            let mut out = std::io::stdout().lock();
            if a.json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                write_summary(&mut out, &report, &settings)?;
            }
            if report.status == RunStatus::Failed {
                let failed = report.steps.iter().find(|s| s.state == StepState::Failed);
                return Err(StepFailed(format!(
                    "run {} failed at step {}: {}; run the same command again to resume from it",
                    report.run_id,
                    failed.map_or("?", |s| s.step.name()),
                    failed
                        .and_then(|s| s.error.as_deref())
                        .unwrap_or("unknown error"),
                ))
                .into());
            }
            Ok(())
        }
        PipelineCommand::Step(a) => {
            let settings = settings(&a.backends, a.blueprint, a.attempts)?;
            let plan = plan(&settings, Some(a.run_date))?;
            if a.shard.is_some() && !a.step.sharded() {
                return Err(BadInput(format!(
                    "--shard: the {} step runs on the whole run; only generate and land take shards",
                    a.step
                ))
                .into());
            }
            let report = runtime()?.block_on(async {
                let pipeline = open(settings).await?;
                let bars = Bars::new(quiet);
                let r = pipeline
                    .step(&plan, a.step, a.shard, &bars)
                    .await
                    .map_err(pipeline_error)?;
                bars.clear();
                anyhow::Ok(r)
            })?;
            let mut out = std::io::stdout().lock();
            if a.json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "run {} ({}): {}",
                    plan.run_id,
                    plan.run_date,
                    step_line(&report)
                )?;
            }
            if report.state == StepState::Failed {
                return Err(StepFailed(format!(
                    "step {} of run {} failed: {}",
                    report.step,
                    plan.run_id,
                    report.error.as_deref().unwrap_or("unknown error")
                ))
                .into());
            }
            Ok(())
        }
    }
}

/// The settings from the flags, the environment and the configuration file.
pub fn settings(
    b: &Backends,
    blueprint: Option<PathBuf>,
    attempts: Option<u32>,
) -> anyhow::Result<Settings> {
    let o = Overrides {
        config: b.config.clone(),
        data_dir: b.data_dir.clone(),
        database_url: b.database_url.clone(),
        run_log_url: b.run_log_url.clone(),
        object_store_url: b.object_store_url.clone(),
        api_url: b.api_url.clone(),
        blueprint,
        attempts,
    };
    Settings::resolve(&o).map_err(pipeline_error)
}

fn plan(settings: &Settings, date: Option<chrono::NaiveDate>) -> anyhow::Result<RunPlan> {
    let bp = super::load_blueprint(&settings.blueprint)?;
    let date = date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    RunPlan::new(&bp, date).map_err(pipeline_error)
}

/// Opens the backends.
pub async fn open(settings: Settings) -> anyhow::Result<Pipeline> {
    Pipeline::open(settings).await.map_err(pipeline_error)
}

/// The pipeline's usage errors exit with 2, the rest with 1.
pub fn pipeline_error(e: abforge_pipeline::Error) -> anyhow::Error {
    if e.is_usage() {
        BadInput(crate::flags::with_flag(
            abforge_pipeline::error_chain(&e),
            e.invalid(),
        ))
        .into()
    } else {
        anyhow::Error::new(e)
    }
}

/// The async runtime of a command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// One progress bar per step on a terminal, and one line per step when it ends (hidden by
/// `--quiet`; plain lines when stderr is not a terminal).
struct Bars {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn new(quiet: bool) -> Self {
        Bars {
            quiet,
            bar: Mutex::new(None),
        }
    }

    fn clear(&self) {
        if let Some(b) = self.bar.lock().expect("not poisoned").take() {
            b.finish_and_clear();
        }
    }
}

impl Observer for Bars {
    fn step_started(&self, step: Step, shard: Option<Shard>, rows: Option<u64>) {
        if self.quiet {
            return;
        }
        let label = match shard {
            Some(s) => format!("{step} {s}"),
            None => step.to_string(),
        };
        let bar = match rows.filter(|_| matches!(step, Step::Generate | Step::Land | Step::Analyze))
        {
            Some(n) => {
                let b = ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr());
                b.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix:>10} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows (eta {eta})",
                    )
                    .expect("valid template"),
                );
                b
            }
            None => {
                let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                b.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:>10} [{elapsed_precise}]")
                        .expect("valid template"),
                );
                b.enable_steady_tick(Duration::from_millis(120));
                b
            }
        };
        bar.set_prefix(label);
        if let Some(old) = self.bar.lock().expect("not poisoned").replace(bar) {
            old.finish_and_clear();
        }
    }

    fn rows(&self, n: u64) {
        if let Some(b) = &*self.bar.lock().expect("not poisoned") {
            b.inc(n);
        }
    }

    fn step_retrying(&self, step: Step, attempt: u32, delay: Duration, error: &str) {
        self.clear();
        if !self.quiet {
            let _ = writeln!(
                std::io::stderr().lock(),
                "  {step}: attempt {attempt} failed ({error}); retrying in {:.1} s",
                delay.as_secs_f64()
            );
        }
    }

    fn step_finished(&self, r: &StepReport) {
        self.clear();
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{}", step_line(r));
        }
    }
}

fn step_line(r: &StepReport) -> String {
    let mark = match r.state {
        StepState::Succeeded => "ok     ",
        StepState::Failed => "FAILED ",
        StepState::Skipped => "skipped",
    };
    let name = match &r.shard {
        Some(s) => format!("{} {s}", r.step),
        None => r.step.to_string(),
    };
    let mut line = format!("{mark} {name:<10}");
    if r.state != StepState::Skipped {
        line.push_str(&format!(" {:>7.2} s", r.duration_ms as f64 / 1000.0));
    }
    if let Some(n) = r.rows {
        line.push_str(&format!("  {} rows", HumanCount(n)));
    }
    if r.attempts > 1 {
        line.push_str(&format!("  ({} attempts)", r.attempts));
    }
    if let Some(m) = &r.message {
        line.push_str(&format!("  {m}"));
    }
    if let Some(e) = &r.error {
        line.push_str(&format!("  error: {e}"));
    }
    line
}

fn write_summary(out: &mut impl Write, r: &RunReport, s: &Settings) -> std::io::Result<()> {
    let status = match r.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "FAILED",
        RunStatus::Running => "running",
    };
    writeln!(
        out,
        "run {} — experiment {}, {} (seed {}): {status}",
        r.run_id, r.experiment_id, r.run_date, r.seed
    )?;
    if let Some(step) = r.resumed_from {
        writeln!(out, "  resumed from {step}")?;
    }
    writeln!(
        out,
        "  customers landed: {} in {}",
        r.rows
            .map_or_else(|| "none".into(), |n| HumanCount(n).to_string()),
        abforge_pipeline::settings::redact(&s.database_url)
    )?;
    writeln!(out, "  params: {}", r.params_key)?;
    writeln!(
        out,
        "  run log: {}   (abforge runs show {})",
        abforge_pipeline::settings::redact(&s.run_log_url),
        r.run_id
    )?;
    if !r.results.is_empty() {
        writeln!(out)?;
        write_results(out, &r.results)?;
    }
    Ok(())
}

/// The decisions against the truth, one line per metric × arm × test.
pub fn write_results(out: &mut impl Write, rows: &[ResultRow]) -> std::io::Result<()> {
    let mw = rows
        .iter()
        .map(|r| r.metric.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let tw = rows.iter().map(|r| r.test.len()).max().unwrap_or(4).max(4);
    let multi_arm = rows.iter().any(|r| r.treatment != rows[0].treatment);
    writeln!(
        out,
        "{:<mw$}  {:<tw$}  {:>12}  {:>10}  {:<9}  {:<9}  verdict",
        "metric", "test", "estimate", "p-value", "decision", "truth"
    )?;
    for r in rows {
        let metric = if multi_arm {
            format!("{} ({})", r.metric, r.treatment)
        } else {
            r.metric.clone()
        };
        let decision = match r.reject {
            Some(true) => "reject",
            Some(false) => "keep",
            None => "—",
        };
        let truth = match r.null_true {
            Some(true) => "no effect",
            Some(false) => "effect",
            None => "—",
        };
        // A verdict this version does not know is shown as stored, not hidden.
        let verdict = match stored_verdict(r) {
            Some(v) => format::verdict(v),
            None => r.outcome.as_deref().unwrap_or("—"),
        };
        writeln!(
            out,
            "{metric:<mw$}  {:<tw$}  {:>12}  {:>10}  {decision:<9}  {truth:<9}  {verdict}{}",
            r.test,
            r.estimate.map_or_else(|| "—".into(), format::number),
            r.p_value.map_or_else(|| "—".into(), format::p_value),
            if r.primary { "  (primary)" } else { "" }
        )?;
    }
    let count = |v: Verdict| rows.iter().filter(|r| stored_verdict(r) == Some(v)).count();
    writeln!(
        out,
        "\n{} decisions: {} correct, {} type I, {} type II",
        rows.len(),
        count(Verdict::Correct),
        count(Verdict::TypeI),
        count(Verdict::TypeIi)
    )
}

/// The verdict a stored result row carries (`None` when it was not judged, or is written
/// in a form this version does not know).
fn stored_verdict(r: &ResultRow) -> Option<Verdict> {
    r.outcome.as_deref().and_then(Verdict::parse)
}
