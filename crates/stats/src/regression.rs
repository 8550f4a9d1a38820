//! Regression adjustment of a treatment effect on several covariates (Lin 2013), with
//! heteroskedasticity-robust (HC0–HC3) and cluster-robust (CR1, CR2) standard errors.
//!
//! [`lin_regression`] fits by ordinary least squares
//!
//! ```text
//! y = β₀ + τ·T + Σⱼ βⱼ (xⱼ − x̄ⱼ) + Σⱼ γⱼ T·(xⱼ − x̄ⱼ) + ε
//! ```
//!
//! with `T` = 1 for treatment, 0 for control and each covariate centred at its mean over both
//! arms. `τ̂` estimates the average treatment effect, treatment − control; the interaction
//! terms let each arm have its own slopes, which is what makes the adjustment never hurt
//! asymptotic precision (Lin, "Agnostic notes on regression adjustments to experimental
//! data: reexamining Freedman's critique", Annals of Applied Statistics 7(1), 2013).
//! Equivalently `τ̂ = (ȳ_t − b_tᵀ(x̄_t − x̄)) − (ȳ_c − b_cᵀ(x̄_c − x̄))` with `b_t`, `b_c` the
//! within-arm OLS slopes.
//!
//! # Relation to CUPED
//!
//! [`crate::cuped()`] is the one-covariate case **without** the interaction (the classical
//! ANCOVA of Fisher): its `θ` is the pooled within-arm slope, and its adjusted difference of
//! means is exactly the treatment coefficient of `y ~ 1 + T + x`, which `lin_regression`
//! fits with [`LinOptions::interact`] set to `false`. With the interaction, the two
//! estimates differ by
//!
//! ```text
//! τ̂_Lin − τ̂_CUPED = (x̄_t − x̄_c) · (θ − (n_c b_t + n_t b_c) / n)
//! ```
//!
//! so they agree when the arms' covariate means are equal or the slopes are; both are
//! consistent for the same effect under randomisation. The standard errors differ too: CUPED
//! runs Welch's test on the adjusted values, treating `θ` as known; here the sandwich covers
//! the estimated slopes. With no covariates at all, the HC2 standard error of `τ̂` is exactly
//! Welch's.
//!
//! # Numerics
//!
//! Covariates are centred with a compensated mean, every column is scaled to unit norm and
//! the design is factorised by nalgebra's Householder QR (never the normal equations),
//! without column pivoting so that the columns keep their order. A column whose distance
//! from the span of the columns before it is below [`COLLINEAR_TOLERANCE`] of its norm is
//! refused with an error that names it (a covariate, or its interaction with the
//! treatment). Every covariance is computed in the orthonormal coordinates of `Q`:
//! `V = S⁻¹ R⁻¹ Ω R⁻ᵀ S⁻¹` with `S` the column scales and `Ω` the "meat" below, so ill-scaled
//! covariates (values near 1e-6 next to values near 1e6) cost no accuracy.
//!
//! # Covariances
//!
//! With `e` the residuals, `qᵢ` the rows of `Q` and `hᵢ = ‖qᵢ‖²` the leverages, `n` rows and
//! `p` columns (MacKinnon & White, J. Econometrics 29, 1985; statsmodels `cov_type`):
//!
//! | [`Covariance`] | `Ω` | reference t df |
//! |---|---|---|
//! | `Classical` | `σ̂² I`, `σ̂² = Σeᵢ² / (n − p)` | `n − p` |
//! | `Hc0` | `Σ eᵢ² qᵢqᵢᵀ` | `n − p` |
//! | `Hc1` | `n/(n − p) · Σ eᵢ² qᵢqᵢᵀ` | `n − p` |
//! | `Hc2` | `Σ eᵢ²/(1 − hᵢ) · qᵢqᵢᵀ` | `n − p` |
//! | `Hc3` | `Σ eᵢ²/(1 − hᵢ)² · qᵢqᵢᵀ` | `n − p` |
//! | `Cr1` | `G/(G − 1) · (n − 1)/(n − p) · Σ_g u_g u_gᵀ`, `u_g = Q_gᵀ e_g` | `G − 1` |
//! | `Cr2` | `Σ_g u_g u_gᵀ`, `u_g = Q_gᵀ A_g e_g`, `A_g = (I − Q_g Q_gᵀ)^{−1/2}` | Bell–McCaffrey |
//!
//! `Cr1` is statsmodels' `cov_type='cluster'` (and Stata's `vce(cluster)`), `Cr2` the
//! bias-reduced estimator of Bell & McCaffrey (Survey Methodology 28(2), 2002) as R's
//! `clubSandwich::vcovCR(type = "CR2")` computes it for an unweighted `lm` (working model
//! `σ² I`, eigenvalues of `I − H_gg` below 1e-12 inverted as 0), with the Satterthwaite
//! degrees of freedom of `clubSandwich::coef_test(test = "Satterthwaite")` (see
//! [`crate::cluster`]). [`ReferenceLaw::Normal`] uses the normal law instead of t, as
//! statsmodels does for robust covariances unless `use_t=True`.

