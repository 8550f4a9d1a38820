//! Integration tests of abforge-store, one module per area.

mod config;
mod conformance;
mod redact;
mod relational;
mod runlog;
mod tls;
