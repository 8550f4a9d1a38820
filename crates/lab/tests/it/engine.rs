//! The engine protocol end to end with the reference engine (`abforge-reference-engine`,
//! abforge's own Welch test and mSPRT behind the protocol): its report equals the lab's own
//! tests replication by replication, and every way an engine can misbehave is reported per
//! item with a reason, never counted as a decision.

use abforge_lab::{Calibration, EngineOptions, LabOptions, Method, NoReporter, calibrate};
use abforge_synth::Blueprint;
use std::time::Duration;

fn bp() -> Blueprint {
    Blueprint::from_toml(
        r#"
id = "eng"
seed = 3
customers = 600
start_date = 2026-11-23
days = 7
[groups]
control = 1
treatment = 1
[metrics.revenue]
distribution = "gamma"
control = { shape = 2, scale = 10 }
treatment = { lift = 0.1 }
[metrics.converted]
distribution = "bernoulli"
control = { p = 0.3 }
treatment = { p = 0.3 }
"#,
    )
    .unwrap()
}

fn engine(fault: Option<&str>, timeout: f64) -> EngineOptions {
    let bin = env!("CARGO_BIN_EXE_abforge-reference-engine");
    let command = match fault {
        Some(f) => format!("ABFORGE_ENGINE_FAULT={f} '{bin}'"),
        None => format!("'{bin}'"),
    };
    EngineOptions {
        command,
        timeout: Duration::from_secs_f64(timeout),
    }
}

fn run(fault: Option<&str>, peeks: u32, replications: u64) -> Calibration {
    let opts = LabOptions {
        replications,
        peeks,
        methods: Some(vec![Method::WelchT, Method::Msprt]),
        engine: Some(engine(fault, 20.0)),
        ..LabOptions::default()
    };
    calibrate(&bp(), &opts, &NoReporter).unwrap()
}

/// The same data, the same tests: the engine's Welch and mSPRT decide exactly as the lab's.
#[test]
fn the_reference_engine_decides_as_the_lab() {
    let cal = run(None, 3, 100);
    let e = cal.engine.as_ref().expect("an engine report");
    assert_eq!(
        (e.engine.as_str(), e.protocol.as_str()),
        ("abforge-reference", "abforge-engine/1")
    );
    assert!(e.failures.is_empty(), "{:?}", e.failures);
    for (engine_test, own) in [("welch", Method::WelchT), ("msprt", Method::Msprt)] {
        for metric in ["revenue", "converted"] {
            let mine = cal
                .results
                .iter()
                .find(|r| r.metric == metric && r.test == own)
                .unwrap();
            let theirs = e
                .results
                .iter()
                .find(|r| r.metric == metric && r.test == engine_test)
                .unwrap();
            assert_eq!(theirs.replications, 100);
            // Welch at the final look only, as a fixed-horizon engine answers; the lab's
            // Welch peeks, so only the mSPRT's confusion matrices must agree exactly.
            if own == Method::Msprt {
                assert_eq!(mine.confusion, theirs.confusion, "{metric} {engine_test}");
                assert_eq!(mine.mean_customers_at_stop, theirs.mean_customers_at_stop);
            }
            assert_eq!(mine.null_true, theirs.null_true);
        }
    }
    let welch = e
        .results
        .iter()
        .find(|r| r.metric == "converted" && r.test == "welch")
        .unwrap();
    assert!(welch.type_i_error.unwrap() < 0.15, "{welch:?}");
}

/// At one look the engine's Welch is the lab's Welch.
#[test]
fn one_look_welch_is_identical() {
    let cal = run(None, 1, 80);
    let e = cal.engine.unwrap();
    for metric in ["revenue", "converted"] {
        let mine = cal
            .results
            .iter()
            .find(|r| r.metric == metric && r.test == Method::WelchT)
            .unwrap();
        let theirs = e
            .results
            .iter()
            .find(|r| r.metric == metric && r.test == "welch")
            .unwrap();
        assert_eq!(mine.confusion, theirs.confusion, "{metric}");
        let (a, b) = (mine.ci_coverage.unwrap(), theirs.ci_coverage.unwrap());
        assert!((a - b).abs() <= 1.0 / 80.0, "{metric}: coverage {a} vs {b}");
        assert!((mine.bias.unwrap() - theirs.bias.unwrap()).abs() < 1e-9);
    }
}

/// An error line, a line that is not JSON, a NaN, a crash, a hang: each fails its items
/// with a reason and the rest of the run goes on (a new process after a crash or a hang).
#[test]
fn misbehaving_engines_fail_items_not_the_run() {
    for (fault, reason, timeout) in [
        ("error:5", "refuses this replication", 20.0),
        ("garbage:5", "not the protocol's JSON", 20.0),
        ("nan:5", "not the protocol's JSON", 20.0),
        ("crash:5", "the engine stopped", 20.0),
        ("hang:5", "said nothing for", 1.5),
    ] {
        let opts = LabOptions {
            replications: 64,
            methods: Some(vec![Method::WelchT]),
            engine: Some(engine(Some(fault), timeout)),
            ..LabOptions::default()
        };
        let cal = calibrate(&bp(), &opts, &NoReporter).unwrap();
        let e = cal.engine.unwrap();
        assert!(
            e.failures.iter().any(|f| f.reason.contains(reason)),
            "{fault}: {:?}",
            e.failures
        );
        for r in &e.results {
            assert!(r.failed >= 1, "{fault}: {r:?}");
            // Replications of the second block (32..64) are answered by a healthy process.
            assert!(r.replications >= 32, "{fault}: {r:?}");
        }
    }
}

#[test]
fn an_engine_that_does_not_speak_the_protocol_is_refused() {
    for (command, why) in [
        (
            "echo '{\"protocol\":\"other/9\",\"engine\":\"x\",\"version\":\"1\",\"tests\":[]}'",
            "abforge-engine/1",
        ),
        ("echo hello", "not the protocol's JSON"),
        ("exit 4", "the engine stopped"),
    ] {
        let opts = LabOptions {
            replications: 4,
            engine: Some(EngineOptions {
                command: command.into(),
                timeout: Duration::from_secs(5),
            }),
            ..LabOptions::default()
        };
        let e = calibrate(&bp(), &opts, &NoReporter)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{command}: {e}");
    }
}
