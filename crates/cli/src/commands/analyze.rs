//! `abforge analyze`: every applicable test on every metric of a data file, a sample-ratio
//! check, multiple-testing corrections, and — for a file written by `abforge generate`,
//! which carries its blueprint — each decision judged against the known truth.
//!
//! The analysis is [`abforge_analysis`]'s (what the pipeline runs too); this module turns the
//! flags into its [`Options`], its errors into exit codes, and its [`Report`] into text.

use crate::BadInput;
use crate::cli::{AlternativeArg, AnalyzeArgs, CorrectionArg};
use abforge_analysis::{Alternative, Correction, Dataset, Options, RatioSpec, Report, Verdict};
use std::io::Write;

/// Runs the command.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let opts = options(args);
    let ds = abforge_analysis::read(&args.input, &opts.columns()).map_err(cli_error)?;
    let report = abforge_analysis::analyze(&opts, &ds).map_err(cli_error)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report, &ds)?;
    }
    Ok(())
}

/// The analysis options the flags ask for.
fn options(args: &AnalyzeArgs) -> Options {
    Options {
        metrics: args.metric.clone(),
        group_column: args.group_column.clone(),
        control: args.control.clone(),
        treatment: args.treatment.clone(),
        alpha: args.alpha,
        alternative: match args.alternative {
            AlternativeArg::TwoSided => Alternative::TwoSided,
            AlternativeArg::Greater => Alternative::Greater,
            AlternativeArg::Less => Alternative::Less,
        },
        margin: args.margin,
        correction: match args.correction {
            CorrectionArg::Holm => Correction::Holm,
            CorrectionArg::Bonferroni => Correction::Bonferroni,
            CorrectionArg::Bh => Correction::BenjaminiHochberg,
            CorrectionArg::None => Correction::None,
        },
        bootstrap: args.bootstrap,
        permutations: args.permutations,
        seed: args.seed,
        ratios: args
            .ratio
            .iter()
            .map(|r| RatioSpec {
                numerator: r.numerator.clone(),
                denominator: r.denominator.clone(),
            })
            .collect(),
        allocation: args.allocation.as_ref().map(|a| a.0.clone()),
        ..Options::new(args.input.display().to_string())
    }
}

/// Bad input is [`BadInput`] (exit code 2), with the library's message; anything else a
/// failure (exit code 1).
fn cli_error(e: abforge_analysis::Error) -> anyhow::Error {
    match e {
        abforge_analysis::Error::Usage(msg) => BadInput(msg).into(),
        e if e.is_usage() => BadInput(format!("{:#}", anyhow::Error::new(e))).into(),
        e => anyhow::Error::new(e),
    }
}

/// How a verdict reads in the text table.
fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Correct => "correct",
        Verdict::TypeI => "TYPE I",
        Verdict::TypeIi => "TYPE II",
    }
}

// ---------------------------------------------------------------------------------------------
// Text output

