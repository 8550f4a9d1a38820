//! `abforge analyze`: every applicable test on every metric of a data file, a sample-ratio
//! check, multiple-testing corrections, and — for a file written by `abforge generate`,
//! which carries its blueprint — each decision judged against the known truth.

use crate::BadInput;
use crate::cli::{AlternativeArg, AnalyzeArgs, CorrectionArg};
use crate::input::{self, Dataset};
use abforge_stats::{
    AbnOptions, Alternative, AnalyzeOptions, ArmComparison, Correction, Hypothesis, MetricAnalysis,
    MetricSamples, PrimaryTest, RatioSummary, RatioTestResult, SrmResult, adjust, analyze_arms,
    ratio_test, srm,
};
use abforge_synth::truth::{Effect, Truth};
use anyhow::Context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

/// The p-value below which the sample ratio is called a mismatch. An SRM check runs on
/// every analysis, so it uses a stricter level than the tests (the common practice).
const SRM_ALPHA: f64 = 0.001;

/// The JSON document of `abforge analyze --json`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The file analysed.
    pub input: String,
    /// Rows read.
    pub rows: u64,
    /// The group column.
    pub group_column: String,
    /// Significance level.
    pub alpha: f64,
    /// `two_sided`, `greater` or `less`.
    pub alternative: Alternative,
    /// Non-inferiority margin on the mean difference, when given.
    pub margin: Option<f64>,
    /// The correction that decides `reject`.
    pub correction: Correction,
    /// The sample-ratio check over every group in the file.
    pub srm: Srm,
    /// One entry per metric × treatment arm.
    pub metrics: Vec<Entry>,
    /// One entry per `--ratio` × treatment arm (absent when none was asked for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratios: Vec<RatioEntry>,
}

/// A ratio metric of one arm against the control.
#[derive(Debug, Serialize)]
pub struct RatioEntry {
    /// `NUM/DEN`.
    pub ratio: String,
    /// Numerator column.
    pub numerator: String,
    /// Denominator column.
    pub denominator: String,
    /// Label of the control group.
    pub control: String,
    /// Label of the treatment arm.
    pub treatment: String,
    /// Per group: n and ΣNUM / ΣDEN.
    pub groups: RatioGroups,
    /// The delta-method z test of the difference of the ratios (`null` with `error` when
    /// it cannot be computed, e.g. a denominator mean of 0).
    pub test: Option<RatioTestResult>,
    /// Why the test could not be computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Both groups of a ratio metric.
#[derive(Debug, Serialize)]
pub struct RatioGroups {
    /// Control.
    pub control: RatioGroup,
    /// Treatment.
    pub treatment: RatioGroup,
}

/// One group of a ratio metric.
#[derive(Debug, Serialize)]
pub struct RatioGroup {
    /// Customers.
    pub n: u64,
    /// ΣNUM / ΣDEN.
    pub ratio: f64,
    /// Mean numerator per customer.
    pub mean_numerator: f64,
    /// Mean denominator per customer.
    pub mean_denominator: f64,
}

/// The sample-ratio check.
#[derive(Debug, Serialize)]
pub struct Srm {
    /// Where the planned split comes from: `blueprint`, `allocation` (the flag) or `equal`.
    pub planned_from: &'static str,
    /// Per group: observed count, planned share, expected count.
    pub groups: Vec<SrmGroup>,
    /// Pearson's chi-square against the planned split.
    pub statistic: f64,
    /// Degrees of freedom (groups − 1).
    pub df: u64,
    /// Its p-value.
    pub p_value: f64,
    /// `p_value < 0.001`.
    pub mismatch: bool,
}

/// One group of the sample-ratio check.
#[derive(Debug, Serialize)]
pub struct SrmGroup {
    /// Label.
    pub group: String,
    /// Rows observed.
    pub observed: u64,
    /// Planned share.
    pub planned_share: f64,
    /// Rows expected under the planned split.
    pub expected: f64,
}

/// One metric × arm comparison.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// The metric, its kind, both groups' statistics, the tests (and `errors`).
    #[serde(flatten)]
    pub analysis: MetricAnalysis,
    /// Label of the control group.
    pub control: String,
    /// Label of the treatment arm.
    pub treatment: String,
    /// The test standing for this comparison in the multiple-testing family.
    pub primary_test: &'static str,
    /// Its raw p-value (`null` when it could not be computed).
    pub p_value: Option<f64>,
    /// Its adjusted p-values over the family of every metric × arm.
    pub p_adjusted: Adjusted,
    /// The decision at α with the chosen correction.
    pub reject: bool,
    /// The truth, when the file carries its blueprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth: Option<EntryTruth>,
}

