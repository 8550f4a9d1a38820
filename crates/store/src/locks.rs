//! Named locks with leases, and the record of a scheduler's ticks: two traits of their own,
//! [`Locks`] and [`Ticks`], that every relational store implements (tables `locks` and
//! `schedule_ticks` of its database), so that processes sharing a database coordinate through
//! it with no other service.
//!
//! [`Locks::try_lock`] takes a named lock for an owner with a lease: the lock is the
//! owner's until the lease expires, and the owner renews it by taking it again before then
//! (the same call; [`Lease::acquired_at`] is kept). Another owner gets it only once the lease
//! has expired (an owner that died loses its lock after one lease) or after
//! [`Locks::unlock`]. Taking a lock is one atomic statement (an upsert that updates
//! only a row the caller owns or whose lease has expired), so two owners never hold a lock at
//! once, whichever process or host they run in. Times come from the database's clock in
//! PostgreSQL (hosts' clocks may differ) and from the process's in SQLite (one machine). The
//! scheduler (`abforge schedule`) takes one to run one pipeline run at a time, and records
//! each tick it handled with [`Ticks::put_tick`] so that a restarted scheduler knows
//! which ticks it missed ([`Ticks::last_tick`]).

use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A lock held by an owner until its lease expires: a row of the `locks` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The lock's name.
    pub name: String,
    /// Who holds it (any text naming the holder, e.g. `host:pid:random`).
    pub owner: String,
    /// When this owner took it (kept when it renews the lease).
    pub acquired_at: DateTime<Utc>,
    /// When the lease ends, unless renewed: after this anyone may take the lock.
    pub expires_at: DateTime<Utc>,
}

/// How a schedule tick ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TickStatus {
    /// Every run of the tick succeeded (or had succeeded before).
    Succeeded,
    /// A run of the tick failed.
    Failed,
    /// The tick was missed (the scheduler was not running) and skipped, as configured.
    Skipped,
}

impl TickStatus {
    /// The name stored in the database: `succeeded`, `failed`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            TickStatus::Succeeded => "succeeded",
            TickStatus::Failed => "failed",
            TickStatus::Skipped => "skipped",
        }
    }

    /// Parses [`TickStatus::as_str`]'s names.
    pub fn parse(s: &str) -> Option<TickStatus> {
        match s {
            "succeeded" => Some(TickStatus::Succeeded),
            "failed" => Some(TickStatus::Failed),
            "skipped" => Some(TickStatus::Skipped),
            _ => None,
        }
    }
}

/// A tick a scheduler handled: a row of the `schedule_ticks` table, keyed by schedule and
/// tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickRecord {
    /// The schedule's name.
    pub schedule: String,
    /// The instant the tick was due.
    pub tick: DateTime<Utc>,
    /// How it ended.
    pub status: TickStatus,
    /// What it did, in a few words (the runs and their outcomes).
    pub message: Option<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The longest lease [`Locks::try_lock`] takes: 30 days.
pub const MAX_LEASE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Checks a lock's name and owner and the lease; returns the lease in milliseconds.
pub(crate) fn check_lock(name: &str, owner: &str, lease: std::time::Duration) -> Result<i64> {
    for (what, v) in [("lock name", name), ("lock owner", owner)] {
        if v.is_empty() || v.len() > 256 || v.chars().any(char::is_control) {
            return Err(Error::Data(format!(
                "{what} {v:?}: expected 1 to 256 characters, none a control character"
            )));
        }
    }
    if lease > MAX_LEASE {
        return Err(Error::Data(format!(
            "a lease of {lease:?} is longer than the longest allowed, 30 days"
        )));
    }
    Ok(lease.as_millis() as i64)
}

/// Named locks with leases (see the [module](self)).
#[async_trait]
pub trait Locks: Send + Sync {
    /// Takes lock `name` for `owner` until `lease` from now, or renews it when `owner`
    /// holds it already; `None` when another owner holds it and its lease has not expired.
    /// Atomic: of two owners calling at once, at most one gets the lock.
    ///
    /// # Errors
    /// [`Error::Data`] for an empty or over-long name or owner, or a lease over
    /// [`MAX_LEASE`]; backend errors.
    async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        lease: std::time::Duration,
    ) -> Result<Option<Lease>>;
    /// Releases lock `name` if `owner` holds it (its lease expired or not); returns whether
    /// it did. Releasing a lock held by another owner changes nothing.
    async fn unlock(&self, name: &str, owner: &str) -> Result<bool>;
    /// The lock's row, if any: its owner and lease (which may have expired).
    async fn lock_holder(&self, name: &str) -> Result<Option<Lease>>;
    /// The locks whose name starts with `prefix` and whose lease has not expired (by the
    /// clock [`try_lock`](Self::try_lock) uses), in name order.
    async fn live_locks(&self, prefix: &str) -> Result<Vec<Lease>>;
}

/// The ticks a scheduler handled (see the [module](self)).
#[async_trait]
pub trait Ticks: Send + Sync {
    /// Records a tick of a schedule (replacing the record of the same schedule and tick).
    async fn put_tick(&self, tick: &TickRecord) -> Result<()>;
    /// The latest tick recorded for a schedule.
    async fn last_tick(&self, schedule: &str) -> Result<Option<TickRecord>>;
}
