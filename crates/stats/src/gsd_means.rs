//! A group-sequential comparison of two means replayed on data in its order of arrival: the
//! decision a design of `K` planned looks would have taken had it looked after each `k/K` of
//! each arm's units, with Welch's z statistic at each look.
//!
//! This is the test [`crate::group_sequential`]'s designs are for, applied to a finished
//! experiment: each look sees the first `⌈k·n/K⌉` values of each arm (the information grows
//! in proportion to `k/K`, the design's fractions), the test stops at the first look whose
//! z crosses its critical value, and the estimate is bracketed by that look's repeated
//! confidence interval, which covers the difference whatever the stopping rule. The order of
//! the values is the order of arrival: with i.i.d. units any order is valid; with an effect
//! that changes over time only the true order is.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::group_sequential::{Boundary, GsdDesign, GsdOptions, gsd_design};
use crate::hypothesis::{Alternative, finite_or_null};
use crate::summary::Summary;

/// One look of a [`GsdMeansResult`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GsdMeansLook {
    /// The look's number, from 1.
    pub look: usize,
    /// Treatment values seen by this look.
    pub n_treatment: u64,
    /// Control values seen by this look.
    pub n_control: u64,
    /// The difference of means, treatment − control.
    pub estimate: f64,
    /// Welch's z statistic.
    pub z: f64,
    /// The look's critical value.
    #[serde(serialize_with = "finite_or_null")]
    pub critical_value: f64,
    /// Whether `z` is on or beyond it (in the design's direction).
    pub crossed: bool,
}

/// The result of [`gsd_means`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GsdMeansResult {
    /// The spending function of the design.
    pub boundary: Boundary,
    /// Every look, including those after the stop (shown for information).
    pub looks: Vec<GsdMeansLook>,
    /// The look the test stopped at (the first crossing), from 1; `None` when it ran to the
    /// end without crossing.
    pub stopped_at: Option<usize>,
    /// The difference of means at the stop (the last look when none crossed).
    pub estimate: f64,
    /// The repeated confidence interval of that look.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Its upper bound.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// Whether H0 (equal means) is rejected: some look crossed.
    pub reject: bool,
    /// Units of both arms seen by the look it stopped at.
    pub units_at_stop: u64,
}

impl GsdMeansResult {
    /// The look the test stopped at: the first crossing, else the last look.
    pub fn stop_look(&self) -> &GsdMeansLook {
        &self.looks[self.stopped_at.unwrap_or(self.looks.len()) - 1]
    }
}

/// Replays a group-sequential test of equal means with `looks` equally spaced looks over
/// `treatment` and `control` in their order of arrival.
///
/// ```
/// use abforge_stats::{Alternative, Boundary, gsd_means};
///
/// let t: Vec<f64> = (0..400).map(|i| (i % 7) as f64 + 1.0).collect();
/// let c: Vec<f64> = (0..400).map(|i| (i % 7) as f64).collect();
/// let r = gsd_means(&t, &c, 4, 0.05, Alternative::TwoSided, Boundary::LanDemetsPocock)?;
/// assert!(r.reject && r.stopped_at == Some(1));
/// assert!(r.ci_low < 1.0 && 1.0 < r.ci_high);
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// The errors of [`gsd_design`] (looks past [`crate::group_sequential::MAX_LOOKS`], α
/// outside its range); [`Error::InvalidInput`] when an arm has fewer than 2 values at the
/// first look, or a look's standard error is 0 (both arms constant so far).
pub fn gsd_means(
    treatment: &[f64],
    control: &[f64],
    looks: usize,
    alpha: f64,
    alternative: Alternative,
    boundary: Boundary,
) -> Result<GsdMeansResult> {
    let design = design(looks, alpha, alternative, boundary)?;
    let stats = look_statistics(treatment, control, looks)?;
    let z: Vec<f64> = stats.iter().map(|s| s.estimate / s.se).collect();
    let decision = design.decide(&z)?;
    let stop = decision.first_crossing.unwrap_or(looks);
    let estimates: Vec<f64> = stats.iter().map(|s| s.estimate).collect();
    let ses: Vec<f64> = stats.iter().map(|s| s.se).collect();
    let ci = design.repeated_ci(&estimates, &ses)?[stop - 1];
    let looks_out = stats
        .iter()
        .zip(&decision.looks)
        .map(|(s, d)| GsdMeansLook {
            look: d.look,
            n_treatment: s.n_treatment,
            n_control: s.n_control,
            estimate: s.estimate,
            z: d.z,
            critical_value: d.critical_value,
            crossed: d.crossed,
        })
        .collect::<Vec<_>>();
    let at_stop = &looks_out[stop - 1];
    Ok(GsdMeansResult {
        boundary,
        stopped_at: decision.first_crossing,
        estimate: ci.estimate,
        ci_low: ci.ci_low,
        ci_high: ci.ci_high,
        reject: decision.reject,
        units_at_stop: at_stop.n_treatment + at_stop.n_control,
        looks: looks_out,
    })
}

