//! `abforge power`: sample size, power or minimum detectable effect, for the two-sample
//! t-test, two proportions and two Poisson rates. Of the effect, `--n` and `--power`, give
//! two; the third is solved for.

use crate::BadInput;
use crate::cli::{AlternativeArg, PowerArgs, PowerCommon, PowerTest};
use abforge_stats::{
    Alternative, NormalIndPower, PoissonPowerOptions, PowerOptions, TTestIndPower, cohens_h,
    poisson_ratio_mde, poisson_ratio_power, poisson_ratio_solve_nobs1, proportions_mde,
};
use serde::Serialize;
use std::io::Write;

/// What was solved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Solved {
    /// The sample size for a target power.
    SampleSize,
    /// The power of a given sample size.
    Power,
    /// The minimum detectable effect of a given sample size at a target power.
    Mde,
}

/// The JSON document of `abforge power --json`.
#[derive(Debug, Serialize)]
pub struct PowerReport {
    /// `t`, `proportions` or `poisson`.
    pub test: &'static str,
    /// What was solved for.
    pub solved: Solved,
    /// Significance level.
    pub alpha: f64,
    /// `two_sided`, `greater` or `less`.
    pub alternative: Alternative,
    /// Control customers per treatment customer.
    pub ratio: f64,
    /// Treatment customers (fractional as solved; `n_treatment` rounds it up).
    pub nobs1: f64,
    /// Treatment customers needed (whole).
    pub n_treatment: u64,
    /// Control customers needed (whole): `ceil(ratio · nobs1)`.
    pub n_control: u64,
    /// Both groups together.
    pub n_total: u64,
    /// The power.
    pub power: f64,
    /// The standardised effect (Cohen's d for `t`, Cohen's h for `proportions`, the log rate
    /// ratio for `poisson`).
    pub effect_size: f64,
    /// The effect on the metric's own scale: the mean difference (t, when `--sd` is known),
    /// the treatment proportion, or the treatment rate.
    pub effect: Option<f64>,
    /// What `effect` is.
    pub effect_is: &'static str,
}

fn alternative(a: AlternativeArg) -> Alternative {
    match a {
        AlternativeArg::TwoSided => Alternative::TwoSided,
        AlternativeArg::Greater => Alternative::Greater,
        AlternativeArg::Less => Alternative::Less,
    }
}

/// Which of (effect, n, power) is missing.
fn solving(effect: bool, c: &PowerCommon) -> anyhow::Result<Solved> {
    let power = c.power.is_some();
    let n = c.n.is_some();
    if let Some(p) = c.power
        && !(p > c.alpha && p < 1.0)
    {
        return Err(BadInput(format!(
            "--power {p}: expected a number between --alpha ({}) and 1",
            c.alpha
        ))
        .into());
    }
    match (effect, n, power) {
        (true, false, true) => Ok(Solved::SampleSize),
        (true, true, false) => Ok(Solved::Power),
        (false, true, true) => Ok(Solved::Mde),
        _ => Err(BadInput(
            "give exactly two of: the effect, --n and --power (abforge solves for the third)"
                .into(),
        )
        .into()),
    }
}

fn stats_error(e: abforge_stats::Error) -> anyhow::Error {
    BadInput(e.to_string()).into()
}

fn check_proportion(flag: &str, p: f64) -> anyhow::Result<()> {
    if p > 0.0 && p < 1.0 {
        Ok(())
    } else {
        Err(BadInput(format!(
            "{flag} {p}: expected a proportion strictly between 0 and 1"
        ))
        .into())
    }
}

/// Runs the command.
pub fn run(args: &PowerArgs) -> anyhow::Result<()> {
    let (report, json) = compute(args)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    let what = match report.solved {
        Solved::SampleSize => "sample size",
        Solved::Power => "power",
        Solved::Mde => "minimum detectable effect",
    };
    writeln!(
        out,
        "{} test, {}, alpha {}, {} control per treatment customer: {what}",
        report.test,
        match report.alternative {
            Alternative::TwoSided => "two-sided",
            Alternative::Greater => "one-sided (greater)",
            Alternative::Less => "one-sided (less)",
        },
        report.alpha,
        report.ratio
    )?;
    writeln!(
        out,
        "  customers   treatment {}  control {}  total {}{}",
        report.n_treatment,
        report.n_control,
        report.n_total,
        if report.solved == Solved::SampleSize {
            format!("  (solved: {:.4} treatment)", report.nobs1)
        } else {
            String::new()
        }
    )?;
    writeln!(out, "  power       {:.6}", report.power)?;
    writeln!(
        out,
        "  effect size {:.6} ({})",
        report.effect_size,
        match report.test {
            "t" => "Cohen's d",
            "proportions" => "Cohen's h",
            _ => "log rate ratio",
        }
    )?;
    if let Some(e) = report.effect {
        writeln!(out, "  {:<11} {e:.6}", report.effect_is)?;
    }
    Ok(())
}

