//! The command line as a user meets it: exit codes, messages, files written or not.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn abforge() -> Command {
    let mut c = Command::cargo_bin("abforge").unwrap();
    c.current_dir(repo()).env_remove("RUST_LOG");
    c
}

fn example(name: &str) -> String {
    repo().join("examples").join(name).display().to_string()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn generate_writes_parquet_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seed.parquet");
    abforge()
        .args([
            "generate",
            "--blueprint",
            &example("seed.toml"),
            "--customers",
            "70000",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success()
        .stdout("")
        .stderr(
            predicate::str::is_match(
                r"^wrote 70,000 rows × 9 columns \(parquet\) to .*seed\.parquet: .* rows/s\n$",
            )
            .unwrap(),
        );
    let file = std::fs::File::open(&out).unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 70_000);
    assert_eq!(reader.metadata().num_row_groups(), 1);
    assert_eq!(
        entries(dir.path()),
        ["seed.parquet"],
        "no temporary file left"
    );
}

#[test]
fn threads_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let run = |threads: &str, name: &str| {
        let out = dir.path().join(name);
        abforge()
            .args([
                "-q",
                "generate",
                "-b",
                &example("abn_cuped.toml"),
                "-n",
                "100000",
                "-j",
                threads,
                "-o",
            ])
            .arg(&out)
            .assert()
            .success()
            .stderr("");
        std::fs::read(out).unwrap()
    };
    assert_eq!(
        run("1", "a.parquet"),
        run("2", "b.parquet"),
        "same bytes whatever the thread count"
    );
    let csv = String::from_utf8(run("2", "c.csv")).unwrap();
    assert!(
        csv.starts_with(
            "customer_id,experiment_id,group,purchase_date,revenue,pre_revenue\n0,abn-cuped,"
        ),
        "{}",
        &csv[..200]
    );
    assert_eq!(csv.lines().count(), 100_001);
    let jsonl = String::from_utf8(run("2", "d.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 100_000);
}

#[test]
fn streams_to_stdout() {
    abforge()
        .args([
            "generate",
            "-b",
            &example("segment_effect.toml"),
            "-n",
            "3",
            "--out",
            "-",
            "--format",
            "jsonl",
        ])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "{\"customer_id\":0,\"experiment_id\":\"segment-effect\",\"group\":",
        ))
        .stdout(predicate::function(|s: &str| s.lines().count() == 3));
}

#[test]
fn invalid_blueprint_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bp = dir.path().join("bad.toml");
    std::fs::write(&bp, "id = \"x\"\ncustomers = 0\nstart_date = 2026-01-01\ndays = 1\n[groups]\ncontrol = 1\ntreatment = 1\n[metrics.m]\ndistribution = \"poisson\"\ncontrol = { lambda = -1 }\ntreatment = { lambda = 1 }\n").unwrap();
    let out = dir.path().join("out.parquet");
    abforge()
        .args(["generate", "--blueprint"])
        .arg(&bp)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid blueprint: 2 problems"))
        .stderr(predicate::str::contains(
            "customers: 0 is not allowed; expected a whole number from 1 to 10000000000",
        ))
        .stderr(predicate::str::contains(
            "metrics.m.control.lambda: -1 is out of range; expected a number in (0, 1e12]",
        ));
    assert_eq!(entries(dir.path()), ["bad.toml"]);
}