fn p(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x == 0.0 {
        "<1e-300".into()
    } else if x < 1e-4 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

fn num(x: f64) -> String {
    if !x.is_finite() {
        return if x > 0.0 {
            "+inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        format!("{x:.4e}")
    } else {
        format!("{x:.4}")
    }
}

fn ci(lo: f64, hi: f64) -> String {
    format!("[{}, {}]", num(lo), num(hi))
}

fn write_text(out: &mut impl Write, r: &Report, ds: &Dataset) -> std::io::Result<()> {
    let counts: Vec<String> = ds
        .labels
        .iter()
        .zip(&ds.counts)
        .map(|(l, n)| format!("{l} {}", indicatif::HumanCount(*n)))
        .collect();
    writeln!(
        out,
        "{}: {} rows; {}",
        r.input,
        indicatif::HumanCount(r.rows),
        counts.join(" · ")
    )?;
    let planned: Vec<String> = r
        .srm
        .groups
        .iter()
        .map(|g| format!("{} {:.1}%", g.group, 100.0 * g.planned_share))
        .collect();
    writeln!(
        out,
        "sample ratio: chi² {:.3} (df {}), p = {} against {} ({}): {}",
        r.srm.statistic,
        r.srm.df,
        p(r.srm.p_value),
        planned.join(" · "),
        match r.srm.planned_from {
            "blueprint" => "planned in the blueprint",
            "allocation" => "from --allocation",
            _ => "equal split assumed",
        },
        if r.srm.mismatch {
            "MISMATCH (p < 0.001): the split is off, distrust the tests"
        } else {
            "ok"
        }
    )?;
    let conf = 100.0 * (1.0 - r.alpha);
    for e in &r.metrics {
        let a = &e.analysis;
        writeln!(out)?;
        writeln!(
            out,
            "{} ({}): {} vs {}",
            a.metric,
            format!("{:?}", a.kind).to_lowercase(),
            e.treatment,
            e.control
        )?;
        writeln!(
            out,
            "  {:<12} {:>12} {:>16} {:>16}{}",
            "group",
            "n",
            "mean",
            "variance",
            if e.truth.is_some() {
                "        true mean"
            } else {
                ""
            }
        )?;
        for (label, g, tm) in [
            (
                &e.control,
                &a.groups.control,
                e.truth.as_ref().map(|t| t.mean_control),
            ),
            (
                &e.treatment,
                &a.groups.treatment,
                e.truth.as_ref().map(|t| t.mean_treatment),
            ),
        ] {
            writeln!(
                out,
                "  {:<12} {:>12} {:>16} {:>16}{}",
                label,
                indicatif::HumanCount(g.n).to_string(),
                num(g.mean),
                g.variance.map_or("-".into(), num),
                tm.map_or(String::new(), |m| format!(" {:>16}", num(m)))
            )?;
        }
        writeln!(
            out,
            "  {:<18} {:>12} {:>30} {:>12} {:>10}  {:<8} {}",
            "test",
            "estimate",
            format!("{conf:.0}% CI"),
            "statistic",
            "p-value",
            "decision",
            if e.truth.is_some() { "vs truth" } else { "" }
        )?;
        let verdict = |name: &str| {
            e.truth
                .as_ref()
                .and_then(|t| t.decisions.get(name))
                .map_or("", |v| verdict_label(*v))
        };
        let mut row = |name: &str, est: String, ci: String, stat: String, pv: f64, rej: bool| {
            writeln!(
                out,
                "  {:<18} {:>12} {:>30} {:>12} {:>10}  {:<8} {}",
                name,
                est,
                ci,
                stat,
                p(pv),
                if rej { "reject" } else { "keep" },
                verdict(name)
            )
        };
        let t = &a.tests;
        if let Some(x) = &t.welch_t {
            row(
                "welch_t",
                num(x.estimate),
                ci(x.ci_low, x.ci_high),
                num(x.statistic),
                x.p_value,
                x.reject,
            )?;
        }
        if let Some(x) = &t.student_t {
            row(
                "student_t",
                num(x.estimate),
                ci(x.ci_low, x.ci_high),
                num(x.statistic),
                x.p_value,
                x.reject,
            )?;
        }
        if let Some(x) = &t.mann_whitney_u {
            let r = &x.result;
            row(
                "mann_whitney_u",
                format!("P {:.4}", r.prob_superiority),
                format!("U {}", num(r.u_treatment)),
                num(r.z),
                r.p_value,
                r.reject,
            )?;
        }
        if let Some(x) = &t.two_proportion_z {
            row(
                "two_proportion_z",
                num(x.estimate),
                ci(x.ci_low, x.ci_high),
                num(x.statistic),
                x.p_value,
                x.reject,
            )?;
        }
        if let Some(x) = &t.chi_square {
            row(
                "chi_square",
                String::new(),
                String::new(),
                num(x.statistic),
                x.p_value,
                x.reject,
            )?;
            row(
                "  yates",
                String::new(),
                String::new(),
                num(x.yates_statistic),
                x.yates_p_value,
                x.yates_reject,
            )?;
        }
        if let Some(x) = &t.fisher_exact {
            row(
                "fisher_exact",
                format!("OR {}", num(x.odds_ratio)),
                String::new(),
                String::new(),
                x.p_value,
                x.reject,
            )?;
        }
        if let Some(x) = &t.poisson_rate {
            let s = &x.score;
            row(
                "poisson_rate",
                format!("RR {}", num(x.rate_ratio)),
                ci(s.ci_low, s.ci_high),
                num(s.statistic),
                s.p_value,
                s.reject,
            )?;
            let w = &x.wald;
            row(
                "  wald",
                String::new(),
                ci(w.ci_low, w.ci_high),
                num(w.statistic),
                w.p_value,
                w.reject,
            )?;
        }
        if let Some(x) = &t.relative_lift {
            row(
                "relative_lift",
                format!("{:+.3}%", 100.0 * x.estimate),
                format!("[{:+.3}%, {:+.3}%]", 100.0 * x.ci_low, 100.0 * x.ci_high),
                num(x.statistic),
                x.p_value,
                x.reject,
            )?;
        }
        let mut notes: Vec<String> = Vec::new();
        if let Some(x) = &t.cuped {
            let r = &x.adjusted;
            row(
                "cuped",
                num(r.estimate),
                ci(r.ci_low, r.ci_high),
                num(r.statistic),
                r.p_value,
                r.reject,
            )?;
            notes.push(format!(
                "cuped: θ {}, variance −{:.1}% (standard error {} → {})",
                num(x.theta),
                100.0 * x.variance_reduction,
                num(x.unadjusted_std_error),
                num(r.std_error)
            ));
        }
        if let Some(x) = &t.bayes {
            row(
                "bayes",
                num(x.estimate),
                ci(x.ci_low, x.ci_high),
                format!("P {:.4}", x.prob_treatment_better),
                2.0 * x.prob_treatment_better.min(1.0 - x.prob_treatment_better),
                x.reject,
            )?;
            notes.push(format!(
                "bayes: P(T > C) {:.4}; expected loss of shipping T {}, of keeping C {}",
                x.prob_treatment_better,
                num(x.expected_loss_treatment),
                num(x.expected_loss_control)
            ));
        }
        if let Some(x) = &t.msprt {
            row(
                "msprt",
                num(x.estimate),
                ci(x.ci_low, x.ci_high),
                format!("Λ {}", num(x.likelihood_ratio)),
                x.p_value,
                x.reject,
            )?;
        }
        if let Some(b) = &t.bootstrap {
            let d = &b.mean_difference;
            row(
                "bootstrap_bca",
                num(d.estimate),
                ci(d.bca_low, d.bca_high),
                format!("B {}", b.resamples),
                f64::NAN,
                d.bca_rejects(0.0),
            )?;
            row(
                "  percentile",
                String::new(),
                ci(d.percentile_low, d.percentile_high),
                String::new(),
                f64::NAN,
                d.percentile_rejects(0.0),
            )?;
            if let Some(l) = &b.relative_lift {
                row(
                    "  lift bca",
                    format!("{:+.3}%", 100.0 * l.estimate),
                    format!("[{:+.3}%, {:+.3}%]", 100.0 * l.bca_low, 100.0 * l.bca_high),
                    String::new(),
                    f64::NAN,
                    l.bca_rejects(0.0),
                )?;
            }
        }
        if let Some(x) = &t.permutation {
            row(
                "permutation",
                num(x.statistic),
                String::new(),
                format!("B {}", x.resamples),
                x.p_value,
                x.reject,
            )?;
        }
        for n in &notes {
            writeln!(out, "  {n}")?;
        }
        for (name, err) in &a.errors {
            writeln!(out, "  {name:<18} not computed: {err}")?;
        }
        writeln!(
            out,
            "  primary {}: p = {}, adjusted ({:?} over {} comparisons) = {} → {}",
            e.primary_test,
            e.p_value.map_or("-".into(), p),
            r.correction,
            r.metrics.len(),
            p(match r.correction {
                Correction::Bonferroni => e.p_adjusted.bonferroni,
                Correction::BenjaminiHochberg => e.p_adjusted.benjamini_hochberg,
                Correction::Holm => e.p_adjusted.holm,
                _ => e.p_value.unwrap_or(1.0),
            }),
            if e.reject { "reject" } else { "keep" }
        )?;
        if let Some(t) = &e.truth {
            writeln!(
                out,
                "  truth: mean difference {}{}",
                num(t.mean_difference),
                t.prob_superiority
                    .map_or(String::new(), |p| format!(", P(T>C)+½P(T=C) {p:.6}"))
            )?;
        }
    }
    for e in &r.ratios {
        writeln!(out)?;
        writeln!(
            out,
            "{} (ratio of sums): {} vs {}",
            e.ratio, e.treatment, e.control
        )?;
        for (label, g) in [
            (&e.control, &e.groups.control),
            (&e.treatment, &e.groups.treatment),
        ] {
            writeln!(
                out,
                "  {:<12} {:>12} {:>16}",
                label,
                indicatif::HumanCount(g.n).to_string(),
                num(g.ratio)
            )?;
        }
        match (&e.test, &e.error) {
            (Some(t), _) => writeln!(
                out,
                "  difference {} {conf:.0}% CI {}  z {}  p = {}  {}",
                num(t.estimate),
                ci(t.ci_low, t.ci_high),
                num(t.statistic),
                p(t.p_value),
                if t.reject { "reject" } else { "keep" }
            )?,
            (None, err) => writeln!(out, "  not computed: {}", err.as_deref().unwrap_or(""))?,
        }
    }
    Ok(())
}
