//! Integration tests of abforge-lab: calibration smoke tests (small, seeded, exact).

mod calibrate;
mod claims;
