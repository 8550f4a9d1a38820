//! The conformance suite every run log backend must pass (feature `testing`).
//!
//! Each check panics on the first failure. Every check works on run ids of its own, made
//! unique by a random suffix, so [`run_all`] can run against a shared table (and twice
//! against the same one); it deletes nothing. The crate's integration tests run it against
//! SQLite always, DynamoDB when `ABFORGE_TEST_DYNAMODB_ENDPOINT` is set and PostgreSQL when
//! `ABFORGE_TEST_DATABASE_URL` is.

use crate::Error;
use crate::runlog::{RunLog, StepAttempt, StepStatus, truncate_to_millis};
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Runs every check.
pub async fn run_all(log: &dyn RunLog) {
    check_answers(log).await;
    start_then_finish(log).await;
    failures_round_trip(log).await;
    retries_number_attempts(log).await;
    shards_are_separate(log).await;
    concurrent_starts(log).await;
    attempts_in_start_order(log).await;
    runs_are_summarised(log).await;
    unknown_run(log).await;
    invalid_input(log).await;
}

/// A run id no other check, run or process uses: `conf-{name}-{random}`.
pub fn unique_run_id(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // RandomState's keys are random per process.
    let random = RandomState::new().hash_one((std::process::id(), nanos, n));
    format!("conf-{name}-{random:016x}")
}

/// Lets the clock pass a few milliseconds, so starts are ordered.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

fn assert_fresh(a: &StepAttempt, run: &str, step: &str, shard: Option<&str>, attempt: u32) {
    assert_eq!(a.run_id, run);
    assert_eq!(a.experiment_id, "conformance");
    assert_eq!(a.step, step);
    assert_eq!(a.shard.as_deref(), shard);
    assert_eq!(a.attempt, attempt, "{a:?}");
    assert_eq!(a.status, StepStatus::Started);
    assert_eq!(a.started_at, truncate_to_millis(a.started_at), "to the ms");
    assert!(
        (Utc::now() - a.started_at).abs() < TimeDelta::seconds(60),
        "{a:?}"
    );
    assert_eq!(
        (a.ended_at, a.duration_ms, a.rows, a.bytes),
        (None, None, None, None)
    );
    assert_eq!((&a.message, &a.error), (&None, &None));
}

