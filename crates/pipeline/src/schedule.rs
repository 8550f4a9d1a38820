//! The built-in scheduler — `abforge schedule`: runs the pipeline at every tick of a cron
//! expression, one run at a time, with no set-up beyond the pipeline's own backends.
//!
//! **Ticks.** A [`Schedule`] is a cron expression (parsed by [`croner`]: five fields,
//! `minute hour day-of-month month day-of-week`, or six with seconds first; names such as
//! `MON` and `JAN`, ranges, steps, lists, `L`, `#`, `W` and the `@weekly` nicknames) read in
//! a time [`Zone`] — UTC, a fixed offset such as `+02:00`, or an IANA zone such as
//! `Europe/Paris` (daylight saving included). At each tick every blueprint runs on the
//! tick's date in that zone (a tick at 2026-11-23 09:00 is run date 2026-11-23):
//! [`Pipeline::run`], unless that run already succeeded with the same parameters (then it
//! is skipped, as in a backfill). Several ticks on one date are one run.
//!
//! **One run at a time.** A tick runs under the lock [`LOCK`] of the relational store,
//! taken with a lease ([`SchedulerConfig::lease`], renewed in the background every third of
//! it while the tick runs, released after). Two schedulers on the same database never run at
//! once: the second waits until the lock is free (or its holder died and its lease ran
//! out), then reads the last tick recorded again and finds the tick handled — so a tick runs
//! once however many schedulers there are, and a run is never run twice at the same time.
//! A scheduler that loses its lease while a tick runs (it could not renew it in time, and
//! another took the lock) cancels the tick's run in flight. Each run also holds its own
//! lease ([`crate::lease`]), as every writer of a run does.
//!
//! **Missed ticks.** Each tick handled is recorded in the relational store
//! ([`abforge_store::locks::TickRecord`], under the schedule's
//! [`name`](SchedulerConfig::name)). A scheduler that starts again finds the ticks due
//! since the last one recorded: [`Missed::CatchUp`] runs each of them in order,
//! [`Missed::Skip`] (the default) records them as skipped and runs only the latest — the
//! "no catch-up storm" of Airflow's `catchup=False`. A schedule that never ran starts with
//! the next tick (with [`SchedulerConfig::once`], with the latest tick at or before now).
//!
//! **The run log.** Every tick is an item of the run log: run id `schedule:<name>:<yyyymmdd>`
//! (the run date), experiment `schedule`, step [`TICK_STEP`], succeeded when every run of
//! the tick succeeded (or had before), failed otherwise, with the runs and their outcomes in
//! its message; skipped ticks are one item saying which were skipped. `abforge runs list`
//! shows them beside the runs, `abforge runs show schedule:default:20261123` one day's.
//!
//! **Stopping.** The loop stops when the `stop` channel says so (the CLI: SIGTERM or
//! SIGINT), between ticks — the run in flight finishes first — and at once while it waits
//! for the next tick or for the lock.

use crate::Pipeline;
use crate::backfill::{DateOutcome, DateReport};
use crate::error::{Error, Result};
use crate::plan::RunPlan;
use abforge_store::locks::{Lease, TickRecord, TickStatus};
use abforge_store::runlog::{StepAttempt, StepStatus};
use abforge_synth::Blueprint;
use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The default cron expression: Mondays at 09:00.
pub const DEFAULT_CRON: &str = "0 9 * * MON";
/// The lock a scheduler holds while it runs a tick.
pub const LOCK: &str = "abforge-scheduler";
/// The run log's step name of a tick.
pub const TICK_STEP: &str = "schedule-tick";
/// The run log's experiment id of ticks.
pub const TICK_EXPERIMENT: &str = "schedule";
/// The default schedule name.
pub const DEFAULT_NAME: &str = "default";
/// At most this many due ticks are looked at in one go (a minutely schedule down for ten
/// weeks); older ones are dropped as skipped.
pub const MAX_DUE: usize = 100_000;
/// The longest sleep between looks at the clock while waiting for a tick.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// A time zone of a schedule: UTC, a fixed offset from it, or a named zone of the IANA
/// database (`Europe/Paris`, with its daylight-saving rules, by [`chrono_tz`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// A fixed offset from UTC (UTC itself is offset 0).
    Fixed(FixedOffset),
    /// A zone of the IANA time zone database.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone::Fixed(Utc.fix())
    }

    /// The offset from UTC at the instant `t`.
    pub fn offset_at(self, t: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Fixed(o) => o,
            Zone::Named(tz) => t.with_timezone(&tz).offset().fix(),
        }
    }

    /// `t` as a local time in the zone, at its offset then.
    pub fn local(self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.offset_at(t))
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::utc()
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Fixed(o) if o.local_minus_utc() == 0 => f.write_str("UTC"),
            Zone::Fixed(o) => write!(f, "{o}"),
            Zone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

