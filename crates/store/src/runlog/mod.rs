//! The run log (the seed's DynamoDB table): one item per step attempt — in the SQLite file by
//! default ([`crate::sqlite`]), in DynamoDB by `ABFORGE_RUN_LOG_URL=dynamodb://table`
//! ([`crate::dynamodb`]), or in PostgreSQL by a `postgres://` URL ([`crate::postgres`]), each
//! backend built with the cargo feature of its name.
//!
//! Every backend implements [`RunLog`] and passes one conformance suite
//! (`crate::conformance::runlog`, feature `testing`); [`open`] picks one by its URL.
//!
//! What every backend shares:
//! - an item per attempt, keyed by (run id, step, shard, attempt); a missing shard is stored
//!   as the empty string in the SQL tables (so the unique key holds) and left out of the
//!   DynamoDB item;
//! - attempt numbers assigned by the store itself, atomically: a conditional insert of
//!   "highest + 1", retried with the next number when another writer took it;
//! - timestamps kept to the millisecond: [`RunLog::start`] returns its start already
//!   truncated ([`truncate_to_millis`]) and [`RunLog::finish`] truncates the end, so what is
//!   read back equals what was written;
//! - counts (`rows`, `bytes`, `duration_ms`) up to `i64::MAX` (a larger one is
//!   [`crate::Error::Data`]), steps and shards non-empty, without `#` or control characters;
//! - [`RunLog::finish`] writes the whole item, so it also records an attempt whose start was
//!   lost;
//! - errors as [`crate::Error::Service`], `transient` when retrying may help.

use crate::redact_url;
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The status of a step attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Begun, not ended (or the process died).
    Started,
    /// Ended well.
    Succeeded,
    /// Ended with an error.
    Failed,
}

impl StepStatus {
    /// `started`, `succeeded`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Started => "started",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
        }
    }

    /// Parses [`StepStatus::as_str`]'s names.
    pub fn parse(s: &str) -> Option<StepStatus> {
        match s {
            "started" => Some(StepStatus::Started),
            "succeeded" => Some(StepStatus::Succeeded),
            "failed" => Some(StepStatus::Failed),
            _ => None,
        }
    }
}

/// One attempt of one step of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepAttempt {
    /// The run id.
    pub run_id: String,
    /// The experiment id.
    pub experiment_id: String,
    /// The step: `generate`, `land`, `publish`, `analyze`, …
    pub step: String,
    /// The shard, `K/N`, for sharded steps.
    pub shard: Option<String>,
    /// 1 for the first attempt of (run, step, shard), then 2, 3, …
    pub attempt: u32,
    /// Where it stands.
    pub status: StepStatus,
    /// When it began.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Rows it produced or moved.
    pub rows: Option<u64>,
    /// Bytes it wrote.
    pub bytes: Option<u64>,
    /// What it did, in a few words (e.g. the object key written).
    pub message: Option<String>,
    /// The error, when it failed.
    pub error: Option<String>,
}

/// A run as the run log sees it: its attempts summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLogSummary {
    /// The run id.
    pub run_id: String,
    /// The experiment id.
    pub experiment_id: String,
    /// The first attempt's start.
    pub started_at: DateTime<Utc>,
    /// The latest end among its attempts.
    pub ended_at: Option<DateTime<Utc>>,
    /// Attempts recorded.
    pub attempts: u32,
    /// Attempts whose status is `failed`.
    pub failed: u32,
    /// The latest attempt's step and status.
    pub last_step: String,
    /// The latest attempt's status.
    pub last_status: StepStatus,
}

/// The run log.
#[async_trait]
pub trait RunLog: Send + Sync + std::fmt::Debug {
    /// `sqlite`, `dynamodb` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The URL it was opened from, without a password.
    fn url(&self) -> String;
    /// Readiness: the backend answers.
    async fn check(&self) -> Result<()>;

