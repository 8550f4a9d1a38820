//! The seven steps of a run, each idempotent: running one again replaces what it made.
//!
//! - **generate** draws the run's customers (or one shard of them) and writes them as
//!   Parquet to the object store, `runs/<experiment>/<run>/customers/part-K-of-N.parquet`
//!   (the bytes `abforge generate` writes for the same generator), in one atomic upload;
//!   parts of another shard count are removed.
//! - **land** streams that part into the relational store's `customers` table while it is
//!   read (binary COPY into PostgreSQL, one transaction in SQLite): the part's rows appear
//!   all at once, replacing the earlier ones of the same ids.
//! - **publish** sends the resolved blueprint to the params API over HTTP (`PUT
//!   /v1/experiments/{experiment}/runs/{run}/params`); the API validates it, computes the
//!   truth and stores both at `params/<experiment>/<run>.json`. With no API URL the pipeline
//!   starts the API in-process on a loopback port and calls it, so the path is the same.
//! - **bronze** exports what landed in the relational store to the Delta table
//!   `lake/bronze/customers` on the object store, with load metadata (see `abforge_lake`).
//! - **silver** types, conforms, checks and de-duplicates the run's bronze rows into
//!   `lake/silver/customers`; rows that break a rule of the blueprint go to
//!   `lake/silver/quarantine` with the rule, and the step fails when they are more than
//!   [`Settings::quarantine_max`](crate::Settings::quarantine_max) of the run's rows (its
//!   message, or its error, has the counts).
//! - **gold** aggregates silver into `lake/gold/group_daily` and `lake/gold/group_quantiles`.
//! - **analyze** reads the run's customers from silver (clean and de-duplicated), runs every
//!   applicable test on every metric, judges each decision against the truth, and stores the
//!   decisions in `ab_results` and in `lake/gold/ab_results`, and the whole report at
//!   `runs/<experiment>/<run>/analysis.json`.
//!
//! In `pipeline run` the two go together: the rows are loaded as they are generated, each
//! lane of the load (see [`CustomerLoad::lanes`]) fed by a generating thread of its own,
//! while another thread writes the part; the load commits once the part is complete. Each
//! step is still logged as an attempt of its own. `pipeline step land` (and a land that
//! goes on alone after a failed first attempt) reads the part instead.

use crate::error::{Error, Result};
use crate::plan::RunPlan;
use crate::{Observer, Pipeline};
use abforge_store::relational::{CustomerLoad, LoadSpec, ResultRow};
use abforge_synth::generate::{Generator, Shard};
use abforge_synth::{BatchWriter, Format};
use arrow_array::RecordBatch;
use futures_util::StreamExt;
use object_store::ObjectStoreExt as _;
use object_store::buffered::{BufReader, BufWriter};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use serde::Deserialize;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

/// A step of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Draw the customers, write Parquet to the object store.
    Generate,
    /// Load them into the relational store.
    Land,
    /// Publish the blueprint and truth through the params API.
    Publish,
    /// Export what landed to the lake's bronze layer.
    Bronze,
    /// Check and clean bronze into silver (and its quarantine): the quality gate.
    Silver,
    /// Aggregate silver into gold.
    Gold,
    /// Analyze silver against the truth.
    Analyze,
}

impl Step {
    /// The steps of `pipeline run`, in order.
    pub const ALL: [Step; 7] = [
        Step::Generate,
        Step::Land,
        Step::Publish,
        Step::Bronze,
        Step::Silver,
        Step::Gold,
        Step::Analyze,
    ];

    /// `generate`, `land`, `publish`, `bronze`, `silver`, `gold`, `analyze`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Generate => "generate",
            Step::Land => "land",
            Step::Publish => "publish",
            Step::Bronze => "bronze",
            Step::Silver => "silver",
            Step::Gold => "gold",
            Step::Analyze => "analyze",
        }
    }

    /// Whether the step takes `--shard K/N`.
    pub fn sharded(self) -> bool {
        matches!(self, Step::Generate | Step::Land)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Step, String> {
        Step::ALL
            .into_iter()
            .find(|step| step.name() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a step; expected one of {}",
                    Step::ALL.map(Step::name).join(", ")
                )
            })
    }
}

/// What a step did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Output {
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub message: Option<String>,
}

