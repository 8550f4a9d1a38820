//! Statistical fit of abforge-synth: the samplers against their analytical laws, the
//! generator's rows against the ground truth, and the truth's Mann–Whitney estimand against
//! closed forms, its own symmetry and simulation.
//!
//! Every test draws from fixed seeds, so it is deterministic; each bound is wide enough
//! (a 0.1 % critical value or 5 standard errors) that a correct library passes, and narrow
//! enough that a wrong parameterisation, mixture weight or tie rule fails.

mod common;
mod copula;
mod design;
mod ks;
mod moments;
mod quantiles;
mod superiority;
