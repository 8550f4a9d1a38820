//! `abforge schedule`: the built-in scheduler (`abforge_pipeline::schedule`) in the
//! foreground, one line on stderr per event (hidden by `--quiet`), stopped by SIGTERM or
//! SIGINT after the run in flight.

use super::load_blueprint;
use super::pipeline::{StepFailed, open, pipeline_error, runtime, settings};
use crate::cli::ScheduleArgs;
use abforge_pipeline::schedule::{
    Clock, ScheduleObserver, ShiftedClock, SystemClock, TickReport, TickRun, check_name,
};
use abforge_pipeline::{DateOutcome, Missed, RunPlan, Schedule, SchedulerConfig, Zone};
use abforge_store::locks::{Lease, TickStatus};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::HumanCount;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Runs `abforge schedule`.
pub fn run(a: &ScheduleArgs, quiet: bool) -> anyhow::Result<()> {
    let zone: Zone = a.tz.parse().map_err(pipeline_error)?;
    let schedule = Schedule::new(&a.cron, zone).map_err(pipeline_error)?;
    check_name(&a.name).map_err(pipeline_error)?;
    let settings = settings(&a.backends, a.blueprint.first().cloned(), a.attempts)?;
    let blueprints = if a.blueprint.is_empty() {
        vec![settings.blueprint.clone()]
    } else {
        a.blueprint.clone()
    };
    for b in &blueprints {
        load_blueprint(b)?;
    }
    let mut cfg = SchedulerConfig::new(schedule, blueprints);
    cfg.name = a.name.clone();
    cfg.missed = if a.catch_up {
        Missed::CatchUp
    } else {
        Missed::Skip
    };
    cfg.once = a.once;
    cfg.lease = Duration::from_secs(a.lease);
    let clock: Box<dyn Clock> = match a.now {
        Some(t) => Box::new(ShiftedClock::starting_at(t.with_timezone(&Utc))),
        None => Box::new(SystemClock),
    };
    let summary = runtime()?.block_on(async {
        let lines = Arc::new(Lines {
            quiet,
            schedule: cfg.schedule.clone(),
            in_flight: AtomicBool::new(false),
        });
        // Handlers first: a signal while the backends open is a stop too.
        let stop = stop_on_signals(Arc::clone(&lines))?;
        let pipeline = open(settings).await?;
        lines.say(&format!(
            "schedule {:?}: cron {:?} in {}; {}; missed ticks {}; lock {:?} as {}",
            cfg.name,
            cfg.schedule.expression(),
            cfg.schedule.zone(),
            cfg.blueprints
                .iter()
                .map(|b| b.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            match cfg.missed {
                Missed::CatchUp => "caught up",
                Missed::Skip => "skipped",
            },
            abforge_pipeline::schedule::LOCK,
            cfg.owner
        ));
        let summary = pipeline
            .schedule(&cfg, clock.as_ref(), stop, lines.as_ref())
            .await
            .map_err(pipeline_error)?;
        anyhow::Ok(summary)
    })?;
    let mut err = std::io::stderr().lock();
    if !quiet {
        writeln!(
            err,
            "{}: {} tick(s) run ({} failed), {} missed tick(s) skipped, {} handled by another \
             scheduler",
            if summary.stopped { "stopped" } else { "done" },
            summary.ticks,
            summary.failed,
            summary.skipped,
            summary.handled_elsewhere
        )?;
    }
    if a.once && summary.failed > 0 {
        return Err(StepFailed(format!(
            "{} tick(s) failed; run the same command again to resume their runs (or `abforge \
             pipeline run --run-date DATE`)",
            summary.failed
        ))
        .into());
    }
    Ok(())
}

/// A watch that turns true at the first SIGTERM or SIGINT; the second exits at once (130).
fn stop_on_signals(lines: Arc<Lines>) -> anyhow::Result<watch::Receiver<bool>> {
    let (tx, rx) = watch::channel(false);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                count += 1;
                if count == 1 {
                    if lines.in_flight.load(Ordering::SeqCst) {
                        lines.say(&format!(
                            "{name}: stopping once the run in flight has finished (again to \
                             stop at once)"
                        ));
                    } else {
                        lines.say(&format!("{name}: stopping"));
                    }
                    let _ = tx.send(true);
                } else {
                    lines.say(&format!(
                        "{name} again: stopping at once; an unfinished run resumes when run again"
                    ));
                    std::process::exit(crate::Status::Interrupted as i32);
                }
            }
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                lines.say("Ctrl-C: stopping once the run in flight has finished");
                let _ = tx.send(true);
            }
        });
    }
    Ok(rx)
}

