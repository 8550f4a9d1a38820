//! Integration tests of abforge-lab: calibration smoke tests (small, seeded, exact), the
//! designs drawn by the generator (clusters, effects by day, correlated metrics), the engine
//! protocol, and the sample-ratio section.

mod calibrate;
mod claims;
mod engine;
mod realism;
mod srm;
