//! One writer per run, as processes: a second `pipeline run` of a run being written exits 2
//! naming the holder; one that waits takes the run over once the first is killed and its
//! lease has run out, and completes it. A step that panics is logged as failed and the run
//! marked failed, never left `running`; the next run resumes from it.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod common;
use common::*;

const DATE: &str = "2026-12-21";
const RUN: &str = "seed-20261221";

fn run_args(bp: &str) -> Vec<String> {
    ["pipeline", "run", "-b", bp, "--run-date", DATE, "-q"]
        .map(String::from)
        .to_vec()
}

fn cmd(dir: &Path, args: &[String]) -> Command {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    abforge(dir, &args)
}

/// The holder of the run's lease, once the first writer has taken it (polls the SQLite
/// file; gives up after a minute, when the writer must have failed).
fn wait_for_lease(db: &Path, child: &mut Child) -> String {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the first writer ended ({status}) before its lease was seen");
        }
        if let Ok(c) = rusqlite::Connection::open(db) {
            let owner = c.query_row(
                "SELECT owner FROM locks WHERE name = ?1",
                [format!("run:{RUN}")],
                |r| r.get::<_, String>(0),
            );
            if let Ok(owner) = owner {
                return owner;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no lease after a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn status(dir: &Path) -> serde_json::Value {
    let out = abforge(dir, &["runs", "show", RUN, "--json"])
        .output()
        .unwrap();
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[cfg(unix)]
#[test]
fn a_second_writer_of_a_run_exits_2_or_waits_for_a_dead_holder() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 1_500_000);
    let args = run_args(bp.to_str().unwrap());
    let db = dir.path().join("data/abforge.sqlite");
    let mut first = cmd(dir.path(), &args)
        .env("ABFORGE_RUN_LEASE_MS", "6000")
        .spawn()
        .unwrap();
    let holder = wait_for_lease(&db, &mut first);

    // A second writer that does not wait: exit 2, naming the holder and since when.
    let out = cmd(dir.path(), &args).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("run {RUN} is being written by {holder} since ")),
        "{stderr}"
    );

    // One that waits: the holder is killed; once its lease has run out (it is no longer
    // renewed) the waiting writer takes the run and completes it.
    let mut second = cmd(dir.path(), &args)
        .env("ABFORGE_RUN_WAIT_MS", "120000")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        second.try_wait().unwrap().is_none(),
        "the second writer waits"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let done = second.wait().unwrap();
    assert!(
        done.success(),
        "the waiting writer completed the run: {done}"
    );
    let show = status(dir.path());
    assert_eq!(show["run"]["status"], "succeeded", "{show}");
    assert_eq!(show["run"]["rows"], 1_500_000, "{show}");
    // The lease was released.
    let c = rusqlite::Connection::open(&db).unwrap();
    let locks: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM locks WHERE name LIKE 'run:%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(locks, 0);
}

#[test]
fn a_step_that_panics_fails_the_run_and_the_next_run_resumes_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 2_000);
    let args = run_args(bp.to_str().unwrap());
    let out = cmd(dir.path(), &args)
        .env("ABFORGE_FAULT_INJECT", "panic:silver")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let show = status(dir.path());
    assert_eq!(show["run"]["status"], "failed", "{show}");
    let silver = show["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|a| a["step"] == "silver")
        .cloned()
        .unwrap_or_else(|| panic!("silver in the run log: {show}"));
    assert_eq!(silver["status"], "failed", "{silver}");
    assert!(
        silver["error"]
            .as_str()
            .unwrap()
            .contains("the silver step panicked: a fault injected"),
        "{silver}"
    );
    // The next run goes on from silver.
    let out = cmd(dir.path(), &args).output().unwrap();
    ok(&out);
    let show = status(dir.path());
    assert_eq!(show["run"]["status"], "succeeded", "{show}");
}