/// The scheduler's events as lines on stderr.
struct Lines {
    quiet: bool,
    schedule: Schedule,
    in_flight: AtomicBool,
}

impl Lines {
    fn say(&self, line: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

impl ScheduleObserver for Lines {
    fn waiting(&self, next: DateTime<Utc>, now: DateTime<Utc>) {
        let left = (next - now).num_minutes().max(0);
        self.say(&format!(
            "next tick {} (run date {}); waiting{}",
            self.schedule.show(next),
            self.schedule.run_date(next),
            if left >= 1 {
                format!(" ({}d {}h {}m)", left / 1440, left / 60 % 24, left % 60)
            } else {
                String::new()
            }
        ));
    }

    fn lock_busy(&self, holder: Option<&Lease>) {
        match holder {
            Some(h) => self.say(&format!(
                "waiting for the scheduler lock, held by {} (lease until {})",
                h.owner,
                h.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
            )),
            None => self.say("waiting for the scheduler lock"),
        }
    }

    fn missed_skipped(&self, first: DateTime<Utc>, last: DateTime<Utc>, count: usize) {
        self.say(&format!(
            "skipped {count} missed tick(s), {} to {}",
            self.schedule.show(first),
            self.schedule.show(last)
        ));
    }

    fn handled_elsewhere(&self, tick: DateTime<Utc>) {
        self.say(&format!(
            "tick {} was handled by another scheduler meanwhile",
            self.schedule.show(tick)
        ));
    }

    fn tick_started(&self, tick: DateTime<Utc>, run_date: NaiveDate) {
        self.in_flight.store(true, Ordering::SeqCst);
        self.say(&format!(
            "tick {}: run date {run_date}",
            self.schedule.show(tick)
        ));
    }

    fn run_started(&self, plan: &RunPlan) {
        self.say(&format!("  running {}", plan.run_id));
    }

    fn run_finished(&self, run: &TickRun) {
        let line = match &run.report {
            None => format!(
                "  {}: not run: {}",
                run.blueprint.display(),
                run.error.as_deref().unwrap_or("?")
            ),
            Some(r) => {
                let mut l = format!("  {} ", r.run_id);
                match r.outcome {
                    DateOutcome::Succeeded => l.push_str("succeeded"),
                    DateOutcome::Skipped => l.push_str("skipped (had succeeded)"),
                    DateOutcome::Failed => l.push_str("FAILED"),
                }
                if let Some(n) = r.rows {
                    l.push_str(&format!(": {} customers", HumanCount(n)));
                }
                if r.outcome != DateOutcome::Skipped {
                    l.push_str(&format!(" in {:.2} s", r.duration_ms as f64 / 1000.0));
                }
                if let (Some(step), Some(e)) = (r.failed_step, &r.error) {
                    l.push_str(&format!(" at {step}: {e}"));
                }
                l
            }
        };
        self.say(&line);
    }

    fn tick_finished(&self, r: &TickReport) {
        self.in_flight.store(false, Ordering::SeqCst);
        self.say(&format!(
            "tick {} {} (run log: abforge runs show {})",
            self.schedule.show(r.tick),
            match r.status {
                TickStatus::Succeeded => "succeeded",
                TickStatus::Failed => "FAILED",
                TickStatus::Skipped => "skipped",
            },
            abforge_pipeline::schedule::tick_run_id(&r.schedule, r.run_date)
        ));
    }

    fn lock_lost(&self) {
        self.say(
            "warning: the scheduler's lease ran out during the tick and another scheduler took \
             the lock (raise --lease)",
        );
    }

    fn error(&self, error: &abforge_pipeline::Error, retry_in: Duration) {
        self.in_flight.store(false, Ordering::SeqCst);
        self.say(&format!(
            "error: {}; trying again in {} s",
            abforge_pipeline::error_chain(error),
            retry_in.as_secs()
        ));
    }
}