/// Adjusted p-values.
#[derive(Debug, Serialize)]
pub struct Adjusted {
    /// Bonferroni.
    pub bonferroni: f64,
    /// Holm.
    pub holm: f64,
    /// Benjamini–Hochberg.
    pub benjamini_hochberg: f64,
}

/// The truth of one comparison and the verdict on each test's decision.
#[derive(Debug, Serialize)]
pub struct EntryTruth {
    /// True mean of the control and of the treatment.
    pub mean_control: f64,
    /// True mean of the treatment.
    pub mean_treatment: f64,
    /// True treatment − control.
    pub mean_difference: f64,
    /// True P(T > C) + ½P(T = C).
    pub prob_superiority: Option<f64>,
    /// Per test: `correct`, `type_i` (rejected a true null) or `type_ii` (missed a real
    /// effect), each test judged against its own null.
    pub decisions: BTreeMap<&'static str, Verdict>,
}

/// A decision against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The decision matches the truth.
    Correct,
    /// A true null was rejected.
    TypeI,
    /// A false null was kept.
    TypeIi,
}

impl Verdict {
    fn of(null_true: bool, reject: bool) -> Self {
        match (null_true, reject) {
            (true, true) => Verdict::TypeI,
            (false, false) => Verdict::TypeIi,
            _ => Verdict::Correct,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Correct => "correct",
            Verdict::TypeI => "TYPE I",
            Verdict::TypeIi => "TYPE II",
        }
    }
}

/// Runs the command.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let ds = input::read(&input::Request {
        path: args.input.clone(),
        group_column: args.group_column.clone(),
        metrics: args.metric.clone(),
        extra: args
            .ratio
            .iter()
            .flat_map(|r| [r.numerator.clone(), r.denominator.clone()])
            .collect(),
    })?;
    let report = analyze(args, &ds)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report, &ds)?;
    }
    Ok(())
}

