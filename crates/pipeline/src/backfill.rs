//! Backfill: the runs of every date of a range, in order — `abforge pipeline backfill`.
//!
//! The run dates are `from`, `from + every`, `from + 2·every`, … up to `to` inclusive
//! ([`run_dates`]). Each is [`Pipeline::run`] of the blueprint on that date, so a backfill is
//! as idempotent as a run: a date whose run already **succeeded with the same parameters**
//! (its `runs` row is `succeeded` and has the same blueprint hash) is skipped without
//! touching anything, a date whose run failed or was interrupted resumes from the step that
//! had not succeeded, and any other date runs from the start. A backfill killed at any
//! point therefore finishes where it stopped when run again, and a finished one run again
//! does nothing.
//!
//! A date that fails does not stop the backfill: the next dates run, and the report lists
//! the failed ones (the CLI then exits with 1); running the same backfill again resumes
//! them. [`BackfillOptions::fail_fast`] stops at the first failure instead.

use crate::error::{Error, Result};
use crate::plan::RunPlan;
use crate::{Pipeline, Quiet, Step, StepState};
use abforge_env::Invalid;
use abforge_store::relational::{RunRecord, RunStatus};
use abforge_synth::Blueprint;
use chrono::NaiveDate;
use serde::Serialize;
use std::str::FromStr;
use std::time::Instant;

/// The largest step between run dates: 100 years.
pub const MAX_EVERY_DAYS: u32 = 36_600;

/// The step between the run dates of a backfill: `Nd` (days) or `Nw` (weeks), N ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Every {
    days: u32,
}

impl Every {
    /// Every `days` days (1 to [`MAX_EVERY_DAYS`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] outside that range.
    pub fn days(days: u32) -> Result<Every> {
        if (1..=MAX_EVERY_DAYS).contains(&days) {
            Ok(Every { days })
        } else {
            Err(Invalid::new(
                "every",
                format!("{days} days is not allowed; expected 1 to {MAX_EVERY_DAYS} days"),
            )
            .into())
        }
    }

    /// The step in days.
    pub fn in_days(self) -> u32 {
        self.days
    }
}

impl Default for Every {
    /// Weekly: 7 days.
    fn default() -> Self {
        Every { days: 7 }
    }
}

impl std::fmt::Display for Every {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.days.is_multiple_of(7) {
            write!(f, "{}w", self.days / 7)
        } else {
            write!(f, "{}d", self.days)
        }
    }
}

impl From<Every> for String {
    fn from(e: Every) -> String {
        e.to_string()
    }
}

impl FromStr for Every {
    type Err = Error;

    /// `7d`, `1w`, `14d`, `2w` (a bare number is days).
    fn from_str(s: &str) -> Result<Every> {
        let t = s.trim().to_ascii_lowercase();
        let (digits, per) = match t.strip_suffix('w') {
            Some(n) => (n, 7u64),
            None => (t.strip_suffix('d').unwrap_or(&t), 1u64),
        };
        let bad = || {
            Error::from(Invalid::new(
                "every",
                format!(
                    "{s:?} is not allowed; expected a number of days or weeks, e.g. 7d, 1d, 2w \
                     (1 to {MAX_EVERY_DAYS} days)"
                ),
            ))
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let days = n
            .checked_mul(per)
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| (1..=MAX_EVERY_DAYS).contains(d))
            .ok_or_else(bad)?;
        Ok(Every { days })
    }
}

/// The run dates from `from` to `to` inclusive, `every` apart, in order.
///
/// # Errors
/// [`Error::Invalid`] naming `from` when it is after `to`.
pub fn run_dates(from: NaiveDate, to: NaiveDate, every: Every) -> Result<Vec<NaiveDate>> {
    if from > to {
        return Err(Invalid::new(
            "from",
            format!("comes after the last date, {to}: the range is empty"),
        )
        .value(from)
        .into());
    }
    let mut dates = Vec::new();
    let mut d = from;
    while d <= to {
        dates.push(d);
        match d.checked_add_days(chrono::Days::new(u64::from(every.days))) {
            Some(next) => d = next,
            None => break,
        }
    }
    Ok(dates)
}