    /// Records the start of a new attempt of (run, step, shard): its number is one more than
    /// the highest recorded, assigned atomically (two concurrent starts get two numbers).
    async fn start(
        &self,
        experiment_id: &str,
        run_id: &str,
        step: &str,
        shard: Option<&str>,
    ) -> Result<StepAttempt>;
    /// Records the end of an attempt (its status, end, duration, rows, bytes, message,
    /// error), replacing the started item.
    async fn finish(&self, attempt: &StepAttempt) -> Result<()>;
    /// Every attempt of a run, in start order (then step, shard, attempt).
    async fn attempts(&self, run_id: &str) -> Result<Vec<StepAttempt>>;
    /// Every run in the log, newest start first, at most `limit`.
    async fn runs(&self, limit: usize) -> Result<Vec<RunLogSummary>>;
}

/// Opens the run log a URL names: `sqlite:///path/file.sqlite` (or `sqlite://relative/path`;
/// parent folders are created), `dynamodb://table` (region, credentials and endpoint from
/// the usual `AWS_*` variables, `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` for a local
/// server; the table is created if absent), or `postgres://…` (`postgresql://` too).
/// Applies the pending migrations (SQL backends).
///
/// # Errors
/// [`crate::Error::Config`] for an unknown scheme; backend errors when it cannot connect.
pub async fn open(url: &str) -> Result<Arc<dyn RunLog>> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("sqlite") => open_sqlite(url).await,
        Some("dynamodb") => open_dynamodb(url).await,
        Some("postgres" | "postgresql") => open_postgres(url).await,
        _ => Err(Error::Config(format!(
            "run log URL {:?}: expected sqlite:///path/file.sqlite, dynamodb://table or \
             postgres://user@host/db (postgresql:// too)",
            redact_url(url)
        ))),
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(url: &str) -> Result<Arc<dyn RunLog>> {
    Ok(Arc::new(crate::sqlite::SqliteRunLog::open(url).await?))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(url: &str) -> Result<Arc<dyn RunLog>> {
    Err(crate::not_built("run log", url, "sqlite"))
}

#[cfg(feature = "dynamodb")]
async fn open_dynamodb(url: &str) -> Result<Arc<dyn RunLog>> {
    Ok(Arc::new(crate::dynamodb::DynamoRunLog::open(url).await?))
}

#[cfg(not(feature = "dynamodb"))]
async fn open_dynamodb(url: &str) -> Result<Arc<dyn RunLog>> {
    Err(crate::not_built("run log", url, "dynamodb"))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn RunLog>> {
    Ok(Arc::new(crate::postgres::PostgresRunLog::open(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(url: &str) -> Result<Arc<dyn RunLog>> {
    Err(crate::not_built("run log", url, "postgres"))
}

/// `t` without its sub-millisecond part: the precision every backend keeps.
pub fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Now, to the millisecond.
pub(crate) fn now_millis() -> DateTime<Utc> {
    truncate_to_millis(Utc::now())
}

/// A timestamp as stored in text (SQLite, DynamoDB): RFC 3339 in UTC with milliseconds,
/// `2026-11-23T08:00:00.123Z`, which sorts as it reads.
pub(crate) fn format_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses [`format_ts`]'s text (any RFC 3339 timestamp).
pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Data(format!("run log: bad timestamp {s:?}: {e}")))
}

/// A count as the SQL backends store it (BIGINT): at most `i64::MAX`.
pub(crate) fn count_to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| Error::Data(format!("run log: {what} {v} is larger than {}", i64::MAX)))
}

/// Checks a step or shard name: non-empty, no `#` (the DynamoDB sort key's separator), no
/// control characters.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.contains('#') || name.chars().any(char::is_control) {
        return Err(Error::Data(format!(
            "run log: invalid {what} {name:?} (it must be non-empty, without '#' or control \
             characters)"
        )));
    }
    Ok(())
}

