//! The built-in scheduler — `abforge schedule`: runs the pipeline at every tick of a cron
//! expression, one run at a time, with no set-up beyond the pipeline's own backends.
//!
//! **Ticks.** A [`Schedule`] is a cron expression (parsed by [`croner`]: five fields,
//! `minute hour day-of-month month day-of-week`, or six with seconds first; names such as
//! `MON` and `JAN`, ranges, steps, lists, `L`, `#`, `W` and the `@weekly` nicknames) read in
//! a time [`Zone`] — UTC, a fixed offset such as `+02:00`, or an IANA zone such as
//! `Europe/Paris` (daylight saving included). At each tick every blueprint runs on the
//! tick's date in that zone (a tick at 2026-11-23 09:00 is run date 2026-11-23):
//! [`Pipeline::run`](crate::Pipeline::run), unless that run already succeeded with the same parameters (then it
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

mod clock;
mod cron;
mod report;
mod scheduler;
mod tick;

pub use clock::{Clock, ShiftedClock, SystemClock};
pub use cron::{Schedule, Zone};
pub use report::{ScheduleObserver, ScheduleSummary, TickReport, TickRun};

use crate::error::Result;
use chrono::NaiveDate;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

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
/// [`Error::Invalid`] naming `name`.
pub fn check_name(name: &str) -> Result<()> {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Ok(());
    }
    Err(abforge_env::Invalid::new(
        "name",
        format!("{name:?} is not allowed; expected 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.'"),
    )
    .into())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tick_ids() {
        check_name("default").unwrap();
        check_name("weekly.eu-1").unwrap();
        for bad in ["", "a b", "a:b", &"x".repeat(65)] {
            let e = check_name(bad).unwrap_err();
            assert!(e.invalid().is_some_and(|i| i.field == "name"), "{e}");
        }
        assert_eq!(
            tick_run_id("default", "2026-11-23".parse().unwrap()),
            "schedule:default:20261123"
        );
        let owner = default_owner();
        assert_eq!(owner.split(':').count(), 3, "{owner}");
        assert_ne!(owner, "");
    }
}
