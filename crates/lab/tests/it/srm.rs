//! The sample-ratio section: its checks' false alarms and power against the blueprint's
//! `[actual_groups]`, reproducible on any thread count.

use abforge_lab::srm::calibrate_srm;
use abforge_lab::{LabOptions, NoReporter, SrmCalibration, SrmCheck, SrmCheckResult, calibrate};
use abforge_synth::Blueprint;

/// A blueprint with a null metric for `groups` (`control`, `treatment` and maybe `other`).
fn bp(customers: u64, groups: &str) -> Blueprint {
    let other = if groups.contains("other") {
        "other = { lift = 0 }"
    } else {
        ""
    };
    Blueprint::from_toml(&format!(
        "id = \"srm\"\nseed = 5\ncustomers = {customers}\nstart_date = 2026-11-23\ndays = 7\n\
         {groups}\n[metrics.x]\ndistribution = \"normal\"\n\
         control = {{ mean = 0, sd = 1 }}\ntreatment = {{ lift = 0 }}\n{other}\n"
    ))
    .unwrap()
}

const EVEN: &str = "[groups]\ncontrol = 1\ntreatment = 1";

fn example(name: &str) -> Blueprint {
    let path = format!("{}/../../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    Blueprint::from_toml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(b: &Blueprint, reps: u64, looks: u32, alpha: f64) -> SrmCalibration {
    calibrate_srm(b, 21, reps, looks, alpha).unwrap().unwrap()
}

fn check(s: &SrmCalibration, c: SrmCheck) -> &SrmCheckResult {
    s.checks.iter().find(|r| r.check == c).unwrap()
}

#[test]
fn the_section_is_the_same_on_any_thread_count() {
    let b = example("srm.toml");
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run(&b, 600, 5, 0.001))
    };
    let one = on(1);
    assert_eq!(one, on(3));
    // A different seed gives different counts (the stream is the seed's).
    let other = calibrate_srm(&b, 22, 600, 5, 0.001).unwrap().unwrap();
    assert_ne!(
        check(&one, SrmCheck::Sequential).mean_flag_customers,
        check(&other, SrmCheck::Sequential).mean_flag_customers
    );
}

/// Within 3.3 binomial standard errors of α (a 99.9 % band).
fn near(rate: f64, alpha: f64, n: u64) -> bool {
    (rate - alpha).abs() <= 3.3 * (alpha * (1.0 - alpha) / n as f64).sqrt()
}

/// 2000 A/A experiments at α = 0.05 (a 3-arm unequal plan too), 20 000 at analyze's 0.001:
/// the χ² test of the final counts flags about α of them. (With 2000 customers in two arms
/// its exact rate is 0.0517, the discreteness of a binomial count.)
#[test]
fn the_final_chi_square_holds_alpha() {
    let three = "[groups]\ncontrol = 2\ntreatment = 1\nother = 1";
    for (customers, groups, reps, alpha) in [
        (2000, EVEN, 2000, 0.05),
        (2000, three, 2000, 0.05),
        (100_000, EVEN, 20_000, 0.001),
    ] {
        let s = run(&bp(customers, groups), reps, 1, alpha);
        assert!(!s.mismatch);
        let c = check(&s, SrmCheck::ChiSquareFinal);
        assert_eq!(c.replications, reps);
        let fa = c.false_alarm_rate.unwrap();
        assert!(near(fa, alpha, reps), "{groups} {alpha}: {c:?}");
        let inside = c.ci_low <= alpha && alpha <= c.ci_high;
        assert_eq!(c.miscalibrated, !inside);
        assert!(c.power.is_none());
        // With one look, peeking is the final look.
        assert_eq!(check(&s, SrmCheck::ChiSquarePeeking).flagged, c.flagged);
    }
}

/// Ten looks at 2000 A/A experiments: the χ² checked at every look flags far more than α
/// (about 0.19 for ten looks), and is said to be miscalibrated; the sequential test stays
/// under α.
#[test]
fn peeking_inflates_the_chi_square_but_not_the_sequential_test() {
    let s = run(&bp(5000, EVEN), 2000, 10, 0.05);
    let (fin, peek, seq) = (
        check(&s, SrmCheck::ChiSquareFinal),
        check(&s, SrmCheck::ChiSquarePeeking),
        check(&s, SrmCheck::Sequential),
    );
    assert!(!fin.miscalibrated, "{fin:?}");
    assert!(peek.flagged >= fin.flagged);
    assert!(peek.false_alarm_rate.unwrap() > 0.12, "{peek:?}");
    assert!(peek.ci_low > 0.05 && peek.miscalibrated);
    let m = peek.mean_flag_look.unwrap();
    assert!((1.0..=10.0).contains(&m), "{m}");
    assert!(
        seq.false_alarm_rate.unwrap() <= 0.05 && !seq.miscalibrated,
        "{seq:?}"
    );
    assert!(fin.mean_flag_look.is_none());
}

/// examples/srm.toml (52/48 against a planned 50/50, 100 000 customers): every check finds
/// the mismatch in every experiment, the sequential one before the end.
#[test]
fn a_real_mismatch_is_found_at_the_examples_size() {
    let s = run(&example("srm.toml"), 300, 7, 0.001);
    assert!(s.mismatch);
    assert_eq!(s.looks, 7);
    assert_eq!(s.planned_shares[0], ("control".to_string(), 0.5));
    assert!((s.actual_shares[0].1 - 0.52).abs() < 1e-12);
    for c in &s.checks {
        assert_eq!((c.power, c.false_alarm_rate), (Some(1.0), None), "{c:?}");
        assert!(!c.miscalibrated);
    }
    let seq = check(&s, SrmCheck::Sequential);
    let look = seq.mean_flag_look.unwrap();
    assert!(look < 7.0, "{look}");
    let customers = seq.mean_flag_customers.unwrap();
    assert!(customers <= 100_000.0 * look / 7.0 + 1.0, "{customers}");
}

#[test]
fn calibrate_carries_the_section_at_analyzes_threshold() {
    let b = bp(
        400,
        "[groups]\ncontrol = 1\ntreatment = 1\n[actual_groups]\ncontrol = 3\ntreatment = 1",
    );
    let opts = LabOptions {
        replications: 40,
        peeks: 3,
        ..LabOptions::default()
    };
    let cal = calibrate(&b, &opts, &NoReporter).unwrap();
    let s = cal.srm.as_ref().unwrap();
    assert_eq!((s.alpha, s.looks), (0.001, 3));
    assert!(s.mismatch);
    assert!(s.checks.iter().all(|c| c.replications == 40));
    // 300/100 against 200/200: χ² = 100.
    assert_eq!(check(s, SrmCheck::ChiSquareFinal).power, Some(1.0));
    let v = serde_json::to_value(&cal).unwrap();
    assert_eq!(v["srm"]["checks"][2]["check"], "sequential");
    assert_eq!(v["srm"]["planned_shares"]["treatment"], 0.5);
    assert_eq!(v["srm"]["actual_shares"]["control"], 0.75);
}

#[test]
fn one_group_has_no_section_and_a_bad_level_is_refused() {
    let mut b = bp(400, EVEN);
    b.groups.truncate(1);
    assert!(calibrate_srm(&b, 1, 10, 1, 0.05).unwrap().is_none());
    for bad in [0.0, 1.0, f64::NAN] {
        let opts = LabOptions {
            srm_alpha: bad,
            ..LabOptions::default()
        };
        let e = calibrate(&bp(400, EVEN), &opts, &NoReporter).unwrap_err();
        assert_eq!(e.invalid().map(|i| i.field), Some("srm_alpha"), "{e}");
    }
}