/// The design of `looks` equally spaced looks.
fn design(
    looks: usize,
    alpha: f64,
    alternative: Alternative,
    boundary: Boundary,
) -> Result<GsdDesign> {
    if looks == 0 {
        return Err(Error::InvalidInput(
            "a group-sequential test needs at least one look".into(),
        ));
    }
    let fractions: Vec<f64> = (1..=looks).map(|k| k as f64 / looks as f64).collect();
    let opts = GsdOptions {
        alpha,
        alternative,
        boundary,
    };
    gsd_design(&fractions, &opts)
}

/// What one look sees.
struct LookStatistics {
    n_treatment: u64,
    n_control: u64,
    estimate: f64,
    se: f64,
}

/// The first `⌈k·n/K⌉` values of each arm, for each look `k`.
fn look_statistics(t: &[f64], c: &[f64], looks: usize) -> Result<Vec<LookStatistics>> {
    let upto = |n: usize, k: usize| (n * k).div_ceil(looks);
    (1..=looks)
        .map(|k| {
            let (st, sc) = (
                Summary::from_slice(&t[..upto(t.len(), k)]),
                Summary::from_slice(&c[..upto(c.len(), k)]),
            );
            if st.n < 2 || sc.n < 2 {
                return Err(Error::InvalidInput(format!(
                    "look {k} of {looks} sees {} treatment and {} control values; each arm \
                     needs at least 2 at every look (fewer looks, or more data)",
                    st.n, sc.n
                )));
            }
            let se = (st.variance() / st.n as f64 + sc.variance() / sc.n as f64).sqrt();
            if !(se > 0.0 && se.is_finite()) {
                return Err(Error::InvalidInput(format!(
                    "look {k} of {looks}: both arms are constant so far (standard error {se})"
                )));
            }
            Ok(LookStatistics {
                n_treatment: st.n,
                n_control: sc.n,
                estimate: st.mean - sc.mean,
                se,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::norm_sf;

    fn ramp(n: usize, shift: f64) -> Vec<f64> {
        (0..n).map(|i| ((i * 37) % 101) as f64 + shift).collect()
    }

    #[test]
    fn one_look_is_welchs_z_test() {
        let (t, c) = (ramp(300, 3.0), ramp(250, 0.0));
        let r = gsd_means(
            &t,
            &c,
            1,
            0.05,
            Alternative::TwoSided,
            Boundary::LanDemetsPocock,
        )
        .unwrap();
        let (st, sc) = (Summary::from_slice(&t), Summary::from_slice(&c));
        let se = (st.variance() / 300.0 + sc.variance() / 250.0).sqrt();
        let z = (st.mean - sc.mean) / se;
        assert!((r.looks[0].z - z).abs() < 1e-12);
        assert!((r.looks[0].critical_value - 1.959_963_984_540_054).abs() < 1e-6);
        assert_eq!(r.reject, 2.0 * norm_sf(z.abs()) <= 0.05);
        assert!((r.ci_high - r.ci_low - 2.0 * 1.959_963_984_540_054 * se).abs() < 1e-5);
        assert_eq!(r.units_at_stop, 550);
    }

    #[test]
    fn looks_see_growing_shares_and_stop_at_the_first_crossing() {
        let (t, c) = (ramp(1000, 40.0), ramp(1000, 0.0));
        let r = gsd_means(
            &t,
            &c,
            4,
            0.05,
            Alternative::TwoSided,
            Boundary::LanDemetsPocock,
        )
        .unwrap();
        let n: Vec<u64> = r.looks.iter().map(|l| l.n_treatment).collect();
        assert_eq!(n, [250, 500, 750, 1000]);
        assert_eq!(r.stopped_at, Some(1));
        assert_eq!(r.units_at_stop, 500);
        assert!((r.estimate - r.looks[0].estimate).abs() < 1e-12);
    }

    #[test]
    fn a_null_keeps_and_reports_the_last_look() {
        let (t, c) = (ramp(800, 0.0), ramp(800, 0.0));
        let r = gsd_means(
            &t,
            &c,
            3,
            0.05,
            Alternative::TwoSided,
            Boundary::LanDemetsObrienFleming,
        )
        .unwrap();
        assert!(!r.reject);
        assert_eq!(r.stopped_at, None);
        assert!(r.ci_low < 0.0 && 0.0 < r.ci_high);
        assert_eq!(r.units_at_stop, 1600);
    }

    #[test]
    fn too_little_data_per_look_and_constant_arms_are_refused() {
        let e = gsd_means(
            &[1.0, 2.0, 3.0],
            &[1.0, 2.0, 3.0],
            3,
            0.05,
            Alternative::TwoSided,
            Boundary::LanDemetsPocock,
        )
        .unwrap_err();
        assert!(e.to_string().contains("at least 2"), "{e}");
        let e = gsd_means(
            &[1.0; 10],
            &[1.0; 10],
            2,
            0.05,
            Alternative::TwoSided,
            Boundary::LanDemetsPocock,
        )
        .unwrap_err();
        assert!(e.to_string().contains("constant"), "{e}");
        assert!(
            gsd_means(
                &ramp(10, 0.0),
                &ramp(10, 0.0),
                0,
                0.05,
                Alternative::TwoSided,
                Boundary::LanDemetsPocock
            )
            .is_err()
        );
        assert!(
            gsd_means(
                &ramp(200, 0.0),
                &ramp(200, 0.0),
                51,
                0.05,
                Alternative::TwoSided,
                Boundary::LanDemetsPocock
            )
            .is_err()
        );
    }
}