/// What one test solved for or was given, before rounding to whole customers.
struct Outcome {
    /// `t`, `proportions` or `poisson`.
    test: &'static str,
    /// What was solved for.
    solved: Solved,
    /// Treatment customers (fractional as solved).
    nobs1: f64,
    /// The power.
    power: f64,
    /// The standardised effect.
    effect_size: f64,
    /// The effect on the metric's own scale, when known.
    effect: Option<f64>,
    /// What `effect` is.
    effect_is: &'static str,
}

/// The three quantities of a power calculation, two given and one solved: the treatment
/// customers, the power and the effect (in the test's own terms: Cohen's d, or the
/// treatment's proportion or rate).
struct Sizing {
    /// Treatment customers.
    nobs1: f64,
    /// The power.
    power: f64,
    /// The effect.
    effect: f64,
}

/// Computes the report; also returns whether JSON was asked for.
///
/// # Errors
/// [`BadInput`] for a missing or contradictory quantity, or one out of range.
pub fn compute(args: &PowerArgs) -> anyhow::Result<(PowerReport, bool)> {
    let c = match &args.test {
        PowerTest::T { common, .. }
        | PowerTest::Proportions { common, .. }
        | PowerTest::Poisson { common, .. } => common,
    };
    let opts = PowerOptions {
        alpha: c.alpha,
        ratio: c.ratio,
        alternative: alternative(c.alternative),
    };
    let outcome = match &args.test {
        PowerTest::T {
            effect_size,
            diff,
            sd,
            common,
        } => t_test(*effect_size, *diff, *sd, common, &opts)?,
        PowerTest::Proportions {
            control,
            treatment,
            common,
        } => proportions_test(*control, *treatment, common, &opts)?,
        PowerTest::Poisson {
            control,
            treatment,
            common,
        } => poisson_test(*control, *treatment, common, &opts)?,
    };
    Ok((report(c, opts.alternative, outcome), c.json))
}

/// The two-sample t-test: the effect is Cohen's d, given or as `diff / sd`.
fn t_test(
    effect_size: Option<f64>,
    diff: Option<f64>,
    sd: Option<f64>,
    common: &PowerCommon,
    opts: &PowerOptions,
) -> anyhow::Result<Outcome> {
    let d = effect_size.or_else(|| diff.zip(sd).map(|(x, s)| x / s));
    let solved = solving(d.is_some(), common)?;
    let s = solve_t(solved, d, common, opts)?;
    Ok(Outcome {
        test: "t",
        solved,
        nobs1: s.nobs1,
        power: s.power,
        effect_size: s.effect,
        effect: sd.map(|sd| s.effect * sd),
        effect_is: "difference",
    })
}

/// Solves the t-test for what `solved` names, Cohen's `d` being the effect.
fn solve_t(
    solved: Solved,
    d: Option<f64>,
    common: &PowerCommon,
    opts: &PowerOptions,
) -> anyhow::Result<Sizing> {
    Ok(match solved {
        Solved::SampleSize => {
            let (d, pw) = (d.unwrap_or_default(), common.power.unwrap_or_default());
            let n = TTestIndPower
                .solve_nobs1(d, pw, opts)
                .map_err(stats_error)?;
            Sizing {
                nobs1: n,
                power: pw,
                effect: d,
            }
        }
        Solved::Power => {
            let (d, n) = (d.unwrap_or_default(), common.n.unwrap_or_default());
            Sizing {
                nobs1: n,
                power: TTestIndPower.power(d, n, opts).map_err(stats_error)?,
                effect: d,
            }
        }
        Solved::Mde => {
            let (n, pw) = (
                common.n.unwrap_or_default(),
                common.power.unwrap_or_default(),
            );
            let d = TTestIndPower
                .solve_effect_size(n, pw, opts)
                .map_err(stats_error)?;
            Sizing {
                nobs1: n,
                power: pw,
                effect: d,
            }
        }
    })
}

