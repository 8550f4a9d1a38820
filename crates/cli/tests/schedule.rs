//! `abforge pipeline backfill` and `abforge schedule` as processes: bad input (exit 2 with a
//! message), a backfill that runs each date once, resumes after a kill and reports failures,
//! and the scheduler — one tick at a time with `--once` and a pretended clock (`--now`),
//! missed ticks skipped or caught up, two schedulers contending for the lock, a lock held by
//! someone else (waited for) or left by a dead scheduler (taken over), SIGTERM while idle
//! and while a run is in flight. No assertion depends on how long anything takes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;
use common::*;

/// How long a test waits for a line or a state before it gives up (a hang, not a timing).
const PATIENCE: Duration = Duration::from_secs(600);

fn db(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join("data/abforge.sqlite")).unwrap();
    c.busy_timeout(Duration::from_secs(30)).unwrap();
    c
}

/// (status, customers landed, distinct ids) of a run in the SQLite store.
fn run_state(dir: &Path, run_id: &str) -> Option<(String, i64, i64)> {
    let c = db(dir);
    let status: Option<String> = c
        .query_row("SELECT status FROM runs WHERE run_id = ?1", [run_id], |r| {
            r.get(0)
        })
        .ok();
    let (n, distinct): (i64, i64) = c
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM customers WHERE run_id = ?1",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    status.map(|s| (s, n, distinct))
}

/// `abforge runs show RUN --json`.
fn show(dir: &Path, run_id: &str) -> serde_json::Value {
    let out = abforge(dir, &["runs", "show", run_id, "--json"])
        .output()
        .unwrap();
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Attempts of `step` in a run's log.
fn attempts(dir: &Path, run_id: &str, step: &str) -> Vec<serde_json::Value> {
    show(dir, run_id)["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["step"] == step)
        .cloned()
        .collect()
}

#[test]
fn bad_input_exits_2_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed();
    let seed = seed.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["schedule", "--cron", "0 9 * * FUNDAY", "-b", seed],
            "--cron",
        ),
        (&["schedule", "--cron", "0 25 * * *", "-b", seed], "--cron"),
        (&["schedule", "--cron", "0 9 * *", "-b", seed], "5 fields"),
        (
            &["schedule", "--cron", "0 0 30 2 *", "-b", seed],
            "never fires",
        ),
        (&["schedule", "--tz", "Europe/Pariss", "-b", seed], "--tz"),
        (&["schedule", "--tz", "+25:00", "-b", seed], "fixed offset"),
        (&["schedule", "--name", "a b", "-b", seed], "--name"),
        (&["schedule", "-b", "no-such.toml"], "no-such.toml"),
        (
            &["schedule", "-b", seed, "-b", "missing-too.toml"],
            "missing-too.toml",
        ),
        (
            &["schedule", "--catch-up", "--skip-missed", "-b", seed],
            "--skip-missed",
        ),
        (&["schedule", "--now", "yesterday", "-b", seed], "--now"),
        (&["schedule", "--lease", "0", "-b", seed], "--lease"),
        (
            &[
                "pipeline",
                "backfill",
                "--from",
                "2026-12-01",
                "--to",
                "2026-11-01",
                "-b",
                seed,
            ],
            "--from 2026-12-01: comes after the last date, 2026-11-01",
        ),
        (
            &[
                "pipeline",
                "backfill",
                "--from",
                "2026-11-01",
                "--to",
                "2026-12-01",
                "--every",
                "0d",
                "-b",
                seed,
            ],
            "--every",
        ),
        (
            &[
                "pipeline",
                "backfill",
                "--from",
                "2026-11-01",
                "--to",
                "2026-12-01",
                "--every",
                "7h",
                "-b",
                seed,
            ],
            "7d, 1d, 2w",
        ),
        (
            &[
                "pipeline",
                "backfill",
                "--from",
                "2026-13-01",
                "--to",
                "2026-12-01",
            ],
            "--from",
        ),
        (&["pipeline", "backfill", "--to", "2026-12-01"], "--from"),
        (
            &[
                "pipeline",
                "backfill",
                "--from",
                "2026-11-01",
                "--to",
                "2026-12-01",
                "-b",
                "no-such.toml",
            ],
            "no-such.toml",
        ),
        (
            &["pipeline", "step", "lnad", "--run-date", "2026-11-23"],
            "is not a step",
        ),
        (
            &[
                "pipeline",
                "step",
                "land",
                "--run-date",
                "2026-11-23",
                "--shard",
                "3/2",
            ],
            "K/N",
        ),
    ];
    for (args, want) in cases {
        let out = abforge(dir.path(), args).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: wanted {want:?} in: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert!(!dir.path().join("data").exists(), "nothing was written");
}

