//! `abforge calibrate`: simulate many experiments from a blueprint and judge every test's
//! decisions against the known truth (type I error, power, coverage, calibration).

use crate::BadInput;
use crate::cli::CalibrateArgs;
use abforge_dashboard::calibration_rows;
use abforge_lab::{
    Calibration, LabOptions, Reporter, SrmCalibration, SrmCheck, SrmCheckResult, SweepReport,
    TestResult, calibrate, plot_calibration, plot_sweep, sweep,
};
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// A replication-count progress bar.
#[derive(Debug)]
struct ReplicationBar(ProgressBar);

impl ReplicationBar {
    fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} experiments ({rate}, eta {eta})",
            )
            .expect("valid template")
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", HumanCount(state.per_sec() as u64));
            }),
        );
        ReplicationBar(bar)
    }
}

impl Reporter for ReplicationBar {
    fn on_start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn on_replications(&self, n: u64) {
        self.0.inc(n);
    }
}

/// Maps a lab error to bad input (exit 2) when it is the user's.
fn lab_error(e: abforge_lab::Error) -> anyhow::Error {
    if e.is_user_error() {
        BadInput(crate::flags::with_flag(e.to_string(), e.invalid())).into()
    } else {
        anyhow::Error::new(e)
    }
}

/// What a run produced.
enum Outcome {
    One(Box<Calibration>),
    Sweep(SweepReport),
}

/// The adapters shipped under `engines/`, by name.
const SHIPPED_ENGINES: [(&str, &str); 5] = [
    ("tea-tasting", "tea_tasting_engine.py"),
    ("gbstats", "gbstats_engine.py"),
    ("spotify-confidence", "spotify_confidence_engine.py"),
    ("scipy", "scipy_engine.py"),
    ("noop", "noop_engine.py"),
];

/// `--engine`: a shipped adapter by name, run by the engines' Python, or a command as given.
fn engine_options(spec: &str, timeout: f64) -> anyhow::Result<abforge_lab::EngineOptions> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(BadInput(format!(
            "--engine: expected an engine name ({}) or a command",
            SHIPPED_ENGINES.map(|e| e.0).join(", ")
        ))
        .into());
    }
    let command = match SHIPPED_ENGINES.iter().find(|(name, _)| *name == spec) {
        Some((_, file)) => {
            let venv = std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/abforge/engines-venv/bin/python"));
            let python = std::env::var("ABFORGE_ENGINE_PYTHON")
                .ok()
                .unwrap_or_else(|| {
                    venv.filter(|p| p.exists())
                        .map_or_else(|| "python3".into(), |p| p.display().to_string())
                });
            let dir = std::env::var("ABFORGE_ENGINES_DIR").unwrap_or_else(|_| "engines".into());
            let script = PathBuf::from(&dir).join(file);
            if !script.is_file() {
                return Err(BadInput(format!(
                    "--engine {spec}: {} is not there; run from the repository's root or set \
                     ABFORGE_ENGINES_DIR to its engines/ folder",
                    script.display()
                ))
                .into());
            }
            format!(
                "{} {}",
                quote(&python)?,
                quote(&script.display().to_string())?
            )
        }
        None => spec.to_string(),
    };
    Ok(abforge_lab::EngineOptions {
        command,
        timeout: std::time::Duration::from_secs_f64(timeout),
    })
}

/// A path as one `sh` word.
fn quote(s: &str) -> anyhow::Result<String> {
    if s.contains('\'') {
        return Err(BadInput(format!("the path {s:?} has a single quote")).into());
    }
    Ok(format!("'{s}'"))
}

