//! The abforge pipeline: one run of an experiment, end to end —
//! **generate** → **land** → **publish** → **bronze** → **silver** → **gold** → **analyze**
//! ([`Step`]) — on the embedded backends
//! (a SQLite file and a local folder under `./abforge-data`) or on PostgreSQL, S3 and
//! DynamoDB when URLs say so ([`Settings`]).
//!
//! A run is an experiment on a date ([`RunPlan`]): its id and its seed derive from them, so
//! running a date again is the same run with the same data. Every step attempt is written
//! to the run log (started, then succeeded or failed, with its duration, rows, bytes and
//! error); transient backend errors (refused connections, timeouts, throttling) are retried
//! with exponential backoff and full jitter, each retry a new attempt in the log. Every step
//! replaces what it made, so a rerun never duplicates; [`Pipeline::run`] resumes a failed
//! run from the step that failed. In [`Pipeline::run`], generate and land go together: the
//! customers are loaded into the relational store as they are generated, while their Parquet
//! part is written (the load commits once the part is complete).
//!
//! ```no_run
//! use abforge_pipeline::{Pipeline, RunPlan, Settings, Overrides, Quiet};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::resolve(&Overrides::default())?;
//! let blueprint = abforge_synth::Blueprint::from_path(&settings.blueprint)?;
//! let plan = RunPlan::new(&blueprint, "2026-11-23".parse()?)?;
//! let pipeline = Pipeline::open(settings).await?;
//! let report = pipeline.run(&plan, &Quiet).await?;
//! println!("{} rows, {} decisions", report.rows.unwrap_or(0), report.results.len());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod backfill;
mod error;
pub mod lease;
pub mod plan;
pub mod schedule;
pub mod settings;
mod steps;

pub use backfill::{BackfillOptions, BackfillReport, DateOutcome, DateReport, Every};
pub use error::{Error, Result};
pub use lease::{LeaseSettings, RunLease};
pub use plan::RunPlan;
pub use schedule::{Missed, Schedule, SchedulerConfig, Zone};
pub use settings::{Overrides, Retry, Settings};
pub use steps::Step;

use abforge_env::EnvVars;
use abforge_store::relational::{RelationalStore, ResultRow, RunRecord, RunStatus};
use abforge_store::runlog::{RunLog, StepAttempt, StepStatus};
use abforge_store::{ObjectStoreConfig, Objects};
use abforge_synth::generate::Shard;
use backon::BackoffBuilder;
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A staging file in the lake's folders untouched this long is a dead write's (a write
/// going on keeps writing its file).
const LAKE_STAGING_AGE: Duration = Duration::from_secs(15 * 60);

/// Receives the pipeline's progress. The CLI draws progress bars with it.
pub trait Observer: Send + Sync {
    /// A step begins; `rows` is how many rows it will move, when known.
    fn step_started(&self, _step: Step, _shard: Option<Shard>, _rows: Option<u64>) {}
    /// `n` more rows were moved.
    fn rows(&self, _n: u64) {}
    /// Attempt `attempt` failed with a transient error; the next begins after `delay`.
    fn step_retrying(&self, _step: Step, _attempt: u32, _delay: Duration, _error: &str) {}
    /// A step ended (or was skipped).
    fn step_finished(&self, _report: &StepReport) {}
}

/// An [`Observer`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// It ran and succeeded.
    Succeeded,
    /// It failed (after its retries).
    Failed,
    /// It had succeeded before and the run resumed after it.
    Skipped,
}

/// What one step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// Its shard (`K/N`), if it ran on one.
    pub shard: Option<String>,
    /// How it ended.
    pub state: StepState,
    /// Attempts made in this invocation (0 when skipped).
    pub attempts: u32,
    /// Time taken over every attempt, in milliseconds.
    pub duration_ms: u64,
    /// Rows it moved.
    pub rows: Option<u64>,
    /// Bytes it wrote or read.
    pub bytes: Option<u64>,
    /// What it did.
    pub message: Option<String>,
    /// Its error, when it failed.
    pub error: Option<String>,
}

impl StepReport {
    fn succeeded(
        step: Step,
        shard: Option<String>,
        attempts: u32,
        duration_ms: u64,
        out: steps::Output,
    ) -> StepReport {
        StepReport {
            step,
            shard,
            state: StepState::Succeeded,
            attempts,
            duration_ms,
            rows: out.rows,
            bytes: out.bytes,
            message: out.message,
            error: None,
        }
    }

