//! What a scheduler reports: each blueprint's run at a tick, each tick, the summary it
//! returns, and the observer that hears of its progress as it goes.

use crate::backfill::{DateOutcome, DateReport};
use crate::error::Error;
use crate::plan::RunPlan;
use abforge_store::locks::{Lease, TickStatus};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// One blueprint's run at a tick.
#[derive(Debug, Clone, Serialize)]
pub struct TickRun {
    /// The blueprint file.
    pub blueprint: PathBuf,
    /// What its run did (absent when the blueprint could not be read or resolved).
    pub report: Option<DateReport>,
    /// Why it did not run, or the backend error that stopped it.
    pub error: Option<String>,
}

impl TickRun {
    pub(super) fn failed(&self) -> bool {
        self.error.is_some()
            || self
                .report
                .as_ref()
                .is_some_and(|r| r.outcome == DateOutcome::Failed)
    }
}

/// What a tick did.
#[derive(Debug, Clone, Serialize)]
pub struct TickReport {
    /// The schedule's name.
    pub schedule: String,
    /// The tick.
    pub tick: DateTime<Utc>,
    /// Its run date.
    pub run_date: NaiveDate,
    /// Succeeded, or failed when a run failed.
    pub status: TickStatus,
    /// Each blueprint's run.
    pub runs: Vec<TickRun>,
    /// Time taken, in milliseconds.
    pub duration_ms: u64,
}

/// What [`Pipeline::schedule`](crate::Pipeline::schedule) did before it returned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScheduleSummary {
    /// Ticks run.
    pub ticks: usize,
    /// Of which failed.
    pub failed: usize,
    /// Missed ticks skipped.
    pub skipped: usize,
    /// Ticks found handled by another scheduler.
    pub handled_elsewhere: usize,
    /// Whether it stopped because it was asked to.
    pub stopped: bool,
}

/// Receives a scheduler's progress.
pub trait ScheduleObserver: Send + Sync {
    /// Nothing is due at `now` (the scheduler's clock): the next tick is `next`.
    fn waiting(&self, _next: DateTime<Utc>, _now: DateTime<Utc>) {}
    /// The lock is held by another scheduler (or a dead one, until its lease ends).
    fn lock_busy(&self, _holder: Option<&Lease>) {}
    /// The ticks from `first` to `last` (`count` of them) were missed and skipped.
    fn missed_skipped(&self, _first: DateTime<Utc>, _last: DateTime<Utc>, _count: usize) {}
    /// A tick was due but another scheduler had handled it meanwhile.
    fn handled_elsewhere(&self, _tick: DateTime<Utc>) {}
    /// A tick begins.
    fn tick_started(&self, _tick: DateTime<Utc>, _run_date: NaiveDate) {}
    /// A blueprint's run of the tick begins.
    fn run_started(&self, _plan: &RunPlan) {}
    /// A blueprint's run of the tick ended.
    fn run_finished(&self, _run: &TickRun) {}
    /// A tick ended.
    fn tick_finished(&self, _report: &TickReport) {}
    /// The lease ran out while a tick ran and another scheduler took the lock: the tick in
    /// flight was cancelled.
    fn lock_lost(&self) {}
    /// A round failed (a backend error); the scheduler tries again after `retry_in`.
    fn error(&self, _error: &Error, _retry_in: Duration) {}
}

impl ScheduleObserver for crate::Quiet {}