/// Checks what [`RunLog::start`] is given.
pub(crate) fn check_start(
    experiment_id: &str,
    run_id: &str,
    step: &str,
    shard: Option<&str>,
) -> Result<()> {
    if run_id.is_empty() {
        return Err(Error::Data("run log: empty run id".into()));
    }
    if experiment_id.is_empty() {
        return Err(Error::Data("run log: empty experiment id".into()));
    }
    check_name("step", step)?;
    if let Some(shard) = shard {
        check_name("shard", shard)?;
    }
    Ok(())
}

/// Checks what [`RunLog::finish`] is given, and returns it with its end truncated to the
/// millisecond.
pub(crate) fn check_finish(a: &StepAttempt) -> Result<StepAttempt> {
    check_start(&a.experiment_id, &a.run_id, &a.step, a.shard.as_deref())?;
    if a.attempt == 0 {
        return Err(Error::Data("run log: attempt numbers start at 1".into()));
    }
    for (what, v) in [
        ("duration_ms", a.duration_ms),
        ("rows", a.rows),
        ("bytes", a.bytes),
    ] {
        if let Some(v) = v {
            count_to_i64(v, what)?;
        }
    }
    let mut a = a.clone();
    a.started_at = truncate_to_millis(a.started_at);
    a.ended_at = a.ended_at.map(truncate_to_millis);
    Ok(a)
}

/// The order of [`RunLog::attempts`]: start, then step, shard (none first), attempt.
pub(crate) fn sort_attempts(attempts: &mut [StepAttempt]) {
    attempts.sort_by(|a, b| {
        (a.started_at, &a.step, &a.shard, a.attempt).cmp(&(
            b.started_at,
            &b.step,
            &b.shard,
            b.attempt,
        ))
    });
}

/// Summarises attempts of any runs (in any order) as [`RunLog::runs`] does: newest
/// start first (then run id, descending), at most `limit`.
pub(crate) fn summarise(mut attempts: Vec<StepAttempt>, limit: usize) -> Vec<RunLogSummary> {
    sort_attempts(&mut attempts);
    let mut runs: std::collections::HashMap<String, RunLogSummary> = Default::default();
    // In start order, so the last attempt seen of a run is its latest.
    for a in attempts {
        let failed = u32::from(a.status == StepStatus::Failed);
        match runs.get_mut(&a.run_id) {
            Some(r) => {
                r.attempts += 1;
                r.failed += failed;
                r.ended_at = r.ended_at.max(a.ended_at);
                r.experiment_id = a.experiment_id;
                r.last_step = a.step;
                r.last_status = a.status;
            }
            None => {
                runs.insert(
                    a.run_id.clone(),
                    RunLogSummary {
                        run_id: a.run_id,
                        experiment_id: a.experiment_id,
                        started_at: a.started_at,
                        ended_at: a.ended_at,
                        attempts: 1,
                        failed,
                        last_step: a.step,
                        last_status: a.status,
                    },
                );
            }
        }
    }
    let mut runs: Vec<RunLogSummary> = runs.into_values().collect();
    runs.sort_by(|a, b| (b.started_at, &b.run_id).cmp(&(a.started_at, &a.run_id)));
    runs.truncate(limit);
    runs
}

/// An error and its sources, `outer: inner: …` (a source whose text is already in the
/// message is not repeated).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_kept_to_the_millisecond() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T08:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = truncate_to_millis(t);
        assert_eq!(format_ts(t), "2026-11-23T08:00:00.123Z");
        assert_eq!(parse_ts(&format_ts(t)).unwrap(), t);
        assert_eq!(format_ts(truncate_to_millis(t)), "2026-11-23T08:00:00.123Z");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_start("e", "r", "generate", Some("1/4")).is_ok());
        assert!(check_start("e", "r", "", None).is_err());
        assert!(check_start("e", "r", "a#b", None).is_err());
        assert!(check_start("e", "r", "a", Some("")).is_err());
        assert!(check_start("e", "", "a", None).is_err());
        assert!(count_to_i64(u64::MAX, "rows").is_err());
    }
}
