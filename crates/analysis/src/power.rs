//! Planning an experiment ([`plan`]): the sample size, the power or the minimum detectable
//! effect of the two-sample t-test, two proportions or two Poisson rates. Of the effect,
//! the treatment customers `n` and the power, give two; the third is solved for. What
//! `abforge power` and the Python package's `abforge.power` compute; [`PowerReport`]
//! serialises as the JSON of `abforge power --json`.

use crate::error::{Result, invalid_value, usage};
use abforge_stats::{
    Alternative, NormalIndPower, PoissonPowerOptions, PowerOptions, TTestIndPower, cohens_h,
    poisson_ratio_mde, poisson_ratio_power, poisson_ratio_solve_nobs1, proportions_mde,
};
use serde::Serialize;

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

/// The test planned for, and its effect when given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PowerTest {
    /// Two-sample t-test of means (noncentral t, as statsmodels' `TTestIndPower`). The
    /// effect is Cohen's d: `effect_size`, or `diff / sd`; `sd` alone turns the solved
    /// effect into a difference of means.
    T {
        /// Standardised effect (Cohen's d).
        effect_size: Option<f64>,
        /// Difference of means to detect (with `sd`).
        diff: Option<f64>,
        /// Standard deviation of the metric in each group.
        sd: Option<f64>,
    },
    /// Two proportions (normal approximation on Cohen's h, as statsmodels'
    /// `NormalIndPower`); the effect is the treatment's proportion.
    Proportions {
        /// Conversion rate of the control group, in (0, 1).
        control: f64,
        /// Conversion rate of the treatment group to detect, in (0, 1).
        treatment: Option<f64>,
    },
    /// Two Poisson rates (counts per customer); the effect is the treatment's rate.
    Poisson {
        /// Mean count per customer in the control group (positive).
        control: f64,
        /// Mean count per customer in the treatment group to detect (positive).
        treatment: Option<f64>,
    },
}

/// A power calculation to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerRequest {
    /// The test, and its effect when given.
    pub test: PowerTest,
    /// Customers in the treatment group (the control has `ratio` times as many).
    pub n: Option<f64>,
    /// Target power, in (alpha, 1).
    pub power: Option<f64>,
    /// Control customers per treatment customer (positive; 1 is an even split).
    pub ratio: f64,
    /// Significance level, in (0, 1).
    pub alpha: f64,
    /// Two-sided, or one-sided.
    pub alternative: Alternative,
}

/// The JSON document of `abforge power --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// The effect on the metric's own scale: the mean difference (t, when `sd` is known),
    /// the treatment proportion, or the treatment rate.
    pub effect: Option<f64>,
    /// What `effect` is.
    pub effect_is: &'static str,
}

/// What one test solved for or was given, before rounding to whole customers.
struct Outcome {
    test: &'static str,
    solved: Solved,
    nobs1: f64,
    power: f64,
    effect_size: f64,
    effect: Option<f64>,
    effect_is: &'static str,
}

/// The three quantities of a power calculation, two given and one solved: the treatment
/// customers, the power and the effect (in the test's own terms: Cohen's d, or the
/// treatment's proportion or rate).
struct Sizing {
    nobs1: f64,
    power: f64,
    effect: f64,
}

/// Solves `req` for its missing quantity.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) naming the field out of range (`alpha`, `ratio`, `n`, `power`,
/// `control`, `treatment`, `sd`), [`Error::Usage`](crate::Error::Usage) unless exactly two of the effect, `n`
/// and `power` are given, [`Error::Stats`](crate::Error::Stats) when the solver finds no solution.
pub fn plan(req: &PowerRequest) -> Result<PowerReport> {
    check(req)?;
    let opts = PowerOptions {
        alpha: req.alpha,
        ratio: req.ratio,
        alternative: req.alternative,
    };
    let outcome = match req.test {
        PowerTest::T {
            effect_size,
            diff,
            sd,
        } => t_test(effect_size, diff, sd, req, &opts)?,
        PowerTest::Proportions { control, treatment } => {
            proportions_test(control, treatment, req, &opts)?
        }
        PowerTest::Poisson { control, treatment } => poisson_test(control, treatment, req, &opts)?,
    };
    Ok(report(req, outcome))
}

/// The ranges of the plain numbers.
fn check(req: &PowerRequest) -> Result<()> {
    if !(req.alpha > 0.0 && req.alpha < 1.0) {
        return Err(invalid_value(
            "alpha",
            req.alpha,
            "expected a number strictly between 0 and 1",
        ));
    }
    positive("ratio", Some(req.ratio))?;
    positive("n", req.n)?;
    if let Some(p) = req.power
        && !(p > req.alpha && p < 1.0)
    {
        return Err(invalid_value(
            "power",
            p,
            format!("expected a number between alpha ({}) and 1", req.alpha),
        ));
    }
    match req.test {
        PowerTest::T { sd, .. } => positive("sd", sd),
        PowerTest::Proportions { control, treatment } => {
            proportion("control", Some(control))?;
            proportion("treatment", treatment)
        }
        PowerTest::Poisson { control, treatment } => {
            positive("control", Some(control))?;
            positive("treatment", treatment)
        }
    }
}

fn positive(field: &'static str, x: Option<f64>) -> Result<()> {
    match x {
        Some(v) if !(v > 0.0 && v.is_finite()) => {
            Err(invalid_value(field, v, "expected a positive number"))
        }
        _ => Ok(()),
    }
}

fn proportion(field: &'static str, p: Option<f64>) -> Result<()> {
    match p {
        Some(v) if !(v > 0.0 && v < 1.0) => Err(invalid_value(
            field,
            v,
            "expected a proportion strictly between 0 and 1",
        )),
        _ => Ok(()),
    }
}