    fn failed(
        step: Step,
        shard: Option<String>,
        attempts: u32,
        duration_ms: u64,
        error: String,
    ) -> StepReport {
        StepReport {
            step,
            shard,
            state: StepState::Failed,
            attempts,
            duration_ms,
            rows: None,
            bytes: None,
            message: None,
            error: Some(error),
        }
    }
}

/// What [`Pipeline::run`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The run id.
    pub run_id: String,
    /// The experiment id.
    pub experiment_id: String,
    /// The run date.
    pub run_date: NaiveDate,
    /// The run's seed.
    pub seed: u64,
    /// SHA-256 of the resolved blueprint.
    pub blueprint_hash: String,
    /// `succeeded` or `failed`.
    pub status: RunStatus,
    /// Customers landed.
    pub rows: Option<u64>,
    /// The params object's key.
    pub params_key: String,
    /// The step the run resumed from, when earlier steps had already succeeded.
    pub resumed_from: Option<Step>,
    /// Every step, in order.
    pub steps: Vec<StepReport>,
    /// The decisions against the truth (empty unless analyze succeeded).
    pub results: Vec<ResultRow>,
}

/// The backends of a pipeline and its settings.
#[derive(Debug, Clone)]
pub struct Pipeline {
    settings: Settings,
    objects: Objects,
    lake: abforge_lake::Lake,
    db: Arc<dyn RelationalStore>,
    log: Arc<dyn RunLog>,
    /// Who this pipeline is as a writer of runs (`host:pid:nonce`), in its leases.
    owner: String,
}

impl Pipeline {
    /// Opens the object store, the relational store (applying its migrations) and the run
    /// log, retrying transient errors.
    ///
    /// # Errors
    /// [`Error::Config`] for settings that name no usable backend; the backend's error when
    /// it stays unreachable.
    pub async fn open(settings: Settings) -> Result<Pipeline> {
        let mut objects = ObjectStoreConfig::from_env().with_data_dir(&settings.data_dir);
        if let Some(url) = &settings.object_store_url {
            objects = objects.with_url(url);
        }
        let objects = objects.build().map_err(|e| Error::Config(e.to_string()))?;
        let lake = abforge_lake::Lake::new(&objects).map_err(|e| Error::Config(e.to_string()))?;
        let retry = settings.retry;
        let db = retrying(retry, "opening the relational store", || {
            abforge_store::relational::open(&settings.database_url)
        })
        .await?;
        let log = retrying(retry, "opening the run log", || {
            abforge_store::runlog::open(&settings.run_log_url)
        })
        .await?;
        Ok(Pipeline {
            settings,
            objects,
            lake,
            db,
            log,
            owner: schedule::default_owner(),
        })
    }

    /// The settings it was opened with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The object store.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// The lakehouse: the Delta tables under `lake/` in the object store.
    pub fn lake(&self) -> &abforge_lake::Lake {
        &self.lake
    }

    /// The relational store.
    pub fn db(&self) -> &Arc<dyn RelationalStore> {
        &self.db
    }

    /// The run log.
    pub fn log(&self) -> &Arc<dyn RunLog> {
        &self.log
    }

    /// Runs every step of `plan` in order and reports what happened. When the run was left
    /// failed (or interrupted) by an earlier invocation with the same parameters, the steps
    /// that had succeeded are skipped and it resumes from the first that had not; a run
    /// that had succeeded runs again from the start (replacing its data). A failed step ends
    /// the run: the report has status `failed` and the error (this is not an `Err`).
    ///
    /// # Errors
    /// Only when the run log or the relational store cannot record the run at all.
    pub async fn run(&self, plan: &RunPlan, obs: &dyn Observer) -> Result<RunReport> {
        let lease = self.take_run_lease(plan).await?;
        let report = lease.guard(self.run_steps(plan, obs)).await;
        lease.release().await?;
        report
    }