impl FromStr for Zone {
    type Err = Error;

    /// `UTC` (or `Z`), a fixed offset (`+02:00`, `-0530`, `+2`, `UTC+02:00`), or an IANA
    /// zone name (`Europe/Paris`, `America/New_York`; exact spelling).
    fn from_str(s: &str) -> Result<Zone> {
        let t = s.trim();
        let bad = || {
            Error::Usage(format!(
                "--tz: {s:?} is not a time zone abforge knows; expected UTC, a fixed offset \
                 from it such as +02:00, -05:30 or UTC+1, or a zone of the IANA database \
                 such as Europe/Paris or America/New_York"
            ))
        };
        let rest = match t.to_ascii_uppercase().as_str() {
            "UTC" | "Z" | "GMT" | "ETC/UTC" => return Ok(Zone::utc()),
            u if u.starts_with("UTC") || u.starts_with("GMT") => t[3..].to_string(),
            _ => t.to_string(),
        };
        let (sign, digits) = match rest.as_bytes().first() {
            Some(b'+') => (1, &rest[1..]),
            Some(b'-') => (-1, &rest[1..]),
            _ => {
                return t
                    .parse::<chrono_tz::Tz>()
                    .map(Zone::Named)
                    .map_err(|_| bad());
            }
        };
        let (h, m) = match digits.split_once(':') {
            Some((h, m)) => (h, m),
            None if digits.len() == 4 => digits.split_at(2),
            None => (digits, "0"),
        };
        let num = |v: &str| {
            (!v.is_empty() && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<i32>().ok())
                .flatten()
        };
        let (Some(h), Some(m)) = (num(h), num(m)) else {
            return Err(bad());
        };
        if h > 14 || m > 59 || (h == 14 && m > 0) {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(Zone::Fixed)
            .ok_or_else(bad)
    }
}

/// The next (or previous) tick of `cron` from `t`, read in `tz`.
fn occurrence<Tz: chrono::TimeZone>(
    cron: &croner::Cron,
    t: DateTime<Utc>,
    tz: &Tz,
    next: bool,
    inclusive: bool,
) -> std::result::Result<DateTime<Utc>, croner::errors::CronError> {
    let local = t.with_timezone(tz);
    if next {
        cron.find_next_occurrence(&local, inclusive)
    } else {
        cron.find_previous_occurrence(&local, inclusive)
    }
    .map(|d| d.with_timezone(&Utc))
}

/// A cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    expression: String,
    zone: Zone,
}