/// Runs the command.
pub fn run(args: &CalibrateArgs, quiet: bool) -> anyhow::Result<()> {
    let bp = super::load(&args.source)?;
    if let Some(plot) = &args.plot {
        let dir = plot.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(BadInput(format!(
                "--plot {}: the directory {} does not exist",
                plot.display(),
                dir.map_or(String::new(), |d| d.display().to_string())
            ))
            .into());
        }
    }
    let opts = LabOptions {
        replications: args.replications,
        customers: args.source.customers,
        alpha: args.alpha,
        seed: None,
        peeks: args.peeks,
        methods: (!args.tests.is_empty()).then(|| args.tests.clone()),
        bootstrap_resamples: args.bootstrap,
        permutation_resamples: args.permutations,
        metrics: args.metric.clone(),
        msprt_mixing_sd: args.msprt_mixing_sd,
        bayes_prior: args.bayes_prior.into(),
        engine: args
            .engine
            .as_deref()
            .map(|e| engine_options(e, args.engine_timeout))
            .transpose()?,
        priors: args.prior.clone(),
        srm_alpha: args.srm_alpha,
    };
    let bar = ReplicationBar::new(quiet);
    let started = Instant::now();
    let work = || -> anyhow::Result<Outcome> {
        Ok(match &args.sweep {
            None => Outcome::One(Box::new(calibrate(&bp, &opts, &bar).map_err(lab_error)?)),
            Some(spec) => Outcome::Sweep(sweep(&bp, spec, &opts, &bar).map_err(lab_error)?),
        })
    };
    let outcome = match args.threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(t))
            .build()?
            .install(work)?,
        None => work()?,
    };
    bar.0.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if let Some(path) = &args.plot {
        match &outcome {
            Outcome::One(c) => plot_calibration(path, c),
            Outcome::Sweep(s) => plot_sweep(path, s),
        }
        .map_err(lab_error)?;
    }
    let published = if args.publish {
        Some(publish(args, &bp, &opts, &outcome)?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    match &outcome {
        Outcome::One(c) if args.json => serde_json::to_writer_pretty(&mut out, c)?,
        Outcome::Sweep(s) if args.json => serde_json::to_writer_pretty(&mut out, s)?,
        Outcome::One(c) => write_table(&mut out, c)?,
        Outcome::Sweep(s) => write_sweep(&mut out, s)?,
    }
    writeln!(out)?;
    if !quiet {
        let total = match &outcome {
            Outcome::One(c) => c.replications,
            Outcome::Sweep(s) => s.points.iter().map(|p| p.calibration.replications).sum(),
        };
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "{} experiments in {secs:.2} s ({}/s){}",
            HumanCount(total),
            HumanCount((total as f64 / secs.max(1e-9)) as u64),
            args.plot.as_ref().map_or(String::new(), |p| format!(
                "; plot written to {}",
                p.display()
            ))
        )?;
        if let Some(w) = published {
            writeln!(err, "published: {w}")?;
        }
    }
    Ok(())
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

fn header(out: &mut impl Write, c: &Calibration) -> std::io::Result<()> {
    let sizes: Vec<String> = c
        .group_sizes
        .iter()
        .map(|(g, n)| format!("{g} {}", HumanCount(*n)))
        .collect();
    writeln!(
        out,
        "{}: {} experiments of {} customers ({}), α = {}, seed {}{}{}",
        c.experiment_id,
        HumanCount(c.replications),
        HumanCount(c.customers),
        sizes.join(" · "),
        c.alpha,
        c.seed,
        if c.peeks > 1 {
            format!(
                ", {} looks each (a test rejects if it rejects at any look)",
                c.peeks
            )
        } else {
            String::new()
        },
        if c.choices_per_replication {
            ", parameters drawn per experiment (choose, prior)"
        } else {
            ""
        }
    )
}

/// The readable table: one row per metric × arm × test.
fn write_table(out: &mut impl Write, c: &Calibration) -> std::io::Result<()> {
    header(out, c)?;
    writeln!(out)?;
    let w_metric = c
        .results
        .iter()
        .map(|r| r.metric.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w_arm = c
        .results
        .iter()
        .map(|r| r.arm.len())
        .max()
        .unwrap_or(3)
        .max(3);
    writeln!(
        out,
        "{:<w_metric$}  {:<w_arm$}  {:<25} {:<5}  {:>8} {:>15}  {:>7} {:>7} {:>8}  {:>8} {:>6}  verdict",
        "metric",
        "arm",
        "test",
        "null",
        "rejected",
        "95% interval",
        "type I",
        "power",
        "analytic",
        "coverage",
        "KS D",
    )?;
    for r in &c.results {
        writeln!(
            out,
            "{:<w_metric$}  {:<w_arm$}  {:<25} {:<5}  {:>8.3} {:>15}  {:>7} {:>7} {:>8}  {:>8} {:>6}  {}",
            r.metric,
            r.arm,
            r.test.name(),
            match r.null_true {
                Some(true) => "true",
                Some(false) => "false",
                None if r.replications == 0 => "-",
                None => "mixed",
            },
            r.rejection_rate,
            format!("[{:.3}, {:.3}]", r.ci_low, r.ci_high),
            opt(r.type_i_error),
            opt(r.power),
            opt(r.analytic_power),
            opt(r.ci_coverage),
            opt(r.p_value_ks),
            verdict(r, c.alpha),
        )?;
    }
    if c.choices_per_replication {
        writeln!(out)?;
        writeln!(
            out,
            "confusion matrix (experiments): correct accept / correct reject / type I / type II"
        )?;
        for r in &c.results {
            let m = r.confusion;
            writeln!(
                out,
                "  {:<w_metric$}  {:<w_arm$}  {:<25} {:>7} {:>7} {:>7} {:>7}",
                r.metric,
                r.arm,
                r.test.name(),
                m.correct_accept,
                m.correct_reject,
                m.type_i,
                m.type_ii
            )?;
        }
    }
    write_estimates(out, c)?;
    write_families(out, c)?;
    write_engine(out, c)?;
    write_claims(out, c)?;
    if let Some(s) = &c.srm {
        write_srm(out, s)?;
    }
    let failed: Vec<String> = c
        .results
        .iter()
        .filter(|r| r.failed > 0)
        .map(|r| format!("{} {} {} ({})", r.metric, r.arm, r.test.name(), r.failed))
        .collect();
    if !failed.is_empty() {
        writeln!(
            out,
            "\nnot computable in some experiments (e.g. zero variance, a median on an atom), left out of the rates: {}",
            failed.join(", ")
        )?;
    }
    Ok(())
}

/// The external engine's tests, judged as abforge's, and why some of its items failed.
fn write_engine(out: &mut impl Write, c: &Calibration) -> std::io::Result<()> {
    let Some(e) = &c.engine else {
        return Ok(());
    };
    writeln!(out)?;
    writeln!(
        out,
        "Engine {} {} ({}; {}), judged as abforge's tests:",
        e.engine, e.version, e.protocol, e.command
    )?;
    for r in &e.results {
        writeln!(
            out,
            "  {:<16} {:<12} {:<25} {:<5}  {:>8.3} {:>15}  {:>7} {:>7}  {:>8}  {:>10}  {}",
            r.metric,
            r.arm,
            r.test,
            match r.null_true {
                Some(true) => "true",
                Some(false) => "false",
                None if r.replications == 0 => "-",
                None => "mixed",
            },
            r.rejection_rate,
            format!("[{:.3}, {:.3}]", r.ci_low, r.ci_high),
            opt(r.type_i_error),
            opt(r.power),
            opt(r.ci_coverage),
            r.mean_customers_at_stop
                .map_or_else(|| "-".into(), |n| format!("stop {n:.0}")),
            verdict(r, c.alpha),
        )?;
    }
    for f in &e.failures {
        writeln!(out, "  {} failed {} time(s): {}", f.test, f.items, f.reason)?;
    }
    Ok(())
}

/// Each estimate's bias against the truth, and the sequential tests' customers at stopping.
fn write_estimates(out: &mut impl Write, c: &Calibration) -> std::io::Result<()> {
    let rows: Vec<&TestResult> = c.results.iter().filter(|r| r.bias.is_some()).collect();
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "Estimates against the truth (bias: mean of estimate − true effect at the last look, on \
         the interval's scale, ± its Monte Carlo se; stop: mean customers when a sequential \
         test stopped)"
    )?;
    writeln!(
        out,
        "  {:<16} {:<12} {:<25} {:>12} {:>10} {:>9} {:>10}",
        "metric", "arm", "test", "bias", "± se", "bias/se", "stop"
    )?;
    for r in rows {
        let (b, se) = (r.bias.unwrap_or(0.0), r.bias_se.unwrap_or(0.0));
        writeln!(
            out,
            "  {:<16} {:<12} {:<25} {:>12.5} {:>10.5} {:>9} {:>10}",
            r.metric,
            r.arm,
            r.test.name(),
            b,
            se,
            if se > 0.0 {
                format!("{:+.1}", b / se)
            } else {
                "-".into()
            },
            r.mean_customers_at_stop
                .map_or_else(|| "-".into(), |n| format!("{n:.0}"))
        )?;
    }
    Ok(())
}

/// Each family of tests (one test over several metric × arm pairs) under each correction.
fn write_families(out: &mut impl Write, c: &Calibration) -> std::io::Result<()> {
    if c.families.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "Families (one test over several metric × arm pairs; FWER: share of experiments with a \
         true null rejected; FDR: mean share of the rejections that are true nulls)"
    )?;
    for f in &c.families {
        writeln!(
            out,
            "  {} over {} pairs, {} experiments",
            f.test.name(),
            f.members,
            HumanCount(f.replications)
        )?;
        writeln!(
            out,
            "    {:<20} {:<9} {:>6} {:>15} {:>7} {:>7} {:>6}  verdict",
            "correction", "promises", "FWER", "95% interval", "FDR", "± se", "power"
        )?;
        for k in &f.corrections {
            let verdict = match (k.controls, k.breaks_promise) {
                ("none", _) => "promises nothing",
                (_, true) => "BREAKS ITS PROMISE (above α)",
                _ => "keeps it",
            };
            writeln!(
                out,
                "    {:<20} {:<9} {:>6.3} {:>15} {:>7.3} {:>7.3} {:>6}  {}",
                k.correction,
                k.controls,
                k.fwer,
                format!("[{:.3}, {:.3}]", k.fwer_ci_low, k.fwer_ci_high),
                k.fdr,
                k.fdr_se,
                opt(k.power),
                verdict
            )?;
        }
    }
    Ok(())
}