    /// The steps of [`Pipeline::run`], under the run's lease.
    async fn run_steps(&self, plan: &RunPlan, obs: &dyn Observer) -> Result<RunReport> {
        let previous = self.db.run(&plan.run_id).await?;
        let resumable = previous.as_ref().is_some_and(|r| {
            r.status != RunStatus::Succeeded && r.blueprint_hash == plan.blueprint_hash
        });
        let done = match previous.filter(|_| resumable) {
            Some(record) => self.succeeded_steps(&record).await?,
            None => Vec::new(),
        };
        let mut report = RunReport {
            run_id: plan.run_id.clone(),
            experiment_id: plan.experiment_id.clone(),
            run_date: plan.run_date,
            seed: plan.seed,
            blueprint_hash: plan.blueprint_hash.clone(),
            status: RunStatus::Running,
            rows: None,
            params_key: plan.params_key(),
            resumed_from: None,
            steps: Vec::new(),
            results: Vec::new(),
        };
        let mut skipping = true;
        for step in Step::ALL {
            if skipping && done.contains(&step) {
                let r = StepReport {
                    step,
                    shard: None,
                    state: StepState::Skipped,
                    attempts: 0,
                    duration_ms: 0,
                    rows: None,
                    bytes: None,
                    message: Some("succeeded in an earlier attempt of this run".into()),
                    error: None,
                };
                obs.step_finished(&r);
                report.steps.push(r);
                continue;
            }
            if skipping && step != Step::Generate {
                report.resumed_from = Some(step);
            }
            skipping = false;
            // Generate lands the rows as it makes them: land has run with it.
            let reports = match step {
                Step::Generate => self.generate_and_land_logged(plan, obs).await?,
                Step::Land if report.steps.iter().any(|r| r.step == Step::Land) => continue,
                _ => vec![self.step_unleased(plan, step, None, obs).await?],
            };
            let failed = reports.iter().any(|r| r.state == StepState::Failed);
            report.steps.extend(reports);
            if failed {
                report.status = RunStatus::Failed;
                break;
            }
        }
        let mut record = self.db.run(&plan.run_id).await?;
        let all_done = report.steps.iter().any(|r| r.step == Step::Analyze)
            && report.steps.iter().all(|r| r.state != StepState::Failed);
        if report.status != RunStatus::Failed
            && all_done
            && record
                .as_ref()
                .is_some_and(|r| r.status != RunStatus::Succeeded)
        {
            // Every step had succeeded, but the run's row was not marked (the process or the
            // database went away right after analyze): mark it now.
            self.end_run(plan, Some(RunStatus::Succeeded), None).await?;
            record = self.db.run(&plan.run_id).await?;
        }
        if report.status != RunStatus::Failed {
            report.status = record.as_ref().map_or(RunStatus::Failed, |r| r.status);
        }
        report.rows = record.and_then(|r| r.rows);
        if report.status == RunStatus::Succeeded {
            report.results = self.db.results(&plan.run_id).await?;
        }
        Ok(report)
    }

    /// Steps whose latest whole-run attempt (no shard) since the run's start under its
    /// blueprint (`record.started_at`) succeeded: an attempt made under an earlier blueprint
    /// of the run never counts.
    async fn succeeded_steps(&self, record: &RunRecord) -> Result<Vec<Step>> {
        let attempts = self.log.attempts(&record.run_id).await?;
        // To the millisecond: run logs that keep less than the relational store still count
        // the attempts made right after the start.
        let since = record.started_at - chrono::Duration::milliseconds(1);
        let mut done = Vec::new();
        for step in Step::ALL {
            let latest = attempts
                .iter()
                .filter(|a| a.step == step.name() && a.shard.is_none())
                .filter(|a| a.started_at >= since)
                .max_by_key(|a| (a.started_at, a.attempt));
            if latest.is_some_and(|a| a.status == StepStatus::Succeeded) {
                done.push(step);
            }
        }
        Ok(done)
    }

