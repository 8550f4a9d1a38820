//! `abforge power`: sample size, power or minimum detectable effect, for the two-sample
//! t-test, two proportions and two Poisson rates. Of the effect, `--n` and `--power`, give
//! two; the third is solved for ([`abforge_analysis::power::plan`]).

use crate::BadInput;
use crate::cli::{AlternativeArg, PowerArgs, PowerTest};
use abforge_analysis::power::{PowerReport, PowerRequest, Solved};
use abforge_stats::Alternative;
use std::io::Write;

fn alternative(a: AlternativeArg) -> Alternative {
    match a {
        AlternativeArg::TwoSided => Alternative::TwoSided,
        AlternativeArg::Greater => Alternative::Greater,
        AlternativeArg::Less => Alternative::Less,
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
    let (test, c) = match &args.test {
        PowerTest::T {
            effect_size,
            diff,
            sd,
            common,
        } => (
            abforge_analysis::power::PowerTest::T {
                effect_size: *effect_size,
                diff: *diff,
                sd: *sd,
            },
            common,
        ),
        PowerTest::Proportions {
            control,
            treatment,
            common,
        } => (
            abforge_analysis::power::PowerTest::Proportions {
                control: *control,
                treatment: *treatment,
            },
            common,
        ),
        PowerTest::Poisson {
            control,
            treatment,
            common,
        } => (
            abforge_analysis::power::PowerTest::Poisson {
                control: *control,
                treatment: *treatment,
            },
            common,
        ),
    };
    let req = PowerRequest {
        test,
        n: c.n,
        power: c.power,
        ratio: c.ratio,
        alpha: c.alpha,
        alternative: alternative(c.alternative),
    };
    // Every failure of a power calculation is bad input: a value out of range, or one no
    // sample size or effect can reach.
    let report = abforge_analysis::power::plan(&req).map_err(|e| {
        let invalid = e.invalid().cloned();
        BadInput(crate::flags::with_flag(e.to_string(), invalid.as_ref()))
    })?;
    Ok((report, c.json))
}