/// Two proportions: the effect is the treatment's proportion against `control`'s.
fn proportions_test(
    control: f64,
    treatment: Option<f64>,
    common: &PowerCommon,
    opts: &PowerOptions,
) -> anyhow::Result<Outcome> {
    check_proportion("--control", control)?;
    if let Some(t) = treatment {
        check_proportion("--treatment", t)?;
    }
    let solved = solving(treatment.is_some(), common)?;
    let s = solve_proportions(solved, control, treatment, common, opts)?;
    let h = cohens_h(s.effect, control).map_err(stats_error)?;
    Ok(Outcome {
        test: "proportions",
        solved,
        nobs1: s.nobs1,
        power: s.power,
        effect_size: h,
        effect: Some(s.effect),
        effect_is: "treatment",
    })
}

/// Solves the two-proportions test for what `solved` names.
fn solve_proportions(
    solved: Solved,
    control: f64,
    treatment: Option<f64>,
    common: &PowerCommon,
    opts: &PowerOptions,
) -> anyhow::Result<Sizing> {
    Ok(match solved {
        Solved::SampleSize => {
            let (pt, pw) = (
                treatment.unwrap_or_default(),
                common.power.unwrap_or_default(),
            );
            let h = cohens_h(pt, control).map_err(stats_error)?;
            Sizing {
                nobs1: NormalIndPower
                    .solve_nobs1(h, pw, opts)
                    .map_err(stats_error)?,
                power: pw,
                effect: pt,
            }
        }
        Solved::Power => {
            let (pt, n) = (treatment.unwrap_or_default(), common.n.unwrap_or_default());
            let h = cohens_h(pt, control).map_err(stats_error)?;
            Sizing {
                nobs1: n,
                power: NormalIndPower.power(h, n, opts).map_err(stats_error)?,
                effect: pt,
            }
        }
        Solved::Mde => {
            let (n, pw) = (
                common.n.unwrap_or_default(),
                common.power.unwrap_or_default(),
            );
            Sizing {
                nobs1: n,
                power: pw,
                effect: proportions_mde(control, n, pw, opts).map_err(stats_error)?,
            }
        }
    })
}

/// Two Poisson rates: the effect is the treatment's rate against `control`'s.
fn poisson_test(
    control: f64,
    treatment: Option<f64>,
    common: &PowerCommon,
    opts: &PowerOptions,
) -> anyhow::Result<Outcome> {
    let solved = solving(treatment.is_some(), common)?;
    let s = solve_poisson(solved, control, treatment, common, opts)?;
    Ok(Outcome {
        test: "poisson",
        solved,
        nobs1: s.nobs1,
        power: s.power,
        effect_size: (s.effect / control).ln(),
        effect: Some(s.effect),
        effect_is: "treatment",
    })
}

/// Solves the two-rates test for what `solved` names.
fn solve_poisson(
    solved: Solved,
    control: f64,
    treatment: Option<f64>,
    common: &PowerCommon,
    opts: &PowerOptions,
) -> anyhow::Result<Sizing> {
    let po = PoissonPowerOptions::default();
    Ok(match solved {
        Solved::SampleSize => {
            let (rt, pw) = (
                treatment.unwrap_or_default(),
                common.power.unwrap_or_default(),
            );
            let n = poisson_ratio_solve_nobs1(rt, control, pw, opts, &po).map_err(stats_error)?;
            Sizing {
                nobs1: n,
                power: pw,
                effect: rt,
            }
        }
        Solved::Power => {
            let (rt, n) = (treatment.unwrap_or_default(), common.n.unwrap_or_default());
            let pw = poisson_ratio_power(rt, control, n, opts, &po).map_err(stats_error)?;
            Sizing {
                nobs1: n,
                power: pw,
                effect: rt,
            }
        }
        Solved::Mde => {
            let (n, pw) = (
                common.n.unwrap_or_default(),
                common.power.unwrap_or_default(),
            );
            Sizing {
                nobs1: n,
                power: pw,
                effect: poisson_ratio_mde(control, n, pw, opts, &po).map_err(stats_error)?,
            }
        }
    })
}

/// The report of `outcome`, its sizes rounded up to whole customers.
fn report(c: &PowerCommon, alternative: Alternative, outcome: Outcome) -> PowerReport {
    // Whole customers: round the solved size up (a hair of slack for the root finder).
    let whole = |x: f64| (x - 1e-9).ceil().max(1.0) as u64;
    let n_treatment = whole(outcome.nobs1);
    let n_control = whole(c.ratio * outcome.nobs1);
    PowerReport {
        test: outcome.test,
        solved: outcome.solved,
        alpha: c.alpha,
        alternative,
        ratio: c.ratio,
        nobs1: outcome.nobs1,
        n_treatment,
        n_control,
        n_total: n_treatment + n_control,
        power: outcome.power,
        effect_size: outcome.effect_size,
        effect: outcome.effect,
        effect_is: outcome.effect_is,
    }
}
