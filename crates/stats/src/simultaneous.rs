//! Confidence intervals that agree with the multiple-testing corrections of [`crate::adjust`]:
//! for every comparison of a family, "adjusted p ≤ α" exactly when "the adjusted interval
//! excludes the null", so a dashboard never shows a significant result whose interval covers
//! zero, or the reverse.

use serde::Serialize;

use crate::dist;
use crate::error::{Error, Result, check_finite, check_open};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};
use crate::multiple::{Correction, adjust};

/// One comparison of a family: an estimate, its standard error, the null value and the law of
/// `(estimate − null) / std_error` under H0 (normal, or Student t).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FamilyEstimate {
    /// The estimate (a difference, a lift, …).
    pub estimate: f64,
    /// Its standard error (finite, > 0).
    pub std_error: f64,
    /// The value of the estimate under H0.
    pub null: f64,
    /// Degrees of freedom of a Student-t law, `None` for the normal law.
    pub df: Option<f64>,
}

impl FamilyEstimate {
    /// A normal estimate with null 0.
    pub fn new(estimate: f64, std_error: f64) -> Self {
        FamilyEstimate {
            estimate,
            std_error,
            null: 0.0,
            df: None,
        }
    }

    /// The same estimate with another null value.
    pub fn with_null(self, null: f64) -> Self {
        FamilyEstimate { null, ..self }
    }

    /// The same estimate with a Student-t law.
    pub fn with_df(self, df: f64) -> Self {
        FamilyEstimate {
            df: Some(df),
            ..self
        }
    }

    fn z(&self) -> f64 {
        (self.estimate - self.null) / self.std_error
    }

    /// `P(S > s)` under H0.
    fn sf(&self, s: f64) -> f64 {
        match self.df {
            None => dist::norm_sf(s),
            Some(df) => dist::t_sf(s, df),
        }
    }

    /// The critical value with upper tail `a`.
    fn isf(&self, a: f64) -> f64 {
        match self.df {
            None => dist::norm_isf(a),
            Some(df) => dist::t_isf(a, df),
        }
    }

    /// The raw p-value for the alternative.
    fn p_value(&self, alt: Alternative) -> f64 {
        let z = self.z();
        match alt {
            Alternative::Greater => self.sf(z),
            Alternative::Less => self.sf(-z),
            Alternative::TwoSided => match self.df {
                None => (2.0 * dist::norm_sf(z.abs())).min(1.0),
                Some(df) => dist::t_two_tail(z.abs(), df),
            },
        }
    }

    /// The marginal `1 − a` confidence bounds for the alternative.
    fn bounds(&self, alt: Alternative, a: f64) -> (f64, f64) {
        let (e, s) = (self.estimate, self.std_error);
        match alt {
            Alternative::TwoSided => {
                let h = self.isf(0.5 * a) * s;
                (e - h, e + h)
            }
            Alternative::Greater => (e - self.isf(a) * s, f64::INFINITY),
            Alternative::Less => (f64::NEG_INFINITY, e + self.isf(a) * s),
        }
    }

    /// The mirror image `−estimate` about `−null`, which turns upper bounds into lower ones.
    fn mirrored(&self) -> Self {
        FamilyEstimate {
            estimate: -self.estimate,
            null: -self.null,
            ..*self
        }
    }
}

/// One comparison's adjusted p-value and interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AdjustedInterval {
    /// The estimate.
    pub estimate: f64,
    /// The null value.
    pub null: f64,
    /// The raw p-value for the alternative.
    pub p_value: f64,
    /// The adjusted p-value.
    pub p_adjusted: f64,
    /// Lower end of the adjusted interval (JSON `null` when open).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper end of the adjusted interval (JSON `null` when open).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// Whether H0 is rejected: `p_adjusted ≤ α`.
    pub reject: bool,
}

impl AdjustedInterval {
    /// Whether the interval, read as the open interval `(ci_low, ci_high)`, excludes the
    /// null: `null ≤ ci_low` or `null ≥ ci_high`. Equal to `reject` for every correction.
    pub fn excludes_null(&self) -> bool {
        self.null <= self.ci_low || self.null >= self.ci_high
    }
}

