//! `abforge analyze`: every applicable test on every metric of a data file, a sample-ratio
//! check, multiple-testing corrections, and — for a file written by `abforge generate`,
//! which carries its blueprint — each decision judged against the known truth.
//!
//! The analysis is [`abforge_analysis`]'s (what the pipeline runs too); this module turns the
//! flags into its [`Options`], its errors into exit codes, and its [`Report`] into text.

use crate::BadInput;
use crate::cli::{AlternativeArg, AnalyzeArgs, CorrectionArg, SpendingArg};
use crate::format::{self, interval, number, p_value};
use abforge_analysis::report::{Entry, RatioEntry};
use abforge_analysis::{
    Alternative, Correction, Dataset, Options, RatioSpec, Report, SequentialPlan, quantile_key,
};
use abforge_stats::{Boundary, FiellerSet, GsdMeansResult, Tests};
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
        quantiles: args.quantile.clone(),
        cluster_column: args.cluster_column.clone(),
        priors: args.prior.clone(),
        winsorize: args.winsorize,
        group_sequential: args.looks.map(|looks| SequentialPlan {
            looks: usize::from(looks),
            boundary: match args.spending {
                SpendingArg::Obf => Boundary::LanDemetsObrienFleming,
                SpendingArg::Pocock => Boundary::LanDemetsPocock,
            },
        }),
        ..Options::new(args.input.display().to_string())
    }
}

/// Bad input is [`BadInput`] (exit code 2), with the library's message; anything else a
/// failure (exit code 1).
fn cli_error(e: abforge_analysis::Error) -> anyhow::Error {
    match e {
        abforge_analysis::Error::Usage(msg) => BadInput(msg).into(),
        e if e.is_usage() => {
            let invalid = e.invalid().cloned();
            let text = format!("{:#}", anyhow::Error::new(e));
            BadInput(crate::flags::with_flag(text, invalid.as_ref())).into()
        }
        e => anyhow::Error::new(e),
    }
}

/// The text report: the header (rows, groups, sample ratio), then each metric, then each
/// ratio metric.
fn write_text(out: &mut impl Write, r: &Report, ds: &Dataset) -> std::io::Result<()> {
    write_header(out, r, ds)?;
    for e in &r.metrics {
        write_metric(out, r, e)?;
    }
    for e in &r.ratios {
        write_ratio(out, r, e)?;
    }
    Ok(())
}

fn write_header(out: &mut impl Write, r: &Report, ds: &Dataset) -> std::io::Result<()> {
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
        p_value(r.srm.p_value),
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
    let q = &r.srm.sequential;
    writeln!(
        out,
        "  sequential (any number of looks): ln BF {:.3}, p = {}: {}",
        q.log_bayes_factor,
        p_value(q.p_value),
        if q.mismatch { "MISMATCH" } else { "ok" }
    )
}

/// One metric: its groups, its tests' table, the notes, the primary decision, the truth.
fn write_metric(out: &mut impl Write, r: &Report, e: &Entry) -> std::io::Result<()> {
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
    write_groups(out, e)?;
    write_tests(out, r, e)?;
    if let Some(p) = r.priors.get(&a.metric) {
        writeln!(out, "  bayes: prior {p}")?;
    }
    for (name, err) in &a.errors {
        writeln!(out, "  {name:<20} not computed: {err}")?;
    }
    writeln!(
        out,
        "  primary {}: p = {}, adjusted ({:?} over {} comparisons) = {} → {}",
        e.primary_test,
        e.p_value.map_or("-".into(), p_value),
        r.correction,
        r.metrics.len(),
        p_value(match r.correction {
            Correction::Bonferroni => e.p_adjusted.bonferroni,
            Correction::BenjaminiHochberg => e.p_adjusted.benjamini_hochberg,
            Correction::Holm => e.p_adjusted.holm,
            _ => e.p_value.unwrap_or(1.0),
        }),
        if e.reject { "reject" } else { "keep" }
    )?;
    if let Some(f) = &e.adjusted_interval {
        let i = &f.interval;
        writeln!(
            out,
            "  adjusted interval of the Welch difference ({:?}): ({}, {}), p = {} → {}",
            r.correction,
            number(i.ci_low),
            number(i.ci_high),
            p_value(i.p_adjusted),
            if i.reject { "reject" } else { "keep" }
        )?;
    }
    if let Some(t) = &e.truth {
        writeln!(
            out,
            "  truth: mean difference {}{}",
            number(t.mean_difference),
            t.prob_superiority
                .map_or(String::new(), |p| format!(", P(T>C)+½P(T=C) {p:.6}"))
        )?;
    }
    Ok(())
}