use nalgebra::{DMatrix, DVector, DVectorView, DVectorViewMut};
use serde::Serialize;

use crate::cluster::{ClusterIndex, cr1_meat, cr2_meat};
use crate::error::{Error, Group, Result};
use crate::hypothesis::{Alternative, Hypothesis, finite_or_null};
use crate::summary::Summary;

/// The most covariates [`lin_regression`] takes (the design then has up to 130 columns).
pub const MAX_COVARIATES: usize = 64;

/// The largest design [`lin_regression`] builds, in cells (rows × columns, 2²⁷ = 1 GiB of
/// `f64`).
pub const MAX_DESIGN_CELLS: usize = 1 << 27;

/// A centred column whose spread is below this fraction of its magnitude is constant.
pub const CONSTANT_TOLERANCE: f64 = 1e-10;

/// A unit-norm column whose distance from the span of the columns before it is below this
/// is collinear with them (the design's condition number would exceed about 1e8).
pub const COLLINEAR_TOLERANCE: f64 = 1e-8;

/// Residuals smaller than this fraction of the outcome's norm are an exact fit.
const EXACT_FIT: f64 = 1e-13;

/// A leverage within this of 1 makes HC2 and HC3 undefined.
const LEVERAGE_TOLERANCE: f64 = 1e-10;

/// The covariance estimator of the coefficients (the table in the [module
/// documentation](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Covariance {
    /// `σ̂² (XᵀX)⁻¹`: valid for independent, equal-variance errors only.
    Classical,
    /// White's heteroskedasticity-consistent estimator.
    Hc0,
    /// HC0 times `n / (n − p)`.
    Hc1,
    /// HC0 with each squared residual divided by `1 − hᵢ` (the default: unbiased under
    /// homoskedasticity, and equal to Welch's standard error with no covariates).
    #[default]
    Hc2,
    /// HC0 with each squared residual divided by `(1 − hᵢ)²` (a jackknife approximation).
    Hc3,
    /// Cluster-robust with statsmodels' small-sample factor `G/(G − 1) · (n − 1)/(n − p)`.
    Cr1,
    /// Bell–McCaffrey bias-reduced cluster-robust estimator.
    Cr2,
}

impl Covariance {
    /// Whether the estimator needs cluster ids.
    pub fn is_cluster(self) -> bool {
        matches!(self, Covariance::Cr1 | Covariance::Cr2)
    }

    /// The name used in messages (`"hc2"`, `"cr1"`, …).
    pub fn name(self) -> &'static str {
        match self {
            Covariance::Classical => "classical",
            Covariance::Hc0 => "hc0",
            Covariance::Hc1 => "hc1",
            Covariance::Hc2 => "hc2",
            Covariance::Hc3 => "hc3",
            Covariance::Cr1 => "cr1",
            Covariance::Cr2 => "cr2",
        }
    }
}

/// The law of `(τ̂ − null) / se` under H0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceLaw {
    /// Student's t with the covariance's degrees of freedom: `n − p`, `G − 1` for `Cr1`,
    /// Bell–McCaffrey's Satterthwaite df for `Cr2` (statsmodels `use_t=True`, Stata).
    #[default]
    StudentT,
    /// The standard normal (statsmodels' default for robust covariances).
    Normal,
}