    /// Runs one step of `plan` (on `shard`, for generate and land), logging each attempt and
    /// retrying transient errors; keeps the run's row in the `runs` table up to date (a
    /// failure marks the run failed; analyze succeeding marks it succeeded).
    ///
    /// The step runs under a lease on the run ([`lease`]): on a shard, the lease of that
    /// shard (the run's own only while the run's start is recorded).
    ///
    /// # Errors
    /// [`Error::Usage`] for a shard given to a step that takes none; [`Error::Busy`] when
    /// another writer holds the run or the shard; [`Error::LeaseLost`]; errors of the run
    /// log itself. The step's own failure is reported in the [`StepReport`], not as an `Err`.
    pub async fn step(
        &self,
        plan: &RunPlan,
        step: Step,
        shard: Option<Shard>,
        obs: &dyn Observer,
    ) -> Result<StepReport> {
        if shard.is_some() && !step.sharded() {
            return Err(abforge_env::Invalid::new(
                "shard",
                format!(
                    "the {step} step runs on the whole run; only generate and land take shards"
                ),
            )
            .into());
        }
        let Some(shard) = shard.filter(|s| s.count > 1) else {
            let run_lease = self.take_run_lease(plan).await?;
            let report = run_lease
                .guard(self.step_unleased(plan, step, None, obs))
                .await;
            run_lease.release().await?;
            return report;
        };
        // The run's lease, not minding the other shards' (they are written at once).
        let name = lease::run_lock(&plan.run_id);
        let run_lease = RunLease::take(&self.db, &name, &self.owner, self.settings.lease).await?;
        let began = run_lease.guard(self.begin_run(plan)).await;
        let shard_lease = match began {
            Ok(()) => {
                let name = lease::shard_lock(&plan.run_id, shard);
                RunLease::take(&self.db, &name, &self.owner, self.settings.lease).await
            }
            Err(e) => Err(e),
        };
        run_lease.release().await?;
        let shard_lease = shard_lease?;
        let delays = backoff(self.settings.retry);
        let report = shard_lease
            .guard(self.attempt_step(plan, step, Some(shard), obs, 0, delays))
            .await;
        shard_lease.release().await?;
        report
    }

    /// Takes the run's whole-run lease, checks that no shard of it is being written, and
    /// sweeps what dead writers left; on an error the lease is released.
    async fn take_run_lease(&self, plan: &RunPlan) -> Result<RunLease> {
        let name = lease::run_lock(&plan.run_id);
        let lease = RunLease::take(&self.db, &name, &self.owner, self.settings.lease).await?;
        match self.ready_to_write(plan, &name).await {
            Ok(()) => Ok(lease),
            Err(e) => {
                lease.release().await?;
                Err(e)
            }
        }
    }

    /// Under the run's lease `name`: no other owner's shard lease is live, and the staging
    /// files of dead writes are swept.
    async fn ready_to_write(&self, plan: &RunPlan, name: &str) -> Result<()> {
        let shards = self.db.live_locks(&format!("{name}:shard:")).await?;
        if let Some(holder) = shards.iter().find(|l| l.owner != self.owner) {
            return Err(lease::busy_shard(&plan.run_id, holder));
        }
        self.sweep_dead_writes(plan).await
    }

    /// Deletes the staging files of writes whose process died (a local object store's
    /// `<key>#<n>` files): in the run's own folder all of them — the caller holds the run
    /// and no shard of it is being written — and in the lake's folders those untouched for
    /// [`LAKE_STAGING_AGE`] (other runs write there).
    async fn sweep_dead_writes(&self, plan: &RunPlan) -> Result<()> {
        let prefix = plan.prefix();
        let run = self.objects.sweep_staging(&prefix, Duration::ZERO).await?;
        let lake = self.objects.sweep_staging("lake", LAKE_STAGING_AGE).await?;
        if run + lake > 0 {
            tracing::info!(run, lake, "deleted the staging files of dead writes");
        }
        Ok(())
    }

    /// [`Pipeline::step`] for a caller that holds the run's lease already.
    async fn step_unleased(
        &self,
        plan: &RunPlan,
        step: Step,
        shard: Option<Shard>,
        obs: &dyn Observer,
    ) -> Result<StepReport> {
        self.begin_run(plan).await?;
        self.attempt_step(plan, step, shard, obs, 0, backoff(self.settings.retry))
            .await
    }