#[test]
fn backfill_runs_each_date_once_resumes_and_skips_what_succeeded() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 3_000);
    let bp = bp.to_str().unwrap();
    // An interrupted run of the second date: generate done, nothing else (as a killed
    // `pipeline run` leaves it).
    let out = abforge(
        dir.path(),
        &[
            "pipeline",
            "step",
            "generate",
            "--run-date",
            "2026-11-09",
            "-b",
            bp,
            "-q",
        ],
    )
    .output()
    .unwrap();
    ok(&out);
    let args = [
        "pipeline",
        "backfill",
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-24",
        "-b",
        bp,
    ];
    let out = abforge(dir.path(), &args).output().unwrap();
    ok(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("backfill of seed from 2026-11-02 to 2026-11-24 every 1w: 4 run dates"),
        "{stdout}"
    );
    assert!(
        stdout.contains("4 succeeded, 0 skipped (had succeeded), 0 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("(resumed from land)"), "{stdout}");
    // Without a terminal, a line per date on stderr as it ends.
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("succeeded").count(), 4, "{stderr}");
    for d in ["20261102", "20261109", "20261116", "20261123"] {
        let run = format!("seed-{d}");
        assert_eq!(
            run_state(dir.path(), &run),
            Some(("succeeded".into(), 3_000, 3_000)),
            "{run}"
        );
    }
    // The interrupted date's generate ran once, before the backfill; the others ran once.
    assert_eq!(attempts(dir.path(), "seed-20261109", "generate").len(), 1);
    assert_eq!(attempts(dir.path(), "seed-20261116", "land").len(), 1);

    // Again: nothing to do.
    let mut json = args.to_vec();
    json.push("--json");
    let out = abforge(dir.path(), &json).output().unwrap();
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["succeeded"], &report["skipped"], &report["failed"]),
        (&0.into(), &4.into(), &0.into()),
        "{report}"
    );
    assert!(
        report["dates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["outcome"] == "skipped" && d["rows"] == 3_000)
    );
    assert_eq!(attempts(dir.path(), "seed-20261116", "land").len(), 1);

    // Every other day: the new dates run, the Monday ones are skipped. -q prints nothing.
    let out = abforge(
        dir.path(),
        &[
            "pipeline",
            "backfill",
            "--from",
            "2026-11-16",
            "--to",
            "2026-11-20",
            "--every",
            "2d",
            "-b",
            bp,
            "-q",
        ],
    )
    .output()
    .unwrap();
    ok(&out);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert_eq!(
        run_state(dir.path(), "seed-20261118").map(|s| s.0),
        Some("succeeded".into())
    );
}

