//! The fault-injection suite, run by `scripts/chaos.sh` (which starts services of its own, so
//! that stopping them disturbs no other test): `pipeline run` killed with SIGKILL at seeded
//! random moments inside every step, each kill followed by a rerun that must leave every
//! layer equal, row for row, to a clean run's, with no duplicate ever visible and nothing
//! orphaned (PostgreSQL lane tables, the local object store's staging files); PostgreSQL and
//! the S3/DynamoDB server stopped mid-run and started again; a data folder that fills up.
//!
//! Ignored by a plain `cargo test`: `chaos.sh` runs them with `--run-ignored only`. Settings
//! (environment): `ABFORGE_CHAOS_KILLS_PER_STEP` (default 1), `ABFORGE_CHAOS_SEED`,
//! `ABFORGE_CHAOS_CUSTOMERS` (default 20 000), `ABFORGE_CHAOS_REPORT` (a JSON-lines file the
//! figures are appended to).

#![allow(clippy::print_stderr)] // the figures and the skip note go to the test's output

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::backends::*;
use common::ok;

const STEPS: [&str; 7] = [
    "generate", "land", "publish", "bronze", "silver", "gold", "analyze",
];

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small seeded generator (xorshift64*), so that the kill moments are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Appends one line of figures to the report file, when one is named.
fn report(line: serde_json::Value) {
    eprintln!("chaos: {line}");
    if let Ok(path) = std::env::var("ABFORGE_CHAOS_REPORT") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "{line}").unwrap();
    }
}

/// The step whose attempt is in flight (started, not ended) in the run log, if any.
fn in_flight(b: &Backends) -> Option<String> {
    let out = b.cmd(&["runs", "show", RUN, "--json"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    show["attempts"]
        .as_array()?
        .iter()
        .rev()
        .find(|a| a["status"] == "started")
        .and_then(|a| a["step"].as_str().map(str::to_owned))
}

/// What must hold the moment after a kill: no customer twice, and either none or all of
/// them visible.
fn check_after_kill(b: &Backends, customers: u64) {
    let seen = b.customer_counts();
    let mut f = seen.split('|');
    let n: i64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let distinct: i64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    assert_eq!(n, distinct, "a duplicate is visible after a kill: {seen}");
    assert!(
        n == 0 || n == customers as i64,
        "a partial load is visible after a kill: {seen}"
    );
}

/// Orphans a rerun must not leave: lane tables not attached as partitions (PostgreSQL), and
/// the local object store's staging files (`…#N`).
fn orphans(b: &Backends) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(db) = &b.pg {
        let out = Command::new("psql")
            .args([
                db.as_str(),
                "-At",
                "-c",
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition \
                 AND relname LIKE 'customers\\_%\\_l%'",
            ])
            .output()
            .unwrap();
        ok(&out);
        found.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| format!("lane table {l}")),
        );
    }
    // The run's folder and the params (the lake's folders are swept of staging files older
    // than 15 minutes: other runs write there).
    let objects = b.dir.path().join("data/objects");
    let mut stack = vec![objects.join("runs"), objects.join("params")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains('#'))
            {
                found.push(format!("staging file {}", p.display()));
            }
        }
    }
    found
}

