//! `abforge calibrate` as a user meets it: the table, the JSON, the plot, exit codes.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::PathBuf;

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

fn stdout_of(args: &[&str]) -> String {
    let out = abforge().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn json_has_the_issue_shape_and_ignores_the_thread_count() {
    let bp = example("aa_null.toml");
    let args = |j: &'static str| {
        vec![
            "-q",
            "calibrate",
            "-b",
            &bp,
            "-r",
            "300",
            "-n",
            "400",
            "--json",
            "-j",
            j,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let run = |j| {
        let a = args(j);
        stdout_of(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    let v: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["replications"], 300);
    assert_eq!(v["alpha"], 0.05);
    assert_eq!(v["customers"], 400);
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 15);
    for r in results {
        for key in [
            "metric",
            "test",
            "null_true",
            "rejection_rate",
            "ci_low",
            "ci_high",
            "type_i_error",
            "power",
            "analytic_power",
            "ci_coverage",
            "p_value_ks",
            "miscalibrated",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert_eq!(r["null_true"], true);
        assert!(r["power"].is_null());
    }
}

#[test]
fn small_run_snapshot() {
    let v: Value = serde_json::from_str(&stdout_of(&[
        "calibrate",
        "-b",
        &example("conversion.toml"),
        "-r",
        "200",
        "-n",
        "2000",
        "--tests",
        "two_proportion_z,bayes,poisson_rate",
        "--json",
    ]))
    .unwrap();
    insta::assert_json_snapshot!(v, {
        ".results[].p_value_ks_p" => insta::rounded_redaction(8),
        ".results[].analytic_power" => insta::rounded_redaction(8),
    });
}

/// A test that failed in every experiment (the median of a revenue with 70 % zeros sits on
/// the 0 atom) is said to be not computed, not to hold α on no experiment at all.
#[test]
fn a_test_failed_everywhere_is_not_said_to_hold_alpha() {
    let out = abforge()
        .args([
            "-q",
            "calibrate",
            "-b",
            &example("heavy_tailed_revenue.toml"),
            "-r",
            "20",
            "-n",
            "1000",
            "--tests",
            "welch_t,quantile_median",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text
        .lines()
        .find(|l| l.contains("quantile_median") && !l.starts_with("not computable"))
        .expect("a quantile_median row");
    assert!(
        row.contains("not computed: failed in every experiment") && !row.contains("holds"),
        "{row}"
    );
    assert!(text.contains("a median on an atom"), "{text}");
}

#[test]
fn the_table_reads_and_the_plot_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("rates.svg");
    abforge()
        .args([
            "calibrate",
            "-b",
            &example("heavy_tailed_revenue.toml"),
            "-r",
            "200",
            "-n",
            "1000",
            "--plot",
        ])
        .arg(&svg)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("heavy-tailed-revenue: 200 experiments of 1,000 customers")
                .and(predicate::str::contains("welch_t"))
                .and(predicate::str::contains("type II")),
        )
        .stderr(
            predicate::str::contains("200 experiments in")
                .and(predicate::str::contains("plot written")),
        );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("mann_whitney_u"));
}

#[test]
fn a_sweep_gives_a_power_curve() {
    let out = stdout_of(&[
        "-q",
        "calibrate",
        "-b",
        &example("conversion.toml"),
        "-r",
        "100",
        "-m",
        "converted",
        "--tests",
        "two_proportion_z",
        "--sweep",
        "customers=2000..20000:3",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["param"], "customers");
    assert_eq!(v["values"], serde_json::json!([2000.0, 11000.0, 20000.0]));
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    assert_eq!(points[2]["customers"], 20000);
    let text = stdout_of(&[
        "-q",
        "calibrate",
        "-b",
        &example("conversion.toml"),
        "-r",
        "50",
        "-m",
        "converted",
        "--tests",
        "two_proportion_z",
        "--sweep",
        "metrics.converted.treatment.lift=0..0.2:2",
    ]);
    assert!(
        text.contains("power curve over metrics.converted.treatment.lift"),
        "{text}"
    );
}

/// examples/srm.toml (52/48 realised against a planned 50/50): the table's sample-ratio
/// section says the truth and finds the mismatch with every check; in JSON the section is
/// `srm`, at the level of `--srm-alpha`.
#[test]
fn the_sample_ratio_checks_are_calibrated() {
    let common = [
        "-q",
        "calibrate",
        "-b",
        &example("srm.toml"),
        "-r",
        "50",
        "-n",
        "40000",
        "--peeks",
        "7",
        "--tests",
        "welch_t",
    ];
    let text = stdout_of(&common);
    let lines: Vec<&str> = text.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("Sample-ratio checks"))
        .unwrap_or_else(|| panic!("no sample-ratio section in {text}"));
    assert_eq!(
        lines[head],
        "Sample-ratio checks (α = 0.001, 7 looks; truth: mismatch: planned control 50.0% · \
         treatment 50.0%, actual control 52.0% · treatment 48.0%)"
    );
    for (row, name) in lines[head + 2..head + 5].iter().zip([
        "χ² at the last look",
        "χ² at every look",
        "sequential (Lindon–Malek)",
    ]) {
        assert!(row.trim_start().starts_with(name), "{row}");
        assert!(row.ends_with("misses 0.000"), "{row}");
    }
    let mut json = common.to_vec();
    json.extend(["--json", "--srm-alpha", "0.05"]);
    let v: Value = serde_json::from_str(&stdout_of(&json)).unwrap();
    let srm = &v["srm"];
    assert_eq!(
        (srm["alpha"].as_f64(), srm["looks"].as_u64()),
        (Some(0.05), Some(7))
    );
    assert_eq!(srm["mismatch"], true);
    let checks = srm["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3);
    for c in checks {
        assert_eq!(
            (c["replications"].as_u64(), c["power"].as_f64()),
            (Some(50), Some(1.0))
        );
        assert!(c["false_alarm_rate"].is_null());
    }
}

fn bad(args: &[&str], needles: &[&str]) {
    let mut a = abforge();
    a.arg("calibrate").args(args);
    let mut assert = a.assert().code(2).stdout("");
    for n in needles {
        assert = assert.stderr(predicate::str::contains(*n));
    }
}

#[test]
fn bad_flags_are_exit_2_naming_the_flag_and_what_is_allowed() {
    let bp = example("aa_null.toml");
    bad(
        &["-b", &bp, "--tests", "welch"],
        &["--tests", "welch_t", "mann_whitney_u", "permutation"],
    );
    bad(
        &["-b", &bp, "--sweep", "customers"],
        &["--sweep", "PARAM=FROM..TO:STEPS"],
    );
    bad(&["-b", &bp, "--peeks", "0"], &["--peeks"]);
    bad(
        &["-b", &bp, "--alpha", "1.5"],
        &["--alpha", "between 0 and 1"],
    );
    bad(
        &["-b", &bp, "--srm-alpha", "0"],
        &["--srm-alpha", "between 0 and 1"],
    );
    bad(&["-b", &bp, "-r", "0"], &["--replications"]);
    bad(
        &["-b", &bp, "-m", "revenu"],
        &["--metric revenu", "revenue, items, converted"],
    );
    bad(
        &["-b", &bp, "-m", "revenue", "--tests", "poisson_rate"],
        &["--tests poisson_rate", "count"],
    );
    bad(
        &[
            "-b",
            &bp,
            "--sweep",
            "metrics.revenue.treatment.lamda=1..2:2",
        ],
        &["--sweep", "shape, scale"],
    );
    bad(&["-b", &bp, "-n", "3"], &["at least 2"]);
    bad(
        &["-b", &bp, "--plot", "/nonexistent/dir/x.svg"],
        &["--plot", "does not exist"],
    );
    bad(&["-b", "nope.toml"], &["does not exist"]);
    bad(
        &["-b", &bp, "--bayes-prior", "blueprint"],
        &[
            "--bayes-prior blueprint",
            "no calibrated treatment arm has a lift drawn from a prior",
        ],
    );
    bad(
        &["-b", &bp, "--bayes-prior", "jeffreys"],
        &["--bayes-prior", "flat, blueprint"],
    );
}

#[test]
fn a_prior_lift_gets_its_claims_scored() {
    let bp = example("prior_lift.toml");
    let run = |prior: &str| {
        let out = stdout_of(&[
            "-q",
            "calibrate",
            "-b",
            &bp,
            "-r",
            "300",
            "--tests",
            "bayes",
            "--bayes-prior",
            prior,
            "--json",
        ]);
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let v = run("blueprint");
    let claims = v["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 2);
    for k in claims {
        for key in [
            "prior",
            "share_positive",
            "brier",
            "brier_if_calibrated",
            "brier_base_rate",
            "spiegelhalter_z",
            "spiegelhalter_p",
            "miscalibrated",
            "credible_coverage",
        ] {
            assert!(k.get(key).is_some(), "{key} missing in {k}");
        }
        let bins = k["bins"].as_array().unwrap();
        assert_eq!(bins.len(), 10);
        let n: u64 = bins
            .iter()
            .map(|b| b["replications"].as_u64().unwrap())
            .sum();
        assert_eq!(n, 300);
        assert!(
            k["prior"]
                .as_str()
                .unwrap()
                .starts_with("lift ~ normal(mean 0")
        );
    }
    assert_eq!(run("flat")["claims"][0]["prior"], "flat");
    let text = stdout_of(&[
        "-q",
        "calibrate",
        "-b",
        &bp,
        "-r",
        "200",
        "--tests",
        "bayes",
    ]);
    assert!(
        text.contains("Bayesian claims P(T > C) against the truth"),
        "{text}"
    );
    assert!(
        text.contains("revenue treatment (prior flat): 200 experiments"),
        "{text}"
    );
    assert!(text.contains("Spiegelhalter z"), "{text}");
}

/// `--engine`: an engine that fails to start or to speak the protocol stops the run with
/// its reason (exit 1); an empty name, or a shipped name whose adapter is not there, is a
/// usage error naming the flag (exit 2).
#[test]
fn engines_that_cannot_run_are_refused_with_their_reason() {
    let bp = example("aa_null.toml");
    let base = [
        "-q",
        "calibrate",
        "-b",
        bp.as_str(),
        "-r",
        "10",
        "-n",
        "200",
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        abforge().args(&args).output().unwrap()
    };
    let out = run(&["--engine", "echo hello", "--engine-timeout", "5"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not the protocol's JSON"), "{err}");
    let out = run(&["--engine", "exit 7"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the engine stopped"));
    let out = run(&["--engine", " "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tea-tasting, gbstats"));
    let out = abforge()
        .env("ABFORGE_ENGINES_DIR", "/nonexistent")
        .args(base)
        .args(["--engine", "gbstats"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ABFORGE_ENGINES_DIR"));
    let out = run(&["--engine", "noop", "--engine-timeout", "0"]);
    assert_eq!(out.status.code(), Some(2));
}