/// A backfill killed (SIGKILL) once its first date is done finishes the rest when run again,
/// each date landed exactly once.
#[cfg(unix)]
#[test]
fn a_killed_backfill_goes_on_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 20_000);
    let bp = bp.to_str().unwrap();
    let args = [
        "pipeline",
        "backfill",
        "--from",
        "2026-10-05",
        "--to",
        "2026-11-09",
        "-b",
        bp,
        "--json",
    ];
    let mut child = abforge(dir.path(), &args)
        // A killed writer holds its run one (short) lease; the next one waits for it.
        .env("ABFORGE_RUN_LEASE_MS", "2000")
        .env("ABFORGE_RUN_WAIT_MS", "60000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    loop {
        let db_file = dir.path().join("data/abforge.sqlite");
        let done: i64 = if db_file.is_file() {
            db(dir.path())
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = 'runs'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .ok()
                .filter(|n| *n == 1)
                .and_then(|_| {
                    db(dir.path())
                        .query_row(
                            "SELECT COUNT(*) FROM runs WHERE status = 'succeeded'",
                            [],
                            |r| r.get(0),
                        )
                        .ok()
                })
                .unwrap_or(0)
        } else {
            0
        };
        if done >= 1 || child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(t0.elapsed() < PATIENCE, "the first date never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = abforge(dir.path(), &args)
        // A killed writer holds its run one (short) lease; the next one waits for it.
        .env("ABFORGE_RUN_LEASE_MS", "2000")
        .env("ABFORGE_RUN_WAIT_MS", "60000")
        .output()
        .unwrap();
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = |k: &str| report[k].as_u64().unwrap();
    assert!(n("skipped") >= 1, "{report}");
    assert_eq!(
        (n("failed"), n("succeeded") + n("skipped")),
        (0, 6),
        "{report}"
    );
    for d in [
        "20261005", "20261012", "20261019", "20261026", "20261102", "20261109",
    ] {
        assert_eq!(
            run_state(dir.path(), &format!("seed-{d}")),
            Some(("succeeded".into(), 20_000, 20_000)),
            "{d}"
        );
    }
}

#[test]
fn a_backfill_that_fails_says_which_dates_and_fail_fast_stops() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 1_000);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "pipeline",
            "backfill",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-16",
            "-b",
            bp.to_str().unwrap(),
            "--attempts",
            "1",
            "--json",
        ];
        args.extend_from_slice(extra);
        abforge(dir.path(), &args)
            .env("ABFORGE_OBJECT_STORE_URL", "s3://nowhere/abforge")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("3 of 3 run dates failed (2026-11-02, 2026-11-09, 2026-11-16)"),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed"], 3);
    assert!(
        report["dates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["failed_step"] == "generate" && d["error"].is_string())
    );
    let out = run(&["--fail-fast"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["failed"], &report["not_reached"]),
        (&1.into(), &2.into())
    );
    assert!(text(&out.stderr).contains("1 of 3 run dates failed (2026-11-02)"));
}

