//! One tick's run: every blueprint run on the tick's date, the run log item that says what
//! they did, and the tick's record.

use super::{
    Schedule, ScheduleObserver, SchedulerConfig, TICK_EXPERIMENT, TICK_STEP, TickReport, TickRun,
    tick_run_id,
};
use crate::Pipeline;
use crate::backfill::DateOutcome;
use crate::error::{Error, Result};
use crate::plan::RunPlan;
use abforge_store::locks::{TickRecord, TickStatus};
use abforge_store::runlog::{StepAttempt, StepStatus};
use abforge_synth::Blueprint;
use chrono::{DateTime, NaiveDate, Utc};
use std::path::Path;
use std::time::Instant;

impl Pipeline {
    /// Runs every blueprint on the tick's date and records the tick.
    pub(super) async fn run_tick(
        &self,
        cfg: &SchedulerConfig,
        tick: DateTime<Utc>,
        obs: &dyn ScheduleObserver,
    ) -> Result<TickReport> {
        let t0 = Instant::now();
        let run_date = cfg.schedule.run_date(tick);
        let run_id = tick_run_id(&cfg.name, run_date);
        let mut attempt = self
            .log()
            .start(TICK_EXPERIMENT, &run_id, TICK_STEP, None)
            .await?;
        obs.tick_started(tick, run_date);
        let mut runs = Vec::new();
        for path in &cfg.blueprints {
            let run = self.run_blueprint(path, run_date, obs).await;
            obs.run_finished(&run);
            runs.push(run);
        }
        let failed = runs.iter().any(TickRun::failed);
        let status = if failed {
            TickStatus::Failed
        } else {
            TickStatus::Succeeded
        };
        let message = tick_message(&cfg.schedule, tick, &runs);
        fill_tick_attempt(&mut attempt, &runs, failed, &message, t0);
        self.log().finish(&attempt).await?;
        self.db()
            .put_tick(&TickRecord {
                schedule: cfg.name.clone(),
                tick,
                status,
                message: Some(message),
                recorded_at: Utc::now(),
            })
            .await?;
        let report = TickReport {
            schedule: cfg.name.clone(),
            tick,
            run_date,
            status,
            runs,
            duration_ms: t0.elapsed().as_millis() as u64,
        };
        obs.tick_finished(&report);
        Ok(report)
    }

    /// Runs the blueprint at `path` on `run_date`: what it did, or why it did not run.
    async fn run_blueprint(
        &self,
        path: &Path,
        run_date: NaiveDate,
        obs: &dyn ScheduleObserver,
    ) -> TickRun {
        let plan = Blueprint::from_path(path)
            .map_err(Error::from)
            .and_then(|bp| RunPlan::new(&bp, run_date));
        match plan {
            Err(e) => TickRun {
                blueprint: path.to_path_buf(),
                report: None,
                error: Some(format!("{}: {}", path.display(), crate::error_chain(&e))),
            },
            Ok(plan) => {
                obs.run_started(&plan);
                match self.run_date(&plan).await {
                    Ok(r) => TickRun {
                        blueprint: path.to_path_buf(),
                        error: r.error.clone(),
                        report: Some(r),
                    },
                    Err(e) => TickRun {
                        blueprint: path.to_path_buf(),
                        report: None,
                        error: Some(crate::error_chain(&e)),
                    },
                }
            }
        }
    }
}

/// The run log's message of a tick: the tick, the expression, and what each run did.
fn tick_message(schedule: &Schedule, tick: DateTime<Utc>, runs: &[TickRun]) -> String {
    format!(
        "tick {} (cron {:?}): {}",
        schedule.show(tick),
        schedule.expression(),
        runs.iter()
            .map(|r| match &r.report {
                Some(d) => format!(
                    "{} {}",
                    d.run_id,
                    match d.outcome {
                        DateOutcome::Succeeded => "succeeded",
                        DateOutcome::Skipped => "skipped (had succeeded)",
                        DateOutcome::Failed => "failed",
                    }
                ),
                None => format!("{} not run", r.blueprint.display()),
            })
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// Ends a tick's run log attempt (begun at `t0`) with the outcome of its `runs`.
fn fill_tick_attempt(
    attempt: &mut StepAttempt,
    runs: &[TickRun],
    failed: bool,
    message: &str,
    t0: Instant,
) {
    let errors: Vec<String> = runs.iter().filter_map(|r| r.error.clone()).collect();
    attempt.status = if failed {
        StepStatus::Failed
    } else {
        StepStatus::Succeeded
    };
    attempt.ended_at = Some(Utc::now());
    attempt.duration_ms = Some(t0.elapsed().as_millis() as u64);
    attempt.rows = Some(
        runs.iter()
            .filter_map(|r| r.report.as_ref().and_then(|d| d.rows))
            .sum(),
    );
    attempt.message = Some(message.to_string());
    attempt.error = (!errors.is_empty()).then(|| errors.join("; "));
}