/// The readiness check passes; the backend names itself; the URL shows no password.
pub async fn check_answers(log: &dyn RunLog) {
    log.check().await.expect("the run log answers");
    assert!(["sqlite", "dynamodb", "postgres"].contains(&log.backend()));
    let url = log.url();
    assert!(url.starts_with(log.backend()), "{url}");
    if let Some((_, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = rest.split('/').next().unwrap_or("").rsplit_once('@')
    {
        assert!(
            !userinfo.contains(':') || userinfo.ends_with(":***"),
            "password shown: {url}"
        );
    }
}

/// A start is attempt 1, `started`; its finish replaces it and every field reads back
/// exactly (timestamps to the millisecond).
pub async fn start_then_finish(log: &dyn RunLog) {
    let run = unique_run_id("finish");
    let a = log
        .start("conformance", &run, "generate", None)
        .await
        .expect("start");
    assert_fresh(&a, &run, "generate", None, 1);
    assert_eq!(
        log.attempts(&run).await.expect("attempts"),
        std::slice::from_ref(&a)
    );

    let ended = a.started_at + TimeDelta::milliseconds(1234) + TimeDelta::nanoseconds(567_891);
    let done = StepAttempt {
        status: StepStatus::Succeeded,
        ended_at: Some(ended),
        duration_ms: Some(1234),
        rows: Some(200_000),
        // Past 2^53: integers must not go through a float.
        bytes: Some((1 << 53) + 1),
        message: Some(
            "wrote raw/conformance/r.parquet — 1.63 MiB, \"quoted\", it's ünïcode".into(),
        ),
        ..a.clone()
    };
    log.finish(&done).await.expect("finish");
    let got = log.attempts(&run).await.expect("attempts");
    let want = StepAttempt {
        ended_at: Some(truncate_to_millis(ended)),
        ..done.clone()
    };
    assert_eq!(got, std::slice::from_ref(&want));
    // Finishing again with the same values changes nothing.
    log.finish(&want).await.expect("finish again");
    assert_eq!(log.attempts(&run).await.expect("attempts"), [want]);
}

/// A failed attempt keeps its error and multi-line message; absent counts stay absent.
pub async fn failures_round_trip(log: &dyn RunLog) {
    let run = unique_run_id("failure");
    let a = log
        .start("conformance", &run, "land", Some("3/8"))
        .await
        .expect("start");
    assert_fresh(&a, &run, "land", Some("3/8"), 1);
    let failed = StepAttempt {
        status: StepStatus::Failed,
        ended_at: Some(a.started_at + TimeDelta::milliseconds(5)),
        duration_ms: Some(5),
        rows: Some(0),
        bytes: None,
        message: None,
        error: Some("postgres: connect: connection refused\nsecond line\ttab".into()),
        ..a.clone()
    };
    log.finish(&failed).await.expect("finish");
    assert_eq!(log.attempts(&run).await.expect("attempts"), [failed]);
}

/// A second start of the same step is attempt 2, the first one is kept.
pub async fn retries_number_attempts(log: &dyn RunLog) {
    let run = unique_run_id("retry");
    let first = log
        .start("conformance", &run, "publish", None)
        .await
        .expect("start");
    let failed = StepAttempt {
        status: StepStatus::Failed,
        ended_at: Some(first.started_at),
        duration_ms: Some(0),
        error: Some("boom".into()),
        ..first.clone()
    };
    log.finish(&failed).await.expect("finish");
    tick().await;
    let second = log
        .start("conformance", &run, "publish", None)
        .await
        .expect("start");
    assert_fresh(&second, &run, "publish", None, 2);
    assert!(second.started_at >= first.started_at);
    tick().await;
    let third = log
        .start("conformance", &run, "publish", None)
        .await
        .expect("start");
    assert_eq!(third.attempt, 3);
    assert_eq!(
        log.attempts(&run).await.expect("attempts"),
        [failed, second, third]
    );
}

/// Each (step, shard) has its own sequence of attempt numbers; so does the unsharded step,
/// and so does another run.
pub async fn shards_are_separate(log: &dyn RunLog) {
    let run = unique_run_id("shards");
    let other = unique_run_id("shards-other");
    let mut got = Vec::new();
    for (step, shard, want) in [
        ("land", Some("1/2"), 1),
        ("land", Some("2/2"), 1),
        ("land", Some("1/2"), 2),
        ("land", None, 1),
        ("land", Some("1/20"), 1),
        ("generate", Some("1/2"), 1),
        ("land", Some("2/2"), 2),
    ] {
        let a = log
            .start("conformance", &run, step, shard)
            .await
            .expect("start");
        assert_fresh(&a, &run, step, shard, want);
        got.push(a);
    }
    let o = log
        .start("conformance", &other, "land", Some("1/2"))
        .await
        .expect("start");
    assert_eq!(o.attempt, 1);
    let mut listed = log.attempts(&run).await.expect("attempts");
    let key = |a: &StepAttempt| (a.step.clone(), a.shard.clone(), a.attempt);
    listed.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(listed, got);
    assert_eq!(log.attempts(&other).await.expect("attempts"), [o]);
}

/// Eight concurrent starts of one step get eight distinct, consecutive numbers.
pub async fn concurrent_starts(log: &dyn RunLog) {
    let run = unique_run_id("concurrent");
    let first = log
        .start("conformance", &run, "generate", Some("1/1"))
        .await
        .expect("start");
    assert_eq!(first.attempt, 1);
    let results =
        join_all((0..8).map(|_| log.start("conformance", &run, "generate", Some("1/1")))).await;
    let mut numbers: Vec<u32> = results
        .into_iter()
        .map(|r| r.expect("concurrent start").attempt)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=9).collect::<Vec<u32>>());
    let mut listed: Vec<u32> = log
        .attempts(&run)
        .await
        .expect("attempts")
        .iter()
        .map(|a| a.attempt)
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, (1..=9).collect::<Vec<u32>>());
}

/// `attempts` lists in start order, then step, shard (none first) and attempt.
pub async fn attempts_in_start_order(log: &dyn RunLog) {
    let run = unique_run_id("order");
    let mut started = Vec::new();
    for (step, shard) in [
        ("land", Some("2/2")),
        ("generate", None),
        ("land", Some("1/2")),
        ("analyze", None),
        ("generate", None),
    ] {
        started.push(
            log.start("conformance", &run, step, shard)
                .await
                .expect("start"),
        );
        tick().await;
    }
    let listed = log.attempts(&run).await.expect("attempts");
    assert_eq!(listed, started, "start order");

    // Equal starts: step, shard (none first), attempt. Written by finish, which records an
    // attempt whatever its start.
    let run = unique_run_id("order-ties");
    let t: DateTime<Utc> = truncate_to_millis(Utc::now());
    let item = |step: &str, shard: Option<&str>, attempt| StepAttempt {
        run_id: run.clone(),
        experiment_id: "conformance".into(),
        step: step.into(),
        shard: shard.map(Into::into),
        attempt,
        status: StepStatus::Succeeded,
        started_at: t,
        ended_at: Some(t),
        duration_ms: Some(0),
        rows: None,
        bytes: None,
        message: None,
        error: None,
    };
    let want = vec![
        item("a", None, 1),
        item("a", None, 2),
        item("a", None, 10),
        item("a", Some("1/2"), 1),
        item("a", Some("2/2"), 1),
        item("b", None, 1),
    ];
    for a in want.iter().rev() {
        log.finish(a).await.expect("finish");
    }
    assert_eq!(log.attempts(&run).await.expect("attempts"), want);
}

