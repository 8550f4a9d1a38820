//! One writer per run: the lease a writer of a run holds in the relational store's `locks`
//! table (the lock mechanism the scheduler uses, see
//! [`Locks::try_lock`](abforge_store::locks::Locks::try_lock)).
//!
//! - A whole-run writer (`pipeline run`, `pipeline step` without `--shard`) holds the lock
//!   `run:<run id>` from its start to its end.
//! - A shard's writer (`pipeline step generate|land --shard K/N`) takes `run:<run id>` only
//!   while it records the run's start (which may reset a run whose blueprint changed), then
//!   holds `run:<run id>:shard:K/N`: the shards of a run are written at once, by different
//!   processes, but never two writers of the same shard, and no shard while a whole-run
//!   writer is at work. A whole-run writer that finds a live shard lease does not start.
//!
//! The lease is renewed in the background every third of its length. A writer whose lease
//! was taken by another (it could not renew it in time: the process stalled, or the
//! database was out of reach for longer than the lease) is told so
//! ([`RunLease::lost`]) and stops: its step is cancelled and fails. A writer that died
//! holds nothing once its lease has run out.

use crate::error::{Error, Result};
use abforge_store::locks::Lease;
use abforge_store::relational::RelationalStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long a writer holds its lease between renewals, and how long it waits for a busy
/// run before giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSettings {
    /// The lease: a writer that died holds the run this long at most.
    pub lease: Duration,
    /// How long a second writer waits for the run to be free (0: it gives up at once).
    pub wait: Duration,
    /// How often a waiting writer tries again.
    pub poll: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            wait: Duration::ZERO,
            poll: Duration::from_millis(500),
        }
    }
}

/// The lock name of a run's whole-run writer.
pub fn run_lock(run_id: &str) -> String {
    format!("run:{run_id}")
}

/// The lock name of the writer of one shard of a run.
pub fn shard_lock(run_id: &str, shard: abforge_synth::generate::Shard) -> String {
    format!("run:{run_id}:shard:{shard}")
}

/// A held lease on a run (or one shard of it), renewed until released or dropped.
#[derive(Debug)]
pub struct RunLease {
    db: Arc<dyn RelationalStore>,
    name: String,
    owner: String,
    lost: watch::Receiver<bool>,
    renewal: tokio::task::JoinHandle<()>,
    released: bool,
}

impl RunLease {
    /// Takes lock `name` for `owner`, waiting up to `settings.wait` while another holds it.
    ///
    /// # Errors
    /// [`Error::Busy`] naming the holder and since when it holds the run; store errors.
    pub async fn take(
        db: &Arc<dyn RelationalStore>,
        name: &str,
        owner: &str,
        settings: LeaseSettings,
    ) -> Result<RunLease> {
        let deadline = Instant::now() + settings.wait;
        loop {
            if db.try_lock(name, owner, settings.lease).await?.is_some() {
                return Ok(Self::renewed(db, name, owner, settings.lease));
            }
            if Instant::now() >= deadline {
                let holder = db.lock_holder(name).await?;
                return Err(busy(name, holder.as_ref()));
            }
            tokio::time::sleep(settings.poll.min(deadline - Instant::now())).await;
        }
    }

    fn renewed(db: &Arc<dyn RelationalStore>, name: &str, owner: &str, lease: Duration) -> Self {
        let (tx, lost) = watch::channel(false);
        let renewal = tokio::spawn(renew(
            Arc::clone(db),
            name.to_string(),
            owner.to_string(),
            lease,
            tx,
        ));
        RunLease {
            db: Arc::clone(db),
            name: name.to_string(),
            owner: owner.to_string(),
            lost,
            renewal,
            released: false,
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resolves once the lease is lost (taken by another writer, or not renewed within its
    /// length); never while it is held.
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        let _ = lost.wait_for(|l| *l).await;
        if !*lost.borrow() {
            // The renewal ended without losing the lease (it was released): wait forever.
            std::future::pending::<()>().await;
        }
    }

    /// Runs `work` while the lease is held: when the lease is lost first, `work` is
    /// cancelled (dropped) and the answer is [`Error::LeaseLost`].
    ///
    /// # Errors
    /// `work`'s own, or [`Error::LeaseLost`].
    pub async fn guard<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::select! {
            out = work => out,
            () = self.lost() => Err(Error::LeaseLost(self.name.clone())),
        }
    }

    /// Stops renewing and releases the lock (when it is still this owner's).
    ///
    /// # Errors
    /// Store errors.
    pub async fn release(mut self) -> Result<()> {
        self.renewal.abort();
        self.released = true;
        self.db.unlock(&self.name, &self.owner).await?;
        Ok(())
    }
}

impl Drop for RunLease {
    /// A lease dropped unreleased (its work was cancelled) is released in the background,
    /// when a runtime is at hand; else it runs out.
    fn drop(&mut self) {
        self.renewal.abort();
        if self.released || *self.lost.borrow() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (db, name, owner) = (Arc::clone(&self.db), self.name.clone(), self.owner.clone());
            rt.spawn(async move {
                let _ = db.unlock(&name, &owner).await;
            });
        }
    }
}

/// Renews the lease every third of its length; says it is lost when another owner took it,
/// or when no renewal succeeded for a whole lease (the store was out of reach: another
/// writer may have taken the run meanwhile).
async fn renew(
    db: Arc<dyn RelationalStore>,
    name: String,
    owner: String,
    lease: Duration,
    lost: watch::Sender<bool>,
) {
    let every = (lease / 3).max(Duration::from_millis(10));
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        match db.try_lock(&name, &owner, lease).await {
            Ok(Some(_)) => renewed = Instant::now(),
            Ok(None) => break,
            Err(e) if renewed.elapsed() < lease => {
                tracing::warn!(lock = %name, error = %e, "renewing the run's lease");
            }
            Err(e) => {
                tracing::warn!(lock = %name, error = %e, "the run's lease ran out unrenewed");
                break;
            }
        }
    }
    let _ = lost.send(true);
}

fn busy(name: &str, holder: Option<&Lease>) -> Error {
    let run = name.strip_prefix("run:").unwrap_or(name);
    match holder {
        Some(h) => Error::Busy(format!(
            "run {run} is being written by {} since {} (its lease ends at {} unless renewed)",
            h.owner,
            h.acquired_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            h.expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )),
        None => Error::Busy(format!("run {run} is being written by another writer")),
    }
}

/// The error for a whole-run writer that found a shard of the run being written.
pub(crate) fn busy_shard(run_id: &str, holder: &Lease) -> Error {
    let shard = holder
        .name
        .rsplit_once(":shard:")
        .map_or("a shard", |(_, s)| s);
    Error::Busy(format!(
        "run {run_id} is being written by {} since {} (shard {shard}; its lease ends at {} \
         unless renewed)",
        holder.owner,
        holder
            .acquired_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        holder
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ))
}