/// The stderr lines of a running child, as they come.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`.
    fn wait_for(&mut self, needle: &str) {
        loop {
            match self.rx.recv_timeout(PATIENCE) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Every line up to the end.
    fn rest(mut self) -> String {
        while let Ok(line) = self.rx.recv_timeout(PATIENCE) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

#[test]
fn schedule_once_runs_the_due_tick_then_skips_or_catches_up_missed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 2_000);
    let bp = bp.to_str().unwrap();
    let once = |now: &str, extra: &[&str]| {
        let mut args = vec!["schedule", "--once", "-b", bp, "--now", now];
        args.extend_from_slice(extra);
        let out = abforge(dir.path(), &args).output().unwrap();
        ok(&out);
        text(&out.stderr)
    };
    // A first start on Wednesday 2026-11-25: the latest tick, Monday 09:00, runs.
    let err = once("2026-11-25T12:00:00Z", &[]);
    assert!(
        err.contains("tick 2026-11-23 09:00:00 UTC: run date 2026-11-23"),
        "{err}"
    );
    assert!(
        err.contains("seed-20261123 succeeded: 2,000 customers"),
        "{err}"
    );
    assert!(err.contains("done: 1 tick(s) run (0 failed)"), "{err}");
    assert_eq!(
        run_state(dir.path(), "seed-20261123"),
        Some(("succeeded".into(), 2_000, 2_000))
    );
    let ticks = attempts(dir.path(), "schedule:default:20261123", "schedule-tick");
    assert_eq!(ticks.len(), 1, "{ticks:?}");
    assert_eq!(ticks[0]["status"], "succeeded");
    assert_eq!(ticks[0]["rows"], 2_000);
    let msg = ticks[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("tick 2026-11-23 09:00:00 UTC") && msg.contains("seed-20261123 succeeded"),
        "{msg}"
    );

    // The same moment again: that tick is recorded, nothing is due.
    let err = once("2026-11-25T12:00:00Z", &[]);
    assert!(err.contains("done: 0 tick(s) run"), "{err}");
    assert_eq!(
        attempts(dir.path(), "schedule:default:20261123", "schedule-tick").len(),
        1
    );

    // Three Mondays later, missed ticks skipped (the default): only the latest runs.
    let err = once("2026-12-15T12:00:00Z", &[]);
    assert!(
        err.contains(
            "skipped 2 missed tick(s), 2026-11-30 09:00:00 UTC to 2026-12-07 09:00:00 UTC"
        ),
        "{err}"
    );
    assert!(err.contains("seed-20261214 succeeded"), "{err}");
    assert_eq!(run_state(dir.path(), "seed-20261130"), None);
    assert_eq!(run_state(dir.path(), "seed-20261207"), None);
    let skipped = attempts(dir.path(), "schedule:default:20261207", "schedule-tick");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("2 missed tick(s) skipped"),
        "{skipped:?}"
    );

    // Caught up: both missed Mondays run, in order, at +01:00 (09:00 there is 08:00 UTC).
    let err = once(
        "2026-12-29T12:00:00Z",
        &["--catch-up", "--tz", "+01:00", "--name", "eu"],
    );
    // A new schedule name starts afresh: on a first start only the latest tick is due.
    assert!(err.contains("seed-20261228 succeeded"), "{err}");
    let err = once(
        "2027-01-12T12:00:00Z",
        &["--catch-up", "--tz", "+01:00", "--name", "eu"],
    );
    let a = err.find("tick 2027-01-04 09:00:00 +01:00").expect(&err);
    let b = err.find("tick 2027-01-11 09:00:00 +01:00").expect(&err);
    assert!(a < b, "oldest first: {err}");
    assert!(err.contains("done: 2 tick(s) run"), "{err}");
    for run in ["seed-20270104", "seed-20270111"] {
        assert_eq!(
            run_state(dir.path(), run).map(|s| s.0),
            Some("succeeded".into())
        );
    }
    // `runs list` shows the ticks beside the runs.
    let out = abforge(dir.path(), &["runs", "list"]).output().unwrap();
    ok(&out);
    let list = text(&out.stdout);
    assert!(
        list.contains("schedule:eu:20270111") && list.contains("seed-20270111"),
        "{list}"
    );
}