    /// The attempts of [`Pipeline::step`], after `before` attempts made elsewhere; `delays`
    /// are the pauses left before the next attempts.
    async fn attempt_step(
        &self,
        plan: &RunPlan,
        step: Step,
        shard: Option<Shard>,
        obs: &dyn Observer,
        before: u32,
        mut delays: impl Iterator<Item = Duration>,
    ) -> Result<StepReport> {
        let shard_name = shard.map(|s| s.to_string());
        let expected_rows = match step {
            Step::Generate | Step::Land => {
                let g = plan.generator();
                plan.ids(&g, shard).ok().map(|r| r.end - r.start)
            }
            Step::Bronze | Step::Analyze => Some(plan.resolved.blueprint.customers),
            Step::Publish | Step::Silver | Step::Gold => None,
        };
        let t0 = Instant::now();
        let mut attempts = before;
        loop {
            attempts += 1;
            obs.step_started(step, shard, expected_rows);
            let mut attempt = self
                .log
                .start(
                    &plan.experiment_id,
                    &plan.run_id,
                    step.name(),
                    shard_name.as_deref(),
                )
                .await?;
            let began = Instant::now();
            let out = caught(step, async {
                match step {
                    Step::Generate => self.generate(plan, shard, obs).await,
                    Step::Land => self.land(plan, shard, obs).await,
                    Step::Publish => self.publish(plan).await,
                    Step::Bronze => self.bronze(plan, obs).await,
                    Step::Silver => self.silver(plan).await,
                    Step::Gold => self.gold(plan).await,
                    Step::Analyze => self.analyze(plan, obs).await,
                }
            })
            .await;
            let ended = Utc::now();
            attempt.ended_at = Some(ended);
            attempt.duration_ms = Some(began.elapsed().as_millis() as u64);
            match out {
                Ok(out) => {
                    out.record_in(&mut attempt);
                    self.log.finish(&attempt).await?;
                    if step == Step::Land || step == Step::Analyze {
                        // A whole-run land replaced every customer of the run with the rows
                        // it counted; a shard's land, or analyze, asks the store.
                        let rows = match (step, shard, out.rows) {
                            (Step::Land, None, Some(rows)) => rows,
                            _ => self.db.count_customers(&plan.run_id).await?,
                        };
                        let status = (step == Step::Analyze).then_some(RunStatus::Succeeded);
                        self.end_run(plan, status, Some(rows)).await?;
                    }
                    let r = StepReport::succeeded(
                        step,
                        shard_name,
                        attempts,
                        t0.elapsed().as_millis() as u64,
                        out,
                    );
                    obs.step_finished(&r);
                    return Ok(r);
                }
                Err(e) => {
                    self.log_failure(&mut attempt, &e).await?;
                    let message = error_chain(&e);
                    if paused_for_retry(step, attempts, &e, &message, &mut delays, obs).await {
                        continue;
                    }
                    return self
                        .fail_step(plan, step, shard_name, attempts, t0, message, obs)
                        .await;
                }
            }
        }
    }

    /// Generate and land of a whole run at once (the rows go into the relational store as
    /// they are generated, see `steps.rs`), each step logged as an attempt of its own, timed
    /// from the common start; land commits only once the part is complete, and a land that
    /// stopped because generate failed is not logged (it left nothing). When this first
    /// attempt fails, the failed step goes on alone with the attempts left (land then reads
    /// the part, as `pipeline step land` does), as does land after a failed generate.
    /// Returns the reports of the steps that ran.
    async fn generate_and_land_logged(
        &self,
        plan: &RunPlan,
        obs: &dyn Observer,
    ) -> Result<Vec<StepReport>> {
        self.begin_run(plan).await?;
        let generator = plan.generator();
        let expected = plan.ids(&generator, None).ok().map(|r| r.end - r.start);
        // One bar for both: the rows landed.
        obs.step_started(Step::Land, None, expected);
        let t0 = Instant::now();
        let start = |step: Step| {
            self.log
                .start(&plan.experiment_id, &plan.run_id, step.name(), None)
        };
        let mut generating = start(Step::Generate).await?;
        let began = Instant::now();
        let (took, outcome) = match caught(Step::Generate, async {
            Ok(self.generate_and_land(plan, obs).await)
        })
        .await
        {
            Ok(both) => both,
            Err(e) => (began.elapsed(), Err(e)),
        };
        let ended = |a: &mut StepAttempt, took: Duration| {
            a.ended_at = Some(a.started_at + chrono::Duration::from_std(took).unwrap_or_default());
            a.duration_ms = Some(took.as_millis() as u64);
        };
        ended(&mut generating, took);
        let (generated, landed) = match outcome {
            Ok(both) => both,
            Err(e) => {
                self.log_failure(&mut generating, &e).await?;
                let mut reports = vec![self.retry_alone(plan, Step::Generate, e, t0, obs).await?];
                if reports[0].state == StepState::Succeeded {
                    reports.push(self.step_unleased(plan, Step::Land, None, obs).await?);
                }
                return Ok(reports);
            }
        };
        generated.record_in(&mut generating);
        self.log.finish(&generating).await?;
        let generate_report =
            StepReport::succeeded(Step::Generate, None, 1, took.as_millis() as u64, generated);
        // Land's attempt is logged once the part is complete (a load stopped with its
        // generate leaves nothing, and is no attempt of land), from the common start.
        let mut landing = start(Step::Land).await?;
        landing.started_at = generating.started_at;
        ended(&mut landing, t0.elapsed());
        let land_report = match landed {
            Ok(out) => {
                out.record_in(&mut landing);
                self.log.finish(&landing).await?;
                self.end_run(plan, None, out.rows).await?;
                obs.step_finished(&generate_report);
                let r = StepReport::succeeded(
                    Step::Land,
                    None,
                    1,
                    t0.elapsed().as_millis() as u64,
                    out,
                );
                obs.step_finished(&r);
                r
            }
            Err(e) => {
                self.log_failure(&mut landing, &e).await?;
                obs.step_finished(&generate_report);
                self.retry_alone(plan, Step::Land, e, t0, obs).await?
            }
        };
        Ok(vec![generate_report, land_report])
    }