fn write_groups(out: &mut impl Write, e: &Entry) -> std::io::Result<()> {
    let a = &e.analysis;
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
            number(g.mean),
            g.variance.map_or("-".into(), number),
            tm.map_or(String::new(), |m| format!(" {:>16}", number(m)))
        )?;
    }
    Ok(())
}

/// The table of a metric's tests, each beside its verdict against the truth, and the notes
/// under it.
fn write_tests(out: &mut impl Write, r: &Report, e: &Entry) -> std::io::Result<()> {
    let conf = 100.0 * (1.0 - r.alpha);
    writeln!(
        out,
        "  {:<20} {:>12} {:>30} {:>12} {:>10}  {:<8} {}",
        "test",
        "estimate",
        format!("{conf:.0}% CI"),
        "statistic",
        "p-value",
        "decision",
        if e.truth.is_some() { "vs truth" } else { "" }
    )?;
    let (rows, notes) = test_rows(&e.analysis.tests);
    for row in rows {
        let verdict = e
            .truth
            .as_ref()
            .and_then(|t| t.decisions.get(&row.name))
            .map_or("", |v| format::verdict(*v));
        writeln!(
            out,
            "  {:<20} {:>12} {:>30} {:>12} {:>10}  {:<8} {}",
            row.name,
            row.estimate,
            row.ci,
            row.statistic,
            p_value(row.p_value),
            if row.reject { "reject" } else { "keep" },
            verdict
        )?;
    }
    for n in &notes {
        writeln!(out, "  {n}")?;
    }
    Ok(())
}

/// One line of a metric's test table. Sub-rows (`  yates`, `  wald`, …) are indented
/// under their test.
struct TestRow {
    name: String,
    estimate: String,
    ci: String,
    statistic: String,
    /// NaN when the test gives none (printed `-`).
    p_value: f64,
    reject: bool,
}

fn row(
    name: impl Into<String>,
    estimate: String,
    ci: String,
    statistic: String,
    p_value: f64,
    reject: bool,
) -> TestRow {
    TestRow {
        name: name.into(),
        estimate,
        ci,
        statistic,
        p_value,
        reject,
    }
}

/// Where the group-sequential test stopped, and on which plan.
fn sequential_note(x: &GsdMeansResult) -> String {
    let spending = match x.boundary {
        Boundary::LanDemetsPocock => "Pocock-like",
        _ => "O'Brien–Fleming-like",
    };
    let k = x.looks.len();
    let stop = x.stop_look();
    let at = match x.stopped_at {
        Some(s) => format!("crossed at look {s} of {k}, stopping with"),
        None => format!("no look of {k} crossed; the last saw"),
    };
    format!(
        "group_sequential: {spending} spending over {k} looks at the rows in file order; \
         {at} {} customers, z {} against the critical value {} (its interval is that \
         look's repeated interval)",
        indicatif::HumanCount(x.units_at_stop),
        number(stop.z),
        number(stop.critical_value)
    )
}

fn pct(x: f64) -> String {
    format!("{:+.3}%", 100.0 * x)
}

fn pct_ci(lo: f64, hi: f64) -> String {
    format!("[{}, {}]", pct(lo), pct(hi))
}

/// The rows of the tests that ran, in the table's order, and the notes printed under it.
fn test_rows(t: &Tests) -> (Vec<TestRow>, Vec<String>) {
    let mut rows = classical_rows(t);
    let (more, mut notes) = adjusted_rows(t);
    rows.extend(more);
    let (more, more_notes) = bayes_and_resampled_rows(t);
    rows.extend(more);
    notes.extend(more_notes);
    (rows, notes)
}