#[test]
fn two_schedulers_run_a_tick_once() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 50_000);
    let bp = bp.to_str().unwrap();
    let args = [
        "schedule",
        "--once",
        "-b",
        bp,
        "--now",
        "2026-11-23T09:00:30Z",
    ];
    let a = abforge(dir.path(), &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = abforge(dir.path(), &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    ok(&a);
    ok(&b);
    let (ea, eb) = (text(&a.stderr), text(&b.stderr));
    let ran = [&ea, &eb]
        .iter()
        .filter(|e| e.contains("done: 1 tick(s) run"))
        .count();
    assert_eq!(ran, 1, "exactly one ran the tick:\n{ea}\n---\n{eb}");
    let other = if ea.contains("done: 1 tick(s) run") {
        &eb
    } else {
        &ea
    };
    assert!(
        other.contains("handled by another scheduler") || other.contains("done: 0 tick(s) run"),
        "{other}"
    );
    assert_eq!(
        attempts(dir.path(), "schedule:default:20261123", "schedule-tick").len(),
        1
    );
    assert_eq!(attempts(dir.path(), "seed-20261123", "generate").len(), 1);
    assert_eq!(
        run_state(dir.path(), "seed-20261123"),
        Some(("succeeded".into(), 50_000, 50_000))
    );
}

#[cfg(unix)]
#[test]
fn a_held_lock_is_waited_for_and_a_dead_holders_lock_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 2_000);
    let bp = bp.to_str().unwrap();
    // The store's tables, nothing run.
    ok(&abforge(dir.path(), &["runs", "list"]).output().unwrap());
    let far = "2999-01-01T00:00:00.000000Z";
    db(dir.path())
        .execute(
            "INSERT INTO locks (name, owner, acquired_at, expires_at) \
             VALUES ('abforge-scheduler', 'someone-else', '2026-01-01T00:00:00.000000Z', ?1)",
            [far],
        )
        .unwrap();
    let mut child = abforge(
        dir.path(),
        &[
            "schedule",
            "--once",
            "-b",
            bp,
            "--now",
            "2026-11-23T09:00:30Z",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("waiting for the scheduler lock, held by someone-else");
    assert_eq!(
        run_state(dir.path(), "seed-20261123"),
        None,
        "nothing runs while the lock is held"
    );
    db(dir.path())
        .execute("DELETE FROM locks WHERE owner = 'someone-else'", [])
        .unwrap();
    assert!(child.wait().unwrap().success());
    let err = lines.rest();
    assert!(err.contains("seed-20261123 succeeded"), "{err}");
    assert_eq!(
        run_state(dir.path(), "seed-20261123").map(|s| s.0),
        Some("succeeded".into())
    );
    // Released after the tick.
    let held: i64 = db(dir.path())
        .query_row("SELECT COUNT(*) FROM locks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(held, 0);

    // A lease that ran out (its scheduler died): taken over at once.
    db(dir.path())
        .execute(
            "INSERT INTO locks (name, owner, acquired_at, expires_at) VALUES \
             ('abforge-scheduler', 'dead', '2026-01-01T00:00:00.000000Z', \
             '2026-01-01T00:01:00.000000Z')",
            [],
        )
        .unwrap();
    let out = abforge(
        dir.path(),
        &[
            "schedule",
            "--once",
            "-b",
            bp,
            "--now",
            "2026-11-30T09:00:30Z",
        ],
    )
    .output()
    .unwrap();
    ok(&out);
    let err = text(&out.stderr);
    assert!(!err.contains("waiting for the scheduler lock"), "{err}");
    assert!(err.contains("seed-20261130 succeeded"), "{err}");
}

#[cfg(unix)]
fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn sigterm_stops_an_idle_scheduler_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 1_000);
    let mut child = abforge(
        dir.path(),
        &[
            "schedule",
            "-b",
            bp.to_str().unwrap(),
            "--now",
            "2026-11-23T10:00:00Z",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = Lines::of(&mut child);
    // A first start waits for the next tick: a week away.
    lines.wait_for("next tick 2026-11-30 09:00:00 UTC (run date 2026-11-30); waiting");
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    let err = lines.rest();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("SIGTERM: stopping"), "{err}");
    assert!(err.contains("stopped: 0 tick(s) run"), "{err}");
}

#[cfg(unix)]
#[test]
fn sigterm_lets_the_run_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let bp = blueprint(dir.path(), 1_500_000);
    let mut child = abforge(
        dir.path(),
        &[
            "schedule",
            "-b",
            bp.to_str().unwrap(),
            "--now",
            "2026-11-23T08:59:59Z",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("running seed-20261123");
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    let err = lines.rest();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("SIGTERM: stopping once the run in flight has finished"),
        "{err}"
    );
    assert!(err.contains("seed-20261123 succeeded"), "{err}");
    assert!(err.contains("stopped: 1 tick(s) run (0 failed)"), "{err}");
    assert_eq!(
        run_state(dir.path(), "seed-20261123"),
        Some(("succeeded".into(), 1_500_000, 1_500_000))
    );
    let ticks = attempts(dir.path(), "schedule:default:20261123", "schedule-tick");
    assert_eq!(ticks.len(), 1);
    assert_eq!(ticks[0]["status"], "succeeded");
}