    /// After `step`'s first attempt failed with `e` (logged already): the attempts left,
    /// when `e` is transient and the settings allow more; else the step's failure.
    async fn retry_alone(
        &self,
        plan: &RunPlan,
        step: Step,
        e: Error,
        t0: Instant,
        obs: &dyn Observer,
    ) -> Result<StepReport> {
        let message = error_chain(&e);
        let mut delays = backoff(self.settings.retry);
        if paused_for_retry(step, 1, &e, &message, &mut delays, obs).await {
            return self.attempt_step(plan, step, None, obs, 1, delays).await;
        }
        self.fail_step(plan, step, None, 1, t0, message, obs).await
    }

    /// Logs `attempt` as failed with `e`.
    async fn log_failure(&self, attempt: &mut StepAttempt, e: &Error) -> Result<()> {
        attempt.status = StepStatus::Failed;
        attempt.error = Some(error_chain(e));
        Ok(self.log.finish(attempt).await?)
    }

    /// Marks the run failed at `step` after `attempts` attempts, and reports it.
    #[allow(clippy::too_many_arguments, reason = "the fields of the report, named")]
    async fn fail_step(
        &self,
        plan: &RunPlan,
        step: Step,
        shard: Option<String>,
        attempts: u32,
        t0: Instant,
        message: String,
        obs: &dyn Observer,
    ) -> Result<StepReport> {
        self.end_run(plan, Some(RunStatus::Failed), None).await?;
        let r = StepReport::failed(
            step,
            shard,
            attempts,
            t0.elapsed().as_millis() as u64,
            message,
        );
        obs.step_finished(&r);
        Ok(r)
    }

    /// Records the run as running, keeping its first start. A run whose blueprint changed
    /// starts afresh, from nothing: see [`Pipeline::reset_run`].
    async fn begin_run(&self, plan: &RunPlan) -> Result<()> {
        let previous = self.db.run(&plan.run_id).await?;
        let same = previous
            .as_ref()
            .filter(|r| r.blueprint_hash == plan.blueprint_hash);
        if let Some(old) = previous.as_ref().filter(|_| same.is_none()) {
            self.reset_run(plan, old).await?;
        }
        let record = RunRecord {
            run_id: plan.run_id.clone(),
            experiment_id: plan.experiment_id.clone(),
            run_date: plan.run_date,
            blueprint_hash: plan.blueprint_hash.clone(),
            blueprint: plan.blueprint_json.clone(),
            status: RunStatus::Running,
            started_at: same.map_or_else(Utc::now, |r| r.started_at),
            finished_at: None,
            rows: same.and_then(|r| r.rows),
        };
        self.db.put_run(&record).await?;
        Ok(())
    }