impl Schedule {
    /// Parses `expression` (see the [module docs](self)); it must fire at least once in the
    /// next 5000 years.
    ///
    /// # Errors
    /// [`Error::Usage`] naming `--cron`, the expression and what is wrong with it.
    pub fn new(expression: &str, zone: Zone) -> Result<Schedule> {
        let bad = |why: String| {
            Error::Usage(format!(
                "--cron {expression:?}: {why}; expected 5 fields (minute hour day-of-month \
                 month day-of-week), or 6 with seconds first, e.g. \"0 9 * * MON\" (Mondays at \
                 09:00)"
            ))
        };
        let cron = croner::Cron::from_str(expression).map_err(|e| bad(e.to_string()))?;
        let s = Schedule {
            cron,
            expression: expression.trim().to_string(),
            zone,
        };
        s.next_after(Utc::now())
            .map_err(|_| bad("it never fires (no matching date)".into()))?;
        Ok(s)
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone it is read in.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    fn find(
        &self,
        t: DateTime<Utc>,
        next: bool,
        inclusive: bool,
    ) -> std::result::Result<DateTime<Utc>, croner::errors::CronError> {
        match &self.zone {
            Zone::Fixed(o) => occurrence(&self.cron, t, o, next, inclusive),
            Zone::Named(tz) => occurrence(&self.cron, t, tz, next, inclusive),
        }
    }

    /// The first tick strictly after `t`.
    ///
    /// # Errors
    /// [`Error::Usage`] when there is none (before the year 5000).
    pub fn next_after(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
        self.find(whole_seconds(t), true, false)
            .map_err(|e| Error::Usage(format!("--cron {:?}: {e}", self.expression)))
    }

    /// The latest tick at or before `t`, if any.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.find(whole_seconds(t), false, true).ok()
    }

    /// The ticks in `(after, until]`, in order: at most the last `limit` of them, and how
    /// many earlier ones were left out.
    ///
    /// # Errors
    /// As [`next_after`](Self::next_after).
    pub fn ticks(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<(Vec<DateTime<Utc>>, usize)> {
        let mut ticks = std::collections::VecDeque::new();
        let mut dropped = 0;
        let mut t = after;
        while t < until {
            let Ok(next) = self.next_after(t) else { break };
            if next > until {
                break;
            }
            if ticks.len() == limit.max(1) {
                ticks.pop_front();
                dropped += 1;
            }
            ticks.push_back(next);
            t = next;
        }
        Ok((ticks.into(), dropped))
    }

    /// The run date of a tick: its date in the schedule's zone.
    pub fn run_date(&self, tick: DateTime<Utc>) -> NaiveDate {
        self.zone.local(tick).date_naive()
    }

    /// A tick as people read it, in the schedule's zone: `2026-11-23 09:00:00 UTC`.
    pub fn show(&self, t: DateTime<Utc>) -> String {
        format!(
            "{} {}",
            self.zone.local(t).format("%Y-%m-%d %H:%M:%S"),
            self.zone
        )
    }
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// What to do with the ticks that passed while no scheduler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missed {
    /// Run every missed tick, oldest first.
    CatchUp,
    /// Record them as skipped and run only the latest.
    #[default]
    Skip,
}

/// The clock a scheduler reads.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that read `start` when it was made and runs at the real pace from there: to try
/// a schedule out (`abforge schedule --now …`) and to test it without waiting for Monday.
#[derive(Debug, Clone, Copy)]
pub struct ShiftedClock {
    start: DateTime<Utc>,
    made: Instant,
}

impl ShiftedClock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> ShiftedClock {
        ShiftedClock {
            start,
            made: Instant::now(),
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.made.elapsed()).unwrap_or_default()
    }
}

/// What a scheduler runs and how.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The schedule's name: its ticks are recorded under it ([`DEFAULT_NAME`]).
    pub name: String,
    /// When.
    pub schedule: Schedule,
    /// The blueprints run at each tick, in order; each file is read again at every tick.
    pub blueprints: Vec<PathBuf>,
    /// Missed ticks: caught up or skipped.
    pub missed: Missed,
    /// Handle the ticks due now (the latest at or before now, on a first start) and return,
    /// rather than wait for the next.
    pub once: bool,
    /// Who holds the lock: unique per scheduler process ([`default_owner`]).
    pub owner: String,
    /// The lock's lease (renewed every third of it while a tick runs).
    pub lease: Duration,
    /// How often to try the lock again while another scheduler holds it.
    pub poll: Duration,
}