/// The result of [`adjusted_intervals`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdjustedIntervals {
    /// The correction applied.
    pub correction: Correction,
    /// The alternative of every comparison.
    pub alternative: Alternative,
    /// The family-wise level α (the false coverage rate for Benjamini–Hochberg).
    pub alpha: f64,
    /// The number of rejected hypotheses.
    pub rejected: usize,
    /// One entry per comparison, in input order.
    pub intervals: Vec<AdjustedInterval>,
}

/// Adjusted p-values and confidence intervals of a family of `m` comparisons that agree:
/// `p_adjusted ≤ α` ⇔ the interval excludes the null ([`AdjustedInterval::excludes_null`],
/// intervals read as open), for every comparison and every correction.
///
/// With `q(a)` the upper-`a` critical value of each comparison's law and `(θ̂, se, δ)` its
/// estimate, standard error and null:
///
/// * **None** — `p̃ = p`, the marginal `1 − α` intervals.
/// * **Bonferroni** — `p̃ = min(1, m p)` (statsmodels `'bonferroni'`), intervals at level
///   `1 − α/m`. Simultaneous coverage ≥ `1 − α` under any dependence.
/// * **Benjamini–Hochberg** — `p̃` of statsmodels `'fdr_bh'`; with `R` rejections, intervals
///   at level `1 − max(R, 1)·α/m`: the false-coverage-rate intervals of Benjamini &
///   Yekutieli ("False discovery rate–adjusted multiple confidence intervals for selected
///   parameters", JASA 100, 2005), whose FCR over the `R` selected comparisons is ≤ α for
///   independent (or positively dependent) estimates. BH rejects exactly the `p ≤ Rα/m`,
///   hence the agreement; the intervals of unselected comparisons carry no FCR claim (they
///   contain the null, as they should).
/// * **Holm, one-sided** — `p̃` of statsmodels `'holm'` on the one-sided p-values and the
///   simultaneous bounds of Strassburger & Bretz ("Compatible simultaneous lower confidence
///   bounds for the Holm procedure and other Bonferroni-based closed tests", Stat. Med. 27,
///   2008; Guilbaud, Biometrical J. 50, 2008), for `Greater` with `R` the rejected set of
///   size `r`:
///
///   ```text
///   r < m:  L_i = δ_i for i ∈ R,   L_i = θ̂_i − q(α/(m − r))·se_i for i ∉ R
///   r = m:  L_i = max(δ_i, θ̂_i − q(α/m)·se_i)
///   ```
///
///   (mirrored for `Less`). Simultaneous coverage ≥ `1 − α` under any dependence. A rejected
///   comparison's bound is the null itself, open: "the effect is > δ_i", no more.
/// * **Holm, two-sided** — the two one-sided Strassburger–Bretz families at `α/2` each, lower
///   bounds from `Greater` and upper bounds from `Less`, so simultaneous coverage ≥ `1 − α`,
///   and `p̃ = min(1, 2·min(p̃⁺, p̃⁻))` with `p̃^±` Holm's adjustment of the one-sided
///   p-values. This is statsmodels' two-sided `'holm'` when all estimates are on the same
///   side of their nulls and slightly more conservative otherwise (each direction's family
///   counts all `m`): two-sided Holm has no compatible informative intervals of its own.
///
/// ```
/// use abforge_stats::{Correction, FamilyEstimate, Hypothesis, adjusted_intervals};
///
/// let family = [FamilyEstimate::new(3.1, 1.0), FamilyEstimate::new(2.3, 1.0),
///               FamilyEstimate::new(0.4, 1.0)];
/// let r = adjusted_intervals(&family, Correction::Holm, &Hypothesis::default())?;
/// for i in &r.intervals {
///     assert_eq!(i.reject, i.excludes_null());
/// }
/// assert!(r.intervals[0].reject && !r.intervals[2].reject);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for α outside (0, 1), a non-finite estimate or null, a
/// standard error that is not finite and > 0, or `df ≤ 0`; [`Error::InvalidInput`] when the
/// hypothesis has a null value (nulls are per comparison).
pub fn adjusted_intervals(
    family: &[FamilyEstimate],
    correction: Correction,
    h: &Hypothesis,
) -> Result<AdjustedIntervals> {
    check_family(family, h)?;
    let (alpha, alt) = (h.alpha, h.alternative);
    let m = family.len();
    let p: Vec<f64> = family.iter().map(|e| e.p_value(alt)).collect();
    let (p_adjusted, bounds) = match correction {
        Correction::Holm => holm(family, alt, alpha)?,
        _ => {
            let adjusted = adjust(&p, correction)?;
            let level = match correction {
                Correction::None => alpha,
                Correction::Bonferroni => alpha / m as f64,
                _ => {
                    let r = adjusted.iter().filter(|&&q| q <= alpha).count();
                    r.max(1) as f64 * alpha / m as f64
                }
            };
            let bounds = family.iter().map(|e| e.bounds(alt, level)).collect();
            (adjusted, bounds)
        }
    };
    let intervals: Vec<AdjustedInterval> = family
        .iter()
        .zip(p.iter().zip(&p_adjusted).zip(bounds))
        .map(
            |(e, ((&p_value, &p_adjusted), (ci_low, ci_high)))| AdjustedInterval {
                estimate: e.estimate,
                null: e.null,
                p_value,
                p_adjusted,
                ci_low,
                ci_high,
                reject: p_adjusted <= alpha,
            },
        )
        .collect();
    Ok(AdjustedIntervals {
        correction,
        alternative: alt,
        alpha,
        rejected: intervals.iter().filter(|i| i.reject).count(),
        intervals,
    })
}