    /// Removes what the run made under its earlier blueprint (`old`): its Parquet parts and
    /// analysis report in the object store, then its customers, results and row in the
    /// relational store (in one transaction). The row goes last, so that a reset cut off
    /// half-way is done again by the next writer, which still finds the old blueprint hash.
    /// The lake's rows of the run stay until each layer's step replaces them (readers can
    /// tell them by their blueprint hash); the run log keeps its history, and attempts from
    /// before the new start never count as done ([`Pipeline::succeeded_steps`]).
    async fn reset_run(&self, plan: &RunPlan, old: &RunRecord) -> Result<()> {
        tracing::info!(
            run = %plan.run_id,
            from = %old.blueprint_hash,
            to = %plan.blueprint_hash,
            "the run's blueprint changed: starting it afresh"
        );
        let parts = self
            .objects
            .list(&format!("{}/customers", plan.prefix()))
            .await?;
        for part in parts {
            self.objects.delete(&part.key).await?;
        }
        self.objects.delete(&plan.analysis_key()).await?;
        self.db.delete_run(&plan.run_id).await?;
        Ok(())
    }

    async fn end_run(
        &self,
        plan: &RunPlan,
        status: Option<RunStatus>,
        rows: Option<u64>,
    ) -> Result<()> {
        let Some(mut record) = self.db.run(&plan.run_id).await? else {
            return Ok(());
        };
        if let Some(s) = status {
            record.status = s;
            record.finished_at = Some(Utc::now());
        }
        if rows.is_some() {
            record.rows = rows;
        }
        self.db.put_run(&record).await?;
        Ok(())
    }
}

/// Runs the work of `step`, turning a panic inside it into the step's error (so that the
/// run is logged and marked failed, never left `running`).
async fn caught<T>(step: Step, work: impl Future<Output = Result<T>>) -> Result<T> {
    use futures_util::FutureExt as _;
    let work = async {
        inject_fault(step);
        work.await
    };
    match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        Ok(out) => out,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with no message".into());
            Err(Error::Other(format!("the {step} step panicked: {what}")))
        }
    }
}

/// The fault-injection point of the tests: `ABFORGE_FAULT_INJECT=panic:<step>` makes that
/// step panic as it starts (how a step that panics is handled is tested with it).
fn inject_fault(step: Step) {
    if let Ok(fault) = std::env::var(EnvVars::ABFORGE_FAULT_INJECT)
        && fault.strip_prefix("panic:") == Some(step.name())
    {
        panic!("a fault injected into the {step} step (ABFORGE_FAULT_INJECT={fault})");
    }
}

/// After attempt `attempts` of `step` failed with `e`: when `e` is transient and `delays`
/// has a pause left, announces the retry, waits that long and says so.
async fn paused_for_retry(
    step: Step,
    attempts: u32,
    e: &Error,
    message: &str,
    delays: &mut impl Iterator<Item = Duration>,
    obs: &dyn Observer,
) -> bool {
    let Some(delay) = e.is_transient().then(|| delays.next()).flatten() else {
        return false;
    };
    tracing::warn!(%step, attempts, ?delay, error = %message, "retrying");
    obs.step_retrying(step, attempts, delay, message);
    tokio::time::sleep(delay).await;
    true
}

/// The delays between attempts: exponential from `retry.delay`, capped at
/// `retry.max_delay`, with full jitter; `retry.attempts - 1` of them.
fn backoff(retry: Retry) -> impl Iterator<Item = Duration> {
    backon::ExponentialBuilder::default()
        .with_min_delay(retry.delay)
        .with_max_delay(retry.max_delay)
        .with_max_times(retry.attempts.saturating_sub(1) as usize)
        .with_jitter()
        .build()
}

/// Calls `f` until it succeeds, fails for good, or the attempts are spent.
async fn retrying<T, F, Fut>(retry: Retry, what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = abforge_store::Result<T>>,
{
    let mut delays = backoff(retry);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() => match delays.next() {
                Some(delay) => {
                    tracing::warn!(what, attempt, ?delay, error = %e, "retrying");
                    tokio::time::sleep(delay).await;
                }
                None => {
                    return Err(Error::Other(format!(
                        "{what}: still failing after {attempt} attempts: {e}"
                    )));
                }
            },
            Err(e) => return Err(e.into()),
        }
    }
}

/// An error and its sources, `: `-separated, without repeats.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = inner.source();
    }
    s
}

/// Helpers for callers: the attempts of a run as the run log has them.
impl Pipeline {
    /// Every attempt of a run.
    ///
    /// # Errors
    /// The run log's errors.
    pub async fn attempts(&self, run_id: &str) -> Result<Vec<StepAttempt>> {
        Ok(self.log.attempts(run_id).await?)
    }
}