fn labels_list(ds: &Dataset) -> String {
    ds.labels
        .iter()
        .map(|l| format!("{l:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The analysis of a dataset.
///
/// # Errors
/// [`BadInput`] for group labels not in the data; statistics errors otherwise.
pub fn analyze(args: &AnalyzeArgs, ds: &Dataset) -> anyhow::Result<Report> {
    let control = ds.group(&args.control).ok_or_else(|| {
        BadInput(format!(
            "--control {}: no such group in column {:?}; the groups are {}",
            args.control,
            args.group_column,
            labels_list(ds)
        ))
    })?;
    let arms: Vec<usize> = if args.treatment.is_empty() {
        match ds.group("treatment") {
            Some(t) if t != control => vec![t],
            _ => (0..ds.labels.len()).filter(|&g| g != control).collect(),
        }
    } else {
        let mut arms = Vec::new();
        for t in &args.treatment {
            let g = ds.group(t).ok_or_else(|| {
                BadInput(format!(
                    "--treatment {t}: no such group in column {:?}; the groups are {}",
                    args.group_column,
                    labels_list(ds)
                ))
            })?;
            if g == control {
                return Err(BadInput(format!(
                    "--treatment {t}: that is the control group (--control)"
                ))
                .into());
            }
            if !arms.contains(&g) {
                arms.push(g);
            }
        }
        arms
    };
    if arms.is_empty() {
        return Err(BadInput(format!(
            "{}: only the control group {:?} is in column {:?}; there is nothing to compare",
            args.input.display(),
            args.control,
            args.group_column
        ))
        .into());
    }
    let hypothesis = match (args.margin, args.alternative) {
        (Some(m), AlternativeArg::Less) => {
            Hypothesis::non_inferiority_lower_is_better(m, args.alpha)
        }
        (Some(m), _) => Hypothesis::non_inferiority(m, args.alpha),
        (None, AlternativeArg::TwoSided) => Hypothesis::two_sided(args.alpha),
        (None, AlternativeArg::Greater) => Hypothesis::one_sided(Alternative::Greater, args.alpha),
        (None, AlternativeArg::Less) => Hypothesis::one_sided(Alternative::Less, args.alpha),
    };
    let correction = match args.correction {
        CorrectionArg::Holm => Correction::Holm,
        CorrectionArg::Bonferroni => Correction::Bonferroni,
        CorrectionArg::Bh => Correction::BenjaminiHochberg,
        CorrectionArg::None => Correction::None,
    };
    let srm = sample_ratio(args, ds)?;

    let arm_names: Vec<&str> = arms.iter().map(|&g| ds.labels[g].as_str()).collect();
    let per_metric: Vec<Vec<(&str, &[f64])>> = ds.metrics[..ds.analyzed]
        .iter()
        .map(|m| {
            arms.iter()
                .zip(&arm_names)
                .map(|(&g, &name)| (name, m.by_group[g].as_slice()))
                .collect()
        })
        .collect();
    let samples: Vec<MetricSamples<'_>> = ds.metrics[..ds.analyzed]
        .iter()
        .zip(&per_metric)
        .map(|(m, arms)| MetricSamples {
            metric: &m.name,
            control: &m.by_group[control],
            arms,
        })
        .collect();
    let opts = AbnOptions {
        analyze: AnalyzeOptions {
            hypothesis,
            bootstrap: args
                .bootstrap
                .map(|resamples| abforge_stats::BootstrapOptions {
                    resamples,
                    seed: args.seed,
                    alpha: args.alpha,
                }),
            permutation: args
                .permutations
                .map(|resamples| abforge_stats::PermutationOptions {
                    resamples,
                    seed: args.seed,
                    hypothesis,
                }),
            ..AnalyzeOptions::default()
        },
        correction,
        primary: PrimaryTest::ByKind,
    };
    let mut abn = analyze_arms(&samples, &opts).map_err(|e| match e {
        abforge_stats::Error::NonFinite { .. }
        | abforge_stats::Error::TooFewObservations { .. } => {
            anyhow::Error::new(BadInput(format!("{}: {e}", args.input.display())))
        }
        e => anyhow::Error::new(e),
    })?;
    cuped_on_covariates(&mut abn.comparisons, ds, control, &hypothesis);
    let raw: Vec<f64> = abn
        .comparisons
        .iter()
        .map(|c| c.p_value.unwrap_or(1.0))
        .collect();
    let all = |c| adjust(&raw, c).context("adjusting p-values");
    let (bonf, holm, bh) = (
        all(Correction::Bonferroni)?,
        all(Correction::Holm)?,
        all(Correction::BenjaminiHochberg)?,
    );
    let truth = ds.blueprint.as_ref().and_then(|bp| {
        // The blueprint in the file's metadata is already resolved.
        bp.resolve().ok().map(|r| r.truth())
    });
    let metrics = abn
        .comparisons
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let truth = truth
                .as_ref()
                .and_then(|t| judge(t, &c, &args.control, &hypothesis));
            Entry {
                control: args.control.clone(),
                treatment: c.arm.clone(),
                primary_test: c.primary_test,
                p_value: c.p_value,
                p_adjusted: Adjusted {
                    bonferroni: bonf[i],
                    holm: holm[i],
                    benjamini_hochberg: bh[i],
                },
                reject: c.reject,
                truth,
                analysis: c.analysis,
            }
        })
        .collect();
    Ok(Report {
        input: args.input.display().to_string(),
        rows: ds.rows(),
        group_column: args.group_column.clone(),
        alpha: args.alpha,
        alternative: hypothesis.alternative,
        margin: args.margin,
        correction,
        srm,
        metrics,
        ratios: ratios(args, ds, control, &arms, &hypothesis)?,
    })
}

/// CUPED for every comparison whose metric has a `pre_<metric>` column in the file.
fn cuped_on_covariates(
    comparisons: &mut [ArmComparison],
    ds: &Dataset,
    control: usize,
    h: &Hypothesis,
) {
    for c in comparisons {
        let metric = &c.analysis.metric;
        let (Some(y), Some(x), Some(arm)) = (
            ds.column(metric),
            ds.column(&format!("pre_{metric}")),
            ds.group(&c.arm),
        ) else {
            continue;
        };
        match abforge_stats::cuped(
            &y.by_group[arm],
            &x.by_group[arm],
            &y.by_group[control],
            &x.by_group[control],
            h,
        ) {
            Ok(r) => c.analysis.tests.cuped = Some(r),
            Err(e) => {
                c.analysis.errors.insert("cuped".into(), e.to_string());
            }
        }
    }
}

/// The `--ratio` metrics of every arm against the control.
fn ratios(
    args: &AnalyzeArgs,
    ds: &Dataset,
    control: usize,
    arms: &[usize],
    h: &Hypothesis,
) -> anyhow::Result<Vec<RatioEntry>> {
    let mut out = Vec::new();
    for r in &args.ratio {
        let (num, den) = (
            ds.column(&r.numerator).context("ratio numerator read")?,
            ds.column(&r.denominator)
                .context("ratio denominator read")?,
        );
        let summary = |g: usize| RatioSummary::from_slices(&num.by_group[g], &den.by_group[g]);
        let group = |s: &RatioSummary| RatioGroup {
            n: s.n,
            ratio: s.mean_x / s.mean_y,
            mean_numerator: s.mean_x,
            mean_denominator: s.mean_y,
        };
        let c = summary(control)?;
        for &arm in arms {
            let t = summary(arm)?;
            let (test, error) = match ratio_test(&t, &c, h) {
                Ok(x) => (Some(x), None),
                Err(e) => (None, Some(e.to_string())),
            };
            out.push(RatioEntry {
                ratio: format!("{}/{}", r.numerator, r.denominator),
                numerator: r.numerator.clone(),
                denominator: r.denominator.clone(),
                control: args.control.clone(),
                treatment: ds.labels[arm].clone(),
                groups: RatioGroups {
                    control: group(&c),
                    treatment: group(&t),
                },
                test,
                error,
            });
        }
    }
    Ok(out)
}

/// The sample-ratio check of every group in the file against the planned split.
fn sample_ratio(args: &AnalyzeArgs, ds: &Dataset) -> anyhow::Result<Srm> {
    let mut labels = ds.labels.clone();
    let mut observed = ds.counts.clone();
    let (planned_from, weights): (&'static str, Vec<f64>) = if let Some(a) = &args.allocation {
        let a = &a.0;
        for l in &ds.labels {
            if !a.iter().any(|(g, _)| g == l) {
                return Err(BadInput(format!(
                    "--allocation: group {l:?} is in the data but has no weight; give every group, e.g. {}",
                    ds.labels
                        .iter()
                        .map(|l| format!("{l}=1"))
                        .collect::<Vec<_>>()
                        .join(",")
                ))
                .into());
            }
        }
        // Planned groups missing from the data were observed 0 times.
        for (g, _) in a {
            if !labels.contains(g) {
                labels.push(g.clone());
                observed.push(0);
            }
        }
        let w = labels
            .iter()
            .map(|l| a.iter().find(|(g, _)| g == l).map_or(0.0, |(_, w)| *w))
            .collect();
        ("allocation", w)
    } else if let Some(bp) = ds.blueprint.as_ref().filter(|bp| {
        ds.labels
            .iter()
            .all(|l| bp.groups.iter().any(|(g, _)| g == l))
    }) {
        for (g, _) in &bp.groups {
            if !labels.contains(g) {
                labels.push(g.clone());
                observed.push(0);
            }
        }
        let w = labels
            .iter()
            .map(|l| {
                bp.groups
                    .iter()
                    .find(|(g, _)| g == l)
                    .map_or(0.0, |(_, w)| *w)
            })
            .collect();
        ("blueprint", w)
    } else {
        ("equal", vec![1.0; labels.len()])
    };
    let total: f64 = weights.iter().sum();
    let SrmResult {
        statistic,
        df,
        p_value,
        expected,
    } = srm(&observed, &weights).context("sample-ratio check")?;
    let groups = labels
        .into_iter()
        .zip(observed)
        .zip(weights.iter().zip(expected))
        .map(|((group, observed), (w, expected))| SrmGroup {
            group,
            observed,
            planned_share: w / total,
            expected,
        })
        .collect();
    Ok(Srm {
        planned_from,
        groups,
        statistic,
        df,
        p_value,
        mismatch: p_value < SRM_ALPHA,
    })
}

/// Whether H0 holds for a true effect `effect` (on the test's own scale, null value `null`).
fn null_holds(effect: f64, exactly_null: bool, null: f64, alt: Alternative) -> bool {
    match alt {
        Alternative::TwoSided => exactly_null,
        Alternative::Greater => exactly_null || effect <= null,
        Alternative::Less => exactly_null || effect >= null,
    }
}

/// Judges every test of a comparison against the truth of the file's blueprint.
fn judge(truth: &Truth, c: &ArmComparison, control: &str, h: &Hypothesis) -> Option<EntryTruth> {
    if truth.control_group != control {
        return None;
    }
    let m = truth
        .metrics
        .iter()
        .find(|m| m.metric == c.analysis.metric)?;
    let e: &Effect = m.effects.iter().find(|e| e.group == c.arm)?;
    let mean = |g: &str| m.groups.iter().find(|x| x.group == g).map(|x| x.mean);
    let (mean_control, mean_treatment) = (mean(control)?, mean(&c.arm)?);
    let null = h.null.unwrap_or(0.0);
    // Mean-scale tests (t, z, chi-square, Fisher, Poisson, lift): H0 is about the mean
    // difference; with a margin, it is shifted by the margin.
    let mean_null = if h.null.is_some_and(|v| v != 0.0) {
        null_holds(e.abs_effect, false, null, h.alternative)
    } else {
        null_holds(e.abs_effect, e.mean_null, 0.0, h.alternative)
    };
    let plain = |alt| null_holds(e.abs_effect, e.mean_null, 0.0, alt);
    let t = &c.analysis.tests;
    let mut decisions = BTreeMap::new();
    let mut put = |name: &'static str, null_true: bool, reject: Option<bool>| {
        if let Some(r) = reject {
            decisions.insert(name, Verdict::of(null_true, r));
        }
    };
    put("welch_t", mean_null, t.welch_t.map(|x| x.reject));
    put("student_t", mean_null, t.student_t.map(|x| x.reject));
    put(
        "two_proportion_z",
        mean_null,
        t.two_proportion_z.map(|x| x.reject),
    );
    put(
        "chi_square",
        plain(Alternative::TwoSided),
        t.chi_square.map(|x| x.reject),
    );
    put(
        "fisher_exact",
        plain(h.alternative),
        t.fisher_exact.map(|x| x.reject),
    );
    put(
        "poisson_rate",
        mean_null,
        t.poisson_rate.map(|x| x.score.reject),
    );
    put(
        "relative_lift",
        plain(h.alternative),
        t.relative_lift.map(|x| x.reject),
    );
    // The newer methods test the mean difference, two-sided for the Bayesian rule and the
    // bootstrap intervals.
    put("cuped", mean_null, t.cuped.map(|x| x.adjusted.reject));
    put("msprt", mean_null, t.msprt.map(|x| x.reject));
    put(
        "bayes",
        plain(Alternative::TwoSided),
        t.bayes.map(|x| x.reject),
    );
    put(
        "bootstrap_bca",
        plain(Alternative::TwoSided),
        t.bootstrap.map(|x| x.mean_difference.bca_rejects(0.0)),
    );
    put(
        "permutation",
        plain(h.alternative),
        t.permutation.map(|x| x.reject),
    );
    if let (Some(ps), Some(ps_null)) = (e.prob_superiority, e.prob_superiority_null) {
        put(
            "mann_whitney_u",
            null_holds(ps, ps_null, 0.5, h.alternative),
            t.mann_whitney_u.map(|x| x.result.reject),
        );
    }
    Some(EntryTruth {
        mean_control,
        mean_treatment,
        mean_difference: e.abs_effect,
        prob_superiority: e.prob_superiority,
        decisions,
    })
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
                .map_or("", |v| v.label())
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