/// Which of (effect, n, power) is missing.
fn solving(effect: bool, req: &PowerRequest) -> Result<Solved> {
    match (effect, req.n.is_some(), req.power.is_some()) {
        (true, false, true) => Ok(Solved::SampleSize),
        (true, true, false) => Ok(Solved::Power),
        (false, true, true) => Ok(Solved::Mde),
        _ => Err(usage(
            "give exactly two of: the effect, n and power (abforge solves for the third)",
        )),
    }
}

/// The two-sample t-test: the effect is Cohen's d, given or as `diff / sd`.
fn t_test(
    effect_size: Option<f64>,
    diff: Option<f64>,
    sd: Option<f64>,
    req: &PowerRequest,
    opts: &PowerOptions,
) -> Result<Outcome> {
    let d = effect_size.or_else(|| diff.zip(sd).map(|(x, s)| x / s));
    let solved = solving(d.is_some(), req)?;
    let (n, pw, d) = (
        req.n.unwrap_or_default(),
        req.power.unwrap_or_default(),
        d.unwrap_or_default(),
    );
    let s = match solved {
        Solved::SampleSize => Sizing {
            nobs1: TTestIndPower.solve_nobs1(d, pw, opts)?,
            power: pw,
            effect: d,
        },
        Solved::Power => Sizing {
            nobs1: n,
            power: TTestIndPower.power(d, n, opts)?,
            effect: d,
        },
        Solved::Mde => Sizing {
            nobs1: n,
            power: pw,
            effect: TTestIndPower.solve_effect_size(n, pw, opts)?,
        },
    };
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

/// Two proportions: the effect is the treatment's proportion against `control`'s.
fn proportions_test(
    control: f64,
    treatment: Option<f64>,
    req: &PowerRequest,
    opts: &PowerOptions,
) -> Result<Outcome> {
    let solved = solving(treatment.is_some(), req)?;
    let (n, pw, pt) = (
        req.n.unwrap_or_default(),
        req.power.unwrap_or_default(),
        treatment.unwrap_or_default(),
    );
    let s = match solved {
        Solved::SampleSize => Sizing {
            nobs1: NormalIndPower.solve_nobs1(cohens_h(pt, control)?, pw, opts)?,
            power: pw,
            effect: pt,
        },
        Solved::Power => Sizing {
            nobs1: n,
            power: NormalIndPower.power(cohens_h(pt, control)?, n, opts)?,
            effect: pt,
        },
        Solved::Mde => Sizing {
            nobs1: n,
            power: pw,
            effect: proportions_mde(control, n, pw, opts)?,
        },
    };
    Ok(Outcome {
        test: "proportions",
        solved,
        nobs1: s.nobs1,
        power: s.power,
        effect_size: cohens_h(s.effect, control)?,
        effect: Some(s.effect),
        effect_is: "treatment",
    })
}

/// Two Poisson rates: the effect is the treatment's rate against `control`'s.
fn poisson_test(
    control: f64,
    treatment: Option<f64>,
    req: &PowerRequest,
    opts: &PowerOptions,
) -> Result<Outcome> {
    let solved = solving(treatment.is_some(), req)?;
    let po = PoissonPowerOptions::default();
    let (n, pw, rt) = (
        req.n.unwrap_or_default(),
        req.power.unwrap_or_default(),
        treatment.unwrap_or_default(),
    );
    let s = match solved {
        Solved::SampleSize => Sizing {
            nobs1: poisson_ratio_solve_nobs1(rt, control, pw, opts, &po)?,
            power: pw,
            effect: rt,
        },
        Solved::Power => Sizing {
            nobs1: n,
            power: poisson_ratio_power(rt, control, n, opts, &po)?,
            effect: rt,
        },
        Solved::Mde => Sizing {
            nobs1: n,
            power: pw,
            effect: poisson_ratio_mde(control, n, pw, opts, &po)?,
        },
    };
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

/// The report of `outcome`, its sizes rounded up to whole customers.
fn report(req: &PowerRequest, outcome: Outcome) -> PowerReport {
    // Whole customers: round the solved size up (a hair of slack for the root finder).
    let whole = |x: f64| (x - 1e-9).ceil().max(1.0) as u64;
    let n_treatment = whole(outcome.nobs1);
    let n_control = whole(req.ratio * outcome.nobs1);
    PowerReport {
        test: outcome.test,
        solved: outcome.solved,
        alpha: req.alpha,
        alternative: req.alternative,
        ratio: req.ratio,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn req(test: PowerTest, n: Option<f64>, power: Option<f64>) -> PowerRequest {
        PowerRequest {
            test,
            n,
            power,
            ratio: 1.0,
            alpha: 0.05,
            alternative: Alternative::TwoSided,
        }
    }

    #[test]
    fn solves_the_missing_quantity_and_names_bad_fields() {
        let t = PowerTest::T {
            effect_size: Some(0.2),
            diff: None,
            sd: None,
        };
        let r = plan(&req(t, None, Some(0.8))).unwrap();
        assert_eq!((r.solved, r.n_treatment), (Solved::SampleSize, 394));
        let back = plan(&req(t, Some(r.nobs1), None)).unwrap();
        assert!((back.power - 0.8).abs() < 1e-9, "{}", back.power);
        let e = plan(&req(t, Some(100.0), Some(0.8))).unwrap_err();
        assert!(e.to_string().contains("exactly two"), "{e}");
        let p = PowerTest::Proportions {
            control: 1.5,
            treatment: Some(0.1),
        };
        let e = plan(&req(p, Some(100.0), None)).unwrap_err();
        assert_eq!(e.invalid().map(|i| i.field), Some("control"));
        let e = plan(&req(t, None, Some(0.01))).unwrap_err();
        assert_eq!(e.invalid().map(|i| i.field), Some("power"));
    }
}