/// One arm's observations for [`lin_regression`].
#[derive(Clone, Copy, Debug)]
pub struct Arm<'a> {
    /// The outcome of each observation.
    pub outcome: &'a [f64],
    /// The covariates, one slice per covariate, each as long as `outcome`, in the order of
    /// [`LinOptions::covariate_names`]. Both arms have the same covariates.
    pub covariates: &'a [&'a [f64]],
    /// The cluster id of each observation, for [`Covariance::Cr1`] and
    /// [`Covariance::Cr2`] (and only for them). Ids are global: the same id in both arms is
    /// one cluster.
    pub clusters: Option<&'a [u64]>,
}

/// Options of [`lin_regression`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinOptions<'a> {
    /// Alternative, α and the null value of the treatment effect (on the difference scale).
    pub hypothesis: Hypothesis,
    /// The covariance estimator (HC2 by default).
    pub covariance: Covariance,
    /// The reference law of the test statistic (Student's t by default).
    pub reference: ReferenceLaw,
    /// Whether to include the treatment × covariate interactions (Lin's estimator, the
    /// default); `false` fits the common-slope ANCOVA `y ~ 1 + T + x`, CUPED's estimate.
    pub interact: bool,
    /// The covariates' names, for the coefficients and the errors; empty means `x1`, `x2`, ….
    pub covariate_names: &'a [&'a str],
}

impl Default for LinOptions<'_> {
    fn default() -> Self {
        LinOptions {
            hypothesis: Hypothesis::default(),
            covariance: Covariance::default(),
            reference: ReferenceLaw::default(),
            interact: true,
            covariate_names: &[],
        }
    }
}

/// One fitted coefficient.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coefficient {
    /// `intercept`, `treatment`, the covariate's name (centred), or `treatment:NAME`.
    pub name: String,
    /// The least-squares estimate.
    pub estimate: f64,
    /// Its standard error under the chosen covariance.
    pub std_error: f64,
}

/// The result of [`lin_regression`]: the test of the treatment coefficient and the fit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinResult {
    /// `τ̂`, the adjusted treatment effect (treatment − control).
    pub estimate: f64,
    /// Its standard error under `covariance`.
    pub std_error: f64,
    /// `(estimate − null) / std_error`.
    pub statistic: f64,
    /// Degrees of freedom of the t reference; `+∞` (JSON `null`) for the normal.
    #[serde(serialize_with = "finite_or_null")]
    pub df: f64,
    /// The p-value for the hypothesis's alternative.
    pub p_value: f64,
    /// Lower confidence bound of the effect; `-inf` (JSON `null`) for `Less`.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper confidence bound of the effect; `+inf` (JSON `null`) for `Greater`.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
    /// The effect under H0.
    pub null: f64,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Whether H0 is rejected at α.
    pub reject: bool,
    /// The covariance estimator used.
    pub covariance: Covariance,
    /// The reference law used.
    pub reference: ReferenceLaw,
    /// Observations in the treatment arm.
    pub n_treatment: u64,
    /// Observations in the control arm.
    pub n_control: u64,
    /// Number of clusters, for the cluster-robust covariances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clusters: Option<u64>,
    /// Every coefficient: intercept, treatment, the centred covariates, then (with
    /// interactions) `treatment:NAME` for each covariate.
    pub coefficients: Vec<Coefficient>,
}

