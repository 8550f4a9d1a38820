//! The clock a scheduler reads: the system's, or one shifted to start at a given instant.

use chrono::{DateTime, Utc};
use std::time::Instant;

/// The clock a scheduler reads.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that read `start` when it was made and runs at the real pace from there: to try
/// a schedule out (`abforge schedule --now …`) and to test it without waiting for Monday.
#[derive(Debug, Clone, Copy)]
pub struct ShiftedClock {
    start: DateTime<Utc>,
    made: Instant,
}

impl ShiftedClock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: DateTime<Utc>) -> ShiftedClock {
        ShiftedClock {
            start,
            made: Instant::now(),
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.made.elapsed()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_starts_where_it_is_told() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T08:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = ShiftedClock::starting_at(start);
        let now = c.now();
        assert!(now >= start);
        assert!(now < start + chrono::Duration::hours(1));
    }
}
