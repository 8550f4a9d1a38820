//! `abforge runs list` and `abforge runs show RUN`: the run log, with each run's record and
//! decisions from the relational store.

use super::pipeline::{open, runtime, settings, write_results};
use crate::BadInput;
use crate::cli::RunsCommand;
use crate::format;
use abforge_pipeline::Settings;
use abforge_store::relational::{ResultRow, RunRecord};
use abforge_store::runlog::{RunLogSummary, StepAttempt};
use serde::Serialize;
use std::io::Write;

/// One line of `runs list --json`.
#[derive(Debug, Serialize)]
struct ListedRun {
    #[serde(flatten)]
    log: RunLogSummary,
    /// The run's date, status and customers from the `runs` table, when it has the run.
    run_date: Option<chrono::NaiveDate>,
    status: Option<String>,
    rows: Option<u64>,
}

/// `runs show --json`.
#[derive(Debug, Serialize)]
struct Shown {
    run: Option<RunRecord>,
    attempts: Vec<StepAttempt>,
    results: Vec<ResultRow>,
}

/// Runs `abforge runs …`.
pub fn run(cmd: RunsCommand) -> anyhow::Result<()> {
    match cmd {
        RunsCommand::List {
            limit,
            json,
            backends,
        } => {
            let runs = listed(settings(&backends, None, None)?, limit)?;
            let mut out = std::io::stdout().lock();
            if json {
                return format::json(&mut out, &runs);
            }
            write_list(&mut out, &runs)
        }
        RunsCommand::Show {
            run,
            json,
            backends,
        } => {
            let shown = shown(settings(&backends, None, None)?, &run)?;
            let mut out = std::io::stdout().lock();
            if json {
                return format::json(&mut out, &shown);
            }
            write_shown(&mut out, &run, &shown)
        }
    }
}

/// The newest `limit` runs of the run log, each with its record from the `runs` table.
fn listed(settings: Settings, limit: u32) -> anyhow::Result<Vec<ListedRun>> {
    runtime()?.block_on(async {
        let p = open(settings).await?;
        let mut out = Vec::new();
        for log in p.log().runs(limit as usize).await? {
            let rec = p.db().run(&log.run_id).await?;
            out.push(ListedRun {
                run_date: rec.as_ref().map(|r| r.run_date),
                status: rec.as_ref().map(|r| r.status.as_str().to_string()),
                rows: rec.as_ref().and_then(|r| r.rows),
                log,
            });
        }
        anyhow::Ok(out)
    })
}

/// `runs list` as a table, one line per run.
fn write_list(out: &mut impl Write, runs: &[ListedRun]) -> anyhow::Result<()> {
    if runs.is_empty() {
        writeln!(out, "no runs yet; `abforge pipeline run` makes one")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<28}  {:<10}  {:<9}  {:>11}  {:>8}  {:>6}  {:<20}  last step",
        "run", "date", "status", "customers", "attempts", "failed", "started (UTC)"
    )?;
    for r in runs {
        writeln!(
            out,
            "{:<28}  {:<10}  {:<9}  {:>11}  {:>8}  {:>6}  {:<20}  {} {}",
            r.log.run_id,
            r.run_date.map_or_else(|| "—".into(), |d| d.to_string()),
            r.status.as_deref().unwrap_or("—"),
            r.rows.map_or_else(|| "—".into(), |n| n.to_string()),
            r.log.attempts,
            r.log.failed,
            r.log.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.log.last_step,
            r.log.last_status.as_str()
        )?;
    }
    Ok(())
}

/// A run's record, attempts and decisions; a run neither table knows is bad input.
fn shown(settings: Settings, run: &str) -> anyhow::Result<Shown> {
    let shown = runtime()?.block_on(async {
        let p = open(settings).await?;
        anyhow::Ok(Shown {
            run: p.db().run(run).await?,
            attempts: p.log().attempts(run).await?,
            results: p.db().results(run).await?,
        })
    })?;
    if shown.run.is_none() && shown.attempts.is_empty() {
        return Err(BadInput(format!(
            "no run {run:?} in the run log; `abforge runs list` shows the runs"
        ))
        .into());
    }
    Ok(shown)
}

/// `runs show` as text: the run, its steps' attempts, its decisions.
fn write_shown(out: &mut impl Write, run: &str, shown: &Shown) -> anyhow::Result<()> {
    match &shown.run {
        Some(r) => write_record(out, r)?,
        None => writeln!(out, "run {run} (not in the runs table)")?,
    }
    write_attempts(out, &shown.attempts)?;
    if !shown.results.is_empty() {
        writeln!(out)?;
        write_results(out, &shown.results)?;
    }
    Ok(())
}

/// The run's line of the `runs` table: experiment, date, status, customers, seed, times.
fn write_record(out: &mut impl Write, r: &RunRecord) -> std::io::Result<()> {
    writeln!(
        out,
        "run {} — experiment {}, {}: {}",
        r.run_id,
        r.experiment_id,
        r.run_date,
        r.status.as_str()
    )?;
    writeln!(
        out,
        "  customers: {}   seed: {}   blueprint sha256: {}",
        r.rows.map_or_else(|| "none".into(), |n| n.to_string()),
        r.blueprint
            .get("seed")
            .map_or_else(String::new, ToString::to_string),
        r.blueprint_hash
    )?;
    writeln!(
        out,
        "  started {}{}",
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        r.finished_at
            .map(|t| format!(", ended {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
            .unwrap_or_default()
    )
}

/// The step attempts of the run log, one line each.
fn write_attempts(out: &mut impl Write, attempts: &[StepAttempt]) -> std::io::Result<()> {
    writeln!(out, "\nsteps:")?;
    writeln!(
        out,
        "  {:<10} {:<5} {:>3}  {:<9}  {:<19}  {:>9}  {:>11}  message",
        "step", "shard", "#", "status", "started (UTC)", "seconds", "rows"
    )?;
    for a in attempts {
        writeln!(
            out,
            "  {:<10} {:<5} {:>3}  {:<9}  {:<19}  {:>9}  {:>11}  {}",
            a.step,
            a.shard.as_deref().unwrap_or("—"),
            a.attempt,
            a.status.as_str(),
            a.started_at.format("%Y-%m-%d %H:%M:%S"),
            a.duration_ms
                .map_or_else(|| "—".into(), |d| format!("{:.2}", d as f64 / 1000.0)),
            a.rows.map_or_else(|| "—".into(), |n| n.to_string()),
            a.error
                .as_deref()
                .map(|e| format!("error: {e}"))
                .or_else(|| a.message.clone())
                .unwrap_or_default()
        )?;
    }
    Ok(())
}