/// Lin's regression-adjusted estimate of the average treatment effect, with robust or
/// cluster-robust standard errors (see the [module documentation](self) for the model, the
/// covariances and the numerics).
///
/// ```
/// use abforge_stats::{Arm, Covariance, LinOptions, lin_regression};
///
/// let (yt, xt) = ([23.5, 20.0, 27.0, 21.5, 26.0, 30.0], [11.0, 9.5, 13.0, 10.0, 12.5, 14.5]);
/// let (yc, xc) = ([20.5, 24.0, 18.5, 28.5, 22.0, 25.5], [10.0, 12.0, 9.0, 14.0, 11.0, 13.0]);
/// let t = Arm { outcome: &yt, covariates: &[&xt], clusters: None };
/// let c = Arm { outcome: &yc, covariates: &[&xc], clusters: None };
/// let opts = LinOptions { covariance: Covariance::Hc3, covariate_names: &["pre_spend"],
///                         ..LinOptions::default() };
/// let r = lin_regression(&t, &c, &opts)?;
/// assert!(r.ci_low < r.estimate && r.estimate < r.ci_high);
/// assert_eq!(r.coefficients[3].name, "treatment:pre_spend");
/// # Ok::<(), abforge_stats::Error>(())
/// ```
///
/// # Errors
///
/// * [`Error::TooFewObservations`] when an arm has fewer than `k + 2` observations with
///   interactions (`2` without), `k` the number of covariates;
/// * [`Error::InvalidInput`] when there are no more rows than columns (`2 + k` without
///   interactions);
/// * [`Error::NonFinite`] for a non-finite outcome, [`Error::InvalidInput`] for a non-finite
///   covariate (naming it), a constant or collinear covariate (naming it), a leverage of 1
///   under HC2/HC3, an exact fit, cluster ids missing for CR1/CR2 or given for another
///   covariance, fewer than 2 clusters in an arm, work beyond
///   [`crate::cluster::MAX_CR2_WORK`], or a CR2 eigen-decomposition that does not converge
///   within its bound of steps;
/// * [`Error::LengthMismatch`] for slices of different lengths;
/// * [`Error::InvalidParameter`] for more than [`MAX_COVARIATES`] covariates, a design
///   beyond [`MAX_DESIGN_CELLS`], a bad α or null;
/// * [`Error::Overflow`] when the values are too large for the sums of squares.
pub fn lin_regression(
    treatment: &Arm<'_>,
    control: &Arm<'_>,
    options: &LinOptions<'_>,
) -> Result<LinResult> {
    let null = options.hypothesis.checked_null(0.0)?;
    let design = Design::build(treatment, control, options)?;
    let clusters = design.cluster_index(treatment, control, options.covariance)?;
    let fit = Fit::new(&design)?;
    let contrast = 1; // the treatment column
    let (meat, df) = match (&clusters, options.covariance) {
        (Some(ix), Covariance::Cr1) => (cr1_meat(&fit, ix), (ix.len() - 1) as f64),
        (Some(ix), _) => cr2_meat(&fit, ix, contrast)?,
        (None, cov) => (hc_meat(&fit, &design, cov)?, fit.residual_df()),
    };
    let v = fit.covariance(&meat);
    let coefficients = design.coefficients(&fit, &v)?;
    let estimate = fit.beta[contrast];
    let std_error = coefficients[contrast].std_error;
    let df = match options.reference {
        ReferenceLaw::StudentT => df,
        ReferenceLaw::Normal => f64::INFINITY,
    };
    let h = &options.hypothesis;
    let statistic = (estimate - null) / std_error;
    let (p_value, (ci_low, ci_high)) = if df.is_finite() {
        (h.p_t(statistic, df), h.bounds_t(estimate, std_error, df))
    } else {
        (h.p_normal(statistic), h.bounds_normal(estimate, std_error))
    };
    Ok(LinResult {
        estimate,
        std_error,
        statistic,
        df,
        p_value,
        ci_low,
        ci_high,
        null,
        alternative: h.alternative,
        reject: h.rejects(p_value),
        covariance: options.covariance,
        reference: options.reference,
        n_treatment: treatment.outcome.len() as u64,
        n_control: control.outcome.len() as u64,
        clusters: clusters.map(|ix| ix.len() as u64),
        coefficients,
    })
}

/// The design matrix (column-major, treatment rows first) and the outcome.
#[derive(Debug)]
pub(crate) struct Design {
    /// Rows.
    pub n: usize,
    /// Columns.
    pub p: usize,
    /// Rows of the treatment arm (the first `n_t` rows).
    pub n_t: usize,
    /// `n × p`, column-major.
    pub x: Vec<f64>,
    /// The outcome.
    pub y: Vec<f64>,
    /// The columns' names.
    pub names: Vec<String>,
}

