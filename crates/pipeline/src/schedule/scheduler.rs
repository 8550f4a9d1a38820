//! The scheduler's loop: waiting for the next tick, taking the lock and renewing its lease,
//! finding the ticks due since the last one recorded, and skipping or running them.

use super::{
    Clock, LOCK, MAX_DUE, Missed, ScheduleObserver, ScheduleSummary, SchedulerConfig,
    TICK_EXPERIMENT, TICK_STEP, check_name, tick_run_id,
};
use crate::Pipeline;
use crate::error::Result;
use abforge_store::locks::{TickRecord, TickStatus};
use abforge_store::runlog::StepStatus;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// The longest sleep between looks at the clock while waiting for a tick.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Resolves once `stop` says true (never, if its sender is gone while it says false).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Pipeline {
    /// Runs the scheduler (see the [module docs](crate::schedule)) until `stop` says true — or, with
    /// [`SchedulerConfig::once`], until the ticks due now are handled.
    ///
    /// # Errors
    /// With `once`, the first backend error; without, none: a round that fails is reported
    /// to the observer and tried again (with backoff up to a minute), its tick not recorded.
    pub async fn schedule(
        &self,
        cfg: &SchedulerConfig,
        clock: &dyn Clock,
        mut stop: watch::Receiver<bool>,
        obs: &dyn ScheduleObserver,
    ) -> Result<ScheduleSummary> {
        check_name(&cfg.name)?;
        let mut summary = ScheduleSummary::default();
        let start = clock.now();
        let recorded = self.db().last_tick(&cfg.name).await?.map(|t| t.tick);
        // Ticks after the baseline are due.
        let mut baseline = match recorded {
            Some(t) => t,
            None if cfg.once => cfg
                .schedule
                .latest_at_or_before(start)
                .map_or(start, |t| t - chrono::Duration::seconds(1)),
            None => start,
        };
        let mut announced = None;
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                summary.stopped = true;
                break;
            }
            let now = clock.now();
            if cfg.schedule.next_after(baseline)? > now {
                if cfg.once {
                    break;
                }
                let next = cfg.schedule.next_after(now.max(baseline))?;
                if announced != Some(next) {
                    obs.waiting(next, now);
                    announced = Some(next);
                }
                let wait = (next - now).to_std().unwrap_or_default().min(MAX_SLEEP);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(&mut stop) => {}
                }
                continue;
            }
            match self
                .schedule_round(cfg, clock, &mut baseline, &mut summary, &mut stop, obs)
                .await
            {
                Ok(()) => failures = 0,
                Err(e) if !cfg.once => {
                    failures += 1;
                    let retry_in = Duration::from_secs(5 << failures.min(4)).min(MAX_SLEEP);
                    obs.error(&e, retry_in);
                    tokio::select! {
                        () = tokio::time::sleep(retry_in) => {}
                        () = stopped(&mut stop) => {}
                    }
                }
                Err(e) => return Err(e),
            }
            if cfg.once {
                if *stop.borrow() {
                    summary.stopped = true;
                }
                break;
            }
        }
        Ok(summary)
    }

    /// Takes the lock, handles the ticks due, releases the lock.
    async fn schedule_round(
        &self,
        cfg: &SchedulerConfig,
        clock: &dyn Clock,
        baseline: &mut DateTime<Utc>,
        summary: &mut ScheduleSummary,
        stop: &mut watch::Receiver<bool>,
        obs: &dyn ScheduleObserver,
    ) -> Result<()> {
        if !self.take_lock(cfg, stop, obs).await? {
            summary.stopped = true;
            return Ok(());
        }
        let lost = Arc::new(AtomicBool::new(false));
        let lost_now = Arc::new(tokio::sync::Notify::new());
        let renewal = {
            let db = Arc::clone(self.db());
            let owner = cfg.owner.clone();
            let lease = cfg.lease;
            let lost = Arc::clone(&lost);
            let lost_now = Arc::clone(&lost_now);
            tokio::spawn(async move {
                let every = (lease / 3).max(Duration::from_millis(10));
                loop {
                    tokio::time::sleep(every).await;
                    match db.try_lock(LOCK, &owner, lease).await {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            lost.store(true, Ordering::SeqCst);
                            lost_now.notify_one();
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "renewing the scheduler's lease"),
                    }
                }
            })
        };
        // Losing the lease cancels the tick in flight (its run is dropped: its load rolls
        // back, its run lease is released); another scheduler has the schedule now.
        let out = tokio::select! {
            out = self.handle_due(cfg, clock, baseline, summary, stop, obs) => out,
            () = lost_now.notified() => Ok(()),
        };
        renewal.abort();
        if lost.load(Ordering::SeqCst) {
            obs.lock_lost();
        }
        let released = self.db().unlock(LOCK, &cfg.owner).await;
        out?;
        released?;
        Ok(())
    }

    /// Waits for the lock; `false` when asked to stop meanwhile.
    async fn take_lock(
        &self,
        cfg: &SchedulerConfig,
        stop: &mut watch::Receiver<bool>,
        obs: &dyn ScheduleObserver,
    ) -> Result<bool> {
        let mut seen: Option<Option<String>> = None;
        loop {
            if self
                .db()
                .try_lock(LOCK, &cfg.owner, cfg.lease)
                .await?
                .is_some()
            {
                return Ok(true);
            }
            let holder = self.db().lock_holder(LOCK).await?;
            let who = holder.as_ref().map(|h| h.owner.clone());
            if seen.as_ref() != Some(&who) {
                obs.lock_busy(holder.as_ref());
                seen = Some(who);
            }
            tokio::select! {
                () = tokio::time::sleep(cfg.poll) => {}
                () = stopped(stop) => return Ok(false),
            }
        }
    }

    /// Under the lock: the ticks due since the last recorded (read again: another
    /// scheduler may have handled them), skipped or run.
    async fn handle_due(
        &self,
        cfg: &SchedulerConfig,
        clock: &dyn Clock,
        baseline: &mut DateTime<Utc>,
        summary: &mut ScheduleSummary,
        stop: &watch::Receiver<bool>,
        obs: &dyn ScheduleObserver,
    ) -> Result<()> {
        let before = *baseline;
        if let Some(t) = self.db().last_tick(&cfg.name).await? {
            *baseline = (*baseline).max(t.tick);
        }
        let now = clock.now();
        let (mut due, dropped) = cfg.schedule.ticks(*baseline, now, MAX_DUE)?;
        if due.is_empty() {
            if *baseline > before {
                obs.handled_elsewhere(*baseline);
                summary.handled_elsewhere += 1;
            }
            return Ok(());
        }
        let missed = match cfg.missed {
            Missed::Skip if due.len() > 1 => due.len() - 1 + dropped,
            Missed::CatchUp if dropped > 0 => dropped,
            _ => 0,
        };
        if missed > 0 {
            let first = if dropped > 0 {
                cfg.schedule.next_after(*baseline)?
            } else {
                due[0]
            };
            let last = match cfg.missed {
                Missed::Skip => due[due.len() - 2],
                Missed::CatchUp => cfg
                    .schedule
                    .latest_at_or_before(due[0] - chrono::Duration::seconds(1))
                    .unwrap_or(first),
            };
            self.record_skipped(cfg, first, last, missed).await?;
            obs.missed_skipped(first, last, missed);
            summary.skipped += missed;
            *baseline = last;
            if cfg.missed == Missed::Skip {
                due = vec![due[due.len() - 1]];
            }
        }
        for tick in due {
            if *stop.borrow() {
                summary.stopped = true;
                break;
            }
            let report = self.run_tick(cfg, tick, obs).await?;
            summary.ticks += 1;
            if report.status == TickStatus::Failed {
                summary.failed += 1;
            }
            *baseline = tick;
        }
        Ok(())
    }

    async fn record_skipped(
        &self,
        cfg: &SchedulerConfig,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        count: usize,
    ) -> Result<()> {
        let s = &cfg.schedule;
        let message = format!(
            "{count} missed tick(s) skipped, {} to {} (missed ticks: {})",
            s.show(first),
            s.show(last),
            match cfg.missed {
                Missed::Skip => "skip",
                Missed::CatchUp => "catch up, but only the latest 100000",
            }
        );
        let run_id = tick_run_id(&cfg.name, s.run_date(last));
        let mut attempt = self
            .log()
            .start(TICK_EXPERIMENT, &run_id, TICK_STEP, None)
            .await?;
        attempt.status = StepStatus::Succeeded;
        attempt.ended_at = Some(Utc::now());
        attempt.duration_ms = Some(0);
        attempt.message = Some(message.clone());
        self.log().finish(&attempt).await?;
        self.db()
            .put_tick(&TickRecord {
                schedule: cfg.name.clone(),
                tick: last,
                status: TickStatus::Skipped,
                message: Some(message),
                recorded_at: Utc::now(),
            })
            .await?;
        Ok(())
    }
}