/// The rows of the classical tests (t, rank, proportions, counts, lift).
fn classical_rows(t: &Tests) -> Vec<TestRow> {
    let mut rows = Vec::new();
    let e = String::new;
    let winsorized = t.winsorized_welch.as_ref().map(|w| &w.test);
    for (name, x) in [
        ("welch_t", t.welch_t.as_ref()),
        ("student_t", t.student_t.as_ref()),
        ("winsorized_welch", winsorized),
    ] {
        if let Some(x) = x {
            let (est, ci_, st) = (
                number(x.estimate),
                interval(x.ci_low, x.ci_high),
                number(x.statistic),
            );
            rows.push(row(name, est, ci_, st, x.p_value, x.reject));
        }
    }
    if let Some(x) = &t.mann_whitney_u {
        let r = &x.result;
        let (est, u) = (
            format!("P {:.4}", r.prob_superiority),
            format!("U {}", number(r.u_treatment)),
        );
        rows.push(row(
            "mann_whitney_u",
            est,
            u,
            number(r.z),
            r.p_value,
            r.reject,
        ));
    }
    let quantiles = t
        .quantile_median
        .iter()
        .map(|x| ("quantile_median".into(), x));
    for (name, x) in quantiles.chain(t.quantiles.iter().map(|x| (quantile_key(x.p), x))) {
        let (est, ci_, st) = (
            number(x.estimate),
            interval(x.ci_low, x.ci_high),
            number(x.statistic),
        );
        rows.push(row(name, est, ci_, st, x.p_value, x.reject));
    }
    if let Some(x) = &t.two_proportion_z {
        let (est, ci_, st) = (
            number(x.estimate),
            interval(x.ci_low, x.ci_high),
            number(x.statistic),
        );
        rows.push(row("two_proportion_z", est, ci_, st, x.p_value, x.reject));
    }
    if let Some(x) = &t.chi_square {
        rows.push(row(
            "chi_square",
            e(),
            e(),
            number(x.statistic),
            x.p_value,
            x.reject,
        ));
        let st = number(x.yates_statistic);
        rows.push(row(
            "  yates",
            e(),
            e(),
            st,
            x.yates_p_value,
            x.yates_reject,
        ));
    }
    if let Some(x) = &t.fisher_exact {
        let est = format!("OR {}", number(x.odds_ratio));
        rows.push(row("fisher_exact", est, e(), e(), x.p_value, x.reject));
    }
    if let Some(x) = &t.poisson_rate {
        let (s, w) = (&x.score, &x.wald);
        let est = format!("RR {}", number(x.rate_ratio));
        let (ci_, st) = (interval(s.ci_low, s.ci_high), number(s.statistic));
        rows.push(row("poisson_rate", est, ci_, st, s.p_value, s.reject));
        let (ci_, st) = (interval(w.ci_low, w.ci_high), number(w.statistic));
        rows.push(row("  wald", e(), ci_, st, w.p_value, w.reject));
    }
    if let Some(x) = &t.relative_lift {
        let (est, ci_) = (pct(x.estimate), pct_ci(x.ci_low, x.ci_high));
        rows.push(row(
            "relative_lift",
            est,
            ci_,
            number(x.statistic),
            x.p_value,
            x.reject,
        ));
    }
    rows
}

/// The rows of CUPED, the regression and the cluster-robust test, and their notes.
fn adjusted_rows(t: &Tests) -> (Vec<TestRow>, Vec<String>) {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if let Some(x) = &t.cuped {
        let r = &x.adjusted;
        let (est, ci_, st) = (
            number(r.estimate),
            interval(r.ci_low, r.ci_high),
            number(r.statistic),
        );
        rows.push(row("cuped", est, ci_, st, r.p_value, r.reject));
        notes.push(format!(
            "cuped: θ {}, variance −{:.1}% (standard error {} → {})",
            number(x.theta),
            100.0 * x.variance_reduction,
            number(x.unadjusted_std_error),
            number(r.std_error)
        ));
    }
    let welch_se = t.welch_t.map_or("-".into(), |w| number(w.std_error));
    for (name, x) in [
        ("regression_hc2", &t.regression_hc2),
        ("cluster_robust", &t.cluster_robust),
    ] {
        let Some(x) = x else { continue };
        let (est, ci_, st) = (
            number(x.estimate),
            interval(x.ci_low, x.ci_high),
            number(x.statistic),
        );
        rows.push(row(name, est, ci_, st, x.p_value, x.reject));
        let on = match x.clusters {
            Some(g) => format!("{g} clusters (CR2)"),
            None => {
                // intercept, treatment, then each centred covariate and its interaction.
                let k = (x.coefficients.len() - 2) / 2;
                let names: Vec<&str> = x.coefficients[2..2 + k]
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                format!("{} (HC2)", names.join(", "))
            }
        };
        notes.push(format!(
            "{name}: on {on}, df {:.1}, standard error {} (Welch {welch_se})",
            x.df,
            number(x.std_error)
        ));
    }
    (rows, notes)
}