impl Output {
    /// Records this outcome in the run log's `attempt`: succeeded, with its figures.
    pub(crate) fn record_in(&self, attempt: &mut abforge_store::runlog::StepAttempt) {
        attempt.status = abforge_store::runlog::StepStatus::Succeeded;
        attempt.rows = self.rows;
        attempt.bytes = self.bytes;
        attempt.message = self.message.clone();
    }
}

/// Rows per batch read back from Parquet or the database.
const BATCH_ROWS: usize = 65_536;
/// Batches the land step decodes ahead of the load.
const READ_AHEAD: usize = 4;

/// Aborts a task when dropped (the land step's Parquet readers, when the step returns early).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Bytes of the generated part in flight to the upload, at most this many pieces.
const UPLOAD_QUEUE: usize = 4;
/// The size of those pieces (the last one may be smaller).
const UPLOAD_PIECE: usize = 8 << 20;

/// What the generating thread sends to the upload: bytes of the file, or rows written.
enum Piece {
    Bytes(bytes::Bytes),
    Rows(u64),
}

/// The Parquet writer's output: buffered, and sent on in pieces of [`UPLOAD_PIECE`] bytes.
struct ToUpload {
    tx: tokio::sync::mpsc::Sender<Piece>,
    buf: Vec<u8>,
}