/// Kills `pipeline run` inside every step, `per_step` times each, at seeded moments; after
/// each kill checks what is visible, reruns, and compares every layer with a clean run's.
fn kills(set: &str, make: &dyn Fn(&str) -> Option<Backends>) {
    let Some(clean) = make("clean") else {
        return;
    };
    let customers = setting("ABFORGE_CHAOS_CUSTOMERS", 20_000);
    let per_step = setting("ABFORGE_CHAOS_KILLS_PER_STEP", 1);
    let mut rng = Rng(setting("ABFORGE_CHAOS_SEED", 0x5eed) | 1);
    let bps = tempfile::tempdir().unwrap();
    let bp = variant(bps.path(), "chaos", customers, false);
    let t0 = Instant::now();
    clean.run(&bp);
    let clean_secs = t0.elapsed().as_secs_f64();
    let want = clean.layers();
    let mut b = make("killed").unwrap();
    // A killed writer holds the run for one lease: the rerun waits that long.
    b.env.push(("ABFORGE_RUN_LEASE_MS".into(), "3000".into()));
    b.env.push(("ABFORGE_RUN_WAIT_MS".into(), "60000".into()));
    let bp_arg = bp.to_str().unwrap();
    let args = ["pipeline", "run", "-b", bp_arg, "--run-date", DATE, "-q"];
    let mut killed_in: Vec<String> = Vec::new();
    for step in STEPS {
        for _ in 0..per_step {
            let mut child = b.cmd(&args).spawn().unwrap();
            // Wait for the step to start, then a seeded moment inside it.
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut reached = false;
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                if in_flight(&b).as_deref() == Some(step) {
                    reached = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if reached {
                std::thread::sleep(Duration::from_millis(rng.next() % 400));
            }
            let _ = child.kill();
            let status = child.wait().unwrap();
            let at = in_flight(&b).unwrap_or_else(|| "between steps or after".into());
            killed_in.push(if status.success() {
                "none (it ended first)".into()
            } else {
                at
            });
            check_after_kill(&b, customers);
            b.run(&bp);
            same(&b.layers(), &want, &format!("rerun after a kill in {step}"));
            let left = orphans(&b);
            assert!(left.is_empty(), "orphans after a kill in {step}: {left:?}");
        }
    }
    let mut by_step = serde_json::Map::new();
    for s in &killed_in {
        let n = by_step
            .get(s)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        by_step.insert(s.clone(), (n + 1).into());
    }
    report(serde_json::json!({
        "check": "kill -9 then rerun",
        "backends": set,
        "customers": customers,
        "clean_run_s": (clean_secs * 10.0).round() / 10.0,
        "kills": killed_in.len(),
        "killed_in": by_step,
        "reruns_equal_to_a_clean_run": killed_in.len(),
        "duplicates_seen": 0,
        "partial_loads_seen": 0,
        "rows_lost": 0,
        "orphans_left": 0,
    }));
}

#[cfg(unix)]
#[test]
#[ignore = "run by scripts/chaos.sh"]
fn kills_on_the_embedded_backends() {
    kills("embedded (SQLite + local folder)", &|_| {
        Some(Backends::embedded())
    });
}

#[cfg(unix)]
#[test]
#[ignore = "run by scripts/chaos.sh"]
fn kills_on_postgres_s3_and_dynamodb() {
    kills("PostgreSQL + S3 + DynamoDB", &Backends::aws_like);
}

/// `bash scripts/services.sh ARGS` on the chaos script's own services.
fn services(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    ok(&out);
}

/// A backend stopped while a run is inside `step`, and started again `down` later: the run
/// retries and succeeds, or fails with the step logged; a rerun then completes, equal to a
/// clean run.
fn outage(
    b: &Backends,
    clean: &[(String, String)],
    bp: &Path,
    service: &str,
    step: &str,
) -> String {
    let bp_arg = bp.to_str().unwrap();
    let args = ["pipeline", "run", "-b", bp_arg, "--run-date", DATE, "-q"];
    let mut child = b
        .cmd(&args)
        .env("ABFORGE_RETRY_ATTEMPTS", "6")
        .env("ABFORGE_RETRY_DELAY_MS", "500")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        if in_flight(b).as_deref() == Some(step) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    services(&[&format!("{service}-stop")]);
    std::thread::sleep(Duration::from_secs(2));
    services(&[&format!("{service}-start")]);
    let status = child.wait().unwrap();
    // moto starts again empty (its run log table too): the failure may not be in the log.
    let outcome = match status.code() {
        Some(0) => "succeeded after retries",
        Some(1) => "exit 1",
        other => panic!("a run whose backend went away exits 0 or 1, not {other:?}"),
    };
    b.run(bp);
    same(
        &b.layers(),
        clean,
        &format!("rerun after {service} went away in {step}"),
    );
    outcome.to_string()
}

#[cfg(unix)]
#[test]
#[ignore = "run by scripts/chaos.sh"]
fn backends_that_go_away_and_come_back() {
    let Some(clean) = Backends::aws_like("oclean") else {
        return;
    };
    let bps = tempfile::tempdir().unwrap();
    let bp = variant(
        bps.path(),
        "outage",
        setting("ABFORGE_CHAOS_CUSTOMERS", 20_000),
        false,
    );
    clean.run(&bp);
    let want = clean.layers();
    let mut b = Backends::aws_like("outage").unwrap();
    // A run that could not release its lease (its database was down) holds the run one
    // lease at most: the rerun waits that long.
    b.env.push(("ABFORGE_RUN_LEASE_MS".into(), "3000".into()));
    b.env.push(("ABFORGE_RUN_WAIT_MS".into(), "60000".into()));
    let mut outcomes = serde_json::Map::new();
    for (service, step) in [("pg", "land"), ("pg", "analyze"), ("moto", "bronze")] {
        let outcome = outage(&b, &want, &bp, service, step);
        outcomes.insert(format!("{service} stopped in {step}"), outcome.into());
    }
    report(serde_json::json!({
        "check": "a backend stopped mid-run and started again, then a rerun",
        "backends": "PostgreSQL + S3 + DynamoDB",
        "outages": outcomes.len(),
        "outcomes": outcomes,
        "reruns_equal_to_a_clean_run": outcomes.len(),
        "rows_lost": 0,
    }));
}

/// A tmpfs of `mb` MiB mounted on a new folder (root only); unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(mb: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        out.status.success().then_some(Tmpfs(dir))
    }

    fn resize(&self, mb: u64) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={mb}m")])
            .arg(self.0.path())
            .output()
            .unwrap();
        ok(&out);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).output();
    }
}

