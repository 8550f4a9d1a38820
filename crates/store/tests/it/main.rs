//! Integration tests of abforge-store, one module per area.

mod config;
mod conformance;
mod relational;
mod runlog;