impl ToUpload {
    fn send(&mut self) -> std::io::Result<()> {
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(UPLOAD_PIECE));
        self.tx
            .blocking_send(Piece::Bytes(piece.into()))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

impl std::io::Write for ToUpload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= UPLOAD_PIECE {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}

/// An error of the part's upload: the object store's own error when there is one, so that
/// it counts as transient (see [`Error::is_transient`]).
fn upload_error(op: &str, e: std::io::Error) -> Error {
    let source = match e.get_ref().is_some_and(|r| r.is::<object_store::Error>()) {
        true => e.into_inner().expect("checked above"),
        false => Box::new(e),
    };
    parquet_error(op, parquet::errors::ParquetError::External(source))
}

/// What [`Pipeline::generate_part`] gives back.
struct Generated {
    /// The part's outcome.
    part: Result<Output>,
    /// With a load: the load, ready to commit, or why it is not (it is aborted then, and
    /// always when the part fails).
    load: Option<Result<Box<dyn CustomerLoad>>>,
}

impl Generated {
    /// A part that failed with `e`; its load, if any, is aborted.
    async fn failed(e: Error, load: Option<Box<dyn CustomerLoad>>) -> Generated {
        if let Some(load) = load {
            let _ = load.abort().await;
        }
        Generated {
            part: Err(e),
            load: None,
        }
    }
}

/// Where a part goes: the generator's chunks it holds, its customer ids and its object.
struct PartTarget {
    /// The generator's chunks the part holds.
    chunks: std::ops::Range<u64>,
    /// The customer ids of those chunks.
    ids: std::ops::Range<u64>,
    /// The part's object.
    location: object_store::path::Path,
}

/// What moving a part's bytes to its upload, and its lanes' rows to the load, came to.
struct Moved {
    /// The rows the part's writer wrote.
    rows: u64,
    /// Why the upload failed, if it did.
    upload_failed: Option<Error>,
    /// Why the load failed, if it did.
    load_failed: Option<Error>,
}

/// The Parquet reader of a part, before it is built.
type PartReader = ParquetRecordBatchStreamBuilder<BufReader>;

/// The id ranges of the lanes of `load` (one lane, all of `ids`, when it has none); none
/// without a load.
fn load_lanes(
    load: Option<&dyn CustomerLoad>,
    ids: std::ops::Range<u64>,
) -> Vec<std::ops::Range<u64>> {
    match load {
        Some(l) => match l.lanes() {
            lanes if lanes.is_empty() => vec![ids],
            lanes => lanes,
        },
        None => Vec::new(),
    }
}

/// Starts the thread that generates the part's rows (`chunks`) and writes them as Parquet,
/// sending the file's bytes in pieces and the rows written on `tx`; it gives back the
/// file's size.
fn spawn_part_writer(
    generator: Generator,
    chunks: std::ops::Range<u64>,
    tx: tokio::sync::mpsc::Sender<Piece>,
) -> tokio::task::JoinHandle<abforge_synth::Result<u64>> {
    let schema = generator.schema();
    let rows_tx = tx.clone();
    tokio::task::spawn_blocking(move || -> abforge_synth::Result<u64> {
        let out = ToUpload {
            tx,
            buf: Vec::with_capacity(UPLOAD_PIECE),
        };
        let mut writer = BatchWriter::new(out, Format::Parquet, schema)?;
        generator.run(
            chunks,
            |batches| {
                let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                writer.write(&batches)?;
                rows_tx
                    .blocking_send(Piece::Rows(rows))
                    .map_err(|_| abforge_synth::Error::Usage("the upload stopped".into()))
            },
            &abforge_synth::NoReporter,
        )?;
        let (_, bytes) = writer.finish()?;
        Ok(bytes)
    })
}

/// Starts a thread for each lane that generates the lane's rows (those of `chunks` whose
/// id, in column `id_column`, lies in the lane's range) and queues them a few batches
/// ahead; returns the threads and the queues.
fn spawn_lane_generators(
    plan: &RunPlan,
    lanes: &[std::ops::Range<u64>],
    chunks: &std::ops::Range<u64>,
    id_column: usize,
) -> (
    Vec<tokio::task::JoinHandle<abforge_synth::Result<()>>>,
    Vec<impl futures_util::Stream<Item = RecordBatch> + Unpin + Send + use<>>,
) {
    let mut producers = Vec::new();
    let mut queues = Vec::new();
    for range in lanes.iter().cloned() {
        let (load_tx, mut rx) = tokio::sync::mpsc::channel::<RecordBatch>(READ_AHEAD);
        queues.push(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let generator = plan.generator();
        let rows = abforge_synth::generate::CHUNK_ROWS;
        let first = (range.start / rows).max(chunks.start);
        let end = range.end.div_ceil(rows).min(chunks.end);
        producers.push(tokio::task::spawn_blocking(move || {
            generator.run(
                first..end,
                |batches| {
                    for b in &batches {
                        if let Some(part) = in_range(b, id_column, &range) {
                            load_tx.blocking_send(part).map_err(|_| {
                                abforge_synth::Error::Usage("the load stopped".into())
                            })?;
                        }
                    }
                    Ok(())
                },
                &abforge_synth::NoReporter,
            )
        }));
    }
    (producers, queues)
}

/// Sends the part's bytes, as they come on `pieces`, to the upload, and the lanes'
/// `batches` to the load, until both are done or have failed (a failed upload stops the
/// part's writer, a failed load the lanes' generators).
async fn move_part_and_rows<S>(
    mut pieces: tokio::sync::mpsc::Receiver<Piece>,
    upload: &mut BufWriter,
    key: &str,
    load: &mut Option<Box<dyn CustomerLoad>>,
    mut batches: Option<futures_util::stream::SelectAll<S>>,
    obs: &dyn Observer,
) -> Moved
where
    S: futures_util::Stream<Item = RecordBatch> + Unpin,
{
    let mut moved = Moved {
        rows: 0,
        upload_failed: None,
        load_failed: None,
    };
    let mut pieces_open = true;
    while pieces_open || batches.is_some() {
        tokio::select! {
            piece = pieces.recv(), if pieces_open => match piece {
                Some(Piece::Bytes(bytes)) => {
                    if let Err(e) = upload.put(bytes).await {
                        moved.upload_failed = Some(parquet_error(
                            &format!("uploading {key}"),
                            parquet::errors::ParquetError::External(Box::new(e)),
                        ));
                        // Closing the queue stops the producer (its next send fails).
                        pieces.close();
                        pieces_open = false;
                    }
                }
                Some(Piece::Rows(n)) => {
                    moved.rows += n;
                    if load.is_none() {
                        obs.rows(n);
                    }
                }
                None => pieces_open = false,
            },
            batch = async { batches.as_mut().expect("guarded").next().await }, if batches.is_some() => match (batch, load.as_mut()) {
                (Some(b), Some(l)) => match l.write(&b).await {
                    Ok(()) => obs.rows(b.num_rows() as u64),
                    Err(e) => {
                        // Dropping the queues stops the lanes' producers.
                        moved.load_failed = Some(e.into());
                        batches = None;
                    }
                },
                _ => batches = None,
            },
        }
    }
    moved
}

/// Waits for the part's writer and the lanes' generators: the part's size, or why its
/// writer failed. A generator's failure goes to `load_failed`, unless the load failed
/// already.
async fn join_generators(
    producer: tokio::task::JoinHandle<abforge_synth::Result<u64>>,
    lane_producers: Vec<tokio::task::JoinHandle<abforge_synth::Result<()>>>,
    load_failed: &mut Option<Error>,
) -> Result<u64> {
    let produced = match producer.await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(Error::Other(format!("the generator panicked: {e}"))),
    };
    for p in lane_producers {
        let outcome = match p.await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.into(),
            Err(e) => Error::Other(format!("the generator panicked: {e}")),
        };
        load_failed.get_or_insert(outcome);
    }
    produced
}