/// `runs` summarises each run (attempts, failures, first start, last end, latest step and
/// status), newest start first, at most `limit`.
pub async fn runs_are_summarised(log: &dyn RunLog) {
    let older = unique_run_id("runs-older");
    let newer = unique_run_id("runs-newer");

    // The older run: generate fails, then succeeds; land succeeds.
    let g1 = log
        .start("conformance-old", &older, "generate", None)
        .await
        .expect("start");
    log.finish(&StepAttempt {
        status: StepStatus::Failed,
        ended_at: Some(g1.started_at + TimeDelta::milliseconds(1)),
        error: Some("boom".into()),
        ..g1.clone()
    })
    .await
    .expect("finish");
    tick().await;
    let g2 = log
        .start("conformance-old", &older, "generate", None)
        .await
        .expect("start");
    log.finish(&StepAttempt {
        status: StepStatus::Succeeded,
        ended_at: Some(g2.started_at + TimeDelta::milliseconds(2)),
        ..g2.clone()
    })
    .await
    .expect("finish");
    tick().await;
    let land = log
        .start("conformance-old", &older, "land", None)
        .await
        .expect("start");
    let land_end = land.started_at + TimeDelta::milliseconds(7);
    log.finish(&StepAttempt {
        status: StepStatus::Succeeded,
        ended_at: Some(land_end),
        ..land.clone()
    })
    .await
    .expect("finish");
    tick().await;

    // The newer run: one attempt, still started.
    let n1 = log
        .start("conformance-new", &newer, "generate", Some("1/2"))
        .await
        .expect("start");

    let all = log.runs(usize::MAX).await.expect("runs");
    for w in all.windows(2) {
        assert!(
            (w[0].started_at, &w[0].run_id) >= (w[1].started_at, &w[1].run_id),
            "newest first: {w:?}"
        );
    }
    let mine: Vec<_> = all
        .iter()
        .filter(|r| r.run_id == older || r.run_id == newer)
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let (n, o) = (mine[0], mine[1]);
    assert_eq!(n.run_id, newer, "newest first");
    assert_eq!(n.experiment_id, "conformance-new");
    assert_eq!(n.started_at, n1.started_at);
    assert_eq!(n.ended_at, None);
    assert_eq!((n.attempts, n.failed), (1, 0));
    assert_eq!(
        (n.last_step.as_str(), n.last_status),
        ("generate", StepStatus::Started)
    );

    assert_eq!(o.run_id, older);
    assert_eq!(o.experiment_id, "conformance-old");
    assert_eq!(o.started_at, g1.started_at);
    assert_eq!(o.ended_at, Some(land_end));
    assert_eq!((o.attempts, o.failed), (3, 1));
    assert_eq!(
        (o.last_step.as_str(), o.last_status),
        ("land", StepStatus::Succeeded)
    );

    // The limit keeps the newest (checked so that runs written meanwhile by others, which
    // can only be newer, do not break it).
    assert!(log.runs(0).await.expect("runs").is_empty());
    let one = log.runs(1).await.expect("runs");
    assert_eq!(one.len(), 1);
    assert!(one[0].started_at >= n.started_at, "{one:?}");
    let two = log.runs(2).await.expect("runs");
    assert_eq!(two.len(), 2);
    assert!(two[0].started_at >= two[1].started_at, "{two:?}");
    assert!(two[1].started_at >= o.started_at, "{two:?}");
}

/// An unknown run has no attempts and is in no summary.
pub async fn unknown_run(log: &dyn RunLog) {
    let run = unique_run_id("unknown");
    assert!(log.attempts(&run).await.expect("attempts").is_empty());
    let runs = log.runs(usize::MAX).await.expect("runs");
    assert!(runs.iter().all(|r| r.run_id != run));
}

/// Empty or `#`-laden names and counts past `i64::MAX` are [`Error::Data`], and nothing is
/// written.
pub async fn invalid_input(log: &dyn RunLog) {
    let run = unique_run_id("invalid");
    for (step, shard) in [
        ("", None),
        ("a#b", None),
        ("land", Some("")),
        ("land", Some("1#2")),
    ] {
        let e = log
            .start("conformance", &run, step, shard)
            .await
            .expect_err("an invalid step or shard");
        assert!(matches!(e, Error::Data(_)), "{e}");
    }
    let e = log
        .start("conformance", "", "land", None)
        .await
        .expect_err("an empty run id");
    assert!(matches!(e, Error::Data(_)), "{e}");
    let a = log
        .start("conformance", &run, "land", None)
        .await
        .expect("start");
    let e = log
        .finish(&StepAttempt {
            bytes: Some(u64::MAX),
            ..a.clone()
        })
        .await
        .expect_err("bytes past i64::MAX");
    assert!(matches!(e, Error::Data(_)), "{e}");
    assert_eq!(log.attempts(&run).await.expect("attempts"), [a]);
}
