//! Integration tests of abforge-lab: calibration smoke tests (small, seeded, exact), and the
//! designs drawn by the generator (clusters, effects by day, correlated metrics).

mod calibrate;
mod claims;
mod engine;
mod realism;