/// The calibration of the Bayesian claims: per metric × arm, the claims by tenths beside
/// the share of true effects above 0, then the Brier score and Spiegelhalter's test.
fn write_claims(out: &mut impl Write, c: &Calibration) -> std::io::Result<()> {
    if c.claims.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "Bayesian claims P(T > C) against the truth (realised: share of experiments whose true \
         mean difference is > 0; se: its binomial standard error if the claims were calibrated)"
    )?;
    for k in &c.claims {
        writeln!(
            out,
            "  {} {} (prior {}): {} experiments, {:.1}% with a true effect > 0",
            k.metric,
            k.arm,
            k.prior,
            HumanCount(k.replications),
            100.0 * k.share_positive
        )?;
        writeln!(
            out,
            "    {:<11} {:>7} {:>10} {:>9} {:>7} {:>6}",
            "P(T > C)", "n", "mean claim", "realised", "se", "z"
        )?;
        for b in k.bins.iter().filter(|b| b.replications > 0) {
            let (m, r, se) = (
                b.mean_claim.unwrap_or(0.0),
                b.realised.unwrap_or(0.0),
                b.se.unwrap_or(0.0),
            );
            let z = if se > 0.0 {
                format!("{:+.1}", (r - m) / se)
            } else {
                "-".into()
            };
            writeln!(
                out,
                "    {:<11} {:>7} {:>10.3} {:>9.3} {:>7.3} {:>6}",
                format!(
                    "[{:.1}, {:.1}{}",
                    b.low,
                    b.high,
                    if b.high < 1.0 { ")" } else { "]" }
                ),
                b.replications,
                m,
                r,
                se,
                z
            )?;
        }
        writeln!(
            out,
            "    Brier {:.4} ({:.4} if calibrated, {:.4} claiming the share always); \
             Spiegelhalter z {:+.2}, p {}: {}; credible interval coverage {}; expected loss of \
             shipping the treatment: claimed {:.4}, realised {:.4} (± {:.4})",
            k.brier,
            k.brier_if_calibrated,
            k.brier_base_rate,
            k.spiegelhalter_z,
            if k.spiegelhalter_p >= 0.001 {
                format!("{:.3}", k.spiegelhalter_p)
            } else {
                format!("{:.1e}", k.spiegelhalter_p)
            },
            if k.miscalibrated {
                "MISCALIBRATED"
            } else {
                "calibrated"
            },
            opt(k.credible_coverage),
            k.expected_loss_claimed,
            k.expected_loss_realised,
            k.expected_loss_se
        )?;
    }
    Ok(())
}