/// How a date of a backfill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOutcome {
    /// Its run ran (or resumed) and succeeded.
    Succeeded,
    /// Its run had already succeeded with the same parameters: nothing was done.
    Skipped,
    /// Its run failed (it resumes from the failed step when run again).
    Failed,
}

/// What happened to one run date.
#[derive(Debug, Clone, Serialize)]
pub struct DateReport {
    /// The run date.
    pub run_date: NaiveDate,
    /// The run id.
    pub run_id: String,
    /// How it ended.
    pub outcome: DateOutcome,
    /// Customers landed (known when the run succeeded now or before).
    pub rows: Option<u64>,
    /// The step it resumed from, when an earlier attempt had got that far.
    pub resumed_from: Option<Step>,
    /// The step that failed.
    pub failed_step: Option<Step>,
    /// The failure.
    pub error: Option<String>,
    /// Time taken, in milliseconds.
    pub duration_ms: u64,
}

/// What [`Pipeline::backfill`] did.
#[derive(Debug, Clone, Serialize)]
pub struct BackfillReport {
    /// The experiment id.
    pub experiment_id: String,
    /// Every date, in order (those not reached after a failure with
    /// [`BackfillOptions::fail_fast`] are absent).
    pub dates: Vec<DateReport>,
    /// Dates whose run succeeded now.
    pub succeeded: usize,
    /// Dates skipped because their run had succeeded before.
    pub skipped: usize,
    /// Dates whose run failed.
    pub failed: usize,
    /// Dates not reached (after a failure, with `fail_fast`).
    pub not_reached: usize,
    /// Time taken, in milliseconds.
    pub duration_ms: u64,
}

/// Options of [`Pipeline::backfill`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BackfillOptions {
    /// Stop at the first date that fails (default: go on with the next dates).
    pub fail_fast: bool,
}

/// Receives a backfill's progress, one date at a time.
pub trait BackfillObserver: Send + Sync {
    /// Date `index` (from 0) of `total` begins.
    fn date_started(&self, _run_date: NaiveDate, _index: usize, _total: usize) {}
    /// A date ended.
    fn date_finished(&self, _report: &DateReport) {}
}

impl BackfillObserver for Quiet {}

impl Pipeline {
    /// The run of `plan` when it already succeeded with the same parameters (its `runs` row
    /// is `succeeded` with the same blueprint hash): running it again would only replace its
    /// data with the same data.
    ///
    /// # Errors
    /// The relational store's errors.
    pub async fn succeeded_before(&self, plan: &RunPlan) -> Result<Option<RunRecord>> {
        Ok(self.db().run(&plan.run_id).await?.filter(|r| {
            r.status == RunStatus::Succeeded && r.blueprint_hash == plan.blueprint_hash
        }))
    }