/// The rows of the Bayesian and sequential tests, the bootstrap and the permutation test,
/// and the Bayesian note.
fn bayes_and_resampled_rows(t: &Tests) -> (Vec<TestRow>, Vec<String>) {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let e = String::new;
    if let Some(x) = &t.bayes {
        let better = x.prob_treatment_better;
        let (est, ci_) = (number(x.estimate), interval(x.ci_low, x.ci_high));
        let two_sided = 2.0 * better.min(1.0 - better);
        rows.push(row(
            "bayes",
            est,
            ci_,
            format!("P {better:.4}"),
            two_sided,
            x.reject,
        ));
        notes.push(format!(
            "bayes: P(T > C) {better:.4}; expected loss of shipping T {}, of keeping C {}",
            number(x.expected_loss_treatment),
            number(x.expected_loss_control)
        ));
    }
    if let Some(x) = &t.msprt {
        let (est, ci_) = (number(x.estimate), interval(x.ci_low, x.ci_high));
        let st = format!("Λ {}", number(x.likelihood_ratio));
        rows.push(row("msprt", est, ci_, st, x.p_value, x.reject));
    }
    if let Some(x) = &t.confidence_sequence {
        let (est, ci_) = (number(x.estimate), interval(x.ci_low, x.ci_high));
        let st = format!("ρ {:.4}", x.rho);
        rows.push(row(
            "confidence_sequence",
            est,
            ci_,
            st,
            x.p_value,
            x.reject,
        ));
    }
    if let Some(x) = &t.group_sequential {
        let (est, ci_) = (number(x.estimate), interval(x.ci_low, x.ci_high));
        let stop = x.stop_look();
        let st = format!("z {}", number(stop.z));
        rows.push(row("group_sequential", est, ci_, st, f64::NAN, x.reject));
        notes.push(sequential_note(x));
    }
    if let Some(w) = &t.winsorized_welch {
        let cap = |c: Option<f64>| c.map_or("-".into(), number);
        notes.push(format!(
            "winsorized_welch: caps [{}, {}], {} treatment and {} control values capped; \
             it tests equal capped means",
            cap(w.lower_cap),
            cap(w.upper_cap),
            w.capped_treatment,
            w.capped_control
        ));
    }
    if let Some(b) = &t.bootstrap {
        let d = &b.mean_difference;
        let (est, ci_) = (number(d.estimate), interval(d.bca_low, d.bca_high));
        let st = format!("B {}", b.resamples);
        rows.push(row(
            "bootstrap_bca",
            est,
            ci_,
            st,
            f64::NAN,
            d.bca_rejects(0.0),
        ));
        let ci_ = interval(d.percentile_low, d.percentile_high);
        let reject = d.percentile_rejects(0.0);
        rows.push(row("  percentile", e(), ci_, e(), f64::NAN, reject));
        if let Some(l) = &b.relative_lift {
            let (est, ci_) = (pct(l.estimate), pct_ci(l.bca_low, l.bca_high));
            rows.push(row(
                "  lift bca",
                est,
                ci_,
                e(),
                f64::NAN,
                l.bca_rejects(0.0),
            ));
        }
    }
    if let Some(x) = &t.permutation {
        let st = format!("B {}", x.resamples);
        rows.push(row(
            "permutation",
            number(x.statistic),
            e(),
            st,
            x.p_value,
            x.reject,
        ));
    }
    (rows, notes)
}

/// One ratio metric: its groups' ratios and the delta-method test of their difference.
fn write_ratio(out: &mut impl Write, r: &Report, e: &RatioEntry) -> std::io::Result<()> {
    let conf = 100.0 * (1.0 - r.alpha);
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
            number(g.ratio)
        )?;
    }
    match (&e.test, &e.error) {
        (Some(t), _) => writeln!(
            out,
            "  difference {} {conf:.0}% CI {}  z {}  p = {}  {}",
            number(t.estimate),
            interval(t.ci_low, t.ci_high),
            number(t.statistic),
            p_value(t.p_value),
            if t.reject { "reject" } else { "keep" }
        ),
        (None, err) => writeln!(out, "  not computed: {}", err.as_deref().unwrap_or("")),
    }?;
    match (&e.fieller, &e.fieller_error) {
        (Some(f), _) => writeln!(
            out,
            "  ratio T/C {} Fieller {conf:.0}% set {}  p = {} (ratio 1, two-sided)  {}",
            number(f.estimate),
            fieller_set(&f.set),
            p_value(f.p_value),
            if f.reject { "reject" } else { "keep" }
        ),
        (None, err) => writeln!(
            out,
            "  ratio T/C: Fieller's set not computed: {}",
            err.as_deref().unwrap_or("")
        ),
    }
}

/// Fieller's set as it reads: `[lo, hi]`, `(-inf, b] ∪ [a, +inf)`, or `unbounded`.
fn fieller_set(s: &FiellerSet) -> String {
    match *s {
        FiellerSet::Interval { low, high } => interval(low, high),
        FiellerSet::Exclusive { below, above } => {
            format!("(-inf, {}] ∪ [{}, +inf)", number(below), number(above))
        }
        FiellerSet::Unbounded => "unbounded".into(),
    }
}