impl Design {
    /// Checks the arms and builds `[1, T, x − x̄, T·(x − x̄)]`.
    fn build(t: &Arm<'_>, c: &Arm<'_>, o: &LinOptions<'_>) -> Result<Design> {
        let names = covariate_names(t, c, o)?;
        let k = names.len();
        let needed = if o.interact { k as u64 + 2 } else { 2 };
        for (arm, group) in [(t, Group::Treatment), (c, Group::Control)] {
            check_arm(arm, group, &names, needed)?;
        }
        let (n_t, n) = (t.outcome.len(), t.outcome.len() + c.outcome.len());
        let p = 2 + if o.interact { 2 * k } else { k };
        if n <= p {
            return Err(Error::InvalidInput(format!(
                "the design has {p} columns but only {n} rows; least squares needs more rows \
                 than columns"
            )));
        }
        if n.saturating_mul(p) > MAX_DESIGN_CELLS {
            return Err(Error::InvalidParameter {
                name: "rows × columns of the design",
                value: n as f64 * p as f64,
                expected: "at most 2^27 cells (MAX_DESIGN_CELLS)",
            });
        }
        let mut x = Vec::with_capacity(n * p);
        x.resize(n, 1.0);
        x.extend((0..n).map(|i| if i < n_t { 1.0 } else { 0.0 }));
        for (j, name) in names.iter().enumerate() {
            let (xt, xc) = (t.covariates[j], c.covariates[j]);
            check_spread(name, xt, xc, o.interact)?;
            let mut s = Summary::from_slice(xt);
            s.merge(&Summary::from_slice(xc));
            x.extend(xt.iter().chain(xc).map(|v| v - s.mean));
        }
        if o.interact {
            for j in 0..k {
                let col = (2 + j) * n;
                x.extend_from_within(col..col + n_t);
                x.resize(x.len() + (n - n_t), 0.0);
            }
        }
        let mut all = vec!["intercept".to_owned(), "treatment".to_owned()];
        all.extend(names.iter().cloned());
        if o.interact {
            all.extend(names.iter().map(|s| format!("treatment:{s}")));
        }
        let y = t.outcome.iter().chain(c.outcome).copied().collect();
        Ok(Design {
            n,
            p,
            n_t,
            x,
            y,
            names: all,
        })
    }

    /// Groups the rows by cluster for the cluster-robust covariances.
    fn cluster_index(
        &self,
        t: &Arm<'_>,
        c: &Arm<'_>,
        cov: Covariance,
    ) -> Result<Option<ClusterIndex>> {
        match (t.clusters, c.clusters, cov.is_cluster()) {
            (None, None, false) => Ok(None),
            (Some(a), Some(b), true) => {
                for (ids, arm, group) in [(a, t, Group::Treatment), (b, c, Group::Control)] {
                    if ids.len() != arm.outcome.len() {
                        return Err(Error::InvalidInput(format!(
                            "the {group} arm has {} cluster ids for {} observations",
                            ids.len(),
                            arm.outcome.len()
                        )));
                    }
                }
                ClusterIndex::new(a, b).map(Some)
            }
            (_, _, true) => Err(Error::InvalidInput(format!(
                "covariance {} needs a cluster id per observation in both arms",
                cov.name()
            ))),
            (_, _, false) => Err(Error::InvalidInput(format!(
                "cluster ids were given but covariance {} ignores them; choose cr1 or cr2",
                cov.name()
            ))),
        }
    }

    /// The coefficients with their standard errors, the diagonal of `v`.
    fn coefficients(&self, fit: &Fit, v: &DMatrix<f64>) -> Result<Vec<Coefficient>> {
        let out: Vec<Coefficient> = (0..self.p)
            .map(|j| Coefficient {
                name: self.names[j].clone(),
                estimate: fit.beta[j],
                std_error: v[(j, j)].max(0.0).sqrt(),
            })
            .collect();
        if out
            .iter()
            .any(|c| !c.estimate.is_finite() || !c.std_error.is_finite())
        {
            return Err(Error::Overflow);
        }
        Ok(out)
    }
}

/// The covariate names (given or `x1`, `x2`, …), after checking the counts.
fn covariate_names(t: &Arm<'_>, c: &Arm<'_>, o: &LinOptions<'_>) -> Result<Vec<String>> {
    let k = t.covariates.len();
    if k != c.covariates.len() {
        return Err(Error::LengthMismatch {
            what: "number of covariates (treatment vs control)",
            left: k,
            right: c.covariates.len(),
        });
    }
    if k > MAX_COVARIATES {
        return Err(Error::InvalidParameter {
            name: "number of covariates",
            value: k as f64,
            expected: "at most 64 (MAX_COVARIATES)",
        });
    }
    if o.covariate_names.is_empty() {
        return Ok((1..=k).map(|j| format!("x{j}")).collect());
    }
    if o.covariate_names.len() != k {
        return Err(Error::LengthMismatch {
            what: "covariate names vs covariates",
            left: o.covariate_names.len(),
            right: k,
        });
    }
    Ok(o.covariate_names.iter().map(|s| (*s).to_owned()).collect())
}