/// Holm's adjusted p-values and the Strassburger–Bretz bounds, per alternative.
type Adjusted = (Vec<f64>, Vec<(f64, f64)>);

fn holm(family: &[FamilyEstimate], alt: Alternative, alpha: f64) -> Result<Adjusted> {
    let mirrored: Vec<FamilyEstimate> = family.iter().map(FamilyEstimate::mirrored).collect();
    // One-sided families: the Greater one on the estimates, the Less one on their mirror.
    let side = |fam: &[FamilyEstimate], level: f64| -> Result<(Vec<f64>, Vec<f64>)> {
        let p: Vec<f64> = fam
            .iter()
            .map(|e| e.p_value(Alternative::Greater))
            .collect();
        let adjusted = adjust(&p, Correction::Holm)?;
        let lower = holm_lower_bounds(fam, &adjusted, level);
        Ok((adjusted, lower))
    };
    Ok(match alt {
        Alternative::Greater => {
            let (adj, low) = side(family, alpha)?;
            (adj, low.into_iter().map(|l| (l, f64::INFINITY)).collect())
        }
        Alternative::Less => {
            let (adj, low) = side(&mirrored, alpha)?;
            (
                adj,
                low.into_iter().map(|l| (f64::NEG_INFINITY, -l)).collect(),
            )
        }
        Alternative::TwoSided => {
            let (up, low) = side(family, 0.5 * alpha)?;
            let (down, high) = side(&mirrored, 0.5 * alpha)?;
            let adj = up
                .iter()
                .zip(&down)
                .map(|(a, b)| (2.0 * a.min(*b)).min(1.0))
                .collect();
            (
                adj,
                low.into_iter().zip(high).map(|(l, h)| (l, -h)).collect(),
            )
        }
    })
}

/// Strassburger & Bretz's simultaneous lower bounds for Holm's procedure at `level` on the
/// one-sided (`Greater`) hypotheses `θ_i ≤ δ_i`, given Holm's adjusted p-values.
fn holm_lower_bounds(family: &[FamilyEstimate], adjusted: &[f64], level: f64) -> Vec<f64> {
    let m = family.len();
    let rejected = adjusted.iter().filter(|&&q| q <= level).count();
    family
        .iter()
        .zip(adjusted)
        .map(|(e, &q)| {
            let bound = |a: f64| e.estimate - e.isf(a) * e.std_error;
            if rejected == m {
                e.null.max(bound(level / m as f64))
            } else if q <= level {
                e.null
            } else {
                bound(level / (m - rejected) as f64)
            }
        })
        .collect()
}

