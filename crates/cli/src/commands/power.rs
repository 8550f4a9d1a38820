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
    // The solved or given (nobs1, power, effect size, effect on the metric's scale).
    let (test, solved, nobs1, power, es, effect, effect_is) = match &args.test {
        PowerTest::T {
            effect_size,
            diff,
            sd,
            common,
        } => {
            let d = effect_size.or_else(|| diff.zip(*sd).map(|(x, s)| x / s));
            let solved = solving(d.is_some(), common)?;
            let (n, pw, d) = match solved {
                Solved::SampleSize => {
                    let (d, pw) = (d.unwrap_or_default(), common.power.unwrap_or_default());
                    let n = TTestIndPower
                        .solve_nobs1(d, pw, &opts)
                        .map_err(stats_error)?;
                    (n, pw, d)
                }
                Solved::Power => {
                    let (d, n) = (d.unwrap_or_default(), common.n.unwrap_or_default());
                    (n, TTestIndPower.power(d, n, &opts).map_err(stats_error)?, d)
                }
                Solved::Mde => {
                    let (n, pw) = (
                        common.n.unwrap_or_default(),
                        common.power.unwrap_or_default(),
                    );
                    let d = TTestIndPower
                        .solve_effect_size(n, pw, &opts)
                        .map_err(stats_error)?;
                    (n, pw, d)
                }
            };
            ("t", solved, n, pw, d, sd.map(|s| d * s), "difference")
        }
        PowerTest::Proportions {
            control,
            treatment,
            common,
        } => {
            check_proportion("--control", *control)?;
            if let Some(t) = treatment {
                check_proportion("--treatment", *t)?;
            }
            let solved = solving(treatment.is_some(), common)?;
            let (n, pw, pt) = match solved {
                Solved::SampleSize => {
                    let (pt, pw) = (
                        treatment.unwrap_or_default(),
                        common.power.unwrap_or_default(),
                    );
                    let h = cohens_h(pt, *control).map_err(stats_error)?;
                    (
                        NormalIndPower
                            .solve_nobs1(h, pw, &opts)
                            .map_err(stats_error)?,
                        pw,
                        pt,
                    )
                }
                Solved::Power => {
                    let (pt, n) = (treatment.unwrap_or_default(), common.n.unwrap_or_default());
                    let h = cohens_h(pt, *control).map_err(stats_error)?;
                    (
                        n,
                        NormalIndPower.power(h, n, &opts).map_err(stats_error)?,
                        pt,
                    )
                }
                Solved::Mde => {
                    let (n, pw) = (
                        common.n.unwrap_or_default(),
                        common.power.unwrap_or_default(),
                    );
                    (
                        n,
                        pw,
                        proportions_mde(*control, n, pw, &opts).map_err(stats_error)?,
                    )
                }
            };
            let h = cohens_h(pt, *control).map_err(stats_error)?;
            ("proportions", solved, n, pw, h, Some(pt), "treatment")
        }
        PowerTest::Poisson {
            control,
            treatment,
            common,
        } => {
            let po = PoissonPowerOptions::default();
            let solved = solving(treatment.is_some(), common)?;
            let (n, pw, rt) = match solved {
                Solved::SampleSize => {
                    let (rt, pw) = (
                        treatment.unwrap_or_default(),
                        common.power.unwrap_or_default(),
                    );
                    let n = poisson_ratio_solve_nobs1(rt, *control, pw, &opts, &po)
                        .map_err(stats_error)?;
                    (n, pw, rt)
                }
                Solved::Power => {
                    let (rt, n) = (treatment.unwrap_or_default(), common.n.unwrap_or_default());
                    let pw =
                        poisson_ratio_power(rt, *control, n, &opts, &po).map_err(stats_error)?;
                    (n, pw, rt)
                }
                Solved::Mde => {
                    let (n, pw) = (
                        common.n.unwrap_or_default(),
                        common.power.unwrap_or_default(),
                    );
                    (
                        n,
                        pw,
                        poisson_ratio_mde(*control, n, pw, &opts, &po).map_err(stats_error)?,
                    )
                }
            };
            (
                "poisson",
                solved,
                n,
                pw,
                (rt / control).ln(),
                Some(rt),
                "treatment",
            )
        }
    };
    // Whole customers: round the solved size up (a hair of slack for the root finder).
    let whole = |x: f64| (x - 1e-9).ceil().max(1.0) as u64;
    let n_treatment = whole(nobs1);
    let n_control = whole(c.ratio * nobs1);
    Ok((
        PowerReport {
            test,
            solved,
            alpha: c.alpha,
            alternative: opts.alternative,
            ratio: c.ratio,
            nobs1,
            n_treatment,
            n_control,
            n_total: n_treatment + n_control,
            power,
            effect_size: es,
            effect,
            effect_is,
        },
        c.json,
    ))
}