/// Sizes and finiteness of one arm.
fn check_arm(arm: &Arm<'_>, group: Group, names: &[String], needed: u64) -> Result<()> {
    let n = arm.outcome.len();
    if (n as u64) < needed {
        return Err(Error::TooFewObservations {
            group,
            n: n as u64,
            needed,
        });
    }
    if let Some(index) = arm.outcome.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite { group, index });
    }
    for (x, name) in arm.covariates.iter().zip(names) {
        if x.len() != n {
            return Err(Error::InvalidInput(format!(
                "covariate '{name}' has {} values in the {group} arm, which has {n} outcomes",
                x.len()
            )));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "covariate '{name}' has a non-finite value at index {i} of the {group} arm"
            )));
        }
    }
    Ok(())
}

/// Refuses a covariate that is constant overall, or (with interactions) within an arm.
fn check_spread(name: &str, xt: &[f64], xc: &[f64], interact: bool) -> Result<()> {
    let constant = |xs: &[&[f64]]| {
        let mut s = Summary::default();
        let mut size = 0.0f64;
        for x in xs {
            s.merge(&Summary::from_slice(x));
            size = x.iter().fold(size, |m, v| m.max(v.abs()));
        }
        (s.m2 / s.n as f64).sqrt() <= CONSTANT_TOLERANCE * size
    };
    if constant(&[xt, xc]) {
        return Err(Error::InvalidInput(format!(
            "covariate '{name}' is constant (its spread is below 1e-10 of its size); drop it"
        )));
    }
    if interact {
        for (x, group) in [(xt, Group::Treatment), (xc, Group::Control)] {
            if constant(&[x]) {
                return Err(Error::InvalidInput(format!(
                    "covariate '{name}' is constant in the {group} arm, so its interaction \
                     with the treatment is collinear; drop it or set interact = false"
                )));
            }
        }
    }
    Ok(())
}

/// A least-squares fit: the QR of the column-scaled design, the coefficients and residuals.
#[derive(Debug)]
pub(crate) struct Fit {
    /// The thin `Q` (`n × p`, orthonormal columns) of `X S⁻¹ = Q R`.
    pub q: DMatrix<f64>,
    /// The upper-triangular `R` (`p × p`), with a positive diagonal.
    pub r: DMatrix<f64>,
    /// The column norms `S`.
    pub scale: DVector<f64>,
    /// The coefficients of the unscaled design.
    pub beta: DVector<f64>,
    /// `y − X β̂`.
    pub resid: DVector<f64>,
}

impl Fit {
    /// Scales, factorises, checks the rank and solves.
    fn new(d: &Design) -> Result<Fit> {
        let (n, p) = (d.n, d.p);
        if d.x.iter().any(|v| !v.is_finite()) {
            return Err(Error::Overflow);
        }
        let mut x = DMatrix::from_column_slice(n, p, &d.x);
        let scale = DVector::from_iterator(p, x.column_iter_mut().map(unit_norm));
        let (q, r) = x.qr().unpack();
        for j in 0..p {
            let rjj = r[(j, j)].abs();
            if rjj <= COLLINEAR_TOLERANCE {
                return Err(collinear(d, j, rjj));
            }
        }
        // β_s = R⁻¹ Qᵀ y, e = y − Q Qᵀ y, β = S⁻¹ β_s.
        let y = DVector::from_column_slice(&d.y);
        let mut qty = q.tr_mul(&y);
        let resid = &y - &q * &qty;
        let (ne, ny) = (scaled_norm(resid.as_view()), scaled_norm(y.as_view()));
        if !ne.is_finite() || !ny.is_finite() {
            return Err(Error::Overflow);
        }
        if ne <= EXACT_FIT * ny {
            return Err(Error::InvalidInput(
                "the regression fits the outcome exactly (the residuals are rounding noise), \
                 so there is no standard error"
                    .to_owned(),
            ));
        }
        r.solve_upper_triangular_unchecked_mut(&mut qty); // the diagonal is checked above
        let beta = qty.component_div(&scale);
        Ok(Fit {
            q,
            r,
            scale,
            beta,
            resid,
        })
    }

    /// Rows.
    pub(crate) fn n(&self) -> usize {
        self.q.nrows()
    }