#[test]
fn bad_flags_exit_2_naming_the_allowed_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.parquet");
    let seed = example("seed.toml");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--shard", "4/4"],
            "expected K/N with N >= 1 and 0 <= K < N",
        ),
        (
            &["--customers", "0"],
            "expected a whole number from 1 to 10000000000",
        ),
        (&["--format", "xml"], "possible values: parquet, csv, jsonl"),
        (&["--threads", "0"], "0 is not in 1..=65535"),
        (&["--seed", "abc"], "invalid value 'abc' for '--seed <S>'"),
    ];
    for (flags, msg) in cases {
        abforge()
            .args(["generate", "-b", &seed])
            .args(flags)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(msg));
    }
    abforge()
        .args(["generate", "-b", &seed, "-o"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a directory; give a file path"));
    abforge()
        .args(["generate", "-b", "no/such.toml", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "blueprint no/such.toml does not exist",
        ));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_failed_write_leaves_nothing_at_out() {
    let dir = tempfile::tempdir().unwrap();
    // The output's parent is a file: the run fails (exit 1, not bad input) before writing.
    std::fs::write(dir.path().join("file"), "x").unwrap();
    abforge()
        .args(["generate", "-b", &example("seed.toml"), "-n", "1000", "-o"])
        .arg(dir.path().join("file/out.parquet"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot create directory"));
}

/// Starts a run far too big to finish into `dir` and returns once its temporary file holds
/// data (or after a minute).
fn start_big_run(dir: &Path) -> std::process::Child {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("abforge"))
        .current_dir(repo())
        .args([
            "-q",
            "generate",
            "-b",
            &example("seed.toml"),
            "-n",
            "1e10",
            "-o",
        ])
        .arg(dir.join("big.parquet"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let partial = entries(dir).into_iter().find(|n| n.ends_with(".partial"));
        if partial.is_some_and(|p| std::fs::metadata(dir.join(p)).is_ok_and(|m| m.len() > 0)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[test]
fn a_killed_run_leaves_nothing_at_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_big_run(dir.path());
    child.kill().unwrap();
    child.wait().unwrap();
    // SIGKILL cannot be caught: the hidden temporary file stays, but nothing is at --out.
    assert!(
        !dir.path().join("big.parquet").exists(),
        "a killed run must not leave a file at --out"
    );
}

#[test]
fn an_interrupted_run_removes_its_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let child = start_big_run(dir.path());
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(130));
    assert_eq!(
        String::from_utf8_lossy(&done.stderr),
        "error: interrupted; nothing was written\n"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "left behind: {:?}",
        entries(dir.path())
    );
}

#[test]
fn truth_json_is_stable() {
    let out = abforge()
        .args(["truth", "--json", "-b", &example("seed.toml")])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The estimand is computed by quadrature: compare it to 10 decimals.
    insta::assert_json_snapshot!(v, { ".metrics[].effects[].prob_superiority" => insta::rounded_redaction(10) });
}

#[test]
fn truth_text_shows_effects_and_nulls() {
    abforge()
        .args(["truth", "-b", &example("segment_effect.toml")])
        .assert()
        .success()
        .stdout(predicate::str::contains("# resolved blueprint"))
        // 40 % on mobile with +0.5: the overall effect is +0.2.
        .stdout(predicate::str::contains(
            "    mean difference        +0.200000 (  +6.6667%)  null (equal means) is false",
        ));
    abforge()
        .args(["truth", "-b", &example("srm.toml")])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "control 50.0% planned / 52.0% actual",
        ))
        .stdout(predicate::str::contains("null (equal means) is true"));
}

#[test]
fn blueprint_check_and_schema() {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    files.sort();
    abforge()
        .args(["blueprint", "check"])
        .args(&files)
        .assert()
        .success()
        .stdout(predicate::function(|s: &str| {
            s.lines().count() == files.len() && s.lines().all(|l| l.contains(": ok: experiment "))
        }));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"id": "x", "customers": 10, "start_date": "2026-01-01", "days": 1, "groups": {"control": 1, "b": 1}, "metrics": {"m": {"distribution": "normal", "control": {"mean": 0, "sd": 0}, "b": {"lift": 0.1}}}}"#).unwrap();
    abforge()
        .args(["blueprint", "check"])
        .arg(&bad)
        .arg(&files[0])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "metrics.m.control.sd: 0 is out of range; expected a number > 0",
        ))
        .stderr(predicate::str::contains("1 of 2 blueprints are invalid"));
    let out = abforge().args(["blueprint", "schema"]).output().unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "abforge blueprint");
}

#[test]
fn help_describes_the_commands() {
    abforge().arg("--help").assert().success().stdout(
        predicate::str::contains("generate")
            .and(predicate::str::contains("truth"))
            .and(predicate::str::contains("blueprint")),
    );
    abforge()
        .args(["generate", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--shard <K/N>"));
}