/// Completes the part's upload when it and the part's writer succeeded: the part's size;
/// else why the part failed (the upload's error first).
async fn complete_upload(
    upload: &mut BufWriter,
    upload_failed: Option<Error>,
    produced: Result<u64>,
    key: &str,
) -> Result<u64> {
    match (upload_failed, produced) {
        (None, Ok(bytes)) => upload
            .shutdown()
            .await
            .map(|()| bytes)
            .map_err(|e| upload_error(&format!("completing the upload of {key}"), e)),
        (Some(e), _) | (None, Err(e)) => Err(e),
    }
}

/// The load once its part is complete: ready to commit, or aborted and why it failed
/// (`None` without a load).
async fn settle_load(
    load: Option<Box<dyn CustomerLoad>>,
    failed: Option<Error>,
) -> Option<Result<Box<dyn CustomerLoad>>> {
    match (load, failed) {
        (None, _) => None,
        (Some(l), Some(e)) => {
            let _ = l.abort().await;
            Some(Err(e))
        }
        (Some(l), None) => Some(Ok(l)),
    }
}

/// Starts a task per reader that decodes its batches a few ahead; returns the tasks
/// (aborted when dropped) and the batches of all, as they come.
fn start_readers(
    builders: Vec<PartReader>,
    key: &str,
) -> Result<(
    Vec<AbortOnDrop>,
    futures_util::stream::SelectAll<
        impl futures_util::Stream<Item = parquet::errors::Result<RecordBatch>> + Unpin + use<>,
    >,
)> {
    let mut readers = Vec::new();
    let mut queues = Vec::new();
    for builder in builders {
        let mut stream = builder
            .build()
            .map_err(|e| parquet_error(&format!("reading {key}"), e))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel(READ_AHEAD);
        readers.push(AbortOnDrop(tokio::spawn(async move {
            while let Some(batch) = stream.next().await {
                let failed = batch.is_err();
                if tx.send(batch).await.is_err() || failed {
                    break;
                }
            }
        })));
        queues.push(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    }
    Ok((readers, futures_util::stream::select_all(queues)))
}

impl Pipeline {
    pub(crate) async fn generate(
        &self,
        plan: &RunPlan,
        shard: Option<Shard>,
        obs: &dyn Observer,
    ) -> Result<Output> {
        self.generate_part(plan, shard, None, obs).await.part
    }

    /// Generate and land of a whole run at once, for `pipeline run`: the rows go into the
    /// load as they are generated, while the part is written (see [`Pipeline::generate_part`]).
    /// Returns how long generate took and its outcome: when it succeeded, its output and
    /// land's outcome (the load is committed only after the part is complete).
    pub(crate) async fn generate_and_land(
        &self,
        plan: &RunPlan,
        obs: &dyn Observer,
    ) -> (Duration, Result<(Output, Result<Output>)>) {
        let began = std::time::Instant::now();
        let generator = plan.generator();
        let ids = match plan.ids(&generator, None) {
            Ok(ids) => ids,
            Err(e) => return (began.elapsed(), Err(e)),
        };
        let load = self
            .db
            .begin_load(LoadSpec {
                experiment_id: plan.experiment_id.clone(),
                run_id: plan.run_id.clone(),
                schema: generator.schema(),
                ids: ids.clone(),
                whole_run: true,
            })
            .await;
        let Generated {
            part: generated,
            load,
        } = match load {
            Ok(load) => self.generate_part(plan, None, Some(load), obs).await,
            // Generate goes on alone; land then runs as a step of its own.
            Err(e) => Generated {
                part: self.generate_part(plan, None, None, obs).await.part,
                load: Some(Err(e.into())),
            },
        };
        let took = began.elapsed();
        let out = match generated {
            Ok(out) => out,
            Err(e) => return (took, Err(e)),
        };
        let landed = match load {
            Some(Ok(load)) => {
                let key = out.message.as_deref().unwrap_or_default();
                let source = format!("as generated (the part: {key})");
                // No bytes: land read no file.
                finish_land(load, plan, &ids, &source, None).await
            }
            Some(Err(e)) => Err(e),
            None => Err(Error::Other("the load was not handed back".into())),
        };
        (took, Ok((out, landed)))
    }

    /// Writes the part of `shard` to the object store as `abforge generate` writes Parquet
    /// (one row group per window of chunks, its columns encoded in parallel), on blocking
    /// threads; the file's bytes come here in pieces and go to a multipart upload, so the
    /// object appears when the upload completes, never in part.
    ///
    /// With a `load`, the rows are also written to it as they are generated: each lane of the
    /// load has a thread that generates its rows (generation is cheap next to encoding and
    /// loading, so the rows are drawn twice rather than the load waiting on the encoding, or
    /// the encoding on the load: the lanes load at once). Returns the part's outcome and,
    /// with a load, the load ready to commit (or why it is not; it is aborted then, and
    /// always when the part fails).
    async fn generate_part(
        &self,
        plan: &RunPlan,
        shard: Option<Shard>,
        mut load: Option<Box<dyn CustomerLoad>>,
        obs: &dyn Observer,
    ) -> Generated {
        let generator = plan.generator();
        let key = plan.part_key(shard);
        let target = match self.prepare_part(plan, shard, &generator, &key).await {
            Ok(t) => t,
            Err(e) => return Generated::failed(e, load).await,
        };
        let id_column = generator
            .schema()
            .index_of("customer_id")
            .expect("the generator's schema has customer_id");
        let mut upload = BufWriter::new(Arc::clone(self.objects.store()), target.location);
        // The lanes' id ranges (one lane: all the part's ids), and a queue of batches for each.
        let lanes = load_lanes(load.as_deref(), target.ids);
        let (tx, pieces) = tokio::sync::mpsc::channel::<Piece>(UPLOAD_QUEUE);
        let producer = spawn_part_writer(generator, target.chunks.clone(), tx);
        // Each lane's rows, generated by a thread of its own.
        let (lane_producers, queues) =
            spawn_lane_generators(plan, &lanes, &target.chunks, id_column);
        let batches = (!queues.is_empty()).then(|| futures_util::stream::select_all(queues));
        let moved = move_part_and_rows(pieces, &mut upload, &key, &mut load, batches, obs).await;
        let mut load_failed = moved.load_failed;
        let produced = join_generators(producer, lane_producers, &mut load_failed).await;
        let bytes = match complete_upload(&mut upload, moved.upload_failed, produced, &key).await {
            Ok(bytes) => bytes,
            Err(e) => {
                let _ = upload.abort().await;
                return Generated::failed(e, load).await;
            }
        };
        let out = Output {
            rows: Some(moved.rows),
            bytes: Some(bytes),
            message: Some(key),
        };
        Generated {
            part: Ok(out),
            load: settle_load(load, load_failed).await,
        }
    }

    /// The chunks, ids and object of `shard`'s part (its object's key is `key`); removes
    /// the parts of another shard count.
    async fn prepare_part(
        &self,
        plan: &RunPlan,
        shard: Option<Shard>,
        generator: &Generator,
        key: &str,
    ) -> Result<PartTarget> {
        let chunks = generator
            .chunks(shard)
            .map_err(|e| Error::Usage(e.to_string()))?;
        let ids = plan.ids(generator, shard)?;
        self.remove_stale_parts(plan, shard).await?;
        Ok(PartTarget {
            chunks,
            ids,
            location: self.objects.location(key)?,
        })
    }

    /// Removes the parts of another shard count than `shard`'s: they are from an earlier
    /// layout of this run, and the run's folder must hold one complete set.
    async fn remove_stale_parts(&self, plan: &RunPlan, shard: Option<Shard>) -> Result<()> {
        let count = shard.map_or(1, |s| s.count);
        let suffix = format!("-of-{count:05}.parquet");
        for stale in self
            .objects
            .list(&format!("{}/customers", plan.prefix()))
            .await?
        {
            if !stale.key.ends_with(&suffix) {
                self.objects.delete(&stale.key).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn land(
        &self,
        plan: &RunPlan,
        shard: Option<Shard>,
        obs: &dyn Observer,
    ) -> Result<Output> {
        let generator = plan.generator();
        let ids = plan.ids(&generator, shard)?;
        let key = plan.part_key(shard);
        let size = self.part_size(plan, shard, &key).await?;
        let location = self.objects.location(&key)?;
        let meta = self.objects.store().head(&location).await.map_err(|e| {
            parquet_error(
                &format!("opening {key}"),
                parquet::errors::ParquetError::External(Box::new(e)),
            )
        })?;
        let first = self.open_part(&meta, &key, None).await?;
        let schema = Arc::clone(first.schema());
        let mut load = self
            .db
            .begin_load(LoadSpec {
                experiment_id: plan.experiment_id.clone(),
                run_id: plan.run_id.clone(),
                schema,
                ids: ids.clone(),
                whole_run: shard.is_none(),
            })
            .await?;
        if let Err(e) = self
            .feed_load(load.as_mut(), first, &meta, &key, &ids, obs)
            .await
        {
            let _ = load.abort().await;
            return Err(e);
        }
        finish_land(load, plan, &ids, &format!("from {key}"), Some(size)).await
    }

    /// The size of the generated part of `shard` (its key is `key`); a usage error that
    /// says to generate it first when there is none.
    async fn part_size(&self, plan: &RunPlan, shard: Option<Shard>, key: &str) -> Result<u64> {
        let Some(info) = self.objects.head(key).await? else {
            let shard_flag = shard.map(|s| format!(" --shard {s}")).unwrap_or_default();
            return Err(Error::Usage(format!(
                "run {}: no generated customers at {key}; run `abforge pipeline step generate \
                 --run-date {}{shard_flag}` first",
                plan.run_id, plan.run_date
            )));
        };
        Ok(info.size)
    }

    /// A reader of the part's rows `skip..skip + take` (all when `None`), in batches.
    /// Without the page index: with it, the reader fetches each selected page on its
    /// own, and the buffered reader turns each fetch into an 8 MiB read. Without it, it
    /// fetches whole column chunks and skips the pages before the selection unread.
    async fn open_part(
        &self,
        meta: &object_store::ObjectMeta,
        key: &str,
        rows: Option<(usize, usize)>,
    ) -> Result<PartReader> {
        let reader = BufReader::with_capacity(Arc::clone(self.objects.store()), meta, 8 << 20);
        let mut builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(|e| parquet_error(&format!("opening {key}"), e))?
            .with_batch_size(BATCH_ROWS);
        if let Some((skip, take)) = rows {
            builder = builder.with_row_selection(RowSelection::from(vec![
                RowSelector::skip(skip),
                RowSelector::select(take),
            ]));
        }
        Ok(builder)
    }

    /// Writes the rows of the part (`first` reads them all) into `load`, the batches of its
    /// readers as they come; the caller aborts the load when this fails.
    async fn feed_load(
        &self,
        load: &mut dyn CustomerLoad,
        first: PartReader,
        meta: &object_store::ObjectMeta,
        key: &str,
        ids: &std::ops::Range<u64>,
        obs: &dyn Observer,
    ) -> Result<()> {
        let builders = self
            .part_readers(load.lanes(), first, meta, key, ids)
            .await?;
        let (readers, mut batches) = start_readers(builders, key)?;
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|e| parquet_error(&format!("reading {key}"), e))?;
            load.write(&batch).await?;
            obs.rows(batch.num_rows() as u64);
        }
        drop(readers);
        Ok(())
    }

    /// The readers of the part for a load whose lanes are `lanes`: one of each lane's rows
    /// when the load has lanes and the part holds the ids `ids`, else `first`, of all.
    async fn part_readers(
        &self,
        lanes: Vec<std::ops::Range<u64>>,
        first: PartReader,
        meta: &object_store::ObjectMeta,
        key: &str,
        ids: &std::ops::Range<u64>,
    ) -> Result<Vec<PartReader>> {
        // The part holds the ids in order, from `ids.start`: when the load has lanes, each
        // lane's rows are read by a reader of their own, and the batches of the lanes are
        // written as they come, so that the lanes load at once. (Were the rows in another
        // order, the load would still put each where it belongs: only the overlap would be
        // lost.) Each reader decodes in a task of its own, a few batches ahead, so that
        // decoding overlaps the load's encoding and sending.
        let in_part = first.metadata().file_metadata().num_rows();
        if lanes.len() <= 1 || u64::try_from(in_part).ok() != Some(ids.end - ids.start) {
            return Ok(vec![first]);
        }
        let mut builders = Vec::new();
        for lane in &lanes {
            let skip = lane.start.saturating_sub(ids.start) as usize;
            let take = (lane.end - lane.start) as usize;
            builders.push(self.open_part(meta, key, Some((skip, take))).await?);
        }
        Ok(builders)
    }

    pub(crate) async fn publish(&self, plan: &RunPlan) -> Result<Output> {
        match &self.settings.api_url {
            Some(url) => self.put_params(url, plan).await,
            None => {
                // The API in-process on a loopback port, so the params take the same path
                // (HTTP, validation, truth, object store) as with a deployed API.
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                    .await
                    .map_err(|e| Error::Other(format!("binding the in-process API: {e}")))?;
                let addr = listener
                    .local_addr()
                    .map_err(|e| Error::Other(format!("the in-process API's address: {e}")))?;
                let config = abforge_api::ApiConfig {
                    token: self.settings.api_token.clone(),
                    ..abforge_api::ApiConfig::default()
                };
                let state = abforge_api::AppState::new(config, self.objects.clone())
                    .map_err(|e| Error::Config(format!("the in-process API: {e}")))?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let server = tokio::spawn(abforge_api::serve(
                    listener,
                    abforge_api::app(state),
                    async move {
                        let _ = stopped.await;
                    },
                ));
                let out = self.put_params(&format!("http://{addr}"), plan).await;
                let _ = stop.send(());
                let _ = server.await;
                out
            }
        }
    }

    async fn put_params(&self, base: &str, plan: &RunPlan) -> Result<Output> {
        let url = format!(
            "{base}/v1/experiments/{}/runs/{}/params",
            plan.experiment_id, plan.run_id
        );
        let api = |message: String, transient: bool| Error::Api {
            url: url.clone(),
            message,
            transient,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| api(e.to_string(), false))?;
        let mut req = client.put(&url).json(&plan.blueprint_json);
        if let Some(token) = &self.settings.api_token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.map_err(|e| {
            let transient = e.is_connect() || e.is_timeout() || e.is_request();
            api(e.to_string(), transient)
        })?;
        let status = res.status();
        let body = res.text().await.map_err(|e| api(e.to_string(), true))?;
        if !status.is_success() {
            let transient = status.is_server_error() || status.as_u16() == 429;
            return Err(api(format!("{status}: {}", body.trim()), transient));
        }
        #[derive(Deserialize)]
        struct Put {
            outcome: String,
            blueprint_hash: String,
        }
        let put: Put = serde_json::from_str(&body).map_err(|e| {
            api(
                format!("an answer that is not the API's: {e}: {body}"),
                false,
            )
        })?;
        if put.blueprint_hash != plan.blueprint_hash {
            return Err(api(
                format!(
                    "the API stored a blueprint with hash {}, not the run's {}",
                    put.blueprint_hash, plan.blueprint_hash
                ),
                false,
            ));
        }
        Ok(Output {
            rows: None,
            bytes: Some(body.len() as u64),
            message: Some(format!("{} ({}, {status})", plan.params_key(), put.outcome)),
        })
    }

    pub(crate) async fn bronze(&self, plan: &RunPlan, obs: &dyn Observer) -> Result<Output> {
        let w = self.lake.bronze(&lake_run(plan), &self.db).await?;
        obs.rows(w.rows);
        Ok(Output {
            rows: Some(w.rows),
            bytes: None,
            message: Some(w.to_string()),
        })
    }

    pub(crate) async fn silver(&self, plan: &RunPlan) -> Result<Output> {
        let r = self
            .lake
            .silver(&lake_run(plan), self.settings.quarantine_max)
            .await?;
        Ok(Output {
            rows: Some(r.customers.rows),
            bytes: None,
            message: Some(format!("{}; {}; {}", r.gate, r.customers, r.quarantine)),
        })
    }

    pub(crate) async fn gold(&self, plan: &RunPlan) -> Result<Output> {
        let w = self.lake.gold(&lake_run(plan)).await?;
        Ok(Output {
            rows: Some(w.group_daily.rows),
            bytes: None,
            message: Some(w.to_string()),
        })
    }

    pub(crate) async fn analyze(&self, plan: &RunPlan, obs: &dyn Observer) -> Result<Output> {
        let run = lake_run(plan);
        let batches = self.lake.read_silver(&run).await?;
        for b in &batches {
            obs.rows(b.num_rows() as u64);
        }
        let label = format!("lake/silver/customers run {}", plan.run_id);
        let schema = batches[0].schema();
        let (report, rows) = tokio::task::spawn_blocking({
            let blueprint = plan.resolved.blueprint.clone();
            let plan = plan.clone();
            move || -> Result<_> {
                let ds = abforge_analysis::Dataset::from_batches(
                    &label,
                    &schema,
                    batches,
                    &abforge_analysis::Columns::new("group"),
                    Some(blueprint),
                )?;
                let report =
                    abforge_analysis::analyze(&abforge_analysis::Options::new(label), &ds)?;
                let rows: Vec<ResultRow> = report
                    .decisions()
                    .into_iter()
                    .map(|d| ResultRow {
                        experiment_id: plan.experiment_id.clone(),
                        run_id: plan.run_id.clone(),
                        metric: d.metric,
                        control: d.control,
                        treatment: d.treatment,
                        test: d.test,
                        primary: d.primary,
                        estimate: d.estimate,
                        ci_low: d.ci_low,
                        ci_high: d.ci_high,
                        p_value: d.p_value,
                        p_adjusted: d.p_adjusted,
                        reject: d.reject,
                        true_effect: d.true_effect,
                        null_true: d.null_true,
                        outcome: d.outcome.map(|o| o.to_string()),
                    })
                    .collect();
                Ok((report, rows))
            }
        })
        .await
        .map_err(|e| Error::Other(format!("the analysis panicked: {e}")))??;
        self.objects
            .put_json_if_changed(&plan.analysis_key(), &report)
            .await?;
        self.db.put_results(&plan.run_id, &rows).await?;
        let gold = self.lake.ab_results(&run, &rows).await?;
        Ok(Output {
            rows: Some(rows.len() as u64),
            bytes: None,
            message: Some(format!(
                "{} decisions in ab_results and lake/gold/ab_results (version {}); report at {}",
                rows.len(),
                gold.version,
                plan.analysis_key()
            )),
        })
    }
}

/// What the lake needs to know of a run.
pub(crate) fn lake_run(plan: &RunPlan) -> abforge_lake::RunInfo {
    abforge_lake::RunInfo {
        experiment_id: plan.experiment_id.clone(),
        run_id: plan.run_id.clone(),
        run_date: plan.run_date,
        blueprint_hash: plan.blueprint_hash.clone(),
        resolved: plan.resolved.clone(),
    }
}

/// Commits a load of the customers `ids` of `plan`'s run (written `source`, e.g. "from
/// <part>"; `bytes` read), and checks that it held them all.
async fn finish_land(
    load: Box<dyn CustomerLoad>,
    plan: &RunPlan,
    ids: &std::ops::Range<u64>,
    source: &str,
    bytes: Option<u64>,
) -> Result<Output> {
    let rows = load.commit().await?;
    let expected = ids.end - ids.start;
    if rows != expected {
        return Err(Error::Other(format!(
            "the load of run {} held {rows} customers {source}; the shard has {expected}",
            plan.run_id
        )));
    }
    Ok(Output {
        rows: Some(rows),
        bytes,
        message: Some(format!(
            "customers {}..{} of run {} {source}",
            ids.start, ids.end, plan.run_id
        )),
    })
}

/// The rows of `batch` whose id (column `id`, increasing by one from row to row, as the
/// generator writes them) lies in `range`; `None` when there are none.
fn in_range(batch: &RecordBatch, id: usize, range: &std::ops::Range<u64>) -> Option<RecordBatch> {
    let ids = batch
        .column(id)
        .as_any()
        .downcast_ref::<arrow_array::Int64Array>()?;
    let first = u64::try_from(*ids.values().first()?).ok()?;
    let n = batch.num_rows() as u64;
    let from = range.start.saturating_sub(first).min(n);
    let to = range.end.saturating_sub(first).min(n);
    (to > from).then(|| batch.slice(from as usize, (to - from) as usize))
}

fn parquet_error(op: &str, source: parquet::errors::ParquetError) -> Error {
    Error::Parquet {
        op: op.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_round_trip_and_unknown_ones_list_the_allowed() {
        for s in Step::ALL {
            assert_eq!(s.name().parse::<Step>().unwrap(), s);
        }
        let e = "lnad".parse::<Step>().unwrap_err();
        assert!(
            e.contains("generate, land, publish, bronze, silver, gold, analyze"),
            "{e}"
        );
    }
}