    /// Columns.
    pub(crate) fn p(&self) -> usize {
        self.q.ncols()
    }

    /// `n − p`.
    pub(crate) fn residual_df(&self) -> f64 {
        (self.n() - self.p()) as f64
    }

    /// `S⁻¹ R⁻¹ Ω R⁻ᵀ S⁻¹` for a symmetric meat `Ω` in the coordinates of `Q`.
    fn covariance(&self, meat: &DMatrix<f64>) -> DMatrix<f64> {
        // T = R⁻¹ Ω, then R⁻¹ Tᵀ = R⁻¹ Ω R⁻ᵀ (Ω is symmetric), symmetrised against rounding.
        let mut t = meat.clone();
        self.r.solve_upper_triangular_unchecked_mut(&mut t);
        let mut v = t.transpose();
        self.r.solve_upper_triangular_unchecked_mut(&mut v);
        let v = (&v + v.transpose()) * 0.5;
        v.component_div(&(&self.scale * self.scale.transpose()))
    }
}

/// The Euclidean norm without overflow or underflow: nalgebra's `norm` is the plain root of
/// the sum of squares, which overflows for values beyond about 1e154, so the vector is
/// divided by its largest magnitude first.
fn scaled_norm(x: DVectorView<'_, f64>) -> f64 {
    let m = x.amax();
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * x.unscale(m).norm()
}

/// Scales a column to unit norm and returns its norm (1 for a zero column, which the rank
/// check then refuses).
fn unit_norm(mut col: DVectorViewMut<'_, f64>) -> f64 {
    let s = scaled_norm(col.as_view());
    if s > 0.0 && s.is_finite() {
        col.unscale_mut(s);
        s
    } else {
        1.0
    }
}

/// The error for column `j`, whose residual norm after the columns before it is `r`.
fn collinear(d: &Design, j: usize, r: f64) -> Error {
    let name = &d.names[j];
    let msg = match name.strip_prefix("treatment:") {
        _ if j < 2 => "the treatment indicator is collinear with the intercept".to_owned(),
        Some(x) => format!(
            "the interaction of the treatment with covariate '{x}' is collinear with the \
             columns before it: within the treatment arm, '{x}' is a linear function of the \
             other covariates"
        ),
        None => format!(
            "covariate '{name}' is collinear with the intercept, the treatment and the \
             covariates before it"
        ),
    };
    Error::InvalidInput(format!(
        "{msg} (its residual is {r:.1e} of its norm, the limit is 1e-8)"
    ))
}

/// The heteroskedasticity-consistent (or classical) meat in the coordinates of `Q`.
fn hc_meat(fit: &Fit, d: &Design, cov: Covariance) -> Result<DMatrix<f64>> {
    let (n, p) = (fit.n(), fit.p());
    let e = &fit.resid;
    if cov == Covariance::Classical {
        let sigma2 = e.norm_squared() / fit.residual_df();
        return Ok(DMatrix::from_diagonal_element(p, p, sigma2));
    }
    let mut w = e.component_mul(e);
    match cov {
        Covariance::Hc1 => w *= n as f64 / fit.residual_df(),
        Covariance::Hc2 | Covariance::Hc3 => {
            let power = if cov == Covariance::Hc2 { 1 } else { 2 };
            for (i, (wi, qi)) in w.iter_mut().zip(fit.q.row_iter()).enumerate() {
                let one_minus_h = 1.0 - qi.norm_squared();
                if one_minus_h <= LEVERAGE_TOLERANCE {
                    return Err(full_leverage(d, i, cov));
                }
                *wi /= one_minus_h.powi(power);
            }
        }
        _ => {}
    }
    Ok(weighted_gram(&fit.q, &w))
}

/// `Σᵢ wᵢ qᵢ qᵢᵀ = Qᵀ diag(w) Q` for the rows `qᵢ` of `q`.
fn weighted_gram(q: &DMatrix<f64>, w: &DVector<f64>) -> DMatrix<f64> {
    let mut wq = q.clone();
    wq.column_iter_mut()
        .for_each(|mut c| c.component_mul_assign(w));
    q.tr_mul(&wq)
}

