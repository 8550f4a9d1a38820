//! Integration tests of abforge-lab: calibration smoke tests (small, seeded, exact) and the
//! sample-ratio section.

mod calibrate;
mod claims;
mod srm;