    /// Runs `blueprint` on every date of `dates`, in order (see the [module docs](self)).
    ///
    /// # Errors
    /// [`Error::Blueprint`] when the blueprint cannot be resolved for a date (nothing of
    /// that date runs); errors of the run log or the relational store themselves. A run
    /// that fails is reported in the [`DateReport`], not as an `Err`.
    pub async fn backfill(
        &self,
        blueprint: &Blueprint,
        dates: &[NaiveDate],
        options: BackfillOptions,
        obs: &dyn BackfillObserver,
    ) -> Result<BackfillReport> {
        let t0 = Instant::now();
        let plans = dates
            .iter()
            .map(|d| RunPlan::new(blueprint, *d))
            .collect::<Result<Vec<_>>>()?;
        let mut report = BackfillReport {
            experiment_id: blueprint.id.clone(),
            dates: Vec::with_capacity(dates.len()),
            succeeded: 0,
            skipped: 0,
            failed: 0,
            not_reached: 0,
            duration_ms: 0,
        };
        for (i, plan) in plans.iter().enumerate() {
            obs.date_started(plan.run_date, i, plans.len());
            let r = self.run_date(plan).await?;
            match r.outcome {
                DateOutcome::Succeeded => report.succeeded += 1,
                DateOutcome::Skipped => report.skipped += 1,
                DateOutcome::Failed => report.failed += 1,
            }
            obs.date_finished(&r);
            let failed = r.outcome == DateOutcome::Failed;
            report.dates.push(r);
            if failed && options.fail_fast {
                report.not_reached = plans.len() - i - 1;
                break;
            }
        }
        report.duration_ms = t0.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// One date of a backfill (or of a schedule tick): skipped when it had succeeded before,
    /// else run (resuming a failed run).
    pub(crate) async fn run_date(&self, plan: &RunPlan) -> Result<DateReport> {
        let t0 = Instant::now();
        if let Some(done) = self.succeeded_before(plan).await? {
            return Ok(DateReport {
                run_date: plan.run_date,
                run_id: plan.run_id.clone(),
                outcome: DateOutcome::Skipped,
                rows: done.rows,
                resumed_from: None,
                failed_step: None,
                error: None,
                duration_ms: t0.elapsed().as_millis() as u64,
            });
        }
        let run = self.run(plan, &Quiet).await?;
        let failed = run.steps.iter().find(|s| s.state == StepState::Failed);
        Ok(DateReport {
            run_date: plan.run_date,
            run_id: run.run_id.clone(),
            outcome: if run.status == RunStatus::Succeeded {
                DateOutcome::Succeeded
            } else {
                DateOutcome::Failed
            },
            rows: run.rows,
            resumed_from: run.resumed_from,
            failed_step: failed.map(|s| s.step),
            error: failed.and_then(|s| s.error.clone()),
            duration_ms: t0.elapsed().as_millis() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn every_reads_days_and_weeks() {
        for (s, days) in [
            ("7d", 7),
            ("1d", 1),
            ("2w", 14),
            ("1W", 7),
            ("10", 10),
            (" 3d ", 3),
        ] {
            assert_eq!(s.parse::<Every>().unwrap().in_days(), days, "{s}");
        }
        for bad in [
            "",
            "0d",
            "0w",
            "d",
            "w",
            "-1d",
            "1.5d",
            "7h",
            "1m",
            "99999999999w",
            "36601d",
        ] {
            let e = bad.parse::<Every>().unwrap_err();
            assert!(
                e.is_usage() && e.invalid().is_some_and(|i| i.field == "every"),
                "{bad}: {e}"
            );
        }
        assert_eq!(Every::default().to_string(), "1w");
        assert_eq!(Every::days(10).unwrap().to_string(), "10d");
        assert!(Every::days(0).is_err());
    }

    #[test]
    fn dates_are_inclusive_and_in_order() {
        let every = Every::default();
        assert_eq!(
            run_dates(date("2026-11-02"), date("2026-11-23"), every).unwrap(),
            ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"].map(date)
        );
        assert_eq!(
            run_dates(date("2026-11-02"), date("2026-11-22"), every).unwrap(),
            ["2026-11-02", "2026-11-09", "2026-11-16"].map(date)
        );
        assert_eq!(
            run_dates(date("2026-11-23"), date("2026-11-23"), every).unwrap(),
            [date("2026-11-23")]
        );
        assert_eq!(
            run_dates(
                date("2026-02-27"),
                date("2026-03-02"),
                "1d".parse().unwrap()
            )
            .unwrap()
            .len(),
            4
        );
        let e = run_dates(date("2026-11-24"), date("2026-11-23"), every).unwrap_err();
        assert!(e.is_usage(), "{e}");
        let text = e.to_string();
        assert!(
            text.starts_with("from 2026-11-24: comes after the last date, 2026-11-23"),
            "{text}"
        );
        // The calendar's end stops the range rather than wrapping.
        let last = NaiveDate::MAX;
        assert_eq!(run_dates(last, last, every).unwrap(), [last]);
    }
}