/// The error for a row with leverage 1 under HC2 or HC3.
fn full_leverage(d: &Design, row: usize, cov: Covariance) -> Error {
    let (group, index) = if row < d.n_t {
        (Group::Treatment, row)
    } else {
        (Group::Control, row - d.n_t)
    };
    Error::InvalidInput(format!(
        "observation {index} of the {group} arm has leverage 1 (it alone determines a \
         coefficient), so {} is undefined; use hc0 or hc1, or fewer covariates",
        cov.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Summary, welch_t};

    fn arm<'a>(y: &'a [f64], x: &'a [&'a [f64]]) -> Arm<'a> {
        Arm {
            outcome: y,
            covariates: x,
            clusters: None,
        }
    }

    #[test]
    fn no_covariates_hc2_is_welch() {
        let yt = [5.2, 6.0, 7.9, 4.4, 6.6];
        let yc = [3.1, 4.7, 2.2, 5.0];
        let r = lin_regression(&arm(&yt, &[]), &arm(&yc, &[]), &LinOptions::default()).unwrap();
        let w = welch_t(
            &Summary::from_slice(&yt),
            &Summary::from_slice(&yc),
            &Hypothesis::default(),
        )
        .unwrap();
        assert!((r.estimate - w.estimate).abs() < 1e-14);
        assert!((r.std_error - w.std_error).abs() < 1e-14 * w.std_error);
        assert_eq!(r.df, 7.0);
    }

    /// Columns are scaled before the QR by a norm that does not overflow: a covariate near
    /// 1e200 gives the same effect and standard errors as the same covariate near 1.
    #[test]
    fn huge_covariates_are_scaled_without_overflow() {
        let yt = [1.0, 2.0, 3.5, 4.0, 2.5, 3.3, 2.2];
        let yc = [1.5, 2.5, 3.0, 0.5, 2.0, 1.1, 0.7];
        let xt = [1.0, 2.0, 3.0, 4.5, 5.0, 3.5, 2.5];
        let xc = [2.0, 1.0, 4.0, 3.0, 6.0, 0.5, 1.5];
        let (ht, hc) = (xt.map(|v| v * 1e200), xc.map(|v| v * 1e200));
        for cov in [Covariance::Hc2, Covariance::Classical] {
            let o = LinOptions {
                covariance: cov,
                ..LinOptions::default()
            };
            let a = lin_regression(&arm(&yt, &[&xt]), &arm(&yc, &[&xc]), &o).unwrap();
            let b = lin_regression(&arm(&yt, &[&ht]), &arm(&yc, &[&hc]), &o).unwrap();
            assert!((a.estimate - b.estimate).abs() < 1e-13 * a.estimate.abs());
            assert!((a.std_error - b.std_error).abs() < 1e-13 * a.std_error);
            let slope = (
                a.coefficients[2].estimate,
                b.coefficients[2].estimate * 1e200,
            );
            assert!((slope.0 - slope.1).abs() < 1e-13 * slope.0.abs());
        }
    }

    #[test]
    fn refusals_name_the_covariate() {
        let yt = [1.0, 2.0, 3.5, 4.0, 2.5];
        let yc = [1.5, 2.5, 3.0, 0.5, 2.0];
        let x1t = [1.0, 2.0, 3.0, 4.0, 5.0];
        let x1c = [2.0, 1.0, 4.0, 3.0, 6.0];
        let x2t = x1t.map(|v| 2.0 * v + 1.0);
        let x2c = x1c.map(|v| 2.0 * v + 1.0);
        let o = LinOptions {
            covariate_names: &["age", "age2"],
            ..LinOptions::default()
        };
        let e = lin_regression(&arm(&yt, &[&x1t, &x2t]), &arm(&yc, &[&x1c, &x2c]), &o);
        let msg = e.unwrap_err().to_string();
        assert!(msg.contains("'age2' is collinear"), "{msg}");
        let k = [7.0; 5];
        let e = lin_regression(&arm(&yt, &[&x1t, &k]), &arm(&yc, &[&x1c, &k]), &o);
        assert!(e.unwrap_err().to_string().contains("'age2' is constant"));
        let e = lin_regression(&arm(&yt, &[&k]), &arm(&yc, &[&x1c]), &LinOptions::default());
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("constant in the treatment arm")
        );
        let ok = LinOptions {
            interact: false,
            ..LinOptions::default()
        };
        assert!(lin_regression(&arm(&yt, &[&k]), &arm(&yc, &[&x1c]), &ok).is_ok());
    }
}