/// The sample-ratio checks: one row per check, with the truth they are judged against.
fn write_srm(out: &mut impl Write, s: &SrmCalibration) -> std::io::Result<()> {
    let shares = |v: &[(String, f64)]| {
        v.iter()
            .map(|(g, x)| format!("{g} {:.1}%", 100.0 * x))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let truth = if s.mismatch {
        format!(
            "mismatch: planned {}, actual {}",
            shares(&s.planned_shares),
            shares(&s.actual_shares)
        )
    } else {
        format!("no mismatch: {}", shares(&s.planned_shares))
    };
    writeln!(out)?;
    writeln!(
        out,
        "Sample-ratio checks (α = {}, {} look{}; truth: {truth})",
        s.alpha,
        s.looks,
        if s.looks == 1 { "" } else { "s" }
    )?;
    writeln!(
        out,
        "  {:<26} {:>7} {:>15}  {:>11} {:>7}  {:>9} {:>14}  verdict",
        "check", "flagged", "95% interval", "false alarm", "power", "mean look", "mean customers"
    )?;
    for r in &s.checks {
        let name = match r.check {
            SrmCheck::ChiSquareFinal => "χ² at the last look",
            SrmCheck::ChiSquarePeeking => "χ² at every look",
            SrmCheck::Sequential => "sequential (Lindon–Malek)",
        };
        // Padded by characters: `χ` and `–` are two bytes each.
        let pad = 26usize.saturating_sub(name.chars().count());
        writeln!(
            out,
            "  {name}{:pad$} {:>7.3} {:>15}  {:>11} {:>7}  {:>9} {:>14}  {}",
            "",
            r.flag_rate,
            format!("[{:.3}, {:.3}]", r.ci_low, r.ci_high),
            opt(r.false_alarm_rate),
            opt(r.power),
            r.mean_flag_look
                .map_or_else(|| "-".into(), |x| format!("{x:.2}")),
            r.mean_flag_customers
                .map_or_else(|| "-".into(), |x| HumanCount(x.round() as u64).to_string()),
            srm_verdict(r, s.alpha),
        )?;
    }
    Ok(())
}

fn srm_verdict(r: &SrmCheckResult, alpha: f64) -> String {
    match (r.false_alarm_rate, r.power) {
        (Some(fa), _) if r.miscalibrated && fa > alpha => {
            "MISCALIBRATED (false alarms above α)".into()
        }
        (Some(_), _) if r.miscalibrated => "miscalibrated (conservative)".into(),
        (Some(_), _) => "holds α".into(),
        (None, Some(p)) => format!("misses {:.3}", 1.0 - p),
        (None, None) => String::new(),
    }
}

fn verdict<T>(r: &TestResult<T>, alpha: f64) -> String {
    if r.replications == 0 {
        return "not computed: failed in every experiment".into();
    }
    if r.miscalibrated {
        let t1 = r.type_i_error.unwrap_or(0.0);
        return if t1 > alpha {
            "MISCALIBRATED (type I above α)".into()
        } else {
            "miscalibrated (conservative)".into()
        };
    }
    match r.null_true {
        Some(true) => "holds α".into(),
        Some(false) => match r.power {
            Some(p) => format!("type II {:.3}", 1.0 - p),
            None => String::new(),
        },
        None => "holds α".into(),
    }
}

/// A sweep: one block per metric × arm, tests as columns, values as rows.
fn write_sweep(out: &mut impl Write, s: &SweepReport) -> std::io::Result<()> {
    let Some(first) = s.points.first() else {
        return Ok(());
    };
    header(out, &first.calibration)?;
    writeln!(
        out,
        "power curve over {} (rejection rate, analytic power in parentheses)",
        s.param
    )?;
    let mut panels: Vec<(String, String)> = Vec::new();
    for r in &first.calibration.results {
        if !panels.iter().any(|(m, a)| *m == r.metric && *a == r.arm) {
            panels.push((r.metric.clone(), r.arm.clone()));
        }
    }
    for (metric, arm) in &panels {
        let tests: Vec<_> = first
            .calibration
            .results
            .iter()
            .filter(|r| r.metric == *metric && r.arm == *arm)
            .map(|r| r.test)
            .collect();
        writeln!(out, "\n{metric}: {arm} vs control")?;
        write!(out, "{:>12}", "value")?;
        for t in &tests {
            write!(out, " {:>22}", t.name())?;
        }
        writeln!(out)?;
        for p in &s.points {
            write!(out, "{:>12}", format!("{}", p.value))?;
            for t in &tests {
                let cell = p
                    .calibration
                    .results
                    .iter()
                    .find(|r| r.metric == *metric && r.arm == *arm && r.test == *t)
                    .map_or("-".to_string(), |r| match r.analytic_power {
                        Some(a) => format!("{:.3} ({a:.3})", r.rejection_rate),
                        None => format!("{:.3}", r.rejection_rate),
                    });
                write!(out, " {cell:>22}")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `--publish`: the results into the lake's `gold/calibration`, under an id that digests the
/// blueprint and every setting that changes the numbers (so publishing the same calibration
/// again replaces it).
fn publish(
    args: &CalibrateArgs,
    bp: &abforge_synth::Blueprint,
    opts: &LabOptions,
    outcome: &Outcome,
) -> anyhow::Result<abforge_lake::Written> {
    use sha2::{Digest, Sha256};
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let blueprint = serde_json::to_vec(&bp.to_json_value())?;
    let blueprint_hash = hex(&Sha256::digest(&blueprint));
    let mut settings = serde_json::json!({
        "blueprint_hash": blueprint_hash,
        "replications": opts.replications,
        "customers": opts.customers,
        "alpha": opts.alpha,
        "peeks": opts.peeks,
        "tests": opts.methods,
        "metrics": opts.metrics,
        "bootstrap": opts.bootstrap_resamples,
        "permutations": opts.permutation_resamples,
        "msprt_mixing_sd": opts.msprt_mixing_sd,
        "sweep": args.sweep.as_ref().map(|s| (&s.path, s.from, s.to, s.steps)),
    });
    // Only when not the default, so that the ids of earlier publications stay the same.
    if opts.bayes_prior != abforge_lab::BayesPrior::Flat {
        settings["bayes_prior"] = serde_json::json!(opts.bayes_prior);
    }
    if let Some(e) = &opts.engine {
        settings["engine"] = serde_json::json!(e.command);
    }
    if !opts.priors.is_empty() {
        settings["priors"] = serde_json::json!(opts.priors);
    }
    let digest = hex(&Sha256::digest(serde_json::to_vec(&settings)?));
    let id = format!("{}-cal-{}", bp.id, &digest[..12]);
    let rows = match outcome {
        Outcome::One(c) => calibration_rows(id, blueprint_hash, None, &[(None, &**c)]),
        Outcome::Sweep(s) => {
            let points: Vec<_> = s
                .points
                .iter()
                .map(|p| (Some(p.value), &p.calibration))
                .collect();
            calibration_rows(id, blueprint_hash, Some(s.param.clone()), &points)
        }
    };
    let backends = crate::cli::Backends {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        object_store_url: args.object_store_url.clone(),
        ..Default::default()
    };
    let lake = super::lake::open(&backends)?;
    super::pipeline::runtime()?
        .block_on(lake.calibration(&rows))
        .map_err(super::lake::lake_error)
}