fn check_family(family: &[FamilyEstimate], h: &Hypothesis) -> Result<()> {
    check_open("alpha", h.alpha, 0.0, 1.0)?;
    if let Some(v) = h.null {
        return Err(Error::InvalidInput(format!(
            "adjusted intervals take each comparison's null from FamilyEstimate::null; \
             the hypothesis' null value {v} is not used, leave it None"
        )));
    }
    for e in family {
        check_finite("estimate", e.estimate)?;
        check_finite("null", e.null)?;
        if !(e.std_error.is_finite() && e.std_error > 0.0) {
            return Err(Error::InvalidParameter {
                name: "std_error",
                value: e.std_error,
                expected: "a finite standard error > 0",
            });
        }
        if let Some(df) = e.df
            && (df.is_nan() || df <= 0.0)
        {
            return Err(Error::InvalidParameter {
                name: "df",
                value: df,
                expected: "degrees of freedom > 0",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmcp_vignette_example() {
        // gMCP's simConfint example (vignette "gMCP"; Bretz et al.): Bonferroni–Holm on three
        // one-sided t tests, n = 10, df = 9, α = 0.025; published lower bounds
        // 0.0000, −0.0076, 0.0000.
        let est = [0.860382, 0.9161474, 0.9732953];
        let sd = [0.8759528, 1.291310, 0.8570892];
        let family: Vec<FamilyEstimate> = est
            .iter()
            .zip(sd)
            .map(|(&e, s)| FamilyEstimate::new(e, s / 10f64.sqrt()).with_df(9.0))
            .collect();
        let h = Hypothesis::one_sided(Alternative::Greater, 0.025);
        let r = adjusted_intervals(&family, Correction::Holm, &h).unwrap();
        let lows: Vec<f64> = r.intervals.iter().map(|i| i.ci_low).collect();
        assert_eq!((lows[0], lows[2]), (0.0, 0.0));
        assert!((lows[1] - -0.0076).abs() < 5e-5, "{lows:?}");
        assert_eq!(r.rejected, 2);
    }

    #[test]
    fn two_sided_holm_is_statsmodels_when_all_estimates_agree_in_sign() {
        let family: Vec<FamilyEstimate> = [2.9, 2.5, 2.2, 0.3]
            .iter()
            .map(|&e| FamilyEstimate::new(e, 1.0))
            .collect();
        let h = Hypothesis::default();
        let r = adjusted_intervals(&family, Correction::Holm, &h).unwrap();
        let p: Vec<f64> = r.intervals.iter().map(|i| i.p_value).collect();
        let holm = adjust(&p, Correction::Holm).unwrap();
        for (i, want) in r.intervals.iter().zip(holm) {
            assert!((i.p_adjusted - want).abs() < 1e-15);
            assert_eq!(i.reject, i.excludes_null());
        }
    }

    #[test]
    fn errors_and_empty_family() {
        let h = Hypothesis::default();
        let r = adjusted_intervals(&[], Correction::BenjaminiHochberg, &h).unwrap();
        assert!(r.intervals.is_empty() && r.rejected == 0);
        let bad = [FamilyEstimate::new(1.0, 0.0)];
        assert!(adjusted_intervals(&bad, Correction::None, &h).is_err());
        let ok = [FamilyEstimate::new(1.0, 1.0)];
        assert!(adjusted_intervals(&ok, Correction::None, &h.with_null(0.0)).is_err());
        assert!(adjusted_intervals(&ok, Correction::None, &Hypothesis::two_sided(1.0)).is_err());
        let t = [FamilyEstimate::new(1.0, 1.0).with_df(-1.0)];
        assert!(adjusted_intervals(&t, Correction::Holm, &h).is_err());
    }
}
