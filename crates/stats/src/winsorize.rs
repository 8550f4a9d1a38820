//! Winsorisation (capping): the values of both arms clipped at quantiles of the pooled
//! sample, then Welch's t-test on the clipped values.
//!
//! Capping trades variance for bias: a heavy upper tail no longer dominates the standard
//! error, but the test then compares the means of the *clipped* laws, not of the laws
//! themselves. That is another estimand: the interval is centred on the difference of the
//! capped means, which differs from the true difference of means whenever the treatment
//! moves the tail, and its null ("equal capped means") is not "equal means". The caps
//! follow GrowthBook's percentile capping and Statsig's winsorisation: one threshold per
//! tail, taken from the pooled sample of both arms so that it does not depend on the
//! assignment.

use serde::Serialize;

use crate::error::{Error, Result, check_open};
use crate::hypothesis::Hypothesis;
use crate::quantile::sample_quantile;
use crate::summary::Summary;
use crate::ttest::{TTestResult, welch_t};

/// Which tails to clip, by the pooled quantile level of each threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WinsorOptions {
    /// Values below the pooled `lower`-quantile are raised to it (`None`: no lower cap).
    pub lower: Option<f64>,
    /// Values above the pooled `upper`-quantile are lowered to it (`None`: no upper cap).
    pub upper: Option<f64>,
}

impl Default for WinsorOptions {
    /// The upper tail capped at the pooled 99th percentile, the lower tail untouched.
    fn default() -> Self {
        WinsorOptions {
            lower: None,
            upper: Some(0.99),
        }
    }
}

/// The result of [`winsorized_welch`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WinsorResult {
    /// The lower threshold (the pooled type-1 `lower`-quantile), when capped below.
    pub lower_cap: Option<f64>,
    /// The upper threshold (the pooled type-1 `upper`-quantile), when capped above.
    pub upper_cap: Option<f64>,
    /// Treatment values changed by the caps.
    pub capped_treatment: u64,
    /// Control values changed by the caps.
    pub capped_control: u64,
    /// Welch's t-test of the difference of the capped means.
    pub test: TTestResult,
}

/// Clips both arms at the pooled quantiles of `opts` (type 1, as [`sample_quantile`]) and
/// runs Welch's t-test on the clipped values: scipy's
/// `ttest_ind(np.clip(t, lo, hi), np.clip(c, lo, hi), equal_var=False)` with `lo`, `hi`
/// the pooled sample's order statistics `⌈n·p⌉`.
///
/// ```
/// use abforge_stats::{Hypothesis, WinsorOptions, winsorized_welch};
///
/// let t = [1.0, 2.0, 3.0, 4.0, 500.0];
/// let c = [1.5, 2.5, 3.5, 4.5, 5.5];
/// let opts = WinsorOptions { lower: None, upper: Some(0.8) };
/// let r = winsorized_welch(&t, &c, &opts, &Hypothesis::default())?;
/// assert_eq!(r.upper_cap, Some(4.5));
/// assert_eq!((r.capped_treatment, r.capped_control), (1, 1));
/// assert!((r.test.estimate - (14.5 / 5.0 - 16.5 / 5.0)).abs() < 1e-12);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] when a level is outside (0, 1) or `lower ≥ upper`;
/// [`Error::InvalidInput`] when no tail is capped or for a non-finite value; the errors of
/// [`welch_t`] (too few values; both capped arms constant).
pub fn winsorized_welch(
    treatment: &[f64],
    control: &[f64],
    opts: &WinsorOptions,
    h: &Hypothesis,
) -> Result<WinsorResult> {
    let (lower_cap, upper_cap) = caps(treatment, control, opts)?;
    let lo = lower_cap.unwrap_or(f64::NEG_INFINITY);
    let hi = upper_cap.unwrap_or(f64::INFINITY);
    let summarise = |xs: &[f64]| {
        let clipped: Vec<f64> = xs.iter().map(|x| x.clamp(lo, hi)).collect();
        let changed = xs.iter().zip(&clipped).filter(|(a, b)| a != b).count();
        (Summary::from_slice(&clipped), changed as u64)
    };
    let (st, capped_treatment) = summarise(treatment);
    let (sc, capped_control) = summarise(control);
    Ok(WinsorResult {
        lower_cap,
        upper_cap,
        capped_treatment,
        capped_control,
        test: welch_t(&st, &sc, h)?,
    })
}

/// The pooled thresholds of `opts`, checked.
fn caps(t: &[f64], c: &[f64], opts: &WinsorOptions) -> Result<(Option<f64>, Option<f64>)> {
    for (name, p) in [("lower", opts.lower), ("upper", opts.upper)] {
        if let Some(p) = p {
            check_open(name, p, 0.0, 1.0)?;
        }
    }
    match (opts.lower, opts.upper) {
        (None, None) => {
            return Err(Error::InvalidInput(
                "winsorisation needs a lower or an upper level in (0, 1); neither was given".into(),
            ));
        }
        (Some(l), Some(u)) if l >= u => {
            return Err(Error::InvalidParameter {
                name: "lower",
                value: l,
                expected: "must be below the upper level",
            });
        }
        _ => {}
    }
    let pooled: Vec<f64> = t.iter().chain(c).copied().collect();
    let cap = |p: Option<f64>| p.map(|p| sample_quantile(&pooled, p)).transpose();
    Ok((cap(opts.lower)?, cap(opts.upper)?))
}