#[cfg(unix)]
#[test]
#[ignore = "run by scripts/chaos.sh"]
fn a_full_data_folder_fails_clearly_and_leaves_nothing_half_written() {
    let Some(disk) = Tmpfs::mount(6) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: tmpfs mounts"
        );
        eprintln!("skipped: cannot mount a tmpfs (not root)");
        return;
    };
    let bps = tempfile::tempdir().unwrap();
    let customers = 200_000;
    let bp = variant(bps.path(), "full", customers, false);
    let b = Backends::embedded();
    let data = disk.0.path().join("data");
    let args = [
        "pipeline",
        "run",
        "-b",
        bp.to_str().unwrap(),
        "--run-date",
        DATE,
        "-q",
    ];
    let out = b
        .cmd(&args)
        .env("ABFORGE_DATA_DIR", &data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("No space left on device") || stderr.contains("disk is full"),
        "the error says the disk is full: {stderr}"
    );
    // Nothing half-written is visible: no customer or all of them, no staging file.
    let db = data.join("abforge.sqlite");
    if let Ok(c) = rusqlite::Connection::open(&db) {
        let n: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM customers WHERE run_id = ?1",
                [RUN],
                |r| r.get(0),
            )
            .unwrap_or(0);
        assert!(n == 0 || n == customers as i64, "{n} customers visible");
    }
    // With room again, a rerun completes.
    disk.resize(512);
    let out = b
        .cmd(&args)
        .env("ABFORGE_DATA_DIR", &data)
        .output()
        .unwrap();
    ok(&out);
    report(serde_json::json!({
        "check": "a full data folder (tmpfs of 6 MiB), then room again",
        "backends": "embedded (SQLite + local folder)",
        "customers": customers,
        "first_run": "exit 1, the disk named full",
        "rerun": "succeeded",
        "rows_lost": 0,
    }));
}