impl SchedulerConfig {
    /// A configuration with the defaults: name [`DEFAULT_NAME`], missed ticks skipped, a
    /// lease of 60 s, the lock tried every second, [`default_owner`].
    pub fn new(schedule: Schedule, blueprints: Vec<PathBuf>) -> SchedulerConfig {
        SchedulerConfig {
            name: DEFAULT_NAME.into(),
            schedule,
            blueprints,
            missed: Missed::Skip,
            once: false,
            owner: default_owner(),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
        }
    }
}

/// Checks a schedule name: 1 to 64 of `[A-Za-z0-9_.-]`.
///
/// # Errors
/// [`Error::Usage`] naming `--name`.
pub fn check_name(name: &str) -> Result<()> {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--name: {name:?} is not allowed; expected 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.'"
    )))
}

/// A lock owner unique to this process: `host:pid:nonce`.
pub fn default_owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{host}:{}:{nonce:08x}", std::process::id())
}

/// The run log's run id of a tick on `run_date`.
pub fn tick_run_id(name: &str, run_date: NaiveDate) -> String {
    format!("schedule:{name}:{}", run_date.format("%Y%m%d"))
}

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
    fn failed(&self) -> bool {
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

/// What [`Pipeline::schedule`] did before it returned.
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
    /// Runs the scheduler (see the [module docs](self)) until `stop` says true — or, with
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

    /// Runs every blueprint on the tick's date and records the tick.
    async fn run_tick(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn zones_are_utc_or_fixed_offsets() {
        for (s, secs) in [
            ("UTC", 0),
            ("z", 0),
            ("+02:00", 7200),
            ("-05:30", -19_800),
            ("+0530", 19_800),
            ("+2", 7200),
            ("UTC+1", 3600),
            ("utc-03:00", -10_800),
            ("+14:00", 50_400),
        ] {
            assert_eq!(
                s.parse::<Zone>()
                    .unwrap()
                    .offset_at(Utc::now())
                    .local_minus_utc(),
                secs,
                "{s}"
            );
        }
        for bad in [
            "",
            "Europe/Pariss",
            "Mars/Olympus",
            "+25:00",
            "+02:60",
            "2",
            "+",
            "+1:2:3",
            "+14:30",
        ] {
            let e = bad.parse::<Zone>().unwrap_err();
            assert!(e.is_usage() && e.to_string().contains("--tz"), "{bad}: {e}");
        }
        assert_eq!(Zone::utc().to_string(), "UTC");
        assert_eq!("+02:00".parse::<Zone>().unwrap().to_string(), "+02:00");
        assert_eq!(
            "Europe/Paris".parse::<Zone>().unwrap().to_string(),
            "Europe/Paris"
        );
    }

    #[test]
    fn named_zones_follow_daylight_saving_time() {
        let paris: Zone = "Europe/Paris".parse().unwrap();
        let s = Schedule::new("0 9 * * MON", paris).unwrap();
        let utc = |x: &str| DateTime::parse_from_rfc3339(x).unwrap().with_timezone(&Utc);
        // 09:00 in Paris is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
        assert_eq!(
            s.next_after(utc("2026-11-20T00:00:00Z")).unwrap(),
            utc("2026-11-23T08:00:00Z")
        );
        assert_eq!(
            s.next_after(utc("2026-06-30T00:00:00Z")).unwrap(),
            utc("2026-07-06T07:00:00Z")
        );
        // The run date is the local date: 00:30 in Paris on a Tuesday is Monday in UTC.
        let late = Schedule::new("30 0 * * TUE", paris).unwrap();
        let tick = late.next_after(utc("2026-11-20T00:00:00Z")).unwrap();
        assert_eq!(tick, utc("2026-11-23T23:30:00Z"));
        assert_eq!(late.run_date(tick).to_string(), "2026-11-24");
        assert_eq!(late.show(tick), "2026-11-24 00:30:00 Europe/Paris");
    }

    #[test]
    fn bad_cron_expressions_are_usage_errors_naming_the_flag() {
        for bad in [
            "",
            "0 9 * *",
            "0 25 * * MON",
            "0 9 * * FUNDAY",
            "x",
            "0 0 30 2 *",
        ] {
            let e = Schedule::new(bad, Zone::utc()).unwrap_err();
            assert!(e.is_usage(), "{bad}: {e}");
            let text = e.to_string();
            assert!(
                text.contains("--cron") && text.contains("0 9 * * MON"),
                "{text}"
            );
        }
    }

    #[test]
    fn ticks_follow_the_expression_in_its_zone() {
        let s = Schedule::new(DEFAULT_CRON, Zone::utc()).unwrap();
        // 2026-11-23 is a Monday.
        let mon = utc("2026-11-23T09:00:00Z");
        assert_eq!(s.next_after(utc("2026-11-23T08:59:59.5Z")).unwrap(), mon);
        assert_eq!(
            s.next_after(mon).unwrap(),
            utc("2026-11-30T09:00:00Z"),
            "strictly after"
        );
        assert_eq!(s.latest_at_or_before(mon), Some(mon), "inclusive");
        assert_eq!(
            s.latest_at_or_before(utc("2026-11-29T00:00:00Z")),
            Some(mon)
        );
        let (ticks, dropped) = s
            .ticks(
                utc("2026-11-01T00:00:00Z"),
                utc("2026-11-30T09:00:00Z"),
                100,
            )
            .unwrap();
        assert_eq!(dropped, 0);
        assert_eq!(
            ticks,
            [
                "2026-11-02T09:00:00Z",
                "2026-11-09T09:00:00Z",
                "2026-11-16T09:00:00Z",
                "2026-11-23T09:00:00Z",
                "2026-11-30T09:00:00Z"
            ]
            .map(utc)
        );
        let (last, dropped) = s
            .ticks(utc("2026-11-01T00:00:00Z"), utc("2026-11-30T09:00:00Z"), 2)
            .unwrap();
        assert_eq!((last.len(), dropped), (2, 3));
        assert_eq!(last[1], utc("2026-11-30T09:00:00Z"));
        assert!(s.ticks(mon, mon, 10).unwrap().0.is_empty());

        // Mondays 09:00 at +10:00 is Sunday 23:00 UTC; its run date is the Monday.
        let east = Schedule::new(DEFAULT_CRON, "+10:00".parse().unwrap()).unwrap();
        let t = east.next_after(utc("2026-11-22T00:00:00Z")).unwrap();
        assert_eq!(t, utc("2026-11-22T23:00:00Z"));
        assert_eq!(east.run_date(t), "2026-11-23".parse::<NaiveDate>().unwrap());
        assert_eq!(east.show(t), "2026-11-23 09:00:00 +10:00");
        assert_eq!(s.show(mon), "2026-11-23 09:00:00 UTC");

        // Seconds first, six fields.
        let every = Schedule::new("*/10 * * * * *", Zone::utc()).unwrap();
        assert_eq!(
            every.next_after(utc("2026-11-23T09:00:01Z")).unwrap(),
            utc("2026-11-23T09:00:10Z")
        );
    }

    #[test]
    fn names_and_tick_ids() {
        check_name("default").unwrap();
        check_name("weekly.eu-1").unwrap();
        for bad in ["", "a b", "a:b", &"x".repeat(65)] {
            let e = check_name(bad).unwrap_err();
            assert!(e.to_string().contains("--name"), "{e}");
        }
        assert_eq!(
            tick_run_id("default", "2026-11-23".parse().unwrap()),
            "schedule:default:20261123"
        );
        let owner = default_owner();
        assert_eq!(owner.split(':').count(), 3, "{owner}");
        assert_ne!(owner, "");
    }

    #[test]
    fn a_shifted_clock_starts_where_it_is_told() {
        let c = ShiftedClock::starting_at(utc("2026-11-23T08:59:59Z"));
        let now = c.now();
        assert!(now >= utc("2026-11-23T08:59:59Z"));
        assert!(now < utc("2026-11-23T09:59:59Z"));
    }
}
